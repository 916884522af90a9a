"""Which surrogate predictor the search fits, as pure data (no TensorFlow).

The paper fixes the architectures and the optimizer (docs/paper_notes.md,
"Predictor"); epochs and batch size are ours, chosen by measurement with
`bench/predictor_training.py` (see the README).

Example:
  config = PredictorConfig(kind="lstm_ensemble", seed=1)
"""

import dataclasses

from pnas_tf.config import errors

# Predictor kinds: one model fitted on all records, or an ensemble whose
# members are each fitted on a different (k-1)/k of them.
KINDS = ("lstm", "mlp", "lstm_ensemble", "mlp_ensemble")


@dataclasses.dataclass(frozen=True)
class PredictorConfig:
  """A predictor's architecture and fitting schedule.

  Attributes:
    kind: one of KINDS.
    max_blocks: the largest cell it will score (B); sizes its input vocabulary.
    embedding_size: token embedding width (paper: 100).
    hidden_size: LSTM state / MLP layer width (paper: 100).
    ensemble_size: members of an ensemble kind (paper: 5); 1 otherwise.
    epochs: passes over the records per fit (default by measurement).
    batch_size: records per gradient step (default by measurement).
    first_learning_rate: Adam's rate while every record is a 1-block cell
      (paper: 0.01).
    learning_rate: Adam's rate once larger cells are in (paper: 0.002).
    output_bias: initial bias of the output unit before the sigmoid (paper:
      1.8, i.e. 0.86, the mean accuracy of the paper's 1-block cells).
    warm_start: continue from the previous fit's weights instead of refitting
      from scratch on every record (the paper refits).
    seed: initial weights, folds and record order derive from it alone.
  """
  kind: str = "lstm_ensemble"
  max_blocks: int = 5
  embedding_size: int = 100
  hidden_size: int = 100
  ensemble_size: int = 5
  epochs: int = 100
  batch_size: int = 32
  first_learning_rate: float = 0.01
  learning_rate: float = 0.002
  output_bias: float = 1.8
  warm_start: bool = False
  seed: int = 0

  def __post_init__(self):
    if self.kind not in KINDS:
      raise errors.ConfigError(f"predictor must be one of {', '.join(KINDS)}, "
                               f"got {self.kind!r}")
    for name in ("max_blocks", "embedding_size", "hidden_size", "epochs",
                 "batch_size"):
      if getattr(self, name) < 1:
        raise errors.ConfigError(f"predictor_{name} must be >= 1, "
                                 f"got {getattr(self, name)}")
    if self.is_ensemble and self.ensemble_size < 2:
      raise errors.ConfigError(
          "predictor_ensemble_size must be >= 2 for an ensemble, got "
          f"{self.ensemble_size}")
    for name in ("first_learning_rate", "learning_rate"):
      if not getattr(self, name) > 0:
        raise errors.ConfigError(f"predictor_{name} must be > 0, "
                                 f"got {getattr(self, name)}")

  @property
  def is_ensemble(self) -> bool:
    return self.kind.endswith("_ensemble")

  @property
  def model_kind(self) -> str:
    """"lstm" or "mlp": the architecture of every member."""
    return self.kind.removesuffix("_ensemble")

  @property
  def num_members(self) -> int:
    return self.ensemble_size if self.is_ensemble else 1

  def to_json(self) -> dict:
    return dataclasses.asdict(self)

  @classmethod
  def from_json(cls, value: dict) -> "PredictorConfig":
    """The config saved by `to_json`; raises ValueError on unknown fields."""
    known = {field.name for field in dataclasses.fields(cls)}
    unknown = sorted(set(value) - known)
    if unknown:
      raise errors.ConfigError(
          f"unknown predictor settings {', '.join(unknown)}")
    return cls(**value)
