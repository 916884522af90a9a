r"""Benchmark: how well each predictor ranks real trained cells (issue 18).

The paper's predictor comparison, on the project's data file of trained
cells (bench/cell_dataset.py), with no training of children. For each run
of the file (one set of child settings) and b = 1..B-1, each predictor kind
is fitted as a search fits it, one b after another, on the cells of up to b
blocks (each cell's accuracy the mean over its seeds), and Spearman's rho is
measured between its predictions and the true accuracies:
  fitted  on the cells it was fitted on;
  next    on the cells of b + 1 blocks (the paper's measure: the next
          round's candidates).
Both are averaged over --predictor_seeds predictor seeds. `ceiling` is the rank
correlation that two training seeds of the same b + 1 cells give each other
(mean over seed pairs, over the cells trained more than once): no predictor
fitted on such children can rank them better. A "-" marks a measure that
does not exist (too few cells, or an ensemble with fewer cells than members).

--read_orders measures how much a predictor's ranking depends on the order in
which it reads a cell's blocks. The paper does not fix that order; the search
reads canonical cells, fits on them, and so does this benchmark. A block's
input tokens name hidden states, not positions, so a cell read in another
order is still the same cell: `reversed` reads it last block first, `every`
predicts the mean over all orders of its blocks (b! of them).

A search's next cells are the ones its own predictor chose, a biased few.
--pool measures the runs whose children trained alike as one: a PNAS search's
cells beside a random search's give each b an unbiased next set (the random
cells of b + 1 blocks), and cells trained in several runs a ceiling.

Example:
  python bench/predictor_quality.py
  python bench/predictor_quality.py --pool --run_names=proxy_noise/proxy_e6_n3k,\
searches/pnas_s0,searches/random_s0
  python bench/predictor_quality.py --pool --predictor_kinds=lstm,mlp \
      --read_orders=canonical --read_orders=reversed --read_orders=every
  python bench/predictor_quality.py --run_names=searches/pnas_seed0 \
      --predictor_kinds=lstm,mlp --predictor_seeds=5 --fit_epochs=50
"""

import collections
import itertools
import json
import math
import os
from typing import Mapping, Sequence

from absl import app
from absl import flags
import numpy as np

from pnas_tf.config import predictor_config
from pnas_tf.predictor import cell_encoding
from pnas_tf.predictor import predictors
from pnas_tf.predictor import rank_correlation
from pnas_tf.space import search_space

_DATA = flags.DEFINE_string(
    "data_file", os.path.join(os.path.dirname(os.path.abspath(__file__)), "data",
                         "pnas_cells.json"), "The data file of trained cells.")
_RUNS = flags.DEFINE_list("run_names", None, "Runs of the file (default: all).")
_KINDS = flags.DEFINE_list("predictor_kinds", list(predictor_config.KINDS),
                           "Predictor kinds.")
_SEEDS = flags.DEFINE_integer("predictor_seeds", 3, "Predictor seeds per measure.",
                              lower_bound=1)
_EPOCHS = flags.DEFINE_integer("fit_epochs", predictor_config.PredictorConfig.epochs,
                               "Passes over the records per fit.")
_BATCH_SIZE = flags.DEFINE_integer(
    "fit_batch_size", predictor_config.PredictorConfig.batch_size,
    "Records per gradient step.")
_WARM_START = flags.DEFINE_boolean(
    "fit_warm_start", predictor_config.PredictorConfig.warm_start,
    "Continue each fit from the previous one's weights.")
_ORDERS = flags.DEFINE_multi_enum(
    "read_orders", ["canonical"], ["canonical", "reversed", "every"],
    "The orders in which a fitted predictor reads each cell's blocks when it "
    "predicts: canonical (the search's), reversed, or every order (the mean "
    "prediction over all of them). The fit reads canonical cells, as in a "
    "search. Only the LSTMs hear the order.")
_POOL = flags.DEFINE_boolean(
    "pool", False,
    "Measure the runs whose children trained alike (equal child settings) as "
    "one. A cell trained in several runs counts once, with every accuracy.")

# Settings of a run that do not change how its children train.
_NOT_CHILD_SETTINGS = frozenset({"seed", "cells", "cell_seed", "max_blocks",
                                 "beam_size", "search_strategy"})


def child_settings(settings: Mapping) -> dict:
  """The settings that decide how a run's children train."""
  # Runs written before --image_size existed trained at the default, 0.
  child = {"image_size": 0}
  child.update({key: value for key, value in settings.items()
                if key not in _NOT_CHILD_SETTINGS
                and not key.startswith("predictor")})
  return child


def pools(runs: Mapping[str, Mapping], names: Sequence[str]
          ) -> list[list[str]]:
  """`names` grouped by equal child settings, in the order given."""
  groups = {}
  for name in names:
    key = json.dumps(child_settings(runs[name]["settings"]), sort_keys=True)
    groups.setdefault(key, []).append(name)
  return list(groups.values())


def cell_accuracies(children: Sequence[Mapping]) -> dict[str, list[float]]:
  """Each cell's accuracies over its trainings (ok children only).

  A record that several runs share (bench/search_seeds.sh's pnas_mlp runs
  reuse their PNAS twin's one-block children) is one training: it counts
  once, or it would pass for two seeds that agree exactly.
  """
  by_cell = collections.defaultdict(list)
  seen = set()
  for child in children:
    training = (child["cell"], child.get("seed"), child["accuracy"],
                child.get("seconds"))
    if training in seen:
      continue
    seen.add(training)
    if child["status"] == "ok" and math.isfinite(child["accuracy"]):
      by_cell[child["cell"]].append(child["accuracy"])
  return dict(by_cell)


