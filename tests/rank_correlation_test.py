"""Tests for rank_correlation, against values worked out by hand."""

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from pnas_tf.predictor import rank_correlation


class RankCorrelationTest(parameterized.TestCase):

  @parameterized.named_parameters(
      # One swapped pair of three: rho = 1 - 6 * 2 / (3 * 8), tau = 1/3.
      ("one_swap", [0.1, 0.2, 0.3], [0.5, 0.9, 0.7], 0.5, 1 / 3),
      ("identical_order", [1, 2, 3, 4], [10, 20, 30, 40], 1.0, 1.0),
      ("reversed", [1, 2, 3, 4], [4, 3, 2, 1], -1.0, -1.0),
      # Ties in x: ranks (1, 2.5, 2.5, 4); rho = 4.5 / sqrt(4.5 * 5);
      # tau-b = 5 / sqrt(5 * 6) (5 concordant pairs, 1 tied in x).
      ("ties", [1, 2, 2, 3], [1, 3, 2, 4], 4.5 / np.sqrt(22.5),
       5 / np.sqrt(30)),
  )
  def test_known_values(self, x, y, rho, tau):
    self.assertAlmostEqual(rank_correlation.spearman(x, y), rho, places=12)
    self.assertAlmostEqual(rank_correlation.kendall_tau(x, y), tau, places=12)

  def test_monotone_transforms_do_not_change_ranks(self):
    rng = np.random.default_rng(0)
    x = rng.normal(size=500)
    y = x + rng.normal(size=500)
    for transform in (np.exp, lambda v: v**3, lambda v: 2 * v + 7):
      self.assertAlmostEqual(rank_correlation.spearman(transform(x), y),
                             rank_correlation.spearman(x, y), places=12)
      self.assertAlmostEqual(rank_correlation.kendall_tau(transform(x), y),
                             rank_correlation.kendall_tau(x, y), places=12)

  def test_blocked_kendall_matches_a_direct_pair_count(self):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 20, 300).astype(float)  # many ties
    y = x + rng.integers(0, 10, 300)
    i, j = np.triu_indices(300, 1)
    s = np.sign(x[i] - x[j]) * np.sign(y[i] - y[j])
    n_x = np.count_nonzero(x[i] != x[j])
    n_y = np.count_nonzero(y[i] != y[j])
    self.assertAlmostEqual(rank_correlation.kendall_tau(x, y),
                           s.sum() / np.sqrt(n_x * n_y), places=12)

  def test_degenerate_inputs(self):
    self.assertTrue(np.isnan(rank_correlation.spearman([1.0], [2.0])))
    self.assertTrue(np.isnan(rank_correlation.spearman([1, 1, 1], [1, 2, 3])))
    self.assertTrue(np.isnan(rank_correlation.kendall_tau([1, 1], [1, 2])))
    with self.assertRaisesRegex(ValueError, "equally long"):
      rank_correlation.spearman([1, 2], [1, 2, 3])


if __name__ == "__main__":
  absltest.main()
