"""Tests for pnas_tf.model.operators: shapes, parameter counts and behaviour of each operator."""

import itertools
import os
import subprocess
import sys

from absl.testing import parameterized
import keras
import numpy as np
import tensorflow as tf

from pnas_tf.model import operators
from pnas_tf.space import search_space

_SETTINGS = operators.ConvSettings()


def trainable_count(layer) -> int:
  return sum(int(np.prod(w.shape)) for w in layer.trainable_weights)


def sep_params(kernel, channels_in, filters):
  """Two separable convs (depthwise + pointwise, no bias), each followed by BN."""
  return (kernel * kernel * channels_in + channels_in * filters + 2 * filters
          + kernel * kernel * filters + filters * filters + 2 * filters)


def expected_params(operation, channels_in, filters, strides):
  """Trainable parameters of an operator as docs/paper_notes.md describes it."""
  conv_bn_1x1 = channels_in * filters + 2 * filters
  if operation.startswith("sep"):
    return sep_params(int(operation[-1]), channels_in, filters)
  if operation == "conv1x7_7x1":
    return 7 * channels_in * filters + 2 * filters + 7 * filters * filters + 2 * filters
  if operation == "dil3x3":
    return 9 * channels_in * filters + 2 * filters
  if operation == "identity":
    return conv_bn_1x1 if strides > 1 or channels_in != filters else 0
  return conv_bn_1x1 if channels_in != filters else 0  # Pooling.


