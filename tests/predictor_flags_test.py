"""Tests for predictor_flags."""

from absl import flags
from absl.testing import absltest
from absl.testing import parameterized

from pnas_tf import cli
from pnas_tf import predictor_config
from pnas_tf import predictor_flags


def _parsed(*argv):
  values = flags.FlagValues()
  predictor_flags.define_flags(values)
  values(["prog", *argv])
  return values


class PredictorFlagsTest(parameterized.TestCase):

  def test_defaults_are_the_configs(self):
    config = predictor_flags.config_from_flags(_parsed(), max_blocks=5, seed=0)
    self.assertEqual(config, predictor_config.PredictorConfig())

  def test_values_reach_the_config(self):
    config = predictor_flags.config_from_flags(
        _parsed("--predictor=mlp_ensemble", "--predictor_epochs=7",
                "--predictor_batch_size=16", "--predictor_ensemble_size=3",
                "--predictor_warm_start"), max_blocks=3, seed=4)
    self.assertEqual(config, predictor_config.PredictorConfig(
        kind="mlp_ensemble", epochs=7, batch_size=16, ensemble_size=3,
        warm_start=True, max_blocks=3, seed=4))

  @parameterized.parameters(
      ("--predictor=gru", "^--predictor must be one of lstm, mlp, "),
      ("--predictor_epochs=0", "^--predictor_epochs must be >= 1, got 0$"),
      ("--predictor_ensemble_size=1",
       "^--predictor_ensemble_size must be >= 2"),
  )
  def test_bad_values_are_one_line_usage_errors(self, flag, message):
    with self.assertRaisesRegex(cli.UsageError, message):
      predictor_flags.config_from_flags(_parsed(flag), max_blocks=5, seed=0)


if __name__ == "__main__":
  absltest.main()
