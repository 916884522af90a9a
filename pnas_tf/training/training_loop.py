"""The training machinery child and final training share.

Callbacks that commit every epoch (metrics, and weights for resuming), ramp
ScheduledDropPath in, stop on a NaN loss and time the training; the optimizer
and losses; a fresh, seeded Keras state per run; and `fit`, which resumes
from the last committed epoch and trains the rest.

Example:
  with fresh_keras_state(config):
    model = build_compiled(cell, net, config, steps_per_epoch)
    outcome = fit(model, data.train, data.steps_per_epoch, config, "/tmp/run")
"""

import contextlib
import dataclasses
import gc
import io
import json
import math
import os
import time
import warnings
from typing import Callable, Sequence

from absl import logging
import keras
import numpy as np
import tensorflow as tf

from pnas_tf.config import network_config
from pnas_tf.config import train_config
from pnas_tf.model import network
from pnas_tf.model import operators
from pnas_tf.space import search_space
from pnas_tf.storage import files
from pnas_tf.training import strategies

# Per-epoch metrics of a run, in its output directory; with keep_checkpoints,
# the last epoch's weights are in BACKUP_DIR beside it.
EPOCH_LOG = "epochs.json"
BACKUP_DIR = "backup"
TENSORBOARD_DIR = "tensorboard"


class TrainingClock(keras.callbacks.Callback):
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


class StopOnNaN(keras.callbacks.Callback):
  """Stops training after an epoch whose loss is not finite.

  Checked per epoch, not per step like keras.callbacks.TerminateOnNaN, so
  that Keras can dispatch steps without waiting for each one's loss.
  """

  def on_epoch_end(self, epoch, logs=None):
    if not math.isfinite((logs or {}).get("loss", 0.0)):
      self.model.stop_training = True


