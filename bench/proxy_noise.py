r"""Benchmark: how much of a proxy child's accuracy is seed noise (issue 18).

Trains --cells cells of a search's space (its flagfile's --operations and
--max_blocks), spread evenly over b = 1..B blocks, each with --seeds seeds
(the flagfile's --seed, --seed + 1, ...), with the flagfile's child
settings: the search's own evaluator, each child in a fresh process (the
local executor, --num_workers at once, whatever --executor says). Then
prints how far accuracies spread between cells and between the seeds of one
cell, and Spearman's rho between the rankings of the same cells that two
seeds give. That rho is the ceiling of any predictor's rank correlation on
such children: training a cell again is one more seed.

Each finished child's record (small JSON) goes into --records_dir the moment
it finishes; rerunning the same command trains only the children without
one, so a kill loses only the children in flight (they continue from their
last epoch, kept in --work_dir). A failed child is recorded and reported,
not retrained. --report_only prints the table from the records alone.

Example:
  python bench/proxy_noise.py --flagfile=flags/proxy.cfg
  python bench/proxy_noise.py --flagfile=flags/proxy.cfg --cells=24 \
      --seeds=4 --num_workers=2
  python bench/proxy_noise.py --flagfile=flags/proxy.cfg --report_only
"""

import contextlib
import dataclasses
import itertools
import json
import math
import os
import random
import subprocess
import sys
import time
from typing import Callable, Iterable, Mapping, NamedTuple, Sequence

# Hides TensorFlow's C++ INFO logs, here and in every child process.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

_REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# pylint: disable=g-import-not-at-top
from absl import app
from absl import flags
from absl import logging
import numpy as np

from pnas_tf.cli import child_flags
from pnas_tf.cli import usage
from pnas_tf.config import network_config
from pnas_tf.config import run_settings
from pnas_tf.config import train_config
from pnas_tf.nas import child_evaluator
from pnas_tf.nas import executors
from pnas_tf.nas import search_store
from pnas_tf.predictor import rank_correlation
from pnas_tf.space import search_space
from pnas_tf.storage import files
from pnas_tf.storage import run_state
# pylint: enable=g-import-not-at-top

Cell = search_space.Cell
ChildRecord = search_store.ChildRecord

_CELLS = flags.DEFINE_integer(
    "cells", 12, "k: cells trained, spread evenly over b = 1..--max_blocks.",
    lower_bound=1)
_SEEDS = flags.DEFINE_integer(
    "seeds", 3, "s: trainings of each cell, seeded --seed, --seed + 1, ...",
    lower_bound=1)
_RECORDS_DIR = flags.DEFINE_string(
    "records_dir", None, "Where each finished child's JSON record goes "
    "(default: bench/data/proxy_noise/<flagfile stem>).")
_WORK_DIR = flags.DEFINE_string(
    "work_dir", None, "Scratch for the children's training directories, "
    "weights and epoch backups (default: /tmp/pnas_proxy_noise/<flagfile "
    "stem>).")
_CELL_SEED = flags.DEFINE_integer("cell_seed", 0,
                                  "Seed of the choice of cells.")
_REPORT_ONLY = flags.DEFINE_boolean(
    "report_only", False, "Print the table from --records_dir; train nothing.")

CELLS_FILE = "cells.json"
# In --work_dir: its children's settings, so that a child's record.json left
# there by other settings is never taken for one of these.
WORK_SETTINGS_FILE = "settings.json"
_FORMAT_VERSION = 1
# Fewer cells give a rank correlation of +-1 whatever the accuracies.
MIN_CELLS_FOR_RHO = 3
class Child(NamedTuple):
  """One training: a cell, its seed, and its directory under --work_dir."""
  cell: Cell
  seed: int
  directory: str


# Trains children, yielding each with its record as it finishes.
Train = Callable[[Sequence[Child]], Iterable[tuple[Child, ChildRecord]]]


def flagfile_of(argv: Sequence[str]) -> str | None:
  """The last --flagfile on the command line (absl keeps no value of it)."""
  flagfile = None
  for index, argument in enumerate(argv):
    name, equals, value = argument.lstrip("-").partition("=")
    if name != "flagfile" or not argument.startswith("-"):
      continue
    if equals:
      flagfile = value
    elif index + 1 < len(argv):
      flagfile = argv[index + 1]
  return flagfile


