"""The paper's 8 operators and the cell-input projections as Keras 3 layers.

Built from keras.layers and keras.ops only, so they run on any Keras backend.
Faithful to the official PNASNet-5 code (tensorflow/models, research/slim/nets/
nasnet): every conv path is ReLU -> conv (no bias) -> BatchNorm; a separable
KxK operator is that applied twice with depth multiplier 1 and the stride on
the first; identity with a stride or a channel change becomes ReLU -> strided
1x1 conv -> BN (computed as a subsampling then a stride-1 1x1 conv, the same
function: see operation_layers); pooling strides directly and adds 1x1 conv -> BN only when the
channel count changes.

Two operators are in the paper's list but not in the official code (PNASNet-5
uses neither), so their exact form is ours:
  conv1x7_7x1: ReLU -> 1x7 conv (stride 1 x s) -> BN -> ReLU -> 7x1 conv
    (stride s x 1) -> BN; each conv strides the axis it spans.
  dil3x3: ReLU -> 3x3 conv with dilation 2 -> BN. TensorFlow cannot stride a
    dilated conv, so at stride 2 the conv runs at stride 1 and its output is
    subsampled at the pixels a SAME-padded stride-2 op centres on (odd ones
    along an even-sized axis, even ones along an odd-sized axis), so that its
    output lines up with the other operators of the block.
"""

import dataclasses
from typing import Any, Sequence

import keras
from keras import layers
from keras import ops

from pnas_tf.space import search_space

# Registered names are "pnas_tf>ClassName" in saved .keras files.
SERIALIZATION_PACKAGE = "pnas_tf"


@dataclasses.dataclass(frozen=True)
class ConvSettings:
  """How every conv, BN and dense layer of a network is made.

  Attributes:
    weight_decay: L2 coefficient as in TF-slim's l2_regularizer, which adds
      weight_decay * sum(w^2) / 2; Keras' L2 has no 1/2, so it gets half.
    bn_momentum: BatchNorm moving-average momentum (slim's "decay").
    bn_epsilon: BatchNorm epsilon.
  """
  weight_decay: float = 5e-4
  bn_momentum: float = 0.9
  bn_epsilon: float = 1e-5

  def to_config(self) -> dict[str, float]:
    return dataclasses.asdict(self)

  @classmethod
  def from_config(cls, config: dict[str, float] | None) -> "ConvSettings":
    return cls(**(config or {}))

  def _regularizer(self):
    if not self.weight_decay:
      return None
    return keras.regularizers.L2(self.weight_decay / 2)

  def _initializer(self):
    # TF-slim's variance_scaling_initializer(mode="FAN_OUT"), as the official
    # arg scope sets it.
    return keras.initializers.VarianceScaling(
        scale=2.0, mode="fan_out", distribution="truncated_normal")

  def conv(self, filters: int, kernel_size, strides=1, dilation_rate=1,
           padding="same") -> layers.Conv2D:
    """A bias-free conv with this network's initializer and weight decay."""
    return layers.Conv2D(
        filters, kernel_size, strides=strides, dilation_rate=dilation_rate,
        padding=padding, use_bias=False,
        kernel_initializer=self._initializer(),
        kernel_regularizer=self._regularizer())

  def separable(self, filters: int, kernel_size: int,
                strides: int) -> layers.SeparableConv2D:
    """A bias-free depthwise-separable conv, depth multiplier 1."""
    return layers.SeparableConv2D(
        filters, kernel_size, strides=strides, padding="same",
        depth_multiplier=1, use_bias=False,
        depthwise_initializer=self._initializer(),
        pointwise_initializer=self._initializer(),
        depthwise_regularizer=self._regularizer(),
        pointwise_regularizer=self._regularizer())

  def batch_norm(self, name=None) -> layers.BatchNormalization:
    """BatchNorm with a trainable scale and offset, as the official code."""
    return layers.BatchNormalization(
        momentum=self.bn_momentum, epsilon=self.bn_epsilon, name=name)

  def dense(self, units: int, name=None) -> layers.Dense:
    """A dense layer with bias (the classifier), decayed like the convs."""
    return layers.Dense(
        units, name=name, kernel_initializer=self._initializer(),
        kernel_regularizer=self._regularizer())


def _relu():
  return layers.Activation("relu")


def _subsample(strides: int):
  """Keeps every `strides`-th row and column from the first (ceil(n / s))."""
  return layers.AveragePooling2D(pool_size=1, strides=strides, padding="valid")


def _same_centred_subsample(input_shape) -> list[layers.Layer]:
  """Stride-2 subsampling at the pixels a SAME stride-2 op centres on."""
  height, width = input_shape[1], input_shape[2]
  crop = (((1, 0) if height is not None and height % 2 == 0 else (0, 0)),
          ((1, 0) if width is not None and width % 2 == 0 else (0, 0)))
  path = [layers.Cropping2D(crop)] if crop != ((0, 0), (0, 0)) else []
  return path + [_subsample(2)]


