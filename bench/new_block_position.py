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
It reads only the search's records, no predictor.

Example:
  python bench/new_block_position.py bench/data/searches/pnas_s*
"""

from absl import app

from pnas_tf.nas import search_store
from pnas_tf.space import search_space


def new_block_is_last(cell: search_space.Cell,
                      parents: set[search_space.Cell]) -> bool:
  """Whether `cell` minus its last canonical block is one of `parents`."""
  blocks = cell.canonical().blocks
  return search_space.Cell(blocks[:-1]).canonical() in parents


def round_shares(directory: str) -> list[tuple[int, int, float, int, float]]:
  """(b, candidates, share last, chosen, share last) per round b >= 2."""
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

    def share(cells):
      return sum(new_block_is_last(c, parents) for c in cells) / len(cells)

    rows.append((b, len(candidates), share(candidates), len(chosen),
                 share(chosen)))
  return rows


def main(argv):
  if len(argv) < 2:
    raise app.UsageError("give one or more PNAS search output directories")
  print("| search | b | candidates | new block last | chosen | "
        "new block last |")
  print("|---|---:|---:|---:|---:|---:|")
  for directory in argv[1:]:
    for b, candidates, among_all, chosen, among_chosen in round_shares(
        directory.rstrip("/")):
      print(f"| {directory.rstrip('/')} | {b} | {candidates} | "
            f"{among_all:.2f} | {chosen} | {among_chosen:.2f} |")


if __name__ == "__main__":
  app.run(main)
