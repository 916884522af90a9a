"""Tests for predictor_models and lstm_scoring (the fast trie scorer)."""

import random

from absl.testing import absltest
from absl.testing import parameterized
import keras
import numpy as np

from pnas_tf.config import predictor_config
from pnas_tf.predictor import cell_encoding
from pnas_tf.predictor import lstm_scoring
from pnas_tf.predictor import predictor_models
from pnas_tf.space import search_space


def _config(kind, **overrides):
  return predictor_config.PredictorConfig(kind=kind, **overrides)


def _randomized(model, seed):
  """The model with every weight redrawn, so outputs vary across cells."""
  rng = np.random.default_rng(seed)
  for weight in model.weights:
    weight.assign(rng.normal(0.0, 0.3, weight.shape).astype("float32"))
  return model


def _round_candidates(num_parents, seed):
  """Every one-block extension of random 2-block cells: a round of b = 3."""
  rng = random.Random(seed)
  parents = rng.sample(search_space.expand_all(search_space.initial_cells()),
                       num_parents)
  return search_space.expand_all(parents)


class ModelTest(parameterized.TestCase):

  # Embeddings (7 + 9) x 100 for B = 5; LSTM 4 x (100 x 200 + 100);
  # MLP 400 x 100 + 100, 100 x 100 + 100; output 100 + 1.
  @parameterized.parameters(("lstm", 1600 + 80400 + 101),
                            ("mlp", 1600 + 40100 + 10100 + 101))
  def test_the_papers_sizes(self, kind, params):
    model = predictor_models.build_model(_config(kind), seed=0)
    self.assertEqual(model.count_params(), params)

  @parameterized.parameters("lstm", "mlp")
  def test_the_papers_initialization(self, kind):
    model = predictor_models.build_model(_config(kind), seed=0)
    for name in (predictor_models.INPUT_EMBEDDING,
                 predictor_models.OPERATOR_EMBEDDING):
      table = keras.ops.convert_to_numpy(model.get_layer(name).embeddings)
      self.assertLessEqual(np.abs(table).max(), 0.1)
      self.assertGreater(np.abs(table).max(), 0.09)
    output = model.get_layer(predictor_models.OUTPUT)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(output.bias), [1.8])

  @parameterized.parameters("lstm", "mlp")
  def test_seeded_and_blind_to_padding(self, kind):
    cells = search_space.initial_cells()[:40] + _round_candidates(2, 0)[:40]
    tokens = cell_encoding.encode(cells)
    model = _randomized(predictor_models.build_model(_config(kind), 0), 1)
    again = _randomized(predictor_models.build_model(_config(kind), 0), 1)
    padded = cell_encoding.encode(cells, 5)
    scores = keras.ops.convert_to_numpy(model(tokens))
    np.testing.assert_array_equal(scores,
                                  keras.ops.convert_to_numpy(again(tokens)))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(padded)),
                               scores, atol=1e-6)
    # Each one-block cell alone, unpadded, scores as it does in the batch.
    alone = keras.ops.convert_to_numpy(model(cell_encoding.encode(cells[:1])))
    np.testing.assert_allclose(alone, scores[:1], atol=1e-6)
    self.assertGreater(np.std(scores), 0.01)

  def test_different_seeds_give_different_models(self):
    tokens = cell_encoding.encode(search_space.initial_cells())
    first = predictor_models.build_model(_config("lstm"), 0)(tokens)
    second = predictor_models.build_model(_config("lstm"), 1)(tokens)
    self.assertFalse(np.allclose(keras.ops.convert_to_numpy(first),
                                 keras.ops.convert_to_numpy(second)))


class TrieScoringTest(absltest.TestCase):

  def test_equals_full_sequence_inference_to_1e_5(self):
    cells = _round_candidates(12, 1)
    tokens = cell_encoding.encode(cells)
    model = _randomized(predictor_models.build_model(_config("lstm"), 0), 2)
    trie = lstm_scoring.PrefixTrie(tokens)
    fast = lstm_scoring.score(model, trie)
    full = keras.ops.convert_to_numpy(model(tokens))
    self.assertEqual(fast.shape, (len(cells),))
    np.testing.assert_allclose(fast, full, atol=1e-5, rtol=0)
    self.assertGreater(np.std(full), 0.01)  # a test that could fail

  def test_shares_prefixes(self):
    cells = _round_candidates(12, 1)
    trie = lstm_scoring.PrefixTrie(cell_encoding.encode(cells))
    tokens_per_cell = 3 * cell_encoding.TOKENS_PER_BLOCK
    self.assertLess(trie.num_steps, len(cells) * tokens_per_cell / 2)
    self.assertLen(trie.levels, tokens_per_cell)
    self.assertLen(trie.levels[-1][0], len(set(cells)))

  def test_duplicate_cells_share_a_leaf(self):
    cells = search_space.initial_cells()[:5]
    trie = lstm_scoring.PrefixTrie(cell_encoding.encode(cells + cells))
    np.testing.assert_array_equal(trie.leaf_of_cell[:5], trie.leaf_of_cell[5:])

  def test_refuses_padded_tokens(self):
    tokens = cell_encoding.encode(
        [search_space.initial_cells()[0], search_space.Cell.parse("PNASNet-5")])
    with self.assertRaisesRegex(ValueError, "unpadded tokens of one cell size"):
      lstm_scoring.PrefixTrie(tokens)


if __name__ == "__main__":
  absltest.main()
