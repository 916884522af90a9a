"""The served network for phones and other runtimes: TensorFlow Lite and ONNX.

An export's version directory (export.py) holds, with --export_formats:
  tflite  model.tflite        float32 pixels in, for GPU and other delegates;
          model_uint8.tflite  uint8 pixels in, as a camera gives them;
          made by TensorFlow's TFLite (LiteRT) converter, builtin ops only;
  onnx    model.onnx          uint8 pixels in, made by tf2onnx (opset
          ONNX_OPSET), for ONNX Runtime;
  and labels.txt, the class names, one per line in class order.
Each takes images (batch, S, S, C) of the network's input size, pixels in
[0, 255] (no resizing: give S x S images), and returns probabilities
(batch, num_classes), as serving_default does for S x S images; the
preprocessing (standardization or Inception scaling, and the central crop of
ImageNet-style networks) is inside. A TFLite file's input is (1, S, S, C),
with a dynamic batch: Interpreter.resize_tensor_input takes another.

TFLite conversion needs only TensorFlow; ONNX needs tf2onnx and onnx, and
running the files needs ai-edge-litert and onnxruntime: all optional,
`pip install -r requirements-export.txt`.

Example:
  export.export_classifier(model, (32, 32, 3), "/tmp/export/pnas/1",
                           formats=["tflite", "onnx"])
  runner = ai_edge_litert.interpreter.Interpreter(
      "/tmp/export/pnas/1/model_uint8.tflite").get_signature_runner()
  runner(images=uint8_images)["probabilities"]
"""

import contextlib
import io
import os
from typing import Callable, Sequence

import numpy as np

from pnas_tf.config import export_config
from pnas_tf.storage import files

TFLITE_FILE = "model.tflite"
TFLITE_UINT8_FILE = "model_uint8.tflite"
ONNX_FILE = "model.onnx"
LABELS_FILE = "labels.txt"
# Supported by tf2onnx 1.17 and every onnxruntime since 1.14.
ONNX_OPSET = 17


def write_formats(device_model: Callable, class_names: Sequence[str],
                  directory: str, formats: Sequence[str]) -> list[str]:
  """Writes the device formats among `formats` into `directory`.

  Args:
    device_model: dtype name -> the Keras model images -> probabilities
      (export.py's).
    class_names: in class order, for labels.txt.
    directory: the version directory being written.
    formats: export_config's; saved_model is export.py's own.

  Returns:
    The files written.

  Raises:
    errors.ConfigError: as export_config.check_formats.
  """
  formats = export_config.check_formats(formats)
  if formats == (export_config.SAVED_MODEL,):
    return []
  # TensorFlow loads here, when a device format is asked for.
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  written = {}
  if export_config.TFLITE in formats:
    for name, dtype in ((TFLITE_FILE, "float32"), (TFLITE_UINT8_FILE, "uint8")):
      # From the Keras model, which the converter freezes: converting a
      # tf.function of it keeps Keras 3's variables as uninitialized
      # resources, which read as garbage.
      converter = tf.lite.TFLiteConverter.from_keras_model(device_model(dtype))
      # Keras prints the temporary SavedModel's signature on stdout, where
      # the binaries write their JSON.
      with contextlib.redirect_stdout(io.StringIO()):
        written[name] = converter.convert()
  if export_config.ONNX in formats:
    import tf2onnx  # pylint: disable=g-import-not-at-top
    model = device_model("uint8")
    signature = [tf.TensorSpec(model.inputs[0].shape, tf.uint8,
                               name=model.inputs[0].name)]
    proto, _ = tf2onnx.convert.from_function(
        tf.function(model), input_signature=signature, opset=ONNX_OPSET)
    _round_resize_scales_up(proto)
    written[ONNX_FILE] = proto.SerializeToString()
  written[LABELS_FILE] = "".join(f"{name}\n" for name in class_names).encode()
  paths = []
  for name, data in written.items():
    paths.append(os.path.join(directory, name))
    files.write_bytes_atomically(paths[-1], data)
  return paths


def _round_resize_scales_up(proto) -> None:
  """Makes every constant-scale Resize of `proto` give its intended size.

  tf2onnx writes a resize from `n` to `m` pixels as the float32 scale m / n,
  and ONNX Runtime's output is floor(n * scale): where the float rounds
  down, one pixel short (the central 85 of 97 pixels came out 96, and
  PNASNet-5 Large's 331 failed to load). One float32 step up gives m exactly
  and moves the sampling positions by under 1e-5 pixels.
  """
  from onnx import numpy_helper  # pylint: disable=g-import-not-at-top
  constants = {tensor.name: tensor for tensor in proto.graph.initializer}
  for node in proto.graph.node:
    if node.op_type != "Resize" or len(node.input) < 3:
      continue
    # Each constant once, even if several resizes share it.
    tensor = constants.pop(node.input[2], None)
    if tensor is None or not tensor.dims:
      continue
    scales = numpy_helper.to_array(tensor)
    stepped = np.where(scales == 1, scales,
                       np.nextafter(scales, np.float32(np.inf)))
    tensor.CopyFrom(numpy_helper.from_array(stepped.astype(scales.dtype),
                                            tensor.name))

