"""The scripts in bench/ as modules, for their tests: bench/ is no package."""

import functools
import importlib.util
import os

_BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), "bench")


@functools.cache  # Once a process: each script defines absl flags.
def load(name: str):
  """bench/<name>.py, imported."""
  spec = importlib.util.spec_from_file_location(
      name, os.path.join(_BENCH, f"{name}.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module
