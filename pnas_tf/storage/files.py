"""Files of a run: written whole or not at all, on local disk or any storage
TensorFlow reaches.

A path with a scheme (gs://bucket/search, hdfs://..., ram:// in tests) goes
through tf.io.gfile, so a search's directory can live on shared storage that
every worker reaches; a local path (also an NFS mount) goes through the
operating system, with fsync and flock. TensorFlow is imported only for the
former.

Example:
  write_json_atomically("/tmp/out/result.json", {"status": "ok"})
  write_text_atomically("gs://bucket/out/summary.csv", "rank,cell\n")
  write_bytes_atomically("/tmp/out/plots/best_so_far.png", png)
  if exists("gs://bucket/out/children"): print(listdir(...))
"""

import errno
import json
import os
import shutil
import tempfile
import uuid
from typing import IO, Any, Sequence


def is_url(path: str) -> bool:
  """Whether `path` names storage reached through tf.io.gfile (a scheme)."""
  return "://" in str(path)


def _gfile():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf.io.gfile


def absolute(path: str | None) -> str | None:
  """`path` made absolute if local (workers may start in other directories);
  a URL or None as it is."""
  return path if path is None or is_url(path) else os.path.abspath(path)


def exists(path: str) -> bool:
  return _gfile().exists(path) if is_url(path) else os.path.exists(path)


def isdir(path: str) -> bool:
  return _gfile().isdir(path) if is_url(path) else os.path.isdir(path)


def listdir(path: str) -> list[str]:
  """Names in directory `path` (gfile's trailing '/' on directories cut)."""
  if is_url(path):
    return [name.rstrip("/") for name in _gfile().listdir(path)]
  return os.listdir(path)


def makedirs(path: str) -> None:
  """Creates `path` and its parents; no error if it exists."""
  if is_url(path):
    _gfile().makedirs(path)
  else:
    os.makedirs(path, exist_ok=True)


def open_file(path: str, mode: str = "r") -> IO:
  """open(), or tf.io.gfile.GFile for a URL."""
  if is_url(path):
    return _gfile().GFile(path, mode)
  return open(path, mode)  # pylint: disable=consider-using-with


def rename(source: str, target: str, last: Sequence[str] = ()) -> None:
  """Renames a file or directory, replacing a file at `target`.

  Atomic on local disk. On storage reached by URL, a directory moves file by
  file (object stores have no directories), files named in `last` after all
  the others: the file that marks the directory complete (a SavedModel's
  saved_model.pb, a predictor's state) arrives last.
  """
  if is_url(source):
    gfile = _gfile()
    if not gfile.isdir(source):
      gfile.rename(source, target, overwrite=True)
      return
    paths = [os.path.join(directory, name)
             for directory, _, names in gfile.walk(source) for name in names]
    for path in sorted(paths, key=lambda p: (os.path.basename(p) in last, p)):
      moved = os.path.join(target, os.path.relpath(path, source))
      gfile.makedirs(os.path.dirname(moved))
      gfile.rename(path, moved, overwrite=True)
    gfile.rmtree(source)
  else:
    os.replace(source, target)


def remove(path: str) -> None:
  if is_url(path):
    _gfile().remove(path)
  else:
    os.remove(path)


def parent_directory(path: str) -> str:
  """The directory holding `path` (made absolute if local)."""
  return os.path.dirname(path.rstrip("/") if is_url(path)
                         else os.path.abspath(path))


def staging_directory(parent: str, prefix: str) -> str:
  """A new, uniquely named directory in `parent`, to be renamed into place."""
  path = os.path.join(parent, f"{prefix}{uuid.uuid4().hex}")
  makedirs(path)
  return path


def rmtree(path: str) -> None:
  """Deletes directory `path` and everything in it; no error if absent."""
  if is_url(path):
    if _gfile().exists(path):
      _gfile().rmtree(path)
  else:
    shutil.rmtree(path, ignore_errors=True)


def write_json_atomically(path: str, value: Any) -> None:
  """Writes `value` as JSON to `path`: all of it, or (after a crash) nothing."""
  write_text_atomically(path, json.dumps(value, indent=2, sort_keys=True)
                        + "\n")


def write_text_atomically(path: str, text: str) -> None:
  """Writes `text` to `path` as UTF-8: all of it, or (after a crash) nothing."""
  write_bytes_atomically(path, text.encode("utf-8"))


def write_bytes_atomically(path: str, data: bytes) -> None:
  """Writes `data` to `path`: all of it, or (after a crash) nothing.

  The bytes go to a temporary file in the same directory, are flushed to
  disk, then renamed over `path`, which readers therefore see whole or not at
  all.
  """
  if is_url(path):
    directory = parent_directory(path)
    makedirs(directory)
    temporary = os.path.join(directory, f".tmp-{uuid.uuid4().hex}")
    with open_file(temporary, "wb") as stream:
      stream.write(data)
    rename(temporary, path)
    return
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  handle, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-")
  try:
    with os.fdopen(handle, "wb") as stream:
      stream.write(data)
      stream.flush()
      os.fsync(stream.fileno())
    os.replace(temporary, path)
    # The rename itself must reach the disk too, or a power cut can undo it.
    directory_handle = os.open(directory, os.O_RDONLY)
    try:
      os.fsync(directory_handle)
    finally:
      os.close(directory_handle)
  except BaseException:
    if os.path.exists(temporary):
      os.remove(temporary)
    raise


def serving_versions(model_dir: str) -> list[int]:
  """The numbered version directories TensorFlow Serving would see in
  `model_dir` (none if it does not exist), in increasing order."""
  if not isdir(model_dir):
    return []
  return sorted(int(name) for name in listdir(model_dir) if name.isdigit())


def out_of_space(error: BaseException,
                 directory: str | None = None) -> str | None:
  """Where a full disk stopped a write, if that is what `error` (or its
  cause) is; else None.

  Args:
    error: what the run raised.
    directory: where the run writes, named when the error names no file.

  Returns:
    "<mount point> (writing <file or directory>)" or, for storage behind a
    URL, the file or directory; None for any other error. Python raises
    OSError(ENOSPC), with or without the file's name; TensorFlow and h5py
    wrap the same failure in errors whose text says "No space left on
    device".
  """
  seen = set()
  while error is not None and id(error) not in seen:
    seen.add(id(error))
    if ((isinstance(error, OSError) and error.errno == errno.ENOSPC)
        or "No space left on device" in str(error)):
      return _where(getattr(error, "filename", None) or directory)
    error = error.__cause__ or error.__context__
  return None


def _where(path: str | None) -> str:
  if not path:
    return "the device being written"
  if is_url(path):
    return path
  mount = os.path.abspath(path)
  while not os.path.ismount(mount):
    mount = os.path.dirname(mount)
  return f"{mount} (writing {path})"


def unwritable_reason(path: str) -> str | None:
  """Why a run could not write into directory `path`; None if it can.

  Checked before any work starts, by creating and removing a directory
  where `path` is or would be created, so that nothing is left behind. A URL
  is not checked: its storage answers at the first write.
  """
  if is_url(path):
    return None
  path = os.path.abspath(path)
  if os.path.exists(path) and not os.path.isdir(path):
    return "is a file, not a directory"
  existing = path
  while not os.path.exists(existing):
    existing = os.path.dirname(existing)
  if not os.path.isdir(existing):
    return f"cannot be created: {existing} is a file"
  try:
    os.rmdir(tempfile.mkdtemp(prefix=".pnas_tf_probe_", dir=existing))
  except OSError as error:
    verb = "is not writable" if existing == path else "cannot be created"
    return f"{verb} ({error.strerror or error})"
  return None