class OperationTest(tf.test.TestCase, parameterized.TestCase):

  def setUp(self):
    super().setUp()
    keras.utils.set_random_seed(7)

  @parameterized.parameters(itertools.product(
      search_space.OPERATIONS, (1, 2), (8, 5), (9, 8)))
  def test_output_shape_and_params(self, operation, strides, channels_in, size):
    filters = 8
    layer = operators.CellOperation(operation, filters, strides)
    inputs = np.random.RandomState(0).randn(2, size, size, channels_in)
    outputs = layer(inputs.astype("float32"), training=False)
    out_size = -(-size // strides)  # ceil, as SAME padding gives.
    self.assertEqual(tuple(outputs.shape), (2, out_size, out_size, filters))
    self.assertEqual(tuple(layer.compute_output_shape((2, size, size, channels_in))),
                     (2, out_size, out_size, filters))
    self.assertEqual(trainable_count(layer),
                     expected_params(operation, channels_in, filters, strides))

  @parameterized.parameters(itertools.product(
      search_space.OPERATIONS, (1, 2), (8, 5)))
  def test_output_shape_is_known_before_build(self, operation, strides,
                                              channels_in):
    layer = operators.CellOperation(operation, 8, strides)
    self.assertFalse(layer.built)
    plain_identity = operation == "identity" and strides == 1 and channels_in == 8
    expected = (2, 9, 9, 8) if strides == 1 else (2, 5, 5, 8)
    self.assertEqual(layer.compute_output_shape((2, 9, 9, channels_in)),
                     (2, 9, 9, channels_in) if plain_identity else expected)
    self.assertFalse(layer.built)

  @parameterized.named_parameters(
      # Subsampled, then a stride-1 1x1 conv (docs/onednn.md).
      ("identity_strided", "identity", 2, 8,
       ["Activation", "AveragePooling2D", "Conv2D", "BatchNormalization"]),
      ("identity_channels", "identity", 1, 5,
       ["Activation", "Conv2D", "BatchNormalization"]),
      # Pooling's projection has no ReLU (official code).
      ("pool_channels", "max3x3", 1, 5,
       ["MaxPooling2D", "Conv2D", "BatchNormalization"]),
      ("pool_plain", "avg3x3", 2, 8, ["AveragePooling2D"]),
      ("conv1x7_7x1", "conv1x7_7x1", 2, 8,
       ["Activation", "Conv2D", "BatchNormalization",
        "Activation", "Conv2D", "BatchNormalization"]),
      ("dil3x3", "dil3x3", 1, 8,
       ["Activation", "Conv2D", "BatchNormalization"]),
      ("dil3x3_strided_even", "dil3x3", 2, 8,
       ["Activation", "Conv2D", "Cropping2D", "AveragePooling2D",
        "BatchNormalization"]),
  )
  def test_layer_sequence(self, operation, strides, channels_in, expected):
    layer = operators.CellOperation(operation, 8, strides)
    layer.build((1, 8, 8, channels_in))
    self.assertEqual([type(l).__name__ for l in layer.chain], expected)

  def test_conv1x7_7x1_strides_each_axis_with_the_conv_that_spans_it(self):
    layer = operators.CellOperation("conv1x7_7x1", 4, 2)
    layer.build((1, 8, 8, 4))
    convs = [l for l in layer.chain if isinstance(l, keras.layers.Conv2D)]
    self.assertEqual([(c.kernel_size, c.strides) for c in convs],
                     [((1, 7), (1, 2)), ((7, 1), (2, 1))])

  @parameterized.parameters(8, 9)
  def test_strided_dil3x3_samples_where_same_padding_centres(self, size):
    # A SAME stride-2 op centres output i on input pixel 2i + 1 along an even
    # axis and 2i along an odd one; the stride-2 dil3x3 must agree with its
    # stride-1 twin (same weights) at exactly those pixels.
    inputs = np.random.RandomState(3).randn(1, size, size, 4).astype("float32")
    strided = operators.CellOperation("dil3x3", 4, 2)
    plain = operators.CellOperation("dil3x3", 4, 1)
    strided.build(inputs.shape)
    plain.build(inputs.shape)
    plain.set_weights(strided.get_weights())
    start = 1 if size % 2 == 0 else 0
    self.assertAllClose(strided(inputs, training=False),
                        plain(inputs, training=False)[:, start::2, start::2],
                        atol=1e-5)
    # And a plain SAME stride-2 conv samples the same pixels.
    conv = keras.layers.Conv2D(1, 3, strides=2, padding="same", use_bias=False)
    conv_1 = keras.layers.Conv2D(1, 3, strides=1, padding="same", use_bias=False)
    conv.build(inputs.shape)
    conv_1.build(inputs.shape)
    conv_1.set_weights(conv.get_weights())
    self.assertAllClose(conv(inputs), conv_1(inputs)[:, start::2, start::2],
                        atol=1e-5)

  def test_plain_identity_passes_its_input_through(self):
    layer = operators.CellOperation("identity", 4, 1)
    inputs = np.random.RandomState(1).randn(2, 5, 5, 4).astype("float32")
    self.assertAllEqual(layer(inputs), inputs)
    self.assertEmpty(layer.weights)

  @parameterized.parameters(("max3x3", np.max), ("avg3x3", np.mean))
  def test_pooling_at_stride_one_pools_3x3_windows(self, operation, reduce):
    layer = operators.CellOperation(operation, 3, 1)
    inputs = np.random.RandomState(2).randn(1, 6, 6, 3).astype("float32")
    outputs = layer(inputs).numpy()
    # An interior pixel sees its full 3x3 window.
    self.assertAllClose(outputs[0, 2, 3], reduce(inputs[0, 1:4, 2:5], axis=(0, 1)),
                        atol=1e-6)
    # A corner sees only the pixels inside the image (TF's SAME pooling).
    self.assertAllClose(outputs[0, 0, 0], reduce(inputs[0, 0:2, 0:2], axis=(0, 1)),
                        atol=1e-6)

  def test_separable_stride_is_on_the_first_conv_only(self):
    layer = operators.CellOperation("sep5x5", 6, 2)
    layer.build((1, 8, 8, 6))
    separables = [l for l in layer.chain
                  if isinstance(l, keras.layers.SeparableConv2D)]
    self.assertEqual([l.strides for l in separables], [(2, 2), (1, 1)])
    self.assertEqual([l.depth_multiplier for l in separables], [1, 1])
    self.assertEqual([type(l).__name__ for l in layer.chain], [
        "Activation", "SeparableConv2D", "BatchNormalization",
        "Activation", "SeparableConv2D", "BatchNormalization"])

  def test_convs_have_no_bias(self):
    for operation in search_space.OPERATIONS:
      layer = operators.CellOperation(operation, 4, 2)
      layer.build((1, 8, 8, 3))
      for sublayer in layer.chain:
        if isinstance(sublayer, keras.layers.Conv2D):
          self.assertFalse(sublayer.use_bias, msg=operation)

  def test_unknown_operator(self):
    with self.assertRaisesRegex(ValueError, "unknown operator 'conv3x3'"):
      operators.CellOperation("conv3x3", 4)

  def test_weight_decay_matches_slims_l2_regularizer(self):
    settings = operators.ConvSettings(weight_decay=0.01)
    conv = settings.conv(3, 1)
    conv.build((1, 4, 4, 2))
    kernel = conv.kernel.numpy()
    # slim.l2_regularizer(wd) adds wd * sum(w^2) / 2.
    self.assertAllClose(conv.kernel_regularizer(conv.kernel),
                        0.01 * np.sum(kernel ** 2) / 2, rtol=1e-5)


_STRIDED_1X1_GRADIENT = r"""
import tensorflow as tf
from pnas_tf.model import operators
layer = operators.CellOperation("identity", filters=12, strides=2)
images = tf.random.uniform((4, 56, 56, 12))
for _ in range(3):
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(layer(images, training=True))
  grads = tape.gradient(loss, layer.trainable_variables)
print("ok", [g.shape.as_list() for g in grads if g is not None][0])
"""


class StridedIdentityTest(tf.test.TestCase):

  def test_it_equals_a_strided_1x1_conv_with_the_same_weights(self):
    for size in (8, 9):
      layer = operators.CellOperation("identity", filters=6, strides=2)
      images = np.random.RandomState(size).randn(2, size, size, 4).astype(
          np.float32)
      ours = layer(images, training=False)
      conv = next(sub for sub in layer._flatten_layers()  # pylint: disable=protected-access
                  if isinstance(sub, keras.layers.Conv2D))
      bn = next(sub for sub in layer._flatten_layers()  # pylint: disable=protected-access
                if isinstance(sub, keras.layers.BatchNormalization))
      strided = tf.nn.conv2d(tf.nn.relu(images), conv.kernel, 2, "SAME")
      self.assertAllClose(ours, bn(strided, training=False), atol=1e-5)

  def test_its_weight_gradient_at_56_px_and_12_channels_does_not_crash(self):
    # A strided 1x1 conv here corrupted the heap in oneDNN's AVX-512 kernel
    # (docs/onednn.md): in a process of its own, so a crash fails one test.
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    process = subprocess.run([sys.executable, "-c", _STRIDED_1X1_GRADIENT],
                             cwd=root, capture_output=True, text=True,
                             timeout=300, env={**os.environ, "PYTHONPATH": root})
    self.assertEqual(process.returncode, 0, msg=process.stderr[-2000:])
    self.assertIn("ok [1, 1, 12, 12]", process.stdout)


class FactorizedReductionTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters((111, 27, 56), (28, 54, 14), (9, 8, 5))
  def test_shape_and_params_with_odd_filters(self, size, filters, out_size):
    layer = operators.FactorizedReduction(filters)
    outputs = layer(np.zeros((1, size, size, 32), "float32"))
    self.assertEqual(tuple(outputs.shape), (1, out_size, out_size, filters))
    # Two 1x1 convs with filters // 2 and the rest, then BN over all filters.
    self.assertEqual(trainable_count(layer), 32 * filters + 2 * filters)
    self.assertEqual([layer.path1[-1].filters, layer.path2[-1].filters],
                     [filters // 2, filters - filters // 2])

  def test_paths_read_even_and_odd_pixels(self):
    layer = operators.FactorizedReduction(2)
    inputs = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    layer.build(inputs.shape)
    for conv in (layer.path1[-1], layer.path2[-1]):
      conv.kernel.assign(np.ones(conv.kernel.shape, "float32"))
    outputs = layer(inputs, training=False).numpy()
    scale = 1 / np.sqrt(1 + layer.batch_norm.epsilon)  # Fresh BN: x / sqrt(1+eps).
    self.assertAllClose(outputs[0, :, :, 0], inputs[0, ::2, ::2, 0] * scale)
    self.assertAllClose(outputs[0, :, :, 1], inputs[0, 1::2, 1::2, 0] * scale)


class ScheduledDropPathTest(tf.test.TestCase):

  def test_inference_and_zero_progress_keep_everything(self):
    layer = operators.ScheduledDropPath(0.5, seed=3)
    inputs = np.ones((64, 2, 2, 3), "float32")
    self.assertAllEqual(layer(inputs, training=False), inputs)
    self.assertAllEqual(layer(inputs, training=True), inputs)  # progress = 0

  def test_full_progress_drops_whole_examples_at_the_rate(self):
    layer = operators.ScheduledDropPath(0.6, seed=3)
    layer.build((4000, 2, 2, 3))
    layer.progress.assign(1.0)
    outputs = layer(np.ones((4000, 2, 2, 3), "float32"), training=True).numpy()
    per_example = outputs.reshape(4000, -1)
    # Every example is dropped whole or kept and scaled by 1 / keep.
    self.assertTrue(np.all((per_example == 0).all(axis=1)
                           | np.isclose(per_example, 1 / 0.6).all(axis=1)))
    self.assertAllClose((per_example[:, 0] > 0).mean(), 0.6, atol=0.03)

  def test_half_progress_halves_the_drop_rate(self):
    layer = operators.ScheduledDropPath(0.6, seed=3)
    layer.build((4000, 1))
    layer.progress.assign(0.5)
    outputs = layer(np.ones((4000, 1), "float32"), training=True).numpy()
    self.assertAllClose((outputs > 0).mean(), 0.8, atol=0.03)
    self.assertAllClose(outputs.max(), 1 / 0.8, rtol=1e-5)

  def test_mask_is_drawn_in_float32(self):
    # In bfloat16, 0.999 rounds to 1.0 and nothing would ever be dropped.
    layer = operators.ScheduledDropPath(0.99, seed=4, dtype="mixed_bfloat16")
    layer.build((20000, 1))
    layer.progress.assign(1.0)
    outputs = layer(keras.ops.ones((20000, 1), "bfloat16"), training=True)
    self.assertEqual(outputs.dtype, "bfloat16")
    self.assertBetween(float(keras.ops.mean(outputs == 0)), 0.005, 0.015)

  def test_set_progress_reaches_layers_nested_in_cells(self):
    from pnas_tf.model import cell as cell_lib  # pylint: disable=g-import-not-at-top
    inputs = keras.Input((8, 8, 4))
    outputs = cell_lib.PNASCell("sep3x3:0+identity:1,max3x3:2+avg3x3:0", 4,
                                drop_path_keep_prob=0.7)([inputs])
    model = keras.Model(inputs, outputs)
    self.assertEqual(operators.set_drop_path_progress(model, 2.0), 3)
    progress = [w.numpy() for w in model.non_trainable_weights
                if w.path.endswith("progress")]
    self.assertEqual(progress, [1.0] * 3)  # Clipped to [0, 1].

  def test_bad_keep_prob(self):
    with self.assertRaisesRegex(ValueError, "keep_prob"):
      operators.ScheduledDropPath(0.0)


if __name__ == "__main__":
  tf.test.main()
