"""TF-slim PNASNet checkpoints, read by variable name into our networks.

The official PNASNet code (tensorflow/models, research/slim/nets/nasnet:
pnasnet.py, nasnet.py, nasnet_utils.py) names its variables by TF1 variable
scopes. This module describes that naming for a network of
network.build_network on the ImageNet skeleton and restores a checkpoint by
it. Our description of slim's names (docs/pretrained.md):

  conv0/weights, conv0_bn/*               the stem conv and its BN
  cell_stem_<i>/..., cell_<i>/...         a cell:
    1x1/weights, beginning_bn/*           H(c-1)'s ReLU, 1x1 conv, BN
    prev_1x1/weights, prev_bn/*           H(c-2)'s, when only its channels
                                          differ
    path1_conv/weights, path2_conv/weights, final_path_bn/*
                                          H(c-2)'s factorized reduction
    comb_iter_<b>/left/..., .../right/... block b's first and second operator
      separable_<K>x<K>_<j>/depthwise_weights, .../pointwise_weights,
      bn_sep_<K>x<K>_<j>/*                separable conv j = 1, 2 and its BN
      1x1/weights, bn_1/*                 identity's strided 1x1, or a
                                          pooling's 1x1 to the cell's filters
  aux_<c>/aux_logits/proj/weights, aux_bn0/*, Conv/weights, aux_bn1/*,
      FC/weights, FC/biases               the auxiliary head after cell_<c>
  final_layer/FC/weights, final_layer/FC/biases   the classifier

where a BN's `*` is gamma, beta, moving_mean and moving_variance. Slim's
kernels have Keras' shapes (HWIO convs, depthwise (K, K, C, 1), dense
(in, out)), so values are copied as they are. A block's first operand is
slim's left, its second slim's right; slim's PNASNet-5 lists them in the
order of search_space.PNASNET_5.

Where the checkpoint also holds an exponential moving average of a variable,
`<name>/ExponentialMovingAverage`, that shadow is restored instead, as slim's
evaluation does. Optimizer slots (`<name>/RMSProp`, ...) and bookkeeping
without a scope (global_step) are ignored.

Example:
  model = network.build_network(search_space.PNASNET_5, config)
  restored = restore(model, "/tmp/pnasnet-5_mobile_2017_12_13/model.ckpt")
"""

import dataclasses
from typing import Iterator

import keras
from keras import layers
import tensorflow as tf

from pnas_tf.config import network_config
from pnas_tf.model import cell as cell_lib
from pnas_tf.model import heads
from pnas_tf.model import network
from pnas_tf.model import operators
from pnas_tf.space import search_space

MOVING_AVERAGE = "ExponentialMovingAverage"
AUX_SCOPE_PREFIX = "aux_"
_BATCH_NORM_WEIGHTS = ("gamma", "beta", "moving_mean", "moving_variance")
# Operators of our space that the official code does not have.
_NOT_IN_SLIM = {"conv1x7_7x1", "dil3x3"}
# How many names of each kind an error message lists.
_NAMES_SHOWN = 3


def _batch_norm(scope: str, layer: layers.BatchNormalization) -> Iterator:
  for weight in _BATCH_NORM_WEIGHTS:
    yield f"{scope}/{weight}", getattr(layer, weight)


def _conv_and_batch_norm_pairs(chain) -> list[tuple[layers.Layer,
                                                   layers.BatchNormalization]]:
  """Each conv of a ReLU-conv-BN chain with the BN that follows it."""
  convs = [layer for layer in chain
           if isinstance(layer, (layers.Conv2D, layers.SeparableConv2D))]
  norms = [layer for layer in chain
           if isinstance(layer, layers.BatchNormalization)]
  return list(zip(convs, norms, strict=True))


def _operation(scope: str, operation: operators.CellOperation) -> Iterator:
  """Slim's names of one operator's weights."""
  if operation.operation in _NOT_IN_SLIM:
    raise ValueError(f"the official PNASNet code has no {operation.operation} "
                     "operator")
  pairs = _conv_and_batch_norm_pairs(operation.chain)
  if operation.operation.startswith("sep"):
    size = f"{operation.operation[-1]}x{operation.operation[-1]}"
    for index, (conv, norm) in enumerate(pairs, start=1):
      yield f"{scope}/separable_{size}_{index}/depthwise_weights", (
          conv.depthwise_kernel)
      yield f"{scope}/separable_{size}_{index}/pointwise_weights", (
          conv.pointwise_kernel)
      yield from _batch_norm(f"{scope}/bn_sep_{size}_{index}", norm)
    return
  for conv, norm in pairs:  # Identity's or a pooling's projection.
    yield f"{scope}/1x1/weights", conv.kernel
    yield from _batch_norm(f"{scope}/bn_1", norm)