def blocks_per_cell(count: int, max_blocks: int) -> list[int]:
  """Block counts of `count` cells, spread evenly over 1..max_blocks.

  Counts of two block sizes differ by at most one; with fewer cells than
  sizes, the sizes are spaced out (2 cells, B = 3: 1 and 2 blocks).
  """
  return [1 + index * max_blocks // count for index in range(count)]


def choose_cells(count: int, max_blocks: int, operations: Sequence[str],
                 cell_seed: int) -> list[Cell]:
  """`count` distinct canonical cells, spread over 1..max_blocks blocks.

  The cells of b blocks are random cells (search_space.random_cell) of the
  operations, drawn from a generator of their own, so that a given
  (cell_seed, b) always gives the same ones.

  Raises:
    ValueError: if the operations do not make that many distinct cells of
      some block count.
  """
  cells = []
  for num_blocks, group in itertools.groupby(
      blocks_per_cell(count, max_blocks)):
    wanted = len(list(group))
    # A string seed: deterministic across runs and Python versions.
    rng = random.Random(f"proxy_noise {cell_seed} {num_blocks}")
    chosen = {}
    for _ in range(1000 * wanted):
      if len(chosen) == wanted:
        break
      cell = search_space.random_cell(rng, num_blocks, operations)
      chosen.setdefault(cell.canonical(), None)
    if len(chosen) < wanted:
      raise ValueError(
          f"found only {len(chosen)} distinct cells of {num_blocks} "
          f"block(s) of {', '.join(operations)}; {wanted} wanted")
    cells.extend(chosen)
  return cells


def settings_of(settings, operations: Sequence[str], max_blocks: int,
                num_cells: int, cell_seed: int) -> dict:
  """What the records' meaning depends on, by flag name, JSON-ready.

  Args:
    settings: the child settings, as child_flags.settings_from_flags gives.
    operations: the cells' operators.
    max_blocks: B.
    num_cells: k.
    cell_seed: the seed of the choice of cells.
  """
  meaning = run_settings.comparable(
      (settings.data, settings.train),
      extra=dict(preset=settings.preset, **settings.network_overrides,
                 operations=list(operations), max_blocks=max_blocks,
                 cells=num_cells, cell_seed=cell_seed))
  return json.loads(json.dumps(meaning))  # As it reads back.


def _read_json(path: str) -> dict | None:
  """The JSON object in `path`, None if there is none; UsageError if bad."""
  if not files.exists(path):
    return None
  try:
    value = run_state.read_json(path)
  except run_state.RunStateError as error:
    raise usage.UsageError(str(error)) from None
  if not isinstance(value, dict) or value.get(
      "format_version") != _FORMAT_VERSION:
    raise usage.UsageError(f"{path} is not a format {_FORMAT_VERSION} "
                           "proxy_noise file; it was left as it is")
  return value


def _check_same(saved: dict, settings: dict, directory: str,
                flag: str) -> None:
  changed = run_state.differences(saved.get("settings", {}), settings)
  if changed:
    raise usage.UsageError(
        f"{directory} holds children of other settings: "
        f"{'; '.join(changed)}; rerun with those, or use another --{flag}")


def read_cells_file(records_dir: str) -> dict | None:
  """cells.json of `records_dir` (settings, provenance, cells), if any."""
  return _read_json(os.path.join(records_dir, CELLS_FILE))


def cells_in(records_dir: str, settings: dict, provenance: Mapping[str, str],
             choose: Callable[[], list[Cell]]) -> list[Cell]:
  """The cells recorded in `records_dir`, or choose()'s, recorded there now.

  Args:
    records_dir: the records' directory.
    settings: settings_of(...); a rerun must bring the same.
    provenance: kept beside them, not compared (flagfile, commit).
    choose: picks the cells, on the first run only.

  Raises:
    usage.UsageError: if `records_dir` holds cells of other settings.
  """
  saved = read_cells_file(records_dir)
  if saved is not None:
    _check_same(saved, settings, records_dir, "records_dir")
    return [Cell.parse(text) for text in saved["cells"]]
  cells = choose()
  files.write_json_atomically(
      os.path.join(records_dir, CELLS_FILE),
      {"format_version": _FORMAT_VERSION, "settings": settings, **provenance,
       "cells": [str(cell) for cell in cells]})
  return cells


def check_work_dir(work_dir: str, settings: dict) -> None:
  """Records `settings` in `work_dir`, or refuses if it holds others'."""
  path = os.path.join(work_dir, WORK_SETTINGS_FILE)
  saved = _read_json(path)
  if saved is not None:
    _check_same(saved, settings, work_dir, "work_dir")
    return
  files.write_json_atomically(path, {"format_version": _FORMAT_VERSION,
                                     "settings": settings})


def record_path(records_dir: str, cell: Cell, seed: int) -> str:
  return os.path.join(records_dir,
                      f"{search_store.child_key(cell)}_seed{seed}.json")


def read_record(path: str) -> ChildRecord | None:
  """The record in `path`, or None if there is none (or none whole)."""
  try:
    with files.open_file(path) as stream:
      value = json.load(stream)
    value.pop("seed")
    return ChildRecord.from_json(value)
  except (OSError, ValueError, TypeError, KeyError, AttributeError):
    return None


def run(cells: Sequence[Cell], seeds: Sequence[int], records_dir: str,
        work_dir: str, train: Train) -> int:
  """Trains every (cell, seed) that has no record; returns how many.

  Each record is written the moment its child finishes, so an interrupted
  run loses only the children in flight.
  """
  children = [
      Child(cell, seed, os.path.join(
          work_dir, f"{search_store.child_key(cell)}_seed{seed}"))
      for cell in cells for seed in seeds
      if read_record(record_path(records_dir, cell, seed)) is None]
  if not children:
    return 0
  logging.info("%d of %d children to train", len(children),
               len(cells) * len(seeds))
  for done, (child, record) in enumerate(train(children), start=1):
    value = record.to_json()
    del value["order"]  # Of a search; meaningless here.
    files.write_json_atomically(
        record_path(records_dir, child.cell, child.seed),
        dict(value, seed=child.seed))
    logging.info("Child %d of %d (%s, seed %d): %s, accuracy %.4f, %.0f s",
                 done, len(children), child.cell, child.seed, record.status,
                 record.accuracy, record.seconds)
  return len(children)


@dataclasses.dataclass(frozen=True)
class SeededEvaluator:
  """The search's ChildEvaluator, with each child's seed by its directory.

  One evaluator for every seed, so that one executor keeps all its workers
  busy across seeds. It pickles: each child trains in a fresh process.
  """
  net: network_config.NetworkConfig
  data_config: train_config.DataConfig
  config: train_config.TrainConfig
  seeds: Mapping[str, int]  # Child directory -> seed.

  def __call__(self, cell: Cell, child_dir: str) -> ChildRecord:
    seed = self.seeds[child_dir]
    # Both: weights and dropout, and shuffling and augmentation.
    evaluate = child_evaluator.ChildEvaluator(
        self.net, dataclasses.replace(self.data_config, seed=seed),
        dataclasses.replace(self.config, seed=seed))
    return evaluate(cell, child_dir)


def executor_trainer(net: network_config.NetworkConfig, settings,
                     slots: Sequence[Mapping[str, str]],
                     max_retries: int) -> Train:
  """Trains children with the search's local executor, a process each.

  Args:
    net: the child network.
    settings: the child settings (child_flags.settings_from_flags); each
      child's seed replaces theirs.
    slots: the workers' environments (executors.local_slots).
    max_retries: trainings more for a child whose process died.
  """

  def train(children):
    evaluate = SeededEvaluator(net, settings.data, settings.train,
                               {child.directory: child.seed
                                for child in children})
    executor = executors.LocalExecutor(evaluate, slots, max_retries)
    tasks = {executors.ChildTask(child.cell, child.directory): child
             for child in children}
    for task, record in executor.run(list(tasks)):
      yield tasks[task], record

  return train


@dataclasses.dataclass(frozen=True)
class Noise:
  """How accuracies spread over cells and seeds; NaN where undefined."""
  cells: int
  seeds: int
  mean: float  # Accuracy, over all.
  between: float  # Sample std over cells of each cell's mean over seeds.
  within: float  # Root-mean over cells of each cell's sample variance.
  rho_mean: float  # Spearman's rho of two seeds' accuracies of the cells,
  rho_min: float  # over all pairs of seeds.
  rho_max: float

  @property
  def ratio(self) -> float:
    if math.isnan(self.between) or math.isnan(self.within):
      return math.nan
    if self.within == 0:
      return math.inf if self.between > 0 else math.nan
    return self.between / self.within


def noise(accuracies) -> Noise:
  """The spreads and seed-to-seed rank correlations of a cells x seeds array.

  Args:
    accuracies: accuracies[i][j] is cell i's with seed j, all finite.
      Between needs 2 cells, within 2 seeds, rho 2 seeds and
      MIN_CELLS_FOR_RHO cells.
  """
  values = np.asarray(accuracies, np.float64)
  num_cells, num_seeds = values.shape
  nan = math.nan
  if not values.size:
    return Noise(num_cells, num_seeds, nan, nan, nan, nan, nan, nan)
  between = (float(np.std(values.mean(axis=1), ddof=1)) if num_cells >= 2
             else nan)
  within = (float(np.sqrt(np.mean(np.var(values, axis=1, ddof=1))))
            if num_seeds >= 2 else nan)
  rhos = []
  if num_cells >= MIN_CELLS_FOR_RHO:
    rhos = [rank_correlation.spearman(values[:, first], values[:, second])
            for first, second in itertools.combinations(range(num_seeds), 2)]
  # A seed that gives every cell the same accuracy ranks nothing.
  rhos = [rho for rho in rhos if math.isfinite(rho)]
  return Noise(
      cells=num_cells, seeds=num_seeds, mean=float(values.mean()),
      between=between, within=within,
      rho_mean=float(np.mean(rhos)) if rhos else nan,
      rho_min=min(rhos, default=nan), rho_max=max(rhos, default=nan))


def _number(value: float, spec: str) -> str:
  return "-" if math.isnan(value) else format(value, spec)


def report(cells: Sequence[Cell], seeds: Sequence[int],
           records_dir: str) -> str:
  """The table of the records in `records_dir`: all cells, then each b.

  Statistics use the cells every seed of which trained ok; the cost counts
  every recorded child, failed ones too.
  """
  records = {(cell, seed): read_record(record_path(records_dir, cell, seed))
             for cell in cells for seed in seeds}
  groups = [("all", list(cells))] + [
      (f"b = {b}", [cell for cell in cells if cell.num_blocks == b])
      for b in sorted({cell.num_blocks for cell in cells})]
  rows = {
      "cells with every seed ok": [],
      "mean accuracy": [],
      "between cells: std of cell means": [],
      "within a cell: root-mean variance over seeds": [],
      "between / within": [],
      "rho of two seeds' rankings: mean": [],
      "rho: min over seed pairs": [],
      "rho: max over seed pairs": [],
      "children recorded": [],
      "children failed": [],
      "child training seconds, summed": [],
      "seconds per child": [],
  }
  for _, group in groups:
    found = [records[cell, seed] for cell in group for seed in seeds
             if records[cell, seed] is not None]
    complete = [[records[cell, seed].accuracy for seed in seeds]
                for cell in group
                if all(records[cell, seed] is not None
                       and records[cell, seed].ok for seed in seeds)]
    stats = noise(np.reshape(complete, (len(complete), len(seeds))))
    seconds = sum(record.seconds for record in found)
    column = [
        f"{stats.cells} of {len(group)}", _number(stats.mean, ".4f"),
        _number(stats.between, ".4f"), _number(stats.within, ".4f"),
        _number(stats.ratio, ".2f"), _number(stats.rho_mean, ".3f"),
        _number(stats.rho_min, ".3f"), _number(stats.rho_max, ".3f"),
        f"{len(found)} of {len(group) * len(seeds)}",
        str(sum(not record.ok for record in found)), f"{seconds:.0f}",
        _number(seconds / len(found) if found else math.nan, ".1f")]
    for row, value in zip(rows.values(), column):
      row.append(value)
  lines = [f"| | {' | '.join(label for label, _ in groups)} |",
           "|---|" + "---:|" * len(groups)]
  lines += [f"| {name} | {' | '.join(values)} |"
            for name, values in rows.items()]
  lines += [
      "",
      "between: sample std over cells of each cell's mean over the seeds (so",
      "  it holds within / sqrt(s) of seed noise too); within: square root of",
      "  the mean over cells of each cell's sample variance over the seeds;",
      f"  rho: Spearman's, over the cells (at least {MIN_CELLS_FOR_RHO}), for "
      "every pair of",
      "  seeds; seconds: each child's training wall time (of its last run, if",
      "  resumed), process start and data loading excluded."]
  failed = [(cell, seed, records[cell, seed]) for cell in cells
            for seed in seeds if records[cell, seed] is not None
            and not records[cell, seed].ok]
  lines += [f"failed: {cell} seed {seed}: {record.reason}"
            for cell, seed, record in failed]
  return "\n".join(lines)


def git_commit() -> str | None:
  """The repository's HEAD commit, if git can say."""
  try:
    result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=_REPOSITORY,
                            capture_output=True, text=True, check=False)
  except OSError:
    return None
  return result.stdout.strip() if result.returncode == 0 else None


