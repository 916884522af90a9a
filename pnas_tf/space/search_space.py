"""The PNAS cell search space as pure data (no TensorFlow).

A cell is a sequence of blocks. A block reads two hidden states, applies one
operator to each and adds the results. Hidden-state indices follow the official
PNASNet-5 code: 0 = H(c-1), 1 = H(c-2), 2 + i = the output of block i + 1.
A block may read the two cell inputs and any earlier block of its cell.

String form (usable on a command line without quoting): blocks joined by ",",
each block "op:input+op:input". The published PNASNet-5 cell reads

    sep5x5:1+max3x3:1,sep7x7:0+max3x3:0,sep5x5:0+sep3x3:0,sep3x3:4+max3x3:0,
    sep3x3:1+identity:0

Canonical form. Two cells that build the same family of networks (same
parameter count, same function class, same initial-weight distribution) are one
cell. `Cell.canonical` removes two symmetries, both exactly:
  1. operand order inside a block (addition commutes);
  2. the numbering of blocks: any renumbering that keeps the DAG (every block
     still after the blocks it reads). The cell output concatenates all block
     outputs; a renumbering only permutes those channels, and everything that
     reads a cell output (1x1 convs, factorized reduction, per-channel ops, the
     head) absorbs a channel permutation into its own weights.
It does not merge cells whose operators differ but happen to compute related
functions. The canonical cell orders blocks by (depth in the DAG, structure),
orders structurally identical blocks so that the whole encoding is least
(found by a search, not by trying every order: see _LeastRenumbering), and
sorts the operands of every block by (input, operator).

A cell has at most MAX_BLOCKS blocks.
"""

import bisect
import dataclasses
import itertools
import operator
from typing import Iterable, NamedTuple, Sequence

# The paper's 8 operators under their stable short names. The order is part of
# the interface: predictors use the position as the operator's token id.
OPERATIONS = (
    "sep3x3",
    "sep5x5",
    "sep7x7",
    "conv1x7_7x1",
    "identity",
    "avg3x3",
    "max3x3",
    "dil3x3",
)
NUM_OPERATIONS = len(OPERATIONS)
_OP_INDEX = {name: index for index, name in enumerate(OPERATIONS)}

# Hidden states every cell reads: 0 = H(c-1), 1 = H(c-2).
NUM_CELL_INPUTS = 2

# The most blocks a cell may have. The paper searches B = 5; 12 leaves research
# room for more than twice that while bounding the worst case of canonical():
# the most symmetric 12-block cell known (6 identical blocks, each read alike
# by a block of its own) takes 720 tied orders, about 20 ms, and that grows
# factorially (16 such blocks take seconds). Structure keys, which unfold the
# DAG as a tree, also grow as 2**blocks.
MAX_BLOCKS = 12


class Block(NamedTuple):
  """One block: op1(hidden state in1) + op2(hidden state in2)."""
  in1: int
  op1: str
  in2: int
  op2: str

  def operands(self) -> tuple[tuple[int, str], tuple[int, str]]:
    return ((self.in1, self.op1), (self.in2, self.op2))

  def __str__(self) -> str:
    return f"{self.op1}:{self.in1}+{self.op2}:{self.in2}"


def check_operation(name: str, where: str = "") -> None:
  """Raises ValueError unless `name` is one of OPERATIONS."""
  if name not in _OP_INDEX:
    raise ValueError(f"unknown operator {name!r}{where}; known operators: "
                     f"{', '.join(OPERATIONS)}")


def _check_num_blocks(num_blocks: int) -> None:
  """Raises ValueError unless a cell may have `num_blocks` blocks."""
  if num_blocks > MAX_BLOCKS:
    raise ValueError(f"a cell has at most MAX_BLOCKS = {MAX_BLOCKS} blocks, "
                     f"got {num_blocks}")


def _is_index(value) -> bool:
  try:
    operator.index(value)
  except TypeError:
    return False
  return not isinstance(value, bool)


