r"""Converts a TF-slim PNASNet-5 checkpoint into a Keras model and an export.

Reads the checkpoint by variable name (slim's names, described in
pnas_tf/model/slim_checkpoint.py) into PNASNet-5 on the ImageNet skeleton,
and writes into --output_dir:
  model.keras           the inference network: float images scaled to [-1, 1]
                        (slim's Inception preprocessing) -> the 1001 logits,
                        index 0 = background, as slim's;
  model_with_aux_head.keras   the same with the auxiliary head restored too,
                        outputs [logits, aux_logits], when the checkpoint has
                        one (a training checkpoint);
  export/<model_name>/1/      the serving SavedModel: pnas_tf's two
                        signatures with slim's evaluation preprocessing
                        inside, and the 1001 ImageNet class names
                        (background, then tfds imagenet2012's WordNet ids);
  conversion.json       what was read and written; also printed on stdout.
With --export_formats=saved_model,tflite,onnx the export's version directory
also holds model.tflite, model_uint8.tflite and model.onnx, for phones and
ONNX runtimes (pnas_tf/serving/device_export.py).
Where the checkpoint holds exponential moving averages of the weights, those
are restored, as slim's evaluation does; conversion.json says how many. A
checkpoint that does not fit ends the program with one line listing the
missing, unexpected and mis-shaped variables, and nothing is written.

Example:
  python -m pnas_tf.convert_checkpoint --preset=imagenet_mobile \
      --checkpoint=/tmp/pnasnet-5_mobile_2017_12_13/model.ckpt \
      --output_dir=/tmp/pnasnet5_mobile --export_formats=saved_model,tflite,onnx
  python -m pnas_tf.convert_checkpoint --preset=imagenet_large \
      --checkpoint=/tmp/pnasnet-5_large_2017_12_13/model.ckpt \
      --output_dir=/tmp/pnasnet5_large
  python -m pnas_tf.convert_checkpoint --preset=imagenet_mobile --filters=8 \
      --num_cells_per_stack=1 --image_size=96 \
      --checkpoint=/tmp/small/model.ckpt --output_dir=/tmp/small_converted
  bazel run //pnas_tf:convert_checkpoint -- --checkpoint=... --output_dir=...
"""

import dataclasses
import json
import os
import sys
import uuid

from absl import app
from absl import flags
from absl import logging

from pnas_tf.cli import export_flags
from pnas_tf.cli import usage
from pnas_tf.config import network_config
from pnas_tf.storage import files

PRESETS = ("imagenet_mobile", "imagenet_large")
MODEL_FILE = "model.keras"
AUX_MODEL_FILE = "model_with_aux_head.keras"
SUMMARY_FILE = "conversion.json"
EXPORT_DIR = "export"
BACKGROUND = "background"
# NetworkConfig fields a flag of the same name may override.
_OVERRIDABLE = {
    "filters": "F, the first stack's filters",
    "num_cells_per_stack": "N; the network has 3N cells",
    "image_size": "input height and width",
}


def define_flags() -> None:
  flags.DEFINE_string(
      "checkpoint", None,
      "The TF-slim PNASNet checkpoint: its prefix (e.g. .../model.ckpt) or "
      "its directory.")
  flags.DEFINE_string(
      "preset", "imagenet_mobile",
      f"The network the checkpoint holds: one of {', '.join(PRESETS)}.")
  for field, meaning in _OVERRIDABLE.items():
    flags.DEFINE_integer(field, None, f"{meaning} (default: the preset's).")
  flags.DEFINE_string("output_dir", None, "Where to write (see above).")
  flags.DEFINE_string(
      "model_name", "pnasnet5",
      "The served model's name: the export goes to "
      "<output_dir>/export/<model_name>/1.")
  flags.DEFINE_boolean(
      "aux_head", True,
      "Restore the checkpoint's auxiliary head, when it has one, into "
      f"{AUX_MODEL_FILE}. --noaux_head ignores it, as slim's evaluation "
      "does (needed at another image size than the head was trained at).")
  export_flags.define_flags(flags.FLAGS)


def config_from_flags(values: flags.FlagValues) -> network_config.NetworkConfig:
  """The network the flags describe, before the checkpoint is read.

  Raises:
    usage.UsageError: naming the bad flag.
  """
  for name in ("checkpoint", "output_dir"):
    if not values[name].value:
      raise usage.UsageError(f"--{name} is required")
  if values.preset not in PRESETS:
    raise usage.UsageError(
        f"--preset: slim's PNASNet checkpoints are {', '.join(PRESETS)}, "
        f"got {values.preset!r}")
  if not values.model_name or "/" in values.model_name:
    raise usage.UsageError(
        f"--model_name must be a non-empty name without '/', got "
        f"{values.model_name!r}")
  overrides = {field: values[field].value for field in _OVERRIDABLE
               if values[field].value is not None}
  # Inference: no drop-path; the auxiliary head follows the checkpoint.
  overrides.update(drop_path_keep_prob=1.0, use_aux_head=False)
  try:
    return network_config.preset(values.preset, **overrides)
  except ValueError as error:
    raise usage.UsageError(f"--{error}") from None


def check_output_directory(output_dir: str, model_name: str) -> None:
  """Refuses an --output_dir that already holds a conversion's files."""
  usage.check_output_directory("output_dir", output_dir)
  for name in (MODEL_FILE, AUX_MODEL_FILE, SUMMARY_FILE,
               os.path.join(EXPORT_DIR, model_name)):
    if files.exists(os.path.join(output_dir, name)):
      raise usage.UsageError(
          f"--output_dir {output_dir} already holds {name}; choose another "
          "directory or remove it")


