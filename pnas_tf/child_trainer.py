"""Trains and evaluates one child network, as the paper's search does.

Defaults are the paper's search settings (PAPER.md): E = 20 epochs, SGD with
momentum 0.9 (default), initial learning rate 0.01 with cosine decay to 0,
weight decay 5e-4 (in the network's layers), on the cifar_search network
(N = 2, F = 24). Each child writes TensorBoard logs (loss, accuracy, learning
rate per epoch; its cell and settings in the HParams dashboard) into its own
directory, and comes back as a ChildResult, also when it fails: a NaN loss or
running out of memory is a failed child, never a crash of the caller.

Example:
  data = datasets.load_search_data(train_config.DataConfig(dataset="cifar10"))
  result = train_and_evaluate(cell, network_config.PRESETS["cifar_search"],
                              data, train_config.TrainConfig(epochs=20),
                              "/tmp/child_0")
  print(result.validation_accuracy)
"""

import dataclasses
import gc
import json
import math
import os
import time
from typing import Any, Sequence

from absl import logging
import keras
import tensorflow as tf
from tensorboard.plugins.hparams import api as hparams_api

from pnas_tf import datasets
from pnas_tf import export
from pnas_tf import files
from pnas_tf import network
from pnas_tf import network_config
from pnas_tf import search_space
from pnas_tf import strategies
from pnas_tf import train_config

STATUS_OK = "ok"
STATUS_FAILED = "failed"
# Per-epoch metrics of a child, in its output directory.
EPOCH_LOG = "epochs.json"


@dataclasses.dataclass(frozen=True)
class ChildResult:
  """What one child's training gave; written as JSON by the binaries."""
  cell: str
  num_blocks: int
  status: str
  reason: str = ""
  validation_accuracy: float = math.nan
  best_validation_accuracy: float = math.nan
  best_epoch: int = 0
  validation_loss: float = math.nan
  trainable_params: int = 0
  epochs_run: int = 0  # Including epochs run before a resume.
  wall_seconds: float = 0.0  # Of the last (resumed) run.
  train_images_per_second: float = 0.0  # Of the last run, validation excluded.

  def to_json(self) -> dict[str, Any]:
    return {key: (None if isinstance(value, float) and math.isnan(value)
                  else value)
            for key, value in dataclasses.asdict(self).items()}


class _TrainingClock(keras.callbacks.Callback):
  """Seconds and images of training proper (validation excluded)."""

  def __init__(self, batch_size: int):
    super().__init__()
    self.batch_size = batch_size
    self.seconds = 0.0
    self.steps = 0
    self.epochs = 0
    self._started = None

  def on_epoch_begin(self, epoch, logs=None):
    self._started = time.perf_counter()

  def on_train_batch_end(self, batch, logs=None):
    self.steps += 1

  def on_test_begin(self, logs=None):
    self._stop()

  def on_epoch_end(self, epoch, logs=None):
    self._stop()
    self.epochs += 1

  def _stop(self):
    if self._started is not None:
      self.seconds += time.perf_counter() - self._started
      self._started = None

  def images_per_second(self, num_train_examples: int | None) -> float:
    """Training images per second over the epochs of this run."""
    images = (num_train_examples * self.epochs if num_train_examples
              else self.steps * self.batch_size)
    return images / self.seconds if self.seconds else 0.0


class _EpochLog(keras.callbacks.Callback):
  """Keeps every finished epoch's metrics in epochs.json, across restarts.

  Keras' history holds only the epochs of the current fit; after a resume
  from a backup, the earlier epochs come from this file.
  """

  def __init__(self, path: str, resume: bool):
    super().__init__()
    self.path = path
    self.epochs: list[dict[str, float]] = []
    if resume and os.path.exists(path):
      with open(path) as stream:
        self.epochs = json.load(stream)

  def on_epoch_end(self, epoch, logs=None):
    del self.epochs[epoch:]  # Epochs redone after a resume replace old ones.
    self.epochs.append({key: float(value) for key, value in (logs or {}).items()})
    files.write_json_atomically(self.path, self.epochs)

  def history(self) -> dict[str, list[float]]:
    keys = {key for epoch in self.epochs for key in epoch}
    return {key: [epoch.get(key, math.nan) for epoch in self.epochs]
            for key in keys}


def _write_hparams(log_dir: str, cell: search_space.Cell,
                   net: network_config.NetworkConfig,
                   data: datasets.DatasetInfo, config: train_config.TrainConfig,
                   batch_size: int) -> None:
  values = {"cell": str(cell), "num_blocks": cell.num_blocks,
            "dataset": data.name, "filters": net.filters,
            "num_cells_per_stack": net.num_cells_per_stack,
            "epochs": config.epochs, "learning_rate": config.learning_rate,
            "batch_size": batch_size, "seed": config.seed}
  with tf.summary.create_file_writer(log_dir).as_default():
    hparams_api.hparams(values, trial_id=str(cell))


def _resolve(switch: str) -> bool:
  return switch == "on" or (
      switch == "auto" and bool(tf.config.list_physical_devices("GPU")))


def _compile(model: keras.Model, config: train_config.TrainConfig, steps: int) -> None:
  schedule = keras.optimizers.schedules.CosineDecay(
      config.learning_rate, decay_steps=max(steps, 1))
  optimizer = keras.optimizers.SGD(
      schedule, momentum=config.momentum,
      global_clipnorm=config.gradient_clip_norm or None)
  model.compile(
      optimizer=optimizer,
      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
      metrics=["accuracy"], jit_compile=_resolve(config.xla))


