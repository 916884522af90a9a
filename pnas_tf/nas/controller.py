"""The search itself: the paper's Algorithm 1, and a random-search baseline.

Everything the search touches is passed in (`Collaborators`): the executor
that trains children (executors.py: here, in worker processes, or on Ray),
the predictor factory, the store of results, the
reporter and the clock. So the whole controller runs in milliseconds in tests
with a synthetic evaluator, and the same code drives days of GPU time.

Resuming is rerunning: every finished child is in the store and is never
trained again; a round's chosen cells are stored before any of them trains;
each round's predictor is stored once fitted and loaded instead of refitted.

Children finish in any order under a parallel executor, but each is numbered
(`order`) by its place in the round, as one worker would train them, and
ties in accuracy go to the lower number: so every executor chooses the same
parents and trains the same cells.

Example:
  ranking = progressive_search(Collaborators(
      config=SearchConfig(max_blocks=3, beam_size=16),
      store=SearchStore("/tmp/search"),
      executor=executors.SerialExecutor(my_evaluator),
      new_predictor=lambda: Predictor(PredictorConfig(max_blocks=3)),
      load_predictor=Predictor.load))
"""

import contextlib
import dataclasses
import math
import random
import time
from typing import Callable, Protocol, Sequence

import numpy as np

from pnas_tf.config import search_config
from pnas_tf.nas import executors
from pnas_tf.nas import search_store
from pnas_tf.space import cell_counts
from pnas_tf.space import search_space
from pnas_tf.storage import files

Cell = search_space.Cell
ChildRecord = search_store.ChildRecord


class Predictor(Protocol):
  """What the search needs of a predictor (predictors.Predictor has it)."""
  num_fits: int

  def fit(self, cells: Sequence[Cell], accuracies: Sequence[float]) -> None:
    ...

  def predict(self, cells: Sequence[Cell]) -> np.ndarray:
    ...

  def save(self, directory: str) -> None:
    ...


class Reporter(Protocol):
  """Receives progress; see search_reporting.py for the real ones."""

  def child_finished(self, record: ChildRecord, progress: "Progress") -> None:
    ...

  def round_finished(self, summary: "RoundSummary") -> None:
    ...


@dataclasses.dataclass(frozen=True)
class Progress:
  """Where the search stands after a child."""
  round: int
  done_in_round: int
  round_size: int
  done_total: int
  budget: int
  best: ChildRecord | None
  seconds_left: float  # at this run's mean seconds per child so far
  predicted: float | None = None  # the predictor's, when it chose the child


@dataclasses.dataclass(frozen=True)
class RoundSummary:
  """A finished round: its children, and the predictions that chose them."""
  round: int
  records: list[ChildRecord]
  predicted: list[float]  # empty for round 1 and random search
  all_records: list[ChildRecord]
  predictor: Predictor | None  # fitted on everything before this round


@dataclasses.dataclass
class Collaborators:
  """What a search uses; pass fakes in tests."""
  config: search_config.SearchConfig
  store: search_store.SearchStore
  executor: executors.Executor
  new_predictor: Callable[[], Predictor]
  load_predictor: Callable[[str], Predictor]
  reporter: Reporter | None = None
  clock: Callable[[], float] = time.monotonic


def progressive_search(run: Collaborators) -> list[ChildRecord]:
  """Algorithm 1: train all 1-block cells, then grow the best K by a block.

  Returns:
    Every trained child, best validation accuracy first (see `ranking`).
  """
  records = run.store.records()
  operations = run.config.operations
  _train(run, 1, search_space.initial_cells(operations), [], records, None)
  # A predictor is fitted on the cells of up to b - 1 blocks only when a
  # round b follows: a search of 1-block cells fits none.
  for b in range(2, run.config.max_blocks + 1):
    predictor = _fitted(run, b - 1, records)
    parents = _best(records, b - 1, run.config.beam_size)
    beam, predicted = _chosen(run, b, parents, predictor, operations)
    _train(run, b, beam, predicted, records, predictor)
  return ranking(records)


def random_search(run: Collaborators) -> list[ChildRecord]:
  """The baseline: as many uniformly sampled B-block cells as PNAS trains."""
  records = run.store.records()
  cells = sample_cells(run.config.max_blocks, run.config.budget,
                       run.config.seed, run.config.operations)
  _train(run, run.config.max_blocks, cells, [], records, None)
  return ranking(records)


def ranking(records: dict[Cell, ChildRecord]) -> list[ChildRecord]:
  """Trained children, best accuracy first; failed ones last, in order."""
  return sorted(records.values(),
                key=lambda r: (not r.ok, -r.accuracy if r.ok else 0, r.order))


