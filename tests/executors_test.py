"""Tests for pnas_tf.nas.executors: worker layouts, and children trained in
parallel processes, retried when their process dies."""

import multiprocessing
import os
import time

from absl.testing import absltest
from absl.testing import parameterized
import fake_children

from pnas_tf.cli import terminal
from pnas_tf.config import executor_config
from pnas_tf.nas import executors
from pnas_tf.space import search_space

_CELLS = [search_space.Cell.parse(text) for text in (
    "sep3x3:0+max3x3:1", "sep5x5:0+identity:1", "max3x3:0+max3x3:1",
    "identity:0+sep3x3:1")]


class LocalSlotsTest(parameterized.TestCase):

  def test_cpu_workers_split_the_threads(self):
    self.assertEqual(executors.local_slots(1, num_gpus=0, cpus=8), [{}])
    slots = executors.local_slots(2, num_gpus=0, cpus=8)
    self.assertLen(slots, 2)
    for slot in slots:
      self.assertEqual(slot["TF_NUM_INTRAOP_THREADS"], "4")
      self.assertEqual(slot["OMP_NUM_THREADS"], "4")
    self.assertEqual(executors.local_slots(
        3, num_gpus=0, cpus=2)[0]["TF_NUM_INTRAOP_THREADS"], "1")

  @parameterized.named_parameters(
      ("one_each", 4, 4, 1, ["0", "1", "2", "3"], False),
      ("two_per_gpu", 8, 4, 2, ["0", "0", "1", "1", "2", "2", "3", "3"],
       True),
      ("fewer_workers", 2, 4, 1, ["0", "1"], False),
      ("two_gpus_each", 2, 4, 0.5, ["0,1", "2,3"], False),
      ("four_gpus_each", 2, 8, 0.25, ["0,1,2,3", "4,5,6,7"], False))
  def test_gpu_shares(self, workers, gpus, per_gpu, devices, grows):
    slots = executors.local_slots(workers, num_gpus=gpus, cpus=2,
                                  children_per_gpu=per_gpu)
    self.assertEqual([slot["CUDA_VISIBLE_DEVICES"] for slot in slots],
                     devices)
    self.assertEqual(
        [slot.get("TF_FORCE_GPU_ALLOW_GROWTH") == "true" for slot in slots],
        [grows] * workers)

  def test_gpus_hidden_from_the_search_stay_hidden(self):
    slots = executors.local_slots(1, num_gpus=2, cpus=2,
                                  children_per_gpu=0.5, visible_gpus="5,7")
    self.assertEqual(slots, [{"CUDA_VISIBLE_DEVICES": "5,7"}])
    slots = executors.local_slots(2, num_gpus=2, cpus=2, visible_gpus="5,7")
    self.assertEqual([slot["CUDA_VISIBLE_DEVICES"] for slot in slots],
                     ["5", "7"])

  @parameterized.named_parameters(
      ("no_workers", 0, 0, 1, "num_workers must be >= 1"),
      ("more_than_shares", 5, 4, 1, "more than the 4 GPU shares"),
      ("not_whole", 2, 4, 1.5, "whole number"),
      ("not_one_over_n", 1, 4, 0.4, "must be 1/n"),
      ("too_few_gpus", 1, 1, 0.5, "more than the 0 GPU shares"))
  def test_impossible_layouts_are_refused(self, workers, gpus, per_gpu,
                                          message):
    with self.assertRaisesRegex(ValueError, message):
      executors.local_slots(workers, num_gpus=gpus, cpus=2,
                            children_per_gpu=per_gpu)


class ExecutorConfigTest(parameterized.TestCase):

  @parameterized.named_parameters(
      ("kind", dict(kind="slurm"), "executor must be one of"),
      ("workers", dict(kind="local", num_workers=-1), "num_workers"),
      ("inprocess_workers", dict(num_workers=2), "one child at a time"),
      ("per_gpu", dict(children_per_gpu=0), "children_per_gpu"),
      ("retries", dict(max_child_retries=-1), "max_child_retries"),
      ("address", dict(kind="local", ray_address="auto"), "ray only"),
      ("not_one_over_n", dict(kind="ray", children_per_gpu=0.4), "1/n"),
      ("not_isolated", dict(kind="local", isolate=False), "fresh process"))
  def test_bad_values(self, values, message):
    with self.assertRaisesRegex(ValueError, message):
      executor_config.ExecutorConfig(**values)