def _failure(cell, reason: str, started: float, params: int = 0,
             epochs_run: int = 0):
  logging.warning("Child %s failed: %s", cell, reason)
  return ChildResult(cell=str(cell), num_blocks=cell.num_blocks,
                     status=STATUS_FAILED, reason=reason,
                     trainable_params=params, epochs_run=epochs_run,
                     wall_seconds=time.perf_counter() - started)


def train_and_evaluate(
    cell: search_space.Cell, net: network_config.NetworkConfig,
    data: datasets.SearchData, config: train_config.TrainConfig,
    output_dir: str, export_dir: str | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = ()) -> ChildResult:
  """Trains `cell` on `data`, evaluating on the validation split every epoch.

  Args:
    cell: the cell; the result names its canonical form.
    net: the network shape (its classes and image shape must fit `data`).
    data: training and validation datasets.
    config: how to train.
    output_dir: this child's directory: TensorBoard logs in tensorboard/,
      the epoch backup (with keep_checkpoints) in backup/.
    export_dir: if given, the trained network is exported there as a
      SavedModel (see export.py) after a successful training.
    callbacks: more Keras callbacks, run after the trainer's own.

  Returns:
    The result; status "failed" with a reason for a NaN loss, running out of
    memory or another TensorFlow runtime error.
  """
  started = time.perf_counter()
  cell = cell.canonical()
  keras.backend.clear_session()
  gc.collect()
  keras.utils.set_random_seed(config.seed)
  mixed = _resolve(config.mixed_precision)
  keras.mixed_precision.set_dtype_policy("mixed_float16" if mixed else "float32")
  model = None
  try:
    strategy = strategies.make_strategy(config.strategy)
    with strategy.scope():
      model = network.build_network(cell, net)
      _compile(model, config, _steps_per_epoch(data.train) * config.epochs)
    params = network.count_trainable_params(model)
    log_dir = os.path.join(output_dir, "tensorboard")
    _write_hparams(log_dir, cell, net, data.info, config, data.batch_size)
    clock = _TrainingClock(data.batch_size)
    epoch_log = _EpochLog(os.path.join(output_dir, EPOCH_LOG),
                          resume=config.keep_checkpoints)
    own = [keras.callbacks.TerminateOnNaN(), clock,
           keras.callbacks.TensorBoard(log_dir, write_graph=False)]
    if config.keep_checkpoints:
      own.append(keras.callbacks.BackupAndRestore(
          os.path.join(output_dir, "backup")))
    own.append(epoch_log)
    model.fit(data.train, validation_data=data.validation,
              epochs=config.epochs, callbacks=own + list(callbacks),
              shuffle=False, verbose=config.verbose)
    result = _result_from_history(cell, epoch_log.history(), params, clock,
                                  data.info, started)
    if result.status == STATUS_OK and export_dir:
      export.export_classifier(model, data.info.image_shape, export_dir)
    return result
  except tf.errors.ResourceExhaustedError as error:
    return _failure(cell, f"out of memory: {_first_line(error)}", started)
  except tf.errors.OpError as error:
    return _failure(cell, f"{type(error).__name__}: {_first_line(error)}",
                    started)
  finally:
    del model
    keras.mixed_precision.set_dtype_policy("float32")
    keras.backend.clear_session()
    gc.collect()


def _steps_per_epoch(dataset: tf.data.Dataset) -> int:
  steps = int(dataset.cardinality())
  if steps < 0:  # Unknown: count once (the cosine schedule needs the total).
    steps = int(dataset.reduce(0, lambda count, _: count + 1))
  return steps


def _first_line(error: Exception) -> str:
  text = getattr(error, "message", None) or str(error)
  return text.strip().splitlines()[0][:300] if text.strip() else ""


def _result_from_history(cell, history: dict[str, list[float]], params: int,
                         clock: _TrainingClock, info: datasets.DatasetInfo,
                         started: float) -> ChildResult:
  losses = history.get("loss", [])
  accuracies = history.get("val_accuracy", [])
  val_losses = history.get("val_loss", [])
  epochs_run = len(losses)
  nan_epochs = [epoch for epoch, loss in enumerate(losses, 1)
                if not math.isfinite(loss)]
  if nan_epochs or any(not math.isfinite(v) for v in val_losses):
    epoch = nan_epochs[0] if nan_epochs else epochs_run
    return _failure(cell, f"loss became NaN or infinite in epoch {epoch}",
                    started, params, epochs_run)
  if not accuracies:
    return _failure(cell, "no validation accuracy was recorded", started,
                    params, epochs_run)
  best = max(range(len(accuracies)), key=accuracies.__getitem__)
  return ChildResult(
      cell=str(cell), num_blocks=cell.num_blocks, status=STATUS_OK,
      validation_accuracy=float(accuracies[-1]),
      best_validation_accuracy=float(accuracies[best]),
      best_epoch=best + 1,
      validation_loss=float(val_losses[-1]),
      trainable_params=params, epochs_run=epochs_run,
      wall_seconds=time.perf_counter() - started,
      train_images_per_second=clock.images_per_second(
          info.num_train_examples))
