"""Tests for pnas_tf.cli.usage: one line for whatever a user can cause."""

import contextlib
import errno
import io
import os
from unittest import mock

from absl import flags
from absl.testing import absltest
from absl.testing import flagsaver

from pnas_tf.cli import usage
from pnas_tf.config import errors
from pnas_tf.config import train_config

flags.DEFINE_integer("usage_test_count", 1, "An integer flag for the tests.")


def _ended(main, argv=("binary",)):
  """(exit status, stderr) of usage.checked(main)(argv)."""
  stderr = io.StringIO()
  with contextlib.redirect_stderr(stderr):
    try:
      usage.checked(main)(list(argv))
    except SystemExit as exit_:
      return exit_.code, stderr.getvalue()
  raise AssertionError("the binary did not exit")


class FlagErrorsTest(absltest.TestCase):

  def test_a_config_error_becomes_a_usage_error_naming_the_flag(self):
    with self.assertRaisesRegex(usage.UsageError,
                                "^--epochs must be >= 1, got 0$"):
      with usage.flag_errors():
        train_config.TrainConfig(epochs=0)

  def test_as_a_decorator(self):

    @usage.flag_errors()
    def main(argv):
      del argv
      raise errors.ConfigError("dataset: images are 28x32")

    with self.assertRaisesRegex(usage.UsageError,
                                "^--dataset: images are 28x32$"):
      main(["binary"])

  def test_other_errors_pass_through(self):
    with self.assertRaises(KeyError):
      with usage.flag_errors():
        raise KeyError("a bug, not a setting")


class EndingsTest(absltest.TestCase):

  def test_ctrl_c_is_one_line_and_exit_130(self):

    def main(argv):
      raise KeyboardInterrupt

    status, stderr = _ended(main)
    self.assertEqual(status, 130)
    self.assertRegex(stderr, "^[^\\n]*: interrupted; rerun the same command "
                     "to continue\\n$")

  def test_a_full_disk_is_one_line_naming_where(self):

    def main(argv):
      try:
        raise OSError(errno.ENOSPC, "No space left on device",
                      "/tmp/out/result.json")
      except OSError as error:
        raise RuntimeError("TensorFlow's wrapper of it") from error

    status, stderr = _ended(main)
    self.assertEqual(status, 1)
    self.assertRegex(stderr, "^[^\\n]*: error: no space left on / "
                     "\\(writing /tmp/out/result.json\\); free some and "
                     "rerun the same command to continue\\n$")

  def test_a_bug_is_still_a_traceback(self):

    def main(argv):
      raise ZeroDivisionError

    with self.assertRaises(ZeroDivisionError):
      usage.checked(main)(["binary"])

  def test_integers_beyond_int32_are_refused_at_parsing(self):
    stderr = io.StringIO()
    with flagsaver.flagsaver(), contextlib.redirect_stderr(stderr):
      with self.assertRaises(SystemExit) as ended:
        usage.parse_flags(["binary", "--usage_test_count=99999999999"])
    self.assertEqual(ended.exception.code, 2)
    self.assertIn("--usage_test_count=99999999999 is out of range",
                  stderr.getvalue())

  def test_a_missing_flagfile_is_named_in_one_line(self):
    missing = os.path.join(self.create_tempdir().full_path, "nope.cfg")
    stderr = io.StringIO()
    with flagsaver.flagsaver(), contextlib.redirect_stderr(stderr):
      with self.assertRaises(SystemExit) as ended:
        usage.parse_flags(["binary", f"--flagfile={missing}"])
    self.assertEqual(ended.exception.code, 2)
    self.assertRegex(stderr.getvalue(),
                     f"^[^\\n]*: error: Unable to open flagfile: .*{missing}"
                     "'\\n$")

  def test_arguments_after_the_flags_are_refused_by_name(self):
    usage.no_arguments(["binary"])
    with self.assertRaisesRegex(usage.UsageError,
                                "^unexpected arguments: a.png b$"):
      usage.no_arguments(["binary", "a.png", "b"])


class BuildWorkingDirectoryTest(absltest.TestCase):

  def test_under_bazel_run_a_binary_works_from_the_users_directory(self):
    users = os.path.realpath(self.create_tempdir().full_path)
    self.addCleanup(os.chdir, os.getcwd())
    with mock.patch.dict(os.environ, {"BUILD_WORKING_DIRECTORY": users}):
      usage.enter_build_working_directory()
    self.assertEqual(os.getcwd(), users)

  def test_elsewhere_it_stays_where_it_was_started(self):
    here = os.getcwd()
    with mock.patch.dict(os.environ):
      os.environ.pop("BUILD_WORKING_DIRECTORY", None)
      usage.enter_build_working_directory()
    self.assertEqual(os.getcwd(), here)


class OutputDirectoryTest(absltest.TestCase):

  def test_a_file_a_path_under_a_file_and_proc_are_refused(self):
    a_file = self.create_tempfile().full_path
    for path, problem in ((a_file, "is a file, not a directory"),
                          (os.path.join(a_file, "x"),
                           f"cannot be created: {a_file} is a file"),
                          ("/proc/pnas_tf/x", "cannot be created")):
      with self.assertRaisesRegex(usage.UsageError,
                                  f"^--output_dir {path} {problem}"):
        usage.check_output_directory("output_dir", path)

  def test_a_new_directory_is_fine_and_nothing_is_created(self):
    parent = self.create_tempdir().full_path
    usage.check_output_directory("output_dir", os.path.join(parent, "a", "b"))
    usage.check_output_directory("output_dir", parent)
    self.assertEqual(os.listdir(parent), [])


if __name__ == "__main__":
  absltest.main()
