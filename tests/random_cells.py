"""Random cells for tests (seeded by the caller)."""

import random

from pnas_tf.space import search_space


def random_cell(rng: random.Random, num_blocks: int,
                operations=search_space.OPERATIONS) -> search_space.Cell:
  """A uniformly random cell (in computation order, not canonical)."""
  return search_space.random_cell(rng, num_blocks, operations)
