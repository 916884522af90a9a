r"""Benchmark: host memory from child to child.

Trains many tiny children one after another, as a search does, on real
Fashion-MNIST (Debian's files, offline), and prints the resident memory of
this process after each. In-process (the default), Keras state is cleared
between children, yet TensorFlow keeps memory from every trained model
(tensorflow/tensorflow#62854). With --isolate each child trains in a fresh
process (child_process.train_in_subprocess) and this process stays flat.
Prints a row per child, then, last, the growth over the second half in MiB.

Example:
  python bench/child_memory.py --children=16
  python bench/child_memory.py --children=16 --isolate
"""

import os
import random
import resource
import tempfile

from absl import app
from absl import flags

from pnas_tf.config import network_config
from pnas_tf.config import train_config
from pnas_tf.data import datasets
from pnas_tf.nas import child_process
from pnas_tf.space import search_space
from pnas_tf.training import child_trainer

_CHILDREN = flags.DEFINE_integer("children", 16, "Children to train.")
_ISOLATE = flags.DEFINE_boolean("isolate", False,
                                "Train each child in a fresh process.")


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
  config = train_config.DataConfig(dataset="fashion_mnist", batch_size=32,
                                   num_train_examples=256, validation_size=128)
  net = network_config.preset("cifar_search", filters=8, num_cells_per_stack=1,
                              image_size=28, image_channels=1)
  data = None if _ISOLATE.value else datasets.load_search_data(config)
  sizes = []
  print(f"{'child':>5}  {'cell':<40}  {'status':>6}  {'RSS MiB':>8}")
  with tempfile.TemporaryDirectory() as directory:
    for index in range(_CHILDREN.value):
      cell = _random_cell(rng)
      output_dir = os.path.join(directory, str(index))
      training = train_config.TrainConfig(epochs=1)
      if _ISOLATE.value:
        result = child_process.train_in_subprocess(cell, net, config, training,
                                                   output_dir)
      else:
        result = child_trainer.train_and_evaluate(cell, net, data, training,
                                                  output_dir)
      sizes.append(_resident_mib())
      print(f"{index:>5}  {str(cell):<40}  {result.status:>6}  "
            f"{sizes[-1]:>8.0f}", flush=True)
  half = len(sizes) // 2
  print(f"growth over children {half}..{len(sizes) - 1}: "
        f"{sizes[-1] - sizes[half]:.0f} MiB")


if __name__ == "__main__":
  app.run(main)
