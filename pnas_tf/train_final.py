r"""Final training: a found cell on the whole training split, tested, exported.

--cell takes a cell string, PNASNet-5, or a search's output directory (its
best trained cell of the search's B blocks; for a finished search, the one it
exported as pnas_1). Trains
the preset's network (default cifar_final: N = 3, F = 48, auxiliary head,
ScheduledDropPath) on the whole train split (or its first
--num_train_examples), then evaluates it once on --test_split. The ImageNet
presets resize images to their input size (random crops for training, the
central crop for testing and serving; preprocessing.py). Every epoch
is committed, so rerunning the same command after a crash continues from the
last finished epoch; other settings on the same --output_dir are refused.
--validation_size is not used here. An image folder or .npz without a test
split has one set aside once, 10% of each class (docs/datasets.md).

Writes into --output_dir: run.json (the settings) and export.json (the
export's path) at the start, epochs.json and backup/ while training,
tensorboard/ (training curves, HParams, test/accuracy), final.weights.h5 and
result.json (test accuracy, parameters, timing), written last; and
the SavedModel to <export_dir>/<model_name>/<version>/ (TensorFlow Serving's
layout; see export.py for its two signatures), and with --export_formats
its TFLite and ONNX files in the same directory. Exit status 0 when trained,
1 for a failed training (NaN loss, out of memory: the backup is kept, so the
same command continues), 2 for bad flags.

Example:
  python -m pnas_tf.train_final --cell=PNASNet-5 \
      --flagfile=flags/cifar10_final.cfg
  python -m pnas_tf.train_final --cell=PNASNet-5 \
      --flagfile=flags/imagenet_mobile_final.cfg
  python -m pnas_tf.train_final --cell=/tmp/pnas_proxy \
      --flagfile=flags/fashion_mnist_final.cfg --output_dir=/tmp/final_found
  python -m pnas_tf.train_final --cell=/tmp/flowers --dataset=$HOME/flowers \
      --epochs=50 --output_dir=/tmp/flowers_final \
      --export_formats=saved_model,tflite,onnx
  python -m pnas_tf.train_final --cell=PNASNet-5 --preset=imagenet_mobile \
      --init_weights=/tmp/pnasnet5_mobile/model.keras --image_size=224 \
      --dataset=$HOME/flowers --epochs=10 --learning_rate=0.01 \
      --output_dir=/tmp/flowers_pnasnet5
  bazel run //pnas_tf:train_final -- --cell=PNASNet-5 \
      --flagfile=flags/fashion_mnist_final.cfg
"""

import dataclasses
import json
import os
import sys

# Hides TensorFlow's C++ INFO logs (see train_child.py).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

# pylint: disable=g-import-not-at-top
from absl import app
from absl import flags

from pnas_tf.cli import child_flags
from pnas_tf.cli import export_flags
from pnas_tf.cli import terminal
from pnas_tf.cli import usage
from pnas_tf.config import child_settings
from pnas_tf.config import network_config
from pnas_tf.config import run_settings
from pnas_tf.nas import child_evaluator
from pnas_tf.nas import controller
from pnas_tf.nas import search_store
from pnas_tf.space import search_space
from pnas_tf.storage import files
from pnas_tf.storage import run_state
# pylint: enable=g-import-not-at-top

RESULT_FILE = "result.json"
SETTINGS_FILE = run_state.SETTINGS_FILES["a final training"]
# Where this run exports to, chosen at its first start.
EXPORT_FILE = "export.json"
FORMAT_VERSION = 1


def define_flags() -> None:
  """The shared training flags (preset cifar_final, a line per epoch), plus
  final training's.

  A flag another binary defined already in this process (tests load
  several) is kept as it is.
  """
  child_flags.define_flags(flags.FLAGS, preset="cifar_final", verbose=0)
  export_flags.define_flags(flags.FLAGS)
  own = (
      (flags.DEFINE_string, "cell", None,
       "A cell string, PNASNet-5, or a search's output directory (its best "
       "cell of B blocks)."),
      (flags.DEFINE_string, "test_split", "test",
       "The tfds split tested once at the end (imagenet2012: validation)."),
      (flags.DEFINE_float, "drop_path_keep_prob", None,
       "ScheduledDropPath keep probability at the last cell (default: the "
       "preset's; 1 turns it off)."),
      (flags.DEFINE_string, "export_dir", None,
       "Where the SavedModel goes (default: <output_dir>/export)."),
      (flags.DEFINE_string, "init_weights", None,
       "Fine-tune: start from this Keras model's weights (a .keras file, "
       "e.g. convert_checkpoint's model.keras, with --cell, --preset, "
       "--filters and --num_cells_per_stack as it was built). Layers are "
       "matched by name; the classifier is new when the class count "
       "differs."),
      (flags.DEFINE_string, "model_name", "pnas",
       "The model's name under --export_dir, as TensorFlow Serving will "
       "know it."),
  )
  for define, name, default, help_text in own:
    if name not in flags.FLAGS:
      define(name, default, help_text)


