"""Tests for pnas_tf.serving.device_export: TFLite and ONNX files answer as
the SavedModel does, on the same images."""

import contextlib
import io
import os
import shutil
import tempfile
from unittest import mock

from absl import flags
from absl.testing import parameterized
from ai_edge_litert import interpreter as litert
import keras
import numpy as np
import onnxruntime
import tensorflow as tf

from pnas_tf.cli import export_flags
from pnas_tf.cli import usage
from pnas_tf.config import errors
from pnas_tf.config import export_config
from pnas_tf.config import network_config
from pnas_tf.model import network
from pnas_tf.serving import device_export
from pnas_tf.serving import export

CELL = "sep3x3:0+avg3x3:1,identity:2+max3x3:0"
# The bar: probabilities within 1e-4 of the SavedModel's.
TOLERANCE = 1e-4


def _exported(directory, channels, size=24, preset="cifar_final", **options):
  keras.utils.set_random_seed(3)
  config = network_config.preset(preset, filters=4, num_cells_per_stack=1,
                                 image_size=size, image_channels=channels,
                                 num_classes=5, use_aux_head=False)
  model = network.build_network(CELL, config)
  return export.export_classifier(
      model, (size, size, channels), os.path.join(directory, "pnas", "1"),
      class_names=("a", "b", "c", "d", "e"),
      formats=("saved_model", "tflite", "onnx"), **options)


def _images(channels, size=24, count=3):
  return np.random.RandomState(5).randint(
      0, 256, (count, size, size, channels)).astype(np.uint8)


class DeviceExportTest(parameterized.TestCase, tf.test.TestCase):

  def setUp(self):
    super().setUp()
    self.directory = tempfile.mkdtemp(prefix="device_export_test_")
    self.addCleanup(shutil.rmtree, self.directory, ignore_errors=True)

  @parameterized.named_parameters(
      ("colour", 3, {}),
      ("gray", 1, {}),
      ("inception_central_crop", 3,
       {"central_crop": True, "preprocessing_style": export.INCEPTION}),
      ("standardized_central_crop", 3, {"central_crop": True}),
      # PNASNet-5's ImageNet skeleton at a size whose crop, resized back by
      # a scale factor, comes out a pixel short in ONNX (as at 331, Large's).
      ("imagenet_skeleton_odd_size", 3,
       {"central_crop": True, "preprocessing_style": export.INCEPTION,
        "size": 97, "preset": "imagenet_mobile"}),
  )
  def test_every_runtime_agrees_with_the_saved_model(self, channels, options):
    with contextlib.redirect_stdout(io.StringIO()) as printed:
      path = _exported(self.directory, channels, **options)
    # The binaries write JSON on stdout: the converters must not add to it.
    self.assertEqual(printed.getvalue(), "")
    images = _images(channels, options.get("size", 24))
    served = tf.saved_model.load(path).signatures[export.DEFAULT_SIGNATURE]
    expected = served(images=tf.constant(images))["probabilities"].numpy()

    for name, dtype in ((device_export.TFLITE_FILE, np.float32),
                        (device_export.TFLITE_UINT8_FILE, np.uint8)):
      interpreter = litert.Interpreter(os.path.join(path, name))
      # A batch of 3, through the dynamic batch dimension.
      interpreter.resize_tensor_input(
          interpreter.get_input_details()[0]["index"], images.shape)
      interpreter.allocate_tensors()
      runner = interpreter.get_signature_runner()
      self.assertEqual(list(runner.get_input_details()), ["images"])
      got = runner(images=images.astype(dtype))["probabilities"]
      self.assertAllClose(got, expected, atol=TOLERANCE, rtol=0, msg=name)

    session = onnxruntime.InferenceSession(
        os.path.join(path, device_export.ONNX_FILE))
    self.assertEqual([i.name for i in session.get_inputs()], ["images"])
    got, = session.run(["probabilities"], {"images": images})
    self.assertAllClose(got, expected, atol=TOLERANCE, rtol=0)

    with open(os.path.join(path, device_export.LABELS_FILE)) as stream:
      self.assertEqual(stream.read().split("\n"), ["a", "b", "c", "d", "e", ""])

  def test_only_the_saved_model_unless_asked(self):
    keras.utils.set_random_seed(3)
    config = network_config.preset("cifar_search", filters=4,
                                   num_cells_per_stack=1, num_classes=3)
    path = export.export_classifier(network.build_network(CELL, config),
                                    (32, 32, 3),
                                    os.path.join(self.directory, "1"))
    self.assertFalse(any(name.endswith((".tflite", ".onnx", ".txt"))
                         for name in os.listdir(path)))


class ExportFormatsTest(parameterized.TestCase):

  def test_saved_model_always_comes_first(self):
    self.assertEqual(export_config.check_formats(["onnx", "tflite"]),
                     ("saved_model", "tflite", "onnx"))
    self.assertEqual(export_config.check_formats([]), ("saved_model",))

  def test_unknown_formats_are_named(self):
    with self.assertRaisesRegex(errors.ConfigError,
                                "unknown export format.*coreml"):
      export_config.check_formats(["tflite", "coreml"])

  def test_a_missing_converter_names_the_requirements_file(self):
    real = export_config.importlib.util.find_spec
    with mock.patch.object(
        export_config.importlib.util, "find_spec",
        lambda name: None if name == "tf2onnx" else real(name)):
      with self.assertRaisesRegex(
          errors.ConfigError,
          "onnx needs tf2onnx: pip install -r requirements-export.txt"):
        export_config.check_formats(["onnx"])
      self.assertEqual(export_config.check_formats(["tflite"]),
                       ("saved_model", "tflite"))

  def test_the_flag_error_names_the_flag(self):
    values = flags.FlagValues()
    export_flags.define_flags(values)
    values(["program", "--export_formats=tflite,pb"])
    with self.assertRaisesRegex(usage.UsageError,
                                "^--export_formats: unknown export format"):
      export_flags.formats_from_flags(values)
    values(["program", "--export_formats=tflite"])
    self.assertEqual(export_flags.formats_from_flags(values),
                     ("saved_model", "tflite"))


if __name__ == "__main__":
  tf.test.main()
