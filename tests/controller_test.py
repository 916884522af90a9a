"""Tests for controller: whole searches with a synthetic evaluator."""

import os

from absl.testing import absltest
from absl.testing import parameterized
import fake_search

from pnas_tf.config import predictor_config
from pnas_tf.config import search_config
from pnas_tf.nas import controller
from pnas_tf.nas import executors
from pnas_tf.nas import search_store
from pnas_tf.predictor import predictors
from pnas_tf.space import search_space


_Evaluator = fake_search.SyntheticEvaluator


def _run(directory, evaluator, strategy="pnas", max_blocks=3, beam_size=16,
         seed=0, new_predictor=fake_search.LinearPredictor,
         load_predictor=fake_search.LinearPredictor.load, executor=None):
  return controller.Collaborators(
      config=search_config.SearchConfig(
          max_blocks=max_blocks, beam_size=beam_size,
          search_strategy=strategy, seed=seed),
      store=search_store.SearchStore(directory),
      executor=executor or executors.SerialExecutor(evaluator),
      new_predictor=new_predictor, load_predictor=load_predictor)


def _search(run):
  if run.config.search_strategy == "random":
    return controller.random_search(run)
  return controller.progressive_search(run)


class ProgressiveSearchTest(parameterized.TestCase):

  @parameterized.parameters((2, 8), (3, 16), (4, 5))
  def test_trains_136_then_k_per_round(self, max_blocks, beam_size):
    evaluator = _Evaluator()
    ranking = _search(_run(self.create_tempdir().full_path, evaluator,
                           max_blocks=max_blocks, beam_size=beam_size))
    budget = 136 + (max_blocks - 1) * beam_size
    self.assertLen(evaluator.calls, budget)
    self.assertLen(set(evaluator.calls), budget)
    self.assertLen(ranking, budget)
    sizes = [cell.num_blocks for cell in evaluator.calls]
    self.assertEqual(sizes, [1] * 136 + sum(
        ([b] * beam_size for b in range(2, max_blocks + 1)), []))
    accuracies = [record.accuracy for record in ranking]
    self.assertEqual(accuracies, sorted(accuracies, reverse=True))

  def test_a_round_expands_the_best_of_the_last(self):
    evaluator = _Evaluator()
    directory = self.create_tempdir().full_path
    _search(_run(directory, evaluator, max_blocks=2, beam_size=8))
    round_one = {cell: evaluator.truth(cell) for cell in evaluator.calls[:136]}
    best = sorted(round_one, key=round_one.get, reverse=True)[:8]
    children = set(search_space.expand_all(best))
    self.assertTrue(set(evaluator.calls[136:]) <= children)
    beam, predicted = search_store.SearchStore(directory).load_round(2)
    self.assertEqual(beam, evaluator.calls[136:])
    self.assertEqual(predicted, sorted(predicted, reverse=True))

  def test_pnas_beats_random_search_on_the_same_budget(self):
    wins = 0
    for seed in range(3):
      best = {}
      for strategy in ("pnas", "random"):
        evaluator = _Evaluator(seed=seed)
        ranking = _search(_run(self.create_tempdir().full_path, evaluator,
                               strategy=strategy, seed=seed))
        self.assertLen(evaluator.calls, 136 + 2 * 16)
        best[strategy] = ranking[0].accuracy
      wins += best["pnas"] > best["random"]
    self.assertEqual(wins, 3)

  def test_interrupted_search_resumes_and_trains_each_cell_once(self):
    uninterrupted = _Evaluator()
    expected = _search(_run(self.create_tempdir().full_path, uninterrupted))
    directory = self.create_tempdir().full_path
    calls = []
    for crash_after in (50, 100, 150):
      evaluator = _Evaluator(crash_after=crash_after - len(calls))
      with self.assertRaises(KeyboardInterrupt):
        _search(_run(directory, evaluator))
      calls += evaluator.calls
    evaluator = _Evaluator()
    ranking = _search(_run(directory, evaluator))
    calls += evaluator.calls
    self.assertEqual(calls, uninterrupted.calls)
    self.assertEqual(ranking, expected)

  @parameterized.parameters("pnas", "random")
  def test_finishing_order_changes_nothing(self, strategy):
    # Accuracies in steps of 0.02 tie often; children that finish in any
    # order must still choose the same parents and train the same cells.
    serial = _search(_run(self.create_tempdir().full_path,
                          _Evaluator(step=0.02), strategy=strategy))
    shuffled = _search(_run(
        self.create_tempdir().full_path, None, strategy=strategy,
        executor=fake_search.ShuffledExecutor(_Evaluator(step=0.02))))
    self.assertGreater(len(serial), len({r.accuracy for r in serial}) + 50)
    self.assertEqual(shuffled, serial)
    self.assertEqual(sorted(r.order for r in shuffled),
                     list(range(len(shuffled))))

  def test_parallel_rounds_cut_short_resume_to_the_same_search(self):
    expected = _search(_run(self.create_tempdir().full_path,
                            _Evaluator(step=0.02)))
    directory = self.create_tempdir().full_path
    # Crashes in the middle of round 1, then of round 2 (136 + 16 + 16).
    for seed, crash_after in ((1, 50), (2, 100)):
      with self.assertRaises(KeyboardInterrupt):
        _search(_run(directory, None, executor=fake_search.ShuffledExecutor(
            _Evaluator(step=0.02), seed=seed, crash_after=crash_after)))
    resumed = _search(_run(directory, None, executor=(
        fake_search.ShuffledExecutor(_Evaluator(step=0.02), seed=3))))
    self.assertEqual(resumed, expected)

  def test_a_search_of_one_block_cells_fits_no_predictor(self):
    directory = self.create_tempdir().full_path
    ranking = _search(_run(directory, _Evaluator(), max_blocks=1,
                           new_predictor=lambda: 1 / 0))
    self.assertLen(ranking, len(search_space.initial_cells()))

  def test_real_predictor_round_trips_through_the_store(self):
    config = predictor_config.PredictorConfig(
        kind="mlp", max_blocks=2, epochs=3, batch_size=64)
    directory = self.create_tempdir().full_path
    run = _run(directory, _Evaluator(), max_blocks=2, beam_size=4,
               new_predictor=lambda: predictors.Predictor(config),
               load_predictor=predictors.Predictor.load)
    first = _search(run)
    self.assertTrue(os.path.isdir(os.path.join(directory, "predictor",
                                               "round_1")))
    again = _Evaluator()
    self.assertEqual(_search(_run(directory, again, max_blocks=2, beam_size=4,
                                  new_predictor=lambda: 1 / 0,
                                  load_predictor=predictors.Predictor.load)),
                     first)
    self.assertEqual(again.calls, [])

  def test_raising_b_continues_a_finished_search(self):
    directory = self.create_tempdir().full_path
    _search(_run(directory, _Evaluator(), max_blocks=2, beam_size=8))
    deeper = _Evaluator()
    ranking = _search(_run(directory, deeper, max_blocks=3, beam_size=8))
    self.assertLen(deeper.calls, 8)
    self.assertTrue(all(cell.num_blocks == 3 for cell in deeper.calls))
    self.assertLen(ranking, 136 + 16)


