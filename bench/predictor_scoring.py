r"""Benchmark: one paper-scale round of candidate scoring (K = 256, b = 5).

Builds a beam of 256 four-block cells the way a search would (each round's
top 256 by synthetic accuracy among every extension of the last beam), fits a
5-LSTM ensemble on the cells of those rounds (136 + 3 x 256 = 904 records,
about the paper's 1,000), then times what the search does at b = 5: expand
every beam cell by every block, de-duplicate across parents, score every
candidate with each member (lstm_scoring's shared-prefix trie), and keep the
top K. Prints a row per stage, the candidate count, the fitting time (not part
of the round: the search fits after training, not while scoring), and last the
total seconds of the round.

With --compare_full it also scores the candidates by plain Keras inference on
full sequences, and prints that time and the largest difference.

Example:
  python bench/predictor_scoring.py
  python bench/predictor_scoring.py --compare_full
"""

import os
import time

from absl import app
from absl import flags
import numpy as np

from pnas_tf.config import predictor_config
from pnas_tf.predictor import cell_encoding
from pnas_tf.predictor import lstm_scoring
from pnas_tf.predictor import predictors
from pnas_tf.space import search_space
from pnas_tf.testing import synthetic_accuracy

_BEAM = flags.DEFINE_integer("beam_size", 256, "K: parents of the round.")
_BLOCKS = flags.DEFINE_integer("parent_blocks", 4,
                               "Blocks of the parents (b - 1).")
_KIND = flags.DEFINE_string("kind", "lstm_ensemble", "Predictor kind.")
_COMPARE = flags.DEFINE_boolean("compare_full", False,
                                "Also time plain full-sequence inference.")


def _beam_and_records(truth):
  """A beam of parents and every record a search would have trained."""
  beam = search_space.initial_cells()
  records = list(beam)
  for _ in range(_BLOCKS.value - 1):
    candidates = search_space.expand_all(beam)
    beam = sorted(candidates, key=truth, reverse=True)[:_BEAM.value]
    records += beam
  return beam, records


class _Stages:
  """Wall time per stage, printed as table rows."""

  def __init__(self):
    self.total = 0.0

  def run(self, name, function, *args):
    start = time.perf_counter()
    result = function(*args)
    seconds = time.perf_counter() - start
    self.total += seconds
    print(f"| {name} | {seconds:.2f} |", flush=True)
    return result


def main(argv):
  del argv
  truth = synthetic_accuracy.SyntheticAccuracy(seed=0)
  beam, records = _beam_and_records(truth)
  predictor = predictors.Predictor(predictor_config.PredictorConfig(
      kind=_KIND.value, max_blocks=_BLOCKS.value + 1))
  start = time.perf_counter()
  predictor.fit(records, [truth(cell) for cell in records])
  fit_seconds = time.perf_counter() - start

  print("| stage | seconds |")
  print("|---|---:|")
  stages = _Stages()
  children = stages.run("expand (per parent)", lambda: [
      search_space.expand(parent) for parent in beam])
  candidates = stages.run("de-duplicate (across parents)", lambda: list(
      dict.fromkeys(cell for family in children for cell in family)))
  scores = stages.run(
      f"score ({predictor.config.num_members} members)",
      predictor.predict, candidates)
  stages.run("top K", lambda: np.argsort(-scores, kind="stable")[:_BEAM.value])
  print()
  print(f"candidates: {sum(map(len, children))} expanded, "
        f"{len(candidates)} unique")
  if predictor.config.model_kind == "lstm":
    trie = lstm_scoring.PrefixTrie(cell_encoding.encode(candidates))
    print(f"LSTM steps per member: {trie.num_steps} "
          f"(full sequences: {len(candidates) * 4 * (_BLOCKS.value + 1)})")
  print(f"fit on {len(records)} records (not in the round): "
        f"{fit_seconds:.1f} s")
  if _COMPARE.value:
    start = time.perf_counter()
    full = predictor.predict_full_sequences(candidates)
    print(f"plain full-sequence inference: {time.perf_counter() - start:.1f} s,"
          f" largest difference {np.abs(full - scores).max():.2e}")
  print(f"total seconds (expand + de-duplicate + score + top K): "
        f"{stages.total:.1f}")


if __name__ == "__main__":
  app.run(main)
