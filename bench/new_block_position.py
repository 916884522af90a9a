r"""Where a round's new block lands in the cells PNAS chose (issue 18).

A cell is fed to the predictor as its blocks in canonical order, and an LSTM
reads that sequence to its end. Extending a parent puts the new block last in
some children; in the others the canonical sort places it earlier, and the
parent's own last block stays last. If the predictor leans on the last block,
the children that keep a good parent's last block fill the beam, and the
beam's cells share that block.

For each PNAS search directory and round b >= 2, this compares two shares of
cells whose new block is last in canonical order: among every candidate (each
one-block extension of the round's parents, the K best trained cells of b - 1
blocks) and among the K cells the predictor chose (rounds/round_<b>.json).
It does the same for the cells that read the newest hidden state, the output
of block b - 1: no cell the predictor was fitted on could read it, so its
input token's embedding was never trained when the round was scored.
It reads only the search's records, no predictor.

Example:
  python bench/new_block_position.py bench/data/searches/pnas_s*
"""

from typing import NamedTuple

from absl import app

from pnas_tf.nas import search_store
from pnas_tf.space import search_space


def new_block_is_last(cell: search_space.Cell,
                      parents: set[search_space.Cell]) -> bool:
  """Whether `cell` minus its last canonical block is one of `parents`."""
  blocks = cell.canonical().blocks
  return search_space.Cell(blocks[:-1]).canonical() in parents


def reads_newest_input(cell: search_space.Cell) -> bool:
  """Whether a block of `cell` (b blocks) reads the output of its block
  b - 1, a hidden state no cell of fewer blocks has."""
  newest = search_space.NUM_CELL_INPUTS + len(cell.blocks) - 2
  return any(newest in (block.in1, block.in2) for block in cell.blocks)


class RoundShares(NamedTuple):
  """One round of a search: its candidates, the cells chosen, and the share
  of each whose new block is last, or that read the newest input."""
  b: int
  candidates: int
  candidates_new_last: float
  candidates_newest_input: float
  chosen: int
  chosen_new_last: float
  chosen_newest_input: float


def round_shares(directory: str) -> list[RoundShares]:
  """One RoundShares per round b >= 2."""
  store = search_store.SearchStore(directory)
  settings = store.saved_settings()
  operations = tuple(settings["operations"])
  records = store.records()
  rows = []
  for b in range(2, settings["max_blocks"] + 1):
    stored = store.load_round(b)
    if stored is None:
      break
    chosen, _ = stored
    trained = sorted(
        ((r.accuracy, -r.order, cell)
         for cell, r in records.items() if r.ok and r.num_blocks == b - 1),
        key=lambda item: item[:2], reverse=True)
    parents = {cell.canonical()
               for _, _, cell in trained[:settings["beam_size"]]}
    candidates = search_space.expand_all(parents, operations)

    def share(cells, has):
      return sum(has(c) for c in cells) / len(cells)

    def last(cell):
      return new_block_is_last(cell, parents)

    rows.append(RoundShares(
        b, len(candidates), share(candidates, last),
        share(candidates, reads_newest_input), len(chosen),
        share(chosen, last), share(chosen, reads_newest_input)))
  return rows


def main(argv):
  if len(argv) < 2:
    raise app.UsageError("give one or more PNAS search output directories")
  print("| search | b | candidates | new block last | reads newest input | "
        "chosen | new block last | reads newest input |")
  print("|---|---:|---:|---:|---:|---:|---:|---:|")
  for directory in argv[1:]:
    for row in round_shares(directory.rstrip("/")):
      print(f"| {directory.rstrip('/')} | {row.b} | {row.candidates} | "
            f"{row.candidates_new_last:.2f} | "
            f"{row.candidates_newest_input:.2f} | {row.chosen} | "
            f"{row.chosen_new_last:.2f} | {row.chosen_newest_input:.2f} |")


if __name__ == "__main__":
  app.run(main)
