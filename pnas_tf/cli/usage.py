"""What every pnas_tf binary shares: absl start-up with one-line errors.

A bad flag value or a bad argument ends the program with one line on stderr,
"<program>: error: <what is wrong>", and exit status 2, before any work starts.

Example (in a binary):
  def main(argv):
    ...
    raise usage.UsageError("--cell: unknown operator 'sep4x4' ...")

  def run():  # The console script's entry point, and `python -m`'s.
    usage.run_binary(main, define_flags)

  if __name__ == "__main__":
    run()
"""

import os
import sys

from absl import app
from absl import flags

EXIT_USAGE = 2


class UsageError(ValueError):
  """A bad flag value or argument: reported in one line, exit status 2."""


def fail(message: str) -> None:
  program = os.path.basename(sys.argv[0]) if sys.argv else "pnas_tf"
  if program in ("__main__.py", "-m", "-c"):
    program = "pnas_tf"
  sys.stderr.write(f"{program}: error: {message}\n")
  sys.exit(EXIT_USAGE)


def enter_build_working_directory() -> None:
  """Under `bazel run`, works from the directory bazel was started in.

  Bazel runs a binary inside its runfiles tree and names the user's directory
  in BUILD_WORKING_DIRECTORY; relative paths (--flagfile, --output_dir) are
  meant from there.
  """
  directory = os.environ.get("BUILD_WORKING_DIRECTORY")
  if directory:
    os.chdir(directory)


def parse_flags(argv: list[str]) -> list[str]:
  """absl's flag parsing, with a bad flag reported in one line."""
  try:
    return flags.FLAGS(argv)
  except flags.Error as error:
    fail(str(error).replace("\n", " "))
    raise  # Unreachable: fail() exits.


def checked(main):
  """Wraps `main(argv)` so that a UsageError it raises becomes one line."""

  def checked_main(argv):
    try:
      return main(argv)
    except UsageError as error:
      fail(str(error))
      raise  # Unreachable: fail() exits.

  return checked_main


def run_binary(main, define_flags) -> None:
  """Starts a binary: its flags defined, errors in one line, exit status.

  Args:
    main: the binary's `main(argv)`.
    define_flags: defines the binary's flags (called once, here).
  """
  enter_build_working_directory()
  define_flags()
  app.run(checked(main), flags_parser=parse_flags)
