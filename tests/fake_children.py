"""Fake child trainings for executor tests: fast, picklable, no TensorFlow.

Each is called as evaluate(cell, directory) in whatever process the executor
trains children in, and leaves traces in `directory` for the test to read.
"""

import os
import signal
import time

from pnas_tf.nas import search_store


def _record(cell, accuracy=0.5, reason=""):
  return search_store.ChildRecord(cell=str(cell), num_blocks=cell.num_blocks,
                                  status="ok", accuracy=accuracy,
                                  reason=reason)


def _attempt(directory) -> int:
  """Counts this call in `directory`; returns 1 for the first."""
  os.makedirs(directory, exist_ok=True)
  path = os.path.join(directory, "attempts")
  count = 1
  if os.path.exists(path):
    with open(path) as stream:
      count += int(stream.read())
  with open(path, "w") as stream:
    stream.write(str(count))
  return count


class ReportsEnvironment:
  """ok; the reason names the process's thread and GPU settings and pid."""

  def __call__(self, cell, directory):
    _attempt(directory)
    names = ("TF_NUM_INTRAOP_THREADS", "CUDA_VISIBLE_DEVICES")
    return _record(cell, reason=" ".join(
        [f"{name}={os.environ.get(name, '')}" for name in names]
        + [f"pid={os.getpid()}"]))


class Prints:
  """ok; prints a line through Python and one through file descriptor 2,
  as TensorFlow's C++ start-up does."""

  def __call__(self, cell, directory):
    _attempt(directory)
    print(f"python line of {cell}", flush=True)
    os.write(2, b"native line\n")
    return _record(cell)


class WaitsForAnother:
  """ok; waits (up to `timeout`) until another child has started, so that
  two workers overlap, and writes its start and end times to `interval`."""

  def __init__(self, timeout=60.0):
    self.timeout = timeout

  def __call__(self, cell, directory):
    started = time.time()
    _attempt(directory)
    open(directory + ".started", "w").close()
    parent = os.path.dirname(directory)
    deadline = time.monotonic() + self.timeout
    while time.monotonic() < deadline:
      if sum(name.endswith(".started") for name in os.listdir(parent)) > 1:
        break
      time.sleep(0.05)
    with open(os.path.join(directory, "interval"), "w") as stream:
      stream.write(f"{started} {time.time()}")
    return _record(cell)


def overlap(directories) -> bool:
  """Whether the WaitsForAnother children in `directories` ran at once."""
  intervals = []
  for directory in directories:
    with open(os.path.join(directory, "interval")) as stream:
      intervals.append([float(value) for value in stream.read().split()])
  return max(start for start, _ in intervals) < min(end for _, end in intervals)


class DiesFirst:
  """The process kills itself (SIGKILL) in its first `deaths` attempts."""

  def __init__(self, deaths=1):
    self.deaths = deaths

  def __call__(self, cell, directory):
    if _attempt(directory) <= self.deaths:
      os.kill(os.getpid(), signal.SIGKILL)
    return _record(cell, accuracy=0.7)


class ExitsAtOnce:
  """The process exits without a result, as one that cannot start does."""

  def __call__(self, cell, directory):
    os._exit(1)  # pylint: disable=protected-access


class SleepsUnlessFirst:
  """Returns at once in directory ".../0"; elsewhere writes its pid to
  `pid` in its directory, then sleeps."""

  def __call__(self, cell, directory):
    if os.path.basename(directory) == "0":
      # Returns only once the other child is up, so that it is running.
      while not os.path.exists(os.path.join(os.path.dirname(directory), "1",
                                            "pid")):
        time.sleep(0.05)
      return _record(cell)
    os.makedirs(directory, exist_ok=True)
    sleep_writing_pid(os.path.join(directory, "pid"))
    return _record(cell)


class Raises:
  """A bug in training: raises."""

  def __call__(self, cell, directory):
    _attempt(directory)
    raise ValueError(f"bug while training {cell}")


def attempts(directory) -> int:
  with open(os.path.join(directory, "attempts")) as stream:
    return int(stream.read())


def sleep_writing_pid(pid_file, seconds=300):
  """Writes this process's pid to `pid_file`, then sleeps."""
  with open(pid_file + ".partial", "w") as stream:
    stream.write(str(os.getpid()))
  os.replace(pid_file + ".partial", pid_file)
  time.sleep(seconds)


def controller_with_a_child(pid_file):
  """Stands for a search's process: starts a ChildProcess, waits on it."""
  # pylint: disable=g-import-not-at-top
  from pnas_tf.nas import child_process
  child_process.ChildProcess(sleep_writing_pid, (pid_file,)).result()
