"""A search's output directory: what it has done, kept safe across crashes.

Layout (every JSON file is written whole or not at all, files.py; the
directory may be a local path or a URL such as gs://bucket/search that every
worker reaches):
  search.json            format version and the settings that give results
                         their meaning; a rerun must match them.
  children/<key>.json    one record per finished child, written the moment it
                         finishes; <key> is derived from the canonical cell.
  children/<key>/        the child's own directory (checkpoints, logs).
  rounds/round_<b>.json  the cells chosen for round b, written before any of
                         them trains, so a resumed search trains the same ones.
  predictor/round_<b>/   the predictor fitted after round b.
  .lock                  held (flock; a plain file on URL storage) while a
                         search runs here.

Workers (executors.py) write only inside their child's own directory,
children/<key>/ (TensorBoard logs, epoch backups, the trained weights); the
search's process alone writes everything else, so workers on other hosts
need that directory's storage and nothing more.

Example:
  store = SearchStore("/tmp/search")
  with store.locked():
    store.check_settings({"dataset": "fashion_mnist", "epochs": 1})
    store.add_record(record)
"""

import contextlib
import dataclasses
import hashlib
import math
import os
from typing import Any, Iterator

from pnas_tf.space import search_space
from pnas_tf.storage import files
from pnas_tf.storage import run_state

FORMAT_VERSION = 1
_SETTINGS_FILE = run_state.SETTINGS_FILES["a search"]
_CHILDREN = "children"
_ROUNDS = "rounds"
_PREDICTOR = "predictor"
# Settings that may change between runs on one directory: raising B continues
# a finished search deeper.
MUTABLE_SETTINGS = frozenset({"max_blocks"})


class StoreError(Exception):
  """A problem with the output directory, reported in one line."""


@dataclasses.dataclass(frozen=True)
class ChildRecord:
  """A finished child, as the search keeps it.

  Attributes:
    cell: the canonical cell string.
    num_blocks: its blocks.
    status: "ok" or "failed".
    accuracy: validation accuracy (final epoch); NaN when failed.
    params: trainable parameters of the child network.
    seconds: wall time of its training.
    order: 0-based place in the search: after every earlier round's
      children, by place in its round (as one worker would train them),
      whatever order parallel workers finish them in. Ties in accuracy go to
      the lower.
    reason: why it failed, if it did.
  """
  cell: str
  num_blocks: int
  status: str
  accuracy: float
  params: int = 0
  seconds: float = 0.0
  order: int = 0
  reason: str = ""

  @property
  def ok(self) -> bool:
    return self.status == "ok" and math.isfinite(self.accuracy)

  def to_json(self) -> dict:
    value = dataclasses.asdict(self)
    value["accuracy"] = self.accuracy if math.isfinite(self.accuracy) else None
    return value

  @classmethod
  def from_json(cls, value: dict) -> "ChildRecord":
    value = dict(value)
    if value.get("accuracy") is None:
      value["accuracy"] = math.nan
    return cls(**value)


def child_key(cell: search_space.Cell) -> str:
  """A short file name for `cell`, the same for every form of it."""
  text = str(cell.canonical())
  return hashlib.sha256(text.encode()).hexdigest()[:20]


class SearchStore:
  """The records and state of one search, in `directory`."""

  def __init__(self, directory: str):
    self.directory = directory

  def _path(self, *parts: str) -> str:
    return os.path.join(self.directory, *parts)

  @contextlib.contextmanager
  def locked(self) -> Iterator[None]:
    """Holds the directory's lock; raises StoreError if a search holds it."""
    with _as_store_error(), run_state.exclusive_directory(self.directory,
                                                           "a search"):
      yield

  def check_settings(self, settings: dict[str, Any],
                     defaults: dict[str, Any] | None = None) -> None:
    """Records `settings` on first use; afterwards refuses different ones.

    `defaults` stand for settings that a search.json written before they
    existed lacks (see run_state.check_and_record).

    Raises:
      StoreError: listing every setting that differs (except
        MUTABLE_SETTINGS, which are updated), or if search.json is corrupt.
    """
    with _as_store_error():
      run_state.check_and_record(self._path(_SETTINGS_FILE), settings,
                                 FORMAT_VERSION, MUTABLE_SETTINGS, "a search",
                                 defaults)

  def saved_settings(self) -> dict[str, Any]:
    """The settings search.json holds ({} before the first run)."""
    path = self._path(_SETTINGS_FILE)
    if not files.exists(path):
      return {}
    saved = _read_json(path)
    return saved.get("settings", {}) if isinstance(saved, dict) else {}

  def records(self) -> dict[search_space.Cell, ChildRecord]:
    """Every finished child so far, by canonical cell, in `order`."""
    directory = self._path(_CHILDREN)
    if not files.isdir(directory):
      return {}
    records = []
    for name in files.listdir(directory):
      if name.endswith(".json") and not name.startswith("."):
        path = os.path.join(directory, name)
        try:
          record = ChildRecord.from_json(_read_json(path))
          cell = search_space.Cell.parse(record.cell)
        except (TypeError, ValueError) as error:
          raise StoreError(f"child record {path} is corrupt: {error}"
                           ) from None
        records.append((record.order, cell, record))
    records.sort(key=lambda item: item[0])
    return {cell: record for _, cell, record in records}

  def add_record(self, cell: search_space.Cell, record: ChildRecord) -> None:
    """Writes `record` for `cell`, atomically; never replaces another's.

    The record's cell and block count are set from `cell` (canonical).
    """
    path = self._path(_CHILDREN, f"{child_key(cell)}.json")
    if files.exists(path):
      raise StoreError(f"{path} exists: {cell} was trained already")
    cell = cell.canonical()
    record = dataclasses.replace(record, cell=str(cell),
                                 num_blocks=cell.num_blocks)
    files.write_json_atomically(path, record.to_json())

  def child_directory(self, cell: search_space.Cell) -> str:
    return self._path(_CHILDREN, child_key(cell))

  def save_round(self, b: int, cells: list[search_space.Cell],
                 predictions: list[float]) -> None:
    files.write_json_atomically(
        self._path(_ROUNDS, f"round_{b}.json"),
        {"round": b, "cells": [str(cell) for cell in cells],
         "predicted_accuracy": [float(p) for p in predictions]})

  def load_round(self, b: int):
    """(cells, predictions) chosen for round b, or None if not chosen yet."""
    path = self._path(_ROUNDS, f"round_{b}.json")
    if not files.exists(path):
      return None
    value = _read_json(path)
    try:
      cells = [search_space.Cell.parse(text) for text in value["cells"]]
      return cells, [float(p) for p in value["predicted_accuracy"]]
    except (KeyError, TypeError, ValueError) as error:
      raise StoreError(f"round file {path} is corrupt: {error}") from None

  def predictor_directory(self, b: int) -> str:
    return self._path(_PREDICTOR, f"round_{b}")


@contextlib.contextmanager
def _as_store_error() -> Iterator[None]:
  try:
    yield
  except run_state.RunStateError as error:
    raise StoreError(str(error)) from None


def _read_json(path: str) -> Any:
  with _as_store_error():
    return run_state.read_json(path)
