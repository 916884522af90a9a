"""Tests for the offline Fashion-MNIST builder on Debian's real files.

Needs the Debian package dataset-fashion-mnist (.ci/run installs it): real
data, read through tfds, with no network.
"""

import dataclasses
import gzip
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

from absl.testing import absltest
import numpy as np
import tensorflow_datasets as tfds

from pnas_tf.config import train_config
from pnas_tf.data import datasets
from pnas_tf.data import debian_fashion_mnist

_ROOT = pathlib.Path(__file__).resolve().parent.parent
# A search's worker: prepares fashion_mnist through the pipeline and says what
# it read. It starts preparing on a line on stdin, so that its siblings,
# already started (TensorFlow imported), start at the same moment.
_WORKER = """
import json, sys
from pnas_tf.config import train_config
from pnas_tf.data import datasets
print("ready", flush=True)
sys.stdin.readline()
builder = datasets.get_builder(train_config.DataConfig(
    dataset="fashion_mnist", data_dir=sys.argv[1], download=False))
test = builder.as_dataset(split="test", batch_size=1000)
print(json.dumps({
    "builder": type(builder).__name__,
    "splits": {name: split.num_examples
               for name, split in builder.info.splits.items()},
    "test_examples_read": sum(int(batch["label"].shape[0]) for batch in test),
}))
"""
# What tfds prints (stdout) each time it has prepared a dataset.
_PREPARED = "downloaded and prepared to"


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
                      data.info.num_evaluation_examples), (512, 5000))
    self.assertEqual(sum(int(labels.shape[0]) for _, labels in data.train()),
                     512)

  def test_final_data_is_the_train_split_and_the_real_test_split(self):
    config = train_config.DataConfig(dataset="fashion_mnist",
                                     data_dir=self.data_dir, download=False,
                                     num_train_examples=256, batch_size=500)
    data = datasets.load_final_data(config)
    self.assertEqual((data.info.train_split, data.info.evaluation_split),
                     ("train[:256]", "test"))
    self.assertEqual((data.num_train_examples,
                      data.info.num_evaluation_examples), (256, 10000))
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


class ConcurrentPreparationTest(absltest.TestCase):

  def _start_worker(self, data_dir):
    # stderr (TensorFlow's logs, tfds' progress bars) goes to a file: a full
    # pipe would stall the preparing worker while this test waits on another.
    stderr = tempfile.TemporaryFile("w+")
    self.addCleanup(stderr.close)
    worker = subprocess.Popen(
        [sys.executable, "-c", _WORKER, data_dir], cwd=_ROOT,
        env={**os.environ, "PYTHONPATH": str(_ROOT)}, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=stderr, text=True)
    self.addCleanup(worker.kill)
    return worker, stderr

  def test_workers_preparing_at_once_all_read_one_preparation(self):
    # Without the lock, the second worker to finish died renaming its copy
    # into place (FileExistsError) in each of 7 tries.
    data_dir = self.create_tempdir().full_path
    workers = [self._start_worker(data_dir) for _ in range(2)]
    for worker, _ in workers:
      self.assertEqual(worker.stdout.readline(), "ready\n")
    for worker, _ in workers:
      worker.stdin.write("go\n")
      worker.stdin.flush()
    stdouts = [worker.communicate(timeout=300)[0] for worker, _ in workers]
    for worker, stderr in workers:
      stderr.seek(0)
      self.assertEqual(worker.returncode, 0, stderr.read()[-2000:])
    reports = [json.loads(stdout.splitlines()[-1]) for stdout in stdouts]
    self.assertEqual(reports, [{
        "builder": "DebianFashionMnist",
        "splits": {"train": 60000, "test": 10000},
        "test_examples_read": 10000}] * 2)
    # One prepared; the other waited and read its data.
    self.assertEqual(sum(stdout.count(_PREPARED) for stdout in stdouts), 1)


if __name__ == "__main__":
  absltest.main()
