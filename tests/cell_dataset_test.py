"""Tests for bench/cell_dataset.py and bench/predictor_quality.py: the data
file of trained cells, and the predictor measures read from it."""

import json
import math
import os

from absl.testing import absltest
from absl.testing import parameterized
import bench_scripts
import numpy as np

from pnas_tf.config import predictor_config
from pnas_tf.predictor import predictors
from pnas_tf.space import search_space

cell_dataset = bench_scripts.load("cell_dataset")
predictor_quality = bench_scripts.load("predictor_quality")


def _write(path, value):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w") as stream:
    json.dump(value, stream)


class CellDatasetTest(absltest.TestCase):

  def test_proxy_noise_records_and_kept_searches_become_one_file(self):
    data = self.create_tempdir().full_path
    noise = os.path.join(data, "proxy_noise", "proxy")
    _write(os.path.join(noise, "cells.json"),
           {"settings": {"epochs": 3}, "commit": "abc"})
    for seed, accuracy in ((0, 0.7), (1, 0.72)):
      _write(os.path.join(noise, f"k_seed{seed}.json"),
             {"cell": "sep3x3:0+max3x3:1", "num_blocks": 1, "seed": seed,
              "accuracy": accuracy, "params": 10, "seconds": 5.0,
              "status": "ok", "reason": ""})
    search = os.path.join(data, "searches", "pnas_seed0")
    _write(os.path.join(search, "search.json"),
           {"settings": {"seed": 0, "search_strategy": "pnas"}})
    _write(os.path.join(search, "children", "a.json"),
           {"cell": "identity:0+max3x3:1", "num_blocks": 1, "status": "ok",
            "accuracy": 0.6, "params": 8, "seconds": 4.0, "order": 0})
    dataset = cell_dataset.collect(data)
    self.assertEqual(dataset["format_version"], 1)
    self.assertEqual(dataset["runs"]["proxy_noise/proxy"],
                     {"kind": "proxy_noise", "settings": {"epochs": 3},
                      "commit": "abc"})
    self.assertEqual(dataset["runs"]["searches/pnas_seed0"]["kind"], "search")
    children = dataset["children"]
    self.assertLen(children, 3)
    self.assertEqual([c["seed"] for c in children], [0, 1, 0])
    self.assertEqual(children[2]["run"], "searches/pnas_seed0")
    self.assertEqual(children[2]["order"], 0)