def _check_block(block: Block, position: int) -> None:
  """Raises ValueError unless `block` is valid as block `position` (0-based)."""
  limit = NUM_CELL_INPUTS + position
  for inp, op in block.operands():
    if op not in _OP_INDEX:
      check_operation(op, f" in block {position + 1} ({block})")
    if not _is_index(inp) or not 0 <= inp < limit:
      raise ValueError(
          f"input {inp!r} out of range in block {position + 1} ({block}): "
          f"block {position + 1} may read hidden states 0..{limit - 1}")


def _parse_operand(text: str, position: int) -> tuple[int, str]:
  parts = text.split(":")
  if len(parts) != 2:
    raise ValueError(
        f"operand {text!r} in block {position + 1} must be 'operator:input', "
        "e.g. 'sep3x3:0'")
  op, inp = parts[0].strip(), parts[1].strip()
  if not (inp.isascii() and inp.isdigit()):
    raise ValueError(
        f"input {inp!r} of operand {text!r} in block {position + 1} "
        "is not a non-negative integer")
  return int(inp), op


@dataclasses.dataclass(frozen=True)
class Cell:
  """An immutable, hashable cell: a tuple of blocks in computation order."""
  blocks: tuple[Block, ...]

  def __post_init__(self):
    blocks = tuple(Block(*block) for block in self.blocks)
    if not blocks:
      raise ValueError("a cell needs at least one block")
    _check_num_blocks(len(blocks))
    for position, block in enumerate(blocks):
      _check_block(block, position)
    # Plain ints, so that equal cells hash alike whatever ints built them.
    object.__setattr__(self, "blocks", tuple(
        Block(operator.index(b.in1), b.op1, operator.index(b.in2), b.op2)
        for b in blocks))

  @classmethod
  def _of_valid_blocks(cls, blocks: tuple[Block, ...]) -> "Cell":
    """A cell of blocks this module built and knows valid, unchecked (fast)."""
    cell = object.__new__(cls)
    object.__setattr__(cell, "blocks", blocks)
    return cell

  @property
  def num_blocks(self) -> int:
    return len(self.blocks)

  def __str__(self) -> str:
    return ",".join(str(block) for block in self.blocks)

  @classmethod
  def parse(cls, text: str) -> "Cell":
    """Parses the string form, or a named cell such as "PNASNet-5".

    Args:
      text: e.g. "sep3x3:0+max3x3:1,identity:2+sep5x5:0".

    Returns:
      The cell, in the block order written (not canonicalized).

    Raises:
      ValueError: naming the malformed token, the unknown operator, the
        out-of-range input, or MAX_BLOCKS if there are more blocks.
    """
    named = NAMED_CELLS.get(text.strip().lower())
    if named is not None:
      return named
    if not text.strip():
      raise ValueError("empty cell string")
    block_texts = text.split(",")
    _check_num_blocks(len(block_texts))  # Before parsing a huge string.
    blocks = []
    for position, block_text in enumerate(block_texts):
      operands = block_text.split("+")
      if len(operands) != 2:
        raise ValueError(
            f"block {position + 1} ({block_text.strip()!r}) has "
            f"{len(operands)} operand(s); a block is 'op:input+op:input'")
      (in1, op1), (in2, op2) = (
          _parse_operand(operand, position) for operand in operands)
      block = Block(in1, op1, in2, op2)
      _check_block(block, position)
      blocks.append(block)
    return cls(tuple(blocks))

  def canonical(self) -> "Cell":
    """Returns the canonical representative of this cell (see module doc)."""
    return Cell(_canonical_blocks(self.blocks))

  def is_canonical(self) -> bool:
    return self.canonical() == self

  def token_ids(self) -> list[tuple[int, int, int, int]]:
    """(in1, in2, op1 id, op2 id) per block: the paper's predictor tokens."""
    return [(b.in1, b.in2, _OP_INDEX[b.op1], _OP_INDEX[b.op2])
            for b in self.blocks]


