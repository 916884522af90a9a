"""Trains and evaluates one child network, as the paper's search does.

Defaults are the paper's search settings (docs/paper_notes.md): E = 20
epochs, SGD with momentum 0.9 (default), initial learning rate 0.01 with
cosine decay to 0, weight decay 5e-4 (in the network's layers), on the
cifar_search network (N = 2, F = 24). Each child writes TensorBoard logs
(loss, accuracy, learning rate per epoch; its cell and settings in the
HParams dashboard) into its own directory, and comes back as a
results.ChildResult, also when it fails: a NaN loss or running out of memory
is a failed child, never a crash of the caller.

Example:
  data = datasets.load_search_data(train_config.DataConfig(dataset="cifar10"))
  result = train_and_evaluate(cell, network_config.PRESETS["cifar_search"],
                              data, train_config.TrainConfig(epochs=20),
                              "/tmp/child_0")
  print(result.validation_accuracy)
"""

import dataclasses
import math
import os
import time
from typing import Sequence

from absl import logging
import keras
import tensorflow as tf

from pnas_tf.config import network_config
from pnas_tf.config import train_config
from pnas_tf.data import datasets
from pnas_tf.model import network
from pnas_tf.serving import export
from pnas_tf.space import search_space
from pnas_tf.storage import files
from pnas_tf.training import results
from pnas_tf.training import training_loop

EPOCH_LOG = training_loop.EPOCH_LOG


def _write_hparams(log_dir: str, cell: search_space.Cell,
                   net: network_config.NetworkConfig,
                   data: datasets.DatasetInfo, config: train_config.TrainConfig,
                   batch_size: int) -> None:
  results.write_hparams(
      log_dir,
      {"cell": str(cell), "num_blocks": cell.num_blocks, "dataset": data.name,
       "filters": net.filters, "num_cells_per_stack": net.num_cells_per_stack,
       "epochs": config.epochs, "learning_rate": config.learning_rate,
       "batch_size": batch_size, "seed": config.seed},
      trial_id=str(cell))


def _failure(cell, reason: str, started: float, params: int = 0,
             epochs_run: int = 0):
  logging.warning("Child %s failed: %s", cell, reason)
  return results.ChildResult(
      cell=str(cell), num_blocks=cell.num_blocks,
      status=results.Status.FAILED, reason=reason, trainable_params=params,
      epochs_run=epochs_run, wall_seconds=time.perf_counter() - started)


def train_and_evaluate(
    cell: search_space.Cell, net: network_config.NetworkConfig,
    data: datasets.SearchData, config: train_config.TrainConfig,
    output_dir: str, export_dir: str | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    weights_path: str | None = None) -> results.ChildResult:
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
  with training_loop.fresh_keras_state(config):
    try:
      data = training_loop.split_over_replicas(data, config)
      model = training_loop.build_compiled(cell, net, config,
                                           data.steps_per_epoch)
      params = network.count_trainable_params(model)
      _write_hparams(os.path.join(output_dir, training_loop.TENSORBOARD_DIR),
                     cell, net, data.info, config, data.batch_size)
      outcome = training_loop.fit(
          model, data.train, data.steps_per_epoch, config, output_dir,
          validation=data.validation, callbacks=callbacks,
          drop_path=net.drop_path_keep_prob < 1.0)
      result = _result_from_history(cell, outcome.history, params,
                                    outcome.clock, data, started)
      if result.ok:
        if export_dir:
          # One left by a run that crashed before its caller recorded the
          # result is this child's stale export: replaced.
          files.rmtree(export_dir)
          export.export_classifier(model, data.info.image_shape, export_dir,
                                    class_names=data.info.class_names)
        if weights_path:
          training_loop.save_weights_atomically(model, weights_path)
        outcome.record.discard_backup()
      return result
    except tf.errors.ResourceExhaustedError as error:
      return _failure(cell, "out of memory: "
                      f"{training_loop.first_line(error)}", started)


def _result_from_history(cell, history: dict[str, list[float]], params: int,
                         clock: training_loop.TrainingClock,
                         data: datasets.SearchData,
                         started: float) -> results.ChildResult:
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
  return results.ChildResult(
      cell=str(cell), num_blocks=cell.num_blocks, status=results.Status.OK,
      validation_accuracy=float(accuracies[-1]),
      best_validation_accuracy=float(accuracies[best]),
      best_epoch=best + 1,
      validation_loss=float(val_losses[-1]),
      trainable_params=params, epochs_run=epochs_run,
      wall_seconds=time.perf_counter() - started,
      train_images_per_second=results.images_per_second(
          data.num_train_examples, clock.epochs, clock.seconds))
