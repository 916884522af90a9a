"""The flags every pnas_tf binary that trains children shares, defined once.

--dataset, --image_size, --epochs, --batch_size, --learning_rate,
--filters, --num_cells_per_stack, --num_train_examples, --validation_size,
--strategy, --seed and --output_dir mean the same in train_child, search and
train_final; the rest tune data loading and training. --dataset is a tfds
name, or your own images: an image folder or an .npz file
(docs/datasets.md), whose images are resized to --image_size (by default
the preset's input size). Values are checked here, before TensorFlow loads;
a bad one is a usage.UsageError naming the flag.

Example (in a binary, which passes absl's flag values in; this module never
reaches for the global ones itself):
  def define_flags():
    child_flags.define_flags(flag_values)

  def main(argv):
    settings = child_flags.settings_from_flags(parsed_flag_values,
                                               "a search")
"""

from absl import flags

from pnas_tf.cli import usage
from pnas_tf.config import child_settings
from pnas_tf.config import network_config
from pnas_tf.config import train_config
from pnas_tf.data import local_sources
from pnas_tf.storage import files

_DATA_DEFAULTS = train_config.DataConfig()
_TRAIN_DEFAULTS = train_config.TrainConfig()


def define_flags(values: flags.FlagValues, preset: str = "cifar_search",
                 verbose: int = 0) -> None:
  """Defines the shared flags once, and sets the binary's defaults.

  The flags are defined by the first call in a process; every call sets the
  default --preset and --verbose to the calling binary's, so a process (a
  test) that loads several binaries gets the defaults of the one it set up
  last, never silently another's.

  Args:
    values: the binary's flag values (absl's global ones), where the flags
      are defined.
    preset: the binary's default --preset.
    verbose: the binary's default --verbose.
  """
  if "dataset" not in values:
    _define_shared_flags(values)
  values.set_default("preset", preset)
  values.set_default("verbose", verbose)


def _define_shared_flags(values: flags.FlagValues) -> None:
  flags.DEFINE_string("dataset", _DATA_DEFAULTS.dataset,
                      "tfds image-classification dataset, e.g. cifar10 or "
                      "fashion_mnist; or your own images: a folder "
                      "(<dir>/<class>/<image> or <dir>/train/<class>/<image> "
                      "and <dir>/test/...) or an .npz file (x_train, "
                      "y_train, [x_test, y_test, class_names]).",
                      flag_values=values)
  flags.DEFINE_integer("image_size", None,
                       "S: images are resized to S x S. Default: the "
                       "preset's input size (32 for cifar_*) for a folder "
                       "or .npz; a tfds dataset's own size (train_final's "
                       "imagenet_* presets: theirs).", flag_values=values)
  flags.DEFINE_string("data_dir", None,
                      "tfds data directory (default: tfds' own).",
                      flag_values=values)
  flags.DEFINE_boolean("download", _DATA_DEFAULTS.download,
                       "Let tfds download a dataset that is not prepared.",
                       flag_values=values)
  flags.DEFINE_float("validation_size", _DATA_DEFAULTS.validation_size,
                     "Examples held out from the end of the train split for "
                     "validation: a count, or a fraction when below 1.",
                     flag_values=values)
  flags.DEFINE_integer("num_train_examples", _DATA_DEFAULTS.num_train_examples,
                       "Train on the first M examples only (0: all).",
                       flag_values=values)
  flags.DEFINE_integer("batch_size", _DATA_DEFAULTS.batch_size,
                       "Global batch size (all replicas).", flag_values=values)
  flags.DEFINE_boolean("random_flip", _DATA_DEFAULTS.random_flip,
                       "Random horizontal flips while training.",
                       flag_values=values)
  flags.DEFINE_integer("epochs", _TRAIN_DEFAULTS.epochs, "Training epochs (E).",
                       flag_values=values)
  flags.DEFINE_float("learning_rate", _TRAIN_DEFAULTS.learning_rate,
                     "Initial learning rate, cosine-decayed to 0.",
                     flag_values=values)
  flags.DEFINE_float("momentum", _TRAIN_DEFAULTS.momentum, "SGD momentum.",
                     flag_values=values)
  flags.DEFINE_float("gradient_clip_norm", _TRAIN_DEFAULTS.gradient_clip_norm,
                     "Clip gradients to this global norm (0: none).",
                     flag_values=values)
  flags.DEFINE_string("preset", "cifar_search",
                      "Network preset: "
                      f"{', '.join(network_config.PRESETS)}.",
                      flag_values=values)
  flags.DEFINE_integer("filters", None, "F (default: the preset's).",
                       flag_values=values)
  flags.DEFINE_integer("num_cells_per_stack", None,
                       "N; the network has 3N cells (default: the preset's).",
                       flag_values=values)
  flags.DEFINE_string("strategy", _TRAIN_DEFAULTS.strategy,
                      f"tf.distribute strategy: "
                      f"{', '.join(train_config.STRATEGIES)}.",
                      flag_values=values)
  flags.DEFINE_string("mixed_precision", _TRAIN_DEFAULTS.mixed_precision,
                      "mixed_float16 training: auto (on GPUs), on or off.",
                      flag_values=values)
  flags.DEFINE_string("xla", _TRAIN_DEFAULTS.xla,
                      "XLA-compiled training steps: auto (on GPUs), on or off.",
                      flag_values=values)
  flags.DEFINE_float("aux_head_weight", _TRAIN_DEFAULTS.aux_head_weight,
                     "Loss weight of the auxiliary head (presets that have "
                     "one: cifar_final, imagenet_*).", flag_values=values)
  flags.DEFINE_integer("seed", _TRAIN_DEFAULTS.seed,
                       "Seed of weights, shuffling and augmentation.",
                       flag_values=values)
  flags.DEFINE_boolean("deterministic", _TRAIN_DEFAULTS.deterministic,
                       "Deterministic TensorFlow ops: bit-identical runs for "
                       "a seed on the same hardware, at a cost in speed.",
                       flag_values=values)
  flags.DEFINE_integer("verbose", 0,
                       "Keras fit verbosity: 0 silent, 1 progress bar, 2 one "
                       "line per epoch.", flag_values=values)
  flags.DEFINE_string("output_dir", None, "Directory for everything written.",
                      flag_values=values)


