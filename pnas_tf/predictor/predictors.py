"""The surrogate the search fits on trained cells and ranks candidates with.

`Predictor` is one model, or an ensemble of k whose members are each fitted
on a different (k-1)/k of the records (the paper's 5 members on 4/5 each) and
whose predictions are averaged. Its interface is what the search needs:

  fit(cells, accuracies)   refit on every record so far (or fine-tune, with
                           config.warm_start);
  predict(cells)           predicted accuracies; LSTM members score through
                           a shared-prefix trie (lstm_scoring.py), exact;
  save(directory) / Predictor.load(directory)
                           the fitted state, restored to identical predictions.

Fitting is deterministic given config.seed: seeded initializers, folds and a
record order drawn with NumPy, Keras fed in that order.

Example:
  predictor = Predictor(PredictorConfig(kind="lstm_ensemble"))
  predictor.fit(trained_cells, validation_accuracies)
  scores = predictor.predict(search_space.expand_all(beam))
"""

import dataclasses
import json
import os
from typing import Sequence

import keras
import numpy as np

from pnas_tf.config import predictor_config
from pnas_tf.predictor import cell_encoding
from pnas_tf.predictor import lstm_scoring
from pnas_tf.predictor import predictor_models
from pnas_tf.predictor import rank_correlation
from pnas_tf.space import search_space
from pnas_tf.storage import files

# Version of the saved layout; load() refuses any other.
FORMAT_VERSION = 1
_STATE_FILE = "predictor.json"
# Cells per Keras inference call: large batches, bounded memory.
_INFERENCE_BATCH = 1 << 14


class PredictorStateError(ValueError):
  """A saved predictor that is missing, corrupt or of another version."""


@dataclasses.dataclass(frozen=True)
class RankQuality:
  """How well predictions rank a set of cells (see rank_correlation.py)."""
  spearman: float
  kendall_tau: float
  count: int


