"""Random cells for tests (seeded by the caller)."""

import random
from typing import Sequence

from pnas_tf.space import search_space
from pnas_tf.space.search_space import Block
from pnas_tf.space.search_space import Cell


def random_cell(rng: random.Random, num_blocks: int,
                operations=search_space.OPERATIONS) -> search_space.Cell:
  """A uniformly random cell (in computation order, not canonical)."""
  return search_space.random_cell(rng, num_blocks, operations)


def symmetric_cell(rng: random.Random, num_blocks: int,
                   operations: Sequence[str] = ("sep3x3", "identity")) -> Cell:
  """A random cell rich in identical blocks and identical sub-DAGs.

  Uniform cells seldom repeat a block, yet repeats are where canonical forms
  go wrong: which of two identical blocks a later block reads matters. Each
  block here copies an earlier block, or copies it reading copies of its
  inputs, or reads one input twice, or is drawn from few operators.
  """
  blocks: list[Block] = []
  for position in range(num_blocks):
    inputs = search_space.NUM_CELL_INPUTS + position
    roll = rng.random()
    if blocks and roll < 0.3:
      block = rng.choice(blocks)
    elif blocks and roll < 0.6:
      block = rng.choice(blocks)
      block = Block(_twin_of(blocks, block.in1, rng), block.op1,
                    _twin_of(blocks, block.in2, rng), block.op2)
    elif roll < 0.75:
      inp = rng.randrange(inputs)
      block = Block(inp, rng.choice(operations), inp, rng.choice(operations))
    else:
      block = Block(rng.randrange(inputs), rng.choice(operations),
                    rng.randrange(inputs), rng.choice(operations))
    blocks.append(block)
  return Cell(tuple(blocks))


def _twin_of(blocks: Sequence[Block], inp: int, rng: random.Random) -> int:
  """A random hidden state whose block has the operands of block `inp`."""
  if inp < search_space.NUM_CELL_INPUTS:
    return inp
  operands = sorted(blocks[inp - 2].operands())
  return 2 + rng.choice([j for j, block in enumerate(blocks)
                         if sorted(block.operands()) == operands])


def graph_cell(rng: random.Random, vertices: int, edges: int,
               operations: Sequence[str] = ("sep3x3",)) -> Cell:
  """Identical blocks as a graph's vertices, blocks reading two as its edges.

  Its canonical form labels the graph canonically, the hard case (see
  search_space._LeastRenumbering); few operators make many symmetries.
  """
  vertex = Block(0, "identity", 0, "identity")
  blocks = [vertex] * vertices
  for _ in range(edges):
    blocks.append(Block(2 + rng.randrange(vertices), rng.choice(operations),
                        2 + rng.randrange(vertices), rng.choice(operations)))
  return Cell(tuple(blocks))
