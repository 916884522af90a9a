r"""Compares searches by the best accuracy found after n trained models.

Reads search output directories (typically runs of PNAS and of the random
baseline on the same settings, one per seed), groups them by strategy
(search.json's search_strategy, with its predictor where one chose the
cells: "pnas, mlp_ensemble") and takes each one's children in the order
they were trained. It prints:
  - for n = 10, 20, ... trained models (--step), per strategy, the best
    validation accuracy reached: the mean and the [min, max] range over the
    strategy's runs (the value itself for a single run). A run that ended
    before n counts with its final best.
  - the target, the random runs' mean final best (the last strategy's, if
    none is random), and the models each run needed to reach it, with the
    mean per strategy over the runs that reached it.
  - the cells of the largest size (B blocks) each strategy trained: how many,
    their mean accuracy and the mean of the best 5 among each run's first m
    (m: the fewest any run trained; the best of more draws is higher by
    chance). PNAS chooses its last round's cells with its predictor, random
    search draws them: at equal size, this shows whether the predictor chose
    better cells than chance, with less noise than a single best.
With --plot=<file>.png it also draws the best-so-far curves: each run a thin
line, each strategy's mean a thick one (pnas_tf/visual/plots.py).

Example:
  python bench/compare_searches.py --plot=/tmp/pnas_vs_random.png \
      /tmp/pnas_proxy_s0 /tmp/pnas_proxy_s1 \
      /tmp/pnas_proxy_random_s0 /tmp/pnas_proxy_random_s1
"""

import json
import math
import os

from absl import app
from absl import flags
import numpy as np

from pnas_tf.nas import search_reporting
from pnas_tf.nas import search_store
from pnas_tf.storage import files
from pnas_tf.visual import plots

_STEP = flags.DEFINE_integer("step", 10, "Rows every this many models.")
_PLOT = flags.DEFINE_string(
    "plot", None, "If set, a PNG file to draw the best-so-far curves in.")

# Strategy -> {directory: its best-so-far curve}, in the order given.
Curves = dict[str, dict[str, list[float]]]


def strategy_label(directory: str) -> str:
  """The group a search belongs to: its strategy, with the predictor that
  chose its cells (random search's draws use none)."""
  with files.open_file(os.path.join(directory, "search.json")) as stream:
    settings = json.load(stream)["settings"]
  strategy = settings.get("search_strategy", "?")
  predictor = settings.get("predictor")
  if strategy == "random" or predictor is None:
    return strategy
  return f"{strategy}, {predictor}"


# Strategy -> {directory: its trained children}, in the order given.
Records = dict[str, dict[str, list[search_store.ChildRecord]]]


def records_by_strategy(directories: list[str]) -> Records:
  """Each directory's trained children, grouped by strategy_label.

  Raises:
    ValueError: if a directory has no trained child.
  """
  grouped = {}
  for directory in directories:
    records = list(search_store.SearchStore(directory).records().values())
    if not records:
      raise ValueError(f"{directory}: no trained child yet")
    grouped.setdefault(strategy_label(directory), {})[directory] = records
  return grouped


def best_so_far_curves(grouped: Records) -> Curves:
  """Each run's best-so-far curve, grouped as given."""
  return {strategy: {directory: search_reporting.best_so_far(records)
                     for directory, records in runs.items()}
          for strategy, runs in grouped.items()}


# The best cells whose mean the largest-cells table gives.
_TOP = 5


def largest_cells_table(grouped: Records) -> list[str]:
  """A markdown table: per strategy, the cells of B blocks its runs trained
  (the mean and range over the runs that trained any).

  The best of more draws is higher by chance alone, so the best _TOP are
  taken from each run's first m cells of B blocks, in training order, with m
  the fewest any run trained.
  """
  largest = max(record.num_blocks for runs in grouped.values()
                for records in runs.values() for record in records)
  trained = {strategy: [[r.accuracy for r in sorted(records,
                                                    key=lambda r: r.order)
                         if r.ok and r.num_blocks == largest]
                        for records in runs.values()]
             for strategy, runs in grouped.items()}
  first = min((len(accuracies) for runs in trained.values()
               for accuracies in runs if accuracies), default=0)
  lines = [f"| strategy | {largest}-block cells trained per run | "
           f"their mean accuracy | mean of the best {_TOP} of the first "
           f"{first} |",
           "|---|---:|---:|---:|"]
  for strategy, runs in trained.items():
    means = [float(np.mean(a)) for a in runs if a]
    tops = [float(np.mean(sorted(a[:first], reverse=True)[:_TOP]))
            for a in runs if a]
    lines.append(f"| {strategy} ({_runs(len(runs))}) | "
                 f"{np.mean([len(a) for a in runs]):.0f} | "
                 f"{_spread(means or [math.nan])} | "
                 f"{_spread(tops or [math.nan])} |")
  return lines


