"""Picks the tf.distribute strategy a child trains under.

  auto:       MirroredStrategy over all GPUs when there are two or more,
              the default strategy otherwise (one GPU or the CPU).
  mirrored:   MirroredStrategy over all GPUs, or over every logical CPU device
              when there is no GPU (how the tests exercise it).
  one_device: OneDeviceStrategy on the first GPU, else the CPU.
  default:    tf.distribute's default (no-op) strategy.

Example:
  strategy = make_strategy("auto")
  with strategy.scope():
    model = network.build_network(cell, config)
"""

import tensorflow as tf

from pnas_tf import train_config

STRATEGIES = train_config.STRATEGIES


def make_strategy(name: str) -> tf.distribute.Strategy:
  """Returns the strategy called `name` (one of STRATEGIES).

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
    devices = gpus or [d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices)
  if name == "one_device":
    return tf.distribute.OneDeviceStrategy(gpus[0] if gpus else "/cpu:0")
  return tf.distribute.get_strategy()
