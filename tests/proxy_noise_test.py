"""Tests for bench/proxy_noise.py: statistics, cell choice, resuming.

No child trains for real: the trainer is a stand-in that makes records up.
"""

import json
import math
import os

from absl.testing import absltest
import bench_scripts

from pnas_tf.cli import usage
from pnas_tf.nas import search_store

bench = bench_scripts.load("proxy_noise")
_OPERATIONS = ("sep3x3", "sep5x5", "max3x3", "identity")


class NoiseTest(absltest.TestCase):

  def test_identical_seeds(self):
    stats = bench.noise([[0.8, 0.8], [0.7, 0.7], [0.9, 0.9]])
    self.assertEqual(stats.within, 0.0)
    self.assertAlmostEqual(stats.between, 0.1)
    self.assertAlmostEqual(stats.mean, 0.8)
    self.assertEqual(stats.ratio, math.inf)
    self.assertEqual((stats.rho_mean, stats.rho_min, stats.rho_max),
                     (1.0, 1.0, 1.0))

  def test_known_values(self):
    # Cell means 0.3, 0.55, 0.5 (mean 0.45): squared deviations sum to
    # 0.035 over 2 degrees of freedom. Variances over seeds: 0.4^2 / 2,
    # 0.7^2 / 2, 0.4^2 / 2, which average 0.135. Ranks 1 2 3 against
    # 1 3 2: rho = 1 - 6 * 2 / (3 * 8) = 0.5.
    stats = bench.noise([[0.1, 0.5], [0.2, 0.9], [0.3, 0.7]])
    self.assertAlmostEqual(stats.between, math.sqrt(0.0175))
    self.assertAlmostEqual(stats.within, math.sqrt(0.135))
    self.assertAlmostEqual(stats.ratio, math.sqrt(0.0175 / 0.135))
    self.assertAlmostEqual(stats.rho_mean, 0.5)
    self.assertEqual((stats.cells, stats.seeds), (3, 2))

  def test_rho_over_every_pair_of_seeds(self):
    # Seeds 0 and 1 agree (rho 1); seed 2 reverses both (rho -1, twice).
    accuracies = [[0.1, 0.1, 0.4], [0.2, 0.2, 0.3], [0.3, 0.3, 0.2],
                  [0.4, 0.4, 0.1]]
    stats = bench.noise(accuracies)
    self.assertAlmostEqual(stats.rho_mean, -1 / 3)
    self.assertAlmostEqual(stats.rho_min, -1.0)
    self.assertAlmostEqual(stats.rho_max, 1.0)

  def test_undefined_with_too_few(self):
    two_cells = bench.noise([[0.1, 0.2], [0.3, 0.5]])
    self.assertTrue(math.isnan(two_cells.rho_mean))
    self.assertAlmostEqual(two_cells.within, math.sqrt(0.025 / 2))
    one_seed = bench.noise([[0.1], [0.2], [0.3]])
    self.assertTrue(math.isnan(one_seed.within))
    self.assertTrue(math.isnan(one_seed.ratio))
    self.assertTrue(math.isnan(one_seed.rho_mean))
    self.assertAlmostEqual(one_seed.between, 0.1)
    self.assertTrue(math.isnan(bench.noise([[0.5, 0.6]]).between))
    self.assertEqual(bench.noise(bench.np.zeros((0, 3))).cells, 0)


