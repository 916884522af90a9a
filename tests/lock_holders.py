"""Locks held by a second process, for tests of what a held lock refuses.

The holders run in spawned processes (a fork would share this process's
locks); each sets `ready` once it holds its lock.
"""

import multiprocessing
import time

from absl.testing import absltest

from pnas_tf.storage import run_state

_SPAWN = multiprocessing.get_context("spawn")


def event():
  """An Event that a spawned holder can wait on."""
  return _SPAWN.Event()


def hold_directory(directory, ready, release):
  """Holds `directory` as a search does, until `release` is set."""
  with run_state.exclusive_directory(directory, "a search"):
    ready.set()
    release.wait(60)


def hold_file(path, ready, release):
  """Holds the file lock `path` until `release` is set."""
  with run_state.file_lock(path):
    ready.set()
    release.wait(60)
    # Written while still holding the lock: a waiter that sees it has waited.
    with open(path + ".released", "w") as stream:
      stream.write("released\n")


def hold_file_until_killed(path, ready):
  """Holds the file lock `path` until the process is killed."""
  with run_state.file_lock(path):
    ready.set()
    # A sleep, not Event.wait: a process killed inside Event.wait leaves that
    # Event's next set() waiting for it forever.
    time.sleep(600)


def start(test: absltest.TestCase, holder, path: str, *events):
  """Runs `holder(path, ready, *events)` in a spawned process.

  Returns the process once it holds its lock; `test` kills and joins it at
  cleanup, if it has not ended by then.
  """
  ready = event()
  process = _SPAWN.Process(target=holder, args=(path, ready, *events))
  process.start()
  test.addCleanup(process.join, 30)
  test.addCleanup(process.kill)
  test.assertTrue(ready.wait(60))
  return process