def _skip_projection(scope: str, chain) -> Iterator:
  """H(c-2)'s projection: a factorized reduction or a 1x1 conv, or none."""
  for layer in chain:
    if isinstance(layer, operators.FactorizedReduction):
      yield f"{scope}/path1_conv/weights", layer.path1[-1].kernel
      yield f"{scope}/path2_conv/weights", layer.path2[-1].kernel
      yield from _batch_norm(f"{scope}/final_path_bn", layer.batch_norm)
  for conv, norm in _conv_and_batch_norm_pairs(chain):
    yield f"{scope}/prev_1x1/weights", conv.kernel
    yield from _batch_norm(f"{scope}/prev_bn", norm)


def _cell(scope: str, cell: cell_lib.PNASCell) -> Iterator:
  (conv, norm), = _conv_and_batch_norm_pairs(cell.prev_projection)
  yield f"{scope}/1x1/weights", conv.kernel
  yield from _batch_norm(f"{scope}/beginning_bn", norm)
  yield from _skip_projection(scope, cell.skip_projection)
  for index, operation in enumerate(cell.block_operations):
    side = ("left", "right")[index % 2]
    yield from _operation(f"{scope}/comb_iter_{index // 2}/{side}", operation)


def _aux_head(scope: str, head: heads.AuxiliaryHead) -> Iterator:
  (proj, norm0), (conv, norm1) = _conv_and_batch_norm_pairs(head.chain)
  yield f"{scope}/proj/weights", proj.kernel
  yield from _batch_norm(f"{scope}/aux_bn0", norm0)
  yield f"{scope}/Conv/weights", conv.kernel
  yield from _batch_norm(f"{scope}/aux_bn1", norm1)
  dense = head.chain[-1]
  yield f"{scope}/FC/weights", dense.kernel
  yield f"{scope}/FC/biases", dense.bias


def slim_variables(model: keras.Model) -> dict[str, keras.Variable]:
  """Slim's name of every weight of `model` but drop-path progress.

  Args:
    model: an ImageNet-skeleton network from network.build_network (with or
      without its auxiliary head).

  Returns:
    {slim variable name: the Keras variable it restores}, in network order.

  Raises:
    ValueError: `model` is not on the ImageNet skeleton, or its cell uses an
      operator the official code does not have.
  """
  names = {}
  cell_outputs = {}
  for layer in model.layers:
    if layer.name == network.STEM_CONV_NAME:
      names["conv0/weights"] = layer.kernel
    elif layer.name == "stem_bn":
      names.update(_batch_norm("conv0_bn", layer))
    elif isinstance(layer, cell_lib.PNASCell):
      scope = layer.name.replace("stem_cell_", "cell_stem_")
      cell_outputs[id(layer.output)] = scope
      names.update(_cell(scope, layer))
    elif layer.name == network.LOGITS_NAME:
      names["final_layer/FC/weights"] = layer.kernel
      names["final_layer/FC/biases"] = layer.bias
  for layer in model.layers:
    if isinstance(layer, heads.AuxiliaryHead):
      # Slim scopes the head by the index of the cell it reads.
      index = cell_outputs[id(layer.input)].split("_")[-1]
      names.update(_aux_head(f"{AUX_SCOPE_PREFIX}{index}/aux_logits", layer))
  if "cell_stem_0/1x1/weights" not in names:
    raise ValueError("slim's PNASNet checkpoints hold ImageNet networks (two "
                     "stem cells); this network has none")
  return names


def slim_variable_shapes(
    config: network_config.NetworkConfig,
    cell: search_space.Cell = search_space.PNASNET_5,
) -> dict[str, tuple[int, ...]]:
  """The variables, and their shapes, of slim's network for `config`.

  With config.use_aux_head, the auxiliary head's are included (slim builds it
  when training).
  """
  model = network.build_network(cell, config)
  return {name: tuple(variable.shape)
          for name, variable in slim_variables(model).items()}


def read_shapes(checkpoint: str) -> dict[str, tuple[int, ...]]:
  """{variable name: shape} of a checkpoint (a prefix, or its directory).

  Raises:
    ValueError: no checkpoint there, or not one TensorFlow can read.
  """
  try:
    reader = tf.train.load_checkpoint(checkpoint)
  except (ValueError, tf.errors.OpError) as error:
    raise ValueError(
        f"no readable checkpoint at {checkpoint} (give its prefix, e.g. "
        f".../model.ckpt): {str(error).splitlines()[0]}") from None
  return {name: tuple(shape)
          for name, shape in reader.get_variable_to_shape_map().items()}


def has_aux_head(shapes: dict[str, tuple[int, ...]]) -> bool:
  """Whether a checkpoint's variables include an auxiliary head."""
  return any(name.startswith(AUX_SCOPE_PREFIX) for name in shapes)


