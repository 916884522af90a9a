"""What every pnas_tf binary shares: absl start-up with one-line errors.

A bad flag value or a bad argument ends the program with one line on stderr,
"<program>: error: <what is wrong>", and exit status 2, before any work starts.

Example (in a binary):
  @usage.flag_errors()
  def main(argv):
    ...
    raise usage.UsageError("--cell: unknown operator 'sep4x4' ...")

  def run():  # The console script's entry point, and `python -m`'s.
    usage.enter_build_working_directory()
    define_flags()
    app.run(usage.checked(main), flags_parser=usage.parse_flags)

  if __name__ == "__main__":
    run()
"""

import contextlib
import os
import sys
from typing import Iterator

from absl import flags

from pnas_tf.config import errors
from pnas_tf.storage import files
from pnas_tf.storage import run_state

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it.


class UsageError(ValueError):
  """A bad flag value or argument: reported in one line, exit status 2."""


def _program() -> str:
  program = os.path.basename(sys.argv[0]) if sys.argv else "pnas_tf"
  return "pnas_tf" if program in ("__main__.py", "-m", "-c") else program


def fail(message: str, status: int = EXIT_USAGE) -> None:
  """Ends the program with "<program>: error: <message>" and `status`."""
  sys.stderr.write(f"{_program()}: error: {message}\n")
  sys.exit(status)


def enter_build_working_directory() -> None:
  """Under `bazel run`, works from the directory bazel was started in.

  Bazel runs a binary inside its runfiles tree and names the user's directory
  in BUILD_WORKING_DIRECTORY; relative paths (--flagfile, --output_dir) are
  meant from there.
  """
  directory = os.environ.get("BUILD_WORKING_DIRECTORY")
  if directory:
    os.chdir(directory)


# Integer flags beyond int32 overflow TensorFlow's counters and shapes hours
# into a run; no pnas_tf setting needs more.
INTEGER_RANGE = (-2**31, 2**31 - 1)


def parse_flags(argv: list[str]) -> list[str]:
  """absl's flag parsing, with a bad flag reported in one line.

  Every integer flag is also range-checked here, before any work starts.
  """
  try:
    remaining = flags.FLAGS(argv)
  except flags.Error as error:
    # absl marks some messages (a missing flagfile) "ERROR:: " itself.
    fail(str(error).replace("\n", " ").removeprefix("ERROR:: "))
    raise  # Unreachable: fail() exits.
  low, high = INTEGER_RANGE
  for name in sorted(flags.FLAGS):
    flag = flags.FLAGS[name]
    if (isinstance(flag.parser, flags.IntegerParser)
        and flag.value is not None and not low <= flag.value <= high):
      fail(f"--{name}={flag.value} is out of range ({low} to {high})")
  return remaining


def _output_dir() -> str | None:
  """The binary's --output_dir, if it has one (named when a disk is full)."""
  if "output_dir" in flags.FLAGS and flags.FLAGS.is_parsed():
    return flags.FLAGS.output_dir
  return None


def checked(main):
  """Wraps `main(argv)`: what a user can cause ends in one line.

  A UsageError exits 2. Ctrl-C exits 130 (the shell's code for SIGINT) with
  a line that says how to continue; the executors stop the children on the
  way out, as on SIGTERM. A full disk exits 1, naming where. Everything
  already committed stays, and the same command continues.
  """

  def checked_main(argv):
    try:
      return main(argv)
    except UsageError as error:
      fail(str(error))
    except KeyboardInterrupt:
      sys.stderr.write(
          f"{_program()}: interrupted; rerun the same command to continue\n")
      sys.exit(EXIT_INTERRUPTED)
    except Exception as error:  # pylint: disable=broad-except
      full = files.out_of_space(error, _output_dir())
      if full is None:
        raise
      fail(f"no space left on {full}; free some and rerun the same command "
           "to continue", EXIT_FAILED)
    raise AssertionError("unreachable: fail() exits")

  return checked_main


def no_arguments(argv: list[str]) -> None:
  """Refuses arguments after the flags, for binaries that take flags only."""
  if len(argv) > 1:
    raise UsageError(f"unexpected arguments: {' '.join(argv[1:])}")


def check_output_directory(flag: str, path: str,
                           what: str | None = None) -> None:
  """Raises a UsageError naming --<flag> if a run cannot write into `path`.

  Args:
    flag: the flag that named `path`.
    path: the directory the run will write.
    what: the kind of run, e.g. "a search": a directory that another kind
      of run already holds is refused too (run_state.check_kind).

  Nothing is created: this runs before any work starts.
  """
  problem = files.unwritable_reason(path)
  if problem:
    raise UsageError(f"--{flag} {path} {problem}")
  if what:
    try:
      run_state.check_kind(path, what)
    except run_state.RunStateError as error:
      raise UsageError(f"--{flag}: {error}") from None


@contextlib.contextmanager
def flag_errors() -> Iterator[None]:
  """Turns a ConfigError raised inside into a UsageError naming its flag.

  A ConfigError's message starts with the setting, whose flag has the same
  name. This is where the libraries' errors about settings become flag
  errors; binaries and their flag readers use it, as a decorator or a
  `with` block.
  """
  try:
    yield
  except errors.ConfigError as error:
    raise UsageError(f"--{error}") from None