def cell_from_flag(text: str) -> search_space.Cell:
  """The cell --cell names (see the module docstring).

  Raises:
    usage.UsageError: a malformed cell, or a search directory without a
      trained cell of its B blocks.
  """
  if files.isdir(text):
    store = search_store.SearchStore(text)
    try:
      max_blocks = store.saved_settings().get("max_blocks")
      records = store.records()
    except search_store.StoreError as error:
      raise usage.UsageError(f"--cell: {error}") from None
    if max_blocks is None:
      raise usage.UsageError(
          f"--cell: {text} is a directory but not a search's output "
          "directory (it has no search.json)")
    best = next((record for record in controller.ranking(records)
                 if record.ok and record.num_blocks == max_blocks), None)
    if best is None:
      raise usage.UsageError(f"--cell: the search in {text} has no trained "
                             f"{max_blocks}-block cell yet")
    return search_space.Cell.parse(best.cell)
  if os.sep in text:
    raise usage.UsageError(f"--cell: no such search directory {text}")
  try:
    return search_space.Cell.parse(text)
  except ValueError as error:
    raise usage.UsageError(f"--cell: {error}") from None


# Final training has no validation split: --validation_size means nothing.
_MAY_CHANGE = ("validation_size",)


def _preset_image_size(settings: child_settings.ChildSettings) -> int:
  """The input size an ImageNet preset resizes a tfds dataset to; 0 for the
  CIFAR skeleton (the dataset's own size)."""
  net_shape = network_config.preset(settings.preset,
                                    **settings.network_overrides)
  return net_shape.image_size if net_shape.skeleton == "imagenet" else 0


def resume_settings(cell: search_space.Cell,
                    settings: child_settings.ChildSettings,
                    test_split: str, init_weights: str = ""
                    ) -> tuple[dict, dict]:
  """(settings a rerun must keep, defaults for an older run.json)."""
  configs = (settings.data, settings.train)
  extra = {"preset": settings.preset, "test_split": test_split,
           "cell": str(cell), "init_weights": init_weights,
           **settings.network_overrides}
  # A run.json from before image_size (or init_weights) was compared used
  # the preset's (or none).
  defaults = {**run_settings.defaults(configs, _MAY_CHANGE),
              "image_size": _preset_image_size(settings), "init_weights": ""}
  return run_settings.comparable(configs, extra, _MAY_CHANGE), defaults


def _settings(values: flags.FlagValues) -> child_settings.ChildSettings:
  """The checked training settings, ImageNet presets' input size included.

  Raises:
    usage.UsageError: naming the first bad flag, or a finished --output_dir.
  """
  settings = child_flags.settings_from_flags(values, "a final training")
  if values.drop_path_keep_prob is not None:
    settings = child_settings.with_network_overrides(
        settings, drop_path_keep_prob=values.drop_path_keep_prob)
  if not values.model_name or os.sep in values.model_name:
    raise usage.UsageError(f"--model_name must be a plain name, got "
                           f"{values.model_name!r}")
  if not settings.data.image_size:
    # A tfds dataset, and no --image_size: the ImageNet presets resize to
    # their input size, with ImageNet-style preprocessing.
    settings = dataclasses.replace(settings, data=dataclasses.replace(
        settings.data, image_size=_preset_image_size(settings)))
  usage.check_output_directory(
      "export_dir", _model_dir(values, settings))
  if files.exists(os.path.join(settings.output_dir, RESULT_FILE)):
    raise usage.UsageError(
        f"--output_dir {settings.output_dir} holds a finished final training "
        f"({RESULT_FILE}); choose another directory")
  return settings


def _model_dir(values: flags.FlagValues,
               settings: child_settings.ChildSettings) -> str:
  """Where the model's numbered versions go: <export_dir>/<model_name>."""
  return os.path.join(
      values.export_dir or os.path.join(settings.output_dir, "export"),
      values.model_name)


