r"""Trains one child network and writes its result and a servable SavedModel.

Writes into --output_dir:
  result.json   the result record (accuracies, parameters, timing, status)
                and the settings that produced it;
  saved_model/  the trained network, with export.py's two signatures
                (uint8 images or encoded image bytes in; class
                probabilities and the top classes out; preprocessing
                inside);
  tensorboard/  loss, accuracy and learning rate per epoch, and HParams.
Exit status 0 for a trained child, 1 for a failed one (NaN loss, out of
memory), 2 for bad flags, a bad cell or an unavailable dataset; then nothing
is written.

Example:
  python -m pnas_tf.train_child --cell=PNASNet-5 --dataset=fashion_mnist \
      --epochs=1 --num_train_examples=2000 --filters=8 \
      --output_dir=/tmp/pnas_child
  python -m pnas_tf.train_child --cell=PNASNet-5 --dataset=/data/digits.npz \
      --image_size=28 --output_dir=/tmp/pnas_child_digits
  bazel run //pnas_tf:train_child -- --cell='sep3x3:0+max3x3:1' \
      --dataset=cifar10 --output_dir=/tmp/pnas_child
"""

import dataclasses
import json
import os
import sys

# Hides TensorFlow's C++ INFO logs while training (warnings and errors still
# show; users can set the variable themselves). Its few start-up lines print
# regardless: TF 2.21 logs them before it reads this variable.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

# pylint: disable=g-import-not-at-top
from absl import app
from absl import flags

from pnas_tf.cli import child_flags
from pnas_tf.cli import usage
from pnas_tf.config import child_settings
from pnas_tf.space import search_space
from pnas_tf.storage import files
# pylint: enable=g-import-not-at-top

RESULT_FILE = "result.json"
SAVED_MODEL_DIR = "saved_model"


def define_flags() -> None:
  """The shared child flags, plus --cell and --keep_checkpoints.

  (The search and final training always keep checkpoints: they have no
  such flag.)
  """
  child_flags.define_flags(flags.FLAGS)
  if "cell" not in flags.FLAGS:  # Another binary in this process has it.
    flags.DEFINE_string("cell", None,
                        "The cell: 'op:input+op:input,...' or PNASNet-5.")
  if "keep_checkpoints" not in flags.FLAGS:
    flags.DEFINE_boolean(
        "keep_checkpoints", False,
        "Back up every epoch, so that an interrupted child resumes.")


@usage.flag_errors()
def main(argv):
  """Trains the child; returns the exit status (0 trained, 1 failed)."""
  usage.no_arguments(argv)
  values = flags.FLAGS
  if not values.cell:
    raise usage.UsageError("--cell is required")
  try:
    cell = search_space.Cell.parse(values.cell)
  except ValueError as error:
    raise usage.UsageError(f"--cell: {error}") from None
  settings = child_flags.settings_from_flags(values, "a child training")
  settings = dataclasses.replace(settings, train=dataclasses.replace(
      settings.train, keep_checkpoints=values.keep_checkpoints))
  result_path = os.path.join(settings.output_dir, RESULT_FILE)
  if files.exists(result_path):
    raise usage.UsageError(
        f"--output_dir {settings.output_dir} already holds a trained child "
        f"({RESULT_FILE}); choose another directory")

  # TensorFlow loads only once the flags are known to be good.
  from pnas_tf.training import child_trainer
  from pnas_tf.data import datasets
  try:
    data = datasets.load_search_data(settings.data)
  except datasets.DatasetUnavailableError as error:
    raise usage.UsageError(f"--dataset: {error}") from None
  except ValueError as error:
    # Split sizes that do not fit; the message starts with the flag's name.
    raise usage.UsageError(f"--{error}") from None
  net = child_settings.network_for(settings, data.info.num_classes,
                                data.info.image_shape)

  result = child_trainer.train_and_evaluate(
      cell, net, data, settings.train, settings.output_dir,
      export_dir=os.path.join(settings.output_dir, SAVED_MODEL_DIR))
  record = {
      "result": result.to_json(),
      "dataset": dataclasses.asdict(data.info),
      "network": dataclasses.asdict(net),
      "training": dataclasses.asdict(settings.train),
      "data": dataclasses.asdict(settings.data),
  }
  files.write_json_atomically(result_path, record)
  json.dump(result.to_json(), sys.stdout, indent=2)
  sys.stdout.write("\n")
  return 0 if result.ok else 1


def run():
  """Entry point of `python -m pnas_tf.train_child` and its console script."""
  usage.enter_build_working_directory()
  define_flags()
  app.run(usage.checked(main), flags_parser=usage.parse_flags)


if __name__ == "__main__":
  run()