def _structure_key(block: Block,
                   keys: Sequence[tuple[int, str]]) -> tuple[int, str]:
  """(depth, structural expression) of `block` after blocks with `keys`.

  Renumbering the blocks changes neither.
  """
  depth = 1
  terms = []
  for inp, op in block.operands():
    if inp < NUM_CELL_INPUTS:
      terms.append(f"{op}:{inp}")
    else:
      source_depth, source_expr = keys[inp - NUM_CELL_INPUTS]
      depth = max(depth, source_depth + 1)
      terms.append(f"{op}:({source_expr})")
  return depth, "+".join(sorted(terms))


def _structure_keys(blocks: Sequence[Block]) -> list[tuple[int, str]]:
  """(depth, structural expression) per block."""
  keys: list[tuple[int, str]] = []
  for block in blocks:
    keys.append(_structure_key(block, keys))
  return keys


def _renumbered(blocks: Sequence[Block],
                order: Sequence[int]) -> tuple[Block, ...]:
  """The blocks taken in `order`, references and operand order rewritten."""
  new_index = {old: NUM_CELL_INPUTS + new for new, old in enumerate(order)}
  result = []
  for old in order:
    operands = [
        (inp if inp < NUM_CELL_INPUTS else new_index[inp - NUM_CELL_INPUTS], op)
        for inp, op in blocks[old].operands()]
    operands.sort(key=lambda operand: (operand[0], _OP_INDEX[operand[1]]))
    (in1, op1), (in2, op2) = operands
    result.append(Block(in1, op1, in2, op2))
  return tuple(result)


def _inserted(blocks: tuple[Block, ...], block: Block,
              place: int) -> tuple[Block, ...]:
  """`blocks` with `block` moved to `place`: _renumbered for that one order.

  `block` reads only blocks before `place`; the blocks after it read indices
  shifted by one, which keeps their operands sorted.
  """
  if (block.in1, _OP_INDEX[block.op1]) > (block.in2, _OP_INDEX[block.op2]):
    block = Block(block.in2, block.op2, block.in1, block.op1)
  first_moved = NUM_CELL_INPUTS + place
  tail = tuple(
      Block(b.in1 + (b.in1 >= first_moved), b.op1,
            b.in2 + (b.in2 >= first_moved), b.op2) for b in blocks[place:])
  return blocks[:place] + (block,) + tail


def _canonical_blocks(blocks: Sequence[Block]) -> tuple[Block, ...]:
  """The canonical renumbering of `blocks`; unlike Cell, any number of them."""
  return _LeastRenumbering(blocks).run()


# An encoded block: its two (hidden-state index, operator id) pairs, sorted.
_Encoded = tuple[tuple[int, int], tuple[int, int]]


