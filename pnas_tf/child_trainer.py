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
import shutil
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
from pnas_tf import operators
from pnas_tf import search_space
from pnas_tf import strategies
from pnas_tf import train_config

STATUS_OK = "ok"
STATUS_FAILED = "failed"
# Per-epoch metrics of a child, in its output directory; with
# keep_checkpoints, the last epoch's weights are in BACKUP_DIR beside it.
EPOCH_LOG = "epochs.json"
BACKUP_DIR = "backup"


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
    """A JSON-ready dict; NaN (no value) becomes null."""
    return {key: (None if isinstance(value, float) and math.isnan(value)
                  else value)
            for key, value in dataclasses.asdict(self).items()}


class _TrainingClock(keras.callbacks.Callback):
  """Seconds spent training (validation excluded) and epochs trained."""

  def __init__(self):
    super().__init__()
    self.seconds = 0.0
    self.epochs = 0
    self._started = None

  def on_epoch_begin(self, epoch, logs=None):
    self._started = time.perf_counter()

  def on_test_begin(self, logs=None):
    self._stop()

  def on_epoch_end(self, epoch, logs=None):
    self._stop()
    self.epochs += 1

  def _stop(self):
    if self._started is not None:
      self.seconds += time.perf_counter() - self._started
      self._started = None


class _StopOnNaN(keras.callbacks.Callback):
  """Stops training after an epoch whose loss is not finite.

  Checked per epoch, not per step like keras.callbacks.TerminateOnNaN, so
  that Keras can dispatch steps without waiting for each one's loss.
  """

  def on_epoch_end(self, epoch, logs=None):
    if not math.isfinite((logs or {}).get("loss", 0.0)):
      self.model.stop_training = True


class _EpochRecord(keras.callbacks.Callback):
  """Commits every finished epoch: its metrics, and optionally its weights.

  An epoch's weights (model and optimizer) are written to a temporary file
  and renamed to backup/epoch-<n>.weights.h5; then epochs.json, rewritten
  atomically, commits the epoch. A crash at any point leaves the last
  committed epoch loadable: resume() picks it up, and a weights file written
  after it is ignored. Keras' BackupAndRestore writes in place and would not
  tell the input pipeline which epoch training resumes at.
  """

  def __init__(self, output_dir: str, keep_weights: bool):
    super().__init__()
    self.log_path = os.path.join(output_dir, EPOCH_LOG)
    self.backup_dir = os.path.join(output_dir, BACKUP_DIR)
    self.keep_weights = keep_weights
    self.epochs: list[dict[str, float | None]] = []

  def _weights_path(self, epochs_done: int) -> str:
    return os.path.join(self.backup_dir, f"epoch-{epochs_done}.weights.h5")

  def resume(self, model: keras.Model) -> int:
    """Restores the last committed epoch, if any; returns epochs done."""
    if not (self.keep_weights and os.path.exists(self.log_path)):
      return 0
    with open(self.log_path) as stream:
      committed = json.load(stream)
    weights = self._weights_path(len(committed))
    if not committed or not os.path.exists(weights):
      return 0
    model.optimizer.build(model.trainable_variables)
    model.load_weights(weights)
    self.epochs = committed
    logging.info("Resuming after epoch %d from %s", len(committed), weights)
    return len(committed)

  def on_epoch_end(self, epoch, logs=None):
    del self.epochs[epoch:]
    self.epochs.append({key: _finite_or_none(value)
                        for key, value in (logs or {}).items()})
    if self.keep_weights:
      os.makedirs(self.backup_dir, exist_ok=True)
      partial = os.path.join(self.backup_dir, "partial.weights.h5")
      self.model.save_weights(partial, overwrite=True)
      os.replace(partial, self._weights_path(epoch + 1))
    files.write_json_atomically(self.log_path, self.epochs)
    if self.keep_weights:
      for name in os.listdir(self.backup_dir):
        if name != os.path.basename(self._weights_path(epoch + 1)):
          os.remove(os.path.join(self.backup_dir, name))

  def discard_backup(self) -> None:
    shutil.rmtree(self.backup_dir, ignore_errors=True)

  def history(self) -> dict[str, list[float]]:
    keys = {key for epoch in self.epochs for key in epoch}
    return {key: [math.nan if epoch.get(key) is None else epoch[key]
                  for epoch in self.epochs] for key in keys}


def _finite_or_none(value) -> float | None:
  value = float(value)
  return value if math.isfinite(value) else None


class _DropPathRamp(keras.callbacks.Callback):
  """Raises ScheduledDropPath's progress from 0 to 1 over training.

  The official code ramps per step; this ramps per epoch (epoch e of E
  trains at e / E), because assigning the drop-path variables between steps
  that Keras dispatches asynchronously breaks MirroredStrategy's collectives,
  and Keras' JAX backend would ignore them. With the 600 epochs of final
  training the two schedules differ by under 0.2%.
  """

  def __init__(self, epochs: int):
    super().__init__()
    self.epochs = epochs

  def on_epoch_begin(self, epoch, logs=None):
    operators.set_drop_path_progress(self.model, epoch / self.epochs)


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