def sample_cells(num_blocks: int, count: int, seed: int,
                 operations: Sequence[str] = search_space.OPERATIONS
                 ) -> list[Cell]:
  """`count` distinct canonical cells of `num_blocks` blocks, fixed by seed.

  Each is drawn uniformly from the ordered cells (every block uniform over
  its inputs and operators, the space the paper counts), then canonicalized;
  repeats are drawn again. Fewer come back only if the space (with these
  operations) is smaller than `count`.
  """
  rng = random.Random(seed)
  cells: dict[Cell, None] = {}
  limit = (cell_counts.unique_cell_count(num_blocks)
           if tuple(operations) == search_space.OPERATIONS else math.inf)
  misses = 0
  # A small space (few operators) may hold fewer cells than asked for:
  # after many draws in a row bring nothing new, it is taken as exhausted.
  while len(cells) < min(count, limit) and misses < 100_000:
    cell = search_space.random_cell(rng, num_blocks, operations).canonical()
    misses = misses + 1 if cell in cells else 0
    cells.setdefault(cell, None)
  return list(cells)


def _best(records, num_blocks: int, count: int) -> list[Cell]:
  """The `count` best trained cells of `num_blocks` blocks."""
  trained = [(cell, record) for cell, record in records.items()
             if record.ok and cell.num_blocks == num_blocks]
  trained.sort(key=lambda item: (-item[1].accuracy, item[1].order))
  return [cell for cell, _ in trained[:count]]


def _chosen(run, b, parents, predictor, operations):
  """Round b's cells: the K best-predicted extensions of the parents."""
  stored = run.store.load_round(b)
  if stored is not None:
    return stored
  candidates = search_space.expand_all(parents, operations)
  scores = predictor.predict(candidates)
  # Stable: equal scores keep expansion order, so the choice is reproducible.
  top = np.argsort(-np.asarray(scores), kind="stable")[:run.config.beam_size]
  beam = [candidates[i] for i in top]
  predicted = [float(scores[i]) for i in top]
  run.store.save_round(b, beam, predicted)
  return beam, predicted


def _fitted(run, b, records) -> Predictor:
  """The predictor fitted on every record after round b (stored once)."""
  directory = run.store.predictor_directory(b)
  if files.exists(directory):
    return run.load_predictor(directory)
  predictor = run.new_predictor()
  ok = [(cell, record.accuracy) for cell, record in _in_order(records)
        if record.ok]
  predictor.fit([cell for cell, _ in ok], [accuracy for _, accuracy in ok])
  predictor.save(directory)
  return predictor


def _in_order(records) -> list[tuple[Cell, ChildRecord]]:
  """(cell, record) by `order`: the same for every executor."""
  return sorted(records.items(), key=lambda item: item[1].order)


def _train(run, b, cells, predicted, records, predictor) -> None:
  """Trains every cell not trained yet, recording each as it finishes."""
  started = run.clock()
  budget = max(run.config.budget, len(records))
  round_cells = list(dict.fromkeys(cells))
  # Numbered after every earlier round's children, by place in this round:
  # the same numbers whichever children a crash left untrained.
  in_round = set(round_cells)
  first = sum(1 for cell in records if cell not in in_round)
  order = {cell: first + index for index, cell in enumerate(round_cells)}
  untrained = [cell for cell in round_cells if cell not in records]
  prediction = dict(zip(cells, predicted))
  tasks = [executors.ChildTask(cell, run.store.child_directory(cell))
           for cell in untrained]
  # Closing the executor's generator ends children still running if the
  # search stops here (they resume from their epoch backups on a rerun).
  with contextlib.closing(run.executor.run(tasks)) as finished:
    for trained_here, (task, record) in enumerate(finished, 1):
      cell = task.cell
      record = dataclasses.replace(record, cell=str(cell),
                                   num_blocks=cell.num_blocks,
                                   order=order[cell])
      run.store.add_record(cell, record)
      records[cell] = record
      if run.reporter:
        per_child = (run.clock() - started) / trained_here
        remaining = budget - len(records)
        run.reporter.child_finished(record, Progress(
            round=b, done_in_round=len(cells) - len(untrained) + trained_here,
            round_size=len(cells), done_total=len(records), budget=budget,
            best=next(iter(ranking(records)), None),
            seconds_left=per_child * remaining if remaining > 0 else 0.0,
            predicted=prediction.get(cell)))
  if run.reporter:
    run.reporter.round_finished(RoundSummary(
        round=b, records=[records[cell] for cell in cells],
        predicted=list(predicted),
        all_records=[record for _, record in _in_order(records)],
        predictor=predictor))
