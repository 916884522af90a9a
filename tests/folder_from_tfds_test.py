"""Tests for bench/folder_from_tfds.py: a tfds dataset written as a folder."""

import os
import tempfile

from absl.testing import absltest
import bench_scripts
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from pnas_tf.data import local_sources

bench = bench_scripts.load("folder_from_tfds")


class FolderFromTfdsTest(absltest.TestCase):

  def test_the_folder_holds_the_splits_images_under_their_class_names(self):
    folder = tempfile.mkdtemp()
    with tfds.testing.mock_data(num_examples=20):
      written = bench.write_folder("fashion_mnist", folder,
                                   {"train": 12, "test": 5})
      builder = tfds.builder("fashion_mnist")
      names = builder.info.features["label"].names
      expected = list(builder.as_dataset(
          split="test", as_supervised=True,
          shuffle_files=False).take(5).as_numpy_iterator())
    self.assertEqual(written, {"train": 12, "test": 5})
    source = local_sources.scan_folder(folder)
    self.assertEqual(len(source.splits["train"].labels), 12)
    self.assertEqual(len(source.splits["test"].labels), 5)
    # Fashion-MNIST's "T-shirt/top" cannot name a folder.
    self.assertIn("T-shirt/top", names)
    self.assertTrue(set(source.class_names) <=
                    {name.replace("/", "_") for name in names})
    for index, (image, label) in enumerate(expected):
      path = os.path.join(folder, "test", names[label].replace("/", "_"),
                          f"{index}.png")
      decoded = tf.io.decode_png(tf.io.read_file(path)).numpy()
      np.testing.assert_array_equal(decoded, image)


if __name__ == "__main__":
  absltest.main()
