r"""Benchmark: single-image latency of the served network in each runtime.

Builds PNASNet-5 on --preset (default imagenet_mobile: PNASNet-5 Mobile,
224 x 224, 1001 classes; random weights, which cost the same as the
published ones), exports it as convert_checkpoint does (Inception
preprocessing, central crop) with --export_formats=saved_model,tflite,onnx,
and times one uint8 image at a time through:
  SavedModel    serving_default, loaded with tf.saved_model.load;
  TFLite        model_uint8.tflite in LiteRT's interpreter (XNNPACK);
  ONNX Runtime  model.onnx;
each limited to --threads threads, after --warmup untimed runs. Prints a
Markdown table of the median and 90th-percentile milliseconds, and the
largest probability difference from the SavedModel on the timed image.

Needs requirements-export.txt. Run it on an otherwise idle machine: other
processes on the cores inflate every figure.

Example:
  python bench/device_latency.py
  python bench/device_latency.py --preset=cifar_final --runs=100
"""

import os
import tempfile
import time

from absl import app
from absl import flags
import numpy as np

_PRESET = flags.DEFINE_string("preset", "imagenet_mobile",
                              "The network preset (its input size too).")
_THREADS = flags.DEFINE_integer("threads", 2, "Threads each runtime may use.",
                                lower_bound=1)
_RUNS = flags.DEFINE_integer("runs", 50, "Timed runs.", lower_bound=1)
_WARMUP = flags.DEFINE_integer("warmup", 5, "Untimed runs first.",
                               lower_bound=1)


def _timed(predict, image) -> tuple[list[float], np.ndarray]:
  """Milliseconds of each timed run, and the last answer."""
  for _ in range(_WARMUP.value):
    answer = predict(image)
  times = []
  for _ in range(_RUNS.value):
    started = time.perf_counter()
    answer = predict(image)
    times.append(1000 * (time.perf_counter() - started))
  return times, np.asarray(answer)


def _runtimes(path: str):
  """name -> a function uint8 image batch -> probabilities."""
  # pylint: disable=g-import-not-at-top
  from ai_edge_litert import interpreter as litert
  import onnxruntime
  import tensorflow as tf
  from pnas_tf.serving import device_export
  from pnas_tf.serving import export
  # pylint: enable=g-import-not-at-top
  served = tf.saved_model.load(path).signatures[export.DEFAULT_SIGNATURE]
  runner = litert.Interpreter(
      os.path.join(path, device_export.TFLITE_UINT8_FILE),
      num_threads=_THREADS.value).get_signature_runner()
  options = onnxruntime.SessionOptions()
  options.intra_op_num_threads = _THREADS.value
  options.inter_op_num_threads = 1
  session = onnxruntime.InferenceSession(
      os.path.join(path, device_export.ONNX_FILE), options,
      providers=["CPUExecutionProvider"])
  return {
      "SavedModel": lambda image: served(
          images=tf.constant(image))["probabilities"].numpy(),
      "TFLite (uint8 in)": lambda image: runner(images=image)["probabilities"],
      "ONNX Runtime": lambda image: session.run(["probabilities"],
                                                {"images": image})[0],
  }


def _unsaturate(model, image) -> None:
  """Scales the classifier so that the logits' spread is about 1.

  Untrained batch normalization leaves PNASNet-5's logits in the thousands,
  and its probabilities exactly 0 and 1 in every runtime; the comparison of
  probabilities needs them spread out, as a trained network's are.
  """
  import keras  # pylint: disable=g-import-not-at-top
  from pnas_tf.model import network  # pylint: disable=g-import-not-at-top
  outputs = model(image.astype(np.float32) / 127.5 - 1.0, training=False)
  # With an auxiliary head the model gives [logits, aux_logits].
  logits = keras.ops.convert_to_numpy(
      outputs[0] if isinstance(outputs, (list, tuple)) else outputs)
  dense = model.get_layer(network.LOGITS_NAME)
  dense.kernel.assign(dense.kernel / max(float(np.std(logits)), 1e-6))
  dense.bias.assign(np.zeros(dense.bias.shape, np.float32))


def main(argv):
  del argv
  # Each runtime gets --threads; TensorFlow's pools are set before it starts.
  # pylint: disable=g-import-not-at-top
  import tensorflow as tf
  tf.config.threading.set_intra_op_parallelism_threads(_THREADS.value)
  tf.config.threading.set_inter_op_parallelism_threads(1)
  from pnas_tf.config import network_config
  from pnas_tf.model import network
  from pnas_tf.serving import export
  from pnas_tf.space import search_space
  # pylint: enable=g-import-not-at-top
  config = network_config.preset(_PRESET.value)
  size, channels = config.image_size, config.image_channels
  model = network.build_network(search_space.PNASNET_5, config)
  image = np.random.RandomState(0).randint(
      0, 256, (1, size, size, channels)).astype(np.uint8)
  _unsaturate(model, image)
  with tempfile.TemporaryDirectory() as directory:
    inception = config.skeleton == "imagenet"
    path = export.export_classifier(
        model, (size, size, channels), os.path.join(directory, "m", "1"),
        central_crop=inception,
        preprocessing_style=export.INCEPTION if inception else export.STANDARDIZE,
        formats=("saved_model", "tflite", "onnx"))
    results = {name: _timed(predict, image)
               for name, predict in _runtimes(path).items()}
  reference = results["SavedModel"][1]
  print(f"PNASNet-5, {_PRESET.value} ({size}x{size}x{channels}), one image, "
        f"{_THREADS.value} threads, {_RUNS.value} runs")
  print(f"(largest probability {reference.max():.4f})")
  print("| runtime | median ms | p90 ms | max prob. diff |")
  print("|---|---:|---:|---:|")
  for name, (times, answer) in results.items():
    print(f"| {name} | {np.median(times):.1f} | "
          f"{np.percentile(times, 90):.1f} | "
          f"{np.abs(answer - reference).max():.1e} |")


if __name__ == "__main__":
  app.run(main)
