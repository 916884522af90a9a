r"""Benchmark: predictor quality and fitting time against epochs and batch size.

The evidence for the predictor's default epochs and batch size (the paper
gives neither). On the synthetic accuracy (pnas_tf/testing/synthetic_accuracy.py),
each predictor kind is fitted as the search fits it at b = 2: first on the 136
one-block cells, then on those plus K two-block cells. It then ranks unseen
three-block cells (the paper's measure: Spearman's rho between predicted and
true accuracy on the next, larger cells). Every setting runs over several
seeds (each its own synthetic function, records and initialization); the table
shows the means. Single models only: an ensemble's fit costs its size times
one member's.

Example:
  python bench/predictor_training.py --kinds=lstm,mlp --epochs=25,50,100 \
      --batch_sizes=32,64,128 --seeds=3
"""

import os
import random
import time

from absl import app
from absl import flags
import numpy as np

from pnas_tf.config import predictor_config
from pnas_tf.predictor import predictors
from pnas_tf.space import search_space
from pnas_tf.testing import synthetic_accuracy

_KINDS = flags.DEFINE_list("kinds", ["lstm", "mlp"], "Predictor kinds.")
_EPOCHS = flags.DEFINE_list("epochs", ["25", "50", "100", "200"],
                            "Epoch counts to try.")
_BATCH_SIZES = flags.DEFINE_list("batch_sizes", ["32", "64", "128"],
                                 "Batch sizes to try.")
_SEEDS = flags.DEFINE_integer("seeds", 3, "Seeds per setting.")
_TWO_BLOCK = flags.DEFINE_integer("two_block_cells", 256,
                                  "Two-block training cells (K).")
_HELD_OUT = flags.DEFINE_integer("held_out_cells", 500,
                                 "Three-block cells to rank.")


def _task(seed: int):
  """Training and held-out records of one seed."""
  rng = random.Random(seed)
  truth = synthetic_accuracy.SyntheticAccuracy(seed=seed)
  one = search_space.initial_cells()
  two = rng.sample(search_space.expand_all(one), _TWO_BLOCK.value)
  three = rng.sample(search_space.expand_all(rng.sample(two, 64)),
                     _HELD_OUT.value)
  return ((one, [truth(c) for c in one]), (two, [truth(c) for c in two]),
          (three, [truth(c) for c in three]))


def _run(kind, epochs, batch_size, seed, task):
  (one, one_acc), (two, two_acc), (three, three_acc) = task
  config = predictor_config.PredictorConfig(
      kind=kind, epochs=epochs, batch_size=batch_size, seed=seed)
  predictor = predictors.Predictor(config)
  start = time.perf_counter()
  predictor.fit(one, one_acc)
  predictor.fit(one + two, one_acc + two_acc)
  seconds = time.perf_counter() - start
  train = predictor.rank_quality(one + two, one_acc + two_acc)
  held_out = predictor.rank_quality(three, three_acc)
  return train.spearman, held_out.spearman, held_out.kendall_tau, seconds


def main(argv):
  del argv
  tasks = {seed: _task(seed) for seed in range(_SEEDS.value)}
  print("| kind | epochs | batch | train rho | held-out rho | held-out tau "
        "| fit s (both fits) |")
  print("|---|---:|---:|---:|---:|---:|---:|")
  for kind in _KINDS.value:
    for epochs in map(int, _EPOCHS.value):
      for batch_size in map(int, _BATCH_SIZES.value):
        runs = np.array([_run(kind, epochs, batch_size, seed, task)
                         for seed, task in tasks.items()])
        train, held_out, tau, seconds = runs.mean(axis=0)
        print(f"| {kind} | {epochs} | {batch_size} | {train:.3f} | "
              f"{held_out:.3f} | {tau:.3f} | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
  app.run(main)