def models_to_reach(curve: list[float], target: float) -> int | None:
  """The fewest models after which the best reached `target`, or None."""
  return next((n for n, best in enumerate(curve, start=1) if best >= target),
              None)


def _accuracy(value: float) -> str:
  return f"{value:.4f}" if math.isfinite(value) else "-"


def _spread(values: list[float]) -> str:
  """"mean [min, max]" of `values`, or the value itself if there is one."""
  if len(values) == 1:
    return _accuracy(values[0])
  return (f"{_accuracy(float(np.mean(values)))} "
          f"[{_accuracy(min(values))}, {_accuracy(max(values))}]")


def _runs(count: int) -> str:
  return f"{count} run{'s' if count > 1 else ''}"


def accuracy_table(curves: Curves, step: int) -> list[str]:
  """A markdown table: per strategy, the best accuracy after n models."""
  longest = max(len(curve) for runs in curves.values()
                for curve in runs.values())
  names = [f"{strategy} ({_runs(len(runs))})"
           for strategy, runs in curves.items()]
  lines = [f"| models | {' | '.join(names)} |",
           "|---:|" + "---:|" * len(curves)]
  for n in list(range(step, longest + 1, step)) + (
      [longest] if longest % step else []):
    cells = [_spread([curve[min(n, len(curve)) - 1]
                      for curve in runs.values()])
             for runs in curves.values()]
    lines.append(f"| {n} | {' | '.join(cells)} |")
  return lines


def target(curves: Curves) -> tuple[str, float]:
  """The strategy whose runs' mean final best the others must reach, and
  that mean: random search's, else the last strategy's."""
  strategy = "random" if "random" in curves else list(curves)[-1]
  return strategy, float(np.mean([curve[-1] for curve
                                  in curves[strategy].values()]))


def models_needed_table(curves: Curves, goal: float) -> list[str]:
  """A markdown table: the models each run needed to reach `goal`."""
  lines = [f"| strategy | run | final best | models to reach "
           f"{_accuracy(goal)} |", "|---|---|---:|---:|"]
  for strategy, runs in curves.items():
    needed = [models_to_reach(curve, goal) for curve in runs.values()]
    for (directory, curve), n in zip(runs.items(), needed):
      lines.append(f"| {strategy} | {directory} | {_accuracy(curve[-1])} | "
                   f"{'never' if n is None else n} |")
    if len(runs) > 1:
      reached = [n for n in needed if n is not None]
      mean = (f"{np.mean(reached):.1f} ({len(reached)} of {len(runs)} "
              "reached it)" if reached else "never")
      finals = [curve[-1] for curve in runs.values()]
      lines.append(f"| {strategy} | mean | "
                   f"{_accuracy(float(np.mean(finals)))} | {mean} |")
  return lines


def main(argv):
  if len(argv) < 3:
    raise app.UsageError("give two or more search output directories")
  directories = [directory.rstrip("/") for directory in argv[1:]]
  grouped = records_by_strategy(directories)
  curves = best_so_far_curves(grouped)
  print("Best validation accuracy after n models trained, per strategy: "
        "mean [min, max] over its runs; a run that ended before n counts "
        "with its final best.")
  print()
  print("\n".join(accuracy_table(curves, _STEP.value)))
  reference, goal = target(curves)
  print()
  print(f"Target: {reference}'s mean final best over "
        f"{_runs(len(curves[reference]))}, {_accuracy(goal)}.")
  print()
  print("\n".join(models_needed_table(curves, goal)))
  print()
  print("\n".join(largest_cells_table(grouped)))
  if _PLOT.value:
    png = plots.best_so_far(
        {strategy: list(runs.values()) for strategy, runs in curves.items()},
        title="Best validation accuracy so far: " + " vs ".join(curves))
    files.write_bytes_atomically(_PLOT.value, png)
    print()
    print(f"plot: {_PLOT.value}")


if __name__ == "__main__":
  app.run(main)