class LocalExecutorTest(absltest.TestCase):

  def _run(self, evaluate, slots, max_retries=2, cells=_CELLS[:2],
           child_logs=True):
    root = self.create_tempdir().full_path
    tasks = [executors.ChildTask(cell, os.path.join(root, str(index)))
             for index, cell in enumerate(cells)]
    executor = executors.LocalExecutor(evaluate, slots, max_retries,
                                       child_logs)
    return tasks, list(executor.run(tasks))

  def test_a_childs_output_goes_to_its_log_not_the_terminal(self):
    with terminal.captured_output() as terminal_output:
      tasks, finished = self._run(fake_children.Prints(), [{}])
    self.assertLen(finished, 2)
    for task in tasks:
      with open(executors.child_log(task.directory)) as stream:
        log = stream.read()
      self.assertIn(f"python line of {task.cell}", log)
      self.assertIn("native line", log)
    self.assertNotIn("line", terminal_output.text)

  def test_without_child_logs_the_output_reaches_the_terminal(self):
    with terminal.captured_output() as terminal_output:
      tasks, _ = self._run(fake_children.Prints(), [{}], child_logs=False)
    self.assertIn("native line", terminal_output.text)
    self.assertFalse(os.path.exists(executors.child_log(tasks[0].directory)))

  def test_two_workers_train_at_once_each_with_its_share(self):
    slots = executors.local_slots(2, num_gpus=0, cpus=2)
    tasks, finished = self._run(fake_children.WaitsForAnother(), slots)
    self.assertCountEqual([task for task, _ in finished], tasks)
    self.assertTrue(fake_children.overlap([task.directory for task in tasks]))
    tasks, finished = self._run(fake_children.ReportsEnvironment(), slots)
    reasons = [record.reason for _, record in finished]
    for reason in reasons:
      self.assertIn("TF_NUM_INTRAOP_THREADS=1", reason)
    pids = {reason.split("pid=")[1] for reason in reasons}
    self.assertNotIn(str(os.getpid()), pids)

  def test_one_worker_trains_one_at_a_time_in_fresh_processes(self):
    tasks, finished = self._run(fake_children.WaitsForAnother(timeout=1),
                                [{}])
    self.assertEqual([task for task, _ in finished], tasks)
    self.assertFalse(fake_children.overlap([task.directory for task in tasks]))
    _, finished = self._run(fake_children.ReportsEnvironment(), [{}])
    pids = {record.reason.split("pid=")[1] for _, record in finished}
    self.assertLen(pids, 2)

  def test_a_child_whose_process_died_is_trained_again(self):
    tasks, finished = self._run(fake_children.DiesFirst(deaths=2), [{}, {}],
                                max_retries=2)
    self.assertLen(finished, 2)
    for task, record in finished:
      self.assertTrue(record.ok, record.reason)
      self.assertEqual(fake_children.attempts(task.directory), 3)

  def test_after_its_last_retry_a_child_is_failed_and_the_rest_go_on(self):
    tasks, finished = self._run(fake_children.DiesFirst(deaths=5), [{}, {}],
                                max_retries=1, cells=_CELLS)
    self.assertCountEqual([task for task, _ in finished], tasks)
    for task, record in finished:
      self.assertFalse(record.ok)
      self.assertEqual(record.status, "failed")
      self.assertIn("process died 2 times; last: killed by SIGKILL",
                    record.reason)
      self.assertEqual(record.cell, str(task.cell.canonical()))
      self.assertEqual(fake_children.attempts(task.directory), 2)

  def test_an_error_in_training_propagates(self):
    with self.assertRaisesRegex(ValueError, "bug while training"):
      self._run(fake_children.Raises(), [{}, {}])

  def test_a_child_that_cannot_start_is_an_error_not_a_death(self):
    with self.assertRaisesRegex(RuntimeError, "exited with status 1 without "
                                "a result; its output is in .*child.log"):
      self._run(fake_children.ExitsAtOnce(), [{}], max_retries=3)

  def test_closing_the_run_ends_the_children_still_training(self):
    root = self.create_tempdir().full_path
    tasks = [executors.ChildTask(cell, os.path.join(root, str(index)))
             for index, cell in enumerate(_CELLS[:2])]
    executor = executors.LocalExecutor(fake_children.SleepsUnlessFirst(),
                                       [{}, {}])
    finished = executor.run(tasks)
    first, _ = next(finished)
    self.assertEqual(first, tasks[0])
    with open(os.path.join(tasks[1].directory, "pid")) as stream:
      sleeping = int(stream.read())
    self.assertTrue(_alive(sleeping))
    finished.close()
    self.assertFalse(_alive(sleeping))


class ChildProcessTest(absltest.TestCase):

  def test_a_child_dies_with_the_process_that_started_it(self):
    # A search killed with SIGKILL must not leave children training on in
    # the directories its rerun trains them in again.
    pid_file = os.path.join(self.create_tempdir().full_path, "pid")
    context = multiprocessing.get_context("spawn")
    controller = context.Process(target=fake_children.controller_with_a_child,
                                 args=(pid_file,))
    controller.start()
    deadline = time.monotonic() + 60
    while not os.path.exists(pid_file):
      self.assertLess(time.monotonic(), deadline, "the child never started")
      time.sleep(0.05)
    with open(pid_file) as stream:
      child = int(stream.read())
    self.assertTrue(_alive(child))
    controller.kill()
    controller.join()
    deadline = time.monotonic() + 30
    while _alive(child) and time.monotonic() < deadline:
      time.sleep(0.05)
    self.assertFalse(_alive(child))


def _alive(pid) -> bool:
  try:
    with open(f"/proc/{pid}/stat") as stream:
      return stream.read().split(") ")[1][0] != "Z"  # a zombie is dead
  except FileNotFoundError:
    return False


class SerialExecutorTest(absltest.TestCase):

  def test_trains_in_order_in_this_process(self):
    root = self.create_tempdir().full_path
    tasks = [executors.ChildTask(cell, os.path.join(root, str(index)))
             for index, cell in enumerate(_CELLS)]
    finished = list(executors.SerialExecutor(
        fake_children.ReportsEnvironment()).run(tasks))
    self.assertEqual([task for task, _ in finished], tasks)
    for _, record in finished:
      self.assertIn(f"pid={os.getpid()}", record.reason)


if __name__ == "__main__":
  absltest.main()
