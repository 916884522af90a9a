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
import json
import os
from typing import Sequence

from pnas_tf.config import network_config
from pnas_tf.config import train_config
from pnas_tf.nas import search_store
from pnas_tf.space import search_space
from pnas_tf.storage import files

WEIGHTS_FILE = "final.weights.h5"
RECORD_FILE = "record.json"
# Beside each exported model's version directories (Serving ignores it).
CELL_FILE = "pnas_cell.json"

# The search data each process has loaded, by its DataConfig: a process
# that trains several children (in-process search, tests) loads it once.
_LOADED_DATA = {}


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
    # pylint: disable=g-import-not-at-top
    from pnas_tf.training import child_trainer
    from pnas_tf.data import datasets
    # pylint: enable=g-import-not-at-top
    if self.data_config not in _LOADED_DATA:
      _LOADED_DATA[self.data_config] = datasets.load_search_data(
          self.data_config)
    result = child_trainer.train_and_evaluate(
        cell, self.net, _LOADED_DATA[self.data_config], self.config,
        child_dir, weights_path=os.path.join(child_dir, WEIGHTS_FILE))
    record = search_store.ChildRecord(
        cell=result.cell, num_blocks=result.num_blocks, status=result.status,
        accuracy=result.validation_accuracy, params=result.trainable_params,
        seconds=result.wall_seconds, reason=result.reason)
    files.write_json_atomically(record_path, record.to_json())
    return record


def _finished_record(path: str) -> search_store.ChildRecord | None:
  """The record a finished training left in its directory, if whole."""
  if not files.exists(path):
    return None
  try:
    with files.open_file(path) as stream:
      return search_store.ChildRecord.from_json(json.load(stream))
  except (OSError, ValueError, TypeError):
    return None  # Never written whole: trained again.


def export_best(ranking: Sequence[search_store.ChildRecord],
                store: search_store.SearchStore,
                net: network_config.NetworkConfig,
                image_shape: tuple[int, int, int], export_dir: str,
                count: int, num_blocks: int,
                class_names: Sequence[str] = ()) -> list[str]:
  """Exports the `count` best trained cells of `num_blocks` blocks.

  The paper returns the best cells of size B; a search's smaller cells are
  its stepping stones.

  Each goes to <export_dir>/pnas_<rank>/<version>/ as a SavedModel with
  export.py's signatures (uint8 images or encoded image bytes in, class
  probabilities and the top classes out), with pnas_cell.json (cell, rank,
  metrics) beside the version directories. A rank whose cell is already
  exported is left alone; one whose cell changed
  (a search continued deeper) gets the next version, which TensorFlow
  Serving then serves.

  Returns:
    The SavedModel directories written.
  """
  # TensorFlow loads here, after the search, not at import.
  import keras  # pylint: disable=g-import-not-at-top
  from pnas_tf.serving import export  # pylint: disable=g-import-not-at-top
  from pnas_tf.model import network  # pylint: disable=g-import-not-at-top

  written = []
  best = [record for record in ranking
          if record.ok and record.num_blocks == num_blocks][:count]
  for rank, record in enumerate(best, start=1):
    model_dir = os.path.join(export_dir, f"pnas_{rank}")
    versions = files.serving_versions(model_dir)
    if versions and _exported_cell(model_dir) == record.cell:
      continue
    path = os.path.join(model_dir, str(max(versions, default=0) + 1))
    cell = search_space.Cell.parse(record.cell)
    keras.backend.clear_session()
    model = network.build_network(cell, net)
    model.load_weights(os.path.join(store.child_directory(cell),
                                    WEIGHTS_FILE))
    export.export_classifier(model, image_shape, path,
                             class_names=class_names)
    files.write_json_atomically(os.path.join(model_dir, CELL_FILE),
                                dict(record.to_json(), rank=rank))
    written.append(path)
  return written


def _exported_cell(model_dir: str) -> str | None:
  try:
    with files.open_file(os.path.join(model_dir, CELL_FILE)) as stream:
      return json.load(stream).get("cell")
  except (OSError, ValueError, AttributeError):
    return None
