r"""Benchmark: host memory from child to child.

Trains many tiny children one after another in one process, as a search does,
and prints the resident memory after each. Keras state is cleared between
children (child_trainer.train_and_evaluate does it), so after the first few
children, which warm up TensorFlow's caches, memory should stay flat. Prints
a row per child, then, last, the growth over the second half in MiB.

Example:
  python bench/child_memory.py --children=20
"""

import os
import random
import resource
import tempfile

from absl import app
from absl import flags
import tensorflow_datasets as tfds

from pnas_tf import child_trainer
from pnas_tf import datasets
from pnas_tf import network_config
from pnas_tf import search_space
from pnas_tf import train_config

_CHILDREN = flags.DEFINE_integer("children", 20, "Children to train.")


def _resident_mib() -> float:
  with open("/proc/self/statm") as stream:
    pages = int(stream.read().split()[1])
  return pages * resource.getpagesize() / 2**20


def _random_cell(rng: random.Random) -> search_space.Cell:
  return rng.choice(search_space.expand(rng.choice(
      search_space.initial_cells())))


def main(argv):
  del argv
  rng = random.Random(0)
  config = train_config.DataConfig(dataset="cifar10", batch_size=16)
  with tfds.testing.mock_data(num_examples=64):
    data = datasets.load_search_data(config)
  net = network_config.preset("cifar_search", filters=8,
                              num_cells_per_stack=1)
  sizes = []
  print(f"{'child':>5}  {'cell':<40}  {'status':>6}  {'RSS MiB':>8}")
  with tempfile.TemporaryDirectory() as directory:
    for index in range(_CHILDREN.value):
      cell = _random_cell(rng)
      result = child_trainer.train_and_evaluate(
          cell, net, data, train_config.TrainConfig(epochs=1),
          os.path.join(directory, str(index)))
      sizes.append(_resident_mib())
      print(f"{index:>5}  {str(cell):<40}  {result.status:>6}  "
            f"{sizes[-1]:>8.0f}", flush=True)
  half = len(sizes) // 2
  print(f"growth over children {half}..{len(sizes) - 1}: "
        f"{sizes[-1] - sizes[half]:.0f} MiB")


if __name__ == "__main__":
  app.run(main)
