"""Tests for pnas_tf.model.slim_checkpoint: slim's names, restored in place."""

import math
import os

from absl.testing import parameterized
import keras
import numpy as np
import tensorflow as tf

from pnas_tf.config import network_config
from pnas_tf.model import network
from pnas_tf.model import slim_checkpoint
from pnas_tf.space import search_space
import slim_checkpoints

# N = 1: cells 0 (stride 1), 1 and 2 (stride 2); the aux head reads cell_1.
_TINY = dict(filters=8, num_cells_per_stack=1, image_size=72)


def tiny_config(**overrides):
  return network_config.preset("imagenet_mobile", **{**_TINY, **overrides})


def tiny_network(**overrides):
  keras.utils.set_random_seed(0)
  return network.build_network(search_space.PNASNET_5, tiny_config(**overrides))


class SlimNamesTest(tf.test.TestCase):

  def test_mobile_names_and_shapes_are_the_official_codes(self):
    shapes = slim_checkpoint.slim_variable_shapes(
        network_config.preset("imagenet_mobile"))
    # From research/slim/nets/nasnet (pnasnet.py, nasnet.py, nasnet_utils.py)
    # at F = 54: stem cells of 13 and 27 filters, cells of 54, 108, 216.
    expected = {
        "conv0/weights": (3, 3, 3, 32),
        "conv0_bn/moving_mean": (32,),
        # Stem cell 0 reads the stem conv's 32 channels, unprojected.
        "cell_stem_0/comb_iter_0/left/separable_5x5_1/depthwise_weights":
            (5, 5, 32, 1),
        "cell_stem_0/comb_iter_0/left/separable_5x5_1/pointwise_weights":
            (1, 1, 32, 13),
        "cell_stem_0/comb_iter_0/right/1x1/weights": (1, 1, 32, 13),
        # An odd filter count gives the second path the extra filter.
        "cell_stem_1/path1_conv/weights": (1, 1, 32, 13),
        "cell_stem_1/path2_conv/weights": (1, 1, 32, 14),
        "cell_0/1x1/weights": (1, 1, 135, 54),
        "cell_0/path1_conv/weights": (1, 1, 65, 27),
        "cell_0/final_path_bn/gamma": (54,),
        "cell_1/prev_1x1/weights": (1, 1, 135, 54),
        "cell_1/comb_iter_1/left/separable_7x7_2/depthwise_weights":
            (7, 7, 54, 1),
        "cell_3/comb_iter_4/right/1x1/weights": (1, 1, 108, 108),
        "cell_3/comb_iter_4/right/bn_1/beta": (108,),
        "aux_5/aux_logits/proj/weights": (1, 1, 540, 128),
        "aux_5/aux_logits/Conv/weights": (4, 4, 128, 768),
        "aux_5/aux_logits/FC/biases": (1001,),
        "final_layer/FC/weights": (1080, 1001),
        "final_layer/FC/biases": (1001,),
    }
    self.assertEqual({name: shapes.get(name) for name in expected}, expected)
    # An identity in a stride-1 cell, reading H(c-1) of F' channels, has no
    # projection; nor has a pooling that keeps the channel count.
    self.assertNotIn("cell_1/comb_iter_4/right/1x1/weights", shapes)
    self.assertNotIn("cell_1/comb_iter_0/right/1x1/weights", shapes)
    served = [name for name in shapes
              if not name.startswith("aux_") and "moving_" not in name]
    self.assertEqual(sum(math.prod(shapes[name]) for name in served),
                     5_065_568)  # The official count (docs/paper_notes.md).

  def test_every_weight_has_one_name_but_drop_path_progress(self):
    model = tiny_network(drop_path_keep_prob=0.7)
    names = slim_checkpoint.slim_variables(model)
    progress = [w for w in model.weights if w.path.endswith("progress")]
    self.assertNotEmpty(progress)
    self.assertLen({id(w) for w in names.values()}, len(names))
    self.assertEqual({id(w) for w in names.values()},
                     {id(w) for w in model.weights} - {id(w) for w in progress})
    self.assertIn("aux_1/aux_logits/FC/weights", names)

  def test_networks_slim_cannot_name_are_refused(self):
    cifar = network.build_network(
        search_space.PNASNET_5,
        network_config.preset("cifar_search", filters=4, image_size=8))
    with self.assertRaisesRegex(ValueError, "ImageNet networks"):
      slim_checkpoint.slim_variables(cifar)
    dilated = network.build_network("dil3x3:0+max3x3:1", tiny_config())
    with self.assertRaisesRegex(ValueError, "has no dil3x3 operator"):
      slim_checkpoint.slim_variables(dilated)


