"""Tests for pnas_tf.model.network and pnas_tf.config.network_config: faithfulness to PNASNet-5."""

import pathlib
import random
import tempfile

from absl.testing import parameterized
import keras
import numpy as np
import tensorflow as tf

from pnas_tf.config import network_config
from pnas_tf.model import cell as cell_lib
from pnas_tf.model import network
from pnas_tf.model import operators
from pnas_tf.space import search_space
from random_cells import random_cell

# One 5-block cell that uses all 8 operators, reading inputs and blocks.
_ALL_OPERATORS = search_space.Cell.parse(
    "sep3x3:0+sep5x5:1,sep7x7:2+conv1x7_7x1:0,identity:1+avg3x3:3,"
    "max3x3:4+dil3x3:0,identity:5+sep3x3:2")
_TINY = dict(filters=4, num_cells_per_stack=1, image_size=12, num_classes=3)


def cell_shapes(model):
  return {layer.name: tuple(layer.output.shape[1:]) for layer in model.layers
          if isinstance(layer, cell_lib.PNASCell)}



class PNASNet5FaithfulnessTest(tf.test.TestCase):

  def test_mobile_matches_the_official_tf_slim_network(self):
    config = network_config.preset("imagenet_mobile", use_aux_head=False)
    model = network.build_network(search_space.PNASNET_5, config)
    # Measured from tensorflow/models research/slim/nets/nasnet/pnasnet.py
    # (1001 classes, no auxiliary head): docs/paper_notes.md.
    self.assertEqual(network.count_trainable_params(model), 5_065_568)
    self.assertEqual(tuple(model.get_layer("stem_bn").output.shape[1:]),
                     (111, 111, 32))
    expected = {"stem_cell_0": (56, 56, 65), "stem_cell_1": (28, 28, 135)}
    for index, shape in enumerate([(28, 28, 270)] * 3 + [(14, 14, 540)] * 3
                                  + [(7, 7, 1080)] * 3):
      expected[f"cell_{index}"] = shape
    self.assertEqual(cell_shapes(model), expected)
    self.assertEqual(tuple(model.get_layer("global_pool").output.shape[1:]),
                     (1080,))
    self.assertEqual(tuple(model.output.shape[1:]), (1001,))

  def test_cifar_final_is_about_the_papers_3_2m(self):
    model = network.build_network(search_space.PNASNET_5,
                                  network_config.PRESETS["cifar_final"])
    # Paper: PNASNet-5 on CIFAR-10 (N = 3, F = 48) has 3.2M parameters; the
    # preset trains with the auxiliary head, which the count leaves out.
    served = network.count_trainable_params(model, include_aux_head=False)
    self.assertBetween(served, 3.15e6, 3.25e6)
    self.assertGreater(network.count_trainable_params(model), served)
    self.assertEqual(
        list(cell_shapes(model).values()),
        [(32, 32, 240)] * 3 + [(16, 16, 480)] * 3 + [(8, 8, 960)] * 3)

  def test_final_presets_train_with_the_aux_head_as_official_configs(self):
    presets = network_config.PRESETS
    self.assertEqual(
        {name: config.use_aux_head for name, config in presets.items()},
        {"cifar_search": False, "cifar_final": True, "imagenet_mobile": True,
         "imagenet_large": True})


