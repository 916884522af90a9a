"""Tests for synthetic_accuracy."""

import random

from absl.testing import absltest

from pnas_tf.space import search_space
from pnas_tf.testing import synthetic_accuracy
from random_cells import random_cell


class SyntheticAccuracyTest(absltest.TestCase):

  def test_equal_cells_score_equally_and_stay_in_range(self):
    truth = synthetic_accuracy.SyntheticAccuracy(seed=3, noise=0.01)
    rng = random.Random(0)
    for _ in range(200):
      cell = random_cell(rng, rng.randint(1, 5))
      accuracy = truth(cell)
      self.assertAlmostEqual(truth(cell.canonical()), accuracy, places=12)
      self.assertBetween(accuracy, 0.59, 0.96)

  def test_depends_on_operators_inputs_and_structure(self):
    truth = synthetic_accuracy.SyntheticAccuracy(seed=0)
    cell = search_space.Cell.parse
    base = truth(cell("sep3x3:0+max3x3:1"))
    self.assertNotEqual(truth(cell("sep5x5:0+max3x3:1")), base)  # operator
    self.assertNotEqual(truth(cell("sep3x3:1+max3x3:1")), base)  # input
    # A block reading a block is not a block reading a cell input.
    self.assertNotEqual(truth(cell("sep3x3:0+max3x3:1,sep3x3:2+max3x3:1")),
                        truth(cell("sep3x3:0+max3x3:1,sep3x3:0+max3x3:1")))

  def test_seed_picks_the_function(self):
    cells = search_space.initial_cells()
    first = [synthetic_accuracy.SyntheticAccuracy(seed=0)(c) for c in cells]
    again = [synthetic_accuracy.SyntheticAccuracy(seed=0)(c) for c in cells]
    other = [synthetic_accuracy.SyntheticAccuracy(seed=1)(c) for c in cells]
    self.assertEqual(first, again)
    self.assertNotEqual(first, other)
    self.assertGreater(len(set(first)), 100)


if __name__ == "__main__":
  absltest.main()
