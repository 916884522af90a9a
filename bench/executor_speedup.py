r"""Benchmark: one round of tiny children with 1, then 2, local workers.

Trains the same --children one-block cells of the quick search's size (N = 1,
F = 8, 1 epoch on --num_train_examples Fashion-MNIST images, offline) with
the local executor at each --workers count, each child in a fresh process as
in a real search, into a fresh directory per run. Prints the wall time of
each round, then, last, the speedup of the last worker count over the first.

Small children leave most of a machine idle (graph tracing, process start
and data loading are serial), which is what running several at once wins
back; --runs repeats each round, alternating, and the fastest counts.

Example:
  python bench/executor_speedup.py --children=6 --workers=1,2
"""

import os
import tempfile
import time

# Hides TensorFlow's C++ INFO logs, here and in every child process.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

# pylint: disable=g-import-not-at-top
from absl import app
from absl import flags

from pnas_tf.config import network_config
from pnas_tf.config import train_config
from pnas_tf.nas import child_evaluator
from pnas_tf.nas import executors
from pnas_tf.space import search_space
# pylint: enable=g-import-not-at-top

_CHILDREN = flags.DEFINE_integer("children", 6, "Children in the round.")
_WORKERS = flags.DEFINE_list("workers", ["1", "2"], "Worker counts to time.")
_RUNS = flags.DEFINE_integer("runs", 1, "Rounds per worker count; the "
                             "fastest counts.")
_EPOCHS = flags.DEFINE_integer("epochs", 1, "Epochs per child.")
_NUM_TRAIN = flags.DEFINE_integer("num_train_examples", 2000,
                                  "Training images per child.")


def _round(evaluate, cells, num_workers: int) -> float:
  """Seconds to train every cell with `num_workers` local workers."""
  slots = executors.local_slots(num_workers, num_gpus=0,
                                cpus=len(os.sched_getaffinity(0)))
  executor = executors.LocalExecutor(evaluate, slots)
  with tempfile.TemporaryDirectory() as root:
    tasks = [executors.ChildTask(cell, os.path.join(root, str(index)))
             for index, cell in enumerate(cells)]
    started = time.perf_counter()
    records = [record for _, record in executor.run(tasks)]
    seconds = time.perf_counter() - started
  failed = [record.reason for record in records if not record.ok]
  if failed:
    raise RuntimeError(f"children failed: {failed}")
  return seconds


def main(argv):
  del argv
  cells = search_space.initial_cells(
      ["sep3x3", "max3x3", "identity"])[:_CHILDREN.value]
  data = train_config.DataConfig(dataset="fashion_mnist", validation_size=1000,
                                 num_train_examples=_NUM_TRAIN.value,
                                 batch_size=32)
  net = network_config.preset("cifar_search", num_classes=10, image_size=28,
                               image_channels=1, num_cells_per_stack=1,
                               filters=8)
  evaluate = child_evaluator.ChildEvaluator(
      net, data, train_config.TrainConfig(epochs=_EPOCHS.value,
                                          learning_rate=0.025))
  counts = [int(count) for count in _WORKERS.value]
  best = {count: float("inf") for count in counts}
  for _ in range(_RUNS.value):
    for count in counts:
      best[count] = min(best[count], _round(evaluate, cells, count))
  print(f"{len(cells)} children (N = 1, F = 8, {_EPOCHS.value} epoch(s) on "
        f"{_NUM_TRAIN.value} images), {len(os.sched_getaffinity(0))} CPUs\n")
  print("| workers | round wall time | per child | children / hour |")
  print("|---:|---:|---:|---:|")
  for count in counts:
    print(f"| {count} | {best[count]:.1f} s | {best[count] / len(cells):.1f} s "
          f"| {3600 * len(cells) / best[count]:.0f} |")
  first, last = counts[0], counts[-1]
  print(f"\nspeedup of {last} workers over {first}: "
        f"{best[first] / best[last]:.2f}x")


if __name__ == "__main__":
  app.run(main)
