"""Tests for bench/compare_searches.py on small synthetic searches."""

import contextlib
import io
import json
import math
import os
import shutil
import tempfile

from absl.testing import absltest
import bench_scripts
from absl.testing import flagsaver
import fake_search
import numpy as np
import png_chunks

from pnas_tf.config import search_config
from pnas_tf.nas import controller
from pnas_tf.nas import executors
from pnas_tf.nas import search_reporting
from pnas_tf.nas import search_store

bench = bench_scripts.load("compare_searches")


def _search(directory: str, strategy: str, seed: int) -> str:
  """A finished synthetic search of 152 children (B = 3, K = 8)."""
  store = search_store.SearchStore(directory)
  store.check_settings({"search_strategy": strategy})
  run = controller.Collaborators(
      config=search_config.SearchConfig(max_blocks=3, beam_size=8,
                                        search_strategy=strategy, seed=seed),
      store=store, executor=executors.SerialExecutor(
          fake_search.SyntheticEvaluator()),
      new_predictor=fake_search.LinearPredictor,
      load_predictor=fake_search.LinearPredictor.load)
  search = (controller.random_search if strategy == "random"
            else controller.progressive_search)
  search(run)
  return directory


def _curve(directory: str) -> list[float]:
  return search_reporting.best_so_far(
      search_store.SearchStore(directory).records().values())


def _output(directories: list[str]) -> list[str]:
  output = io.StringIO()
  with contextlib.redirect_stdout(output):
    bench.main(["compare_searches", *directories])
  return output.getvalue().splitlines()


class CompareSearchesTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.root = tempfile.mkdtemp()
    cls.pnas = _search(os.path.join(cls.root, "pnas"), "pnas", 0)
    cls.random = [_search(os.path.join(cls.root, f"random_s{seed}"),
                          "random", seed) for seed in (0, 1)]

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.root)
    super().tearDownClass()

  def test_two_directories(self):
    lines = _output([self.pnas, self.random[0]])
    table = lines.index("| models | pnas (1 run) | random (1 run) |")
    self.assertEqual(lines[table + 2].split(" | ")[0], "| 10")
    # 15 rows to 150, then the last: 152 = 136 + 2 x 8.
    self.assertTrue(lines[table + 17].startswith("| 152 |"))
    random_curve = _curve(self.random[0])
    self.assertIn(f"Target: random's mean final best over 1 run, "
                  f"{random_curve[-1]:.4f}.", lines)
    needed = random_curve.index(random_curve[-1]) + 1
    self.assertIn(f"| random | {self.random[0]} | {random_curve[-1]:.4f} | "
                  f"{needed} |", lines)
    self.assertGreaterEqual(_curve(self.pnas)[-1], random_curve[-1])

  def test_several_directories_per_strategy(self):
    lines = _output([self.random[0], self.pnas, self.random[1]])
    table = lines.index("| models | random (2 runs) | pnas (1 run) |")
    curves = [_curve(d) for d in self.random]
    at_20 = [curve[19] for curve in curves]
    self.assertEqual(lines[table + 3],
                     f"| 20 | {np.mean(at_20):.4f} [{min(at_20):.4f}, "
                     f"{max(at_20):.4f}] | {_curve(self.pnas)[19]:.4f} |")
    goal = np.mean([curve[-1] for curve in curves])
    self.assertIn(f"Target: random's mean final best over 2 runs, "
                  f"{goal:.4f}.", lines)
    needed = [bench.models_to_reach(curve, goal) for curve in curves]
    # Below the mean of two different finals, one run never reaches it.
    self.assertEqual(sum(n is None for n in needed),
                     int(curves[0][-1] != curves[1][-1]))
    for directory, n in zip(self.random, needed):
      self.assertTrue(any(line.startswith(f"| random | {directory} |")
                          and line.endswith(f" | {n or 'never'} |")
                          for line in lines), directory)
    self.assertTrue(any(line.startswith("| random | mean | ")
                        for line in lines))

  def _with_predictor(self, directory: str, predictor: str) -> str:
    """A copy of a search whose settings name `predictor`."""
    copy = os.path.join(self.create_tempdir().full_path, "copy")
    shutil.copytree(directory, copy)
    with open(os.path.join(copy, "search.json")) as stream:
      saved = json.load(stream)
    saved["settings"]["predictor"] = predictor
    with open(os.path.join(copy, "search.json"), "w") as stream:
      json.dump(saved, stream)
    return copy

  def test_pnas_runs_are_grouped_by_their_predictor(self):
    mlp = self._with_predictor(self.pnas, "mlp_ensemble")
    lstm = self._with_predictor(self.pnas, "lstm_ensemble")
    # Random search draws its cells: its predictor setting names no group.
    random = self._with_predictor(self.random[0], "mlp_ensemble")
    lines = _output([lstm, mlp, random])
    self.assertIn("| models | pnas, lstm_ensemble (1 run) | "
                  "pnas, mlp_ensemble (1 run) | random (1 run) |", lines)

  def test_plot(self):
    path = os.path.join(self.create_tempdir().full_path, "curves.png")
    with flagsaver.flagsaver(plot=path):
      lines = _output([self.pnas, *self.random])
    self.assertEqual(lines[-1], f"plot: {path}")
    with open(path, "rb") as stream:
      size, texts = png_chunks.size_and_texts(stream.read())
    self.assertEqual(size, (640, 480))
    self.assertEqual(texts["Title"],
                     "Best validation accuracy so far: pnas vs random")

  def test_the_largest_cells_each_strategy_trained(self):
    lines = _output([self.pnas, *self.random])

    def largest(directory):
      records = sorted(search_store.SearchStore(directory).records().values(),
                       key=lambda r: r.order)
      return [r.accuracy for r in records if r.num_blocks == 3]

    table = lines.index("| strategy | 3-block cells trained per run | "
                        "their mean accuracy | mean of the best 5 of the "
                        "first 8 |")
    pnas = largest(self.pnas)
    self.assertLen(pnas, 8)  # Round 3's K = 8: the fewest.
    self.assertEqual(lines[table + 2],
                     f"| pnas (1 run) | 8 | {np.mean(pnas):.4f} | "
                     f"{np.mean(sorted(pnas, reverse=True)[:5]):.4f} |")
    random_runs = [largest(d) for d in self.random]
    means = [np.mean(a) for a in random_runs]
    # Random search's best 5 of its first 8 cells, not of all 152.
    tops = [np.mean(sorted(a[:8], reverse=True)[:5]) for a in random_runs]
    self.assertGreater(np.mean([np.mean(sorted(a, reverse=True)[:5])
                                for a in random_runs]), np.mean(tops))
    self.assertEqual(
        lines[table + 3],
        f"| random (2 runs) | 152 | {np.mean(means):.4f} "
        f"[{min(means):.4f}, {max(means):.4f}] | {np.mean(tops):.4f} "
        f"[{min(tops):.4f}, {max(tops):.4f}] |")

  def test_models_to_reach(self):
    curve = [-math.inf, 0.5, 0.7, 0.7, 0.9]
    self.assertEqual(bench.models_to_reach(curve, 0.7), 3)
    self.assertIsNone(bench.models_to_reach(curve, 0.95))


if __name__ == "__main__":
  absltest.main()