class PredictorQualityTest(parameterized.TestCase):

  def test_the_ceiling_is_the_seeds_mean_rank_correlation(self):
    # Seeds 0 and 1 agree, seed 2 reverses them: rho 1, -1, -1.
    by_cell = {"a": [0.1, 0.1, 0.3], "b": [0.2, 0.2, 0.2],
               "c": [0.3, 0.3, 0.1]}
    self.assertAlmostEqual(predictor_quality.seed_ceiling(by_cell), -1 / 3)
    self.assertTrue(math.isnan(predictor_quality.seed_ceiling(
        {"a": [0.1], "b": [0.2]})))

  def test_the_ceiling_leaves_out_cells_trained_once(self):
    # A pooled run: cells trained once (a random search's) sit beside cells
    # trained by several runs; only the latter show the seeds' agreement.
    by_cell = {"a": [0.1, 0.2], "b": [0.2, 0.3, 0.9], "c": [0.3, 0.1],
               "d": [0.9]}
    self.assertAlmostEqual(predictor_quality.seed_ceiling(by_cell), -0.5)

  def test_runs_whose_children_trained_alike_are_pooled(self):
    child = {"epochs": 6, "num_train_examples": 3000, "seed": 0}
    runs = {
        "proxy_noise/p": {"settings": dict(child, cells=12, cell_seed=0)},
        "searches/pnas_s1": {"settings": dict(
            child, seed=1, search_strategy="pnas", beam_size=16,
            predictor="lstm_ensemble", predictor_epochs=100, image_size=0)},
        "searches/random_s0": {"settings": dict(
            child, search_strategy="random", predictor="mlp")},
        "searches/longer": {"settings": dict(child, epochs=20)},
    }
    self.assertEqual(
        predictor_quality.pools(runs, sorted(runs)),
        [["proxy_noise/p", "searches/pnas_s1", "searches/random_s0"],
         ["searches/longer"]])
    self.assertEqual(predictor_quality.pools(
        dict(runs, big={"settings": dict(child, image_size=64)}),
        ["big", "proxy_noise/p"]), [["big"], ["proxy_noise/p"]])

  def test_failed_children_are_left_out(self):
    by_cell = predictor_quality.cell_accuracies([
        {"cell": "a", "status": "ok", "accuracy": 0.5},
        {"cell": "a", "status": "failed", "accuracy": math.nan},
        {"cell": "b", "status": "ok", "accuracy": 0.6}])
    self.assertEqual(by_cell, {"a": [0.5], "b": [0.6]})

  def test_a_record_two_runs_share_counts_once(self):
    shared = {"cell": "a", "status": "ok", "accuracy": 0.5, "seed": 0,
              "seconds": 40.0}
    by_cell = predictor_quality.cell_accuracies([
        {**shared, "run": "searches/pnas_s0"},
        {**shared, "run": "searches/pnas_mlp_s0"},
        # The same cell and seed trained again: a second measurement.
        {**shared, "run": "proxy_noise/p", "accuracy": 0.52}])
    self.assertEqual(by_cell, {"a": [0.5, 0.52]})

  def test_a_predictor_fitted_on_a_learnable_accuracy_ranks_the_next_cells(
      self):
    # Accuracy grows with the cell's count of sep3x3: easy to learn.
    cells = search_space.initial_cells(("sep3x3", "max3x3", "identity"))
    two = [c for c in search_space.expand(cells[0])][:12] + [
        c for c in search_space.expand(cells[-1])][:12]
    by_cell = {str(c.canonical()): [0.5 + 0.1 * str(c).count("sep3x3")]
               for c in list(cells) + two}
    with absltest.mock.patch.object(predictor_quality, "_EPOCHS") as epochs:
      epochs.value = 30
      quality = predictor_quality.run_quality(by_cell, "mlp", 0, 2)
    fitted, following = quality["canonical"][1]
    self.assertGreater(fitted, 0.5)
    self.assertGreater(following, 0.5)

  def test_block_orders(self):
    self.assertEqual(predictor_quality.block_orders(3, "canonical"),
                     [(0, 1, 2)])
    self.assertEqual(predictor_quality.block_orders(3, "reversed"),
                     [(2, 1, 0)])
    self.assertLen(set(predictor_quality.block_orders(3, "every")), 6)

  @parameterized.parameters("lstm", "mlp")
  def test_reading_order_matters_to_the_lstm_alone(self, kind):
    cells = search_space.initial_cells(("sep3x3", "max3x3", "identity"))
    two = list(search_space.expand(cells[0]))[:12]
    predictor = predictors.Predictor(predictor_config.PredictorConfig(
        kind=kind, max_blocks=2, epochs=5))
    fitted = list(cells) + two
    predictor.fit(fitted,
                  [0.5 + 0.1 * str(c).count("sep3x3") for c in fitted])
    mixed = list(cells[:3]) + two
    canonical, reversed_order, every = (
        predictor_quality.predict_in_order(predictor, mixed, order)
        for order in ("canonical", "reversed", "every"))
    np.testing.assert_allclose(canonical, predictor.predict(mixed), atol=1e-6)
    # One-block cells read alike in every order.
    np.testing.assert_allclose(reversed_order[:3], canonical[:3], atol=1e-6)
    # Two blocks have two orders: "every" is their mean.
    np.testing.assert_allclose(every, (canonical + reversed_order) / 2,
                               atol=1e-6)
    self.assertEqual(np.allclose(reversed_order, canonical, atol=1e-6),
                     kind == "mlp")


if __name__ == "__main__":
  absltest.main()
