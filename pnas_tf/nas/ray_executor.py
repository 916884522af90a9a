"""Trains a search's children as Ray tasks, on a running cluster or a local one.

Ray is optional (requirements-ray.txt) and loads only when this executor is
chosen. Each child is one task, asking for 1 CPU and, where the cluster has
GPUs, 1 / children_per_gpu of a GPU (fractional shares pack several children
on one GPU; 1/n gives each child n GPUs, over which MirroredStrategy trains
it). Each task runs in a fresh worker process (max_calls=1), so host memory
stays flat. Ray itself retries a task whose worker died or whose node was
lost (max_retries); a child still dead after that comes back failed, and the
search goes on. The child's epoch backups live in its directory, so a retry
continues from its last finished epoch when the directory is shared storage
every node reaches (see the README's "Output directory on shared storage").

Example:
  executor = RayExecutor(evaluate, address="auto", max_retries=2)
  for task, record in executor.run(tasks):
    ...
  executor.close()
"""

import os
from typing import Sequence

from absl import logging

import pnas_tf
from pnas_tf.nas import child_process
from pnas_tf.nas import executors

REQUIREMENTS = "requirements-ray.txt"


class RayUnavailableError(Exception):
  """Ray is not installed, or its cluster cannot be reached (one line)."""


def import_ray():
  """The ray module; RayUnavailableError (one line) if not installed."""
  try:
    import ray  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise RayUnavailableError(
        f"--executor=ray needs Ray: pip install -r {REQUIREMENTS}") from None
  return ray


def _train(environment, evaluate, cell, directory):
  # In a Ray worker: the thread share is set before TensorFlow loads.
  return child_process.call_with_environment(environment, evaluate, cell,
                                             directory)


class RayExecutor:
  """Children as Ray tasks (see the module docstring)."""

  def __init__(self, evaluate: executors.Evaluate, address: str | None = None,
               num_workers: int = 0, children_per_gpu: float = 1.0,
               max_retries: int = 2):
    """Args:
      evaluate: trains a child (cell, directory) -> ChildRecord; it must
        pickle.
      address: a running cluster ("auto", "host:6379", "ray://host:10001");
        None starts a local cluster for this search alone.
      num_workers: the local cluster's CPUs, so children at once (0: all);
        on a running cluster, children at once at most (0: as many as its
        resources take).
      children_per_gpu: children per GPU where the cluster has GPUs.
      max_retries: trainings more for a child whose worker died.

    Raises:
      RayUnavailableError: without Ray, or when the cluster is unreachable.
    """
    ray = self._ray = import_ray()
    self._started_here = not ray.is_initialized()
    if self._started_here:
      options = dict(include_dashboard=False, log_to_driver=True,
                     # Workers import pnas_tf from this very tree.
                     runtime_env={"py_modules": [_package_directory()]})
      # "local": a new cluster, even where RAY_ADDRESS or a running one
      # would otherwise be joined.
      options["address"] = address or "local"
      if num_workers and not address:
        options["num_cpus"] = num_workers
      try:
        ray.init(**options)
      except (ConnectionError, RuntimeError, ValueError) as error:
        where = (f"--ray_address={address}" if address
                 else "starting a local Ray cluster")
        raise RayUnavailableError(f"{where}: {_first_line(error)}") from None
    gpus = ray.cluster_resources().get("GPU", 0)
    self._num_gpus = 1 / children_per_gpu if gpus else 0
    self._limit = num_workers if address else 0
    self._evaluate = evaluate
    self._max_retries = max_retries
    # What Ray raises once a task's worker died on every try; any other
    # Ray error (a runtime environment that cannot be set up) propagates.
    self._worker_deaths = (ray.exceptions.WorkerCrashedError,
                           ray.exceptions.NodeDiedError,
                           ray.exceptions.OutOfMemoryError,
                           ray.exceptions.ObjectLostError)
    # One CPU a child: TensorFlow's thread pools sized to it.
    self._environment = {"TF_NUM_INTRAOP_THREADS": "1",
                         "TF_NUM_INTEROP_THREADS": "1",
                         "OMP_NUM_THREADS": "1"}
    if self._num_gpus and children_per_gpu > 1:
      self._environment.update(executors.SHARED_GPU_ENVIRONMENT)
    logging.info("Ray: %s; %s GPU(s) per child", ray.cluster_resources(),
                 f"{self._num_gpus:g}")

  def run(self, tasks: Sequence[executors.ChildTask]):
    ray = self._ray
    train = ray.remote(
        num_cpus=1, num_gpus=self._num_gpus, max_calls=1,
        max_retries=self._max_retries, retry_exceptions=False)(_train)
    evaluate = ray.put(self._evaluate)
    waiting = list(reversed(tasks))
    pending = {}
    try:
      while waiting or pending:
        while waiting and (not self._limit or len(pending) < self._limit):
          task = waiting.pop()
          pending[train.remote(self._environment, evaluate, task.cell,
                               task.directory)] = task
        (ready,), _ = ray.wait(list(pending), num_returns=1)
        task = pending.pop(ready)
        try:
          record = ray.get(ready)
        except ray.exceptions.RayTaskError as error:
          # The training raised: a bug, as in any other executor.
          raise error.as_instanceof_cause() from None
        except self._worker_deaths as error:
          record = executors.failed_record(
              task, f"its Ray worker died {self._max_retries + 1} times; "
              f"last: {_first_line(error)}")
        yield task, record
    finally:
      for ref in pending:
        ray.cancel(ref, force=True)

  def close(self) -> None:
    if self._started_here and self._ray.is_initialized():
      self._ray.shutdown()


def _package_directory() -> str:
  """The pnas_tf package root, shipped whole: children import every layer."""
  return os.path.dirname(os.path.abspath(pnas_tf.__file__))


def _first_line(error: BaseException) -> str:
  text = str(error).strip()
  return text.splitlines()[0] if text else type(error).__name__