def relu_conv_bn(settings: ConvSettings, filters: int, kernel_size=1,
                 strides=1) -> list[layers.Layer]:
  """ReLU -> conv -> BN, the official code's unit of every conv path."""
  return [_relu(), settings.conv(filters, kernel_size, strides),
          settings.batch_norm()]


def operation_layers(name: str, filters: int, strides: int, input_shape,
                     settings: ConvSettings) -> list[layers.Layer]:
  """The layers, in order, of operator `name` (empty for a plain identity).

  Args:
    name: one of search_space.OPERATIONS.
    filters: output channels (the cell's F').
    strides: 1, or 2 for an operator reading a cell input in a stride-2 cell.
    input_shape: (batch, height, width, channels) of the hidden state read.
    settings: how convs and BN are made.

  Returns:
    A list of fresh, unbuilt Keras layers.

  Raises:
    ValueError: for an unknown operator name.
  """
  if name in ("sep3x3", "sep5x5", "sep7x7"):
    kernel = int(name[-1])
    return [_relu(), settings.separable(filters, kernel, strides),
            settings.batch_norm(),
            _relu(), settings.separable(filters, kernel, 1),
            settings.batch_norm()]
  if name == "conv1x7_7x1":
    return [_relu(), settings.conv(filters, (1, 7), (1, strides)),
            settings.batch_norm(),
            _relu(), settings.conv(filters, (7, 1), (strides, 1)),
            settings.batch_norm()]
  if name == "dil3x3":
    path = [_relu(), settings.conv(filters, 3, dilation_rate=2)]
    if strides > 1:
      path += _same_centred_subsample(input_shape)
    return path + [settings.batch_norm()]
  input_channels = input_shape[-1]
  if name == "identity":
    if strides > 1:
      # A SAME 1x1 conv at stride s reads every s-th row and column from the
      # first, which is what _subsample keeps: the same function and
      # weights, with no strided 1x1 conv, whose weight gradient corrupts
      # the heap in oneDNN's AVX-512 kernel under 16 input channels
      # (docs/onednn.md).
      return [_relu(), _subsample(strides), settings.conv(filters, 1),
              settings.batch_norm()]
    if input_channels != filters:
      return relu_conv_bn(settings, filters, 1)
    return []
  if name in ("avg3x3", "max3x3"):
    pool = layers.AveragePooling2D if name == "avg3x3" else layers.MaxPooling2D
    path = [pool(pool_size=3, strides=strides, padding="same")]
    if input_channels != filters:
      path += [settings.conv(filters, 1), settings.batch_norm()]
    return path
  search_space.check_operation(name)
  raise AssertionError(f"operator {name!r} has no layers defined")


def build_chain(chain: Sequence[layers.Layer], input_shape) -> tuple:
  """Builds each layer of `chain` in turn; returns the chain's output shape.

  Layers made inside another layer's build() must be built there too, so that
  a saved model's weights have somewhere to load into.
  """
  shape = tuple(input_shape)
  for layer in chain:
    if not layer.built:
      layer.build(shape)
    shape = tuple(layer.compute_output_shape(shape))
  return shape


def apply_chain(chain: Sequence[layers.Layer], x, training=None):
  """Applies the layers of `chain` in order to `x`."""
  for layer in chain:
    x = layer(x, training=training)
  return x


