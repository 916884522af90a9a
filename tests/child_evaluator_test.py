"""Tests for pnas_tf.nas.child_evaluator: records kept, data loaded once, and
damaged files recovered from with a warning.

Training, data loading and the SavedModel export are stand-ins here: what is
tested is what the evaluator does around them.
"""

import json
import os
from unittest import mock

from absl.testing import absltest

from pnas_tf.config import network_config
from pnas_tf.config import train_config
from pnas_tf.data import datasets
from pnas_tf.model import network
from pnas_tf.nas import child_evaluator
from pnas_tf.nas import search_store
from pnas_tf.serving import export
from pnas_tf.space import search_space
from pnas_tf.training import child_trainer
from pnas_tf.training import results

DATA = train_config.DataConfig(dataset="fashion_mnist", batch_size=32)
NET = network_config.preset("cifar_search", filters=4, num_cells_per_stack=1,
                            image_size=28, image_channels=1)
CELL = search_space.Cell.parse("sep3x3:0+max3x3:1")


def _trained(cell, *args, **kwargs):
  del args, kwargs  # The network, data, config and files of a real run.
  cell = cell.canonical()
  return results.ChildResult(cell=str(cell), num_blocks=cell.num_blocks,
                             status=results.Status.OK,
                             validation_accuracy=0.75)


class ChildEvaluatorTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    child_evaluator.cached_search_data.cache_clear()
    self.addCleanup(child_evaluator.cached_search_data.cache_clear)
    self.load = self.enter_context(mock.patch.object(
        datasets, "load_search_data", side_effect=lambda config: object()))
    self.train = self.enter_context(mock.patch.object(
        child_trainer, "train_and_evaluate", side_effect=_trained))

  def test_a_finished_child_is_not_trained_again(self):
    child_dir = self.create_tempdir().full_path
    evaluate = child_evaluator.ChildEvaluator(NET, DATA,
                                              train_config.TrainConfig())
    first = evaluate(CELL, child_dir)
    again = evaluate(CELL, child_dir)
    self.assertEqual(again, first)
    self.assertAlmostEqual(first.accuracy, 0.75)
    self.assertEqual(self.train.call_count, 1)

  def test_a_corrupt_record_is_trained_again_with_a_warning(self):
    child_dir = self.create_tempdir().full_path
    path = os.path.join(child_dir, child_evaluator.RECORD_FILE)
    with open(path, "w") as stream:
      stream.write('{"cell": "sep3x3:0+')
    evaluate = child_evaluator.ChildEvaluator(NET, DATA,
                                              train_config.TrainConfig())
    with self.assertLogs(level="WARNING") as logs:
      record = evaluate(CELL, child_dir)
    self.assertEqual(self.train.call_count, 1)
    self.assertTrue(record.ok)
    (warning,) = [line for line in logs.output if path in line]
    self.assertIn("JSONDecodeError", warning)
    self.assertIn("training the child again", warning)
    with open(path) as stream:
      self.assertEqual(json.load(stream)["accuracy"], 0.75)

  def test_children_of_one_config_share_its_data_and_only_one_is_kept(self):
    other = train_config.DataConfig(dataset="fashion_mnist", batch_size=64)
    loaded = child_evaluator.cached_search_data(DATA)
    self.assertIs(child_evaluator.cached_search_data(DATA), loaded)
    for index, cell in enumerate(search_space.initial_cells()[:3]):
      evaluate = child_evaluator.ChildEvaluator(NET, DATA,
                                                train_config.TrainConfig())
      evaluate(cell, self.create_tempdir(f"child{index}").full_path)
      self.assertIs(self.train.call_args.args[2], loaded)
    self.assertEqual(self.load.call_count, 1)
    child_evaluator.cached_search_data(other)
    self.assertEqual(child_evaluator.cached_search_data.cache_info().currsize,
                     1)
    self.assertIsNot(child_evaluator.cached_search_data(DATA), loaded)
    self.assertEqual(self.load.call_count, 3)


class ExportBestTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.store = search_store.SearchStore(self.create_tempdir().full_path)
    self.export_dir = self.create_tempdir().full_path
    self.record = search_store.ChildRecord(
        cell=str(CELL.canonical()), num_blocks=CELL.num_blocks, status="ok",
        accuracy=0.8)
    self.enter_context(mock.patch.object(network, "build_network"))
    self.export = self.enter_context(mock.patch.object(
        export, "export_classifier",
        side_effect=lambda model, shape, path, **kwargs: os.makedirs(path)))

  def _export_best(self):
    return child_evaluator.export_best(
        [self.record], self.store, NET, (28, 28, 1), self.export_dir,
        count=1, num_blocks=CELL.num_blocks)

  def test_an_exported_cell_is_left_alone(self):
    self.assertEqual(self._export_best(),
                     [os.path.join(self.export_dir, "pnas_1", "1")])
    self.assertEqual(self._export_best(), [])
    self.assertEqual(self.export.call_count, 1)

  def test_an_unreadable_cell_file_is_exported_again_with_a_warning(self):
    self._export_best()
    path = os.path.join(self.export_dir, "pnas_1", child_evaluator.CELL_FILE)
    with open(path, "w") as stream:
      stream.write("{not json")
    with self.assertLogs(level="WARNING") as logs:
      written = self._export_best()
    self.assertEqual(written, [os.path.join(self.export_dir, "pnas_1", "2")])
    (warning,) = [line for line in logs.output if path in line]
    self.assertIn("JSONDecodeError", warning)
    self.assertIn("exporting its rank again", warning)
    with open(path) as stream:
      self.assertEqual(json.load(stream)["cell"], self.record.cell)


if __name__ == "__main__":
  absltest.main()
