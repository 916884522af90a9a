"""Tests for the offline Fashion-MNIST builder on Debian's real files.

Needs the Debian package dataset-fashion-mnist (.ci/run installs it): real
data, read through tfds, with no network.
"""

import dataclasses
import gzip
import os
import shutil
import tempfile

from absl.testing import absltest
import numpy as np
import tensorflow_datasets as tfds

from pnas_tf.config import train_config
from pnas_tf.data import datasets
from pnas_tf.data import debian_fashion_mnist


class DebianFashionMnistTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    if not debian_fashion_mnist.files_present():
      raise AssertionError(
          "Debian's Fashion-MNIST files are missing: apt-get install "
          "dataset-fashion-mnist")
    cls.data_dir = tempfile.mkdtemp()
    # Through the pipeline's own resolution: tfds' fashion_mnist is not
    # prepared in this empty directory and downloads are off.
    cls.builder = datasets.get_builder(train_config.DataConfig(
        dataset="fashion_mnist", data_dir=cls.data_dir, download=False))

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.data_dir)
    super().tearDownClass()

  def test_offline_builder_is_used_when_tfds_cannot_download(self):
    self.assertIsInstance(self.builder, debian_fashion_mnist.DebianFashionMnist)
    self.assertTrue(self.builder.is_prepared())

  def test_same_features_and_splits_as_tfds_fashion_mnist(self):
    reference = tfds.builder("fashion_mnist").info.features
    features = self.builder.info.features
    self.assertEqual(features["image"].shape, reference["image"].shape)
    self.assertEqual(features["label"].names, reference["label"].names)
    splits = self.builder.info.splits
    self.assertEqual(splits["train"].num_examples, 60000)
    self.assertEqual(splits["test"].num_examples, 10000)

  def test_examples_are_the_real_images(self):
    path = os.path.join(debian_fashion_mnist.DEFAULT_DIRECTORY,
                        "t10k-images-idx3-ubyte.gz")
    with gzip.open(path) as stream:
      raw = np.frombuffer(stream.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    test = tfds.as_numpy(self.builder.as_dataset(split="test", batch_size=-1,
                                                 as_supervised=True))
    images, labels = test
    self.assertEqual(images.shape, (10000, 28, 28, 1))
    # tfds stores examples in its own order: compare as multisets.
    self.assertEqual(sorted(map(bytes, images.reshape(10000, -1))),
                     sorted(map(bytes, raw.reshape(10000, -1))))
    self.assertEqual(np.bincount(labels).tolist(), [1000] * 10)

  def test_search_data_from_the_real_files(self):
    config = train_config.DataConfig(dataset="fashion_mnist",
                                     data_dir=self.data_dir, download=False,
                                     num_train_examples=512, batch_size=128)
    data = datasets.load_search_data(config)
    self.assertEqual(data.info.image_shape, (28, 28, 1))
    self.assertEqual((data.info.num_train_examples,
                      data.info.num_validation_examples), (512, 5000))
    self.assertEqual(sum(int(labels.shape[0]) for _, labels in data.train()),
                     512)

  def test_final_data_is_the_train_split_and_the_real_test_split(self):
    config = train_config.DataConfig(dataset="fashion_mnist",
                                     data_dir=self.data_dir, download=False,
                                     num_train_examples=256, batch_size=500)
    data = datasets.load_final_data(config)
    self.assertEqual((data.info.train_split, data.info.validation_split),
                     ("train[:256]", "test"))
    self.assertEqual((data.num_train_examples,
                      data.info.num_validation_examples), (256, 10000))
    self.assertEqual(sum(int(labels.shape[0]) for _, labels in data.test),
                     10000)
    whole = datasets.load_final_data(dataclasses.replace(
        config, num_train_examples=0))
    self.assertEqual(whole.num_train_examples, 60000)

  def test_final_data_refuses_a_split_the_dataset_lacks(self):
    config = train_config.DataConfig(dataset="fashion_mnist",
                                     data_dir=self.data_dir, download=False)
    with self.assertRaisesRegex(
        datasets.DatasetUnavailableError,
        "has no split 'validation' \\(it has test, train\\): choose one "
        "with --test_split"):
      datasets.load_final_data(config, test_split="validation")

  def test_rejects_a_file_of_the_wrong_kind(self):
    with tempfile.TemporaryDirectory() as directory:
      path = os.path.join(directory, "labels.gz")
      with gzip.open(path, "wb") as stream:
        stream.write(np.array([2049, 3], ">i4").tobytes() + bytes([1, 2, 3]))
      with self.assertRaisesRegex(ValueError, "not an IDX file of the expected kind"):
        debian_fashion_mnist._read_idx(path, 2051)  # pylint: disable=protected-access
      self.assertEqual(debian_fashion_mnist._read_idx(path, 2049).tolist(),  # pylint: disable=protected-access
                       [1, 2, 3])


if __name__ == "__main__":
  absltest.main()
