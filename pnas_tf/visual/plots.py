"""Plots of a search, as PNG bytes: matplotlib on its Agg backend, no TF.

  predicted_vs_true   one round: the predictor's accuracy for each child it
                      chose against the child's validation accuracy, with
                      Spearman's rho in the title;
  best_so_far         the best validation accuracy among the first n models
                      trained, against n, for one search or several (as
                      bench/compare_searches.py draws PNAS against random),
                      with `mean_curve` the mean of several runs;
  accuracy_vs_params  every trained child's validation accuracy against its
                      parameters, by number of blocks.

Each figure is a `matplotlib.figure.Figure` of its own on an Agg canvas, never
pyplot's global state: nothing opens a window, and plots drawn in different
threads share nothing. Each PNG carries its title as the PNG "Title" text, so
a reader (or a test) finds what it shows without looking at it.

Example:
  from pnas_tf.visual import plots
  png = plots.best_so_far({"pnas": [[0.6, 0.7, 0.7]],
                           "random": [[0.5, 0.5, 0.65]]})
  open("/tmp/best_so_far.png", "wb").write(png)
"""

import io
import math
from typing import Mapping, Sequence

from matplotlib import figure as mpl_figure
from matplotlib.backends import backend_agg
import numpy as np

# 640 x 480 pixels: legible in TensorBoard's image pane and in a README.
_SIZE_INCHES = (6.4, 4.8)
_DPI = 100
_POINT_COLOR = "tab:red"


def _new_axes(title: str, x_label: str, y_label: str):
  figure = mpl_figure.Figure(figsize=_SIZE_INCHES, dpi=_DPI)
  backend_agg.FigureCanvasAgg(figure)
  axes = figure.add_subplot()
  # Wrapped at the figure's edge: compare_searches' titles name every group.
  axes.set_title(title, wrap=True)
  axes.set_xlabel(x_label)
  axes.set_ylabel(y_label)
  axes.grid(True, alpha=0.3)
  return figure, axes


def _png(figure: mpl_figure.Figure) -> bytes:
  """The figure as PNG bytes. The figure is unreachable once this returns
  (it belongs to no pyplot manager), so it is freed with its canvas."""
  figure.tight_layout()
  buffer = io.BytesIO()
  figure.savefig(buffer, format="png",
                 metadata={"Title": figure.axes[0].get_title()})
  figure.clear()
  return buffer.getvalue()


def _no_data(axes) -> None:
  axes.text(0.5, 0.5, "no data yet", ha="center", va="center",
            transform=axes.transAxes, color="grey")


def _finite(values: Sequence[float]) -> np.ndarray:
  """`values` as floats, with +-inf and NaN as NaN (which plots skip)."""
  array = np.asarray(values, dtype=float)
  return np.where(np.isfinite(array), array, np.nan)


def predicted_vs_true(predicted: Sequence[float], true: Sequence[float],
                      round_number: int, rho: float) -> bytes:
  """A round's predicted (x) against validation (y) accuracy, as PNG.

  Args:
    predicted: the predictor's accuracy for each child it chose.
    true: each child's validation accuracy, in the same order.
    round_number: the round (1-based), for the title.
    rho: Spearman's rank correlation of the two; NaN if undefined.

  Returns:
    PNG bytes, 640 x 480. The dashed line is y = x: points above it did
    better than predicted.

  Raises:
    ValueError: if `predicted` and `true` differ in length.
  """
  if len(predicted) != len(true):
    raise ValueError(f"{len(predicted)} predictions for {len(true)} "
                     "accuracies")
  rho_text = f"{rho:.3f}" if math.isfinite(rho) else "undefined"
  figure, axes = _new_axes(
      f"Round {round_number}: predicted vs true accuracy "
      f"(Spearman's \u03c1 = {rho_text})",
      "predicted accuracy", "validation accuracy")
  if not len(predicted):
    _no_data(axes)
    return _png(figure)
  axes.scatter(_finite(predicted), _finite(true), s=25, color=_POINT_COLOR,
               label=f"children ({len(predicted)})")
  # The axes span the points; y = x is drawn across them, not stretched to
  # reach the line's anchor at the origin.
  x_limits, y_limits = axes.get_xlim(), axes.get_ylim()
  axes.axline((0.0, 0.0), slope=1.0, color="grey", linestyle="--",
              linewidth=1, label="y = x")
  axes.set_xlim(x_limits)
  axes.set_ylim(y_limits)
  axes.legend(loc="best")
  return _png(figure)


