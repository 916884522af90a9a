"""Tests for predictor_flags."""

from absl import flags
from absl.testing import absltest
from absl.testing import flagsaver
from absl.testing import parameterized

from pnas_tf.cli import predictor_flags
from pnas_tf.cli import usage
from pnas_tf.config import predictor_config


predictor_flags.define_flags()
predictor_flags.define_flags()  # a second definition is a no-op


def _config(**values):
  with flagsaver.flagsaver(**values):
    return predictor_flags.config_from_flags(flags.FLAGS, max_blocks=5,
                                             seed=0)


class PredictorFlagsTest(parameterized.TestCase):

  def test_defaults_are_the_configs(self):
    self.assertEqual(_config(), predictor_config.PredictorConfig())

  def test_values_reach_the_config(self):
    with flagsaver.flagsaver(
        predictor="mlp_ensemble", predictor_epochs=7, predictor_batch_size=16,
        predictor_ensemble_size=3, predictor_warm_start=True):
      config = predictor_flags.config_from_flags(flags.FLAGS, max_blocks=3,
                                                 seed=4)
    self.assertEqual(config, predictor_config.PredictorConfig(
        kind="mlp_ensemble", epochs=7, batch_size=16, ensemble_size=3,
        warm_start=True, max_blocks=3, seed=4))

  @parameterized.parameters(
      (dict(predictor="gru"), "^--predictor must be one of lstm, mlp, "),
      (dict(predictor_epochs=0), "^--predictor_epochs must be >= 1, got 0$"),
      (dict(predictor_ensemble_size=1),
       "^--predictor_ensemble_size must be >= 2"),
  )
  def test_bad_values_are_one_line_usage_errors(self, values, message):
    with self.assertRaisesRegex(usage.UsageError, message):
      _config(**values)


if __name__ == "__main__":
  absltest.main()
