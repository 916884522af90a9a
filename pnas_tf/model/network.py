"""PNAS networks: one builder for the CIFAR and the ImageNet skeletons.

As the official PNASNet code builds them, the network has 3N cells and counts
its two stride-2 cells among them, at indices int(k * 3N / 3) for k = 1, 2;
each doubles the filters. Every cell reads (H(c-1), H(c-2)).
  CIFAR: 3x3 conv (stem_multiplier * F filters, stride 1) -> BN, then the cells.
  ImageNet: 3x3 conv stride 2 VALID (32 * stem_multiplier) -> BN, two stride-2
    stem cells with F // 4 and F // 2 filters, then the cells.
Head: ReLU -> global average pool -> dropout -> dense logits. An optional
auxiliary head reads the cell just before the second stride-2 cell.
Without the head (include_top=False), the network is a backbone whose outputs
are named after the official code's end points: the last cell of each of the
three stacks ("Cell_<index>", before any ReLU) and "global_pool".

Example:
  config = network_config.preset("cifar_search", num_classes=100)
  model = build_network(search_space.PNASNET_5, config)
  features = build_network("PNASNet-5", config, include_top=False)(images)
  features["Cell_5"], features["global_pool"]
"""

import math

import keras
from keras import layers

from pnas_tf.config import network_config
from pnas_tf.model import cell as cell_lib
from pnas_tf.model import heads
from pnas_tf.model import operators
from pnas_tf.space import search_space

AUX_HEAD_NAME = "aux_head"
STEM_CONV_NAME = "stem_conv"
LOGITS_NAME = "logits"
GLOBAL_POOL_NAME = "global_pool"


def _stem(images, config: network_config.NetworkConfig,
          settings: operators.ConvSettings):
  """The stem conv and BN; the first cell reads only its output."""
  if config.skeleton == "cifar":
    conv = settings.conv(int(config.filters * config.stem_multiplier), 3)
  else:
    conv = settings.conv(int(32 * config.stem_multiplier), 3, strides=2,
                         padding="valid")
  # Named, so that weights can be matched by layer name across two builds.
  conv = type(conv).from_config({**conv.get_config(), "name": STEM_CONV_NAME})
  return settings.batch_norm(name="stem_bn")(conv(images))


def endpoint_names(config: network_config.NetworkConfig) -> list[str]:
  """The backbone's outputs: each stack's last cell, then "global_pool".

  As the official code names its end points (Cell_<index>, counting the
  cells after the stem).
  """
  last_cells = [index - 1 for index in config.reduction_indices()]
  last_cells.append(config.num_cells - 1)
  return [f"Cell_{index}" for index in last_cells] + [GLOBAL_POOL_NAME]


