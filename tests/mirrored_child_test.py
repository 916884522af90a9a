"""Children trained under MirroredStrategy over two logical CPU devices.

The CPU is split in a fresh process: TensorFlow fixes its devices at first
use, so this cannot share the test process with other TensorFlow tests.

The replicas all-reduce with TensorFlow's default cross-device ops (the
collective ring on CPUs, as NCCL collectives on GPUs). A process used to fail
with "Shape mismatch in the collective instance 100" at the first step of
its second network of another size, every time (6 runs of 6), because each
new MirroredStrategy numbered its collectives from the same keys
(strategies.py). One process here trains three networks of different sizes,
the last two with ScheduledDropPath and the auxiliary head, on epochs whose
last batch holds one example: it would leave a replica an empty batch, which
batch normalization cannot take, so training drops it and validation merges
it into the batch before (datasets.TrainingData.for_replicas).
"""

import json
import os
import pathlib
import subprocess
import sys

from absl.testing import absltest

_ROOT = pathlib.Path(__file__).resolve().parent.parent

_CHILD = r"""
import json, os, tempfile
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
# 25 examples in batches of 8: every epoch, and the validation, end with a
# batch of 1.
with tfds.testing.mock_data(num_examples=25):
  data = datasets.load_search_data(
      train_config.DataConfig(dataset="cifar10", batch_size=8))
config = train_config.TrainConfig(epochs=2, strategy="mirrored")
children = [
    ("search", "sep3x3:0+max3x3:1,identity:2+avg3x3:0", "cifar_search"),
    # Final training's extras: auxiliary head and ScheduledDropPath.
    ("final", "sep3x3:0+max3x3:1,identity:2+avg3x3:0", "cifar_final"),
    ("final_other_cell", "sep5x5:0+avg3x3:1", "cifar_final"),
]
report = {"replicas": strategy.num_replicas_in_sync,
          # Private, but the only place the strategy says how it reduces.
          "cross_device_ops": type(strategy.extended._cross_device_ops).__name__,
          "same_strategy": strategies.make_strategy("mirrored") is strategy,
          "steps_per_epoch": data.steps_per_epoch,
          "steps_per_epoch_on_replicas": data.for_replicas(2).steps_per_epoch}
export_dir = os.path.join(tempfile.mkdtemp(), "export")
for name, cell, preset in children:
  result = child_trainer.train_and_evaluate(
      search_space.Cell.parse(cell),
      network_config.preset(preset, filters=4, num_cells_per_stack=1), data,
      config, tempfile.mkdtemp(),
      export_dir=export_dir if name == "final" else None)
  report[name] = result.to_json()
served = tf.saved_model.load(export_dir).signatures["serving_default"]
probabilities = served(images=tf.zeros((3, 32, 32, 3), tf.uint8))
report["sums"] = probabilities["probabilities"].numpy().sum(1).tolist()
print(json.dumps(report))
"""


class MirroredChildTest(absltest.TestCase):

  def test_networks_of_three_sizes_train_in_one_process_on_two_replicas(self):
    process = subprocess.run(
        [sys.executable, "-c", _CHILD], cwd=_ROOT, capture_output=True,
        text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(_ROOT)})
    self.assertEqual(process.returncode, 0, msg=process.stderr[-3000:])
    report = json.loads(process.stdout.strip().splitlines()[-1])
    self.assertEqual(report["replicas"], 2)
    self.assertEqual(report["cross_device_ops"], "CollectiveAllReduce")
    self.assertTrue(report["same_strategy"])
    self.assertEqual(report["steps_per_epoch"], 4)
    self.assertEqual(report["steps_per_epoch_on_replicas"], 3)
    params = set()
    for name in ("search", "final", "final_other_cell"):
      result = report[name]
      self.assertEqual(result["status"], "ok", msg=result["reason"])
      self.assertEqual(result["epochs_run"], 2)
      self.assertBetween(result["validation_accuracy"], 0.0, 1.0)
      self.assertGreater(result["train_images_per_second"], 0)
      params.add(result["trainable_params"])
    # Networks of different sizes are what made the old keys collide.
    self.assertLen(params, 3)
    for total in report["sums"]:
      self.assertAlmostEqual(total, 1.0, places=5)


if __name__ == "__main__":
  absltest.main()
