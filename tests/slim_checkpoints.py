"""TF-slim-style checkpoints for tests: given names, random values.

tf.raw_ops.SaveV2 writes exactly the keys it is given, as slim's TF1 Saver
does (tf.train.Checkpoint would add its object-graph paths), so the
checkpoint reads back through tf.train.load_checkpoint like slim's own.
"""

import numpy as np
import tensorflow as tf


def random_values(shapes: dict[str, tuple[int, ...]],
                  seed: int = 0) -> dict[str, np.ndarray]:
  """Values of the given shapes; moving variances and gammas kept positive."""
  rng = np.random.RandomState(seed)
  values = {}
  for name, shape in shapes.items():
    if name.endswith(("moving_variance", "gamma")):
      value = rng.uniform(0.5, 1.5, shape)
    else:
      value = rng.normal(0.0, 0.2, shape)
    values[name] = value.astype(np.float32)
  return values


def write_checkpoint(prefix: str, values: dict[str, np.ndarray]) -> str:
  """Writes `values` under exactly their names at `prefix`; returns it."""
  names = sorted(values)
  tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names,
                    shape_and_slices=[""] * len(names),
                    tensors=[tf.constant(values[name]) for name in names])
  return prefix
