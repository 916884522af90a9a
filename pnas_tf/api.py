"""The search and final training from Python (a notebook), as the binaries run.

search() and train_final() take the binaries' flags as keyword arguments,
named as the flags are (epochs=1, operations=["max3x3", "sep3x3"],
isolate_children=False), and run the binary's own main() on them: a call
checks its settings, records, resumes and exports exactly as the command
line does, and a bad value raises usage.UsageError with the line the binary
would print. The flags are restored afterwards.

`dataset` takes what --dataset takes (a tfds name, an image folder, an .npz
file; docs/datasets.md) or NumPy arrays in memory: a dict of the .npz's
arrays (x_train, y_train, and optionally x_test, y_test, class_names), or
keras.datasets' ((x_train, y_train), (x_test, y_test)). Arrays are checked,
then written once to <output_dir>/dataset_<digest>.npz, which the run (and
its children, in their own processes) reads as an .npz file.

Example:
  from pnas_tf import api
  ranking = api.search(dataset="/data/flowers", output_dir="/tmp/flowers",
                       max_blocks=2, beam_size=4, epochs=2)
  print(ranking[0].cell, ranking[0].accuracy)
  record = api.train_final(cell="/tmp/flowers", dataset="/data/flowers",
                           output_dir="/tmp/flowers_final", epochs=20)
  print(record["result"]["test_accuracy"], record["export"])
"""

import hashlib
import io
import os
from typing import Any, Mapping

from absl import flags
from absl.testing import flagsaver
import numpy as np

from pnas_tf import search as search_binary
from pnas_tf import train_final as train_final_binary
from pnas_tf.cli import usage
from pnas_tf.data import local_sources
from pnas_tf.nas import controller
from pnas_tf.nas import search_store
from pnas_tf.storage import files
from pnas_tf.storage import run_state


def search(dataset: Any, output_dir: str,
           **flag_values: Any) -> list[search_store.ChildRecord]:
  """Runs `python -m pnas_tf.search` with these flags, in this process.

  Args:
    dataset: --dataset, or arrays in memory (module docstring).
    output_dir: --output_dir; rerunning the same call resumes there.
    **flag_values: any other flag of the search, by name.

  Returns:
    Every trained cell, best first (summary.csv's order).

  Raises:
    usage.UsageError: a bad flag value or dataset, as the binary reports it.
  """
  output_dir = files.absolute(output_dir)
  _run(search_binary, "search", dict(
      flag_values, output_dir=output_dir,
      dataset=_dataset_flag(dataset, output_dir)))
  return controller.ranking(search_store.SearchStore(output_dir).records())


def train_final(cell: str, dataset: Any, output_dir: str,
                **flag_values: Any) -> dict[str, Any]:
  """Runs `python -m pnas_tf.train_final` with these flags, in this process.

  Args:
    cell: --cell: a cell string, PNASNet-5, or a search's output directory.
    dataset: --dataset, or arrays in memory (module docstring).
    output_dir: --output_dir; rerunning the same call continues there.
    **flag_values: any other flag of final training, by name.

  Returns:
    The result record the binary writes to result.json: "result" (test
    accuracy, parameters, timing), "export" (the SavedModel's path),
    "dataset", "network", "training", "data".

  Raises:
    usage.UsageError: a bad flag value or dataset, as the binary reports it.
    RuntimeError: the training failed (out of memory, a NaN loss); the same
      call continues from its last epoch.
  """
  output_dir = files.absolute(output_dir)
  status = _run(train_final_binary, "train_final", dict(
      flag_values, cell=cell, output_dir=output_dir,
      dataset=_dataset_flag(dataset, output_dir)))
  if status != 0:
    raise RuntimeError(f"the final training in {output_dir} failed (its "
                       "result is printed above); the same call continues "
                       "from its last epoch")
  return run_state.read_json(
      os.path.join(output_dir, train_final_binary.RESULT_FILE))


def _run(binary, program: str, values: dict[str, Any]) -> int:
  """binary.main on `values` parsed as its command line; returns its exit
  status. Every flag is as it was afterwards."""
  binary.define_flags()
  argv = [program] + [_argument(name, value)
                      for name, value in values.items() if value is not None]
  was_parsed = flags.FLAGS.is_parsed()
  try:
    # flagsaver restores every flag's value on the way out.
    with flagsaver.flagsaver():
      flags.FLAGS.unparse_flags()  # Defaults for every flag not given.
      try:
        flags.FLAGS(argv)
      except flags.Error as error:
        raise usage.UsageError(str(error).replace("\n", " ")) from None
      return binary.main([program])
  finally:
    if was_parsed:
      flags.FLAGS.mark_as_parsed()
    else:
      flags.FLAGS.unparse_flags()


def _argument(name: str, value: Any) -> str:
  """--name=value, as a shell would pass it (lists joined by commas)."""
  if isinstance(value, (list, tuple)):
    value = ",".join(map(str, value))
  return f"--{name}={value}"


def _dataset_flag(dataset: Any, output_dir: str) -> str:
  """--dataset's value: `dataset` itself, or the file its arrays go to.

  Raises:
    usage.UsageError: arrays that cannot be used (as --dataset).
  """
  if isinstance(dataset, (str, os.PathLike)):
    return os.fspath(dataset)
  arrays = _arrays(dataset)
  try:
    local_sources.check_arrays(arrays, "dataset")
  except local_sources.DatasetUnavailableError as error:
    raise usage.UsageError(f"--dataset: {error}") from None
  stream = io.BytesIO()
  np.savez(stream, **{name: np.asarray(value)
                      for name, value in arrays.items()})
  data = stream.getvalue()
  # Named by content: other arrays in the same directory are another
  # dataset, which the rerun's settings check refuses.
  path = os.path.join(
      output_dir, f"dataset_{hashlib.sha256(data).hexdigest()[:16]}.npz")
  if not files.exists(path):
    files.write_bytes_atomically(path, data)
  return path


def _arrays(dataset: Any) -> dict[str, Any]:
  """The .npz's arrays, from a dict of them or keras.datasets' pairs."""
  if isinstance(dataset, Mapping):
    return dict(dataset)
  try:
    (x_train, y_train), (x_test, y_test) = dataset
  except (TypeError, ValueError):
    raise TypeError(
        "dataset must be a tfds name, a path, a dict of arrays (x_train, "
        "y_train, ...) or ((x_train, y_train), (x_test, y_test)), not "
        f"{type(dataset).__name__}") from None
  return {"x_train": x_train, "y_train": y_train, "x_test": x_test,
          "y_test": y_test}
