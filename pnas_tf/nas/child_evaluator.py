"""The search's evaluator: trains a child for real, and exports the best.

`ChildEvaluator` is what the search's executor (executors.py) calls per
cell, in whatever process trains the child: a fresh one per child by
default (child_process.py: host memory stays flat over a whole search), a
local worker's, or a Ray task's. It pickles (plain settings only), keeps
per-epoch checkpoints so that a child interrupted by a crash or a killed
worker continues from its last epoch, and keeps the trained weights for
export. Its record goes into the child's directory too, before it is
returned: a child whose result the search never read (the search was killed
just then) is not trained again when the search resumes. `export_best`
writes the top cells as SavedModels in TensorFlow Serving's layout.

Example:
  evaluate = ChildEvaluator(net, data_config, train_config)
  record = evaluate(cell, "/tmp/search/children/abc")
"""

import dataclasses
import functools
import json
import os
from typing import Any, Sequence

from absl import logging

from pnas_tf.config import network_config
from pnas_tf.config import train_config
from pnas_tf.nas import search_store
from pnas_tf.space import search_space
from pnas_tf.storage import files
from pnas_tf.visual import cell_diagram

WEIGHTS_FILE = "child.weights.h5"
# The same file, as searches before pnas_tf 0.1 named it.
_OLD_WEIGHTS_FILE = "final.weights.h5"
RECORD_FILE = "record.json"
# Beside each exported model's version directories (Serving ignores it).
CELL_FILE = "pnas_cell.json"
# Beside it: the cell drawn (pnas_tf.visual.cell_diagram).
DIAGRAM_FILE = "pnas_cell.svg"


@dataclasses.dataclass(frozen=True)
class ChildEvaluator:
  """cell, child directory -> ChildRecord, by training the child here."""
  net: network_config.NetworkConfig
  data_config: train_config.DataConfig
  config: train_config.TrainConfig

  def __post_init__(self):
    object.__setattr__(self, "config",
                       dataclasses.replace(self.config, keep_checkpoints=True))

  def __call__(self, cell: search_space.Cell,
               child_dir: str) -> search_store.ChildRecord:
    record_path = os.path.join(child_dir, RECORD_FILE)
    finished = _finished_record(record_path)
    if finished is not None:
      return finished
    # pylint: disable-next=g-import-not-at-top
    from pnas_tf.training import child_trainer
    result = child_trainer.train_and_evaluate(
        cell, self.net, cached_search_data(self.data_config), self.config,
        child_dir, weights_path=os.path.join(child_dir, WEIGHTS_FILE))
    record = search_store.ChildRecord(
        cell=result.cell, num_blocks=result.num_blocks, status=result.status,
        accuracy=result.validation_accuracy, params=result.trainable_params,
        seconds=result.wall_seconds, reason=result.reason)
    files.write_json_atomically(record_path, record.to_json())
    return record


# One entry: a search trains every child on one DataConfig, so one is all
# the in-process search needs, and each entry holds a decoded training split
# in host memory (about 150 MB for CIFAR-10), which a process that meets
# several configs (tests; a benchmark's seeds) should not pile up.
@functools.lru_cache(maxsize=1)
def cached_search_data(data_config: train_config.DataConfig):
  """datasets.load_search_data, once for children trained one after another.

  A process that trains several children (the in-process search,
  --noisolate_children; tests) decodes their training split once and shares
  its in-memory cache, instead of spending seconds per child on it. A child
  in a fresh process (the local and Ray executors) loads it anew anyway.

  Args:
    data_config: the search's data settings.

  Returns:
    The datasets.SearchData of `data_config`, the same object while it is
    the last config asked for.

  Raises:
    datasets.DatasetUnavailableError, ValueError: see
      datasets.load_search_data.
  """
  # TensorFlow loads here, in the process that trains, not at import.
  from pnas_tf.data import datasets  # pylint: disable=g-import-not-at-top
  return datasets.load_search_data(data_config)


