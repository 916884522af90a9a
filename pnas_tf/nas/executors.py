"""Where a search's children train: here, in worker processes, or on Ray.

The controller hands each round's untrained children to an executor as
ChildTasks; `run` yields (task, record) for each as it finishes, in any
order, and the controller records it at once. Executors:

  inprocess  SerialExecutor: one child at a time, called in this process
             (--noisolate_children), or LocalExecutor with one worker: one
             child at a time, each in a fresh process (the default).
  local      LocalExecutor: W worker slots on this host, each a share of its
             GPUs (or CPU threads); a fresh process per child in each slot.
  ray        ray_executor.RayExecutor: each child a Ray task with its GPU
             share, on a running cluster or a local one.

A child whose process dies (killed, out of host memory, a lost node) is
trained again, continuing from its last finished epoch, up to
`max_retries` more times; then it comes back failed and the search goes on.
An exception raised by the training itself is a bug and propagates.

config.executor_config.ExecutorConfig holds the flags' choice;
search_runner.make_executor builds the executor from it.

Example:
  executor = LocalExecutor(evaluate, local_slots(2, num_gpus=0, cpus=2))
  for task, record in executor.run([ChildTask(cell, "/tmp/s/children/a")]):
    print(task.cell, record.accuracy)
"""

import collections
import dataclasses
import math
import multiprocessing.connection
import os
from typing import Callable, Iterator, Mapping, Protocol, Sequence

from absl import logging

from pnas_tf.config import executor_config
from pnas_tf.nas import child_process
from pnas_tf.nas import search_store
from pnas_tf.space import search_space
from pnas_tf.storage import files

Cell = search_space.Cell
ChildRecord = search_store.ChildRecord
Evaluate = Callable[[Cell, str], ChildRecord]

@dataclasses.dataclass(frozen=True)
class ChildTask:
  """A child to train: its cell and its own directory."""
  cell: Cell
  directory: str


class Executor(Protocol):
  """Trains children; see the module docstring."""

  def run(self, tasks: Sequence[ChildTask]
          ) -> Iterator[tuple[ChildTask, ChildRecord]]:
    """Trains every task, yielding each with its record as it finishes."""
    ...

  def close(self) -> None:
    """Gives back what the executor holds (a Ray cluster it started)."""
    ...


def child_log(directory: str) -> str | None:
  """Where a child trained in a process of its own writes all its output
  (TensorFlow's start-up lines, warnings, Keras), kept off the terminal;
  None (the terminal) for a directory on object storage, which cannot take
  a file written line by line."""
  if files.is_url(directory):
    return None
  return os.path.join(directory, "child.log")


def failed_record(task: ChildTask, reason: str) -> ChildRecord:
  cell = task.cell.canonical()
  return ChildRecord(cell=str(cell), num_blocks=cell.num_blocks,
                     status="failed", accuracy=math.nan, reason=reason)


class SerialExecutor:
  """`evaluate(cell, directory)` for one task after another, in this process.

  A crash here is the search's crash: there is no worker to retry.
  """

  def __init__(self, evaluate: Evaluate):
    self.evaluate = evaluate

  def run(self, tasks):
    for task in tasks:
      yield task, self.evaluate(task.cell, task.directory)

  def close(self) -> None:
    pass


# The environment of children that share a GPU: each takes GPU memory as it
# needs it, instead of the first taking all of it.
SHARED_GPU_ENVIRONMENT = {"TF_FORCE_GPU_ALLOW_GROWTH": "true"}


