"""Exports a trained classifier as a SavedModel that serving systems load.

The serving signature `serving_default` takes a batch of uint8 images of the
training data's shape and returns class probabilities; the per-image
standardization the network was trained with happens inside, so clients send
raw pixels. Drop-path is off (inference mode) and an auxiliary head, if any,
is not part of the answer.

Example:
  export_classifier(model, (32, 32, 3), "/tmp/child/saved_model")
  served = tf.saved_model.load("/tmp/child/saved_model")
  served.signatures["serving_default"](images=uint8_batch)["probabilities"]
"""

import keras
import tensorflow as tf

from pnas_tf import datasets

SIGNATURE_INPUT = "images"
SIGNATURE_OUTPUT = "probabilities"


class _ServingModule(tf.Module):
  """Holds the Keras model and the serving function."""

  def __init__(self, model: keras.Model, image_shape: tuple[int, int, int]):
    super().__init__()
    self.model = model
    self.serve = tf.function(
        self._probabilities,
        input_signature=[tf.TensorSpec((None, *image_shape), tf.uint8,
                                       name=SIGNATURE_INPUT)])

  def _probabilities(self, images):
    outputs = self.model(datasets.standardize(images), training=False)
    logits = outputs[0] if isinstance(outputs, (list, tuple)) else outputs
    return {SIGNATURE_OUTPUT: tf.nn.softmax(tf.cast(logits, tf.float32))}


def export_classifier(model: keras.Model, image_shape: tuple[int, int, int],
                      path: str) -> str:
  """Writes `model` as a SavedModel at `path`; returns the path."""
  module = _ServingModule(model, tuple(image_shape))
  tf.saved_model.save(module, path,
                      signatures={"serving_default": module.serve})
  return path
