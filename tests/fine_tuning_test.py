"""Fine-tuning: a network starts from another's weights (train_final's
--init_weights), e.g. PNASNet-5 converted from a slim checkpoint."""

import contextlib
import io
import json
import os

from absl.testing import flagsaver
import keras
import pytest
import tensorflow as tf

import image_folders
import slim_checkpoints
from pnas_tf import convert_checkpoint
from pnas_tf import train_final
from pnas_tf.cli import usage
from pnas_tf.config import network_config
from pnas_tf.model import network
from pnas_tf.model import slim_checkpoint
from pnas_tf.space import search_space
from pnas_tf.training import fine_tuning

train_final.define_flags()

_CELL = "sep3x3:0+max3x3:1,identity:2+avg3x3:0"


def _tiny(cell=_CELL, num_classes=10, **overrides):
  config = network_config.preset("cifar_search", filters=4,
                                 num_cells_per_stack=1,
                                 num_classes=num_classes, **overrides)
  return network.build_network(cell, config)


def _kernels(model):
  """Every convolution kernel but the classifier's, by (layer, position):
  sublayers' own names differ between two builds."""
  return {(layer.name, index): keras.ops.convert_to_numpy(weight)
          for layer in model.layers if layer.name != network.LOGITS_NAME
          for index, weight in enumerate(layer.weights)
          if weight.name in ("kernel", "depthwise_kernel",
                             "pointwise_kernel")}


class InitializeTest(tf.test.TestCase):

  def test_another_class_count_gets_a_new_classifier_only(self):
    keras.utils.set_random_seed(1)
    source = _tiny(num_classes=10)
    target = _tiny(num_classes=3)
    afresh = fine_tuning.initialize(target, source)
    self.assertEqual(afresh, [network.LOGITS_NAME])
    expected = _kernels(source)
    got = _kernels(target)
    self.assertNotEmpty(got)
    self.assertEqual(set(got), set(expected))
    for path, value in got.items():
      self.assertAllEqual(value, expected[path], msg=path)

  def test_another_cell_is_refused_naming_its_layers(self):
    source = _tiny()
    target = _tiny(cell="sep5x5:0+sep7x7:1,max3x3:2+sep3x3:0")
    with self.assertRaisesRegex(fine_tuning.FineTuningError,
                                r"do not fit \d+ layer\(s\).*cell_0"):
      fine_tuning.initialize(target, source)

  def test_unreadable_sources_are_named(self):
    directory = self.create_tempdir().full_path
    missing = os.path.join(directory, "model.keras")
    with self.assertRaisesRegex(fine_tuning.FineTuningError,
                                f"no such file {missing}"):
      fine_tuning.load_source(missing)
    weights = os.path.join(directory, "final.weights.h5")
    with open(weights, "wb") as stream:
      stream.write(b"weights")
    with self.assertRaisesRegex(fine_tuning.FineTuningError,
                                "not a Keras model file"):
      fine_tuning.load_source(weights)
    with open(missing, "wb") as stream:
      stream.write(b"not a zip")
    with self.assertRaisesRegex(fine_tuning.FineTuningError,
                                f"cannot read {missing}"):
      fine_tuning.load_source(missing)


@pytest.mark.slow
class FineTuneConvertedCheckpointTest(tf.test.TestCase):
  """A random slim-named checkpoint, converted, fine-tuned on 3 classes."""

  def setUp(self):
    super().setUp()
    self.root = self.create_tempdir().full_path
    config = network_config.preset(
        "imagenet_mobile", filters=8, num_cells_per_stack=1, image_size=72,
        use_aux_head=False)
    shapes = {name: tuple(variable.shape) for name, variable in
              slim_checkpoint.slim_variables(network.build_network(
                  search_space.PNASNET_5, config)).items()}
    checkpoint = slim_checkpoints.write_checkpoint(
        os.path.join(self.root, "slim", "model.ckpt"),
        slim_checkpoints.random_values(shapes, seed=4))
    converted = os.path.join(self.root, "converted")
    convert_checkpoint.convert(checkpoint, "imagenet_mobile", config,
                               converted, "pnasnet5", aux_head=False)
    self.source = os.path.join(converted, convert_checkpoint.MODEL_FILE)
    self.folder = image_folders.write_folder(os.path.join(self.root, "images"),
                                             {"train": 4, "test": 2})

  def _train_final(self, **overrides):
    train_final.define_flags()
    settings = dict(
        cell="PNASNet-5", preset="imagenet_mobile", filters=8,
        num_cells_per_stack=1, image_size=72, dataset=self.folder,
        data_dir=os.path.join(self.root, "tfds"), epochs=1, batch_size=4,
        # So small a step that the copied weights stay where they started.
        learning_rate=1e-9, output_dir=os.path.join(self.root, "final"),
        verbose=0, init_weights=self.source)
    settings.update(overrides)
    with flagsaver.flagsaver(**settings):
      with contextlib.redirect_stdout(io.StringIO()):
        return train_final.main(["train_final"])

  def test_training_starts_from_the_converted_weights(self):
    self.assertEqual(self._train_final(), 0)
    with open(os.path.join(self.root, "final", "result.json")) as stream:
      record = json.load(stream)
    self.assertEqual(record["init_weights"], self.source)
    self.assertEqual(record["dataset"]["num_classes"], 3)

    net = network_config.NetworkConfig(**record["network"])
    trained = network.build_network(search_space.PNASNET_5, net)
    trained.load_weights(os.path.join(self.root, "final",
                                      "final.weights.h5"))
    self.assertEqual(trained.get_layer(network.LOGITS_NAME).units, 3)
    source = _kernels(keras.saving.load_model(self.source, compile=False))
    got = _kernels(trained)
    self.assertNotEmpty(got)
    for path, value in got.items():
      if path in source:
        self.assertAllClose(value, source[path], atol=1e-5, msg=path)
    # Nothing but the classifier and the auxiliary head started afresh.
    self.assertEqual(
        {layer for layer, _ in set(got) - set(source)},
        {network.AUX_HEAD_NAME} & {layer.name for layer in trained.layers})

  def test_a_network_it_does_not_fit_is_refused_before_training(self):
    with self.assertRaisesRegex(usage.UsageError,
                                "--init_weights: its weights do not fit"):
      self._train_final(filters=16)
    self.assertFalse(os.path.exists(os.path.join(self.root, "final")))
    with self.assertRaisesRegex(usage.UsageError,
                                "--init_weights: no such file"):
      self._train_final(init_weights=os.path.join(self.root, "none.keras"))
    self.assertFalse(os.path.exists(os.path.join(self.root, "final")))


if __name__ == "__main__":
  tf.test.main()
