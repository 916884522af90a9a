"""Tests for pnas_tf.space.search_space: counts, string form, canonical form, errors."""

import itertools
import random
import subprocess
import sys

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from pnas_tf.space import cell_counts
from pnas_tf.space import search_space
from pnas_tf.space.search_space import Block
from pnas_tf.space.search_space import Cell
import random_cells
from random_cells import random_cell

_SEED = 1234
_OP_INDEX = {op: i for i, op in enumerate(search_space.OPERATIONS)}


def swap_operands(cell: Cell, rng: random.Random) -> Cell:
  return Cell(tuple(
      Block(b.in2, b.op2, b.in1, b.op1) if rng.random() < 0.5 else b
      for b in cell.blocks))


def random_renumbering(cell: Cell, rng: random.Random) -> Cell:
  """The same DAG with its blocks in another valid (topological) order."""
  reads = [{inp - 2 for inp, _ in b.operands() if inp >= 2}
           for b in cell.blocks]
  order, placed = [], set()
  while len(order) < cell.num_blocks:
    ready = [j for j in range(cell.num_blocks)
             if j not in placed and reads[j] <= placed]
    choice = rng.choice(ready)
    order.append(choice)
    placed.add(choice)
  new_index = {old: 2 + new for new, old in enumerate(order)}
  remap = lambda inp: inp if inp < 2 else new_index[inp - 2]
  return Cell(tuple(
      Block(remap(cell.blocks[old].in1), cell.blocks[old].op1,
            remap(cell.blocks[old].in2), cell.blocks[old].op2)
      for old in order))


def brute_force_canonical(cell: Cell) -> tuple:
  """Least encoding over every topological renumbering: slow but obviously right."""
  best = None
  for order in itertools.permutations(range(cell.num_blocks)):
    position = {old: new for new, old in enumerate(order)}
    if any(inp >= 2 and position[inp - 2] >= position[old]
           for old in order for inp, _ in cell.blocks[old].operands()):
      continue
    encoding = tuple(
        tuple(sorted(
            (inp if inp < 2 else 2 + position[inp - 2],
             search_space.OPERATIONS.index(op))
            for inp, op in cell.blocks[old].operands()))
        for old in order)
    best = encoding if best is None else min(best, encoding)
  return best


def _canonical_by_permutations(blocks) -> tuple:
  """Canonical blocks as they were first computed, trying k! orders.

  A copy of that implementation, helpers inlined, kept as the reference: run
  records are keyed by the canonical string, so canonical() must give exactly
  this.
  """
  def structure_key(block, keys):
    depth, terms = 1, []
    for inp, op in block.operands():
      if inp < 2:
        terms.append(f"{op}:{inp}")
      else:
        source_depth, source_expr = keys[inp - 2]
        depth = max(depth, source_depth + 1)
        terms.append(f"{op}:({source_expr})")
    return depth, "+".join(sorted(terms))

  def renumbered(order):
    new_index = {old: 2 + new for new, old in enumerate(order)}
    result = []
    for old in order:
      operands = sorted(
          ((inp if inp < 2 else new_index[inp - 2], op)
           for inp, op in blocks[old].operands()),
          key=lambda operand: (operand[0], _OP_INDEX[operand[1]]))
      (in1, op1), (in2, op2) = operands
      result.append(Block(in1, op1, in2, op2))
    return tuple(result)

  def encoding(candidate):
    return tuple(itertools.chain.from_iterable(
        (b.in1, _OP_INDEX[b.op1], b.in2, _OP_INDEX[b.op2]) for b in candidate))

  keys = []
  for block in blocks:
    keys.append(structure_key(block, keys))
  order = sorted(range(len(blocks)), key=keys.__getitem__)
  groups = [list(group)
            for _, group in itertools.groupby(order, keys.__getitem__)]
  if all(len(group) == 1 for group in groups):
    return renumbered(order)
  candidates = (
      renumbered(list(itertools.chain.from_iterable(choice)))
      for choice in itertools.product(
          *(itertools.permutations(group) for group in groups)))
  return min(candidates, key=encoding)


