"""What makes a long run's directory safe to rerun: one owner, same settings.

A search or a final training records the settings that give its results
their meaning in a JSON file on first start; a rerun in the same directory
must bring the same ones (or change only those declared mutable), and only
one process may work in a directory at a time. That lock, file_lock, also
serves anything else that one process at a time may do (preparing a shared
dataset).

Example:
  with exclusive_directory("/tmp/final", "a final training"):
    check_and_record("/tmp/final/run.json", {"epochs": 600}, version=1)
"""

import contextlib
import fcntl
import json
import os
import socket
from typing import Any, Callable, Iterable, Iterator

from pnas_tf.storage import files

LOCK_FILE = ".lock"
# The settings file of each kind of run, in its directory.
SETTINGS_FILES = {"a search": "search.json", "a final training": "run.json"}


class RunStateError(Exception):
  """Settings that differ, a corrupt settings file, or a busy directory."""


@contextlib.contextmanager
def exclusive_directory(directory: str, what: str) -> Iterator[None]:
  """Holds `directory`'s lock (created if needed) while the block runs.

  Args:
    directory: the run's directory.
    what: what runs there, for the message, e.g. "a search".

  Raises:
    RunStateError: another process holds the lock.
  """
  if files.is_url(directory):
    with _lock_file(directory, what):
      yield
    return

  path = os.path.join(directory, LOCK_FILE)

  def refuse():
    raise RunStateError(f"{_holder(path) or 'another run'} is already "
                        f"running in {directory}; wait for it or choose "
                        "another --output_dir") from None

  with file_lock(path, on_busy=refuse):
    # Named in the lock file, for whoever finds the directory busy.
    with open(path, "w") as stream:
      stream.write(f"{what} (host {socket.gethostname()}, pid "
                   f"{os.getpid()})\n")
    yield


def _holder(lock_path: str) -> str:
  """Who holds a local lock, as its holder wrote it ("" if unknown)."""
  try:
    with open(lock_path) as stream:
      return stream.read().strip()
  except OSError:
    return ""


def check_kind(directory: str, what: str) -> None:
  """Raises RunStateError if `directory` holds another kind of run.

  Each kind keeps its settings in a file of its own (SETTINGS_FILES), so a
  directory that has another kind's file belongs to that run: writing this
  one's files among them would mix two runs.
  """
  for other, name in SETTINGS_FILES.items():
    if other != what and files.exists(os.path.join(directory, name)):
      raise RunStateError(
          f"{directory} holds {other} ({name}), not {what}; choose another "
          "--output_dir")


@contextlib.contextmanager
def file_lock(path: str,
              on_busy: Callable[[], None] | None = None) -> Iterator[None]:
  """Holds an exclusive lock on the local file `path` while the block runs.

  An flock: the kernel drops it when its holder exits or dies, so a crash
  leaves no stale lock; on NFS, Linux emulates it with fcntl locks, which
  hosts sharing the directory see.

  Args:
    path: the lock file (the lock ignores its content), created with its
      directory if needed.
    on_busy: called if another process holds the lock, before waiting for
      it; it may raise instead, to refuse to wait.
  """
  os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
  with open(path, "a") as lock:
    try:
      fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      if on_busy:
        on_busy()
      fcntl.flock(lock, fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(lock, fcntl.LOCK_UN)


@contextlib.contextmanager
def _lock_file(directory: str, what: str) -> Iterator[None]:
  """A lock for storage without locks: a file naming its holder."""
  path = os.path.join(directory, LOCK_FILE)
  if files.exists(path):
    with files.open_file(path) as stream:
      holder = stream.read().strip()
    raise RunStateError(
        f"{holder or 'another run'} holds {path}; wait for it, or if none "
        "runs (it crashed), delete that file")
  files.write_text_atomically(
      path, f"{what} (host {socket.gethostname()}, pid {os.getpid()})\n")
  try:
    yield
  finally:
    files.remove(path)


def read_json(path: str) -> Any:
  """The JSON in `path`; RunStateError (naming it) if unreadable or corrupt."""
  try:
    with files.open_file(path) as stream:
      return json.load(stream)
  except (OSError, ValueError) as error:
    raise RunStateError(f"{path} is unreadable or corrupt ({error}); it was "
                        "left as it is") from None


def differences(old: dict[str, Any], new: dict[str, Any],
                mutable: Iterable[str] = ()) -> list[str]:
  """'--key=old before, new now' for every key whose value changed.

  Args:
    old: the recorded settings.
    new: this run's settings.
    mutable: keys left out of the comparison.
  """
  mutable = set(mutable)
  return [f"--{key}={old.get(key)!r} before, {new.get(key)!r} now"
          for key in sorted(set(old) | set(new))
          if key not in mutable and old.get(key) != new.get(key)]


def check_and_record(path: str, settings: dict[str, Any], version: int,
                     mutable: Iterable[str] = (), what: str = "a run",
                     defaults: dict[str, Any] | None = None) -> None:
  """Records `settings` in `path` on first use; afterwards refuses others.

  Args:
    path: the settings file, {"format_version": version, "settings": ...}.
    settings: JSON-ready settings of this run.
    version: the file format this code writes and reads.
    mutable: settings a rerun may change; the file is updated to them.
    what: what the directory holds, for the message, e.g. "a search".
    defaults: values of settings that a file written before they existed
      lacks (the run that wrote it used these).

  Raises:
    RunStateError: listing every setting that differs; or a corrupt file or
      another format version (the file is left as it is).
  """
  settings = json.loads(json.dumps(settings))  # As it will read back.
  if files.exists(path):
    saved = read_json(path)
    if not isinstance(saved, dict) or saved.get("format_version") != version:
      found = saved.get("format_version") if isinstance(saved, dict) else None
      raise RunStateError(f"{path} has format version {found!r}; this "
                          f"pnas_tf reads {version}")
    old = saved.get("settings", {})
    if not isinstance(old, dict):
      raise RunStateError(f"{path} is corrupt (its settings are not a JSON "
                          "object); it was left as it is")
    old = {**json.loads(json.dumps(defaults or {})), **old}
    changed = differences(old, settings, mutable)
    if changed:
      raise RunStateError(
          f"{os.path.dirname(path) or '.'} holds {what} with other settings: "
          f"{'; '.join(changed)}. Rerun with the old values or use another "
          "--output_dir")
  files.write_json_atomically(path, {"format_version": version,
                                     "settings": settings})
