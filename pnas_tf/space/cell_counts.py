"""How many cells the PNAS search space holds, counted exactly.

Blocks at position b, cells of b blocks with and without operand order, and
unique cells (both symmetries of search_space.Cell.canonical removed),
counted without enumeration by Burnside's lemma over block renumberings with
Robinson's counting of labelled DAGs.

Example:
  unique_cell_count(5)  # 3,147,356,952,080
"""

import fractions
import functools
import itertools
import math
from typing import Iterable

from pnas_tf.space.search_space import NUM_CELL_INPUTS
from pnas_tf.space.search_space import NUM_OPERATIONS


def ordered_block_count(b: int) -> int:
  """Blocks at position b (1-based) counting operand order: (b+1)^2 * 8^2."""
  _check_position(b)
  return (b + 1) ** 2 * NUM_OPERATIONS ** 2


def unordered_block_count(b: int) -> int:
  """Blocks at position b with the two operands unordered: n(n+1)/2."""
  _check_position(b)
  operands = (b + 1) * NUM_OPERATIONS
  return operands * (operands + 1) // 2


def ordered_cell_count(num_blocks: int) -> int:
  """Cells of `num_blocks` blocks, no symmetry removed (the paper's 10^14)."""
  return math.prod(ordered_block_count(b) for b in range(1, num_blocks + 1))


def unordered_cell_count(num_blocks: int) -> int:
  """Cells with operand order removed, block numbering not (an upper bound)."""
  return math.prod(unordered_block_count(b) for b in range(1, num_blocks + 1))


def unique_cell_count(num_blocks: int) -> int:
  """Cells of `num_blocks` blocks up to the symmetries Cell.canonical removes.

  Counted exactly, without enumerating, by Burnside's lemma: the unique cells
  are the orbits of block-labelled cells (any acyclic reading pattern, operand
  pairs unordered) under relabelling of the blocks. For each cycle type of a
  relabelling, the cells it fixes are counted as acyclic graphs over its cycles
  (Robinson's inclusion-exclusion over the set of blocks nobody reads).

  Args:
    num_blocks: B >= 1.

  Returns:
    The number of distinct canonical cells; 136 for B = 1, 31620 for B = 2.
  """
  _check_position(num_blocks)
  total = fractions.Fraction(0)
  for cycle_lengths in _partitions(num_blocks):
    permutations_of_type = fractions.Fraction(
        math.factorial(num_blocks),
        math.prod(length ** cycle_lengths.count(length)
                  * math.factorial(cycle_lengths.count(length))
                  for length in set(cycle_lengths)))
    total += permutations_of_type * _fixed_cells(cycle_lengths)
  total /= math.factorial(num_blocks)
  assert total.denominator == 1
  return int(total)


def _partitions(n: int,
                largest: int | None = None) -> Iterable[tuple[int, ...]]:
  largest = n if largest is None else largest
  if n == 0:
    yield ()
    return
  for first in range(min(n, largest), 0, -1):
    for rest in _partitions(n - first, first):
      yield (first,) + rest


def _fixed_cells(cycle_lengths: tuple[int, ...]) -> int:
  """Labelled cells fixed by one relabelling whose cycles have these lengths."""
  cycles = range(len(cycle_lengths))

  def operand_pairs(cycle: int, readable: frozenset[int]) -> int:
    # A block of a cycle of length L may read blocks of other cycles only; its
    # operand pair must be unchanged by the relabelling applied L times. Either
    # both operands are fixed by it (cell inputs, or blocks of a cycle whose
    # length divides L), or it swaps them (the same operator on two blocks of a
    # cycle on which the L-fold relabelling has order 2).
    length = cycle_lengths[cycle]
    fixed = NUM_CELL_INPUTS * NUM_OPERATIONS
    swapped = 0
    for other in readable:
      other_length = cycle_lengths[other]
      if length % other_length == 0:
        fixed += other_length * NUM_OPERATIONS
      elif other_length // math.gcd(other_length, length) == 2:
        swapped += other_length // 2 * NUM_OPERATIONS
    return fixed * (fixed + 1) // 2 + swapped

  @functools.lru_cache(maxsize=None)
  def acyclic(nodes: frozenset[int]) -> int:
    if not nodes:
      return 1
    count = 0
    for size in range(1, len(nodes) + 1):
      for unread in itertools.combinations(sorted(nodes), size):
        rest = nodes.difference(unread)
        ways = math.prod(operand_pairs(cycle, rest) for cycle in unread)
        count += (-1) ** (size + 1) * ways * acyclic(rest)
    return count

  return acyclic(frozenset(cycles))


def _check_position(b: int) -> None:
  if b < 1:
    raise ValueError(f"block position must be >= 1, got {b}")


# The published cell, in the official code's order (docs/paper_notes.md).
