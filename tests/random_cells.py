"""Random cells for tests (seeded by the caller)."""

import random

from pnas_tf import search_space


def random_cell(rng: random.Random, num_blocks: int,
                operations=search_space.OPERATIONS) -> search_space.Cell:
  """A uniformly random cell (in computation order, not canonical)."""
  blocks = []
  for position in range(num_blocks):
    limit = search_space.NUM_CELL_INPUTS + position
    blocks.append(search_space.Block(
        rng.randrange(limit), rng.choice(operations),
        rng.randrange(limit), rng.choice(operations)))
  return search_space.Cell(tuple(blocks))
