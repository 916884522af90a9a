r"""Classifies image files with an exported model: the quickest look at a cell.

--model is a SavedModel written by train_final, train_child or search (a
version directory, or the model directory above the versions: then its
highest version, as TensorFlow Serving picks). Images are JPEG, PNG, GIF or
BMP files of any size; they go through the model's serving_bytes signature,
exactly as a TensorFlow Serving client would send them. Prints the top
classes of each image with their names (for an image folder's model, its
class folders' names) and probabilities, or with --format=json the whole
response TensorFlow Serving's REST API would give (--top_k applies to the
text only).

Example:
  python -m pnas_tf.predict --model=/tmp/pnas_fashion_mnist_final/export/pnas \
      shoe.png shirt.jpg
  python -m pnas_tf.predict --model=/tmp/pnas_quickstart/export/pnas_1 \
      --format=json --top_k=3 shoe.png
  bazel run //pnas_tf:predict -- --model=/tmp/... $PWD/shoe.png
"""

import json
import os
import re
import sys

# Hides TensorFlow's C++ INFO logs (see train_child.py).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

# pylint: disable=g-import-not-at-top
from absl import app
from absl import flags

from pnas_tf.cli import usage
from pnas_tf.storage import files
# pylint: enable=g-import-not-at-top

FORMATS = ("text", "json")


def define_flags() -> None:
  """--model, --top_k and --format."""
  if "model" in flags.FLAGS:
    return
  flags.DEFINE_string("model", None,
                      "An exported SavedModel, or the model directory "
                      "holding its numbered versions.")
  flags.DEFINE_integer("top_k", 3, "Classes shown per image (at most as "
                       "many as the model was exported with).")
  flags.DEFINE_string("format", "text",
                      "text, or json: TensorFlow Serving's REST response.")


def saved_model_directory(path: str) -> str:
  """`path` if it is a SavedModel, else its highest numbered version.

  Raises:
    usage.UsageError: neither.
  """
  if files.exists(os.path.join(path, "saved_model.pb")):
    return path
  for version in sorted(files.serving_versions(path), reverse=True):
    candidate = os.path.join(path, str(version))
    if files.exists(os.path.join(candidate, "saved_model.pb")):
      return candidate
  raise usage.UsageError(f"--model: {path} is not a SavedModel nor a directory "
                         "of numbered SavedModel versions")


def _read_images(paths: list[str]) -> list[bytes]:
  """The files' bytes; UsageError naming a missing or undecodable one."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  encoded = []
  for path in paths:
    try:
      with open(path, "rb") as stream:
        data = stream.read()
      tf.io.decode_image(data, expand_animations=False)
    except OSError as error:
      raise usage.UsageError(f"{path}: {error.strerror}") from None
    except tf.errors.InvalidArgumentError as error:
      raise usage.UsageError(f"{path}: {_undecodable(error.message)}"
                             ) from None
    encoded.append(data)
  return encoded


def _undecodable(message: str) -> str:
  """Why TensorFlow's decoder refused an image, in the user's terms."""
  size = re.search(r"too large for int: (\d+) by (\d+)", message)
  if size:
    # The decoders index the decoded pixels with a 32-bit int.
    return (f"{size.group(1)}x{size.group(2)} pixels is too large: "
            "TensorFlow decodes images of under 2**31 bytes (width x height "
            "x channels, e.g. 26,000 x 26,000 RGB)")
  return "not a JPEG, PNG, GIF or BMP image"


def format_text(paths: list[str], predictions: list[dict],
                top_k: int) -> str:
  """Each file, then its top classes: rank, name, probability."""
  lines = []
  for path, prediction in zip(paths, predictions):
    lines.append(path)
    ranked = list(zip(prediction["class_names"], prediction["scores"]))
    width = max(len(name) for name, _ in ranked[:top_k])
    for rank, (name, score) in enumerate(ranked[:top_k], start=1):
      lines.append(f"  {rank}. {name:<{width}}  {score:.4f}")
  return "\n".join(lines) + "\n"


@usage.flag_errors()
def main(argv):
  """Prints the predictions; returns the exit status."""
  values = flags.FLAGS
  paths = argv[1:]
  if not values.model:
    raise usage.UsageError("--model is required")
  if not paths:
    raise usage.UsageError("no image files given")
  if values.format not in FORMATS:
    raise usage.UsageError(f"--format must be one of {', '.join(FORMATS)}, "
                           f"got {values.format!r}")
  if values.top_k < 1:
    raise usage.UsageError(f"--top_k must be >= 1, got {values.top_k}")
  model_dir = saved_model_directory(values.model)

  # TensorFlow loads only once the arguments are known to be good.
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from pnas_tf.serving import export  # pylint: disable=g-import-not-at-top
  from pnas_tf.serving import serving_rest  # pylint: disable=g-import-not-at-top
  encoded = _read_images(paths)
  served = tf.saved_model.load(model_dir)
  if export.BYTES_SIGNATURE not in served.signatures:
    raise usage.UsageError(f"--model: {model_dir} has no "
                           f"{export.BYTES_SIGNATURE} signature (exported by "
                           "an older pnas_tf?)")
  response = serving_rest.predict(served, serving_rest.bytes_request(encoded))
  if values.format == "json":
    json.dump(response, sys.stdout)
    sys.stdout.write("\n")
  else:
    sys.stdout.write(format_text(paths, response["predictions"],
                                 values.top_k))
  return 0


def run():
  """The entry point of `python -m pnas_tf.predict` and its console script."""
  usage.enter_build_working_directory()
  define_flags()
  app.run(usage.checked(main), flags_parser=usage.parse_flags)


if __name__ == "__main__":
  run()