@usage.flag_errors()
def settings_from_flags(values: flags.FlagValues, what: str | None = None
                        ) -> child_settings.ChildSettings:
  """Reads and checks the shared flags.

  Args:
    values: the parsed flags.
    what: the kind of run, e.g. "a search": then --output_dir must not hold
      another kind's files.

  Raises:
    usage.UsageError: naming the first bad flag.
  """
  if not values.output_dir:
    raise usage.UsageError("--output_dir is required")
  usage.check_output_directory("output_dir", values.output_dir, what)
  if values.preset not in network_config.PRESETS:
    raise usage.UsageError(
        f"--preset: unknown preset {values.preset!r}; known presets: "
        f"{', '.join(network_config.PRESETS)}")
  if values.verbose not in (0, 1, 2):
    raise usage.UsageError(f"--verbose must be 0, 1 or 2, got {values.verbose}")
  if values.image_size is not None and values.image_size < 1:
    raise usage.UsageError(
        f"--image_size must be >= 1, got {values.image_size}")
  overrides = {name: values[name].value
               for name in ("filters", "num_cells_per_stack")
               if values[name].value is not None}
  net = network_config.preset(values.preset, **overrides)  # Checks them.
  dataset, image_size = values.dataset, values.image_size
  if local_sources.local_kind(dataset):
    # Absolute: the settings a rerun compares, and workers that start
    # elsewhere, name the same files.
    dataset = files.absolute(dataset)
    if image_size is None:
      image_size = net.image_size
  if image_size:
    # A network too small for it (the auxiliary head's pooling) is said now.
    network_config.preset(values.preset, image_size=image_size, **overrides)
  data = train_config.DataConfig(
      dataset=dataset, image_size=image_size or 0,
      data_dir=values.data_dir, validation_size=values.validation_size,
      num_train_examples=values.num_train_examples,
      batch_size=values.batch_size, seed=values.seed,
      random_flip=values.random_flip, download=values.download)
  train = train_config.TrainConfig(
      epochs=values.epochs,
      learning_rate=values.learning_rate, momentum=values.momentum,
      gradient_clip_norm=values.gradient_clip_norm, seed=values.seed,
      strategy=values.strategy, mixed_precision=values.mixed_precision,
      xla=values.xla,
      aux_head_weight=values.aux_head_weight, verbose=values.verbose,
      deterministic=values.deterministic)
  return child_settings.ChildSettings(
      data=data, train=train, preset=values.preset,
      network_overrides=overrides, output_dir=values.output_dir)
