"""What a training run gives back: its status, its JSON, its HParams session.

Child trainings (the search's) and final trainings report different metrics
(validation against test accuracy) in ChildResult and FinalResult; what they
share lives here once: the status, the fields every run has, the JSON form
written to result.json and the children's records, the training throughput,
and the run's session in TensorBoard's HParams dashboard.

Example:
  result = ChildResult(cell="sep3x3:0+max3x3:1", num_blocks=1,
                       status=Status.OK, validation_accuracy=0.81)
  files.write_json_atomically(path, result.to_json())
"""

import dataclasses
import enum
import math
from typing import Any

import tensorflow as tf
from tensorboard.plugins.hparams import api as hparams_api


class Status(enum.StrEnum):
  """How a run ended; a str, so JSON and CSV hold "ok" or "failed"."""
  OK = "ok"
  FAILED = "failed"


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunResult:
  """The fields every run reports; a NaN means no value."""
  cell: str
  status: Status
  reason: str = ""  # Why a run failed.
  trainable_params: int = 0
  epochs_run: int = 0  # Including epochs run before a resume.
  wall_seconds: float = 0.0  # Of the last (resumed) run.
  train_images_per_second: float = 0.0  # Of the last run, evaluation excluded.

  @property
  def ok(self) -> bool:
    return self.status == Status.OK

  def to_json(self) -> dict[str, Any]:
    """A JSON-ready dict; NaN (no value) becomes null."""
    value = dataclasses.asdict(self)
    value["status"] = str(Status(self.status))
    return {key: (None if isinstance(item, float) and math.isnan(item)
                  else item)
            for key, item in value.items()}


@dataclasses.dataclass(frozen=True, kw_only=True)
class ChildResult(RunResult):
  """A search child: its validation accuracy on the held-out examples."""
  num_blocks: int
  validation_accuracy: float = math.nan
  best_validation_accuracy: float = math.nan
  best_epoch: int = 0
  validation_loss: float = math.nan


@dataclasses.dataclass(frozen=True, kw_only=True)
class FinalResult(RunResult):
  """A final training: tested once on the test split."""
  test_accuracy: float = math.nan
  test_top_k_accuracy: float = math.nan  # Top-5, or nan under 6 classes.
  test_loss: float = math.nan
  test_examples: int = 0
  train_accuracy: float = math.nan  # Of the last epoch, with augmentation.
  # trainable_params counts the served network (no auxiliary head).
  trainable_params_with_aux_head: int = 0


def images_per_second(num_examples: int, epochs: int, seconds: float) -> float:
  """Training throughput: `epochs` passes over `num_examples` in `seconds`."""
  return num_examples * epochs / seconds if seconds else 0.0


def write_hparams(log_dir: str, values: dict[str, Any], trial_id: str) -> None:
  """The run's settings as a session of TensorBoard's HParams dashboard."""
  with tf.summary.create_file_writer(log_dir).as_default():
    hparams_api.hparams(values, trial_id=trial_id)
