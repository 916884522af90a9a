"""Tests for bench/new_block_position.py on a small synthetic search."""

import re

from absl.testing import absltest
import bench_scripts
import fake_search

from pnas_tf.config import search_config
from pnas_tf.nas import controller
from pnas_tf.nas import executors
from pnas_tf.nas import search_store
from pnas_tf.space import search_space

bench = bench_scripts.load("new_block_position")

_OPERATIONS = ("sep3x3", "max3x3", "identity")


def _prefix_says_last(child, parent):
  """The new block is last iff the parent's blocks begin the child's."""
  return str(child).startswith(str(parent.canonical()) + ",")


class NewBlockPositionTest(absltest.TestCase):

  def test_the_new_block_is_last_when_the_parent_begins_the_child(self):
    parent = search_space.Cell.parse("sep3x3:0+max3x3:1")
    children = search_space.expand(parent, _OPERATIONS)
    last = [bench.new_block_is_last(child, {parent.canonical()})
            for child in children]
    self.assertEqual(last, [_prefix_says_last(child, parent)
                            for child in children])
    # Both happen: the canonical sort moves some new blocks before the
    # parent's.
    self.assertTrue(any(last))
    self.assertFalse(all(last))

  def test_shares_of_a_search_rounds(self):
    directory = self.create_tempdir().full_path
    store = search_store.SearchStore(directory)
    store.check_settings({"search_strategy": "pnas", "max_blocks": 3,
                          "beam_size": 4, "operations": list(_OPERATIONS)})
    run = controller.Collaborators(
        config=search_config.SearchConfig(
            max_blocks=3, beam_size=4, operations=_OPERATIONS, seed=0),
        store=store, executor=executors.SerialExecutor(
            fake_search.SyntheticEvaluator()),
        new_predictor=fake_search.LinearPredictor,
        load_predictor=fake_search.LinearPredictor.load)
    controller.progressive_search(run)
    rows = bench.round_shares(directory)
    self.assertEqual([row[0] for row in rows], [2, 3])
    # Round 2's parents are the 4 best one-block cells.
    ones = sorted((r for r in store.records().values() if r.num_blocks == 1),
                  key=lambda r: (-r.accuracy, r.order))[:4]
    parents = {search_space.Cell.parse(r.cell) for r in ones}
    candidates = search_space.expand_all(parents, _OPERATIONS)
    chosen, _ = store.load_round(2)
    row = rows[0]
    self.assertEqual((row.b, row.candidates, row.chosen),
                     (2, len(candidates), 4))

    def share(cells):
      return sum(any(_prefix_says_last(c, p) for p in parents)
                 for c in cells) / len(cells)

    self.assertAlmostEqual(row.candidates_new_last, share(candidates))
    self.assertAlmostEqual(row.chosen_new_last, share(chosen))

    def newest(cells):  # Round 2: input 2 is the first block's output.
      return sum(bool(re.search(r":2(\+|,|$)", str(c)))
                 for c in cells) / len(cells)

    self.assertAlmostEqual(row.candidates_newest_input, newest(candidates))
    self.assertAlmostEqual(row.chosen_newest_input, newest(chosen))
    self.assertBetween(row.candidates_newest_input, 0.01, 0.99)

  def test_reads_newest_input(self):
    cell = search_space.Cell.parse("sep3x3:0+max3x3:1,identity:2+max3x3:0")
    self.assertTrue(bench.reads_newest_input(cell))
    self.assertFalse(bench.reads_newest_input(
        search_space.Cell.parse("sep3x3:0+max3x3:1,identity:1+max3x3:0")))
    # Three blocks: the newest input is 3; reading 2 does not count.
    self.assertFalse(bench.reads_newest_input(search_space.Cell.parse(
        "sep3x3:0+max3x3:1,identity:2+max3x3:0,sep3x3:2+max3x3:1")))


if __name__ == "__main__":
  absltest.main()
