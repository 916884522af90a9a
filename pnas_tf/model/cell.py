"""A PNAS cell as one Keras 3 layer.

The layer takes [H(c-1), H(c-2)] (or H(c-1) alone, for the first cell after a
stem with one output: then H(c-2) is H(c-1) itself, unprocessed, as in the
official code) and returns the concatenation of all its block outputs:
num_blocks * filters channels.

Example:
  cell = PNASCell("sep3x3:0+max3x3:1,identity:2+sep5x5:0", filters=24)
  out = cell([h_prev, h_prev_prev])   # (batch, H, W, 48)
"""

from typing import Any

import keras
from keras import layers
from keras import ops

from pnas_tf.model import operators
from pnas_tf.space import search_space


def _spatial(shape) -> tuple:
  return tuple(shape[1:3])


@keras.saving.register_keras_serializable(
    package=operators.SERIALIZATION_PACKAGE)
class PNASCell(layers.Layer):
  """The cell: input projections, then each block's two operators, added.

  Args:
    cell: the cell, as a search_space.Cell or its string form.
    filters: F', the channels of every block output.
    strides: 2 in a stride-2 cell: then operators that read H(c-1) or H(c-2)
      stride, operators that read a block of this cell do not.
    drop_path_keep_prob: keep probability of ScheduledDropPath after every
      operator but identity, already scaled for this cell's depth; 1 adds none.
    settings: operators.ConvSettings as a dict.
  """

  def __init__(self, cell, filters: int, strides: int = 1,
               drop_path_keep_prob: float = 1.0,
               settings: dict[str, Any] | None = None, **kwargs):
    super().__init__(**kwargs)
    self.cell = (cell if isinstance(cell, search_space.Cell)
                 else search_space.Cell.parse(cell))
    if filters < 1:
      raise ValueError(f"filters must be >= 1, got {filters}")
    if strides not in (1, 2):
      raise ValueError(f"strides must be 1 or 2, got {strides}")
    if not 0.0 < drop_path_keep_prob <= 1.0:
      raise ValueError("drop_path_keep_prob must be in (0, 1], got "
                       f"{drop_path_keep_prob}")
    self.filters = filters
    self.strides = strides
    self.drop_path_keep_prob = drop_path_keep_prob
    self.settings = operators.ConvSettings.from_config(settings)
    self.prev_projection: list[layers.Layer] = []
    self.skip_projection: list[layers.Layer] = []
    self.block_operations: list[operators.CellOperation] = []
    self.drop_paths: list[operators.ScheduledDropPath | None] = []

  def _skip_projection(self, prev_shape, skip_shape) -> list[layers.Layer]:
    """How H(c-2) is brought to H(c-1)'s size and F' channels."""
    if _spatial(skip_shape) != _spatial(prev_shape):
      return [layers.Activation("relu"),
              operators.FactorizedReduction(self.filters,
                                            self.settings.to_config())]
    if skip_shape[-1] != self.filters:
      return operators.relu_conv_bn(self.settings, self.filters)
    return []

  def build(self, input_shape):
    shapes = _as_list(input_shape)
    prev_shape = tuple(shapes[0])
    self.prev_projection = operators.relu_conv_bn(self.settings, self.filters)
    hidden = [operators.build_chain(self.prev_projection, prev_shape)]
    if len(shapes) == 2:
      self.skip_projection = self._skip_projection(prev_shape, shapes[1])
      hidden.append(operators.build_chain(self.skip_projection, shapes[1]))
    else:
      hidden.append(prev_shape)
    settings = self.settings.to_config()
    self.block_operations, self.drop_paths = [], []
    for block in self.cell.blocks:
      block_shape = None
      for inp, op in block.operands():
        strides = self.strides if inp < search_space.NUM_CELL_INPUTS else 1
        operation = operators.CellOperation(op, self.filters, strides, settings)
        operation.build(hidden[inp])
        block_shape = operation.compute_output_shape(hidden[inp])
        self.block_operations.append(operation)
        self.drop_paths.append(self._drop_path(op, block_shape))
      hidden.append(tuple(block_shape))

  def _drop_path(self, op: str, shape):
    if op == "identity" or self.drop_path_keep_prob >= 1.0:
      return None
    drop_path = operators.ScheduledDropPath(self.drop_path_keep_prob)
    drop_path.build(shape)
    return drop_path

  def call(self, inputs, training=None):
    inputs = _as_list(inputs)
    prev = operators.apply_chain(self.prev_projection, inputs[0], training)
    skip = (operators.apply_chain(self.skip_projection, inputs[1], training)
            if len(inputs) == 2 else inputs[0])
    hidden = [prev, skip]
    operations = iter(zip(self.block_operations, self.drop_paths))
    for block in self.cell.blocks:
      terms = []
      for inp, _ in block.operands():
        operation, drop_path = next(operations)
        term = operation(hidden[inp], training=training)
        if drop_path is not None:
          term = drop_path(term, training=training)
        terms.append(term)
      hidden.append(ops.add(*terms))
    return ops.concatenate(hidden[search_space.NUM_CELL_INPUTS:], axis=-1)

  def get_config(self):
    return {**super().get_config(), "cell": str(self.cell),
            "filters": self.filters, "strides": self.strides,
            "drop_path_keep_prob": self.drop_path_keep_prob,
            "settings": self.settings.to_config()}


def _as_list(value) -> list:
  if isinstance(value, (list, tuple)) and value and not isinstance(
      value[0], (int, type(None))):
    return list(value)
  return [value]
