"""Writing result files so that a crash never leaves half a file behind.

Example:
  write_json_atomically("/tmp/out/result.json", {"status": "ok"})
  write_text_atomically("/tmp/out/summary.csv", "rank,cell\n")
"""

import json
import os
import tempfile
from typing import Any


def write_json_atomically(path: str, value: Any) -> None:
  """Writes `value` as JSON to `path`: all of it, or (after a crash) nothing."""
  write_text_atomically(path, json.dumps(value, indent=2, sort_keys=True)
                        + "\n")


def write_text_atomically(path: str, text: str) -> None:
  """Writes `text` to `path`: all of it, or (after a crash) nothing.

  The text goes to a temporary file in the same directory, is flushed to disk,
  then renamed over `path`, which readers therefore see whole or not at all.
  """
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  handle, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-")
  try:
    with os.fdopen(handle, "w") as stream:
      stream.write(text)
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
  `model_dir` (none if it does not exist), unsorted."""
  if not os.path.isdir(model_dir):
    return []
  return [int(name) for name in os.listdir(model_dir) if name.isdigit()]
