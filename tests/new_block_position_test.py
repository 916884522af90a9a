"""Tests for bench/new_block_position.py on a small synthetic search."""


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
    b, count, among_all, num_chosen, among_chosen = rows[0]
    self.assertEqual((b, count, num_chosen), (2, len(candidates), 4))

    def share(cells):
      return sum(any(_prefix_says_last(c, p) for p in parents)
                 for c in cells) / len(cells)

    self.assertAlmostEqual(among_all, share(candidates))
    self.assertAlmostEqual(among_chosen, share(chosen))


if __name__ == "__main__":
  absltest.main()
