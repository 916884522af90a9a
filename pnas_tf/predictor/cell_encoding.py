"""Cells as the token arrays the predictors read (NumPy, no TensorFlow).

The paper feeds its predictor a cell as 4b tokens, (I1, I2, O1, O2) per block:
the two hidden-state inputs, then the two operators. Input tokens and operator
tokens come from two vocabularies (and two embedding tables). Here a batch of
cells is one int32 array of shape (cells, blocks, 4) holding, per block,
(I1, I2, O1, O2) shifted up by one, so that 0 can pad cells shorter than the
longest in the batch.

A cell is encoded in the block order it is given: pass canonical cells (as
`search_space.expand` and `initial_cells` return them) so that one cell always
reads as one sequence.

Example:
  tokens = encode([Cell.parse("sep3x3:0+max3x3:1")])
  # tokens == [[[1, 2, 1, 7]]]
"""

from typing import Sequence

import numpy as np

from pnas_tf.space import search_space

PADDING = 0
TOKENS_PER_BLOCK = 4
# Column slices of a block's tokens: its two inputs, then its two operators.
INPUT_COLUMNS = slice(0, 2)
OPERATOR_COLUMNS = slice(2, 4)
OPERATOR_VOCABULARY_SIZE = search_space.NUM_OPERATIONS + 1


def input_vocabulary_size(max_blocks: int) -> int:
  """Rows of the input-token table for cells of up to `max_blocks` blocks.

  Block b reads hidden states 0..b (H(c-1), H(c-2), blocks 1..b-1), so inputs
  range over 0..max_blocks; one more row is the padding token.
  """
  return max_blocks + 2


def encode(cells: Sequence[search_space.Cell],
           num_blocks: int | None = None) -> np.ndarray:
  """Token array of `cells`, padded to `num_blocks` (default: the longest).

  Args:
    cells: the cells, each encoded in the block order it has.
    num_blocks: length to pad to; at least the longest cell.

  Returns:
    int32 array (len(cells), num_blocks, 4): per block (I1, I2, O1, O2) + 1,
    zeros past a cell's last block.

  Raises:
    ValueError: if a cell has more than `num_blocks` blocks.
  """
  longest = max((cell.num_blocks for cell in cells), default=0)
  if num_blocks is None:
    num_blocks = longest
  if longest > num_blocks:
    raise ValueError(f"a cell has {longest} blocks, more than the "
                     f"{num_blocks} this encoding holds")
  tokens = np.full((len(cells), num_blocks, TOKENS_PER_BLOCK), PADDING - 1,
                   np.int32)
  for row, cell in enumerate(cells):
    tokens[row, :cell.num_blocks] = cell.token_ids()
  return tokens + 1


def block_counts(tokens: np.ndarray) -> np.ndarray:
  """Blocks per encoded cell (the rows whose tokens are not padding)."""
  return (tokens[:, :, 0] != PADDING).sum(axis=1)