class _LeastRenumbering:
  """The least encoding among the renumberings sorted by structure key.

  The canonical form is, as it always was (run records are keyed by it), the
  renumbering that lists blocks by structure key and, among blocks of equal
  keys, in whichever order gives the least encoding. Trying those orders costs
  k! for k equal blocks; this search fills positions left to right instead.
  A block's encoding depends only on where its inputs went, and they all went
  earlier (a smaller depth is a smaller key), so the least encoding must put
  at each position a block whose encoding there is least: only blocks tying
  there need trying. Blocks with the same operands ("twins") always tie and
  differ only in who reads them later, so a twin is placed as an anonymous
  slot; the first block that reads one takes the earliest free slot of its
  twins (a later slot would make that block's encoding strictly larger), the
  only choice left being which of two twins it reads goes first when both
  read alike. A branch remains for each real tie, such as blocks reading
  different twins alike, and branch-and-bound against the best encoding so
  far prunes a branch as soon as it is worse.

  No method is polynomial and exact for every cell unless graphs can be
  canonically labelled in polynomial time (an open problem): a graph's
  vertices as identical blocks reading H(c-1), and its edges as blocks that
  read both ends, make a cell whose canonical form labels the graph. Real
  ties need symmetric blocks, so typical cells take one pass, and MAX_BLOCKS
  bounds the worst case.
  """

  def __init__(self, blocks: Sequence[Block]):
    self._operands = [block.operands() for block in blocks]
    keys = _structure_keys(blocks)
    order = sorted(range(len(blocks)), key=keys.__getitem__)
    self._members: list[list[int]] = []  # Per twin class, its blocks.
    self._class_of = [0] * len(blocks)
    self._step_classes: list[range] = []  # Per position, the candidates.
    for _, group in itertools.groupby(order, keys.__getitem__):
      twins: dict[tuple[tuple[int, str], ...], list[int]] = {}
      for index in group:
        twins.setdefault(tuple(sorted(self._operands[index])), []).append(index)
      classes = range(len(self._members), len(self._members) + len(twins))
      for twin, members in zip(classes, twins.values()):
        self._members.append(members)
        for index in members:
          self._class_of[index] = twin
        self._step_classes += [classes] * len(members)
    self._left = [len(members) for members in self._members]
    self._slots: list[list[int]] = [[] for _ in self._members]
    self._taken = [0] * len(self._members)  # Slots bound to a member.
    self._index: dict[int, int] = {}  # Block -> its new hidden-state index.
    self._path: list[_Encoded] = []
    self._best: list[_Encoded] | None = None
    self._agree = 0  # Length of the common prefix of _path and _best.

  def run(self) -> tuple[Block, ...]:
    self._search()
    return tuple(Block(in1, OPERATIONS[op1], in2, OPERATIONS[op2])
                 for (in1, op1), (in2, op2) in self._best)

  def _placements(self, twin: int) -> list[tuple[_Encoded, dict[int, int]]]:
    """(encoding, new bindings) for the least ways to place a `twin` next."""
    operands = self._operands[self._members[twin][0]]
    unbound: dict[int, list[int]] = {}  # Class -> its unbound members read.
    for inp, _ in operands:
      source = inp - NUM_CELL_INPUTS
      if source >= 0 and source not in self._index:
        sources = unbound.setdefault(self._class_of[source], [])
        if source not in sources:
          sources.append(source)
    bindings = [{}]
    for source_class, sources in unbound.items():
      taken = self._taken[source_class]
      free = self._slots[source_class][taken:taken + len(sources)]
      bindings = [{**binding, **dict(zip(order, free))}
                  for binding in bindings
                  for order in itertools.permutations(sources)]
    placements = []
    for binding in bindings:
      index = {**self._index, **binding} if binding else self._index
      encoded = tuple(sorted(
          (inp if inp < NUM_CELL_INPUTS else index[inp - NUM_CELL_INPUTS],
           _OP_INDEX[op]) for inp, op in operands))
      placements.append((encoded, binding))
    return placements

  def _search(self) -> None:
    step = len(self._path)
    if step == len(self._class_of):
      if self._best is None or self._agree < step:  # Strictly better.
        self._best, self._agree = list(self._path), step
      return
    options = [(encoded, twin, binding)
               for twin in self._step_classes[step] if self._left[twin]
               for encoded, binding in self._placements(twin)]
    least = min(encoded for encoded, _, _ in options)
    for encoded, twin, binding in options:
      if encoded != least:
        continue
      if self._best is not None and self._agree == step:
        if least > self._best[step]:
          return
        if least == self._best[step]:
          self._agree = step + 1
      self._place(twin, binding, encoded)
      self._search()
      self._unplace(twin, binding)
      self._agree = min(self._agree, step)

  def _place(self, twin: int, binding: dict[int, int],
             encoded: _Encoded) -> None:
    self._left[twin] -= 1
    self._slots[twin].append(NUM_CELL_INPUTS + len(self._path))
    self._path.append(encoded)
    for source, index in binding.items():
      self._index[source] = index
      self._taken[self._class_of[source]] += 1

  def _unplace(self, twin: int, binding: dict[int, int]) -> None:
    for source in binding:
      del self._index[source]
      self._taken[self._class_of[source]] -= 1
    self._path.pop()
    self._slots[twin].pop()
    self._left[twin] += 1


def _unique_operand_pairs(position: int,
                          operations: Sequence[str]) -> Iterable[Block]:
  """Every block at 0-based `position`, operands in (input, operator) order."""
  operands = [(inp, op) for inp in range(NUM_CELL_INPUTS + position)
              for op in sorted(operations, key=_OP_INDEX.__getitem__)]
  for (in1, op1), (in2, op2) in itertools.combinations_with_replacement(
      operands, 2):
    yield Block(in1, op1, in2, op2)


