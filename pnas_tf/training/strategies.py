"""Picks the tf.distribute strategy a child trains under.

  auto:       MirroredStrategy over all GPUs when there are two or more,
              the default strategy otherwise (one GPU or the CPU).
  mirrored:   MirroredStrategy over all GPUs, or over every logical CPU device
              when there is no GPU (how the tests exercise it), with
              TensorFlow's default all-reduce on both.
  one_device: OneDeviceStrategy on the first GPU, else the CPU.
  default:    tf.distribute's default (no-op) strategy.

A process has one MirroredStrategy per device set, made on first use and
returned to every later caller. Each new MirroredStrategy numbers its
collective ops from the same keys (group 1, instances from 100), and
TensorFlow's runtime remembers a key's tensor shape for the whole process:
the second network trained under a second strategy reuses the first one's
keys for gradients of another size and fails with "Shape mismatch in the
collective instance 100" (docs/training.md). One strategy keeps counting,
so every network's collectives get keys of their own.

Example:
  strategy = make_strategy("auto")
  with strategy.scope():
    model = network.build_network(cell, config)
"""

import functools

import tensorflow as tf

from pnas_tf.config import train_config

STRATEGIES = train_config.STRATEGIES


def make_strategy(name: str) -> tf.distribute.Strategy:
  """Returns the strategy called `name` (one of STRATEGIES).

  "mirrored" (and "auto" on two or more GPUs) returns the same
  MirroredStrategy on every call in a process; see the module docstring.

  Raises:
    ValueError: for an unknown name.
  """
  if name not in STRATEGIES:
    raise ValueError(
        f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
  gpus = [device.name for device in tf.config.list_logical_devices("GPU")]
  if name == "auto":
    name = "mirrored" if len(gpus) >= 2 else "default"
  if name == "mirrored":
    devices = gpus or [device.name
                       for device in tf.config.list_logical_devices("CPU")]
    return _mirrored(tuple(devices))
  if name == "one_device":
    return tf.distribute.OneDeviceStrategy(gpus[0] if gpus else "/cpu:0")
  return tf.distribute.get_strategy()


@functools.cache
def _mirrored(devices: tuple[str, ...]) -> tf.distribute.MirroredStrategy:
  # Logical devices are fixed once TensorFlow starts, so the device names
  # identify the strategy for the life of the process.
  return tf.distribute.MirroredStrategy(list(devices))
