"""A deterministic synthetic accuracy of a cell, for tests and benchmarks.

Training a real child takes minutes to hours; this stands in for it wherever
only the search's and the predictors' logic is under test. It is not a model
of real accuracies, but it is built to need what the real task needs of a
predictor: which operators a cell uses, which hidden states they read, and
their interactions, not only counts. Per block, the value is

  sum over its two operands of   reads[op, kind]          (kind: H(c-1),
                                                            H(c-2) or a block)
                               + 0.5 * chain[op, source]  (if it reads a block:
                                                            averaged over the
                                                            source's operators)
  + pairs[op1, op2]                                       (the two operators)

with random tables fixed by a seed. The accuracy is
0.60 + 0.35 * sigmoid(mean block value + 0.1 * (depth - 1)), plus optional
noise drawn from the cell's canonical string (so equal cells score equally).
Everything is invariant under the renumberings `Cell.canonical` removes.

Example:
  accuracy = SyntheticAccuracy(seed=0)(Cell.parse("PNASNet-5"))
"""

import hashlib
import math

import numpy as np

from pnas_tf.space import search_space

_KINDS = 3  # H(c-1), H(c-2), the output of a block


class SyntheticAccuracy:
  """cell -> accuracy in (0.60, 0.95) (+- noise), fixed by (cell, seed)."""

  def __init__(self, seed: int = 0, noise: float = 0.0):
    """Args: seed: draws the tables; noise: half-width of uniform noise."""
    rng = np.random.default_rng(seed)
    num_ops = search_space.NUM_OPERATIONS
    self._reads = rng.normal(0.0, 1.0, (num_ops, _KINDS))
    self._chain = rng.normal(0.0, 1.0, (num_ops, num_ops))
    pairs = rng.normal(0.0, 1.0, (num_ops, num_ops))
    self._pairs = (pairs + pairs.T) / 2
    self._noise = noise
    self._op_index = {op: i for i, op in enumerate(search_space.OPERATIONS)}

  def __call__(self, cell: search_space.Cell) -> float:
    values = []
    depths = []
    for block in cell.blocks:
      value = 0.0
      depth = 1
      ops = []
      for inp, op in block.operands():
        op = self._op_index[op]
        ops.append(op)
        if inp < search_space.NUM_CELL_INPUTS:
          value += self._reads[op, inp]
        else:
          source = cell.blocks[inp - search_space.NUM_CELL_INPUTS]
          value += self._reads[op, 2] + 0.5 * np.mean(
              [self._chain[op, self._op_index[s]]
               for s in (source.op1, source.op2)])
          depth = max(depth, depths[inp - search_space.NUM_CELL_INPUTS] + 1)
      value += self._pairs[ops[0], ops[1]]
      values.append(value)
      depths.append(depth)
    score = float(np.mean(values)) + 0.1 * (max(depths) - 1)
    accuracy = 0.60 + 0.35 / (1.0 + math.exp(-score))
    if self._noise:
      accuracy += self._noise * self._unit_noise(cell)
    return accuracy

  @staticmethod
  def _unit_noise(cell: search_space.Cell) -> float:
    """A number in [-1, 1) fixed by the cell (not by its block order)."""
    digest = hashlib.sha256(str(cell.canonical()).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**63 - 1.0
