"""Tests for predictors: fitting, determinism, ensembles, state files."""

import json
import os
import random

from absl.testing import absltest
from absl.testing import parameterized
import keras
import numpy as np

from pnas_tf.config import predictor_config
from pnas_tf.predictor import cell_encoding
from pnas_tf.predictor import predictors
from pnas_tf.space import search_space
from pnas_tf.testing import synthetic_accuracy

_TRUTH = synthetic_accuracy.SyntheticAccuracy(seed=0)


def _records(num_two_block=60, seed=0):
  """All 1-block cells and some 2-block cells with their synthetic accuracy."""
  rng = random.Random(seed)
  cells = search_space.initial_cells() + rng.sample(
      search_space.expand_all(search_space.initial_cells()), num_two_block)
  return cells, [_TRUTH(cell) for cell in cells]


def _quick(kind="lstm", **overrides):
  settings = dict(kind=kind, epochs=2, batch_size=64, ensemble_size=2)
  settings.update(overrides)
  return predictor_config.PredictorConfig(**settings)


class FitTest(parameterized.TestCase):

  @parameterized.parameters("lstm", "mlp", "lstm_ensemble", "mlp_ensemble")
  def test_same_seed_same_predictions_and_fast_path_is_exact(self, kind):
    cells, accuracies = _records()
    first = predictors.Predictor(_quick(kind))
    second = predictors.Predictor(_quick(kind))
    first.fit(cells, accuracies)
    second.fit(cells, accuracies)
    scores = first.predict(cells)
    np.testing.assert_array_equal(scores, second.predict(cells))
    np.testing.assert_allclose(scores, first.predict_full_sequences(cells),
                               atol=1e-5, rtol=0)
    other = predictors.Predictor(_quick(kind, seed=1))
    other.fit(cells, accuracies)
    self.assertFalse(np.allclose(other.predict(cells), scores, atol=1e-6))

  @parameterized.parameters(("lstm", False), ("mlp", True))
  def test_only_the_lstm_hears_the_order_of_the_blocks(self, kind, same):
    cells, accuracies = _records()
    predictor = predictors.Predictor(_quick(kind))
    predictor.fit(cells, accuracies)
    two_block = [cell for cell in cells if cell.num_blocks == 2]
    tokens = cell_encoding.encode(two_block)
    np.testing.assert_array_equal(predictor.predict_tokens(tokens),
                                  predictor.predict(two_block))
    reversed_order = predictor.predict_tokens(tokens[:, ::-1])
    self.assertEqual(np.allclose(reversed_order, predictor.predict(two_block),
                                 atol=1e-6), same)

  def test_ensemble_members_each_leave_out_a_different_fifth(self):
    predictor = predictors.Predictor(_quick("mlp_ensemble", ensemble_size=5))
    rows = predictor._member_rows(103, np.random.default_rng(0))
    self.assertLen(rows, 5)
    left_out = [set(range(103)) - set(r) for r in rows]
    for member in left_out:
      self.assertBetween(len(member), 20, 21)
    self.assertEqual(set().union(*left_out), set(range(103)))
    self.assertEqual(sum(len(m) for m in left_out), 103)  # disjoint

  def test_ensemble_prediction_is_the_members_mean(self):
    cells, accuracies = _records()
    predictor = predictors.Predictor(_quick("mlp_ensemble"))
    predictor.fit(cells, accuracies)
    tokens = cell_encoding.encode(cells)
    members = [keras.ops.convert_to_numpy(m(tokens))
               for m in predictor._members]
    self.assertFalse(np.allclose(members[0], members[1]))
    np.testing.assert_allclose(predictor.predict(cells),
                               np.mean(members, axis=0), atol=1e-6)

  def test_learning_rate_is_the_papers_per_stage(self):
    cells, accuracies = _records()
    predictor = predictors.Predictor(_quick("lstm", epochs=1))
    predictor.fit(cells[:136], accuracies[:136])
    rate = predictor._members[0].optimizer.learning_rate
    self.assertAlmostEqual(float(keras.ops.convert_to_numpy(rate)), 0.01)
    predictor.fit(cells, accuracies)
    rate = predictor._members[0].optimizer.learning_rate
    self.assertAlmostEqual(float(keras.ops.convert_to_numpy(rate)), 0.002)

  def test_refits_from_scratch_unless_warm_started(self):
    cells, accuracies = _records()
    untrained = predictors.Predictor(_quick("mlp")).predict(cells)
    for warm in (False, True):
      predictor = predictors.Predictor(_quick("mlp", epochs=1, warm_start=warm))
      predictor.fit(cells, accuracies)
      predictor.fit(cells, accuracies)
      # A cold second fit starts from the seed's initial weights again, as a
      # fresh predictor's second fit does; a warm one from the first fit's.
      fresh = predictors.Predictor(_quick("mlp", epochs=1))
      fresh.num_fits = 1
      fresh.fit(cells, accuracies)
      same_as_fresh = all(
          np.array_equal(a, b) for a, b in
          zip(predictor._members[0].get_weights(),
              fresh._members[0].get_weights()))
      self.assertEqual(same_as_fresh, not warm)
      self.assertFalse(np.allclose(predictor.predict(cells), untrained))

  def test_fit_refuses_bad_records(self):
    cells, accuracies = _records()
    predictor = predictors.Predictor(_quick("lstm", max_blocks=1))
    with self.assertRaisesRegex(ValueError, "136 cells but 3 accuracies"):
      predictor.fit(cells[:136], accuracies[:3])
    with self.assertRaisesRegex(ValueError, r"must lie in \[0, 1\]"):
      predictor.fit(cells[:136], [87.0] * 136)
    with self.assertRaisesRegex(ValueError, "2 blocks, more than the 1"):
      predictor.fit(cells, accuracies)
    with self.assertRaisesRegex(ValueError, "cell of 2 blocks: .* up to 1"):
      predictor.predict(cells)
    with self.assertRaisesRegex(ValueError, "at least 2 records"):
      predictors.Predictor(_quick("lstm_ensemble")).fit(cells[:1],
                                                        accuracies[:1])