def local_slots(num_workers: int, num_gpus: int, cpus: int,
                children_per_gpu: float = 1.0,
                visible_gpus: str | None = None) -> list[dict[str, str]]:
  """Each local worker's share of this host, as its process environment.

  With GPUs, the workers take GPU shares in turn: `children_per_gpu` >= 1
  children share each GPU (SHARED_GPU_ENVIRONMENT), or with 1/n (0.5, 0.25)
  each child gets n GPUs, over which MirroredStrategy trains it. On CPUs,
  each gets cpus // num_workers threads, and one worker alone all of them
  (an empty environment).

  Args:
    visible_gpus: this process's CUDA_VISIBLE_DEVICES, if set: the GPUs
      numbered 0..num_gpus-1 are these.

  Raises:
    ValueError: for more workers than GPU shares, or bad numbers.
  """
  if num_workers < 1:
    raise ValueError(f"num_workers must be >= 1, got {num_workers}")
  executor_config.check_children_per_gpu(children_per_gpu)
  if num_gpus == 0:
    if num_workers == 1:
      return [{}]
    threads = str(max(1, cpus // num_workers))
    return [{"TF_NUM_INTRAOP_THREADS": threads,
             "TF_NUM_INTEROP_THREADS": threads,
             "OMP_NUM_THREADS": threads}] * num_workers
  names = (visible_gpus.split(",") if visible_gpus
           else [str(gpu) for gpu in range(num_gpus)])[:num_gpus]
  if children_per_gpu >= 1:
    shares = [[name] for name in names for _ in range(int(children_per_gpu))]
  else:
    per_child = round(1 / children_per_gpu)
    shares = [names[start:start + per_child]
              for start in range(0, num_gpus - per_child + 1, per_child)]
  if num_workers > len(shares):
    raise ValueError(
        f"num_workers {num_workers} is more than the {len(shares)} GPU "
        f"shares of {num_gpus} GPUs at {children_per_gpu:g} children per GPU")
  shared = SHARED_GPU_ENVIRONMENT if children_per_gpu > 1 else {}
  return [{"CUDA_VISIBLE_DEVICES": ",".join(share), **shared}
          for share in shares[:num_workers]]


class LocalExecutor:
  """Trains children in fresh processes, one per worker slot at a time."""

  def __init__(self, evaluate: Evaluate, slots: Sequence[Mapping[str, str]],
               max_retries: int = 2, child_logs: bool = True):
    """Args:
      evaluate: trains a child (cell, directory) -> ChildRecord; it must
        pickle, as each child runs in a new interpreter.
      slots: one environment per worker (local_slots).
      max_retries: trainings more for a child whose process died.
      child_logs: each child's output to its child_log, not the terminal.
    """
    if not slots:
      raise ValueError("a local executor needs at least one worker slot")
    self.evaluate = evaluate
    self.slots = list(slots)
    self.max_retries = max_retries
    self.child_logs = child_logs

  def run(self, tasks):
    workers = _Workers(self.evaluate, self.slots, self.max_retries, tasks,
                       self.child_logs)
    try:
      while workers.busy():
        workers.start_waiting_tasks()
        yield from workers.wait_for_finished()
    finally:
      # The search stopped (crashed, interrupted): end its children; each
      # continues from its epoch backup when the search is rerun.
      workers.kill_all()

  def close(self) -> None:
    pass


class _Workers:
  """The state of one LocalExecutor.run: tasks waiting, children running.

  Each worker slot trains one child at a time; a child whose process died
  goes back to the front of the queue until its retries are spent.
  """

  def __init__(self, evaluate: Evaluate, slots: Sequence[Mapping[str, str]],
               max_retries: int, tasks: Sequence[ChildTask],
               child_logs: bool = True):
    self._evaluate = evaluate
    self._child_logs = child_logs
    self._slots = slots
    self._max_retries = max_retries
    self._waiting = collections.deque(tasks)
    self._attempts = collections.Counter()
    self._free = list(range(len(slots)))
    self._running = {}  # waitable -> (process, task, slot)

  def busy(self) -> bool:
    """Whether any task is still waiting or training."""
    return bool(self._waiting or self._running)

  def start_waiting_tasks(self) -> None:
    """Starts waiting tasks in the free slots, the lowest slot first."""
    while self._waiting and self._free:
      self._start(self._waiting.popleft(), self._free.pop(0))

  def _start(self, task: ChildTask, slot: int) -> None:
    self._attempts[task] += 1
    process = child_process.ChildProcess(
        self._evaluate, (task.cell, task.directory), self._slots[slot],
        log_path=child_log(task.directory) if self._child_logs else None)
    self._running[process.waitable] = process, task, slot
    logging.info("Child %s: training in process %d%s", task.cell,
                 process.pid,
                 f" (output: {process.log_path})" if process.log_path else "")

  def wait_for_finished(self) -> Iterator[tuple[ChildTask, ChildRecord]]:
    """Waits for processes to end; yields each task they finished.

    A task whose process died is queued again instead (or, its retries
    spent, yielded with a failed record).

    Raises:
      Whatever the training raised: a bug, not a death.
    """
    for waitable in multiprocessing.connection.wait(list(self._running)):
      process, task, slot = self._running.pop(waitable)
      self._free.append(slot)
      self._free.sort()
      record = self._record_or_retry(process, task)
      if record is not None:
        yield task, record

  def _record_or_retry(self, process: child_process.ChildProcess,
                       task: ChildTask) -> ChildRecord | None:
    """The finished task's record; None if it died and is queued again."""
    try:
      return process.result()
    except child_process.ProcessDied as died:
      if self._attempts[task] > self._max_retries:
        return failed_record(
            task, f"its process died {self._attempts[task]} times; last: "
            f"{died}" + (f" (its output: {process.log_path})"
                         if process.log_path else ""))
      logging.warning("Child %s: its process died (%s); training it again "
                      "from its last epoch (retry %d of %d)", task.cell, died,
                      self._attempts[task], self._max_retries)
      self._waiting.appendleft(task)
      return None

  def kill_all(self) -> None:
    """Ends every child still training (its epoch backups stay)."""
    for process, _, _ in self._running.values():
      process.kill()