def imagenet_class_names() -> list[str]:
  """Slim's 1001 classes: background, then imagenet2012's 1000 in tfds' order.

  Both number the 1000 classes by their sorted WordNet ids; tfds knows them
  without any data downloaded.
  """
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  names = tfds.builder("imagenet2012").info.features["label"].names
  return [BACKGROUND, *names]


def _not_fitting(checkpoint: str, preset: str,
                 config: network_config.NetworkConfig, mismatch,
                 found: dict) -> str:
  """The one-line refusal of a checkpoint, with a hint where one helps."""
  message = f"--checkpoint: {checkpoint} does not fit --preset={preset}"
  hints = []
  first_cell = found.get("cell_0/1x1/weights")
  cells = {name.split("/")[0] for name in found
           if name.split("/")[0].removeprefix("cell_").isdigit()}
  if first_cell and cells and len(cells) % 3 == 0:
    filters, per_stack = first_cell[-1], len(cells) // 3
    if (filters, per_stack) != (config.filters, config.num_cells_per_stack):
      hints.append(f"the checkpoint's network has --filters={filters} "
                   f"--num_cells_per_stack={per_stack}")
  if mismatch.only_aux_head_misshaped():
    hints.append("its auxiliary head was trained at another --image_size; "
                 "--noaux_head leaves it out")
  hint = f" ({'; '.join(hints)})" if hints else ""
  return f"{message}{hint}: {mismatch}"


def _save_keras(model, path: str) -> None:
  """Saves a .keras file whole or not at all."""
  partial = os.path.join(os.path.dirname(path),
                         f".partial-{uuid.uuid4().hex}.keras")
  model.save(partial)
  files.rename(partial, path)


def convert(checkpoint: str, preset: str,
            config: network_config.NetworkConfig, output_dir: str,
            model_name: str, aux_head: bool,
            export_formats: tuple[str, ...] = ()) -> dict:
  """Reads the checkpoint into PNASNet-5 and writes the outputs.

  Returns:
    The JSON-ready summary, also written to <output_dir>/conversion.json.

  Raises:
    usage.UsageError: no readable checkpoint, or one that does not fit.
  """
  # Imported here so that bad flags are reported before TensorFlow loads.
  # pylint: disable=g-import-not-at-top
  from pnas_tf.model import network
  from pnas_tf.model import slim_checkpoint
  from pnas_tf.serving import export
  from pnas_tf.space import search_space
  # pylint: enable=g-import-not-at-top
  try:
    found = slim_checkpoint.read_shapes(checkpoint)
  except ValueError as error:
    raise usage.UsageError(f"--checkpoint: {error}") from None
  with_aux_head = aux_head and slim_checkpoint.has_aux_head(found)
  # A ConfigError here (an image too small for the head) names its flag.
  config = dataclasses.replace(config, use_aux_head=with_aux_head)
  model = network.build_network(search_space.PNASNET_5, config,
                                name="pnasnet5")
  try:
    restored = slim_checkpoint.restore(model, checkpoint)
  except slim_checkpoint.CheckpointMismatchError as error:
    raise usage.UsageError(
        _not_fitting(checkpoint, preset, config, error.mismatch,
                     found)) from None
  logging.info("Restored %d variables, %d of them from their exponential "
               "moving averages.", restored.variables, restored.moving_averages)

  output_dir = files.absolute(output_dir)
  files.makedirs(output_dir)
  export_path = export.export_classifier(
      model, (config.image_size, config.image_size, config.image_channels),
      os.path.join(output_dir, EXPORT_DIR, model_name, "1"),
      class_names=imagenet_class_names(), central_crop=True,
      preprocessing_style=export.INCEPTION, formats=export_formats)
  _save_keras(export.inference_model(model),
              os.path.join(output_dir, MODEL_FILE))
  if with_aux_head:
    _save_keras(model, os.path.join(output_dir, AUX_MODEL_FILE))
    aux_state = "restored"
  elif slim_checkpoint.has_aux_head(found):
    aux_state = "left out (--noaux_head)"
  else:
    aux_state = "not in the checkpoint"
  summary = {
      "checkpoint": files.absolute(checkpoint),
      "preset": preset,
      "network": dataclasses.asdict(config),
      "variables": restored.variables,
      "moving_averages": restored.moving_averages,
      "aux_head": aux_state,
      "model": os.path.join(output_dir, MODEL_FILE),
      "model_with_aux_head": (os.path.join(output_dir, AUX_MODEL_FILE)
                              if with_aux_head else None),
      "export": export_path,
      "model_input": (f"float32 (batch, {config.image_size}, "
                      f"{config.image_size}, 3) images scaled to [-1, 1]"),
      "model_output": "1001 logits, index 0 = background",
  }
  files.write_json_atomically(os.path.join(output_dir, SUMMARY_FILE), summary)
  return summary


@usage.flag_errors()
def main(argv):
  usage.no_arguments(argv)
  values = flags.FLAGS
  config = config_from_flags(values)
  export_formats = export_flags.formats_from_flags(values)
  check_output_directory(values.output_dir, values.model_name)
  summary = convert(values.checkpoint, values.preset, config,
                    values.output_dir, values.model_name, values.aux_head,
                    export_formats)
  json.dump(summary, sys.stdout, indent=2)
  sys.stdout.write("\n")


def run():
  """Entry point of `python -m pnas_tf.convert_checkpoint` and its script."""
  usage.enter_build_working_directory()
  define_flags()
  app.run(usage.checked(main), flags_parser=usage.parse_flags)


if __name__ == "__main__":
  run()
