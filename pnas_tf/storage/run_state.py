"""What makes a long run's directory safe to rerun: one owner, same settings.

A search or a final training records the settings that give its results
their meaning in a JSON file on first start; a rerun in the same directory
must bring the same ones (or change only those declared mutable), and only
one process may work in a directory at a time.

Example:
  with exclusive_directory("/tmp/final", "a final training"):
    check_and_record("/tmp/final/run.json", {"epochs": 600}, version=1)
"""

import contextlib
import fcntl
import json
import os
import socket
from typing import Any, Iterable, Iterator

from pnas_tf.storage import files

LOCK_FILE = ".lock"


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
  os.makedirs(directory, exist_ok=True)
  with open(os.path.join(directory, LOCK_FILE), "a") as lock:
    try:
      fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      raise RunStateError(f"{what} is already running in {directory}; wait "
                          "for it or choose another --output_dir") from None
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
        f"{what} holds {path} ({holder}); wait for it, or if none runs (it "
        "crashed), delete that file")
  files.write_text_atomically(
      path, f"host {socket.gethostname()} pid {os.getpid()}\n")
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
                     mutable: Iterable[str] = (), what: str = "a run") -> None:
  """Records `settings` in `path` on first use; afterwards refuses others.

  Args:
    path: the settings file, {"format_version": version, "settings": ...}.
    settings: JSON-ready settings of this run.
    version: the file format this code writes and reads.
    mutable: settings a rerun may change; the file is updated to them.
    what: what the directory holds, for the message, e.g. "a search".

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
    changed = differences(old, settings, mutable)
    if changed:
      raise RunStateError(
          f"{os.path.dirname(path) or '.'} holds {what} with other settings: "
          f"{'; '.join(changed)}. Rerun with the old values or use another "
          "--output_dir")
  files.write_json_atomically(path, {"format_version": version,
                                     "settings": settings})
