"""Tests for final training (final_trainer.py and the train_final binary)."""

import json
import os
from unittest import mock

from absl.testing import flagsaver
from absl.testing import parameterized
import numpy as np
from tensorboard.backend.event_processing import event_accumulator
import tensorflow as tf
import tensorflow_datasets as tfds

from interruptions import CountEpochs, StopAfterEpoch
from pnas_tf import train_final
from pnas_tf.cli import usage
from pnas_tf.config import network_config
from pnas_tf.config import train_config
from pnas_tf.data import datasets
from pnas_tf.nas import search_store
from pnas_tf.serving import export
from pnas_tf.space import search_space
from pnas_tf.storage import files
from pnas_tf.training import final_trainer
from pnas_tf.training import results

train_final.define_flags()

CELL = search_space.Cell.parse("sep3x3:0+max3x3:1,identity:2+avg3x3:0")
# cifar_final's shape (aux head, drop-path) at a size that trains in seconds.
NET = network_config.preset("cifar_final", filters=4, num_cells_per_stack=1)
_TINY = dict(dataset="cifar10", preset="cifar_final", epochs=1, filters=4,
             num_cells_per_stack=1, batch_size=8)


def mock_final_data(batch_size=8):
  config = train_config.DataConfig(dataset="cifar10", batch_size=batch_size)
  with tfds.testing.mock_data(num_examples=24):
    return datasets.load_final_data(config)


class FinalTrainerTest(tf.test.TestCase):

  def test_trains_tests_once_and_exports_the_served_network(self):
    output_dir = self.create_tempdir().full_path
    data = mock_final_data()
    export_path = os.path.join(output_dir, "export", "pnas", "1")
    result = final_trainer.train_final(
        CELL, NET, data, train_config.TrainConfig(epochs=2), output_dir,
        export_path=export_path)
    self.assertEqual(result.status, results.Status.OK, result.reason)
    self.assertEqual((result.epochs_run, result.test_examples), (2, 24))
    self.assertBetween(result.test_accuracy, 0.0, 1.0)
    self.assertBetween(result.test_top_k_accuracy, result.test_accuracy, 1.0)
    self.assertGreater(result.trainable_params_with_aux_head,
                       result.trainable_params)
    self.assertTrue(os.path.exists(
        os.path.join(output_dir, final_trainer.WEIGHTS_FILE)))
    # The backup stays until the caller has recorded the result.
    self.assertTrue(os.path.exists(os.path.join(output_dir, "backup")))
    final_trainer.discard_backup(output_dir)
    self.assertFalse(os.path.exists(os.path.join(output_dir, "backup")))
    # The export answers as the test evaluation did: same accuracy.
    served = tf.saved_model.load(export_path)
    with tfds.testing.mock_data(num_examples=24):
      test = tfds.builder("cifar10").as_dataset(split="test",
                                                as_supervised=True)
      pairs = [(image.numpy(), label.numpy()) for image, label in test]
    images = np.stack([image for image, _ in pairs])
    labels = np.array([label for _, label in pairs])
    classes = served.signatures[export.DEFAULT_SIGNATURE](
        images=tf.constant(images))["classes"].numpy()
    self.assertAllClose(np.mean(classes[:, 0] == labels),
                        result.test_accuracy)
    accumulator = event_accumulator.EventAccumulator(
        os.path.join(output_dir, "tensorboard"))
    accumulator.Reload()
    self.assertIn("test/accuracy", accumulator.Tags()["tensors"])
    (event,) = accumulator.Tensors("test/accuracy")
    self.assertEqual(event.step, 2)
    self.assertAllClose(tf.make_ndarray(event.tensor_proto),
                        result.test_accuracy)

  def test_a_crashed_run_resumes_at_its_last_epoch_and_ends_the_same(self):
    data = mock_final_data()
    config = train_config.TrainConfig(epochs=3, seed=4)
    uninterrupted = final_trainer.train_final(
        CELL, NET, data, config, self.create_tempdir().full_path)
    output_dir = self.create_tempdir().full_path
    with self.assertRaises(KeyboardInterrupt):
      final_trainer.train_final(CELL, NET, data, config, output_dir,
                                callbacks=[StopAfterEpoch(1)])
    counter = CountEpochs()
    resumed = final_trainer.train_final(CELL, NET, data, config, output_dir,
                                        callbacks=[counter])
    self.assertEqual(counter.epochs, [2])
    self.assertEqual(resumed.epochs_run, 3)
    self.assertAllClose(resumed.test_loss, uninterrupted.test_loss,
                        rtol=1e-4)
    self.assertEqual(resumed.test_accuracy, uninterrupted.test_accuracy)


