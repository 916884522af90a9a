"""Tests for pnas_tf.model.cell.PNASCell: inputs, strides, output, drop path, config."""

from absl.testing import parameterized
import keras
import numpy as np
import tensorflow as tf

from pnas_tf.model import cell as cell_lib
from pnas_tf.model import operators
from pnas_tf.space import search_space


def build_cell(cell, filters, strides, shapes, keep=1.0):
  layer = cell_lib.PNASCell(cell, filters, strides, keep)
  inputs = [keras.Input(shape[1:]) for shape in shapes]
  outputs = layer(inputs)
  return layer, outputs


def operations_by_operand(layer):
  """(input index, CellOperation) for every operand, in block order."""
  operands = [operand for b in layer.cell.blocks for operand in b.operands()]
  return [(inp, op_layer) for (inp, _), op_layer
          in zip(operands, layer.block_operations)]


class PNASCellTest(tf.test.TestCase, parameterized.TestCase):

  def setUp(self):
    super().setUp()
    keras.utils.set_random_seed(11)

  @parameterized.parameters(1, 2)
  def test_output_concatenates_all_blocks(self, strides):
    layer, outputs = build_cell(search_space.PNASNET_5, 6, strides,
                                [(1, 8, 8, 10), (1, 8, 8, 7)])
    self.assertEqual(tuple(outputs.shape), (None, 8 // strides, 8 // strides, 30))
    del layer

  def test_block_outputs_are_the_concatenated_slices_in_order(self):
    # b1 = 2 H(c-1)', b2 = 2 H(c-2), b3 = b1 + H(c-2): three different
    # tensors, which must appear in block order.
    layer = cell_lib.PNASCell(
        "identity:0+identity:0,identity:1+identity:1,identity:2+identity:1", 3)
    rng = np.random.RandomState(0)
    prev = rng.randn(2, 4, 4, 3).astype("float32")
    skip = rng.randn(2, 4, 4, 3).astype("float32")
    outputs = layer([prev, skip], training=False).numpy()
    self.assertEmpty(layer.skip_projection)  # Same size and channels.
    projected = operators.apply_chain(layer.prev_projection, prev).numpy()
    self.assertAllClose(outputs[..., 0:3], 2 * projected, atol=1e-5)
    self.assertAllClose(outputs[..., 3:6], 2 * skip, atol=1e-5)
    self.assertAllClose(outputs[..., 6:9], 2 * projected + skip, atol=1e-5)

  def test_h_c_minus_1_is_always_projected_by_relu_conv_bn(self):
    layer, _ = build_cell("identity:0+identity:1", 4, 1,
                          [(1, 8, 8, 4), (1, 8, 8, 4)])
    self.assertEqual([type(l).__name__ for l in layer.prev_projection],
                     ["Activation", "Conv2D", "BatchNormalization"])
    self.assertEqual(layer.prev_projection[1].kernel_size, (1, 1))

  def test_stride_two_only_for_operators_reading_cell_inputs(self):
    layer, _ = build_cell(search_space.PNASNET_5, 6, 2,
                          [(1, 8, 8, 6), (1, 8, 8, 6)])
    for inp, op_layer in operations_by_operand(layer):
      self.assertEqual(op_layer.strides, 2 if inp < 2 else 1)
    # PNASNet-5's block 4 reads block 3: sep3x3:4 is the unstrided one.
    self.assertEqual([op.strides for _, op in operations_by_operand(layer)],
                     [2, 2, 2, 2, 2, 2, 1, 2, 2, 2])

  @parameterized.named_parameters(
      ("larger_spatial", (1, 16, 16, 5), operators.FactorizedReduction),
      ("other_channels", (1, 8, 8, 5), keras.layers.Conv2D),
      ("matching", (1, 8, 8, 4), None),
  )
  def test_skip_input_projection(self, skip_shape, expected_type):
    layer, outputs = build_cell("sep3x3:1+identity:0", 4, 1,
                                [(1, 8, 8, 9), skip_shape])
    self.assertEqual(tuple(outputs.shape), (None, 8, 8, 4))
    kinds = [type(l) for l in layer.skip_projection]
    if expected_type is None:
      self.assertEmpty(kinds)
    else:
      self.assertIn(expected_type, kinds)
      self.assertIsInstance(layer.skip_projection[0], keras.layers.Activation)

  def test_single_input_uses_it_unprocessed_as_h_c_minus_2(self):
    # The first cell after a one-output stem: identity(H(c-2)) with 5 input
    # channels and 4 filters needs a 1x1 conv of its own, and there is no
    # skip projection at all.
    layer, outputs = build_cell("identity:1+max3x3:1", 4, 1, [(1, 8, 8, 5)])
    self.assertEmpty(layer.skip_projection)
    self.assertEqual(tuple(outputs.shape), (None, 8, 8, 4))
    identity, pool = layer.block_operations
    self.assertLen(identity.chain, 3)  # ReLU, 1x1 conv, BN: 5 -> 4 channels.
    self.assertLen(pool.chain, 3)  # pool, 1x1 conv, BN.

  def test_drop_path_after_every_operator_but_identity(self):
    layer, _ = build_cell(search_space.PNASNET_5, 4, 1,
                          [(1, 8, 8, 4), (1, 8, 8, 4)], keep=0.8)
    operands = [op for b in layer.cell.blocks for op in (b.op1, b.op2)]
    self.assertEqual([d is not None for d in layer.drop_paths],
                     [op != "identity" for op in operands])
    self.assertTrue(all(d.keep_prob == 0.8 for d in layer.drop_paths if d))
    layer, _ = build_cell(search_space.PNASNET_5, 4, 1,
                          [(1, 8, 8, 4), (1, 8, 8, 4)], keep=1.0)
    self.assertTrue(all(d is None for d in layer.drop_paths))

  def test_config_round_trip(self):
    layer, _ = build_cell(search_space.PNASNET_5, 4, 2,
                          [(1, 8, 8, 4), (1, 16, 16, 6)], keep=0.9)
    config = layer.get_config()
    self.assertEqual(config["cell"], str(search_space.PNASNET_5))
    clone = cell_lib.PNASCell.from_config(config)
    clone([keras.Input((8, 8, 4)), keras.Input((16, 16, 6))])
    self.assertEqual(clone.count_params(), layer.count_params())
    self.assertEqual(clone.cell, layer.cell)

  @parameterized.named_parameters(
      ("bad_cell", "sep3x3:0+max3x3:7", 4, 1, "out of range"),
      ("bad_filters", "sep3x3:0+max3x3:1", 0, 1, "filters"),
      ("bad_strides", "sep3x3:0+max3x3:1", 4, 3, "strides"),
      ("bad_keep", "sep3x3:0+max3x3:1", 4, 1, "drop_path_keep_prob", 1.5),
  )
  def test_bad_arguments(self, cell, filters, strides, message, keep=1.0):
    with self.assertRaisesRegex(ValueError, message):
      cell_lib.PNASCell(cell, filters, strides, keep)


if __name__ == "__main__":
  tf.test.main()
