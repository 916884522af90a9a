"""PNAS networks: one builder for the CIFAR and the ImageNet skeletons.

As the official PNASNet code builds them, the network has 3N cells and counts
its two stride-2 cells among them, at indices int(k * 3N / 3) for k = 1, 2;
each doubles the filters. Every cell reads (H(c-1), H(c-2)).
  CIFAR: 3x3 conv (stem_multiplier * F filters, stride 1) -> BN, then the cells.
  ImageNet: 3x3 conv stride 2 VALID (32 * stem_multiplier) -> BN, two stride-2
    stem cells with F // 4 and F // 2 filters, then the cells.
Head: ReLU -> global average pool -> dropout -> dense logits. An optional
auxiliary head reads the cell just before the second stride-2 cell.

Example:
  config = dataclasses.replace(PRESETS["cifar_search"], num_classes=100)
  model = build_network(search_space.PNASNET_5, config)
"""

import dataclasses

import keras
from keras import layers

from pnas_tf import cell as cell_lib
from pnas_tf import heads
from pnas_tf import operators
from pnas_tf import search_space

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
      raise ValueError(
          f"skeleton must be one of {', '.join(SKELETONS)}, got {self.skeleton!r}")
    for name in ("num_cells_per_stack", "filters", "num_classes", "image_size",
                 "image_channels"):
      if getattr(self, name) < 1:
        raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
    if self.skeleton == "imagenet" and self.filters < 4:
      raise ValueError(
          f"filters must be >= 4 for the imagenet skeleton (its first stem cell "
          f"has filters // 4), got {self.filters}")
    if self.stem_multiplier <= 0:
      raise ValueError(
          f"stem_multiplier must be > 0, got {self.stem_multiplier}")
    for name in ("dense_dropout_keep_prob", "drop_path_keep_prob"):
      if not 0.0 < getattr(self, name) <= 1.0:
        raise ValueError(f"{name} must be in (0, 1], got {getattr(self, name)}")
    if self.weight_decay < 0:
      raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")

  @property
  def num_cells(self) -> int:
    return 3 * self.num_cells_per_stack

  def reduction_indices(self) -> tuple[int, ...]:
    return tuple(int(k / (NUM_REDUCTION_CELLS + 1) * self.num_cells)
                 for k in range(1, NUM_REDUCTION_CELLS + 1))

  def conv_settings(self) -> operators.ConvSettings:
    return operators.ConvSettings(self.weight_decay, self.bn_momentum,
                                  self.bn_epsilon)


PRESETS = {
    # The paper's search-time child network (PAPER.md).
    "cifar_search": NetworkConfig(),
    # PNASNet-5 on CIFAR-10 for final training: N = 3, F = 48.
    "cifar_final": NetworkConfig(num_cells_per_stack=3, filters=48,
                                 drop_path_keep_prob=0.6),
    "imagenet_mobile": NetworkConfig(
        skeleton="imagenet", num_cells_per_stack=3, filters=54,
        stem_multiplier=1.0, num_classes=1001, image_size=224,
        dense_dropout_keep_prob=0.5, weight_decay=4e-5, bn_momentum=0.9997,
        bn_epsilon=1e-3),
    "imagenet_large": NetworkConfig(
        skeleton="imagenet", num_cells_per_stack=4, filters=216,
        stem_multiplier=3.0, num_classes=1001, image_size=331,
        dense_dropout_keep_prob=0.5, drop_path_keep_prob=0.6,
        weight_decay=4e-5, bn_momentum=0.9997, bn_epsilon=1e-3),
}


def preset(name: str, **overrides) -> NetworkConfig:
  """A preset with some fields replaced, e.g. preset("cifar_search", filters=8).

  Raises:
    ValueError: for an unknown preset, an unknown field or a bad value.
  """
  if name not in PRESETS:
    raise ValueError(
        f"unknown preset {name!r}; known presets: {', '.join(PRESETS)}")
  fields = {field.name for field in dataclasses.fields(NetworkConfig)}
  unknown = sorted(set(overrides) - fields)
  if unknown:
    raise ValueError(f"unknown network setting(s): {', '.join(unknown)}")
  return dataclasses.replace(PRESETS[name], **overrides)


def _stem(images, config: NetworkConfig, settings: operators.ConvSettings):
  """The stem conv and BN; the first cell reads only its output."""
  if config.skeleton == "cifar":
    conv = settings.conv(int(config.filters * config.stem_multiplier), 3)
  else:
    conv = settings.conv(int(32 * config.stem_multiplier), 3, strides=2,
                         padding="valid")
  return settings.batch_norm(name="stem_bn")(conv(images))


def build_network(cell: search_space.Cell | str, config: NetworkConfig,
                  name: str = "pnas") -> keras.Model:
  """Builds the network of `cell` on `config`'s skeleton.

  Args:
    cell: the cell (or its string form) every cell of the network uses.
    config: the network's shape.
    name: the Keras model's name.

  Returns:
    A functional keras.Model from float images (batch, S, S, C) to logits
    (batch, num_classes); with config.use_aux_head, to [logits, aux_logits].
  """
  cell = cell if isinstance(cell, search_space.Cell) else search_space.Cell.parse(cell)
  settings = config.conv_settings()
  images = keras.Input(
      (config.image_size, config.image_size, config.image_channels),
      name="images")
  net, prev = _stem(images, config, settings), None
  # (name, filters, strides) of every cell, stem cells first.
  plan = []
  if config.skeleton == "imagenet":
    for index in range(NUM_IMAGENET_STEM_CELLS):
      scaling = FILTER_SCALING_RATE ** (index - NUM_IMAGENET_STEM_CELLS)
      plan.append((f"stem_cell_{index}", int(config.filters * scaling), 2))
  reductions = config.reduction_indices()
  scaling = 1
  for index in range(config.num_cells):
    if index in reductions:
      scaling *= FILTER_SCALING_RATE
    plan.append((f"cell_{index}", config.filters * scaling,
                 2 if index in reductions else 1))
  aux_after = f"cell_{reductions[-1] - 1}" if config.use_aux_head else None

  aux_logits = None
  for depth, (cell_name, filters, strides) in enumerate(plan):
    # ScheduledDropPath keeps more early: 1 - (depth+1)/cells * (1 - keep).
    keep = 1.0 - (depth + 1) / len(plan) * (1.0 - config.drop_path_keep_prob)
    layer = cell_lib.PNASCell(cell, filters, strides, keep,
                              settings.to_config(), name=cell_name)
    net, prev = layer([net] if prev is None else [net, prev]), net
    if cell_name == aux_after:
      aux_logits = heads.AuxiliaryHead(
          config.num_classes, settings.to_config(), name="aux_head")(net)

  net = layers.Activation("relu")(net)
  net = layers.GlobalAveragePooling2D(name="global_pool")(net)
  if config.dense_dropout_keep_prob < 1.0:
    net = layers.Dropout(1.0 - config.dense_dropout_keep_prob)(net)
  logits = settings.dense(config.num_classes, name="logits")(net)
  outputs = logits if aux_logits is None else [logits, aux_logits]
  return keras.Model(images, outputs, name=name)


def count_trainable_params(model: keras.Model) -> int:
  return int(sum(keras.ops.size(weight) for weight in model.trainable_weights))