class LearningTest(parameterized.TestCase):
  """Each kind, at its default settings, learns to rank unseen larger cells."""

  # The paper's measure: Spearman's rho on the next, one-block-larger cells.
  # bench/predictor_training.py measures about 0.8 for these settings (3
  # seeds, 256 two-block cells); 0.5 leaves room for this smaller task while
  # failing any predictor that has not learned the interactions.
  _HELD_OUT_BAR = 0.5

  @parameterized.parameters("lstm", "mlp", "lstm_ensemble", "mlp_ensemble")
  def test_ranks_unseen_three_block_cells(self, kind):
    rng = random.Random(7)
    truth = synthetic_accuracy.SyntheticAccuracy(seed=7)
    one = search_space.initial_cells()
    two = rng.sample(search_space.expand_all(one), 128)
    three = rng.sample(search_space.expand_all(rng.sample(two, 16)), 200)
    train = one + two
    predictor = predictors.Predictor(
        predictor_config.PredictorConfig(kind=kind, seed=7))
    predictor.fit(train, [truth(cell) for cell in train])
    held_out = predictor.rank_quality(three, [truth(cell) for cell in three])
    seen = predictor.rank_quality(train, [truth(cell) for cell in train])
    self.assertEqual(held_out.count, 200)
    self.assertGreater(held_out.spearman, self._HELD_OUT_BAR)
    self.assertGreater(held_out.kendall_tau, self._HELD_OUT_BAR / 2)
    self.assertGreater(seen.spearman, held_out.spearman)


class ConfigTest(parameterized.TestCase):

  @parameterized.parameters(
      (dict(kind="gru"), "predictor must be one of lstm, mlp"),
      (dict(epochs=0), "predictor_epochs must be >= 1"),
      (dict(batch_size=-1), "predictor_batch_size must be >= 1"),
      (dict(kind="mlp_ensemble", ensemble_size=1),
       "predictor_ensemble_size must be >= 2"),
      (dict(learning_rate=0.0), "predictor_learning_rate must be > 0"),
  )
  def test_bad_values_name_the_setting(self, overrides, message):
    with self.assertRaisesRegex(ValueError, message):
      predictor_config.PredictorConfig(**overrides)

  def test_members(self):
    self.assertEqual(_quick("lstm").num_members, 1)
    self.assertEqual(_quick("mlp_ensemble").num_members, 2)
    self.assertEqual(predictor_config.PredictorConfig().num_members, 5)
    self.assertEqual(_quick("mlp_ensemble").model_kind, "mlp")


class StateTest(parameterized.TestCase):

  def _fitted(self, kind="lstm_ensemble"):
    cells, accuracies = _records()
    predictor = predictors.Predictor(_quick(kind))
    predictor.fit(cells, accuracies)
    return predictor, cells

  @parameterized.parameters("lstm_ensemble", "mlp")
  def test_load_restores_identical_predictions(self, kind):
    predictor, cells = self._fitted(kind)
    directory = os.path.join(self.create_tempdir().full_path, "predictor")
    predictor.save(directory)
    restored = predictors.Predictor.load(directory)
    self.assertEqual(restored.config, predictor.config)
    self.assertEqual(restored.num_fits, 1)
    np.testing.assert_array_equal(restored.predict(cells),
                                  predictor.predict(cells))
    self.assertEqual([name for name in os.listdir(os.path.dirname(directory))
                      if name.startswith(".tmp")], [])

  def test_save_never_overwrites(self):
    predictor, _ = self._fitted("mlp")
    directory = self.create_tempdir().full_path
    with self.assertRaisesRegex(FileExistsError, "exists already"):
      predictor.save(directory)

  def test_bad_state_is_reported_with_its_path(self):
    predictor, _ = self._fitted("mlp")
    root = self.create_tempdir().full_path
    with self.assertRaisesRegex(predictors.PredictorStateError,
                                "no predictor state at .*missing"):
      predictors.Predictor.load(os.path.join(root, "absent"))

    directory = os.path.join(root, "saved")
    predictor.save(directory)
    state_file = os.path.join(directory, "predictor.json")
    with open(state_file) as stream:
      state = json.load(stream)

    with open(state_file, "w") as stream:
      stream.write('{"format_version": 1, "conf')
    with self.assertRaisesRegex(predictors.PredictorStateError,
                                "predictor.json is corrupt"):
      predictors.Predictor.load(directory)

    with open(state_file, "w") as stream:
      json.dump(dict(state, format_version=99), stream)
    with self.assertRaisesRegex(predictors.PredictorStateError,
                                "format version 99.*reads version 1"):
      predictors.Predictor.load(directory)

    with open(state_file, "w") as stream:
      json.dump(dict(state, config=dict(state["config"], kind="lstm")), stream)
    with self.assertRaisesRegex(predictors.PredictorStateError, "unusable"):
      predictors.Predictor.load(directory)

    with open(state_file, "w") as stream:
      json.dump(state, stream)
    with open(os.path.join(directory, "member_0.weights.h5"), "wb") as stream:
      stream.write(b"not hdf5")
    with self.assertRaisesRegex(predictors.PredictorStateError, "unusable"):
      predictors.Predictor.load(directory)


if __name__ == "__main__":
  absltest.main()
