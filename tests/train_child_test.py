"""End-to-end tests of the train_child binary."""

import json
import os
import pathlib
import subprocess
import sys

from absl.testing import flagsaver
from absl.testing import parameterized
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from pnas_tf import train_child
from pnas_tf.cli import usage

_ROOT = pathlib.Path(__file__).resolve().parent.parent
train_child.define_flags()

_TINY = dict(cell="sep3x3:0+max3x3:1", dataset="cifar10", epochs=1,
             filters=4, num_cells_per_stack=1, batch_size=8, validation_size=8)
# Every case runs under tfds.testing.mock_data, whose download is a no-op.


class TrainChildMainTest(tf.test.TestCase, parameterized.TestCase):

  def setUp(self):
    super().setUp()
    train_child.define_flags()  # Its defaults, whoever set theirs last.
    self.output_dir = os.path.join(self.create_tempdir().full_path, "child")

  def test_main_trains_writes_result_and_a_servable_model(self):
    with flagsaver.flagsaver(output_dir=self.output_dir, **_TINY):
      with tfds.testing.mock_data(num_examples=24):
        status = train_child.main(["train_child"])
    self.assertEqual(status, 0)
    with open(os.path.join(self.output_dir, train_child.RESULT_FILE)) as f:
      record = json.load(f)
    self.assertEqual(record["result"]["status"], "ok")
    self.assertEqual(record["result"]["cell"], "sep3x3:0+max3x3:1")
    self.assertEqual(record["network"]["num_classes"], 10)
    self.assertEqual(record["network"]["filters"], 4)
    self.assertEqual(record["training"]["epochs"], 1)
    served = tf.saved_model.load(
        os.path.join(self.output_dir, train_child.SAVED_MODEL_DIR))
    images = tf.constant(np.zeros((2, 32, 32, 3)), tf.uint8)
    probabilities = served.signatures["serving_default"](images=images)
    self.assertAllClose(tf.reduce_sum(probabilities["probabilities"], 1),
                        [1.0, 1.0], atol=1e-5)

  def test_refuses_to_overwrite_a_trained_child(self):
    os.makedirs(self.output_dir)
    result_path = os.path.join(self.output_dir, train_child.RESULT_FILE)
    with open(result_path, "w") as f:
      f.write("{}")
    with flagsaver.flagsaver(output_dir=self.output_dir, **_TINY):
      with self.assertRaisesRegex(usage.UsageError, "already holds a trained"):
        train_child.main(["train_child"])
    with open(result_path) as f:
      self.assertEqual(f.read(), "{}")

  @parameterized.named_parameters(
      ("cell", {"cell": "sep3x3:0+conv9:1"}, "--cell: unknown operator"),
      ("no_cell", {"cell": None}, "--cell is required"),
      ("epochs", {"epochs": 0}, "--epochs must be >= 1"),
      ("strategy", {"strategy": "tpu"}, "--strategy must be one of"),
      ("xla", {"xla": "maybe"}, "--xla must be one of"),
      ("preset", {"preset": "cifar"}, "--preset: unknown preset"),
      ("filters", {"filters": 0}, "--filters must be >= 1"),
      ("dataset", {"dataset": "no_such_dataset"}, "--dataset: unknown dataset"),
      ("split", {"validation_size": 0.125},
       "--validation_size 0.125 is not a whole percent"),
  )
  def test_bad_input_is_a_usage_error_and_writes_nothing(self, overrides,
                                                         message):
    with flagsaver.flagsaver(output_dir=self.output_dir,
                             **{**_TINY, **overrides}):
      with tfds.testing.mock_data(num_examples=24):
        with self.assertRaisesRegex(usage.UsageError, message):
          train_child.main(["train_child"])
    self.assertFalse(os.path.exists(self.output_dir))


class TrainChildBinaryTest(parameterized.TestCase):

  @parameterized.parameters(
      (["--cell=sep4x4:0+max3x3:1", "--output_dir=/tmp/unused"],
       "--cell: unknown operator 'sep4x4'"),
      (["--cell=PNASNet-5", "--output_dir=/tmp/unused", "--dataset=cifar11"],
       "--dataset: unknown dataset 'cifar11'"),
  )
  def test_one_line_error_and_exit_status_2(self, args, message):
    process = subprocess.run(
        [sys.executable, "-m", "pnas_tf.train_child", *args], cwd=_ROOT,
        capture_output=True, text=True, timeout=300)
    self.assertEqual(process.returncode, 2)
    errors = [line for line in process.stderr.splitlines()
              if line.startswith("train_child.py: error:")]
    self.assertLen(errors, 1, msg=process.stderr)
    self.assertIn(message, errors[0])
    self.assertEqual(process.stderr.strip().splitlines()[-1], errors[0])
    self.assertNotIn("Traceback", process.stderr)
    self.assertFalse(os.path.exists("/tmp/unused"))


if __name__ == "__main__":
  tf.test.main()
