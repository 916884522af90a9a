"""Tests for pnas_tf.export: the served model equals the Keras model."""

import os

import keras
import numpy as np
import tensorflow as tf

from pnas_tf import datasets
from pnas_tf import export
from pnas_tf import network
from pnas_tf import network_config


class ExportTest(tf.test.TestCase):

  def test_served_probabilities_equal_the_keras_model_on_standardized_images(
      self):
    keras.utils.set_random_seed(2)
    config = network_config.preset("cifar_final", filters=4,
                                   num_cells_per_stack=1, image_size=28,
                                   image_channels=1, num_classes=7)
    model = network.build_network("sep3x3:0+avg3x3:1,identity:2+max3x3:0",
                                  config)
    path = os.path.join(self.create_tempdir().full_path, "served")
    export.export_classifier(model, (28, 28, 1), path)
    images = np.random.RandomState(0).randint(0, 256, (4, 28, 28, 1))
    images = images.astype(np.uint8)
    served = tf.saved_model.load(path).signatures["serving_default"]
    probabilities = served(images=tf.constant(images))["probabilities"]
    logits, _ = model(datasets.standardize(images), training=False)
    self.assertAllClose(probabilities, tf.nn.softmax(logits), atol=1e-5)
    self.assertEqual(probabilities.shape, (4, 7))

  def test_signature_takes_uint8_images_of_the_dataset_shape(self):
    model = network.build_network(
        "sep3x3:0+max3x3:1", network_config.preset(
            "cifar_search", filters=4, num_cells_per_stack=1))
    path = os.path.join(self.create_tempdir().full_path, "served")
    export.export_classifier(model, (32, 32, 3), path)
    signature = tf.saved_model.load(path).signatures["serving_default"]
    spec = signature.structured_input_signature[1][export.SIGNATURE_INPUT]
    self.assertEqual(spec.dtype, tf.uint8)
    self.assertEqual(spec.shape.as_list(), [None, 32, 32, 3])
    self.assertEqual(list(signature.structured_outputs),
                     [export.SIGNATURE_OUTPUT])


if __name__ == "__main__":
  tf.test.main()
