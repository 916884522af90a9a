"""Tests for pnas_tf.api: the search and final training called from Python on
arrays in memory, an .npz and a folder, as the binaries run them."""

import contextlib
import io
import os

from absl import flags
from absl.testing import flagsaver
import numpy as np
import tensorflow as tf

import image_folders
from pnas_tf import api
from pnas_tf.cli import usage

# A whole search in seconds (as search_test.py's).
_TINY = dict(epochs=1, filters=4, num_cells_per_stack=1, batch_size=8,
             validation_size=6, operations=["max3x3"], max_blocks=2,
             beam_size=2, export_top=1, predictor="mlp", predictor_epochs=2,
             isolate_children=False, image_size=12)


class ApiTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    self.root = self.create_tempdir().full_path
    self.data_dir = os.path.join(self.root, "tfds")

  def test_search_on_arrays_returns_the_ranking_and_restores_the_flags(self):
    x, y = image_folders.arrays(30, size=10)
    output_dir = os.path.join(self.root, "search")
    with flagsaver.flagsaver(epochs=7):
      with contextlib.redirect_stdout(io.StringIO()):
        ranking = api.search(
            dataset={"x_train": x, "y_train": y,
                     "class_names": ["low", "mid", "high"]},
            output_dir=output_dir, data_dir=self.data_dir, **_TINY)
      self.assertEqual(flags.FLAGS.epochs, 7)
      self.assertIsNone(flags.FLAGS.output_dir)
    self.assertLen(ranking, 3 + 2)
    accuracies = [record.accuracy for record in ranking]
    self.assertEqual(accuracies, sorted(accuracies, reverse=True))
    (npz,) = [name for name in os.listdir(output_dir)
              if name.endswith(".npz")]
    self.assertRegex(npz, r"^dataset_[0-9a-f]{16}\.npz$")
    self.assertTrue(os.path.isdir(os.path.join(output_dir, "export",
                                               "pnas_1")))
    # The same call again: the finished search, unchanged.
    with contextlib.redirect_stdout(io.StringIO()):
      again = api.search(
          dataset={"x_train": x, "y_train": y,
                   "class_names": ["low", "mid", "high"]},
          output_dir=output_dir, data_dir=self.data_dir, **_TINY)
    self.assertEqual([r.cell for r in again], [r.cell for r in ranking])

  def test_final_training_on_keras_style_arrays_and_on_a_folder(self):
    (x, y), (x_test, y_test) = [image_folders.arrays(count, channels=None,
                                                     seed=seed)
                                for count, seed in ((24, 0), (6, 1))]
    settings = dict(epochs=1, filters=4, num_cells_per_stack=1,
                    batch_size=8, image_size=12, data_dir=self.data_dir,
                    verbose=0)
    with contextlib.redirect_stdout(io.StringIO()):
      record = api.train_final(
          cell="max3x3:0+max3x3:1",
          dataset=((x, y[:, np.newaxis]), (x_test, y_test)),
          output_dir=os.path.join(self.root, "final"), **settings)
    self.assertEqual(record["result"]["test_examples"], 6)
    self.assertEqual(record["dataset"]["image_shape"], [12, 12, 1])
    self.assertTrue(os.path.exists(record["export"]))
    folder = image_folders.write_folder(os.path.join(self.root, "images"),
                                        {"train": 4, "test": 1})
    with contextlib.redirect_stdout(io.StringIO()):
      record = api.train_final(cell="max3x3:0+max3x3:1", dataset=folder,
                               output_dir=os.path.join(self.root, "final2"),
                               **settings)
    self.assertEqual(record["dataset"]["class_names"],
                     list(image_folders.CLASSES))

  def test_bad_arrays_and_flags_are_the_binarys_errors(self):
    x, y = image_folders.arrays(12)
    output_dir = os.path.join(self.root, "search")
    with self.assertRaisesRegex(
        usage.UsageError,
        "^--dataset: dataset: x_train has 12 images but y_train has 11"):
      api.search(dataset={"x_train": x, "y_train": y[:-1]},
                 output_dir=output_dir)
    with self.assertRaisesRegex(usage.UsageError, "^--dataset: dataset: "
                                r"y_train has labels out of range \(-1\)"):
      api.search(dataset={"x_train": x, "y_train": y - 1},
                 output_dir=output_dir)
    self.assertFalse(os.path.exists(output_dir))
    folder = os.path.join(self.root, "empty")
    os.makedirs(folder)
    with self.assertRaisesRegex(usage.UsageError,
                                "^--dataset: .*empty holds no class folders"):
      api.search(dataset=folder, output_dir=output_dir,
                 data_dir=self.data_dir)
    with self.assertRaisesRegex(usage.UsageError, "epoch"):
      api.search(dataset=folder, output_dir=output_dir, epoch=3)
    with self.assertRaisesRegex(TypeError, "dataset must be"):
      api.search(dataset=x, output_dir=output_dir)
    self.assertFalse(os.path.exists(output_dir))


if __name__ == "__main__":
  tf.test.main()
