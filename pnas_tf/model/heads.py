"""The auxiliary classifier head of final training (NASNet's, as PNAS uses it).

ReLU -> 5x5 average pool, stride 3, VALID -> 1x1 conv 128 -> BN -> ReLU ->
conv 768 with a kernel the size of the remaining feature map -> BN -> ReLU ->
dense to the class logits.

Example:
  aux_logits = AuxiliaryHead(num_classes=10)(features)   # (batch, 10)
"""

from typing import Any

import keras
from keras import layers

from pnas_tf.model import operators


@keras.saving.register_keras_serializable(
    package=operators.SERIALIZATION_PACKAGE)
class AuxiliaryHead(layers.Layer):
  """Auxiliary logits from an intermediate cell output."""

  def __init__(self, num_classes: int, settings: dict[str, Any] | None = None,
               **kwargs):
    super().__init__(**kwargs)
    self.num_classes = num_classes
    self.settings = operators.ConvSettings.from_config(settings)
    self.chain: list[layers.Layer] = []

  def build(self, input_shape):
    height, width = input_shape[1], input_shape[2]
    if height is None or width is None or min(height, width) < 5:
      raise ValueError(
          "the auxiliary head needs a known feature map of at least 5x5, got "
          f"{height}x{width}")
    pooled = ((height - 5) // 3 + 1, (width - 5) // 3 + 1)
    settings = self.settings
    self.chain = [
        layers.Activation("relu"),
        layers.AveragePooling2D(pool_size=5, strides=3, padding="valid"),
        settings.conv(128, 1), settings.batch_norm(), layers.Activation("relu"),
        settings.conv(768, pooled, padding="valid"),
        settings.batch_norm(), layers.Activation("relu"),
        layers.Flatten(), settings.dense(self.num_classes),
    ]
    operators.build_chain(self.chain, input_shape)

  def call(self, inputs, training=None):
    return operators.apply_chain(self.chain, inputs, training)

  def compute_output_shape(self, input_shape):
    return (input_shape[0], self.num_classes)

  def get_config(self):
    return {**super().get_config(), "num_classes": self.num_classes,
            "settings": self.settings.to_config()}
