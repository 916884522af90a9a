"""Tests for pnas_tf.cli.terminal: native output captured, then logged."""

import io
import os
import subprocess
import sys
from unittest import mock

from absl import logging
from absl.testing import absltest

from pnas_tf.cli import terminal


class CapturedOutputTest(absltest.TestCase):

  def test_native_and_subprocess_output_is_captured(self):
    # (pytest swaps sys.stdout for its own object; in a binary, Python's
    # output goes through file descriptors 1 and 2 like the rest.)
    with terminal.captured_output() as captured:
      os.write(2, b"native stderr\n")
      os.write(1, b"native stdout\n")
      subprocess.run([sys.executable, "-c", "print('from a subprocess')"],
                     check=True)
    for line in ("native stderr", "native stdout", "from a subprocess"):
      self.assertIn(line, captured.text)

  def test_the_streams_are_restored_after_an_error(self):
    with self.assertRaises(ValueError):
      with terminal.captured_output():
        raise ValueError("in the middle")
    with terminal.captured_output() as again:
      os.write(2, b"after\n")
    self.assertEqual(again.text, "after\n")

  def test_disabled_captures_nothing(self):
    with terminal.captured_output() as outer:
      with terminal.captured_output(enabled=False) as inner:
        os.write(2, b"passes through\n")
    self.assertEqual(inner.text, "")
    self.assertIn("passes through", outer.text)


class LogFileTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.verbosity = logging.get_verbosity()
    logging.set_verbosity(logging.INFO)  # As absl's app.run sets it.

  def tearDown(self):
    logging.set_verbosity(self.verbosity)
    logger = logging.get_absl_logger()
    for handler in list(logger.handlers):
      if getattr(handler, "baseFilename", None):
        logger.removeHandler(handler)
        handler.close()
    super().tearDown()

  def test_start_up_output_then_every_log_line(self):
    path = os.path.join(self.create_tempdir().full_path, "run", "search.log")
    with terminal.captured_output() as startup:
      os.write(2, b"oneDNN custom operations are on\n")
    terminal.log_to_file(path, startup)
    logging.info("round 1: child 1/3")
    logging.warning("a child died")
    with open(path) as stream:
      lines = stream.read().splitlines()
    self.assertEqual(lines[0], "oneDNN custom operations are on")
    self.assertTrue(lines[1].endswith("round 1: child 1/3"), lines)
    self.assertTrue(lines[2].endswith("a child died"), lines)

  def test_no_log_file_on_object_storage(self):
    before = list(logging.get_absl_logger().handlers)
    terminal.log_to_file("gs://bucket/run/search.log")
    self.assertEqual(logging.get_absl_logger().handlers, before)


class ProgressBarChoiceTest(absltest.TestCase):

  def test_a_bar_only_on_a_terminal_and_without_verbose(self):
    terminal_stdout = mock.Mock(spec=io.TextIOBase)
    terminal_stdout.isatty.return_value = True
    with mock.patch.object(sys, "stdout", terminal_stdout):
      self.assertTrue(terminal.shows_progress_bar(verbose=0))
      self.assertFalse(terminal.shows_progress_bar(verbose=1))
    with mock.patch.object(sys, "stdout", io.StringIO()):
      self.assertFalse(terminal.shows_progress_bar(verbose=0))


if __name__ == "__main__":
  absltest.main()