def _mixed_precision(switch: str) -> bool:
  return switch == "on" or (
      switch == "auto" and bool(tf.config.list_physical_devices("GPU")))


def _compile(model: keras.Model, config: train_config.TrainConfig,
             steps: int) -> None:
  """SGD with cosine decay; cross-entropy, plus the aux head's if it has one."""
  schedule = keras.optimizers.schedules.CosineDecay(
      config.learning_rate, decay_steps=max(steps, 1))
  optimizer = keras.optimizers.SGD(
      schedule, momentum=config.momentum,
      global_clipnorm=config.gradient_clip_norm or None)
  loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
  if len(model.outputs) == 1:
    losses, weights, metrics = loss, None, ["accuracy"]
  else:  # [logits, aux_logits]: accuracy on the logits only.
    losses, weights = [loss, loss], [1.0, config.aux_head_weight]
    metrics = [["accuracy"], []]
  jit_compile = {"auto": "auto", "on": True, "off": False}[config.xla]
  model.compile(optimizer=optimizer, loss=losses, loss_weights=weights,
                metrics=metrics, jit_compile=jit_compile)


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
    callbacks: Sequence[keras.callbacks.Callback] = (),
    weights_path: str | None = None) -> ChildResult:
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
    weights_path: if given, the trained weights are saved there (a
      `.weights.h5` file, renamed into place whole) after a successful
      training; the search exports its best cells from them.

  Returns:
    The result; status "failed" with a reason for a NaN loss or running out
    of memory. Other errors are bugs and propagate.

  Note: it resets Keras' global state (clear_session, the dtype policy) and
  seeds Python's, NumPy's and TensorFlow's global random generators with
  config.seed, as every child must start from the same state.
  """
  started = time.perf_counter()
  cell = cell.canonical()
  keras.backend.clear_session()
  gc.collect()
  keras.utils.set_random_seed(config.seed)
  mixed = _mixed_precision(config.mixed_precision)
  keras.mixed_precision.set_dtype_policy(
      "mixed_float16" if mixed else "float32")
  model = None
  try:
    strategy = strategies.make_strategy(config.strategy)
    steps_per_epoch = data.steps_per_epoch
    with strategy.scope():
      model = network.build_network(cell, net)
      _compile(model, config, steps_per_epoch * config.epochs)
    params = network.count_trainable_params(model)
    log_dir = os.path.join(output_dir, "tensorboard")
    _write_hparams(log_dir, cell, net, data.info, config, data.batch_size)
    record = _EpochRecord(output_dir, keep_weights=config.keep_checkpoints)
    first_epoch = record.resume(model)
    clock = _TrainingClock()
    own = [_StopOnNaN(), clock,
           keras.callbacks.TensorBoard(log_dir, write_graph=False)]
    if net.drop_path_keep_prob < 1.0:
      own.append(_DropPathRamp(config.epochs))
    own.append(record)
    remaining = config.epochs - first_epoch
    if remaining > 0:
      train, validation = data.train(first_epoch, remaining), data.validation
      if len(model.outputs) > 1:  # The auxiliary head learns the same labels.
        train, validation = (
            dataset.map(lambda images, labels: (images, (labels, labels)))
            for dataset in (train, validation))
      model.fit(train, steps_per_epoch=steps_per_epoch,
                initial_epoch=first_epoch, epochs=config.epochs,
                validation_data=validation, callbacks=own + list(callbacks),
                verbose=config.verbose)
    result = _result_from_history(cell, record.history(), params, clock,
                                  data, started)
    if result.status == STATUS_OK:
      if export_dir:
        export.export_classifier(model, data.info.image_shape, export_dir)
      if weights_path:
        partial = (weights_path.removesuffix(".weights.h5")
                   + ".partial.weights.h5")
        model.save_weights(partial, overwrite=True)
        os.replace(partial, weights_path)
      record.discard_backup()
    return result
  except tf.errors.ResourceExhaustedError as error:
    return _failure(cell, f"out of memory: {_first_line(error)}", started)
  finally:
    del model
    keras.mixed_precision.set_dtype_policy("float32")
    keras.backend.clear_session()
    gc.collect()


def _first_line(error: Exception) -> str:
  text = getattr(error, "message", None) or str(error)
  return text.strip().splitlines()[0][:300] if text.strip() else ""


def _result_from_history(cell, history: dict[str, list[float]], params: int,
                         clock: _TrainingClock, data: datasets.SearchData,
                         started: float) -> ChildResult:
  losses = history.get("loss", [])
  # With an auxiliary head, Keras names the logits' metrics after the layer.
  accuracies = history.get("val_accuracy",
                           history.get("val_logits_accuracy", []))
  val_losses = history.get("val_logits_loss", history.get("val_loss", []))
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
      train_images_per_second=(
          data.num_train_examples * clock.epochs / clock.seconds
          if clock.seconds else 0.0))