class TrainFinalMainTest(tf.test.TestCase, parameterized.TestCase):

  def setUp(self):
    super().setUp()
    train_final.define_flags()  # Its defaults, whoever set theirs last.
    self.output_dir = os.path.join(self.create_tempdir().full_path, "final")

  def _main(self, **overrides):
    settings = dict(_TINY, output_dir=self.output_dir)
    settings.update(overrides)
    with flagsaver.flagsaver(**settings):
      with tfds.testing.mock_data(num_examples=16):
        return train_final.main(["train_final"])

  def test_pnasnet5_end_to_end_with_result_and_a_servable_export(self):
    self.assertEqual(self._main(cell="PNASNet-5"), 0)
    with open(os.path.join(self.output_dir, "result.json")) as stream:
      record = json.load(stream)
    self.assertEqual(record["result"]["cell"],
                     str(search_space.Cell.parse("PNASNet-5")))
    self.assertEqual(record["export"],
                     os.path.join(self.output_dir, "export", "pnas", "1"))
    self.assertTrue(record["network"]["use_aux_head"])
    model_dir = os.path.join(self.output_dir, "export", "pnas")
    with open(os.path.join(model_dir, "pnas_cell.json")) as stream:
      self.assertEqual(json.load(stream)["cell"], record["result"]["cell"])
    with open(os.path.join(model_dir, "pnas_cell.svg")) as stream:
      self.assertIn("concat", stream.read())
    served = tf.saved_model.load(record["export"])
    self.assertCountEqual(served.signatures,
                          [export.DEFAULT_SIGNATURE, export.BYTES_SIGNATURE])
    # Finished: the same command is refused and nothing is touched.
    with self.assertRaisesRegex(usage.UsageError,
                                "holds a finished final training"):
      self._main(cell="PNASNet-5")
    self.assertEqual(files.serving_versions(
        os.path.join(self.output_dir, "export", "pnas")), [1])

  def test_imagenet_mobile_preset_on_mock_imagenet(self):
    # The preset's skeleton and 224 px input, with N = 1, F = 32 and a
    # two-block cell (PNASNet-5 is tested on the CIFAR skeleton).
    with flagsaver.flagsaver(dataset="imagenet2012", test_split="validation",
                             preset="imagenet_mobile", filters=32,
                             num_cells_per_stack=1, batch_size=4, epochs=1,
                             cell=str(CELL), output_dir=self.output_dir,
                             xla="off"):
      with tfds.testing.mock_data(num_examples=8):
        self.assertEqual(train_final.main(["train_final"]), 0)
    with open(os.path.join(self.output_dir, "result.json")) as stream:
      record = json.load(stream)
    self.assertEqual(record["network"]["skeleton"], "imagenet")
    self.assertEqual(record["network"]["image_size"], 224)
    self.assertEqual(record["data"]["image_size"], 224)
    self.assertEqual(record["network"]["num_classes"], 1000)
    self.assertEqual(record["result"]["test_examples"], 8)
    self.assertIsNotNone(record["result"]["test_top_k_accuracy"])
    served = tf.saved_model.load(record["export"])
    photo = np.random.RandomState(0).randint(0, 256, (300, 200, 3))
    outputs = served.signatures[export.BYTES_SIGNATURE](image_bytes=tf.constant(
        [tf.io.encode_jpeg(photo.astype(np.uint8)).numpy()]))
    self.assertEqual(outputs["probabilities"].shape, (1, 1000))
    self.assertEqual(outputs["classes"].shape, (1, 5))

  def test_a_crash_after_the_export_neither_retrains_nor_exports_again(self):
    real_write = files.write_json_atomically

    def crash_on_result(path, value):
      if path.endswith(train_final.RESULT_FILE):
        raise KeyboardInterrupt("simulated crash")
      real_write(path, value)

    with mock.patch.object(files, "write_json_atomically", crash_on_result):
      with self.assertRaises(KeyboardInterrupt):
        self._main(cell=str(CELL))
    self.assertFalse(os.path.exists(os.path.join(self.output_dir,
                                                 "result.json")))
    counter = CountEpochs()
    real_train = final_trainer.train_final

    def train_counting(*args, callbacks=(), **kwargs):
      return real_train(*args, callbacks=[*callbacks, counter], **kwargs)

    with mock.patch.object(final_trainer, "train_final", train_counting):
      self.assertEqual(self._main(cell=str(CELL)), 0)
    self.assertEqual(counter.epochs, [])  # All epochs were committed.
    self.assertEqual(files.serving_versions(
        os.path.join(self.output_dir, "export", "pnas")), [1])
    self.assertFalse(os.path.exists(os.path.join(self.output_dir, "backup")))

  def test_a_failed_training_keeps_its_backup_and_writes_no_result(self):
    failed = results.FinalResult(cell="x", status=results.Status.FAILED,
                                 reason="out of memory: test")
    with mock.patch.object(final_trainer, "train_final",
                           return_value=failed):
      self.assertEqual(self._main(cell="PNASNet-5"), 1)
    self.assertFalse(os.path.exists(os.path.join(self.output_dir,
                                                 "result.json")))

  def test_best_cell_of_a_search_directory_is_trained(self):
    search_dir = self.create_tempdir().full_path
    store = search_store.SearchStore(search_dir)
    store.check_settings({"max_blocks": 2})
    cells = ["max3x3:0+max3x3:0", "sep3x3:0+max3x3:0,max3x3:2+max3x3:0",
             "max3x3:0+max3x3:1,max3x3:2+max3x3:2"]
    for order, (cell, accuracy) in enumerate(zip(cells, (0.9, 0.5, 0.7))):
      parsed = search_space.Cell.parse(cell).canonical()
      store.add_record(parsed, search_store.ChildRecord(
          cell=str(parsed), num_blocks=parsed.num_blocks, status="ok",
          accuracy=accuracy, params=1, seconds=1.0, order=order))
    # The 1-block cell is best overall; the best 2-block cell is chosen.
    self.assertEqual(train_final.cell_from_flag(search_dir),
                     search_space.Cell.parse(cells[2]).canonical())

  def test_other_settings_on_an_interrupted_run_are_refused(self):
    os.makedirs(self.output_dir)
    saved = {"format_version": train_final.FORMAT_VERSION,
             "settings": {"epochs": 600, "cell": "sep3x3:0+sep3x3:0"}}
    settings_file = os.path.join(self.output_dir, train_final.SETTINGS_FILE)
    with open(settings_file, "w") as stream:
      json.dump(saved, stream)
    with self.assertRaisesRegex(usage.UsageError,
                                "other settings: .*--epochs=600 before, 1 now"):
      self._main(cell="sep3x3:0+sep3x3:0")
    self.assertEqual(sorted(os.listdir(self.output_dir)),
                     [".lock", train_final.SETTINGS_FILE])
    with open(settings_file) as stream:
      self.assertEqual(json.load(stream), saved)

  @parameterized.parameters(
      (dict(cell="sep4x4:0+max3x3:1"), "^--cell: .*sep4x4"),
      (dict(cell=None), "^--cell is required$"),
      (dict(cell="PNASNet-5", drop_path_keep_prob=1.5),
       "^--drop_path_keep_prob must be in"),
      (dict(cell="PNASNet-5", model_name="a/b"), "^--model_name must be"),
      (dict(cell="PNASNet-5", export_dir="/proc/pnas_tf_export"),
       "^--export_dir /proc/pnas_tf_export/pnas cannot be created"),
  )
  def test_bad_flags_fail_before_anything_is_written(self, overrides, message):
    with self.assertRaisesRegex(usage.UsageError, message):
      self._main(**overrides)
    self.assertFalse(os.path.exists(self.output_dir))

  def test_a_search_directory_is_not_an_output_directory(self):
    os.makedirs(self.output_dir)
    with open(os.path.join(self.output_dir, "search.json"), "w") as stream:
      stream.write("{}")
    with self.assertRaisesRegex(
        usage.UsageError, "^--output_dir: .* holds a search \\(search.json\\), "
        "not a final training; choose another --output_dir$"):
      self._main(cell="PNASNet-5")
    self.assertEqual(os.listdir(self.output_dir), ["search.json"])

  def test_a_directory_that_is_not_a_search_is_refused(self):
    with self.assertRaisesRegex(usage.UsageError, "not a search's output"):
      train_final.cell_from_flag(self.create_tempdir().full_path)
    with self.assertRaisesRegex(usage.UsageError,
                                "^--cell: no such search directory /tmp/x1$"):
      train_final.cell_from_flag("/tmp/x1")


if __name__ == "__main__":
  tf.test.main()