def seed_ceiling(by_cell: Mapping[str, Sequence[float]]) -> float:
  """Mean rho between two seeds' accuracies of the cells trained more than
  once (their first seeds, as many as the fewest has); NaN unless at least 2
  cells were."""
  repeated = [list(values) for values in by_cell.values() if len(values) > 1]
  if len(repeated) < 2:
    return math.nan
  seeds = min(len(values) for values in repeated)
  values = [accuracies[:seeds] for accuracies in repeated]
  return float(np.mean([
      rank_correlation.spearman([v[i] for v in values],
                                [v[j] for v in values])
      for i, j in itertools.combinations(range(seeds), 2)]))


def block_orders(num_blocks: int, read_order: str) -> list[tuple[int, ...]]:
  """The orders of a cell's blocks (tuples of canonical positions) that
  `read_order` stands for."""
  canonical = tuple(range(num_blocks))
  if read_order == "canonical":
    return [canonical]
  if read_order == "reversed":
    return [canonical[::-1]]
  return list(itertools.permutations(canonical))


def predict_in_order(predictor: predictors.Predictor,
                     cells: Sequence[search_space.Cell],
                     read_order: str) -> np.ndarray:
  """The predictions for canonical `cells` with their blocks read in
  `read_order` (for "every", the mean over all orders)."""
  scores = np.zeros(len(cells))
  sizes = np.array([cell.num_blocks for cell in cells])
  for size in np.unique(sizes):
    rows = np.flatnonzero(sizes == size)
    tokens = cell_encoding.encode([cells[row] for row in rows])
    scores[rows] = np.mean(
        [predictor.predict_tokens(tokens[:, list(order)])
         for order in block_orders(int(size), read_order)], axis=0)
  return scores


def run_quality(by_cell: Mapping[str, Sequence[float]], kind: str, seed: int,
                max_blocks: int, read_orders: Sequence[str] = ("canonical",)
                ) -> dict[str, dict[int, tuple[float, float]]]:
  """(fitted rho, next rho) by read order and b for one predictor, fitted
  b after b on canonical cells."""
  cells = {text: search_space.Cell.parse(text) for text in by_cell}
  mean = {text: float(np.mean(values)) for text, values in by_cell.items()}
  config = predictor_config.PredictorConfig(
      kind=kind, max_blocks=max_blocks, seed=seed, epochs=_EPOCHS.value,
      batch_size=_BATCH_SIZE.value, warm_start=_WARM_START.value)
  predictor = predictors.Predictor(config)
  quality = {order: {} for order in read_orders}
  for b in range(1, max_blocks):
    fitted = [t for t in cells if cells[t].num_blocks <= b]
    following = [t for t in cells if cells[t].num_blocks == b + 1]
    if len(fitted) < config.num_members:
      for order in read_orders:
        quality[order][b] = (math.nan, math.nan)
      continue
    predictor.fit([cells[t] for t in fitted], [mean[t] for t in fitted])

    def rho(texts, order):
      if len(texts) < 2:
        return math.nan
      return rank_correlation.spearman(
          predict_in_order(predictor, [cells[t] for t in texts], order),
          [mean[t] for t in texts])

    for order in read_orders:
      quality[order][b] = (rho(fitted, order), rho(following, order))
  return quality


def _text(value: float) -> str:
  return "-" if not math.isfinite(value) else f"{value:.3f}"


def main(argv):
  del argv
  with open(_DATA.value) as stream:
    dataset = json.load(stream)
  runs = _RUNS.value or sorted(dataset["runs"])
  for run in runs:
    if run not in dataset["runs"]:
      raise app.UsageError(f"no run {run!r} in {_DATA.value}")
  groups = pools(dataset["runs"], runs) if _POOL.value else [[r] for r in runs]
  labels = {}
  for number, group in enumerate(groups, 1):
    labels[number] = group[0] if len(group) == 1 else f"pool {number}"
    if len(group) > 1:
      print(f"pool {number}: {', '.join(group)}")
  print()
  print("| run | kind | read order | b | fitted cells | next cells | "
        "rho fitted | rho next | ceiling |")
  print("|---|---|---|---:|---:|---:|---:|---:|---:|")
  for number, group in enumerate(groups, 1):
    by_cell = cell_accuracies([c for c in dataset["children"]
                               if c["run"] in group])
    _print_rows(labels[number], by_cell)


def _print_rows(label: str, by_cell: Mapping[str, Sequence[float]]) -> None:
  """The table's rows for one run or pool."""
  blocks = {t: search_space.Cell.parse(t).num_blocks for t in by_cell}
  max_blocks = max(blocks.values())
  for kind in _KINDS.value:
    measures = [run_quality(by_cell, kind, seed, max_blocks, _ORDERS.value)
                for seed in range(_SEEDS.value)]
    for order, b in itertools.product(_ORDERS.value, range(1, max_blocks)):
      fitted, following = (
          np.nanmean([m[order][b][i] for m in measures])
          if any(math.isfinite(m[order][b][i]) for m in measures)
          else math.nan for i in (0, 1))
      ceiling = seed_ceiling({t: v for t, v in by_cell.items()
                              if blocks[t] == b + 1})
      fitted_cells = sum(n <= b for n in blocks.values())
      next_cells = sum(n == b + 1 for n in blocks.values())
      print(f"| {label} | {kind} | {order} | {b} | {fitted_cells} | "
            f"{next_cells} | {_text(fitted)} | {_text(following)} | "
            f"{_text(ceiling)} |")

if __name__ == "__main__":
  app.run(main)
