"""Tests for bench/compare_searches.py on two small synthetic searches."""

import contextlib
import importlib.util
import io
import os

from absl.testing import absltest
import fake_search

from pnas_tf.config import search_config
from pnas_tf.nas import controller
from pnas_tf.nas import executors
from pnas_tf.nas import search_store

_BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), "bench", "compare_searches.py")


def _load_bench():
  spec = importlib.util.spec_from_file_location("compare_searches", _BENCH)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


bench = _load_bench()  # once: it defines a flag


class CompareSearchesTest(absltest.TestCase):

  def test_table_and_models_needed(self):
    directories = []
    for strategy in ("pnas", "random"):
      directory = os.path.join(self.create_tempdir().full_path, strategy)
      store = search_store.SearchStore(directory)
      store.check_settings({"search_strategy": strategy})
      run = controller.Collaborators(
          config=search_config.SearchConfig(max_blocks=3, beam_size=8,
                                            search_strategy=strategy),
          store=store, executor=executors.SerialExecutor(
              fake_search.SyntheticEvaluator()),
          new_predictor=fake_search.LinearPredictor,
          load_predictor=fake_search.LinearPredictor.load)
      search = (controller.random_search if strategy == "random"
                else controller.progressive_search)
      search(run)
      directories.append(directory)
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
      bench.main(["compare_searches", *directories])
    lines = output.getvalue().splitlines()
    self.assertEqual(lines[0], "| models | pnas (pnas) | random (random) |")
    self.assertEqual(lines[2].split(" | ")[0], "| 10")
    self.assertIn("| 152 |", lines[-3])  # 136 + 2 x 8, the last row
    self.assertTrue(lines[-1].startswith(
        "models needed to reach random (random)'s final best"))
    pnas_curve, random_curve = (
        bench.best_so_far(search_store.SearchStore(d).records().values())
        for d in directories)
    self.assertEqual(bench.models_to_reach(random_curve, random_curve[-1]),
                     random_curve.index(random_curve[-1]) + 1)
    self.assertGreaterEqual(pnas_curve[-1], random_curve[-1])

  def test_curve_helpers(self):
    records = [search_store.ChildRecord("c", 1, "ok", a, order=i)
               for i, a in enumerate([0.5, 0.7, 0.6, 0.9])]
    records.append(search_store.ChildRecord("d", 1, "failed", float("nan"),
                                            order=4))
    curve = bench.best_so_far(records)
    self.assertEqual(curve, [0.5, 0.7, 0.7, 0.9, 0.9])
    self.assertEqual(bench.models_to_reach(curve, 0.7), 2)
    self.assertIsNone(bench.models_to_reach(curve, 0.95))


if __name__ == "__main__":
  absltest.main()
