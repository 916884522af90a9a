"""Picks the tf.distribute strategy a child trains under.

  auto:       MirroredStrategy over all GPUs when there are two or more,
              the default strategy otherwise (one GPU or the CPU).
  mirrored:   MirroredStrategy over all GPUs, or over every logical CPU device
              when there is no GPU (how the tests exercise it). On CPUs the
              replicas reduce through one device: TensorFlow's collective
              all-reduce between logical CPU devices loses step with itself
              when variables also change in replica context (seen with
              Keras' SeedGenerator in ScheduledDropPath).
  one_device: OneDeviceStrategy on the first GPU, else the CPU.
  default:    tf.distribute's default (no-op) strategy.

Example:
  strategy = make_strategy("auto")
  with strategy.scope():
    model = network.build_network(cell, config)
"""

import tensorflow as tf

from pnas_tf.config import train_config

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
    if gpus:
      return tf.distribute.MirroredStrategy(gpus)
    cpus = [device.name for device in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(
        cpus, cross_device_ops=tf.distribute.ReductionToOneDevice())
  if name == "one_device":
    return tf.distribute.OneDeviceStrategy(gpus[0] if gpus else "/cpu:0")
  return tf.distribute.get_strategy()