def mean_curve(curves: Sequence[Sequence[float]]) -> np.ndarray:
  """The mean of several runs' best-so-far curves, at each n up to the
  longest.

  A run that ended before n counts with its final best; a run with no
  success yet (-inf or NaN) does not count at n. NaN where none counts.

  Raises:
    ValueError: if there is no curve or a curve is empty.
  """
  if not curves or not all(len(curve) for curve in curves):
    raise ValueError("the mean of no curve, or of an empty one")
  longest = max(len(curve) for curve in curves)
  held = np.empty((len(curves), longest))
  for row, curve in zip(held, curves):
    row[:len(curve)] = _finite(curve)
    row[len(curve):] = row[len(curve) - 1]
  counted = np.isfinite(held)
  counts = counted.sum(axis=0)
  sums = np.where(counted, held, 0.0).sum(axis=0)
  return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def best_so_far(runs: Mapping[str, Sequence[Sequence[float]]],
                title: str = "Best validation accuracy so far") -> bytes:
  """Best validation accuracy after n models trained, against n, as PNG.

  Args:
    runs: label (a strategy, say) -> its runs' curves; a curve's value n - 1
      is the best accuracy among the run's first n models (-inf or NaN
      before its first success). Each label has one colour: with one run,
      its curve; with several, each run a thin line and their mean a thick
      one (a run that ended earlier counts with its final best).
    title: the figure's title.

  Returns:
    PNG bytes, 640 x 480, with a legend when there are several labels or
    several runs.
  """
  figure, axes = _new_axes(title, "models trained",
                           "best validation accuracy so far")
  series = {label: [_finite(curve) for curve in curves if len(curve)]
            for label, curves in runs.items()}
  series = {label: curves for label, curves in series.items() if curves}
  if not series:
    _no_data(axes)
    return _png(figure)
  for index, (label, curves) in enumerate(series.items()):
    color = f"C{index}"
    if len(curves) == 1:
      axes.plot(np.arange(1, len(curves[0]) + 1), curves[0], color=color,
                linewidth=2, label=label, drawstyle="steps-post")
      continue
    for curve in curves:
      axes.plot(np.arange(1, len(curve) + 1), curve, color=color,
                linewidth=0.8, alpha=0.45, drawstyle="steps-post")
    mean = mean_curve(curves)
    axes.plot(np.arange(1, len(mean) + 1), mean, color=color, linewidth=2.5,
              label=f"{label} (mean of {len(curves)})",
              drawstyle="steps-post")
  if len(series) > 1 or any(len(curves) > 1 for curves in series.values()):
    axes.legend(loc="lower right")
  return _png(figure)


def accuracy_vs_params(params: Sequence[int], accuracies: Sequence[float],
                       num_blocks: Sequence[int]) -> bytes:
  """Every trained child's validation accuracy against its parameters.

  Args:
    params: each child's trainable parameters.
    accuracies: its validation accuracy (NaN for a failed child, not drawn).
    num_blocks: its number of blocks; one colour, and one legend entry,
      per number.

  Returns:
    PNG bytes, 640 x 480.

  Raises:
    ValueError: if the three sequences differ in length.
  """
  if not len(params) == len(accuracies) == len(num_blocks):
    raise ValueError(f"{len(params)} parameter counts, {len(accuracies)} "
                     f"accuracies and {len(num_blocks)} block counts")
  params = np.asarray(params, dtype=float)
  accuracies = _finite(accuracies)
  num_blocks = np.asarray(num_blocks, dtype=int)
  drawn = np.isfinite(accuracies)
  figure, axes = _new_axes(
      f"Validation accuracy against parameters ({int(drawn.sum())} children)",
      "trainable parameters", "validation accuracy")
  if not drawn.any():
    _no_data(axes)
    return _png(figure)
  for index, blocks in enumerate(sorted(set(num_blocks[drawn].tolist()))):
    chosen = drawn & (num_blocks == blocks)
    axes.scatter(params[chosen], accuracies[chosen], s=20, alpha=0.75,
                 color=f"C{index}",
                 label=f"{blocks} block{'s' if blocks > 1 else ''}")
  axes.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4),
                        useMathText=True)
  axes.legend(loc="best", title="cell size")
  return _png(figure)
