"""The search's evaluator: trains a child for real, and exports the best.

`ChildEvaluator` is what the controller calls per cell. It trains the cell
in a fresh process (child_process.py: host memory stays flat over a whole
search), with per-epoch checkpoints so that a child interrupted by a crash
continues from its last epoch, and keeps the trained weights for export.
`export_best` writes the top cells as SavedModels in TensorFlow Serving's
layout.

Example:
  evaluate = ChildEvaluator(net, data_config, train_config)
  record = evaluate(cell, "/tmp/search/children/abc")
"""

import dataclasses
import json
import os
from typing import Sequence

from pnas_tf import child_process
from pnas_tf import files
from pnas_tf import network_config
from pnas_tf import search_space
from pnas_tf import search_store
from pnas_tf import train_config

WEIGHTS_FILE = "final.weights.h5"
# Beside each exported model's version directories (Serving ignores it).
CELL_FILE = "pnas_cell.json"


class ChildEvaluator:
  """cell, child directory -> ChildRecord, by training the child."""

  def __init__(self, net: network_config.NetworkConfig,
               data_config: train_config.DataConfig,
               config: train_config.TrainConfig, isolate: bool = True):
    """Args: isolate: train each child in a fresh process (else in this one,
    where TensorFlow keeps ~50 MiB per child: small searches and tests)."""
    self.net = net
    self.data_config = data_config
    self.config = dataclasses.replace(config, keep_checkpoints=True)
    self.isolate = isolate
    self._data = None

  def _train(self, cell, child_dir):
    weights_path = os.path.join(child_dir, WEIGHTS_FILE)
    if self.isolate:
      return child_process.train_in_subprocess(
          cell, self.net, self.data_config, self.config, child_dir,
          weights_path=weights_path)
    # pylint: disable=g-import-not-at-top
    from pnas_tf import child_trainer
    from pnas_tf import datasets
    # pylint: enable=g-import-not-at-top
    if self._data is None:
      self._data = datasets.load_search_data(self.data_config)
    return child_trainer.train_and_evaluate(
        cell, self.net, self._data, self.config, child_dir,
        weights_path=weights_path)

  def __call__(self, cell: search_space.Cell,
               child_dir: str) -> search_store.ChildRecord:
    result = self._train(cell, child_dir)
    return search_store.ChildRecord(
        cell=result.cell, num_blocks=result.num_blocks, status=result.status,
        accuracy=result.validation_accuracy, params=result.trainable_params,
        seconds=result.wall_seconds, reason=result.reason)


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
  metrics) beside the version directories. A rank whose cell is already exported is left alone; one whose cell changed
  (a search continued deeper) gets the next version, which TensorFlow
  Serving then serves.

  Returns:
    The SavedModel directories written.
  """
  # TensorFlow loads here, after the search, not at import.
  import keras  # pylint: disable=g-import-not-at-top
  from pnas_tf import export  # pylint: disable=g-import-not-at-top
  from pnas_tf import network  # pylint: disable=g-import-not-at-top

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
    with open(os.path.join(model_dir, CELL_FILE)) as stream:
      return json.load(stream).get("cell")
  except (OSError, ValueError, AttributeError):
    return None
