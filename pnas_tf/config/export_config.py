"""Which files an export writes: the formats of --export_formats (no TensorFlow).

saved_model is TensorFlow Serving's SavedModel, always written (predict and
Serving read it, and the others are made from its network); tflite and onnx
add the network for devices and other runtimes to the same version
directory (serving/device_export.py). Their converters are optional
packages: requirements-export.txt.

Example:
  formats = check_formats(["saved_model", "tflite"])
"""

import importlib.util
from typing import Sequence

from pnas_tf.config import errors

SAVED_MODEL = "saved_model"
TFLITE = "tflite"
ONNX = "onnx"
FORMATS = (SAVED_MODEL, TFLITE, ONNX)
REQUIREMENTS_FILE = "requirements-export.txt"
# The modules writing each format needs beyond TensorFlow (pip names alike).
_NEEDS = {TFLITE: (), ONNX: ("tf2onnx", "onnx")}


def check_formats(formats: Sequence[str]) -> tuple[str, ...]:
  """`formats` with saved_model first, each once.

  Raises:
    errors.ConfigError: an unknown format, or one whose converter is not
      installed (naming the requirements file).
  """
  unknown = [name for name in formats if name not in FORMATS]
  if unknown:
    raise errors.ConfigError(
        f"unknown export format(s) {', '.join(unknown)}; the formats are "
        f"{', '.join(FORMATS)}")
  chosen = tuple(name for name in FORMATS
                 if name == SAVED_MODEL or name in formats)
  missing = [module for name in chosen for module in _NEEDS.get(name, ())
             if importlib.util.find_spec(module) is None]
  if missing:
    raise errors.ConfigError(
        f"{', '.join(name for name in chosen if _NEEDS.get(name))} needs "
        f"{', '.join(missing)}: pip install -r {REQUIREMENTS_FILE}")
  return chosen
