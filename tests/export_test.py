"""Tests for pnas_tf.serving.export: the served model equals the Keras model."""

import os
import shutil
import subprocess
import tempfile

import keras
import numpy as np
import tensorflow as tf

from pnas_tf.config import network_config
from pnas_tf.data import preprocessing
from pnas_tf.model import network
from pnas_tf.serving import export

CELL = "sep3x3:0+avg3x3:1,identity:2+max3x3:0"
NAMES = ("zero", "one", "two", "three", "four", "five", "six")


def final_network():
  """A tiny cifar_final network: auxiliary head and drop-path included."""
  keras.utils.set_random_seed(2)
  config = network_config.preset("cifar_final", filters=4,
                                 num_cells_per_stack=1, image_size=28,
                                 image_channels=1, num_classes=7)
  return network.build_network(CELL, config)


def uint8_images(count, size=28, channels=1, seed=0):
  images = np.random.RandomState(seed).randint(0, 256,
                                               (count, size, size, channels))
  return images.astype(np.uint8)


class ExportTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.model = final_network()
    cls.directory = tempfile.mkdtemp(prefix="export_test_")
    cls.path = export.export_classifier(cls.model, (28, 28, 1),
                                        os.path.join(cls.directory, "1"),
                                        class_names=NAMES, top_k=3)
    cls.served = tf.saved_model.load(cls.path)

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.directory, ignore_errors=True)
    super().tearDownClass()

  def keras_probabilities(self, images):
    logits, _ = self.model(preprocessing.standardize(images), training=False)
    return tf.nn.softmax(logits).numpy()

  def test_served_outputs_equal_the_keras_model_on_standardized_images(self):
    images = uint8_images(4)
    outputs = self.served.signatures[export.DEFAULT_SIGNATURE](
        images=tf.constant(images))
    expected = self.keras_probabilities(images)
    self.assertAllClose(outputs["probabilities"], expected, atol=1e-5)
    top3 = np.argsort(-expected, axis=1)[:, :3]
    self.assertAllEqual(outputs["classes"], top3)
    self.assertAllClose(outputs["scores"],
                        np.take_along_axis(expected, top3, axis=1), atol=1e-5)
    self.assertAllEqual(outputs["class_names"].numpy().astype(str),
                        np.array(NAMES)[top3])

  def test_images_of_another_size_are_resized_inside(self):
    images = uint8_images(2, size=56, seed=1)
    outputs = self.served.signatures[export.DEFAULT_SIGNATURE](
        images=tf.constant(images))
    resized = tf.image.resize(tf.cast(images, tf.float32), (28, 28),
                              antialias=True)
    self.assertAllClose(outputs["probabilities"],
                        self.keras_probabilities(resized), atol=1e-5)

  def test_encoded_png_bytes_give_the_same_answer_as_the_pixels(self):
    images = uint8_images(3, seed=3)
    encoded = [tf.io.encode_png(image).numpy() for image in images]
    from_bytes = self.served.signatures[export.BYTES_SIGNATURE](
        image_bytes=tf.constant(encoded))
    from_pixels = self.served.signatures[export.DEFAULT_SIGNATURE](
        images=tf.constant(images))
    for name in export.OUTPUTS:
      if name == "class_names":
        self.assertAllEqual(from_bytes[name], from_pixels[name])
      else:
        self.assertAllClose(from_bytes[name], from_pixels[name], atol=1e-5)

  def test_colour_jpeg_of_another_size_is_decoded_to_the_model_channels(self):
    colour = np.random.RandomState(4).randint(0, 256, (40, 40, 3))
    encoded = tf.io.encode_jpeg(colour.astype(np.uint8)).numpy()
    outputs = self.served.signatures[export.BYTES_SIGNATURE](
        image_bytes=tf.constant([encoded]))
    self.assertEqual(outputs["probabilities"].shape, (1, 7))
    self.assertAllClose(tf.reduce_sum(outputs["probabilities"]), 1.0,
                        atol=1e-5)

  def test_aux_head_and_drop_path_are_not_in_the_served_graph(self):
    signature = self.served.signatures[export.DEFAULT_SIGNATURE]
    graph = signature.graph.as_graph_def()
    op_names = [node.name for node in graph.node] + [
        node.name for function in graph.library.function
        for node in function.node_def]
    self.assertNotEmpty(op_names)
    self.assertEmpty([name for name in op_names if "aux_head" in name])
    self.assertEmpty([name for name in op_names if "drop_path" in name])
    served_weights = sum(int(np.prod(v.shape))
                         for v in signature.trainable_variables)
    self.assertEqual(
        served_weights,
        network.count_trainable_params(self.model, include_aux_head=False))

  def test_saved_model_cli_lists_both_signatures(self):
    command = [shutil.which("saved_model_cli") or "saved_model_cli", "show",
               "--dir", self.path, "--all"]
    shown = subprocess.run(command, capture_output=True, text=True,
                           check=True, timeout=300).stdout
    for name in (export.DEFAULT_SIGNATURE, export.BYTES_SIGNATURE,
                 export.SIGNATURE_INPUT, export.BYTES_INPUT, *export.OUTPUTS):
      self.assertIn(name, shown)
    self.assertIn("shape: (-1, -1, -1, 1)", shown)

  def test_signatures_take_uint8_images_and_strings(self):
    inputs = self.served.signatures[
        export.DEFAULT_SIGNATURE].structured_input_signature[1]
    spec = inputs[export.SIGNATURE_INPUT]
    self.assertEqual(spec.dtype, tf.uint8)
    self.assertEqual(spec.shape.as_list(), [None, None, None, 1])
    spec = self.served.signatures[export.BYTES_SIGNATURE] \
        .structured_input_signature[1][export.BYTES_INPUT]
    self.assertEqual((spec.dtype, spec.shape.as_list()), (tf.string, [None]))

  def test_an_existing_version_is_never_replaced(self):
    before = sorted(os.listdir(self.path))
    with self.assertRaisesRegex(FileExistsError, "never replace"):
      export.export_classifier(self.model, (28, 28, 1), self.path)
    self.assertEqual(sorted(os.listdir(self.path)), before)
    self.assertFalse(os.path.exists(self.path + ".partial"))

  def test_wrong_number_of_class_names_is_refused(self):
    with self.assertRaisesRegex(ValueError, "2 class names for 7 classes"):
      export.export_classifier(self.model, (28, 28, 1),
                               os.path.join(self.directory, "bad"),
                               class_names=("a", "b"))