class RestoreTest(tf.test.TestCase, parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.shapes = slim_checkpoint.slim_variable_shapes(tiny_config())
    cls.values = slim_checkpoints.random_values(cls.shapes, seed=1)

  def setUp(self):
    super().setUp()
    self.prefix = os.path.join(self.create_tempdir().full_path, "model.ckpt")

  def write(self, values):
    return slim_checkpoints.write_checkpoint(self.prefix, values)

  def test_every_value_lands_in_its_place(self):
    model = tiny_network()
    restored = slim_checkpoint.restore(model, self.write(self.values))
    self.assertEqual(restored, slim_checkpoint.Restored(len(self.shapes), 0))
    for name, variable in slim_checkpoint.slim_variables(model).items():
      self.assertAllEqual(variable, self.values[name], msg=name)
    # Spot checks by where the layers are, not by the name table.
    sep = model.get_layer("cell_0").block_operations[0].chain[1]
    name = "cell_0/comb_iter_0/left/separable_5x5_1/depthwise_weights"
    self.assertAllEqual(sep.depthwise_kernel, self.values[name])
    max_pool_projection = model.get_layer("stem_cell_0").block_operations[1]
    self.assertAllEqual(
        max_pool_projection.chain[1].kernel,
        self.values["cell_stem_0/comb_iter_0/right/1x1/weights"])
    self.assertAllEqual(
        model.get_layer("cell_1").prev_projection[2].moving_mean,
        self.values["cell_1/beginning_bn/moving_mean"])
    self.assertAllEqual(model.get_layer("logits").bias,
                        self.values["final_layer/FC/biases"])
    self.assertAllEqual(model.get_layer("stem_conv").kernel,
                        self.values["conv0/weights"])

  def test_moving_averages_are_restored_where_present(self):
    shadowed = ["final_layer/FC/biases", "cell_2/beginning_bn/moving_variance"]
    values = dict(self.values)
    for name in shadowed:
      values[f"{name}/ExponentialMovingAverage"] = values[name] + 1.0
    model = tiny_network()
    restored = slim_checkpoint.restore(model, self.write(values))
    self.assertEqual(restored.moving_averages, 2)
    variables = slim_checkpoint.slim_variables(model)
    for name in shadowed:
      self.assertAllEqual(variables[name], self.values[name] + 1.0)
    self.assertAllEqual(variables["final_layer/FC/weights"],
                        self.values["final_layer/FC/weights"])

  def test_optimizer_slots_and_global_step_are_not_model_variables(self):
    values = dict(self.values)
    values["global_step"] = np.array(7, np.int64)
    values["final_layer/FC/weights/RMSProp"] = values["final_layer/FC/weights"]
    values["conv0/weights/Momentum"] = values["conv0/weights"]
    restored = slim_checkpoint.restore(tiny_network(), self.write(values))
    self.assertEqual(restored.variables, len(self.shapes))

  def test_a_network_without_aux_head_ignores_the_checkpoints(self):
    model = tiny_network(use_aux_head=False)
    restored = slim_checkpoint.restore(model, self.write(self.values))
    self.assertEqual(restored.variables, len(
        [name for name in self.shapes if not name.startswith("aux_")]))

  def test_a_checkpoint_that_does_not_fit_changes_nothing(self):
    values = dict(self.values)
    del values["cell_1/comb_iter_2/left/bn_sep_5x5_2/beta"]
    values["cell_9/1x1/weights"] = np.zeros((1, 1, 4, 4), np.float32)
    values["cell_9/1x1/weights/RMSProp"] = np.zeros((1, 1, 4, 4), np.float32)
    values["final_layer/FC/biases"] = np.zeros((1000,), np.float32)
    values["conv0/weights/ExponentialMovingAverage"] = np.zeros(
        (3, 3, 3, 16), np.float32)
    model = tiny_network()
    before = [np.array(w) for w in model.weights]
    with self.assertRaises(slim_checkpoint.CheckpointMismatchError) as caught:
      slim_checkpoint.restore(model, self.write(values))
    mismatch = caught.exception.mismatch
    self.assertEqual(mismatch.missing,
                     ("cell_1/comb_iter_2/left/bn_sep_5x5_2/beta",))
    self.assertEqual(mismatch.unexpected, ("cell_9/1x1/weights",))
    self.assertCountEqual(mismatch.misshaped, [
        ("final_layer/FC/biases", (1001,), (1000,)),
        ("conv0/weights/ExponentialMovingAverage", (3, 3, 3, 32),
         (3, 3, 3, 16)),
    ])
    self.assertEqual(
        str(caught.exception),
        "1 missing (cell_1/comb_iter_2/left/bn_sep_5x5_2/beta); "
        "1 unexpected (cell_9/1x1/weights); 2 mis-shaped ("
        + ", ".join(f"{name} {list(found)} for {list(needed)}"
                    for name, needed, found in mismatch.misshaped) + ")")
    for weight, value in zip(model.weights, before):
      self.assertAllEqual(weight, value)

  def test_long_lists_are_cut_short(self):
    mismatch = slim_checkpoint.compare(
        {f"cell_{i}/1x1/weights": (1,) for i in range(5)}, {})
    self.assertEqual(str(mismatch), "5 missing (cell_0/1x1/weights, "
                     "cell_1/1x1/weights, cell_2/1x1/weights and 2 more)")

  def test_no_checkpoint_there(self):
    with self.assertRaisesRegex(ValueError, "no readable checkpoint at"):
      slim_checkpoint.read_shapes(self.prefix)


if __name__ == "__main__":
  tf.test.main()
