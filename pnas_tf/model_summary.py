r"""Prints what a cell's network costs: parameters, every cell's output shape.

One JSON object on stdout: the canonical cell, the preset and its settings, the
trainable parameters of the network as served ("params", no auxiliary head)
and as trained ("training_params", with it where the preset has one), and the
output shape of the stem, of every cell and of the logits. Nothing is trained;
building even the large ImageNet network takes seconds. With --draw, the cell
is also drawn as a DAG into an .svg or .png file (needs Graphviz's `dot`).

Example:
  python -m pnas_tf.model_summary --cell=PNASNet-5 --preset=imagenet_mobile
  python -m pnas_tf.model_summary \
      --cell='sep3x3:0+max3x3:1,identity:2+sep5x5:0' --preset=cifar_search \
      --filters=32 --num_classes=100
  python -m pnas_tf.model_summary --cell=PNASNet-5 --draw=/tmp/pnasnet5.svg
  bazel run //pnas_tf:model_summary -- --cell=PNASNet-5 --preset=cifar_final
"""

import dataclasses
import json
import sys

from absl import app
from absl import flags

from pnas_tf.cli import usage
from pnas_tf.config import network_config
from pnas_tf.space import search_space
from pnas_tf.visual import cell_diagram

# NetworkConfig fields a flag of the same name may override.
_OVERRIDABLE = {
    "filters": "F, the first stack's filters",
    "num_cells_per_stack": "N; the network has 3N cells",
    "num_classes": "number of classes",
    "image_size": "input height and width",
    "image_channels": "input channels",
}


def define_flags() -> None:
  flags.DEFINE_string(
      "cell", "PNASNet-5",
      "The cell: its string form ('op:input+op:input,...') or a name "
      "(PNASNet-5).")
  flags.DEFINE_string(
      "preset", "cifar_search",
      f"Network preset: one of {', '.join(network_config.PRESETS)}.")
  for field, meaning in _OVERRIDABLE.items():
    flags.DEFINE_integer(field, None, f"{meaning} (default: the preset's).")
  flags.DEFINE_boolean(
      "aux_head", None, "Build the auxiliary head (default: the preset's).")
  flags.DEFINE_string(
      "draw", None,
      "Also draw the cell into this file, SVG or PNG by its extension "
      "(.svg or .png); needs Graphviz's dot (Debian package graphviz).")


def config_from_flags(values: flags.FlagValues) -> tuple[
    search_space.Cell, network_config.NetworkConfig]:
  """The cell and network the flags describe.

  Raises:
    usage.UsageError: naming the bad flag.
  """
  try:
    cell = search_space.Cell.parse(values.cell)
  except ValueError as error:
    raise usage.UsageError(f"--cell: {error}") from None
  if values.draw is not None:
    try:
      cell_diagram.output_format(values.draw)
    except ValueError as error:
      raise usage.UsageError(f"--draw: {error}") from None
  if values.preset not in network_config.PRESETS:
    raise usage.UsageError(
        f"--preset: unknown preset {values.preset!r}; known presets: "
        f"{', '.join(network_config.PRESETS)}")
  overrides = {field: values[field].value for field in _OVERRIDABLE
               if values[field].value is not None}
  if values.aux_head is not None:
    overrides["use_aux_head"] = values.aux_head
  try:
    config = network_config.preset(values.preset, **overrides)
  except ValueError as error:
    # NetworkConfig's messages start with the field, which is the flag's name.
    raise usage.UsageError(f"--{error}") from None
  return cell, config


def summarize(cell: search_space.Cell, preset: str,
              config: network_config.NetworkConfig) -> dict:
  """Builds the network and describes it as a JSON-ready dict."""
  # Imported here so that bad flags are reported before TensorFlow loads.
  from pnas_tf.model import cell as cell_lib  # pylint: disable=g-import-not-at-top
  from pnas_tf.model import network  # pylint: disable=g-import-not-at-top

  model = network.build_network(cell, config)
  cells = [{"name": layer.name, "filters": layer.filters,
            "strides": layer.strides,
            "output_shape": list(layer.output.shape[1:])}
           for layer in model.layers if isinstance(layer, cell_lib.PNASCell)]
  training_params = network.count_trainable_params(model)
  return {
      "cell": str(cell.canonical()),
      "cell_as_given": str(cell),
      "preset": preset,
      "network": dataclasses.asdict(config),
      "params": network.count_trainable_params(model, include_aux_head=False),
      "training_params": training_params,
      "non_trainable_params": model.count_params() - training_params,
      "stem_output_shape": list(model.get_layer("stem_bn").output.shape[1:]),
      "cells": cells,
      "logits_shape": list(model.outputs[0].shape[1:]),
  }


def draw(cell: search_space.Cell, path: str) -> None:
  """Writes the cell's diagram, ending the program in one line on failure.

  Drawn before the network is built, so that a missing Graphviz or an
  unwritable path is reported within a second, not after TensorFlow loads.
  """
  try:
    cell_diagram.render(cell, path)
  except cell_diagram.GraphvizNotFoundError as error:
    usage.fail(str(error), usage.EXIT_FAILED)
  except OSError as error:
    raise usage.UsageError(
        f"--draw: cannot write {path}: {error.strerror or error}") from None


@usage.flag_errors()
def main(argv):
  usage.no_arguments(argv)
  cell, config = config_from_flags(flags.FLAGS)
  if flags.FLAGS.draw is not None:
    draw(cell, flags.FLAGS.draw)
  json.dump(summarize(cell, flags.FLAGS.preset, config), sys.stdout, indent=2)
  sys.stdout.write("\n")


def run():
  """Entry point of `python -m pnas_tf.model_summary` and its console script."""
  usage.enter_build_working_directory()
  define_flags()
  app.run(usage.checked(main), flags_parser=usage.parse_flags)


if __name__ == "__main__":
  run()
