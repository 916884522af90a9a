"""Tests for search_config."""

from absl.testing import absltest
from absl.testing import parameterized

from pnas_tf.config import errors
from pnas_tf.config import search_config
from pnas_tf.space import search_space


class SearchConfigTest(parameterized.TestCase):

  def test_the_papers_budget(self):
    # 136 + 4 x 256 = 1160 trained models at B = 5, K = 256.
    self.assertEqual(search_config.SearchConfig().budget, 1160)
    self.assertEqual(
        search_config.SearchConfig(max_blocks=3, beam_size=16).budget, 168)

  @parameterized.parameters(
      (dict(max_blocks=0), "^max_blocks must be >= 1, got 0$"),
      (dict(max_blocks=search_space.MAX_BLOCKS + 1),
       f"^max_blocks must be <= MAX_BLOCKS = {search_space.MAX_BLOCKS}, "),
      (dict(beam_size=0), "^beam_size must be >= 1, got 0$"),
      (dict(search_strategy="evolution"),
       "^search_strategy must be one of pnas, random, got 'evolution'$"),
      (dict(export_top=-1), "^export_top must be >= 0, got -1$"),
  )
  def test_bad_values_name_the_setting(self, overrides, message):
    with self.assertRaisesRegex(errors.ConfigError, message):
      search_config.SearchConfig(**overrides)

  def test_the_largest_cells_allowed_can_be_searched(self):
    config = search_config.SearchConfig(max_blocks=search_space.MAX_BLOCKS)
    self.assertEqual(config.max_blocks, search_space.MAX_BLOCKS)


if __name__ == "__main__":
  absltest.main()
