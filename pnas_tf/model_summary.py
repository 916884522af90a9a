r"""Prints what a cell's network costs: parameters and every cell's output shape.

One JSON object on stdout: the canonical cell, the preset and its settings, the
trainable parameter count and the output shape of the stem, of every cell and
of the logits. Nothing is trained; building even the large ImageNet network
takes seconds.

Example:
  python -m pnas_tf.model_summary --cell=PNASNet-5 --preset=imagenet_mobile
  python -m pnas_tf.model_summary \
      --cell='sep3x3:0+max3x3:1,identity:2+sep5x5:0' --preset=cifar_search \
      --filters=32 --num_classes=100
  bazel run //pnas_tf:model_summary -- --cell=PNASNet-5 --preset=cifar_final
"""

import dataclasses
import json
import sys

from absl import flags

from pnas_tf import cli
from pnas_tf import network_config
from pnas_tf import search_space

_CELL = flags.DEFINE_string(
    "cell", "PNASNet-5",
    "The cell: its string form ('op:input+op:input,...') or a name "
    "(PNASNet-5).")
_PRESET = flags.DEFINE_string(
    "preset", "cifar_search",
    f"Network preset: one of {', '.join(network_config.PRESETS)}.")
_FILTERS = flags.DEFINE_integer(
    "filters", None, "F, the first stack's filters (default: the preset's).")
_NUM_CELLS_PER_STACK = flags.DEFINE_integer(
    "num_cells_per_stack", None, "N; the network has 3N cells "
    "(default: the preset's).")
_NUM_CLASSES = flags.DEFINE_integer(
    "num_classes", None, "Number of classes (default: the preset's).")
_IMAGE_SIZE = flags.DEFINE_integer(
    "image_size", None, "Input height and width (default: the preset's).")
_IMAGE_CHANNELS = flags.DEFINE_integer(
    "image_channels", None, "Input channels (default: the preset's).")
_AUX_HEAD = flags.DEFINE_boolean(
    "aux_head", None, "Add the auxiliary head (default: the preset's).")

# (NetworkConfig field, flag) for the optional overrides.
_OVERRIDES = (
    ("filters", _FILTERS),
    ("num_cells_per_stack", _NUM_CELLS_PER_STACK),
    ("num_classes", _NUM_CLASSES),
    ("image_size", _IMAGE_SIZE),
    ("image_channels", _IMAGE_CHANNELS),
    ("use_aux_head", _AUX_HEAD),
)


def _config_from_flags() -> tuple[search_space.Cell, network_config.NetworkConfig]:
  try:
    cell = search_space.Cell.parse(_CELL.value)
  except ValueError as error:
    raise cli.UsageError(f"--cell: {error}") from None
  if _PRESET.value not in network_config.PRESETS:
    raise cli.UsageError(
        f"--preset: unknown preset {_PRESET.value!r}; known presets: "
        f"{', '.join(network_config.PRESETS)}")
  overrides = {field: holder.value for field, holder in _OVERRIDES
               if holder.value is not None}
  try:
    config = network_config.preset(_PRESET.value, **overrides)
  except ValueError as error:
    # NetworkConfig's messages start with the field, which is the flag's name.
    raise cli.UsageError(f"--{error}") from None
  return cell, config


def summarize(cell: search_space.Cell, preset: str,
              config: network_config.NetworkConfig) -> dict:
  """Builds the network and describes it as a JSON-ready dict."""
  # Imported here so that bad flags are reported before TensorFlow loads.
  from pnas_tf import cell as cell_lib  # pylint: disable=g-import-not-at-top
  from pnas_tf import network  # pylint: disable=g-import-not-at-top

  model = network.build_network(cell, config)
  cells = [{"name": layer.name, "filters": layer.filters,
            "strides": layer.strides,
            "output_shape": list(layer.output.shape[1:])}
           for layer in model.layers if isinstance(layer, cell_lib.PNASCell)]
  trainable = network.count_trainable_params(model)
  return {
      "cell": str(cell.canonical()),
      "cell_as_given": str(cell),
      "preset": preset,
      "network": dataclasses.asdict(config),
      "params": trainable,
      "non_trainable_params": model.count_params() - trainable,
      "stem_output_shape": list(model.get_layer("stem_bn").output.shape[1:]),
      "cells": cells,
      "logits_shape": list(model.outputs[0].shape[1:]),
  }


def main(argv):
  if len(argv) > 1:
    raise cli.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  cell, config = _config_from_flags()
  json.dump(summarize(cell, _PRESET.value, config), sys.stdout, indent=2)
  sys.stdout.write("\n")


if __name__ == "__main__":
  cli.run(main)