def _graph(vertices: int, edges, op: str = "sep3x3") -> Cell:
  """Identical blocks as vertices, a block reading both ends for each edge."""
  return Cell(tuple([Block(0, "identity", 0, "identity")] * vertices + [
      Block(2 + a, op, 2 + b, op) for a, b in edges]))


class CountsTest(parameterized.TestCase):

  def test_initial_cells_are_the_136_unique_one_block_cells(self):
    cells = search_space.initial_cells()
    self.assertLen(cells, 136)
    self.assertLen(set(cells), 136)
    self.assertTrue(all(c.num_blocks == 1 and c.is_canonical() for c in cells))
    every_ordered_block = {
        Cell((Block(i1, o1, i2, o2),)).canonical()
        for i1, i2 in itertools.product(range(2), repeat=2)
        for o1, o2 in itertools.product(search_space.OPERATIONS, repeat=2)}
    self.assertEqual(set(cells), every_ordered_block)

  def test_ordered_block_counts_per_position(self):
    self.assertEqual([cell_counts.ordered_block_count(b) for b in range(1, 6)],
                     [256, 576, 1024, 1600, 2304])

  def test_unordered_block_counts_per_position(self):
    self.assertEqual(
        [cell_counts.unordered_block_count(b) for b in range(1, 6)],
        [136, 300, 528, 820, 1176])

  def test_ordered_cell_count_is_the_papers_10_to_the_14(self):
    self.assertEqual(cell_counts.ordered_cell_count(5), 556627761561600)
    self.assertEqual(cell_counts.ordered_cell_count(1), 256)

  def test_unique_counts_match_enumeration(self):
    two_block_cells = set()
    for cell in search_space.initial_cells():
      two_block_cells.update(search_space.expand(cell))
    self.assertEqual(cell_counts.unique_cell_count(1), 136)
    self.assertEqual(cell_counts.unique_cell_count(2), len(two_block_cells))
    # Block 2 reads block 1 (136 * 164 ways) or not (a multiset of 2 of 136).
    self.assertLen(two_block_cells, 136 * 164 + 136 * 137 // 2)

  def test_unique_counts_are_below_swap_only_counts_and_near_papers(self):
    for b in range(2, 6):
      self.assertLess(cell_counts.unique_cell_count(b),
                      cell_counts.unordered_cell_count(b))
    # The paper quotes "about 10^12" cells of 5 blocks after symmetries.
    self.assertBetween(cell_counts.unique_cell_count(5), 1e12, 1e13)

  @parameterized.parameters(0, -1)
  def test_counts_reject_bad_positions(self, b):
    with self.assertRaisesRegex(ValueError, "must be >= 1"):
      cell_counts.ordered_block_count(b)
    with self.assertRaisesRegex(ValueError, "must be >= 1"):
      cell_counts.unique_cell_count(b)


class ExpandTest(parameterized.TestCase):

  @parameterized.parameters(1, 2, 3, 4)
  def test_expand_gives_every_unique_one_block_extension(self, num_blocks):
    rng = random.Random(_SEED + num_blocks)
    cell = random_cell(rng, num_blocks)
    expanded = search_space.expand(cell)
    position = num_blocks + 1
    expected = {
        Cell(cell.blocks + (Block(i1, o1, i2, o2),)).canonical()
        for i1, i2 in itertools.product(range(position + 1), repeat=2)
        for o1, o2 in itertools.product(search_space.OPERATIONS, repeat=2)}
    self.assertLen(expanded, len(set(expanded)))
    self.assertEqual(set(expanded), expected)
    self.assertLessEqual(len(expanded),
                         cell_counts.unordered_block_count(position))
    self.assertTrue(all(c.is_canonical() for c in expanded))

  def test_expand_of_canonical_cells_takes_the_fast_path_exactly(self):
    # Canonical parents with distinct blocks place the new block by bisection
    # instead of re-canonicalizing; it must give the same cells, with the
    # same equality and hashing as checked construction.
    rng = random.Random(_SEED)
    parents = [random_cell(rng, n).canonical() for n in (1, 2, 3, 4) * 3]
    parents.append(Cell.parse("sep3x3:0+sep3x3:0,sep3x3:0+sep3x3:0"))
    for parent in parents:
      position = parent.num_blocks + 1
      expected = {
          Cell(parent.blocks + (Block(i1, o1, i2, o2),)).canonical()
          for i1, i2 in itertools.product(range(position + 1), repeat=2)
          for o1, o2 in itertools.product(search_space.OPERATIONS, repeat=2)}
      expanded = search_space.expand(parent)
      self.assertLen(expanded, len(expected))
      self.assertEqual(set(expanded), expected)
      self.assertEqual([Cell.parse(str(c)) for c in expanded], expanded)

  def test_expand_all_merges_children_reached_from_several_parents(self):
    parents = search_space.initial_cells()[:5]
    children = search_space.expand_all(parents)
    expected = set().union(*(search_space.expand(p) for p in parents))
    self.assertLen(children, len(expected))
    self.assertEqual(set(children), expected)
    self.assertEqual(children[:len(search_space.expand(parents[0]))],
                     search_space.expand(parents[0]))

  def test_a_subset_of_operators_gives_a_smaller_space(self):
    operations = ("max3x3", "sep3x3")
    cells = search_space.initial_cells(operations)
    self.assertLen(cells, 10)  # operands: 2 inputs x 2 operators; 4 * 5 / 2
    children = search_space.expand_all(cells, operations)
    used = {op for cell in children for block in cell.blocks
            for op in (block.op1, block.op2)}
    self.assertEqual(used, set(operations))
    self.assertLessEqual(set(children), set(search_space.expand_all(cells)))
    with self.assertRaisesRegex(ValueError, "unknown operator 'sep4x4'"):
      search_space.initial_cells(("sep3x3", "sep4x4"))
    with self.assertRaisesRegex(ValueError, "repeat an operator"):
      search_space.initial_cells(("sep3x3", "sep3x3"))
    with self.assertRaisesRegex(ValueError, "at least one operator"):
      search_space.initial_cells(())

  def test_expand_of_equivalent_cells_is_equal(self):
    rng = random.Random(_SEED)
    cell = random_cell(rng, 3)
    twin = random_renumbering(swap_operands(cell, rng), rng)
    self.assertEqual(set(search_space.expand(cell)),
                     set(search_space.expand(twin)))


class StringFormTest(parameterized.TestCase):

  def test_round_trip_over_random_cells(self):
    rng = random.Random(_SEED)
    for _ in range(500):
      cell = random_cell(rng, rng.randint(1, 6))
      self.assertEqual(Cell.parse(str(cell)), cell)
      self.assertEqual(Cell.parse(str(cell.canonical())), cell.canonical())

  def test_string_needs_no_shell_quoting(self):
    text = str(search_space.PNASNET_5)
    self.assertRegex(text, r"^[a-z0-9_:+,]+$")

  def test_parse_tolerates_spaces(self):
    self.assertEqual(Cell.parse(" sep3x3 : 0 + max3x3:1 , identity:2+avg3x3:0 "),
                     Cell.parse("sep3x3:0+max3x3:1,identity:2+avg3x3:0"))

  @parameterized.named_parameters(
      ("unknown_operator", "sep3x3:0+sep4x4:1", "'sep4x4'"),
      ("out_of_range_input", "sep3x3:0+max3x3:2", "input 2 out of range"),
      ("out_of_range_later_block", "sep3x3:0+max3x3:1,identity:4+avg3x3:0",
       "input 4 out of range in block 2"),
      ("one_operand", "sep3x3:0", "block 1 .* 1 operand"),
      ("three_operands", "sep3x3:0+max3x3:1+identity:0", "3 operand"),
      ("missing_input", "sep3x3+max3x3:1", "operand 'sep3x3'"),
      ("non_integer_input", "sep3x3:x+max3x3:1", "input 'x'"),
      ("negative_input", "sep3x3:-1+max3x3:1", "input '-1'"),
      ("non_ascii_digit", "sep3x3:\u00b2+max3x3:1", "not a non-negative integer"),
      ("empty", "  ", "empty cell"),
      ("empty_block", "sep3x3:0+max3x3:1,", "block 2 .* 1 operand"),
  )
  def test_bad_strings_name_the_wrong_token(self, text, message):
    with self.assertRaisesRegex(ValueError, message):
      Cell.parse(text)

  def test_numpy_integers_are_accepted_as_inputs(self):
    cell = Cell((Block(np.int64(0), "sep3x3", np.int32(1), "identity"),))
    self.assertEqual(cell, Cell.parse("sep3x3:0+identity:1"))
    self.assertIs(type(cell.blocks[0].in1), int)

  def test_constructor_validates_too(self):
    with self.assertRaisesRegex(ValueError, "at least one block"):
      Cell(())
    with self.assertRaisesRegex(ValueError, "unknown operator 'conv9'"):
      Cell((Block(0, "conv9", 1, "identity"),))
    with self.assertRaisesRegex(ValueError, "block 2 may read hidden states 0..2"):
      Cell((Block(0, "identity", 1, "identity"), Block(3, "identity", 0, "sep3x3")))

  def test_named_cells(self):
    self.assertIs(Cell.parse("PNASNet-5"), search_space.PNASNET_5)
    self.assertIs(Cell.parse("pnasnet5"), search_space.PNASNET_5)


class CanonicalFormTest(parameterized.TestCase):

  def test_canonical_is_idempotent_and_keeps_block_count(self):
    rng = random.Random(_SEED)
    for _ in range(300):
      cell = random_cell(rng, rng.randint(1, 5))
      canonical = cell.canonical()
      self.assertEqual(canonical.num_blocks, cell.num_blocks)
      self.assertEqual(canonical.canonical(), canonical)

  def test_operand_swaps_and_renumberings_give_one_cell(self):
    rng = random.Random(_SEED)
    for _ in range(300):
      cell = random_cell(rng, rng.randint(1, 5))
      twin = random_renumbering(swap_operands(cell, rng), rng)
      self.assertEqual(twin.canonical(), cell.canonical(), msg=f"{cell} {twin}")

  def test_agrees_with_brute_force_over_all_renumberings(self):
    # Few operators make many collisions, duplicate blocks included.
    rng = random.Random(_SEED)
    cells = [random_cell(rng, rng.randint(2, 4), ("sep3x3", "identity"))
             for _ in range(300)]
    cells += [random_renumbering(swap_operands(c, rng), rng) for c in cells]
    by_fast, by_brute = {}, {}
    for cell in cells:
      by_fast.setdefault(cell.canonical(), set()).add(cell)
      by_brute.setdefault(brute_force_canonical(cell), set()).add(cell)
    self.assertGreater(len(cells) - len(by_fast), 300)  # Many collisions.
    self.assertCountEqual(
        [frozenset(group) for group in by_fast.values()],
        [frozenset(group) for group in by_brute.values()])

  def test_duplicate_blocks_read_differently_stay_distinct(self):
    # Two identical blocks; block 3 reads the first twice, or each once.
    reads_one_twice = Cell.parse("sep3x3:0+sep3x3:0,sep3x3:0+sep3x3:0,"
                                 "max3x3:2+avg3x3:2")
    reads_both = Cell.parse("sep3x3:0+sep3x3:0,sep3x3:0+sep3x3:0,"
                            "max3x3:2+avg3x3:3")
    self.assertNotEqual(reads_one_twice.canonical(), reads_both.canonical())
    # Reading the second copy instead of the first is the same cell.
    self.assertEqual(
        Cell.parse("sep3x3:0+sep3x3:0,sep3x3:0+sep3x3:0,max3x3:3+avg3x3:3")
        .canonical(), reads_one_twice.canonical())

  def test_different_operators_stay_distinct(self):
    self.assertNotEqual(Cell.parse("sep3x3:0+max3x3:1").canonical(),
                        Cell.parse("sep3x3:1+max3x3:0").canonical())


class CanonicalSearchTest(parameterized.TestCase):
  """canonical() gives exactly the form of trying every order, fast."""

  def assert_matches_reference(self, cell: Cell) -> None:
    self.assertEqual(cell.canonical().blocks,
                     _canonical_by_permutations(cell.blocks), msg=str(cell))

  def test_equals_reference_on_every_one_operator_cell_of_up_to_4_blocks(self):
    count = 0
    for num_blocks in range(1, 5):
      for blocks in itertools.product(*(
          [Block(i1, "sep3x3", i2, "sep3x3")
           for i1, i2 in itertools.product(range(2 + position), repeat=2)]
          for position in range(num_blocks))):
        self.assert_matches_reference(Cell(blocks))
        count += 1
    self.assertEqual(count, 4 + 4 * 9 + 4 * 9 * 16 + 4 * 9 * 16 * 25)

  @parameterized.parameters(
      (("sep3x3",),), (("sep3x3", "identity"),),
      (("max3x3", "sep3x3", "avg3x3"),), (search_space.OPERATIONS,))
  def test_equals_reference_on_random_cells(self, operations):
    rng = random.Random(_SEED)
    for _ in range(1000):
      num_blocks = rng.randint(1, 5)
      self.assert_matches_reference(random_cell(rng, num_blocks, operations))
      self.assert_matches_reference(
          random_cells.symmetric_cell(rng, num_blocks, operations))

  def test_equals_reference_on_random_graphs(self):
    # Identical blocks read in different ways: every tie is a real choice.
    rng = random.Random(_SEED)
    for _ in range(500):
      vertices = rng.randint(2, 5)
      self.assert_matches_reference(random_cells.graph_cell(
          rng, vertices, rng.randint(1, 7 - vertices), ("sep3x3", "max3x3")))

  @parameterized.named_parameters(
      # Identical blocks 2 and 3 read with different operators: the least
      # form gives the earlier index to the one the earlier reader reads.
      ("readers_differ", "identity:0+identity:0,identity:0+identity:0,"
       "max3x3:3+max3x3:3,avg3x3:2+avg3x3:2"),
      ("one_reader_reads_two_twins", "sep3x3:0+sep3x3:0,sep3x3:0+sep3x3:0,"
       "sep3x3:0+sep3x3:0,max3x3:4+sep3x3:3,sep3x3:2+max3x3:3"),
      ("twins_of_twins", "sep3x3:0+sep3x3:0,sep3x3:0+sep3x3:0,"
       "sep3x3:3+sep3x3:3,sep3x3:2+sep3x3:2,max3x3:4+sep3x3:2,"
       "max3x3:5+max3x3:5"),
      ("pendants", str(_graph(4, [(i, i) for i in range(4)]))),
      ("square", str(_graph(4, [(0, 1), (1, 2), (2, 3), (3, 0)]))),
      ("k4", str(_graph(4, itertools.combinations(range(4), 2)))),
      ("path_and_loop", str(_graph(4, [(0, 1), (1, 2), (3, 3)], "max3x3"))),
  )
  def test_equals_reference_on_symmetric_cells(self, text):
    cell = Cell.parse(text)
    self.assert_matches_reference(cell)  # Trying orders is slow here: once.
    rng = random.Random(_SEED)
    for _ in range(50):
      twin = random_renumbering(swap_operands(cell, rng), rng)
      self.assertEqual(twin.canonical(), cell.canonical(), msg=str(twin))

  def test_which_identical_block_is_read_first_is_chosen_by_least_form(self):
    # Blocks 2 and 3 are identical; a search that placed them in either order
    # would give two strings. avg3x3 sorts first, so its reader comes first
    # and reads the earlier copy.
    canonical = ("identity:0+identity:0,identity:0+identity:0,"
                 "avg3x3:2+avg3x3:2,max3x3:3+max3x3:3")
    for text in (canonical, "identity:0+identity:0,identity:0+identity:0,"
                 "max3x3:2+max3x3:2,avg3x3:3+avg3x3:3"):
      self.assertEqual(str(Cell.parse(text).canonical()), canonical)

  def test_properties_on_cells_up_to_the_bound(self):
    rng = random.Random(_SEED)
    for _ in range(300):
      num_blocks = rng.randint(1, search_space.MAX_BLOCKS)
      cell = random_cells.symmetric_cell(rng, num_blocks)
      canonical = cell.canonical()
      self.assertEqual(canonical.canonical(), canonical)
      self.assertEqual(canonical.num_blocks, num_blocks)
      twin = random_renumbering(swap_operands(cell, rng), rng)
      self.assertEqual(twin.canonical(), canonical, msg=f"{cell} {twin}")

  def test_largest_cells_complete(self):
    most = search_space.MAX_BLOCKS
    identical = Cell.parse(",".join(["sep3x3:0+max3x3:1"] * most))
    self.assertEqual(identical.canonical(), identical)
    # The most symmetric case known: each identical block read by its own.
    pendants = _graph(most // 2, [(i, i) for i in range(most // 2)])
    rng = random.Random(_SEED)
    self.assertEqual(
        random_renumbering(pendants, rng).canonical(), pendants.canonical())
    # Past the bound too, which Cell itself would refuse.
    blocks = (Block(0, "sep3x3", 1, "max3x3"),) * 600
    self.assertEqual(search_space._canonical_blocks(blocks), blocks)


class BoundTest(absltest.TestCase):

  def test_cells_have_at_most_max_blocks(self):
    most = search_space.MAX_BLOCKS
    self.assertBetween(most, 5, 12)  # The paper's B = 5, bounded for speed.
    largest = ",".join(["sep3x3:0+max3x3:1"] * most)
    self.assertEqual(Cell.parse(largest).num_blocks, most)
    message = f"^a cell has at most MAX_BLOCKS = {most} blocks, got {most + 1}$"
    with self.assertRaisesRegex(ValueError, message):
      Cell.parse(largest + ",sep3x3:0+max3x3:1")
    with self.assertRaisesRegex(ValueError, message):
      Cell(Cell.parse(largest).blocks + (Block(0, "sep3x3", 1, "max3x3"),))
    with self.assertRaisesRegex(ValueError, "at most MAX_BLOCKS"):
      search_space.expand(Cell.parse(largest))
    with self.assertRaisesRegex(ValueError, "at most MAX_BLOCKS"):
      random_cell(random.Random(_SEED), most + 1)

  def test_a_huge_string_fails_fast(self):
    with self.assertRaisesRegex(ValueError, "got 600$"):
      Cell.parse(",".join(["sep3x3:0+max3x3:1"] * 600))


class ValuesTest(absltest.TestCase):

  def test_pnasnet5_is_the_official_cell(self):
    cell = search_space.PNASNET_5
    operations = [op for b in cell.blocks for op in (b.op1, b.op2)]
    indices = [inp for b in cell.blocks for inp in (b.in1, b.in2)]
    self.assertEqual(operations, [
        "sep5x5", "max3x3", "sep7x7", "max3x3", "sep5x5", "sep3x3", "sep3x3",
        "max3x3", "sep3x3", "identity"])
    self.assertEqual(indices, [1, 1, 0, 0, 0, 0, 4, 0, 1, 0])

  def test_cells_and_blocks_are_immutable_and_hashable(self):
    cell = search_space.PNASNET_5
    self.assertEqual(hash(cell), hash(Cell.parse(str(cell))))
    self.assertLen({cell, Cell.parse(str(cell)), cell.canonical()}, 2)
    with self.assertRaises(AttributeError):
      cell.blocks = ()  # pytype: disable=not-writable
    with self.assertRaises(AttributeError):
      cell.blocks[0].in1 = 3  # pytype: disable=not-writable

  def test_eight_operators(self):
    self.assertLen(search_space.OPERATIONS, 8)
    self.assertLen(set(search_space.OPERATIONS), 8)

  def test_token_ids(self):
    cell = Cell.parse("sep3x3:0+dil3x3:1,identity:2+sep5x5:0")
    self.assertEqual(cell.token_ids(), [(0, 1, 0, 7), (2, 0, 4, 1)])

  def test_module_does_not_import_tensorflow(self):
    code = ("import sys, pnas_tf.space.search_space, pnas_tf.space.cell_counts, "
            "pnas_tf.config.network_config; "
            "sys.exit(int(any(m in sys.modules for m in "
            "('tensorflow', 'keras', 'numpy'))))")
    self.assertEqual(subprocess.run([sys.executable, "-c", code]).returncode, 0)


if __name__ == "__main__":
  absltest.main()