class RandomSearchTest(absltest.TestCase):

  def test_samples_distinct_canonical_cells_of_b_blocks(self):
    cells = controller.sample_cells(3, 200, seed=4)
    self.assertLen(set(cells), 200)
    self.assertTrue(all(c.num_blocks == 3 and c.is_canonical() for c in cells))
    self.assertEqual(cells, controller.sample_cells(3, 200, seed=4))
    self.assertNotEqual(cells, controller.sample_cells(3, 200, seed=5))

  def test_stops_at_the_size_of_the_space(self):
    self.assertLen(controller.sample_cells(1, 1000, seed=0), 136)
    self.assertLen(controller.sample_cells(1, 1000, seed=0, operations=(
        "sep3x3", "identity")), 10)


class OperationsTest(absltest.TestCase):

  def test_a_search_over_three_operators(self):
    operations = ("sep3x3", "max3x3", "identity")
    evaluator = _Evaluator()
    run = _run(self.create_tempdir().full_path, evaluator, max_blocks=3,
               beam_size=4)
    run.config = search_config.SearchConfig(
        max_blocks=3, beam_size=4, operations=operations)
    ranking = controller.progressive_search(run)
    # 1-block cells: operands 2 inputs x 3 operators, 6 * 7 / 2 = 21.
    self.assertEqual(run.config.budget, 21 + 2 * 4)
    self.assertLen(evaluator.calls, 29)
    self.assertLen(ranking, 29)
    used = {op for cell in evaluator.calls for block in cell.blocks
            for op in (block.op1, block.op2)}
    self.assertLessEqual(used, set(operations))


if __name__ == "__main__":
  absltest.main()
