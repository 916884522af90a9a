"""Final training of a found cell: train on the whole training split, test once.

The paper's CIFAR-10 protocol (NASNet's; docs/paper_notes.md): the cifar_final
network (N = 3, F = 48, auxiliary head, ScheduledDropPath keep 0.6), 600 epochs,
batch 32, SGD momentum 0.9, learning rate 0.025 cosine-decayed, weight decay
5e-4, gradient clipping at global norm 5, auxiliary loss weight 0.4. The
settings come in as configs; flags/cifar10_final.cfg holds them.

Every epoch is committed (metrics and weights) so the same command resumes
after a crash; the test split is evaluated once, at the end, by the served
network (no auxiliary head, drop-path off); a rerun after a crash that came
after training evaluates again. TensorBoard: the training curves as for
children, the run in the HParams dashboard, and test/accuracy.

Example:
  data = datasets.load_final_data(train_config.DataConfig(dataset="cifar10"))
  result = train_final(search_space.PNASNET_5, network_config.preset(
      "cifar_final"), data, train_config.TrainConfig(epochs=600, ...),
      "/tmp/final", export_path="/tmp/final/export/pnas/1")
"""

import dataclasses
import math
import os
import time
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from pnas_tf.config import network_config
from pnas_tf.config import train_config
from pnas_tf.data import datasets
from pnas_tf.model import network
from pnas_tf.serving import export
from pnas_tf.space import search_space
from pnas_tf.storage import files
from pnas_tf.training import fine_tuning
from pnas_tf.training import results
from pnas_tf.training import training_loop

WEIGHTS_FILE = "final.weights.h5"
TOP_K = 5


def evaluate(model: keras.Model, test: tf.data.Dataset,
             top_k: int = TOP_K) -> dict[str, float]:
  """Accuracy, top-k accuracy and mean cross-entropy of the served network.

  Args:
    model: the trained network (its auxiliary head is not used).
    test: batches of (standardized images, labels) in a fixed order.
    top_k: k of the top-k accuracy; nan when the classes are not more.

  Returns:
    {"accuracy", "top_k_accuracy", "loss", "examples"}.
  """
  served = export.inference_model(model)
  # One pass over the test split: logits and labels together.
  batches = [(served(images, training=False), labels)
             for images, labels in test]
  logits = np.concatenate([keras.ops.convert_to_numpy(logit)
                           for logit, _ in batches])
  labels = np.concatenate([label.numpy() for _, label in batches])
  log_probabilities = tf.nn.log_softmax(logits.astype(np.float32)).numpy()
  predicted = np.argsort(-logits, axis=1)
  num_classes = logits.shape[1]
  return {
      "accuracy": float(np.mean(predicted[:, 0] == labels)),
      "top_k_accuracy": (
          float(np.mean(np.any(predicted[:, :top_k] == labels[:, None], 1)))
          if num_classes > top_k else math.nan),
      "loss": float(-np.mean(log_probabilities[np.arange(len(labels)),
                                               labels])),
      "examples": int(len(labels)),
  }


def _write_summaries(log_dir: str, cell: search_space.Cell,
                     net: network_config.NetworkConfig,
                     data: datasets.FinalData,
                     config: train_config.TrainConfig,
                     test: dict[str, float] | None) -> None:
  """The run in the HParams dashboard; test/* scalars once it is tested."""
  if test is None:
    results.write_hparams(
        log_dir,
        {"cell": str(cell), "dataset": data.info.name, "filters": net.filters,
         "num_cells_per_stack": net.num_cells_per_stack,
         "epochs": config.epochs, "learning_rate": config.learning_rate,
         "batch_size": data.batch_size, "seed": config.seed},
        trial_id=f"final {cell}")
    return
  with tf.summary.create_file_writer(log_dir).as_default():
    for name in ("accuracy", "top_k_accuracy", "loss"):
      if math.isfinite(test[name]):
        tf.summary.scalar(f"test/{name}", test[name], step=config.epochs)


