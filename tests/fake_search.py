"""Fakes for search tests: a synthetic evaluator and a fast predictor."""

import json
import os

import numpy as np

from pnas_tf.nas import search_store
from pnas_tf.predictor import cell_encoding
from pnas_tf.testing import synthetic_accuracy


class SyntheticEvaluator:
  """Synthetic accuracy, counting calls; can fail after a number of calls.

  With `step`, accuracies are rounded to multiples of it: many ties, as a
  small validation set gives.
  """

  def __init__(self, seed=0, crash_after=None, step=None):
    self.truth = synthetic_accuracy.SyntheticAccuracy(seed=seed)
    self.calls = []
    self.crash_after = crash_after
    self.step = step

  def _accuracy(self, cell):
    accuracy = self.truth(cell)
    return round(accuracy / self.step) * self.step if self.step else accuracy

  def __call__(self, cell, child_dir):
    if self.crash_after is not None and len(self.calls) >= self.crash_after:
      raise KeyboardInterrupt("injected crash")
    self.calls.append(cell)
    assert child_dir.endswith(search_store.child_key(cell))
    return search_store.ChildRecord(
        cell="", num_blocks=0, status="ok", accuracy=self._accuracy(cell),
        params=1000 * cell.num_blocks, seconds=1.0)


class ShuffledExecutor:
  """Like a pool of workers: each task's record comes back in a random
  (seeded) order, after all of a round's tasks have been handed out. With
  `crash_after`, the search is interrupted after that many results."""

  def __init__(self, evaluate, seed=0, crash_after=None):
    self.evaluate = evaluate
    self.rng = np.random.default_rng(seed)
    self.crash_after = crash_after
    self.returned = 0

  def run(self, tasks):
    finished = [(task, self.evaluate(task.cell, task.directory))
                for task in tasks]
    for index in self.rng.permutation(len(finished)):
      if self.returned == self.crash_after:
        raise KeyboardInterrupt("injected crash")
      self.returned += 1
      yield finished[index]

  def close(self):
    pass


class LinearPredictor:
  """Ridge regression on token counts: a fast, deterministic stand-in."""

  def __init__(self, max_blocks=5):
    self.max_blocks = max_blocks
    self.weights = None
    self.num_fits = 0

  def _features(self, cells):
    tokens = cell_encoding.encode(cells, self.max_blocks)
    features = np.zeros((len(cells), 4, 16))
    for column in range(4):
      for value in range(16):
        features[:, column, value] = (tokens[:, :, column] == value).sum(1)
    features = features.reshape(len(cells), -1)
    return features / np.maximum(1, cell_encoding.block_counts(tokens))[:, None]

  def fit(self, cells, accuracies):
    x = self._features(cells)
    self.weights = np.linalg.solve(x.T @ x + 1e-3 * np.eye(x.shape[1]),
                                   x.T @ np.asarray(accuracies))
    self.num_fits += 1

  def predict(self, cells):
    return self._features(cells) @ self.weights

  def save(self, directory):
    os.makedirs(directory)
    with open(os.path.join(directory, "weights.json"), "w") as stream:
      json.dump(self.weights.tolist(), stream)

  @classmethod
  def load(cls, directory):
    predictor = cls()
    with open(os.path.join(directory, "weights.json")) as stream:
      predictor.weights = np.array(json.load(stream))
    predictor.num_fits = 1
    return predictor
