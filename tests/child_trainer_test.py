"""Tests for pnas_tf.training.child_trainer on tiny networks and tfds mock data."""

import gc
import json
import os

import keras
import numpy as np
from tensorboard.backend.event_processing import event_accumulator
import tensorflow as tf
import tensorflow_datasets as tfds
# TensorFlow exports no way to turn op determinism off again; the test that
# turns it on restores it, so that later tests in the process run as usual.
from tensorflow.python.framework import config as tf_config

from interruptions import StopAfterEpoch
from pnas_tf.config import network_config
from pnas_tf.config import train_config
from pnas_tf.data import datasets
from pnas_tf.space import search_space
from pnas_tf.training import child_trainer
from pnas_tf.training import results

CELL = search_space.Cell.parse("sep3x3:0+max3x3:1,identity:2+avg3x3:0")
NET = network_config.preset("cifar_search", filters=4, num_cells_per_stack=1)


def mock_data(num_examples=32, batch_size=8, seed=0):
  config = train_config.DataConfig(dataset="cifar10", batch_size=batch_size,
                                   seed=seed)
  with tfds.testing.mock_data(num_examples=num_examples):
    return datasets.load_search_data(config)


def scalar_tags(directory):
  accumulator = event_accumulator.EventAccumulator(directory)
  accumulator.Reload()
  return set(accumulator.Tags()["tensors"])


class RaiseInEpoch(keras.callbacks.Callback):
  """Raises `error` when training batch 1 of epoch 0 ends."""

  def __init__(self, error):
    super().__init__()
    self.error = error

  def on_train_batch_end(self, batch, logs=None):
    if batch == 1:
      raise self.error


class KeepWeights(keras.callbacks.Callback):
  """Copies every weight of the model (trainable or not) when training ends."""

  def __init__(self):
    super().__init__()
    self.weights = []

  def on_train_end(self, logs=None):
    self.weights = [keras.ops.convert_to_numpy(w)
                    for w in self.model.weights]


class ChildTrainerTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    self.output_dir = self.create_tempdir().full_path

  def test_one_epoch_gives_a_sane_record_logs_and_a_servable_export(self):
    export_dir = os.path.join(self.output_dir, "saved_model")
    result = child_trainer.train_and_evaluate(
        CELL, NET, mock_data(), train_config.TrainConfig(epochs=1),
        self.output_dir, export_dir=export_dir)
    self.assertEqual(result.status, results.Status.OK, result.reason)
    self.assertEqual(result.cell, str(CELL.canonical()))
    self.assertEqual(result.num_blocks, 2)
    self.assertBetween(result.validation_accuracy, 0.0, 1.0)
    self.assertEqual(result.best_validation_accuracy, result.validation_accuracy)
    self.assertEqual((result.epochs_run, result.best_epoch), (1, 1))
    self.assertTrue(np.isfinite(result.validation_loss))
    self.assertGreater(result.trainable_params, 1000)
    self.assertGreater(result.train_images_per_second, 0)
    self.assertGreater(result.wall_seconds, 0)
    json.dumps(result.to_json())  # Serializable as is.

    log_dir = os.path.join(self.output_dir, "tensorboard")
    self.assertContainsSubset(
        {"epoch_loss", "epoch_accuracy", "epoch_learning_rate"},
        scalar_tags(os.path.join(log_dir, "train")))
    self.assertContainsSubset({"epoch_loss", "epoch_accuracy"},
                              scalar_tags(os.path.join(log_dir, "validation")))
    self.assertIn("_hparams_/session_start_info", scalar_tags(log_dir))

    served = tf.saved_model.load(export_dir).signatures["serving_default"]
    images = np.random.RandomState(0).randint(0, 256, (5, 32, 32, 3))
    probabilities = served(images=tf.constant(images, tf.uint8))["probabilities"]
    self.assertEqual(probabilities.shape, (5, 10))
    self.assertAllClose(np.sum(probabilities, axis=1), np.ones(5), atol=1e-5)

    # A rerun (its caller crashed before recording the result) replaces the
    # stale export instead of failing on it.
    rerun = child_trainer.train_and_evaluate(
        CELL, NET, mock_data(), train_config.TrainConfig(epochs=1),
        os.path.join(self.output_dir, "rerun"), export_dir=export_dir)
    self.assertEqual(rerun.status, results.Status.OK, rerun.reason)
    self.assertIn("serving_default",
                  tf.saved_model.load(export_dir).signatures)

  def test_nan_child_fails_without_raising(self):
    result = child_trainer.train_and_evaluate(
        CELL, NET, mock_data(), train_config.TrainConfig(
            epochs=2, learning_rate=1e9), self.output_dir,
        export_dir=os.path.join(self.output_dir, "saved_model"))
    self.assertEqual(result.status, results.Status.FAILED)
    self.assertIn("NaN", result.reason)
    self.assertFalse(os.path.exists(os.path.join(self.output_dir,
                                                 "saved_model")))

  def test_out_of_memory_fails_the_child_other_errors_propagate(self):
    oom = tf.errors.ResourceExhaustedError(None, None, "OOM when allocating")
    result = child_trainer.train_and_evaluate(
        CELL, NET, mock_data(), train_config.TrainConfig(epochs=1),
        self.output_dir, callbacks=[RaiseInEpoch(oom)])
    self.assertEqual(result.status, results.Status.FAILED)
    self.assertIn("out of memory", result.reason)
    bug = tf.errors.InvalidArgumentError(None, None, "labels out of range")
    with self.assertRaises(tf.errors.InvalidArgumentError):
      child_trainer.train_and_evaluate(
          CELL, NET, mock_data(), train_config.TrainConfig(epochs=1),
          self.output_dir, callbacks=[RaiseInEpoch(bug)])

  def test_interrupted_child_resumes_from_its_last_epoch(self):
    config = train_config.TrainConfig(epochs=3, keep_checkpoints=True)
    data = mock_data()
    uninterrupted = child_trainer.train_and_evaluate(
        CELL, NET, data, config, os.path.join(self.output_dir, "whole"))
    with self.assertRaises(KeyboardInterrupt):
      child_trainer.train_and_evaluate(CELL, NET, data, config,
                                       self.output_dir,
                                       callbacks=[StopAfterEpoch(1)])
    with open(os.path.join(self.output_dir, child_trainer.EPOCH_LOG)) as f:
      self.assertLen(json.load(f), 2)
    self.assertCountEqual(os.listdir(os.path.join(self.output_dir, "backup")),
                          ["epoch-2.weights.h5", "epoch-2.rng.npz"])

    seen = []
    record = keras.callbacks.LambdaCallback(
        on_train_begin=lambda logs: seen.append(
            int(record.model.optimizer.iterations.numpy())),
        on_epoch_begin=lambda epoch, logs: seen.append(epoch))
    result = child_trainer.train_and_evaluate(CELL, NET, data, config,
                                              self.output_dir,
                                              callbacks=[record])
    # Weights and optimizer restored after 2 epochs of 4 steps; only the
    # missing epoch runs, on the data it would have seen.
    self.assertEqual(seen, [8, 2])
    self.assertEqual(result.status, results.Status.OK)
    self.assertEqual(result.epochs_run, 3)  # Counted across the restart.
    self.assertAllClose(result.validation_accuracy,
                        uninterrupted.validation_accuracy)
    self.assertAllClose(result.validation_loss, uninterrupted.validation_loss,
                        rtol=1e-5)
    self.assertFalse(os.path.exists(os.path.join(self.output_dir, "backup")))

  def test_a_weights_file_written_after_the_last_commit_is_ignored(self):
    config = train_config.TrainConfig(epochs=2, keep_checkpoints=True)
    data = mock_data()
    with self.assertRaises(KeyboardInterrupt):
      child_trainer.train_and_evaluate(CELL, NET, data, config,
                                       self.output_dir,
                                       callbacks=[StopAfterEpoch(0)])
    # As if killed after writing epoch 2's weights but before committing it.
    backup = os.path.join(self.output_dir, "backup")
    with open(os.path.join(backup, "epoch-2.weights.h5"), "wb") as f:
      f.write(b"torn")
    epochs_seen = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: epochs_seen.append(epoch))
    result = child_trainer.train_and_evaluate(CELL, NET, data, config,
                                              self.output_dir,
                                              callbacks=[record])
    self.assertEqual(epochs_seen, [1])
    self.assertEqual((result.status, result.epochs_run),
                     (results.Status.OK, 2))

  def test_aux_head_and_drop_path_of_final_training(self):
    net = network_config.preset("cifar_final", filters=4,
                                num_cells_per_stack=1)
    self.assertTrue(net.use_aux_head)
    progress = []

    def read_progress(logs):
      del logs
      progress.extend(float(d.progress.numpy())
                      for layer in model_holder.model.layers
                      for d in getattr(layer, "drop_paths", ()) if d)

    model_holder = keras.callbacks.LambdaCallback(on_train_end=read_progress)
    result = child_trainer.train_and_evaluate(
        CELL, net, mock_data(), train_config.TrainConfig(epochs=2),
        self.output_dir, export_dir=os.path.join(self.output_dir, "export"),
        callbacks=[model_holder])
    self.assertEqual(result.status, results.Status.OK, result.reason)
    self.assertBetween(result.validation_accuracy, 0.0, 1.0)
    self.assertTrue(np.isfinite(result.validation_loss))
    # The second of 2 epochs trains at progress 1 / 2.
    self.assertNotEmpty(progress)
    self.assertAllClose(progress, [1 / 2] * len(progress))
    served = tf.saved_model.load(os.path.join(self.output_dir, "export"))
    probabilities = served.signatures["serving_default"](
        images=tf.zeros((2, 32, 32, 3), tf.uint8))["probabilities"]
    self.assertEqual(probabilities.shape, (2, 10))

  def test_same_child_again_same_result_and_no_keras_state_kept(self):
    data = mock_data(num_examples=16)
    config = train_config.TrainConfig(epochs=2, seed=4)

    def live_layers():
      gc.collect()
      return sum(isinstance(o, keras.layers.Layer) for o in gc.get_objects())

    counts, runs = [], []
    for index in range(3):
      result = child_trainer.train_and_evaluate(
          CELL, NET, data, config, os.path.join(self.output_dir, str(index)))
      self.assertEqual(result.status, results.Status.OK)
      counts.append(live_layers())
      runs.append((result.validation_accuracy, result.validation_loss))
    self.assertEqual(counts[1], counts[2])
    self.assertEqual(runs, [runs[0]] * 3)

  def test_deterministic_runs_give_bit_identical_weights(self):
    if not tf_config.is_op_determinism_enabled():
      self.addCleanup(tf_config.disable_op_determinism)
    # Drop path and the aux head too: their random draws must repeat.
    net = network_config.preset("cifar_final", filters=4,
                                num_cells_per_stack=1)
    data = mock_data(num_examples=16)
    runs = []
    for index, seed in enumerate((3, 3, 4)):
      weights = KeepWeights()
      result = child_trainer.train_and_evaluate(
          CELL, net, data,
          train_config.TrainConfig(epochs=2, seed=seed, deterministic=True),
          os.path.join(self.output_dir, str(index)), callbacks=[weights])
      self.assertEqual(result.status, results.Status.OK, result.reason)
      self.assertTrue(tf_config.is_op_determinism_enabled())
      runs.append(weights.weights)
    self.assertNotEmpty(runs[0])
    self.assertLen(runs[1], len(runs[0]))
    for first, second in zip(runs[0], runs[1]):
      np.testing.assert_array_equal(first, second)
    # The comparison can tell runs apart: another seed, other weights.
    self.assertFalse(all(np.array_equal(first, other)
                         for first, other in zip(runs[0], runs[2])))


if __name__ == "__main__":
  tf.test.main()
