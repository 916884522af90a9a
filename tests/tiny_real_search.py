"""A tiny real search on Fashion-MNIST (Debian's files, offline), run under
any executor, for tests that compare executors.

One operator (3 one-block cells), B = 2, K = 2: 5 children of a few seconds,
each trained for real (1 epoch on 64 images, validated on 64). The operator
is max3x3, the quickest to build: the stem's and reduction cells'
convolutions still learn, so accuracies differ from cell to cell (and tie
too, as on any small validation set).
"""

import os
import subprocess
import sys

from absl.testing import flagsaver

from pnas_tf import search
from pnas_tf.nas import search_store

search.define_flags()

SETTINGS = dict(dataset="fashion_mnist", operations=["max3x3"], max_blocks=2,
                beam_size=2, epochs=1, num_train_examples=64,
                validation_size=64, num_cells_per_stack=1, filters=4,
                batch_size=16, predictor="mlp", predictor_epochs=2,
                export_top=0, seed=0)

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Runs the search binary in a Python where `import ray` fails.
_WITHOUT_RAY = ("import runpy, sys; sys.modules['ray'] = None; "
                "runpy.run_module('pnas_tf.search', run_name='__main__')")
_IN_PROCESS = {}


def run(output_dir: str, **executor_flags) -> dict[str, float]:
  """Runs the search; returns each trained cell's validation accuracy.

  The executors differ in TensorFlow's thread counts (a worker of two gets
  one core), which may reorder floating-point sums; on 64 validation images
  it has not changed an accuracy here, and the tests ask for equal ones.
  """
  search.define_flags()  # The search's defaults, whoever set theirs last.
  with flagsaver.flagsaver(output_dir=output_dir, **SETTINGS,
                           **executor_flags):
    exit_code = search.main(["search"])
  assert exit_code == 0, exit_code
  return {record.cell: record.accuracy
          for record in search_store.SearchStore(output_dir).records().values()}


def arguments(output_dir: str, *flags: str) -> list[str]:
  """The search binary's command-line flags for SETTINGS, and `flags`."""
  return [f"--{name}={','.join(map(str, value))}"
          if isinstance(value, list) else f"--{name}={value}"
          for name, value in SETTINGS.items()] + [
              f"--output_dir={output_dir}", *flags]


def run_without_ray(output_dir: str, *flags: str
                    ) -> subprocess.CompletedProcess:
  """The search binary, run where Ray cannot be imported."""
  return subprocess.run(
      [sys.executable, "-c", _WITHOUT_RAY, *arguments(output_dir, *flags)],
      cwd=_ROOT, capture_output=True, text=True, timeout=600, check=False)


def in_process(root: str) -> tuple[dict[str, float],
                                   subprocess.CompletedProcess]:
  """The in-process executor's accuracies, from a run without Ray, and that
  run (once per test process: the tests compare the others with it)."""
  if not _IN_PROCESS:
    output_dir = os.path.join(root, "inprocess")
    done = run_without_ray(output_dir, "--executor=inprocess",
                           "--noisolate_children")
    accuracies = {} if done.returncode else {
        record.cell: record.accuracy for record in
        search_store.SearchStore(output_dir).records().values()}
    _IN_PROCESS.update(accuracies=accuracies, done=done)
  return dict(_IN_PROCESS["accuracies"]), _IN_PROCESS["done"]