def train_final(cell: search_space.Cell, net: network_config.NetworkConfig,
                data: datasets.FinalData, config: train_config.TrainConfig,
                output_dir: str, export_path: str | None = None,
                export_formats: Sequence[str] = (),
                init_weights: keras.Model | None = None,
                callbacks: Sequence[keras.callbacks.Callback] = ()
                ) -> results.FinalResult:
  """Trains `cell`'s network on `data`, tests it, keeps and exports it.

  Args:
    cell: the cell.
    net: the network (e.g. the cifar_final preset fitted to the data).
    data: the training split and the test split.
    config: how to train; checkpoints are kept whatever it says.
    output_dir: logs (tensorboard/), the epoch log and backup, and the
      trained weights (final.weights.h5). The backup stays until the caller
      has recorded the result (discard_backup).
    export_path: where the SavedModel goes (see export.py), if anywhere;
      kept as it is if it exists (a crashed rerun's).
    export_formats: what the export holds besides the SavedModel
      (export_config.FORMATS).
    init_weights: a trained network whose weights start the training
      (fine_tuning.py); a resumed run continues from its backup instead.
    callbacks: more Keras callbacks, run after the trainer's own.

  Returns:
    The result; status "failed" with a reason for a NaN loss or running out
    of memory.
  """
  started = time.perf_counter()
  config = dataclasses.replace(config, keep_checkpoints=True)
  log_dir = os.path.join(output_dir, training_loop.TENSORBOARD_DIR)
  with training_loop.fresh_keras_state(config):
    params = 0
    try:
      data = training_loop.split_over_replicas(data, config)
      model = training_loop.build_compiled(cell, net, config,
                                           data.steps_per_epoch)
      if init_weights is not None:
        fine_tuning.initialize(model, init_weights)
      params = network.count_trainable_params(model, include_aux_head=False)
      _write_summaries(log_dir, cell, net, data, config, None)
      outcome = training_loop.fit(
          model, data.train, data.steps_per_epoch, config, output_dir,
          callbacks=callbacks, drop_path=net.drop_path_keep_prob < 1.0)
      losses = outcome.history.get("loss", [])
      if not losses or not all(math.isfinite(loss) for loss in losses):
        return _failed(cell, "loss became NaN or infinite", started, params,
                       len(losses))
      test = evaluate(model, data.test)
      _write_summaries(log_dir, cell, net, data, config, test)
      _keep(model, data, output_dir, export_path, export_formats)
      return _tested_result(cell, model, params, outcome, test, data, started)
    except tf.errors.ResourceExhaustedError as error:
      return _failed(cell, f"out of memory: {training_loop.first_line(error)}",
                     started, params, 0)


def _keep(model: keras.Model, data: datasets.FinalData, output_dir: str,
          export_path: str | None, export_formats: Sequence[str]) -> None:
  """Saves the trained weights, and exports the served network once."""
  training_loop.save_weights_atomically(
      model, os.path.join(output_dir, WEIGHTS_FILE))
  # An export is renamed into place whole: one that exists is complete,
  # left by this run before a crash.
  if export_path and not files.exists(export_path):
    export.export_classifier(
        model, data.info.image_shape, export_path,
        class_names=data.info.class_names,
        central_crop=bool(data.config.image_size), formats=export_formats)


def _tested_result(cell, model: keras.Model, params: int,
                   outcome: training_loop.FitOutcome, test: dict[str, float],
                   data: datasets.FinalData,
                   started: float) -> results.FinalResult:
  accuracies = outcome.history.get(
      "accuracy", outcome.history.get("logits_accuracy", [math.nan]))
  clock = outcome.clock
  return results.FinalResult(
      cell=str(cell), status=results.Status.OK,
      test_accuracy=test["accuracy"],
      test_top_k_accuracy=test["top_k_accuracy"],
      test_loss=test["loss"], test_examples=test["examples"],
      train_accuracy=float(accuracies[-1]), trainable_params=params,
      trainable_params_with_aux_head=network.count_trainable_params(model),
      epochs_run=len(outcome.history.get("loss", [])),
      wall_seconds=time.perf_counter() - started,
      train_images_per_second=results.images_per_second(
          data.num_train_examples, clock.epochs, clock.seconds))


def discard_backup(output_dir: str) -> None:
  """Removes the epoch backup, once the run's result is safely recorded."""
  files.rmtree(os.path.join(output_dir, training_loop.BACKUP_DIR))


def _failed(cell, reason: str, started: float, params: int,
            epochs_run: int) -> results.FinalResult:
  return results.FinalResult(
      cell=str(cell), status=results.Status.FAILED, reason=reason,
      trainable_params=params, epochs_run=epochs_run,
      wall_seconds=time.perf_counter() - started)