def _finished_record(path: str) -> search_store.ChildRecord | None:
  """The record a finished training left in its directory, if whole.

  A record that cannot be read was never written whole (or was damaged
  since): the child is trained again, which a warning names.
  """
  if not files.exists(path):
    return None
  try:
    with files.open_file(path) as stream:
      return search_store.ChildRecord.from_json(json.load(stream))
  except (OSError, ValueError, TypeError) as error:
    logging.warning("Child record %s is unreadable or corrupt (%s: %s); "
                    "training the child again", path, type(error).__name__,
                    error)
    return None


def export_best(ranking: Sequence[search_store.ChildRecord],
                store: search_store.SearchStore,
                net: network_config.NetworkConfig,
                image_shape: tuple[int, int, int], export_dir: str,
                count: int, num_blocks: int | None,
                class_names: Sequence[str] = (),
                label: dict[str, Any] | None = None,
                formats: Sequence[str] = ()) -> list[str]:
  """Exports the `count` best trained cells of `num_blocks` blocks.

  The paper returns the best cells of size B; a search's smaller cells are
  its stepping stones. While it runs, the search exports the best cells so
  far, of any size (`num_blocks` None), after every round.

  Each goes to <export_dir>/pnas_<rank>/<version>/ as a SavedModel with
  export.py's signatures (uint8 images or encoded image bytes in, class
  probabilities and the top classes out; `formats`' files for devices
  too), with pnas_cell.json (cell, rank, metrics and `label`) and
  pnas_cell.svg (the cell drawn) beside the version directories. A rank
  whose cell is already exported keeps its version (its pnas_cell.json is
  updated); one whose cell changed gets the next version, which TensorFlow
  Serving then serves.

  Returns:
    The SavedModel directories written.
  """
  # TensorFlow loads here, after the search, not at import.
  import keras  # pylint: disable=g-import-not-at-top
  from pnas_tf.serving import export  # pylint: disable=g-import-not-at-top
  from pnas_tf.model import network  # pylint: disable=g-import-not-at-top

  written = []
  best = [record for record in ranking if record.ok and (
      num_blocks is None or record.num_blocks == num_blocks)][:count]
  for rank, record in enumerate(best, start=1):
    model_dir = os.path.join(export_dir, f"pnas_{rank}")
    versions = files.serving_versions(model_dir)
    if not (versions and _exported_cell(model_dir) == record.cell):
      path = os.path.join(model_dir, str(max(versions, default=0) + 1))
      cell = search_space.Cell.parse(record.cell)
      keras.backend.clear_session()
      model = network.build_network(cell, net)
      model.load_weights(_weights_path(store.child_directory(cell)))
      export.export_classifier(model, image_shape, path,
                               class_names=class_names, formats=formats)
      written.append(path)
    write_cell_files(model_dir, dict(record.to_json(), rank=rank,
                                     **(label or {})))
  return written


def write_cell_files(model_dir: str, info: dict[str, Any]) -> None:
  """pnas_cell.json (`info`, with its "cell") and pnas_cell.svg (the cell
  drawn) beside an exported model's version directories."""
  files.write_json_atomically(os.path.join(model_dir, CELL_FILE), info)
  cell = search_space.Cell.parse(info["cell"])
  files.write_text_atomically(os.path.join(model_dir, DIAGRAM_FILE),
                              cell_diagram.drawing(cell, "svg").decode())


def _exported_cell(model_dir: str) -> str | None:
  """The cell exported in `model_dir`, per its CELL_FILE; None if unreadable.

  An export whose cell file cannot be read (a crash before it was written,
  or damage since) cannot be matched to a cell, so it is exported again as
  the next version, which a warning names.
  """
  path = os.path.join(model_dir, CELL_FILE)
  try:
    with files.open_file(path) as stream:
      return json.load(stream).get("cell")
  except (OSError, ValueError, AttributeError) as error:
    logging.warning("Cell file %s is unreadable or corrupt (%s: %s); "
                    "exporting its rank again", path, type(error).__name__,
                    error)
    return None


def _weights_path(child_dir: str) -> str:
  """A trained child's weights file (an older search's name if it has it)."""
  old = os.path.join(child_dir, _OLD_WEIGHTS_FILE)
  return old if files.exists(old) else os.path.join(child_dir, WEIGHTS_FILE)
