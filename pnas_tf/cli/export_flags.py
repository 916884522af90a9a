"""--export_formats, shared by the binaries that export (search, train_final,
convert_checkpoint) and checked before anything trains.

Example (in a binary's define_flags and main):
  export_flags.define_flags(flags.FLAGS)
  formats = export_flags.formats_from_flags(flags.FLAGS)
"""

from absl import flags

from pnas_tf.cli import usage
from pnas_tf.config import errors
from pnas_tf.config import export_config


def define_flags(values: flags.FlagValues) -> None:
  """Defines --export_formats in `values` (once; binaries share it)."""
  if "export_formats" in values:
    return
  flags.DEFINE_list(
      "export_formats", [export_config.SAVED_MODEL],
      "What each export holds: saved_model (TensorFlow Serving's, always "
      "written), and tflite (model.tflite, model_uint8.tflite) and onnx "
      "(model.onnx) beside it, for devices and other runtimes (pip install "
      f"-r {export_config.REQUIREMENTS_FILE}).", flag_values=values)


def formats_from_flags(values: flags.FlagValues) -> tuple[str, ...]:
  """The checked formats.

  Raises:
    usage.UsageError: an unknown format or a missing converter.
  """
  try:
    return export_config.check_formats(values.export_formats)
  except errors.ConfigError as error:
    raise usage.UsageError(f"--export_formats: {error}") from None