@keras.saving.register_keras_serializable(package=SERIALIZATION_PACKAGE)
class CellOperation(layers.Layer):
  """One operator of a block, e.g. CellOperation("sep5x5", 54, strides=2)."""

  def __init__(self, operation: str, filters: int, strides: int = 1,
               settings: dict[str, Any] | None = None, **kwargs):
    super().__init__(**kwargs)
    search_space.check_operation(operation)
    if strides not in (1, 2):
      raise ValueError(f"strides must be 1 or 2, got {strides}")
    self.operation = operation
    self.filters = filters
    self.strides = strides
    self.settings = ConvSettings.from_config(settings)
    self.chain: list[layers.Layer] = []

  def build(self, input_shape):
    self.chain = operation_layers(self.operation, self.filters, self.strides,
                                  input_shape, self.settings)
    build_chain(self.chain, input_shape)

  def call(self, inputs, training=None):
    return apply_chain(self.chain, inputs, training)

  def compute_output_shape(self, input_shape):
    # Every operator gives F' channels at ceil(size / stride), except a plain
    # identity, which keeps its input's channels.
    if (self.operation == "identity" and self.strides == 1
        and input_shape[-1] == self.filters):
      return tuple(input_shape)
    def reduce(size):
      return None if size is None else -(-size // self.strides)
    return (input_shape[0], reduce(input_shape[1]), reduce(input_shape[2]),
            self.filters)

  def get_config(self):
    return {**super().get_config(), "operation": self.operation,
            "filters": self.filters, "strides": self.strides,
            "settings": self.settings.to_config()}


@keras.saving.register_keras_serializable(package=SERIALIZATION_PACKAGE)
class FactorizedReduction(layers.Layer):
  """Halves height and width without losing the odd pixels.

  Two stride-2 paths of 1x1 average pooling + 1x1 conv, the second shifted by
  one pixel, concatenated, then BN. With an odd filter count the second path
  gets the extra filter, as the official code does.
  """

  def __init__(self, filters: int, settings: dict[str, Any] | None = None,
               **kwargs):
    super().__init__(**kwargs)
    self.filters = filters
    self.settings = ConvSettings.from_config(settings)
    self.path1: list[layers.Layer] = []
    self.path2: list[layers.Layer] = []
    self.batch_norm = None

  def build(self, input_shape):
    half = self.filters // 2
    self.path1 = [_subsample(2), self.settings.conv(half, 1)]
    self.path2 = [layers.ZeroPadding2D(((0, 1), (0, 1))),
                  layers.Cropping2D(((1, 0), (1, 0))),
                  _subsample(2), self.settings.conv(self.filters - half, 1)]
    shape = build_chain(self.path1, input_shape)
    build_chain(self.path2, input_shape)
    self.batch_norm = self.settings.batch_norm()
    self.batch_norm.build(shape[:-1] + (self.filters,))

  def call(self, inputs, training=None):
    paths = [apply_chain(self.path1, inputs, training),
             apply_chain(self.path2, inputs, training)]
    return self.batch_norm(ops.concatenate(paths, axis=-1), training=training)

  def compute_output_shape(self, input_shape):
    def halve(size):
      return None if size is None else (size + 1) // 2
    return (input_shape[0], halve(input_shape[1]), halve(input_shape[2]),
            self.filters)

  def get_config(self):
    return {**super().get_config(), "filters": self.filters,
            "settings": self.settings.to_config()}


@keras.saving.register_keras_serializable(package=SERIALIZATION_PACKAGE)
class ScheduledDropPath(layers.Layer):
  """Drops a whole operator output per example, more so later in training.

  The drop rate is (1 - keep_prob) * progress, where progress is a
  non-trainable weight in [0, 1] that a callback raises over training (see
  `set_drop_path_progress`); keep_prob is already scaled for the cell's depth
  by the network builder. Survivors are scaled by 1 / keep. Does nothing at
  inference. Set the progress between epochs (on_epoch_begin), not between
  steps: Keras' JAX backend holds its own copy of the variables during an
  epoch.
  """

  def __init__(self, keep_prob: float, seed: int | None = None, **kwargs):
    super().__init__(**kwargs)
    if not 0.0 < keep_prob <= 1.0:
      raise ValueError(
          f"drop-path keep_prob must be in (0, 1], got {keep_prob}")
    self.keep_prob = keep_prob
    self.seed = seed
    self.seed_generator = keras.random.SeedGenerator(seed)

  def build(self, input_shape):
    self.progress = self.add_weight(
        shape=(), initializer="zeros", trainable=False, name="progress")

  def call(self, inputs, training=None):
    if not training:
      return inputs
    # The mask is drawn in float32: in a 16-bit dtype a keep probability
    # near 1 would round to exactly 1.
    keep = 1.0 - (1.0 - self.keep_prob) * ops.cast(self.progress, "float32")
    noise_shape = (ops.shape(inputs)[0],) + (1,) * (len(inputs.shape) - 1)
    noise = keras.random.uniform(
        noise_shape, dtype="float32", seed=self.seed_generator)
    scale = ops.cast(ops.floor(keep + noise) / keep, inputs.dtype)
    return inputs * scale

  def compute_output_shape(self, input_shape):
    return input_shape

  def get_config(self):
    return {**super().get_config(), "keep_prob": self.keep_prob,
            "seed": self.seed}


def set_drop_path_progress(model: keras.Model, progress: float) -> int:
  """Sets the training progress (0..1) of every ScheduledDropPath in `model`.

  Finds them among the model's layers and in the `drop_paths` list of layers
  that own some (PNASCell).

  Args:
    model: a network from network.build_network.
    progress: fraction of training done; clipped to [0, 1].

  Returns:
    How many drop-path layers were set.
  """
  progress = min(max(progress, 0.0), 1.0)
  count = 0
  for layer in model.layers:
    owned = [layer] if isinstance(layer, ScheduledDropPath) else [
        d for d in getattr(layer, "drop_paths", ()) if d is not None]
    for drop_path in owned:
      drop_path.progress.assign(progress)
      count += 1
  return count