class CellChoiceTest(absltest.TestCase):

  def test_spread_distinct_canonical_within_operations(self):
    cells = bench.choose_cells(12, 3, _OPERATIONS, cell_seed=0)
    self.assertLen(cells, 12)
    self.assertLen(set(cells), 12)
    self.assertEqual([cell.num_blocks for cell in cells], [1] * 4 + [2] * 4
                     + [3] * 4)
    for cell in cells:
      self.assertTrue(cell.is_canonical())
      for block in cell.blocks:
        self.assertContainsSubset({block.op1, block.op2}, _OPERATIONS)

  def test_deterministic_for_a_cell_seed(self):
    first = bench.choose_cells(6, 3, _OPERATIONS, cell_seed=4)
    self.assertEqual(bench.choose_cells(6, 3, _OPERATIONS, cell_seed=4),
                     first)
    self.assertNotEqual(bench.choose_cells(6, 3, _OPERATIONS, cell_seed=5),
                        first)

  def test_uneven_counts(self):
    self.assertEqual(bench.blocks_per_cell(2, 3), [1, 2])
    self.assertEqual(bench.blocks_per_cell(4, 3), [1, 1, 2, 3])
    self.assertEqual(bench.blocks_per_cell(3, 1), [1, 1, 1])

  def test_too_many_for_the_operations(self):
    # identity only: identity:0+identity:0, :0+:1 and :1+:1.
    self.assertLen(bench.choose_cells(3, 1, ["identity"], 0), 3)
    with self.assertRaisesRegex(ValueError, "only 3 distinct cells"):
      bench.choose_cells(4, 1, ["identity"], 0)


def _accuracy(cell, seed) -> float:
  """Made up, but a function of the cell and the seed."""
  return 0.5 + (int(search_store.child_key(cell)[:6], 16) % 97) / 400 + (
      seed / 1000)


class FakeTrainer:
  """Makes a record up per child; can stop (as if killed) after a few."""

  def __init__(self, stop_after=None, failing=()):
    self.trained = []
    self.stop_after = stop_after
    self.failing = set(failing)

  def __call__(self, children):
    for child in children:
      if len(self.trained) == self.stop_after:
        raise KeyboardInterrupt
      self.trained.append((child.cell, child.seed))
      cell = child.cell
      if (cell, child.seed) in self.failing:
        yield child, search_store.ChildRecord(
            cell=str(cell), num_blocks=cell.num_blocks, status="failed",
            accuracy=math.nan, reason="the loss became NaN", seconds=2.0)
      else:
        yield child, search_store.ChildRecord(
            cell=str(cell), num_blocks=cell.num_blocks, status="ok",
            accuracy=_accuracy(cell, child.seed), params=1000, seconds=30.0)


class ResumeTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.records_dir = self.create_tempdir("records").full_path
    self.work_dir = self.create_tempdir("work").full_path
    self.settings = {"epochs": 3, "seed": 10, "operations": list(_OPERATIONS),
                     "cells": 4}
    self.cells = bench.cells_in(
        self.records_dir, self.settings,
        {"flagfile": "flags/proxy.cfg", "commit": "abc"},
        lambda: bench.choose_cells(4, 2, _OPERATIONS, 0))
    self.seeds = [10, 11]

  def test_cells_recorded_once_and_settings_checked(self):
    with open(os.path.join(self.records_dir, bench.CELLS_FILE)) as stream:
      saved = json.load(stream)
    self.assertEqual(saved["cells"], [str(cell) for cell in self.cells])
    self.assertEqual((saved["flagfile"], saved["commit"]),
                     ("flags/proxy.cfg", "abc"))
    self.assertEqual(saved["settings"], self.settings)

    def choose_again():
      raise AssertionError("the cells were chosen again")

    self.assertEqual(bench.cells_in(self.records_dir, self.settings,
                                    {"commit": "def"}, choose_again),
                     self.cells)
    with self.assertRaisesRegex(usage.UsageError,
                                "--epochs=3 before, 5 now.*--records_dir"):
      bench.cells_in(self.records_dir, dict(self.settings, epochs=5), {},
                     choose_again)

  def test_work_dir_settings_checked(self):
    bench.check_work_dir(self.work_dir, self.settings)
    bench.check_work_dir(self.work_dir, self.settings)
    with self.assertRaisesRegex(usage.UsageError, "--seed=10 before, 0 now"):
      bench.check_work_dir(self.work_dir, dict(self.settings, seed=0))

  def test_second_run_trains_only_the_missing_children(self):
    interrupted = FakeTrainer(stop_after=3)
    with self.assertRaises(KeyboardInterrupt):
      bench.run(self.cells, self.seeds, self.records_dir, self.work_dir,
                interrupted)
    every = [(cell, seed) for cell in self.cells for seed in self.seeds]
    self.assertEqual(interrupted.trained, every[:3])
    for cell, seed in every[:3]:
      with open(bench.record_path(self.records_dir, cell, seed)) as stream:
        record = json.load(stream)
      self.assertEqual(record["seed"], seed)
      self.assertEqual(record["cell"], str(cell))
      self.assertEqual(record["num_blocks"], cell.num_blocks)
      self.assertEqual(record["status"], "ok")
      self.assertAlmostEqual(record["accuracy"], _accuracy(cell, seed))
      self.assertEqual((record["params"], record["seconds"]), (1000, 30.0))

    resumed = FakeTrainer()
    self.assertEqual(bench.run(self.cells, self.seeds, self.records_dir,
                               self.work_dir, resumed), 5)
    self.assertEqual(resumed.trained, every[3:])
    again = FakeTrainer()
    self.assertEqual(bench.run(self.cells, self.seeds, self.records_dir,
                               self.work_dir, again), 0)
    self.assertEqual(again.trained, [])

  def test_failed_children_reported_not_retrained(self):
    failing = (self.cells[0], 11)
    bench.run(self.cells, self.seeds, self.records_dir, self.work_dir,
              FakeTrainer(failing=[failing]))
    again = FakeTrainer()
    bench.run(self.cells, self.seeds, self.records_dir, self.work_dir, again)
    self.assertEqual(again.trained, [])
    table = bench.report(self.cells, self.seeds, self.records_dir)
    lines = table.splitlines()
    self.assertEqual(lines[0], "| | all | b = 1 | b = 2 |")
    self.assertIn("| cells with every seed ok | 3 of 4 | 1 of 2 | 2 of 2 |",
                  lines)
    self.assertIn("| children recorded | 8 of 8 | 4 of 4 | 4 of 4 |", lines)
    self.assertIn("| children failed | 1 | 1 | 0 |", lines)
    # 7 children of 30 s, the failed one 2 s.
    self.assertIn("| child training seconds, summed | 212 | 92 | 120 |",
                  lines)
    self.assertIn("| seconds per child | 26.5 | 23.0 | 30.0 |", lines)
    self.assertEqual(lines[-1], f"failed: {self.cells[0]} seed 11: the loss "
                     "became NaN")

  def test_report_statistics_match_noise(self):
    bench.run(self.cells, self.seeds, self.records_dir, self.work_dir,
              FakeTrainer())
    stats = bench.noise([[_accuracy(cell, seed) for seed in self.seeds]
                         for cell in self.cells])
    lines = bench.report(self.cells, self.seeds, self.records_dir).splitlines()
    between = next(line for line in lines if line.startswith("| between "))
    self.assertEqual(between.split(" | ")[1], f"{stats.between:.4f}")
    rho = next(line for line in lines if line.startswith("| rho of two"))
    self.assertEqual(rho.split(" | ")[1:], [f"{stats.rho_mean:.3f}", "-",
                                            "- |"])

  def test_report_of_a_partial_run(self):
    table = bench.report(self.cells, self.seeds, self.records_dir)
    self.assertIn("| children recorded | 0 of 8 | 0 of 4 | 0 of 4 |", table)
    self.assertIn("| seconds per child | - | - | - |", table)


class FlagfileTest(absltest.TestCase):

  def test_last_flagfile_in_either_form(self):
    self.assertEqual(bench.flagfile_of(
        ["x", "--flagfile=flags/a.cfg", "--cells=2"]), "flags/a.cfg")
    self.assertEqual(bench.flagfile_of(
        ["x", "--flagfile=a.cfg", "-flagfile", "b.cfg"]), "b.cfg")
    self.assertIsNone(bench.flagfile_of(["x", "--cells=2", "flagfile=c"]))


if __name__ == "__main__":
  absltest.main()
