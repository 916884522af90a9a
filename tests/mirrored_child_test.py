"""A child trained under MirroredStrategy over two logical CPU devices.

The CPU is split in a fresh process: TensorFlow fixes its devices at first
use, so this cannot share the test process with other TensorFlow tests.
"""

import json
import os
import pathlib
import subprocess
import sys

from absl.testing import absltest

_ROOT = pathlib.Path(__file__).resolve().parent.parent

_CHILD = r"""
import json, os, sys, tempfile
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import tensorflow_datasets as tfds
from pnas_tf.config import network_config, train_config
from pnas_tf.data import datasets
from pnas_tf.space import search_space
from pnas_tf.training import child_trainer, strategies
strategy = strategies.make_strategy("mirrored")
with tfds.testing.mock_data(num_examples=32):
  data = datasets.load_search_data(
      train_config.DataConfig(dataset="cifar10", batch_size=8))
cell = search_space.Cell.parse("sep3x3:0+max3x3:1,identity:2+avg3x3:0")
config = train_config.TrainConfig(epochs=2, strategy="mirrored")
search = child_trainer.train_and_evaluate(
    cell, network_config.preset("cifar_search", filters=4,
                                num_cells_per_stack=1),
    data, config, tempfile.mkdtemp())
# Final training's extras: auxiliary head and ScheduledDropPath, exported.
export_dir = os.path.join(tempfile.mkdtemp(), "export")
final = child_trainer.train_and_evaluate(
    cell, network_config.preset("cifar_final", filters=4,
                                num_cells_per_stack=1),
    data, train_config.TrainConfig(epochs=3, strategy="mirrored"),
    tempfile.mkdtemp(), export_dir=export_dir)
served = tf.saved_model.load(export_dir).signatures["serving_default"]
probabilities = served(images=tf.zeros((3, 32, 32, 3), tf.uint8))
print(json.dumps({"replicas": strategy.num_replicas_in_sync,
                  "search": search.to_json(), "final": final.to_json(),
                  "sums": probabilities["probabilities"].numpy().sum(1).tolist()}))
"""


class MirroredChildTest(absltest.TestCase):

  def test_search_and_final_children_train_on_two_replicas(self):
    process = subprocess.run(
        [sys.executable, "-c", _CHILD], cwd=_ROOT, capture_output=True,
        text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(_ROOT)})
    self.assertEqual(process.returncode, 0, msg=process.stderr[-3000:])
    report = json.loads(process.stdout.strip().splitlines()[-1])
    self.assertEqual(report["replicas"], 2)
    for name in ("search", "final"):
      result = report[name]
      self.assertEqual(result["status"], "ok", msg=result["reason"])
      self.assertEqual(result["epochs_run"], 2 if name == "search" else 3)
      self.assertBetween(result["validation_accuracy"], 0.0, 1.0)
      self.assertGreater(result["train_images_per_second"], 0)
    for total in report["sums"]:
      self.assertAlmostEqual(total, 1.0, places=5)


if __name__ == "__main__":
  absltest.main()