def _expand_blocks(blocks: tuple[Block, ...],
                   operations: Sequence[str]) -> list[Cell]:
  _check_num_blocks(len(blocks) + 1)
  keys = _structure_keys(blocks)
  # A canonical parent whose blocks are all structurally distinct is sorted by
  # key; a new block with a key of its own then has exactly one canonical
  # place, found by bisection. That skips recomputing every key per child,
  # and gives the same cells as the general path (tested).
  sorted_parent = (all(a < b for a, b in zip(keys, keys[1:]))
                   and _renumbered(blocks, range(len(blocks))) == blocks)
  parent_keys = set(keys) if sorted_parent else ()
  seen: dict[tuple[Block, ...], None] = {}
  for block in _unique_operand_pairs(len(blocks), operations):
    child = blocks + (block,)
    key = _structure_key(block, keys) if sorted_parent else None
    if key is None or key in parent_keys:
      seen.setdefault(_canonical_blocks(child), None)
      continue
    seen.setdefault(_inserted(blocks, block, bisect.bisect_left(keys, key)),
                    None)
  return [Cell._of_valid_blocks(canonical) for canonical in seen]


def random_cell(rng, num_blocks: int,
                operations: Sequence[str] = OPERATIONS) -> Cell:
  """A cell drawn uniformly from the ordered cells (not canonicalized).

  Every block picks each input and each operator uniformly: the space as the
  paper counts it (5.6e14 cells of 5 blocks).

  Args:
    rng: a random.Random (or anything with randrange and choice).
    num_blocks: blocks of the cell.
    operations: the operators to draw from.
  """
  blocks = []
  for position in range(num_blocks):
    inputs = NUM_CELL_INPUTS + position
    blocks.append(Block(rng.randrange(inputs), rng.choice(operations),
                        rng.randrange(inputs), rng.choice(operations)))
  return Cell(tuple(blocks))


def check_operations(operations: Sequence[str]) -> tuple[str, ...]:
  """`operations` as a tuple; ValueError if empty, repeated or unknown."""
  operations = tuple(operations)
  if not operations:
    raise ValueError("operations must name at least one operator")
  for name in operations:
    check_operation(name)
  if len(set(operations)) != len(operations):
    raise ValueError(f"operations repeat an operator: {', '.join(operations)}")
  return operations


def initial_cells(operations: Sequence[str] = OPERATIONS) -> list[Cell]:
  """Every unique 1-block cell, canonical, in a fixed order.

  Args:
    operations: the operators blocks may use (default all 8: 136 cells).
  """
  return _expand_blocks((), check_operations(operations))


def expand(cell: Cell, operations: Sequence[str] = OPERATIONS) -> list[Cell]:
  """Every unique cell made by appending one block to `cell`, canonical.

  Args:
    cell: any cell (it need not be canonical).
    operations: the operators the new block may use (default all 8).

  Returns:
    The distinct canonical cells of cell.num_blocks + 1 blocks whose first
    blocks are `cell`, in a fixed order.

  Raises:
    ValueError: if `cell` has MAX_BLOCKS blocks already.
  """
  return _expand_blocks(tuple(cell.blocks), check_operations(operations))


def expand_all(cells: Iterable[Cell],
               operations: Sequence[str] = OPERATIONS) -> list[Cell]:
  """The distinct cells `expand` gives for any of `cells`, in first-seen order.

  This is one round's candidate set: every one-block extension of the beam,
  each cell once however many parents reach it.
  """
  seen: dict[Cell, None] = {}
  for cell in cells:
    seen.update(dict.fromkeys(expand(cell, operations)))
  return list(seen)


PNASNET_5 = Cell((
    Block(1, "sep5x5", 1, "max3x3"),
    Block(0, "sep7x7", 0, "max3x3"),
    Block(0, "sep5x5", 0, "sep3x3"),
    Block(4, "sep3x3", 0, "max3x3"),
    Block(1, "sep3x3", 0, "identity"),
))

NAMED_CELLS = {"pnasnet-5": PNASNET_5, "pnasnet5": PNASNET_5}