def build_network(cell: search_space.Cell | str,
                  config: network_config.NetworkConfig,
                  name: str = "pnas", include_top: bool = True) -> keras.Model:
  """Builds the network of `cell` on `config`'s skeleton.

  Args:
    cell: the cell (or its string form) every cell of the network uses.
    config: the network's shape.
    name: the Keras model's name.
    include_top: False builds the backbone: no dropout, no classifier and no
      auxiliary head (config.num_classes and use_aux_head are ignored).

  Returns:
    A functional keras.Model from float images (batch, S, S, C) to logits
    (batch, num_classes); with config.use_aux_head, to [logits, aux_logits].
    Without the top, to a dict of feature maps named as endpoint_names():
    each stack's last cell output, (batch, H, W, B * F'), and the ReLU'd,
    globally pooled last one, (batch, B * 4F).
  """
  if not isinstance(cell, search_space.Cell):
    cell = search_space.Cell.parse(cell)
  settings = operators.ConvSettings(weight_decay=config.weight_decay,
                                    bn_momentum=config.bn_momentum,
                                    bn_epsilon=config.bn_epsilon)
  images = keras.Input(
      (config.image_size, config.image_size, config.image_channels),
      name="images")
  net, prev = _stem(images, config, settings), None
  # (name, filters, strides) of every cell, stem cells first.
  plan = []
  if config.skeleton == "imagenet":
    for index in range(network_config.NUM_IMAGENET_STEM_CELLS):
      scaling = network_config.FILTER_SCALING_RATE ** (
          index - network_config.NUM_IMAGENET_STEM_CELLS)
      plan.append((f"stem_cell_{index}", int(config.filters * scaling), 2))
  reductions = config.reduction_indices()
  scaling = 1
  for index in range(config.num_cells):
    if index in reductions:
      scaling *= network_config.FILTER_SCALING_RATE
    plan.append((f"cell_{index}", config.filters * scaling,
                 2 if index in reductions else 1))
  aux_after = (f"cell_{reductions[-1] - 1}"
               if config.use_aux_head and include_top else None)

  aux_logits, cell_outputs = None, {}
  for depth, (cell_name, filters, strides) in enumerate(plan):
    # ScheduledDropPath keeps more early: 1 - (depth+1)/cells * (1 - keep).
    keep = 1.0 - (depth + 1) / len(plan) * (1.0 - config.drop_path_keep_prob)
    layer = cell_lib.PNASCell(cell, filters, strides, keep,
                              settings.to_config(), name=cell_name)
    net, prev = layer([net] if prev is None else [net, prev]), net
    cell_outputs[cell_name] = net
    if cell_name == aux_after:
      aux_logits = heads.AuxiliaryHead(
          config.num_classes, settings.to_config(), name=AUX_HEAD_NAME)(net)

  net = layers.Activation("relu")(net)
  net = layers.GlobalAveragePooling2D(name=GLOBAL_POOL_NAME)(net)
  if not include_top:
    cell_outputs[GLOBAL_POOL_NAME] = net
    # The official end point Cell_<index> is our cell_<index>.
    features = {key: cell_outputs[key.lower()]
                for key in endpoint_names(config)}
    return keras.Model(images, features, name=name)
  if config.dense_dropout_keep_prob < 1.0:
    net = layers.Dropout(1.0 - config.dense_dropout_keep_prob)(net)
  logits = settings.dense(config.num_classes, name=LOGITS_NAME)(net)
  outputs = logits if aux_logits is None else [logits, aux_logits]
  return keras.Model(images, outputs, name=name)


def count_trainable_params(model: keras.Model,
                           include_aux_head: bool = True) -> int:
  """Trainable parameters of `model`, optionally without the auxiliary head."""
  weights = model.trainable_weights
  if not include_aux_head and AUX_HEAD_NAME in {l.name for l in model.layers}:
    aux = {id(w) for w in model.get_layer(AUX_HEAD_NAME).trainable_weights}
    weights = [w for w in weights if id(w) not in aux]
  return sum(math.prod(weight.shape) for weight in weights)


def _transferable_weights(layer: keras.layers.Layer) -> list:
  """`layer`'s weights but drop-path progress, which is training state."""
  progress = {id(weight) for drop_path in getattr(layer, "drop_paths", ())
              if drop_path is not None for weight in drop_path.weights}
  return [weight for weight in layer.weights if id(weight) not in progress]


def transfer_weights(source: keras.Model, target: keras.Model) -> list[str]:
  """Copies `source`'s weights into `target`, for fine-tuning.

  Layers are matched by name (stem_conv, stem_bn, stem_cell_<i>, cell_<i>,
  aux_head, logits), weights by their position in the layer; a weight is
  copied when its shape is the same. So a network built for another class
  count takes everything but its classifier (and the auxiliary head's last
  dense layer), whatever its drop-path setting.

  Args:
    source: a trained network, e.g. a converted model.keras.
    target: a network of the same cell and skeleton, built by build_network.

  Returns:
    The names of `target`'s layers whose weights were not all copied.
  """
  sources = {layer.name: layer for layer in source.layers}
  partly_copied = []
  for layer in target.layers:
    weights = _transferable_weights(layer)
    if not weights:
      continue
    origin = sources.get(layer.name)
    origins = _transferable_weights(origin) if origin is not None else []
    copied = 0
    if len(origins) == len(weights):
      for weight, value in zip(weights, origins):
        if tuple(weight.shape) == tuple(value.shape):
          weight.assign(value)
          copied += 1
    if copied < len(weights):
      partly_copied.append(layer.name)
  return partly_copied
