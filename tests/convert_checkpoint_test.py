"""Tests for the convert_checkpoint binary, run as a user runs it.

The checkpoint is written with slim's variable names (slim_checkpoint's
description of them) and random values; slim itself is not needed.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

from absl.testing import parameterized
import keras
import numpy as np
import tensorflow as tf

from pnas_tf import convert_checkpoint
from pnas_tf.config import network_config
from pnas_tf.model import network
from pnas_tf.model import slim_checkpoint
from pnas_tf.serving import export
from pnas_tf.space import search_space
import slim_checkpoints

_ROOT = pathlib.Path(__file__).resolve().parent.parent
_SIZE = ["--filters=8", "--num_cells_per_stack=1", "--image_size=72"]


def run_convert(*args):
  env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
  return subprocess.run(
      [sys.executable, "-m", "pnas_tf.convert_checkpoint", *args], cwd=_ROOT,
      env=env, capture_output=True, text=True, timeout=600)


def tiny_network(use_aux_head=True):
  config = network_config.preset(
      "imagenet_mobile", filters=8, num_cells_per_stack=1, image_size=72,
      use_aux_head=use_aux_head, drop_path_keep_prob=1.0)
  return network.build_network(search_space.PNASNET_5, config)


class ConvertCheckpointTest(tf.test.TestCase, parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.directory = tempfile.mkdtemp(prefix="convert_checkpoint_test_")
    shapes = {name: tuple(variable.shape) for name, variable in
              slim_checkpoint.slim_variables(tiny_network()).items()}
    cls.values = slim_checkpoints.random_values(shapes, seed=2)
    cls.checkpoint = slim_checkpoints.write_checkpoint(
        os.path.join(cls.directory, "slim", "model.ckpt"), cls.values)
    cls.output_dir = os.path.join(cls.directory, "converted")
    cls.result = run_convert(f"--checkpoint={cls.checkpoint}", *_SIZE,
                             f"--output_dir={cls.output_dir}")

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.directory, ignore_errors=True)
    super().tearDownClass()

  def images(self):
    return np.random.RandomState(3).uniform(-1, 1, (2, 72, 72, 3)).astype(
        np.float32)

  def test_summary_says_what_was_read_and_written(self):
    self.assertEqual(self.result.returncode, 0, msg=self.result.stderr)
    summary = json.loads(self.result.stdout)
    with open(os.path.join(self.output_dir, "conversion.json")) as stream:
      self.assertEqual(json.load(stream), summary)
    self.assertEqual(summary["variables"], len(self.values))
    self.assertEqual(summary["moving_averages"], 0)
    self.assertEqual(summary["aux_head"], "restored")
    self.assertEqual(summary["network"]["filters"], 8)
    self.assertEqual(summary["export"], os.path.join(
        self.output_dir, "export", "pnasnet5", "1"))
    self.assertCountEqual(os.listdir(self.output_dir), [
        "model.keras", "model_with_aux_head.keras", "export",
        "conversion.json"])

  def test_model_gives_the_logits_of_the_restored_network(self):
    expected = tiny_network(use_aux_head=False)
    slim_checkpoint.restore(expected, self.checkpoint)
    model = keras.saving.load_model(
        os.path.join(self.output_dir, "model.keras"))
    self.assertLen(model.outputs, 1)
    logits = model(self.images(), training=False)
    self.assertEqual(logits.shape, (2, 1001))
    self.assertAllClose(logits, expected(self.images(), training=False),
                        atol=1e-5)
    self.assertAllEqual(model.get_layer("logits").bias,
                        self.values["final_layer/FC/biases"])

  def test_model_with_aux_head_holds_the_checkpoints_head(self):
    model = keras.saving.load_model(
        os.path.join(self.output_dir, "model_with_aux_head.keras"))
    self.assertLen(model.outputs, 2)
    head = model.get_layer(network.AUX_HEAD_NAME)
    self.assertAllEqual(head.chain[-1].bias,
                        self.values["aux_1/aux_logits/FC/biases"])

  def test_export_serves_slims_preprocessing_and_imagenet_names(self):
    served = tf.saved_model.load(os.path.join(
        self.output_dir, "export", "pnasnet5", "1"))
    images = np.random.RandomState(4).randint(0, 256, (2, 90, 90, 3))
    outputs = served.signatures[export.DEFAULT_SIGNATURE](
        images=tf.constant(images.astype(np.uint8)))
    cropped = tf.image.central_crop(images.astype(np.float32), 0.875)
    resized = tf.raw_ops.ResizeBilinear(images=cropped, size=(72, 72),
                                        half_pixel_centers=False)
    model = keras.saving.load_model(
        os.path.join(self.output_dir, "model.keras"))
    expected = tf.nn.softmax(model(resized / 127.5 - 1.0, training=False))
    self.assertAllClose(outputs["probabilities"], expected, atol=1e-5)
    names = convert_checkpoint.imagenet_class_names()
    self.assertLen(names, 1001)
    self.assertEqual(names[:2], ["background", "n01440764"])
    self.assertAllEqual(outputs["class_names"].numpy().astype(str),
                        np.array(names)[outputs["classes"].numpy()])

  @parameterized.named_parameters(
      ("other_size", [], "does not fit --preset=imagenet_mobile (the "
       "checkpoint's network has --filters=8 --num_cells_per_stack=1): "),
      ("no_checkpoint", ["--checkpoint=/no/such/model.ckpt", *_SIZE],
       "--checkpoint: no readable checkpoint at /no/such/model.ckpt"),
      ("preset", ["--preset=cifar_final"],
       "--preset: slim's PNASNet checkpoints are imagenet_mobile, "
       "imagenet_large, got 'cifar_final'"),
      ("aux_head_room", [*_SIZE[:2], "--image_size=64"],
       "--image_size 64 is too small for the auxiliary head"),
  )
  def test_bad_input_is_one_line_and_writes_nothing(self, args, message):
    output_dir = os.path.join(self.create_tempdir().full_path, "out")
    if not any(arg.startswith("--checkpoint") for arg in args):
      args = [f"--checkpoint={self.checkpoint}", *args]
    result = run_convert(*args, f"--output_dir={output_dir}")
    self.assertEqual(result.returncode, 2, msg=result.stderr)
    self.assertEqual(result.stdout, "")
    # TensorFlow may log before the error; the error is one line, the last.
    errors = [line for line in result.stderr.splitlines()
              if line.startswith("convert_checkpoint.py: error: ")]
    self.assertLen(errors, 1, msg=result.stderr)
    self.assertEqual(result.stderr.strip().splitlines()[-1], errors[0])
    self.assertIn(message, errors[0])
    self.assertNotIn("Traceback", result.stderr)
    self.assertFalse(os.path.exists(output_dir))

  def test_another_image_size_needs_the_aux_head_left_out(self):
    # At 150 pixels the head's last conv covers a 2x2 map, not 1x1 as at 72.
    output_dir = os.path.join(self.create_tempdir().full_path, "out")
    args = [f"--checkpoint={self.checkpoint}", *_SIZE[:2], "--image_size=150",
            f"--output_dir={output_dir}"]
    refused = run_convert(*args)
    self.assertEqual(refused.returncode, 2, msg=refused.stderr)
    self.assertIn("(its auxiliary head was trained at another --image_size; "
                  "--noaux_head leaves it out): 1 mis-shaped "
                  "(aux_1/aux_logits/Conv/weights [1, 1, 128, 768] for "
                  "[2, 2, 128, 768])", refused.stderr)
    result = run_convert(*args, "--noaux_head")
    self.assertEqual(result.returncode, 0, msg=result.stderr)
    summary = json.loads(result.stdout)
    self.assertEqual(summary["aux_head"], "left out (--noaux_head)")
    self.assertIsNone(summary["model_with_aux_head"])
    self.assertEqual(summary["variables"], len(
        [name for name in self.values if not name.startswith("aux_")]))

  def test_an_output_dir_with_a_conversion_is_refused(self):
    result = run_convert(f"--checkpoint={self.checkpoint}", *_SIZE,
                         f"--output_dir={self.output_dir}")
    self.assertEqual(result.returncode, 2)
    self.assertIn(f"--output_dir {self.output_dir} already holds model.keras",
                  result.stderr)


if __name__ == "__main__":
  tf.test.main()
