"""What a binary's user sees: our progress and errors, not TensorFlow's.

TensorFlow prints its C++ start-up lines (oneDNN, CUDA drivers, cuInit) to
file descriptor 2 as it loads, whatever TF_CPP_MIN_LOG_LEVEL says, and
tfds and Keras log and warn freely. A binary captures that native output
while TensorFlow loads and finds its devices, then, once its output
directory is known to be its own, writes it to a log file there, where
every later log line goes too. On a terminal the INFO lines then go only to
the log and a progress bar shows instead; --verbose keeps everything on the
terminal as before.

Example:
  with terminal.captured_output(enabled=not verbose) as startup:
    import tensorflow as tf
  terminal.log_to_file("/tmp/run/search.log", startup)
  if terminal.shows_progress_bar(verbose):
    terminal.info_only_to_log()
"""

import contextlib
import logging as python_logging
import os
import sys
import tempfile
from typing import Iterator

from absl import logging

from pnas_tf.storage import files


class CapturedOutput:
  """Text written to file descriptors 1 and 2 while captured."""

  def __init__(self):
    self.text = ""


@contextlib.contextmanager
def captured_output(enabled: bool = True) -> Iterator[CapturedOutput]:
  """Captures what anything in this process, native code included, writes
  to stdout and stderr; restores both on exit, also on an exception."""
  captured = CapturedOutput()
  if not enabled:
    yield captured
    return
  sys.stdout.flush()
  sys.stderr.flush()
  saved = [os.dup(1), os.dup(2)]
  with tempfile.TemporaryFile() as buffer:
    try:
      for stream in (1, 2):
        os.dup2(buffer.fileno(), stream)
      yield captured
    finally:
      sys.stdout.flush()
      sys.stderr.flush()
      for stream, copy in zip((1, 2), saved):
        os.dup2(copy, stream)
        os.close(copy)
      buffer.seek(0)
      captured.text = buffer.read().decode("utf-8", "replace")


def log_to_file(path: str, startup: CapturedOutput | None = None) -> None:
  """Appends every later absl log line (all levels) to `path`, after the
  captured start-up output. A path on object storage (a URL) gets none:
  a log is appended line by line, which object stores cannot do."""
  if files.is_url(path):
    return
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  if startup and startup.text:
    with open(path, "a", encoding="utf-8") as stream:
      stream.write(startup.text)
  handler = python_logging.FileHandler(path, encoding="utf-8")
  handler.setFormatter(logging.PythonFormatter())
  logging.get_absl_logger().addHandler(handler)


def shows_progress_bar(verbose: int) -> bool:
  """Whether to draw a progress bar: on a terminal, unless --verbose."""
  return not verbose and sys.stdout.isatty()


def info_only_to_log() -> None:
  """Keeps INFO lines off the terminal (they still reach the log file);
  warnings and errors still show."""
  logging.get_absl_handler().setLevel(python_logging.WARNING)
