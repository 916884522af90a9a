"""The shape of a PNAS network as pure data: NetworkConfig and the presets.

No TensorFlow here, so binaries check their flags before it loads.

Example:
  config = preset("cifar_search", filters=8, num_classes=100)
"""

import dataclasses

from pnas_tf.config import errors

SKELETONS = ("cifar", "imagenet")
NUM_REDUCTION_CELLS = 2
FILTER_SCALING_RATE = 2
NUM_IMAGENET_STEM_CELLS = 2


@dataclasses.dataclass(frozen=True)
class NetworkConfig:
  """Everything that fixes a network's shape, for a given cell.

  Attributes:
    skeleton: "cifar" or "imagenet".
    num_cells_per_stack: N; the network has 3N cells, two of them stride 2.
    filters: F, the filters of the first stack's cells (F' = F, 2F, 4F).
    stem_multiplier: scales the stem conv's filters.
    num_classes: logits of the classifier.
    image_size: height and width of the input images.
    image_channels: channels of the input images.
    dense_dropout_keep_prob: keep probability of the dropout before the logits.
    drop_path_keep_prob: ScheduledDropPath keep probability at the last cell
      (1 disables it; it falls linearly with depth to this value).
    use_aux_head: adds the auxiliary head as a second output.
    weight_decay, bn_momentum, bn_epsilon: see operators.ConvSettings.
  """
  skeleton: str = "cifar"
  num_cells_per_stack: int = 2
  filters: int = 24
  stem_multiplier: float = 3.0
  num_classes: int = 10
  image_size: int = 32
  image_channels: int = 3
  dense_dropout_keep_prob: float = 1.0
  drop_path_keep_prob: float = 1.0
  use_aux_head: bool = False
  weight_decay: float = 5e-4
  bn_momentum: float = 0.9
  bn_epsilon: float = 1e-5

  def __post_init__(self):
    if self.skeleton not in SKELETONS:
      raise errors.ConfigError(
          f"skeleton must be one of {', '.join(SKELETONS)}, "
          f"got {self.skeleton!r}")
    for name in ("num_cells_per_stack", "filters", "num_classes", "image_size",
                 "image_channels"):
      if getattr(self, name) < 1:
        raise errors.ConfigError(
            f"{name} must be >= 1, got {getattr(self, name)}")
    if self.skeleton == "imagenet" and self.filters < 4:
      raise errors.ConfigError(
          "filters must be >= 4 for the imagenet skeleton (its first stem "
          f"cell has filters // 4), got {self.filters}")
    if self.stem_multiplier <= 0:
      raise errors.ConfigError(
          f"stem_multiplier must be > 0, got {self.stem_multiplier}")
    for name in ("dense_dropout_keep_prob", "drop_path_keep_prob"):
      if not 0.0 < getattr(self, name) <= 1.0:
        raise errors.ConfigError(
            f"{name} must be in (0, 1], got {getattr(self, name)}")
    if self.weight_decay < 0:
      raise errors.ConfigError(
          f"weight_decay must be >= 0, got {self.weight_decay}")
    if not 0.0 <= self.bn_momentum < 1.0:
      raise errors.ConfigError(
          f"bn_momentum must be in [0, 1), got {self.bn_momentum}")
    if self.bn_epsilon <= 0:
      raise errors.ConfigError(f"bn_epsilon must be > 0, got {self.bn_epsilon}")
    if self.skeleton == "imagenet" and self.image_size < 3:
      raise errors.ConfigError(
          "image_size must be >= 3 for the imagenet skeleton (its stem is a "
          f"VALID 3x3 conv), got {self.image_size}")
    if self.use_aux_head and self.aux_head_input_size() < 5:
      raise errors.ConfigError(
          f"image_size {self.image_size} is too small for the auxiliary head: "
          f"it reads a {self.aux_head_input_size()}x"
          f"{self.aux_head_input_size()} feature map and needs 5x5")

  @property
  def num_cells(self) -> int:
    return 3 * self.num_cells_per_stack

  def aux_head_input_size(self) -> int:
    """Height of the feature map the auxiliary head reads."""
    size = self.image_size
    if self.skeleton == "imagenet":
      size = (size - 3) // 2 + 1  # The stem conv.
      for _ in range(NUM_IMAGENET_STEM_CELLS):
        size = -(-size // 2)
    return -(-size // 2)

  def reduction_indices(self) -> tuple[int, ...]:
    return tuple(int(k / (NUM_REDUCTION_CELLS + 1) * self.num_cells)
                 for k in range(1, NUM_REDUCTION_CELLS + 1))


PRESETS = {
    # The paper's search-time child network (docs/paper_notes.md).
    "cifar_search": NetworkConfig(),
    # PNASNet-5 on CIFAR-10 for final training: N = 3, F = 48.
    # The official configs all train with the auxiliary head.
    "cifar_final": NetworkConfig(num_cells_per_stack=3, filters=48,
                                 drop_path_keep_prob=0.6, use_aux_head=True),
    "imagenet_mobile": NetworkConfig(
        skeleton="imagenet", num_cells_per_stack=3, filters=54,
        stem_multiplier=1.0, num_classes=1001, image_size=224,
        dense_dropout_keep_prob=0.5, use_aux_head=True, weight_decay=4e-5,
        bn_momentum=0.9997, bn_epsilon=1e-3),
    "imagenet_large": NetworkConfig(
        skeleton="imagenet", num_cells_per_stack=4, filters=216,
        stem_multiplier=3.0, num_classes=1001, image_size=331,
        dense_dropout_keep_prob=0.5, drop_path_keep_prob=0.6,
        use_aux_head=True, weight_decay=4e-5, bn_momentum=0.9997,
        bn_epsilon=1e-3),
}


def preset(name: str, **overrides) -> NetworkConfig:
  """A preset with some fields replaced, e.g. preset("cifar_search", filters=8).

  Raises:
    errors.ConfigError: for an unknown preset, an unknown field or a bad value.
  """
  if name not in PRESETS:
    raise errors.ConfigError(
        f"unknown preset {name!r}; known presets: {', '.join(PRESETS)}")
  fields = {field.name for field in dataclasses.fields(NetworkConfig)}
  unknown = sorted(set(overrides) - fields)
  if unknown:
    raise errors.ConfigError(
        f"unknown network setting(s): {', '.join(unknown)}")
  return dataclasses.replace(PRESETS[name], **overrides)