class InceptionPreprocessingTest(tf.test.TestCase):
  """The export of a converted slim network: slim's evaluation preprocessing."""

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    keras.utils.set_random_seed(5)
    config = network_config.preset("imagenet_mobile", filters=4,
                                   num_cells_per_stack=1, image_size=24,
                                   num_classes=7, use_aux_head=False)
    cls.model = network.build_network(CELL, config)
    cls.directory = tempfile.mkdtemp(prefix="export_test_")
    cls.served = tf.saved_model.load(export.export_classifier(
        cls.model, (24, 24, 3), os.path.join(cls.directory, "1"),
        class_names=NAMES, central_crop=True,
        preprocessing_style=export.INCEPTION))

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.directory, ignore_errors=True)
    super().tearDownClass()

  def slim_probabilities(self, images):
    """research/slim/preprocessing/inception_preprocessing.py's evaluation."""
    images = tf.image.convert_image_dtype(images, tf.float32)
    images = tf.image.central_crop(images, 0.875)
    # TF1's tf.image.resize_bilinear(align_corners=False).
    images = tf.raw_ops.ResizeBilinear(images=images, size=(24, 24),
                                       half_pixel_centers=False)
    logits = self.model((images - 0.5) * 2.0, training=False)
    return tf.nn.softmax(logits).numpy()

  def test_served_images_are_cropped_resized_and_scaled_as_slim(self):
    images = uint8_images(2, size=40, channels=3, seed=6)
    outputs = self.served.signatures[export.DEFAULT_SIGNATURE](
        images=tf.constant(images))
    self.assertAllClose(outputs["probabilities"],
                        self.slim_probabilities(images), atol=1e-5)

  def test_bytes_give_the_same_answer_as_the_pixels(self):
    images = uint8_images(2, size=31, channels=3, seed=7)
    encoded = [tf.io.encode_png(image).numpy() for image in images]
    from_bytes = self.served.signatures[export.BYTES_SIGNATURE](
        image_bytes=tf.constant(encoded))
    self.assertAllClose(from_bytes["probabilities"],
                        self.slim_probabilities(images), atol=1e-5)

  def test_inception_needs_its_central_crop_and_styles_are_checked(self):
    path = os.path.join(self.directory, "bad")
    with self.assertRaisesRegex(ValueError, "central_crop must be True"):
      export.export_classifier(self.model, (24, 24, 3), path,
                               preprocessing_style=export.INCEPTION)
    with self.assertRaisesRegex(ValueError, "must be one of standardize"):
      export.export_classifier(self.model, (24, 24, 3), path,
                               preprocessing_style="vgg")


class VersionTest(tf.test.TestCase):

  def test_next_version_follows_the_highest_number(self):
    model_dir = self.create_tempdir().full_path
    self.assertEqual(export.next_version_directory(model_dir),
                     os.path.join(model_dir, "1"))
    for name in ("1", "3", "notes", "7.partial"):
      os.makedirs(os.path.join(model_dir, name))
    self.assertEqual(export.next_version_directory(model_dir),
                     os.path.join(model_dir, "4"))
    self.assertEqual(
        export.next_version_directory(os.path.join(model_dir, "missing")),
        os.path.join(model_dir, "missing", "1"))


if __name__ == "__main__":
  tf.test.main()