@dataclasses.dataclass(frozen=True)
class Mismatch:
  """How a checkpoint differs from the variables a network needs.

  Attributes:
    missing: names the network needs that the checkpoint lacks, in the
      network's order.
    unexpected: model variables in the checkpoint the network has no use for.
    misshaped: (name, shape needed, shape found).
  """
  missing: tuple[str, ...] = ()
  unexpected: tuple[str, ...] = ()
  misshaped: tuple[tuple[str, tuple, tuple], ...] = ()

  def __bool__(self) -> bool:
    return bool(self.missing or self.unexpected or self.misshaped)

  def only_aux_head_misshaped(self) -> bool:
    """Whether only auxiliary head shapes differ: its conv's kernel covers
    the feature map it reads, so it was trained at another image size."""
    if self.missing or self.unexpected or not self.misshaped:
      return False
    return all(name.startswith(AUX_SCOPE_PREFIX)
               for name, _, _ in self.misshaped)

  def __str__(self) -> str:
    def listed(kind: str, items: list[str]) -> str:
      shown = ", ".join(items[:_NAMES_SHOWN])
      if len(items) > _NAMES_SHOWN:
        shown += f" and {len(items) - _NAMES_SHOWN} more"
      return f"{len(items)} {kind} ({shown})"
    parts = []
    if self.missing:
      parts.append(listed("missing", list(self.missing)))
    if self.unexpected:
      parts.append(listed("unexpected", list(self.unexpected)))
    if self.misshaped:
      parts.append(listed("mis-shaped", [
          f"{name} {list(found)} for {list(needed)}"
          for name, needed, found in self.misshaped]))
    return "; ".join(parts)


def _owner(name: str, needed: dict) -> str | None:
  """The needed variable whose slot or shadow `name` is, if any."""
  parts = name.split("/")
  for end in range(len(parts) - 1, 0, -1):
    prefix = "/".join(parts[:end])
    if prefix in needed:
      return prefix
  return None


def compare(needed: dict[str, tuple[int, ...]],
            found: dict[str, tuple[int, ...]]) -> Mismatch:
  """What keeps checkpoint variables `found` from filling `needed`.

  A found name that extends a needed one (`<name>/ExponentialMovingAverage`,
  `<name>/RMSProp`) belongs to it; a moving average must have its shape.
  Names without a scope (global_step) are bookkeeping, not model variables.
  When `needed` has no auxiliary head, the checkpoint's is ignored, as
  slim's evaluation graph, which has none, ignores it.
  """
  ignore_aux_head = not has_aux_head(needed)
  missing = tuple(name for name in needed if name not in found)
  misshaped = []
  for name, shape in needed.items():
    for key in (name, f"{name}/{MOVING_AVERAGE}"):
      if key in found and found[key] != shape:
        misshaped.append((key, shape, found[key]))
  unexpected = set()
  for name in found:
    if (name in needed or "/" not in name or _owner(name, needed)
        or (ignore_aux_head and name.startswith(AUX_SCOPE_PREFIX))):
      continue
    # An optimizer slot of an unexpected variable names that variable.
    unexpected.add(_owner(name, found) or name)
  return Mismatch(missing, tuple(sorted(unexpected)), tuple(misshaped))


class CheckpointMismatchError(ValueError):
  """A checkpoint that does not fit the network; str() lists how."""

  def __init__(self, mismatch: Mismatch):
    super().__init__(str(mismatch))
    self.mismatch = mismatch


@dataclasses.dataclass(frozen=True)
class Restored:
  """What restore() read.

  Attributes:
    variables: how many of the network's variables were restored.
    moving_averages: how many of them from an exponential moving average.
  """
  variables: int
  moving_averages: int


def restore(model: keras.Model, checkpoint: str) -> Restored:
  """Fills every weight of `model` from a slim PNASNet checkpoint.

  Nothing is assigned unless the whole checkpoint fits (see compare()).

  Args:
    model: an ImageNet-skeleton network (see slim_variables).
    checkpoint: the checkpoint's prefix (e.g. .../model.ckpt) or directory.

  Returns:
    How many variables were restored, and how many from moving averages.

  Raises:
    ValueError: no readable checkpoint there, or a network slim cannot name.
    CheckpointMismatchError: the checkpoint lacks some of the network's
      variables, holds model variables the network lacks, or has other
      shapes.
  """
  variables = slim_variables(model)
  found = read_shapes(checkpoint)
  mismatch = compare({name: tuple(variable.shape)
                      for name, variable in variables.items()}, found)
  if mismatch:
    raise CheckpointMismatchError(mismatch)
  reader = tf.train.load_checkpoint(checkpoint)
  averaged = 0
  for name, variable in variables.items():
    shadow = f"{name}/{MOVING_AVERAGE}"
    if shadow in found:
      name, averaged = shadow, averaged + 1
    variable.assign(reader.get_tensor(name))
  return Restored(variables=len(variables), moving_averages=averaged)
