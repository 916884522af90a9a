"""Tests for pnas_tf.cli.child_flags: defined once, each binary's defaults."""

from absl import flags
from absl.testing import absltest
from absl.testing import flagsaver

from pnas_tf import search
from pnas_tf import train_final


class DefineFlagsTest(absltest.TestCase):

  def test_each_binary_sets_its_own_defaults_whoever_defined_them(self):
    with flagsaver.flagsaver():
      search.define_flags()
      train_final.define_flags()  # Defines nothing new; sets its defaults.
      self.assertEqual((flags.FLAGS["preset"].default,
                        flags.FLAGS["verbose"].default), ("cifar_final", 0))
      search.define_flags()
      self.assertEqual((flags.FLAGS["preset"].default,
                        flags.FLAGS["verbose"].default), ("cifar_search", 0))


if __name__ == "__main__":
  absltest.main()
