r"""Benchmark: what each network preset costs, in parameters and CPU time.

For PNASNet-5 (or --cell) on every preset, builds the network as final
training does (auxiliary head and drop-path where the preset has them),
compiles it with the trainer's optimizer, and times training steps on one
in-memory batch of random images at the preset's input size, after
--warmup_steps untimed ones. Prints a Markdown table: parameters served and
with the auxiliary head, the batch measured, training images per second on
this machine, and what one epoch of the preset's dataset and its whole
protocol would take at that rate (CIFAR-10: 50,000 images, 600 epochs for
cifar_final, 20 for a search child; ImageNet: 1,281,167 images, the epochs
of flags/imagenet_*_final.cfg).

Example:
  python bench/preset_cost.py
  python bench/preset_cost.py --presets=cifar_search,cifar_final --steps=5
"""

import os
import time

# pylint: disable=g-import-not-at-top
from absl import app
from absl import flags
import keras
import numpy as np

from pnas_tf.config import network_config
from pnas_tf.config import train_config
from pnas_tf.model import network
from pnas_tf.space import search_space
from pnas_tf.training import training_loop
# pylint: enable=g-import-not-at-top

# preset -> (batch measured, images per epoch, epochs of its protocol,
# extra overrides). fashion_mnist_final is flags/fashion_mnist_final.cfg.
ROWS = {
    "cifar_search": (32, 50_000, 20, {}),
    "cifar_final": (32, 50_000, 600, {}),
    "fashion_mnist_final": (32, 30_000, 2, dict(
        num_cells_per_stack=2, filters=16, image_size=28, image_channels=1)),
    "imagenet_mobile": (8, 1_281_167, 250, {}),
    "imagenet_large": (4, 1_281_167, 250, {}),
}

_PRESETS = flags.DEFINE_list("presets", list(ROWS), "Rows to measure.")
_CELL = flags.DEFINE_string("cell", "PNASNet-5", "The cell of every network.")
_STEPS = flags.DEFINE_integer("steps", 3, "Timed training steps per preset.")
_WARMUP = flags.DEFINE_integer("warmup_steps", 2,
                               "Untimed steps first (tracing, allocation).")


def _network_config(row: str) -> network_config.NetworkConfig:
  base = "cifar_final" if row == "fashion_mnist_final" else row
  overrides = dict(ROWS[row][3])
  if row == "fashion_mnist_final":
    overrides["num_classes"] = 10
  return network_config.preset(base, **overrides)


def measure(row: str, cell: search_space.Cell) -> dict:
  """Parameters and training images per second of one row."""
  batch, _, epochs, _ = ROWS[row]
  net = _network_config(row)
  config = train_config.TrainConfig(epochs=epochs, learning_rate=0.025,
                                    gradient_clip_norm=5.0, xla="off")
  with training_loop.fresh_keras_state(config):
    model = training_loop.build_compiled(cell, net, config, steps_per_epoch=1)
    rng = np.random.default_rng(0)
    images = rng.standard_normal(
        (batch, net.image_size, net.image_size, net.image_channels),
        dtype=np.float32)
    labels = rng.integers(0, net.num_classes, batch)
    targets = labels if len(model.outputs) == 1 else (labels, labels)
    for _ in range(_WARMUP.value):
      model.train_on_batch(images, targets)
    started = time.perf_counter()
    for _ in range(_STEPS.value):
      model.train_on_batch(images, targets)
    seconds = (time.perf_counter() - started) / _STEPS.value
    return {
        "served": network.count_trainable_params(model,
                                                 include_aux_head=False),
        "with_aux": network.count_trainable_params(model),
        "net": net, "batch": batch, "images_per_second": batch / seconds,
    }


def main(argv):
  del argv
  unknown = sorted(set(_PRESETS.value) - set(ROWS))
  if unknown:
    raise app.UsageError(f"--presets: unknown {', '.join(unknown)}; known: "
                         f"{', '.join(ROWS)}")
  cell = search_space.Cell.parse(_CELL.value)
  print(f"cell {_CELL.value}; {os.cpu_count()} CPU cores; Keras "
        f"{keras.__version__}\n")
  print("| preset | input | N | F | served params | with aux head | batch "
        "| train images/s | one epoch | protocol (epochs) |")
  print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
  for row in _PRESETS.value:
    result = measure(row, cell)
    net, rate = result["net"], result["images_per_second"]
    _, epoch_images, epochs, _ = ROWS[row]
    epoch_hours = epoch_images / rate / 3600
    print(f"| {row} | {net.image_size}x{net.image_size}x{net.image_channels} "
          f"| {net.num_cells_per_stack} | {net.filters} "
          f"| {result['served']:,} | {result['with_aux']:,} "
          f"| {result['batch']} | {rate:.1f} | {_duration(epoch_hours)} "
          f"| {_duration(epoch_hours * epochs)} ({epochs}) |", flush=True)


def _duration(hours: float) -> str:
  if hours < 1:
    return f"{hours * 60:.0f} min"
  if hours < 48:
    return f"{hours:.1f} h"
  return f"{hours / 24:.0f} days"


if __name__ == "__main__":
  app.run(main)
