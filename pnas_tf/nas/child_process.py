"""Runs a child's training in a fresh process, so that host memory stays flat.

TensorFlow keeps memory from every model it trains in a process, even after
keras.backend.clear_session() (tensorflow/tensorflow#62854: about 50 MiB per
search child here, see bench/child_memory.py). A search trains ~1,000
children, so each runs in a process of its own that exits afterwards and
gives all its memory back. A process that dies (killed, or out of host
memory) is reported as ProcessDied, never taking the caller down; the
executors (executors.py) retry such children.

Example:
  process = ChildProcess(evaluate, (cell, "/tmp/child_0"),
                         environment={"CUDA_VISIBLE_DEVICES": "0"},
                         log_path="/tmp/child_0/child.log")
  record = process.result()  # or wait on process.waitable with others

  result = train_in_subprocess(cell, net, data_config, train_config,
                               "/tmp/child_0")
"""

import ctypes
import ctypes.util
import multiprocessing
import os
import pickle
import signal
import time
import traceback
from typing import Any, Callable, Mapping, Sequence

from pnas_tf.config import network_config
from pnas_tf.config import train_config
from pnas_tf.space import search_space


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


class ProcessDied(Exception):
  """The process was killed by a signal before returning (SIGKILL: killed by
  hand or for lack of host memory; SIGSEGV, SIGABRT: a crash in native code).
  """


def call_with_environment(environment: Mapping[str, str],
                          function: Callable[..., Any], *args: Any) -> Any:
  """Sets `environment` (device and thread shares), then calls `function`.

  Only meaningful before TensorFlow loads in this process: it reads
  CUDA_VISIBLE_DEVICES and its thread counts once, at start.
  """
  os.environ.update(environment)
  return function(*args)


def _die_with(parent_pid: int) -> None:
  """Has Linux kill this process when its parent dies, even by SIGKILL: an
  orphan would go on writing the child directory that a resumed search
  trains the same child in again."""
  try:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6",
                       use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
  except (OSError, AttributeError):
    return  # Not Linux: the parent's exit still ends daemonic children.
  if os.getppid() != parent_pid:  # It died before prctl took effect.
    os._exit(1)  # pylint: disable=protected-access


def _output_to(log_path: str) -> None:
  """Sends this process's stdout and stderr, Python's and native code's
  (TensorFlow's C++ start-up lines), to the end of `log_path`."""
  os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
  log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
  for stream in (1, 2):
    os.dup2(log, stream)
  os.close(log)


def _run(sender, parent_pid, environment, log_path, call) -> None:
  # In the new process. `call` is pickled (function, args): unpickling it
  # imports TensorFlow if `function` needs it, so only after the output has
  # gone to the log.
  _die_with(parent_pid)
  # Ctrl-C reaches the whole process group; the parent handles it and stops
  # this process as on SIGTERM, so the child neither reports nor prints it.
  signal.signal(signal.SIGINT, signal.SIG_IGN)
  if log_path:
    _output_to(log_path)
  try:
    function, args = pickle.loads(call)
    outcome = ("value", call_with_environment(environment, function, *args))
  except BaseException as error:  # pylint: disable=broad-except
    outcome = ("error", error, traceback.format_exc())
  try:
    sender.send(outcome)
  except Exception:  # pylint: disable=broad-except
    # What does not pickle still reaches the caller, as text.
    text = traceback.format_exc()
    sender.send(("error", RuntimeError(f"the result did not pickle:\n{text}"),
                 text))
  sender.close()


class ChildProcess:
  """`function(*args)` running in a new (spawned) process.

  The process starts from a fresh interpreter, so `function` and `args` must
  pickle, and `environment` is set in it before `function` runs. With
  `log_path`, everything the process prints goes to the end of that file
  instead of the caller's terminal.
  """

  def __init__(self, function: Callable[..., Any], args: Sequence[Any],
               environment: Mapping[str, str] | None = None,
               log_path: str | None = None):
    context = multiprocessing.get_context("spawn")
    self._receiver, sender = context.Pipe(duplex=False)
    self.log_path = log_path
    # Daemonic: killed if the caller exits, so no orphan trains on.
    self._process = context.Process(
        target=_run, args=(sender, os.getpid(), dict(environment or {}),
                           log_path, pickle.dumps((function, tuple(args)))),
        daemon=True)
    self._process.start()
    sender.close()

  @property
  def waitable(self):
    """Ready (multiprocessing.connection.wait) once a result can be read,
    or the process has died."""
    return self._receiver

  @property
  def pid(self) -> int:
    return self._process.pid

  def result(self) -> Any:
    """Waits for `function`'s return value and returns it.

    Raises:
      ProcessDied: if a signal ended the process before it returned.
      RuntimeError: if it exited without returning (it could not start:
        Python's own error is in its output, or its log).
      Exception: what `function` raised (its traceback added as a note).
    """
    try:
      outcome = self._receiver.recv()
    except EOFError:
      self._process.join()
      code = self._process.exitcode
      if code is not None and code < 0:
        raise ProcessDied(_signal_name(-code)) from None
      where = f"; its output is in {self.log_path}" if self.log_path else ""
      raise RuntimeError(f"a child process exited with status {code} "
                         f"without a result{where}") from None
    finally:
      self._receiver.close()
    # It has sent its result: give it a minute to exit, then end it.
    self._process.join(timeout=60)
    if self._process.is_alive():
      self._process.kill()
      self._process.join()
    if outcome[0] == "error":
      error = outcome[1]
      error.add_note(f"in the child process:\n{outcome[2]}")
      raise error
    return outcome[1]

  def kill(self) -> None:
    """Ends the process now (its epoch backups stay for a resume)."""
    if self._process.is_alive():
      self._process.kill()
    self._process.join()
    self._receiver.close()


def _signal_name(number: int) -> str:
  try:
    return f"killed by {signal.Signals(number).name}"
  except ValueError:
    return f"killed by signal {number}"


def _train(cell, net, data_config, config, output_dir, export_dir,
           weights_path):
  # Runs in the child process: TensorFlow loads there, not in the caller.
  from pnas_tf.training import child_trainer  # pylint: disable=g-import-not-at-top
  from pnas_tf.data import datasets  # pylint: disable=g-import-not-at-top
  data = datasets.load_search_data(data_config)
  return child_trainer.train_and_evaluate(cell, net, data, config, output_dir,
                                          export_dir, weights_path=weights_path)


def train_in_subprocess(cell: search_space.Cell,
                        net: network_config.NetworkConfig,
                        data_config: train_config.DataConfig,
                        config: train_config.TrainConfig, output_dir: str,
                        export_dir: str | None = None,
                        weights_path: str | None = None):
  """child_trainer.train_and_evaluate in a new process; same arguments.

  The process loads the data itself from `data_config` (tfds' prepared
  files, so this takes seconds).

  Returns:
    The results.ChildResult; status failed if the process died.
  """
  started = time.perf_counter()
  process = ChildProcess(_train, (cell, net, data_config, config, output_dir,
                                  export_dir, weights_path))
  try:
    return process.result()
  except ProcessDied as error:
    from pnas_tf.training import results  # pylint: disable=g-import-not-at-top
    cell = cell.canonical()
    return results.ChildResult(
        cell=str(cell), num_blocks=cell.num_blocks,
        status=results.Status.FAILED,
        reason=f"the child's process died: {error}",
        wall_seconds=time.perf_counter() - started)
