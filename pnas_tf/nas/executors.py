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

ExecutorConfig holds the flags' choice; search_runner.make_executor builds
the executor from it.

Example:
  executor = LocalExecutor(evaluate, local_slots(2, num_gpus=0, cpus=2))
  for task, record in executor.run([ChildTask(cell, "/tmp/s/children/a")]):
    print(task.cell, record.accuracy)
"""

import collections
import dataclasses
import math
import multiprocessing.connection
from typing import Callable, Iterator, Mapping, Protocol, Sequence

from absl import logging

from pnas_tf.nas import child_process
from pnas_tf.nas import search_store
from pnas_tf.space import search_space

Cell = search_space.Cell
ChildRecord = search_store.ChildRecord
Evaluate = Callable[[Cell, str], ChildRecord]

EXECUTORS = ("inprocess", "local", "ray")


@dataclasses.dataclass(frozen=True)
class ExecutorConfig:
  """How children are spread over processes, GPUs and hosts.

  Attributes:
    kind: one of EXECUTORS.
    num_workers: children trained at once (local, ray); 0 means one per GPU
      share (GPUs x children_per_gpu), or with no GPU: 1 for local, every
      CPU of the cluster for ray.
    children_per_gpu: children sharing one GPU; 1/n gives each child n GPUs.
    ray_address: a running Ray cluster's address; none starts a local one.
    max_child_retries: trainings more for a child whose worker died.
    isolate: inprocess only: each child in a fresh process.
  """
  kind: str = "inprocess"
  num_workers: int = 0
  children_per_gpu: float = 1.0
  ray_address: str | None = None
  max_child_retries: int = 2
  isolate: bool = True

  def __post_init__(self):
    if self.kind not in EXECUTORS:
      raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, "
                       f"got {self.kind!r}")
    if self.num_workers < 0:
      raise ValueError(f"num_workers must be >= 0, got {self.num_workers}")
    if self.kind == "inprocess" and self.num_workers > 1:
      raise ValueError("num_workers: the inprocess executor trains one child "
                       "at a time; use --executor=local or ray")
    check_children_per_gpu(self.children_per_gpu)
    if self.max_child_retries < 0:
      raise ValueError("max_child_retries must be >= 0, got "
                       f"{self.max_child_retries}")
    if self.ray_address and self.kind != "ray":
      raise ValueError("ray_address is for --executor=ray only")
    if not self.isolate and self.kind != "inprocess":
      raise ValueError("isolate_children: every child of the local and ray "
                       "executors trains in a fresh process")


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


def check_children_per_gpu(children_per_gpu: float) -> None:
  """Raises ValueError unless it is a whole number or 1/n (n GPUs a child)."""
  if not children_per_gpu > 0:
    raise ValueError(f"children_per_gpu must be > 0, got {children_per_gpu}")
  if children_per_gpu >= 1:
    if children_per_gpu != int(children_per_gpu):
      raise ValueError("children_per_gpu must be a whole number, or 1/n for "
                       f"n GPUs per child, got {children_per_gpu:g}")
  elif not math.isclose(round(1 / children_per_gpu) * children_per_gpu, 1.0):
    raise ValueError("children_per_gpu below 1 must be 1/n (n GPUs per "
                     f"child), got {children_per_gpu:g}")


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
  check_children_per_gpu(children_per_gpu)
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
               max_retries: int = 2):
    """Args:
      evaluate: trains a child (cell, directory) -> ChildRecord; it must
        pickle, as each child runs in a new interpreter.
      slots: one environment per worker (local_slots).
      max_retries: trainings more for a child whose process died.
    """
    if not slots:
      raise ValueError("a local executor needs at least one worker slot")
    self.evaluate = evaluate
    self.slots = list(slots)
    self.max_retries = max_retries

  def run(self, tasks):
    waiting = collections.deque(tasks)
    attempts = collections.Counter()
    free = list(range(len(self.slots)))
    running = {}  # waitable -> (process, task, slot)
    try:
      while waiting or running:
        while waiting and free:
          task, slot = waiting.popleft(), free.pop(0)
          attempts[task] += 1
          process = child_process.ChildProcess(
              self.evaluate, (task.cell, task.directory), self.slots[slot])
          running[process.waitable] = process, task, slot
          logging.info("Child %s: training in process %d", task.cell,
                       process.pid)
        for waitable in multiprocessing.connection.wait(list(running)):
          process, task, slot = running.pop(waitable)
          free.append(slot)
          free.sort()
          try:
            record = process.result()
          except child_process.ProcessDied as died:
            if attempts[task] <= self.max_retries:
              logging.warning("Child %s: its process died (%s); training it "
                              "again from its last epoch (retry %d of %d)",
                              task.cell, died, attempts[task],
                              self.max_retries)
              waiting.appendleft(task)
              continue
            record = failed_record(
                task, f"its process died {attempts[task]} times; last: "
                f"{died}")
          yield task, record
    finally:
      # The search stopped (crashed, interrupted): end its children; each
      # continues from its epoch backup when the search is rerun.
      for process, _, _ in running.values():
        process.kill()

  def close(self) -> None:
    pass