class NetworkTest(tf.test.TestCase, parameterized.TestCase):

  def setUp(self):
    super().setUp()
    keras.utils.set_random_seed(5)

  @parameterized.parameters((1, (1, 2)), (2, (2, 4)), (3, (3, 6)), (4, (4, 8)))
  def test_reduction_indices_as_official_code(self, n, expected):
    config = network_config.preset("cifar_search", num_cells_per_stack=n)
    self.assertEqual(config.reduction_indices(), expected)

  def test_cifar_search_skeleton(self):
    model = network.build_network("sep3x3:0+max3x3:1",
                                  network_config.PRESETS["cifar_search"])
    self.assertEqual(tuple(model.get_layer("stem_bn").output.shape[1:]),
                     (32, 32, 72))
    self.assertEqual(list(cell_shapes(model).values()),
                     [(32, 32, 24), (32, 32, 24), (16, 16, 48), (16, 16, 48),
                      (8, 8, 96), (8, 8, 96)])

  def test_imagenet_skeleton_at_another_size_and_class_count(self):
    config = network_config.preset("imagenet_mobile", image_size=64,
                                   num_classes=7, filters=8, use_aux_head=False)
    model = network.build_network(search_space.PNASNET_5, config)
    shapes = cell_shapes(model)
    self.assertEqual(shapes["stem_cell_0"], (16, 16, 10))  # 5 * (8 // 4)
    self.assertEqual(shapes["cell_8"], (2, 2, 160))
    self.assertEqual(tuple(model.output.shape[1:]), (7,))

  def test_aux_head_reads_the_cell_before_the_second_reduction(self):
    config = network_config.preset("cifar_final", use_aux_head=True)
    model = network.build_network(search_space.PNASNET_5, config)
    logits, aux_logits = model.outputs
    self.assertEqual(tuple(logits.shape[1:]), (10,))
    self.assertEqual(tuple(aux_logits.shape[1:]), (10,))
    aux_head = model.get_layer("aux_head")
    self.assertIs(aux_head._inbound_nodes[0].parent_nodes[0].operation,  # pylint: disable=protected-access
                  model.get_layer("cell_5"))
    # ReLU, 5x5/3 avg-pool, 1x1 conv 128, BN, ReLU, conv 768 over the whole
    # 4x4 map (16 -> 4 by the pool), BN, ReLU, flatten, dense.
    self.assertEqual([type(l).__name__ for l in aux_head.chain], [
        "Activation", "AveragePooling2D", "Conv2D", "BatchNormalization",
        "Activation", "Conv2D", "BatchNormalization", "Activation", "Flatten",
        "Dense"])
    self.assertEqual(aux_head.chain[5].kernel_size, (4, 4))
    self.assertEqual(aux_head.chain[5].filters, 768)

  def test_head_is_relu_global_pool_dropout_dense(self):
    config = network_config.preset("imagenet_mobile", use_aux_head=False,
                                   image_size=32, filters=8)
    model = network.build_network("sep3x3:0+max3x3:1", config)
    names = [type(l).__name__ for l in model.layers[-4:]]
    self.assertEqual(names, ["Activation", "GlobalAveragePooling2D",
                             "Dropout", "Dense"])
    self.assertEqual(model.layers[-4].activation.__name__, "relu")
    self.assertAlmostEqual(model.layers[-2].rate, 0.5)

  def test_drop_path_keep_falls_linearly_with_depth(self):
    config = network_config.preset("cifar_search", drop_path_keep_prob=0.6,
                                   **_TINY)
    model = network.build_network(search_space.PNASNET_5, config)
    keeps = [layer.drop_path_keep_prob for layer in model.layers
             if isinstance(layer, cell_lib.PNASCell)]
    self.assertAllClose(keeps, [1 - (i + 1) / 3 * 0.4 for i in range(3)])

  def test_drop_path_depth_counts_imagenet_stem_cells(self):
    config = network_config.preset("imagenet_large", filters=8, image_size=64,
                                   use_aux_head=False)
    model = network.build_network("sep3x3:0+max3x3:1", config)
    keeps = [layer.drop_path_keep_prob for layer in model.layers
             if isinstance(layer, cell_lib.PNASCell)]
    # 2 stem cells + 12 cells, as the official (cell_num + 1) / total_cells.
    self.assertLen(keeps, 14)
    self.assertAllClose(keeps, [1 - (i + 1) / 14 * 0.4 for i in range(14)])

  def test_cells_build_and_train_one_step(self):
    config = network_config.preset("cifar_search", **_TINY)
    images = np.random.RandomState(0).rand(4, 12, 12, 3).astype("float32")
    labels = np.array([0, 1, 2, 0])
    for cell in (_ALL_OPERATORS, random_cell(random.Random(3), 3)):
      model = network.build_network(cell, config)
      model.compile(
          optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
      before = [w.numpy().copy() for w in model.trainable_weights]
      loss = model.train_on_batch(images, labels)
      self.assertTrue(np.isfinite(loss), msg=str(cell))
      changed = [not np.array_equal(b, w.numpy())
                 for b, w in zip(before, model.trainable_weights)]
      self.assertTrue(all(changed), msg=f"{cell}: some weights did not train")

  def test_saved_keras_model_reloads_with_identical_outputs(self):
    config = network_config.preset("cifar_search", use_aux_head=True,
                                   drop_path_keep_prob=0.7,
                                   **{**_TINY, "image_size": 16})
    cell = _ALL_OPERATORS
    model = network.build_network(cell, config)
    self.assertEqual(operators.set_drop_path_progress(model, 0.25), 3 * 8)
    images = np.random.RandomState(1).rand(3, 16, 16, 3).astype("float32")
    with tempfile.TemporaryDirectory() as directory:
      path = pathlib.Path(directory) / "model.keras"
      model.save(path)
      reloaded = keras.saving.load_model(path)  # No custom_objects needed.
    for original, restored in zip(model.predict(images, verbose=0),
                                  reloaded.predict(images, verbose=0)):
      self.assertAllEqual(original, restored)
    self.assertEqual(reloaded.get_layer("cell_0").cell, cell)
    progress = [d.progress.numpy() for d in reloaded.get_layer("cell_2").drop_paths
                if d is not None]
    self.assertEqual(progress, [0.25] * 8)


class BackboneTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters(
      (1, ["Cell_0", "Cell_1", "Cell_2", "global_pool"]),
      # The official end points of the last cells of Mobile's and Large's
      # three stacks (research/slim/nets/nasnet/pnasnet.py).
      (3, ["Cell_2", "Cell_5", "Cell_8", "global_pool"]),
      (4, ["Cell_3", "Cell_7", "Cell_11", "global_pool"]))
  def test_endpoints_are_each_stacks_last_cell(self, n, expected):
    config = network_config.preset("imagenet_large", num_cells_per_stack=n)
    self.assertEqual(network.endpoint_names(config), expected)

  def test_backbone_outputs_the_cells_feature_maps_without_a_top(self):
    keras.utils.set_random_seed(3)
    config = network_config.preset("imagenet_mobile", filters=8, image_size=72,
                                   use_aux_head=True)
    full = network.build_network(search_space.PNASNET_5, config)
    backbone = network.build_network(search_space.PNASNET_5, config,
                                     include_top=False)
    self.assertEqual(list(backbone.output), network.endpoint_names(config))
    shapes = {name: tuple(tensor.shape[1:])
              for name, tensor in backbone.output.items()}
    self.assertEqual(shapes, {"Cell_2": (9, 9, 40), "Cell_5": (5, 5, 80),
                              "Cell_8": (3, 3, 160), "global_pool": (160,)})
    names = {layer.name for layer in backbone.layers}
    self.assertNoCommonElements(names, {network.AUX_HEAD_NAME,
                                        network.LOGITS_NAME})
    self.assertEmpty(network.transfer_weights(full, backbone))
    images = np.random.RandomState(0).uniform(-1, 1, (2, 72, 72, 3))
    features = backbone(images.astype("float32"), training=False)
    probe = keras.Model(full.input, [full.get_layer("cell_5").output,
                                     full.get_layer("global_pool").output])
    cell_5, pooled = probe(images.astype("float32"), training=False)
    self.assertAllClose(features["Cell_5"], cell_5, atol=1e-6)
    self.assertAllClose(features["global_pool"], pooled, atol=1e-6)


class TransferWeightsTest(tf.test.TestCase):

  def test_another_class_count_takes_all_but_the_classifiers(self):
    keras.utils.set_random_seed(4)
    source = network.build_network(
        search_space.PNASNET_5, network_config.preset(
            "cifar_final", filters=4, num_cells_per_stack=1, image_size=16,
            num_classes=5))
    target = network.build_network(
        search_space.PNASNET_5, network_config.preset(
            "cifar_final", filters=4, num_cells_per_stack=1, image_size=16,
            num_classes=3, drop_path_keep_prob=0.5))
    self.assertCountEqual(network.transfer_weights(source, target),
                          [network.AUX_HEAD_NAME, network.LOGITS_NAME])
    def weights(model, name):  # Drop-path progress is training state.
      return [w for w in model.get_layer(name).weights
              if not w.path.endswith("progress")]
    for name in ("stem_conv", "stem_bn", "cell_0", "cell_2"):
      for weight, value in zip(weights(target, name), weights(source, name),
                               strict=True):
        self.assertAllEqual(weight, value, msg=name)
    # The auxiliary head keeps everything but its last dense layer.
    target_aux = target.get_layer(network.AUX_HEAD_NAME).chain
    source_aux = source.get_layer(network.AUX_HEAD_NAME).chain
    self.assertAllEqual(target_aux[5].kernel, source_aux[5].kernel)
    self.assertNotEqual(tuple(target_aux[-1].kernel.shape),
                        tuple(source_aux[-1].kernel.shape))


class NetworkConfigTest(parameterized.TestCase):

  @parameterized.named_parameters(
      ("skeleton", {"skeleton": "mnist"}, "skeleton must be one of"),
      ("filters", {"filters": 0}, "filters must be >= 1"),
      ("cells", {"num_cells_per_stack": 0}, "num_cells_per_stack must be >= 1"),
      ("classes", {"num_classes": -2}, "num_classes must be >= 1"),
      ("dropout", {"dense_dropout_keep_prob": 1.5}, "dense_dropout_keep_prob"),
      ("drop_path", {"drop_path_keep_prob": 0.0}, "drop_path_keep_prob"),
      ("stem", {"stem_multiplier": 0.0}, "stem_multiplier"),
      ("decay", {"weight_decay": -1.0}, "weight_decay"),
      ("momentum", {"bn_momentum": 1.0}, "bn_momentum must be in"),
      ("epsilon", {"bn_epsilon": 0.0}, "bn_epsilon must be > 0"),
      ("aux_head_input", {"use_aux_head": True, "image_size": 8},
       "too small for the auxiliary head: it reads a 4x4"),
      ("unknown_field", {"filtres": 3}, "unknown network setting.*filtres"),
  )
  def test_bad_values_name_the_setting(self, overrides, message):
    with self.assertRaisesRegex(ValueError, message):
      network_config.preset("cifar_search", **overrides)

  def test_imagenet_needs_room_for_its_valid_stem(self):
    with self.assertRaisesRegex(ValueError, "image_size must be >= 3"):
      network_config.preset("imagenet_mobile", image_size=2, use_aux_head=False)

  def test_unknown_preset(self):
    with self.assertRaisesRegex(ValueError, "unknown preset 'cifar'.*cifar_search"):
      network_config.preset("cifar")

  def test_presets(self):
    presets = network_config.PRESETS
    self.assertEqual((presets["cifar_search"].num_cells_per_stack,
                      presets["cifar_search"].filters), (2, 24))
    self.assertEqual((presets["cifar_final"].num_cells_per_stack,
                      presets["cifar_final"].filters), (3, 48))
    self.assertEqual((presets["imagenet_mobile"].num_cells_per_stack,
                      presets["imagenet_mobile"].filters,
                      presets["imagenet_mobile"].image_size), (3, 54, 224))
    self.assertEqual((presets["imagenet_large"].num_cells_per_stack,
                      presets["imagenet_large"].filters,
                      presets["imagenet_large"].image_size), (4, 216, 331))


class KerasOnlyTest(parameterized.TestCase):

  @parameterized.parameters("operators", "cell", "heads", "network")
  def test_model_code_uses_no_tensorflow(self, module):
    source = (pathlib.Path(network.__file__).parent / f"{module}.py").read_text()
    self.assertNotIn("import tensorflow", source)
    self.assertNotRegex(source, r"\btf\.")


if __name__ == "__main__":
  tf.test.main()
