"""Tests for cell_encoding."""

from absl.testing import absltest
import numpy as np

from pnas_tf.predictor import cell_encoding
from pnas_tf.space import search_space

Cell = search_space.Cell


class EncodeTest(absltest.TestCase):

  def test_tokens_are_inputs_then_operators_shifted_past_padding(self):
    tokens = cell_encoding.encode([Cell.parse("sep5x5:1+max3x3:0")])
    # (I1, I2, O1, O2) + 1: inputs 1 and 0, sep5x5 = 1, max3x3 = 6.
    np.testing.assert_array_equal(tokens, [[[2, 1, 2, 7]]])
    self.assertEqual(tokens.dtype, np.int32)

  def test_a_block_of_zero_ids_is_not_padding(self):
    tokens = cell_encoding.encode([Cell.parse("sep3x3:0+sep3x3:0")], 2)
    np.testing.assert_array_equal(tokens, [[[1, 1, 1, 1], [0, 0, 0, 0]]])
    np.testing.assert_array_equal(cell_encoding.block_counts(tokens), [1])

  def test_pads_to_the_longest_cell(self):
    cells = [Cell.parse("sep3x3:0+max3x3:1"), Cell.parse("PNASNet-5")]
    tokens = cell_encoding.encode(cells)
    self.assertEqual(tokens.shape, (2, 5, 4))
    np.testing.assert_array_equal(cell_encoding.block_counts(tokens), [1, 5])
    np.testing.assert_array_equal(
        tokens[1] - 1, np.array(cells[1].token_ids()))

  def test_refuses_cells_longer_than_the_encoding(self):
    with self.assertRaisesRegex(ValueError, "5 blocks, more than the 3"):
      cell_encoding.encode([Cell.parse("PNASNet-5")], 3)

  def test_vocabulary_covers_every_input_of_the_largest_cell(self):
    # Block 5 may read hidden state 5 (block 4): token 6, table rows 0..6.
    cell = Cell.parse("sep3x3:0+max3x3:1,sep3x3:2+max3x3:1,sep3x3:3+max3x3:1,"
                      "sep3x3:4+max3x3:1,sep3x3:5+dil3x3:1")
    tokens = cell_encoding.encode([cell])
    self.assertEqual(tokens[:, :, :2].max() + 1,
                     cell_encoding.input_vocabulary_size(5))
    self.assertEqual(tokens[:, :, 2:].max() + 1,
                     cell_encoding.OPERATOR_VOCABULARY_SIZE)


if __name__ == "__main__":
  absltest.main()
