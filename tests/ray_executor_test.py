"""Tests for pnas_tf.nas.ray_executor on a local Ray cluster of 2 CPUs."""

import os
import unittest

from absl.testing import absltest
import fake_children
import tiny_real_search

from pnas_tf.nas import executors
from pnas_tf.nas import ray_executor
from pnas_tf.space import search_space

try:
  import ray  # pylint: disable=g-import-not-at-top
except ImportError:  # Ray is optional: requirements-ray.txt.
  ray = None

_NEEDS_RAY = unittest.skipIf(
    ray is None, "needs Ray: pip install -r requirements-ray.txt")

_CELLS = [search_space.Cell.parse(text) for text in (
    "sep3x3:0+max3x3:1", "sep5x5:0+identity:1", "max3x3:0+max3x3:1")]


@_NEEDS_RAY
class RayExecutorTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    # Ray's workers do not see the tests directory: send the fakes along.
    ray.cloudpickle.register_pickle_by_value(fake_children)
    # The first executor starts the local cluster (2 CPUs); the others in
    # this class reuse it, and this one shuts it down at the end.
    cls.cluster = ray_executor.RayExecutor(fake_children.ReportsEnvironment(),
                                           num_workers=2)

  @classmethod
  def tearDownClass(cls):
    cls.cluster.close()
    assert not ray.is_initialized()
    super().tearDownClass()

  def _run(self, evaluate, max_retries=2, cells=_CELLS[:2]):
    root = self.create_tempdir().full_path
    tasks = [executors.ChildTask(cell, os.path.join(root, str(index)))
             for index, cell in enumerate(cells)]
    executor = ray_executor.RayExecutor(evaluate, max_retries=max_retries)
    finished = list(executor.run(tasks))
    executor.close()  # not started here: leaves the cluster running
    self.assertTrue(ray.is_initialized())
    return tasks, finished

  def test_the_local_cluster_has_2_cpus_and_trains_2_at_once(self):
    self.assertEqual(ray.cluster_resources()["CPU"], 2)
    tasks, finished = self._run(fake_children.WaitsForAnother())
    self.assertCountEqual([task for task, _ in finished], tasks)
    self.assertTrue(fake_children.overlap([task.directory for task in tasks]))

  def test_each_child_gets_a_fresh_worker_with_one_thread(self):
    _, finished = self._run(fake_children.ReportsEnvironment(), cells=_CELLS)
    reasons = [record.reason for _, record in finished]
    self.assertLen({reason.split("pid=")[1] for reason in reasons}, 3)
    for reason in reasons:
      self.assertIn("TF_NUM_INTRAOP_THREADS=1", reason)

  def test_a_child_whose_worker_died_is_trained_again(self):
    tasks, finished = self._run(fake_children.DiesFirst(deaths=1),
                                max_retries=1)
    for task, record in finished:
      self.assertTrue(record.ok, record.reason)
      self.assertEqual(fake_children.attempts(task.directory), 2)

  def test_after_its_last_retry_a_child_is_failed_and_the_rest_go_on(self):
    tasks, finished = self._run(fake_children.DiesFirst(deaths=5),
                                max_retries=1, cells=_CELLS)
    self.assertCountEqual([task for task, _ in finished], tasks)
    for task, record in finished:
      self.assertEqual(record.status, "failed")
      self.assertIn("Ray worker died 2 times", record.reason)
      self.assertEqual(fake_children.attempts(task.directory), 2)

  def test_an_error_in_training_propagates(self):
    with self.assertRaisesRegex(ValueError, "bug while training"):
      self._run(fake_children.Raises())

  def test_a_real_search_on_ray_trains_the_same_cells_as_in_process(self):
    root = self.create_tempdir().full_path
    expected, done = tiny_real_search.in_process(root)
    self.assertEqual(done.returncode, 0, done.stderr[-3000:])
    on_ray = tiny_real_search.run(os.path.join(root, "ray"), executor="ray")
    self.assertEqual(on_ray, expected)


if __name__ == "__main__":
  absltest.main()
