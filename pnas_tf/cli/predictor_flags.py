"""The predictor's flags, defined once for every binary that fits one.

--predictor picks the kind (lstm, mlp, lstm_ensemble, mlp_ensemble);
--predictor_epochs, --predictor_batch_size, --predictor_ensemble_size and
--predictor_warm_start tune its fitting. The architecture and learning rates
are the paper's and have no flags. Values are checked before TensorFlow
loads; a bad one is a usage.UsageError naming the flag.

Example (in a binary, which passes absl's parsed flag values in):
  predictor_flags.define_flags()
  ...
  config = predictor_flags.config_from_flags(parsed_flag_values,
                                             max_blocks=5, seed=0)
"""

from absl import flags

from pnas_tf.cli import usage
from pnas_tf.config import predictor_config

_DEFAULTS = predictor_config.PredictorConfig()


def define_flags() -> None:
  """Defines the predictor flags; defining them again is a no-op."""
  try:
    flags.DEFINE_string(
        "predictor", _DEFAULTS.kind,
        f"Surrogate predictor: {', '.join(predictor_config.KINDS)}.")
  except flags.DuplicateFlagError:
    return
  flags.DEFINE_integer("predictor_epochs", _DEFAULTS.epochs,
                       "Passes over the trained cells per predictor fit.")
  flags.DEFINE_integer("predictor_batch_size", _DEFAULTS.batch_size,
                       "Trained cells per predictor gradient step.")
  flags.DEFINE_integer("predictor_ensemble_size", _DEFAULTS.ensemble_size,
                       "Members of an *_ensemble predictor, each fitted on a "
                       "different (k-1)/k of the cells.")
  flags.DEFINE_boolean("predictor_warm_start", _DEFAULTS.warm_start,
                       "Fine-tune the last round's predictor instead of "
                       "refitting it from scratch (the paper refits).")


@usage.flag_errors()
def config_from_flags(values: flags.FlagValues, max_blocks: int,
                      seed: int) -> predictor_config.PredictorConfig:
  """The checked PredictorConfig the flags describe.

  Raises:
    usage.UsageError: naming the first bad flag.
  """
  return predictor_config.PredictorConfig(
      kind=values.predictor, max_blocks=max_blocks,
      epochs=values.predictor_epochs,
      batch_size=values.predictor_batch_size,
      ensemble_size=values.predictor_ensemble_size,
      warm_start=values.predictor_warm_start, seed=seed)