class EpochRecord(keras.callbacks.Callback):
  """Commits every finished epoch: its metrics, and optionally its weights.

  An epoch's weights (model and optimizer) are written to a temporary file
  and renamed to backup/epoch-<n>.weights.h5, the states of its random
  generators (drop-path and dropout masks; Keras does not save them with the
  weights) likewise to backup/epoch-<n>.rng.npz, so a resumed run draws the
  masks an uninterrupted one would; then epochs.json, rewritten
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

  def _rng_path(self, epochs_done: int) -> str:
    return os.path.join(self.backup_dir, f"epoch-{epochs_done}.rng.npz")

  def resume(self, model: keras.Model) -> int:
    """Restores the last committed epoch, if any; returns epochs done."""
    if not (self.keep_weights and files.exists(self.log_path)):
      return 0
    with files.open_file(self.log_path) as stream:
      committed = json.load(stream)
    weights = self._weights_path(len(committed))
    if not committed or not files.exists(weights):
      return 0
    model.optimizer.build(model.trainable_variables)
    model.load_weights(weights)
    rng_path = self._rng_path(len(committed))
    if files.exists(rng_path):
      with files.open_file(rng_path, "rb") as stream:
        buffer = io.BytesIO(stream.read())
      with np.load(buffer) as saved:
        for index, variable in enumerate(_rng_states(model)):
          variable.assign(saved[f"state_{index}"])
    self.epochs = committed
    logging.info("Resuming after epoch %d from %s", len(committed), weights)
    return len(committed)

  def on_epoch_end(self, epoch, logs=None):
    del self.epochs[epoch:]
    self.epochs.append({key: _finite_or_none(value)
                        for key, value in (logs or {}).items()})
    if self.keep_weights:
      files.makedirs(self.backup_dir)
      buffer = io.BytesIO()
      np.savez(buffer, **{f"state_{index}": keras.ops.convert_to_numpy(v)
                          for index, v in enumerate(_rng_states(self.model))})
      partial = os.path.join(self.backup_dir, "partial.rng.npz")
      with files.open_file(partial, "wb") as stream:
        stream.write(buffer.getvalue())
      files.rename(partial, self._rng_path(epoch + 1))
      partial = os.path.join(self.backup_dir, "partial.weights.h5")
      self.model.save_weights(partial, overwrite=True)
      files.rename(partial, self._weights_path(epoch + 1))
    files.write_json_atomically(self.log_path, self.epochs)
    if self.keep_weights:
      keep = {os.path.basename(self._weights_path(epoch + 1)),
              os.path.basename(self._rng_path(epoch + 1))}
      for name in files.listdir(self.backup_dir):
        if name not in keep:
          files.remove(os.path.join(self.backup_dir, name))

  def discard_backup(self) -> None:
    """Removes the epoch backup (once the run's result is recorded)."""
    files.rmtree(self.backup_dir)

  def history(self) -> dict[str, list[float]]:
    """Every committed epoch's metrics, by name (nan where missing)."""
    keys = {key for epoch in self.epochs for key in epoch}
    return {key: [math.nan if epoch.get(key) is None else epoch[key]
                  for epoch in self.epochs] for key in keys}


def _rng_states(model: keras.Model) -> list:
  """The model's random-generator state variables, in a fixed order."""
  return [variable for variable in model.variables
          if variable.path.endswith("seed_generator_state")]


def _finite_or_none(value) -> float | None:
  value = float(value)
  return value if math.isfinite(value) else None


class DropPathRamp(keras.callbacks.Callback):
  """Raises ScheduledDropPath's progress from 0 to 1 over training.

  The official code ramps per step; this ramps per epoch (epoch e of E
  trains at e / E), because Keras' JAX backend would ignore assignments
  made between the steps of an epoch. With the 600 epochs of final training
  the two schedules differ by under 0.2%.
  """

  def __init__(self, epochs: int):
    super().__init__()
    self.epochs = epochs

  def on_epoch_begin(self, epoch, logs=None):
    operators.set_drop_path_progress(self.model, epoch / self.epochs)


def mixed_precision_enabled(switch: str) -> bool:
  """Whether a run trains in mixed_float16: switch "on", or "auto" on a GPU."""
  return switch == "on" or (
      switch == "auto" and bool(tf.config.list_physical_devices("GPU")))


def compile_network(model: keras.Model, config: train_config.TrainConfig,
                    steps: int) -> None:
  """SGD with cosine decay; cross-entropy, plus the aux head's if it has one.

  Args:
    model: the network.
    config: how to train.
    steps: training steps in all, over which the learning rate decays.
  """
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


def first_line(error: Exception) -> str:
  """The first line of an error's message (at most 300 characters)."""
  text = getattr(error, "message", None) or str(error)
  return text.strip().splitlines()[0][:300] if text.strip() else ""


@contextlib.contextmanager
def fresh_keras_state(config: train_config.TrainConfig):
  """A cleared, seeded Keras session in the run's dtype policy.

  Args:
    config: its seed, mixed-precision switch and determinism are used.

  Every run must start from the same state: this resets Keras' global state
  and seeds Python's, NumPy's and TensorFlow's global generators; on exit it
  restores the float32 policy and frees the session. With
  config.deterministic it also turns on TensorFlow's op determinism, which
  stays on for the rest of the process (TensorFlow has no public way to turn
  it off); the seeds above are what makes the random draws repeat.
  """
  keras.backend.clear_session()
  gc.collect()
  keras.utils.set_random_seed(config.seed)
  if config.deterministic:
    tf.config.experimental.enable_op_determinism()
  keras.mixed_precision.set_dtype_policy(
      "mixed_float16" if mixed_precision_enabled(config.mixed_precision)
      else "float32")
  try:
    yield
  finally:
    keras.mixed_precision.set_dtype_policy("float32")
    keras.backend.clear_session()
    gc.collect()


def build_compiled(cell: search_space.Cell, net: network_config.NetworkConfig,
                   config: train_config.TrainConfig,
                   steps_per_epoch: int) -> keras.Model:
  """The network of `cell`, compiled for training, under config.strategy.

  Args:
    cell: the cell.
    net: the network's shape.
    config: how to train (strategy, optimizer, epochs).
    steps_per_epoch: batches per epoch, for the learning-rate schedule.
  """
  strategy = strategies.make_strategy(config.strategy)
  with strategy.scope():
    model = network.build_network(cell, net)
    compile_network(model, config, steps_per_epoch * config.epochs)
  return model


@dataclasses.dataclass
class FitOutcome:
  """What `fit` leaves: per-epoch metrics of all epochs, and the timing."""
  history: dict[str, list[float]]
  clock: TrainingClock
  record: EpochRecord


def split_over_replicas(data, config: train_config.TrainConfig):
  """`data` (datasets.TrainingData) for config.strategy's replicas: an epoch's
  last batch too small to give each replica an example is dropped."""
  strategy = strategies.make_strategy(config.strategy)
  return data.for_replicas(strategy.num_replicas_in_sync)


def with_aux_labels(model: keras.Model, dataset: tf.data.Dataset):
  """`dataset` as `model` needs it: labels twice when it has an aux head."""
  if len(model.outputs) == 1:
    return dataset
  return dataset.map(lambda images, labels: (images, (labels, labels)))


def fit(model: keras.Model, train: Callable[[int, int], tf.data.Dataset],
        steps_per_epoch: int, config: train_config.TrainConfig,
        output_dir: str, validation: tf.data.Dataset | None = None,
        callbacks: Sequence[keras.callbacks.Callback] = (),
        drop_path: bool = False) -> FitOutcome:
  """Trains `model` for config.epochs, resuming after the last committed one.

  Args:
    model: a compiled network (build_compiled).
    train: train(first_epoch, num_epochs) -> batches of those epochs.
    steps_per_epoch: batches in one epoch.
    config: how to train; with keep_checkpoints every epoch's weights are
      kept, so an interrupted run continues from its last finished epoch.
    output_dir: TensorBoard logs go to tensorboard/, epochs.json and the
      epoch backup beside it.
    validation: evaluated after every epoch, if given.
    callbacks: more Keras callbacks, run after these.
    drop_path: ramp ScheduledDropPath in over the epochs.

  Returns:
    The metrics of every epoch (also those before a resume) and the timing.
  """
  record = EpochRecord(output_dir, keep_weights=config.keep_checkpoints)
  first_epoch = record.resume(model)
  clock = TrainingClock()
  own = [StopOnNaN(), clock,
         keras.callbacks.TensorBoard(os.path.join(output_dir, TENSORBOARD_DIR),
                                     write_graph=False)]
  if drop_path:
    own.append(DropPathRamp(config.epochs))
  own.append(record)
  remaining = config.epochs - first_epoch
  if remaining > 0:
    with warnings.catch_warnings():
      # A cell that no block of reads one of its inputs still builds that
      # input's 1x1 preprocessing, as the official cell always does
      # (docs/networks.md); its weights get no gradient, and Keras warns.
      warnings.filterwarnings("ignore", "Gradients do not exist for")
      # shuffle=False: the dataset is shuffled, by epoch and seed, in
      # datasets.py; Keras cannot shuffle a tf.data.Dataset and says so.
      model.fit(with_aux_labels(model, train(first_epoch, remaining)),
                steps_per_epoch=steps_per_epoch, initial_epoch=first_epoch,
                epochs=config.epochs, shuffle=False,
                validation_data=(None if validation is None
                                 else with_aux_labels(model, validation)),
                callbacks=own + list(callbacks), verbose=config.verbose)
  return FitOutcome(history=record.history(), clock=clock, record=record)


def save_weights_atomically(model: keras.Model, path: str) -> None:
  """Writes `model`'s weights to `path` (.weights.h5): whole or not at all."""
  partial = path.removesuffix(".weights.h5") + ".partial.weights.h5"
  model.save_weights(partial, overwrite=True)
  files.rename(partial, path)
