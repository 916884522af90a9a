"""The flagfiles in flags/ parse, pass every check, and match the paper.

The paper's settings are those of docs/paper_notes.md.
"""

import os

from absl import flags
from absl.testing import absltest
from absl.testing import flagsaver
from absl.testing import parameterized

from pnas_tf import search
from pnas_tf import train_final
from pnas_tf.cli import child_flags
from pnas_tf.config import network_config

search.define_flags()
train_final.define_flags()

FLAGS_DIR = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "flags")


def parsed(name):
  """The flag values after reading flags/<name>, as its binary would."""
  # The binary's own defaults (--preset, --verbose) under the flagfile.
  binary = train_final if name.endswith("_final.cfg") else search
  binary.define_flags()
  flags.FLAGS(["binary", f"--flagfile={os.path.join(FLAGS_DIR, name)}"])
  return flags.FLAGS


class FlagfilesTest(parameterized.TestCase):

  def test_every_flagfile_is_tested_here(self):
    tested = {"quickstart.cfg", "proxy.cfg", "cifar10_search.cfg",
              "cifar10_final.cfg", "fashion_mnist_final.cfg",
              "imagenet_mobile_final.cfg", "imagenet_large_final.cfg"}
    self.assertEqual(set(os.listdir(FLAGS_DIR)), tested)

  @parameterized.parameters("quickstart.cfg", "proxy.cfg", "cifar10_search.cfg",
                            "cifar10_final.cfg", "fashion_mnist_final.cfg",
                            "imagenet_mobile_final.cfg",
                            "imagenet_large_final.cfg")
  def test_settings_pass_the_binaries_checks(self, name):
    with flagsaver.flagsaver():
      values = parsed(name)
      settings = child_flags.settings_from_flags(values)
      network_config.preset(settings.preset, **settings.network_overrides)
      self.assertTrue(settings.output_dir.startswith("/tmp/"))

  def test_cifar10_search_is_the_papers(self):
    with flagsaver.flagsaver():
      values = parsed("cifar10_search.cfg")
      self.assertEqual(
          (values.dataset, values.max_blocks, values.beam_size, values.epochs,
           values.num_cells_per_stack, values.filters, values.learning_rate,
           values.batch_size, values.validation_size),
          ("cifar10", 5, 256, 20, 2, 24, 0.01, 32, 5000))
      self.assertEqual((values.predictor, values.predictor_ensemble_size),
                       ("lstm_ensemble", 5))

  def test_proxy_uses_the_predictor_that_ranked_its_children_best(self):
    # docs/benchmarks.md: on proxy.cfg's real children the MLPs rank unseen
    # three-block cells far better than the LSTMs.
    with flagsaver.flagsaver():
      self.assertEqual(parsed("proxy.cfg").predictor, "mlp_ensemble")

  def test_cifar10_final_is_the_papers_protocol(self):
    with flagsaver.flagsaver():
      values = parsed("cifar10_final.cfg")
      settings = child_flags.settings_from_flags(values)
      net = network_config.preset(settings.preset,
                                  **settings.network_overrides)
      train = settings.train
      self.assertEqual((values.dataset, values.num_train_examples,
                        values.test_split), ("cifar10", 0, "test"))
      self.assertEqual((net.num_cells_per_stack, net.filters,
                        net.drop_path_keep_prob, net.use_aux_head,
                        net.weight_decay), (3, 48, 0.6, True, 5e-4))
      self.assertEqual((train.epochs, settings.data.batch_size,
                        train.learning_rate, train.momentum,
                        train.gradient_clip_norm, train.aux_head_weight),
                       (600, 32, 0.025, 0.9, 5.0, 0.4))

  @parameterized.parameters(("imagenet_mobile_final.cfg", 3, 54, 224),
                            ("imagenet_large_final.cfg", 4, 216, 331))
  def test_imagenet_flagfiles_use_their_presets(self, name, n, f, size):
    with flagsaver.flagsaver():
      values = parsed(name)
      settings = child_flags.settings_from_flags(values)
      net = network_config.preset(settings.preset,
                                  **settings.network_overrides)
      self.assertEqual((values.dataset, values.test_split),
                       ("imagenet2012", "validation"))
      self.assertEqual((net.skeleton, net.num_cells_per_stack, net.filters,
                        net.image_size), ("imagenet", n, f, size))


if __name__ == "__main__":
  absltest.main()
