"""How a child is fed and trained, as pure data (no TensorFlow here).

Binaries build these from flags and check them before TensorFlow loads; the
input pipeline (datasets.py) and the trainer (child_trainer.py) consume them.

Example:
  data = DataConfig(dataset="fashion_mnist", num_train_examples=5000)
  train = TrainConfig(epochs=3, learning_rate=0.025)
"""

import dataclasses

from pnas_tf.config import errors

# tf.distribute strategies a child can train under (see strategies.py).
STRATEGIES = ("auto", "mirrored", "one_device", "default")
# Values of the mixed-precision and XLA switches.
SWITCHES = ("auto", "on", "off")


@dataclasses.dataclass(frozen=True)
class DataConfig:
  """Which data a child sees and how it is fed.

  Attributes:
    dataset: a tfds name, e.g. "cifar10" or "fashion_mnist"; or your own
      images: the path of an image folder or of an .npz file
      (pnas_tf/data/local_sources.py).
    data_dir: tfds data directory (None: tfds' default, ~/tensorflow_datasets).
    validation_size: held-out examples from the end of the training split: a
      count (>= 1), or a fraction of the split when below 1.
    num_train_examples: train on only the first M examples (0: all the rest).
    batch_size: examples per training step (all replicas together).
    seed: shuffling and augmentation seed.
    random_flip: random horizontal flips during training.
    download: let tfds download a dataset that is not prepared yet.
    image_size: S, the network's input height and width. A tfds dataset's
      images are resized to S x S with ImageNet-style preprocessing
      (preprocessing.py); a folder's or .npz's are resized whole, once
      (local_builder.py). 0 keeps a tfds dataset's own, fixed size.
  """
  dataset: str = "cifar10"
  data_dir: str | None = None
  validation_size: float = 5000
  num_train_examples: int = 0
  batch_size: int = 32
  seed: int = 0
  random_flip: bool = True
  download: bool = True
  image_size: int = 0

  def __post_init__(self):
    if not self.dataset:
      raise errors.ConfigError("dataset must be a tfds dataset name, an "
                               "image folder or an .npz file")
    if self.validation_size == 1:
      # One image says nothing, and "1.0" reads as 100%: refused either way.
      raise errors.ConfigError(
          "validation_size 1 is ambiguous (one image, or all of them?): give "
          "a fraction below 1 or a count of at least 2 images")
    if self.validation_size <= 0 or (
        self.validation_size >= 1
        and self.validation_size != int(self.validation_size)):
      raise errors.ConfigError(
          "validation_size must be a count >= 1 or a fraction in (0, 1), got "
          f"{self.validation_size}")
    if self.num_train_examples < 0:
      raise errors.ConfigError(
          "num_train_examples must be >= 0 (0: all), got "
          f"{self.num_train_examples}")
    if self.batch_size < 1:
      raise errors.ConfigError(
          f"batch_size must be >= 1, got {self.batch_size}")
    if self.image_size < 0:
      raise errors.ConfigError(
          f"image_size must be >= 0 (0: the dataset's), got {self.image_size}")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """How a child is trained.

  Attributes:
    epochs: E, training epochs.
    learning_rate: initial learning rate; cosine decay to 0 over training.
    momentum: SGD momentum (the paper's optimizer is not stated; 0.9 as NASNet).
    gradient_clip_norm: clip gradients to this global norm (0: no clipping).
    seed: initial weights and dropout.
    strategy: one of STRATEGIES.
    mixed_precision: "on" trains in mixed_float16; "auto" does so when a GPU
      is present; "off" (default) never.
    xla: "on" compiles training steps with XLA; "auto" does so when a GPU is
      present (default); "off" never.
    keep_checkpoints: back up after every epoch, so an interrupted child
      continues from its last finished epoch instead of restarting.
    aux_head_weight: weight of the auxiliary head's loss, for networks that
      have one (final training; docs/paper_notes.md: 0.4).
    verbose: Keras fit verbosity (0 silent, 2 one line per epoch).
    deterministic: enable TensorFlow's op determinism, so that runs with the
      same seed on the same hardware and software give bit-identical weights
      (on GPUs too), at a cost in speed (docs/training.md).
  """
  epochs: int = 20
  learning_rate: float = 0.01
  momentum: float = 0.9
  gradient_clip_norm: float = 0.0
  seed: int = 0
  strategy: str = "auto"
  mixed_precision: str = "off"
  xla: str = "auto"
  keep_checkpoints: bool = False
  aux_head_weight: float = 0.4
  verbose: int = 0
  deterministic: bool = False

  def __post_init__(self):
    if self.epochs < 1:
      raise errors.ConfigError(f"epochs must be >= 1, got {self.epochs}")
    if not self.learning_rate > 0:
      raise errors.ConfigError(
          f"learning_rate must be > 0, got {self.learning_rate}")
    if not 0 <= self.momentum < 1:
      raise errors.ConfigError(
          f"momentum must be in [0, 1), got {self.momentum}")
    if self.gradient_clip_norm < 0:
      raise errors.ConfigError("gradient_clip_norm must be >= 0 (0: none), got "
                               f"{self.gradient_clip_norm}")
    if self.strategy not in STRATEGIES:
      raise errors.ConfigError(
          f"strategy must be one of {', '.join(STRATEGIES)}, got "
          f"{self.strategy!r}")
    if self.aux_head_weight < 0:
      raise errors.ConfigError(
          f"aux_head_weight must be >= 0, got {self.aux_head_weight}")
    for name in ("mixed_precision", "xla"):
      if getattr(self, name) not in SWITCHES:
        raise errors.ConfigError(
            f"{name} must be one of {', '.join(SWITCHES)}, got "
            f"{getattr(self, name)!r}")