def _train_and_record(cell, settings, data, net, test_split: str,
                      model_dir: str, export_formats: tuple[str, ...],
                      init_weights: tuple[str, object] | None,
                      startup: terminal.CapturedOutput) -> dict | None:
  """Trains under the directory's lock; the result record, or None if failed.

  `init_weights` is (--init_weights, its loaded model) when fine-tuning.
  A line per epoch goes to <output_dir>/train_final.log after `startup`
  (TensorFlow's start-up output); on a terminal, a bar over the epochs
  shows instead of those lines.

  Raises:
    run_state.RunStateError: the directory is another run's, or its
      settings differ.
  """
  # pylint: disable=g-import-not-at-top
  from pnas_tf.training import final_trainer
  from pnas_tf.training import progress
  # pylint: enable=g-import-not-at-top
  output_dir = settings.output_dir
  with run_state.exclusive_directory(output_dir, "a final training"):
    init_path, init_model = init_weights or ("", None)
    recorded, defaults = resume_settings(cell, settings, test_split,
                                         init_path)
    run_state.check_and_record(
        os.path.join(output_dir, SETTINGS_FILE), recorded, FORMAT_VERSION,
        what="a final training", defaults=defaults)
    export_path = _export_path(output_dir, model_dir)
    terminal.log_to_file(os.path.join(output_dir, "train_final.log"),
                         startup)
    bar = terminal.shows_progress_bar(settings.train.verbose)
    if bar:
      terminal.info_only_to_log()
    result = final_trainer.train_final(
        cell, net, data, settings.train, output_dir, export_path=export_path,
        export_formats=export_formats, init_weights=init_model,
        callbacks=[progress.EpochProgress(settings.train.epochs, bar=bar)])
    if not result.ok:
      # No result.json: the epoch backup stays, and the same command
      # continues from it once the cause (memory, say) is dealt with.
      print(json.dumps(result.to_json(), indent=2))
      return None
    record = {
        "result": result.to_json(),
        "export": export_path,
        "dataset": dataclasses.asdict(data.info),
        "network": dataclasses.asdict(net),
        "training": dataclasses.asdict(settings.train),
        "data": dataclasses.asdict(settings.data),
        "init_weights": init_path or None,
    }
    child_evaluator.write_cell_files(
        model_dir, dict(result.to_json(), export=export_path))
    files.write_json_atomically(os.path.join(output_dir, RESULT_FILE), record)
    final_trainer.discard_backup(output_dir)
    return record


@usage.flag_errors()
def main(argv):
  """Trains, tests and exports; returns the exit status."""
  usage.no_arguments(argv)
  values = flags.FLAGS
  if not values.cell:
    raise usage.UsageError("--cell is required")
  cell = cell_from_flag(values.cell)
  settings = _settings(values)
  export_formats = export_flags.formats_from_flags(values)

  # TensorFlow loads only once the flags are known to be good; what it
  # prints as it loads goes to the run's log, not the terminal.
  with terminal.captured_output(enabled=not settings.train.verbose
                                ) as startup:
    from pnas_tf.data import datasets  # pylint: disable=g-import-not-at-top
    try:
      data = datasets.load_final_data(settings.data, values.test_split)
    except datasets.DatasetUnavailableError as error:
      raise usage.UsageError(f"--dataset: {error}") from None
  net = child_settings.network_for(settings, data.info.num_classes,
                                   data.info.image_shape)
  model_dir = _model_dir(values, settings)
  init_weights = _init_weights(values.init_weights, cell, net)
  try:
    record = _train_and_record(cell, settings, data, net, values.test_split,
                               model_dir, export_formats, init_weights,
                               startup)
  except run_state.RunStateError as error:
    raise usage.UsageError(str(error)) from None
  if record is None:
    return 1
  json.dump(record, sys.stdout, indent=2)
  sys.stdout.write("\n")
  return 0


def _init_weights(path: str | None, cell: search_space.Cell,
                  net: network_config.NetworkConfig):
  """(path, its model) for --init_weights, checked against the network;
  None without it.

  Raises:
    usage.UsageError: a missing or unreadable file, or one whose weights do
      not fit the network.
  """
  if not path:
    return None
  # pylint: disable=g-import-not-at-top
  from pnas_tf.training import fine_tuning
  # pylint: enable=g-import-not-at-top
  path = os.path.abspath(path)
  try:
    source = fine_tuning.load_source(path)
    fine_tuning.check_fits(source, cell, net)
  except fine_tuning.FineTuningError as error:
    raise usage.UsageError(f"--init_weights: {error}") from None
  return path, source


def _export_path(output_dir: str, model_dir: str) -> str:
  """The version directory this run exports to, fixed at its first start.

  A rerun after a crash that came after the export reuses it (and finds it
  complete) instead of exporting the same model again as a new version.
  """
  # pylint: disable=g-import-not-at-top
  from pnas_tf.serving import export
  # pylint: enable=g-import-not-at-top
  marker = os.path.join(output_dir, EXPORT_FILE)
  if files.exists(marker):
    return run_state.read_json(marker)["path"]
  path = export.next_version_directory(model_dir)
  files.write_json_atomically(marker, {"path": path})
  return path


def run():
  """Entry point of `python -m pnas_tf.train_final` and its console script."""
  usage.enter_build_working_directory()
  define_flags()
  app.run(usage.checked(main), flags_parser=usage.parse_flags)


if __name__ == "__main__":
  run()