class Predictor:
  """An accuracy predictor over cells: one Keras model or an ensemble."""

  def __init__(self, config: predictor_config.PredictorConfig):
    self.config = config
    self._members = [predictor_models.build_model(config, self._member_seed(m))
                     for m in range(config.num_members)]
    self.num_fits = 0

  @property
  def is_fitted(self) -> bool:
    return self.num_fits > 0

  def _member_seed(self, member: int) -> int:
    return int(np.random.SeedSequence([self.config.seed, member])
               .generate_state(1)[0])

  def fit(self, cells: Sequence[search_space.Cell],
          accuracies: Sequence[float]) -> None:
    """Fits every member on its share of (cells, accuracies).

    Args:
      cells: every trained cell so far (canonical, at most max_blocks blocks).
      accuracies: their validation accuracies, in [0, 1].

    Raises:
      ValueError: on mismatched lengths, too few records for the ensemble,
        accuracies outside [0, 1] or cells larger than config.max_blocks.
    """
    accuracies = np.asarray(accuracies, np.float32)
    if len(cells) != len(accuracies):
      raise ValueError(f"{len(cells)} cells but {len(accuracies)} accuracies")
    if len(cells) < self.config.num_members:
      raise ValueError(f"need at least {self.config.num_members} records to "
                       f"fit {self.config.kind}, got {len(cells)}")
    if not np.all((accuracies >= 0) & (accuracies <= 1)):
      raise ValueError("accuracies must lie in [0, 1]")
    tokens = cell_encoding.encode(cells, self.config.max_blocks)
    one_block_only = all(cell.num_blocks == 1 for cell in cells)
    learning_rate = (self.config.first_learning_rate if one_block_only
                     else self.config.learning_rate)
    rng = np.random.default_rng([self.config.seed, self.num_fits])
    for member, rows in enumerate(self._member_rows(len(cells), rng)):
      if not self.config.warm_start:
        self._members[member] = predictor_models.build_model(
            self.config, self._member_seed(member))
      self._fit_member(self._members[member], tokens[rows], accuracies[rows],
                       learning_rate, rng)
    self.num_fits += 1

  def _member_rows(self, count: int, rng: np.random.Generator) -> list:
    """The record indices each member is fitted on."""
    if not self.config.is_ensemble:
      return [np.arange(count)]
    folds = np.array_split(rng.permutation(count), self.config.num_members)
    return [np.sort(np.concatenate(folds[:m] + folds[m + 1:]))
            for m in range(self.config.num_members)]

  def _fit_member(self, model, tokens, accuracies, learning_rate, rng):
    # One fit() over the epochs laid end to end, each in its own order drawn
    # from `rng`: Keras' own shuffling would draw from global state.
    order = np.concatenate([rng.permutation(len(tokens))
                            for _ in range(self.config.epochs)])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss="mean_absolute_error")
    model.fit(tokens[order], accuracies[order],
              batch_size=self.config.batch_size, epochs=1, shuffle=False,
              verbose=0)

  def predict(self, cells: Sequence[search_space.Cell]) -> np.ndarray:
    """Mean predicted accuracy of the members for each cell (float32).

    Raises:
      ValueError: if a cell has more than config.max_blocks blocks.
    """
    scores = np.zeros(len(cells), np.float32)
    sizes = np.array([cell.num_blocks for cell in cells], np.int64)
    if len(cells) and sizes.max() > self.config.max_blocks:
      raise ValueError(f"cannot score a cell of {sizes.max()} blocks: this "
                       f"predictor reads cells of up to "
                       f"{self.config.max_blocks}")
    for size in np.unique(sizes):
      rows = np.flatnonzero(sizes == size)
      tokens = cell_encoding.encode([cells[row] for row in rows])
      scores[rows] = self.predict_tokens(tokens)
    return scores

  def predict_tokens(self, tokens: np.ndarray) -> np.ndarray:
    """Mean member prediction for cells of one size, encoded unpadded.

    `tokens` is cell_encoding.encode's array, its blocks in any order: a
    block's input tokens name hidden states, not positions, so reordering a
    cell's blocks describes the same cell, read in another order. predict()
    reads every cell in the order it is given (the search: canonical).
    """
    if self.config.model_kind == "lstm":
      trie = lstm_scoring.PrefixTrie(tokens)
      member_scores = [lstm_scoring.score(model, trie)
                       for model in self._members]
    else:
      member_scores = [_infer(model, tokens) for model in self._members]
    return np.mean(member_scores, axis=0)

  def predict_full_sequences(self, cells: Sequence[search_space.Cell]
                             ) -> np.ndarray:
    """As predict(), by plain Keras inference on padded sequences (slower)."""
    tokens = cell_encoding.encode(cells)
    return np.mean([_infer(model, tokens) for model in self._members], axis=0)

  def rank_quality(self, cells: Sequence[search_space.Cell],
                   accuracies: Sequence[float]) -> RankQuality:
    """Rank correlations between predict(cells) and the true accuracies."""
    predicted = self.predict(cells)
    return RankQuality(
        spearman=rank_correlation.spearman(predicted, accuracies),
        kendall_tau=rank_correlation.kendall_tau(predicted, accuracies),
        count=len(cells))

  def save(self, directory: str) -> None:
    """Writes the fitted state to a new `directory`, all of it or nothing.

    Raises:
      FileExistsError: if `directory` exists (a save never overwrites).
    """
    if files.exists(directory):
      raise FileExistsError(f"predictor state {directory} exists already")
    staging = files.staging_directory(files.parent_directory(directory),
                                      ".tmp-predictor-")
    try:
      for member, model in enumerate(self._members):
        model.save_weights(os.path.join(staging, _weights_file(member)))
      with files.open_file(os.path.join(staging, _STATE_FILE), "w") as stream:
        json.dump({"format_version": FORMAT_VERSION,
                   "config": self.config.to_json(),
                   "num_fits": self.num_fits}, stream, indent=2)
      files.rename(staging, directory, last=[_STATE_FILE])
    except BaseException:
      files.rmtree(staging)
      raise

  @classmethod
  def load(cls, directory: str) -> "Predictor":
    """The predictor saved in `directory`.

    Raises:
      PredictorStateError: naming the directory and what is wrong with it.
    """
    state = _read_state(directory)
    try:
      config = predictor_config.PredictorConfig.from_json(state["config"])
      predictor = cls(config)
      predictor.num_fits = int(state["num_fits"])
      for member, model in enumerate(predictor._members):
        model.load_weights(os.path.join(directory, _weights_file(member)))
    except (KeyError, TypeError, ValueError, OSError) as error:
      raise PredictorStateError(
          f"predictor state {directory} is unusable: {error}") from None
    return predictor


def _infer(model: keras.Model, tokens: np.ndarray) -> np.ndarray:
  """The model's outputs for `tokens`, computed in large batches."""
  return np.concatenate([
      keras.ops.convert_to_numpy(model(tokens[start:start + _INFERENCE_BATCH]))
      for start in range(0, len(tokens), _INFERENCE_BATCH)])


def _weights_file(member: int) -> str:
  return f"member_{member}.weights.h5"


def _read_state(directory: str) -> dict:
  path = os.path.join(directory, _STATE_FILE)
  if not files.exists(path):
    raise PredictorStateError(f"no predictor state at {directory} "
                              f"({_STATE_FILE} is missing)")
  try:
    with files.open_file(path) as stream:
      state = json.load(stream)
  except FileNotFoundError:
    raise PredictorStateError(f"no predictor state at {directory} "
                              f"({_STATE_FILE} is missing)") from None
  except (OSError, ValueError) as error:
    raise PredictorStateError(f"predictor state {path} is corrupt: {error}"
                              ) from None
  if not isinstance(state, dict) or state.get("format_version") != (
      FORMAT_VERSION):
    version = state.get("format_version") if isinstance(state, dict) else None
    raise PredictorStateError(
        f"predictor state {path} has format version {version!r}; this "
        f"version of pnas_tf reads version {FORMAT_VERSION}")
  return state