def _heading(saved: dict, seeds: Sequence[int], records_dir: str) -> str:
  return (f"{len(saved['cells'])} cells x {len(seeds)} seeds "
          f"({seeds[0]}..{seeds[-1]}) of {saved.get('flagfile') or 'flags'}"
          f", commit {(saved.get('commit') or '?')[:12]}; records in "
          f"{records_dir}\n")


def _slots(values: flags.FlagValues) -> list[dict[str, str]]:
  """Worker environments for --num_workers, as the search's local executor
  makes them (search_runner.make_executor)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  num_gpus = len(tf.config.list_physical_devices("GPU"))
  num_workers = values.num_workers or max(
      1, int(num_gpus * values.children_per_gpu))
  try:
    return executors.local_slots(
        num_workers, num_gpus, len(os.sched_getaffinity(0)),
        values.children_per_gpu, os.environ.get("CUDA_VISIBLE_DEVICES"))
  except ValueError as error:
    raise usage.UsageError(f"--{error}") from None


def main(argv):
  """Trains the missing children, then prints the table."""
  usage.no_arguments(argv)
  values = flags.FLAGS
  flagfile = flagfile_of(sys.argv)
  stem = (os.path.splitext(os.path.basename(flagfile))[0] if flagfile
          else "default")
  records_dir = files.absolute(_RECORDS_DIR.value or os.path.join(
      _REPOSITORY, "bench", "data", "proxy_noise", stem))
  work_dir = files.absolute(_WORK_DIR.value or os.path.join(
      "/tmp/pnas_proxy_noise", stem))

  if _REPORT_ONLY.value:
    saved = read_cells_file(records_dir)
    if saved is None:
      raise usage.UsageError(f"{records_dir} holds no {CELLS_FILE}: nothing "
                             "was measured there")
    seeds = [saved["settings"]["seed"] + index
             for index in range(_SEEDS.value)]
    print(_heading(saved, seeds, records_dir))
    print(report([Cell.parse(text) for text in saved["cells"]], seeds,
                 records_dir))
    return 0

  if not values.output_dir:  # Required by the search; children train in
    values.output_dir = work_dir  # --work_dir here, so it is not used.
  settings = child_flags.settings_from_flags(values)
  try:
    operations = search_space.check_operations(values.operations)
  except ValueError as error:
    raise usage.UsageError(f"--operations: {error}") from None
  if values.max_blocks < 1:
    raise usage.UsageError(f"--max_blocks must be >= 1, got "
                           f"{values.max_blocks}")
  meaning = settings_of(settings, operations, values.max_blocks,
                        _CELLS.value, _CELL_SEED.value)

  def choose():
    try:
      return choose_cells(_CELLS.value, values.max_blocks, operations,
                          _CELL_SEED.value)
    except ValueError as error:
      raise usage.UsageError(f"--cells: {error}") from None

  cells = cells_in(records_dir, meaning,
                   {"flagfile": flagfile, "commit": git_commit()}, choose)
  seeds = [values.seed + index for index in range(_SEEDS.value)]

  with contextlib.ExitStack() as stack:
    try:
      stack.enter_context(run_state.exclusive_directory(work_dir,
                                                        "proxy_noise"))
    except run_state.RunStateError:
      raise usage.UsageError(f"another proxy_noise run is working in "
                             f"{work_dir}; wait for it") from None
    check_work_dir(work_dir, meaning)
    # TensorFlow loads only once the flags and directories are known good.
    from pnas_tf.nas import search_runner  # pylint: disable=g-import-not-at-top
    _, net = search_runner.dataset_and_network(settings)
    train = executor_trainer(net, settings, _slots(values),
                             values.max_child_retries)
    started = time.perf_counter()
    trained = run(cells, seeds, records_dir, work_dir, train)
    wall = time.perf_counter() - started
  print(_heading(read_cells_file(records_dir), seeds, records_dir))
  print(f"this run trained {trained} children in {wall:.0f} s wall time\n")
  print(report(cells, seeds, records_dir))
  return 0


if __name__ == "__main__":
  # Every flag a search defines, so that a search's flagfile parses. Only
  # here: importing this module (tests, each child's process) needs none.
  from pnas_tf import search  # pylint: disable=g-import-not-at-top
  search.define_flags()
  # One child at a time unless asked: its seconds are then a lone child's
  # (the search's default executor trains one at a time too).
  flags.FLAGS.set_default("num_workers", 1)
  app.run(usage.checked(main), flags_parser=usage.parse_flags)
