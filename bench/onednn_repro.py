r"""Repro: oneDNN's 1x1 stride-2 weight gradient corrupts the heap.

On x86 CPUs, TensorFlow 2.21 (oneDNN v3.7.3) computes the weight gradient
of a 1x1 convolution with stride 2 on NHWC input with fewer than 16 input
channels (`jit_1x1:avx512_core`, backward_weights) and writes past a
buffer: the process dies with SIGABRT (glibc: "free(): invalid pointer",
"double free or corruption", "malloc(): corrupted top size", ...) or
SIGSEGV. In pnas_tf it is the `identity` operator at stride 2 (ReLU ->
strided 1x1 conv -> BN) in the ImageNet skeleton's second stem cell, which
reads 56x56 x F//2 channels at 224 px: any F < 32 (docs/onednn.md).

Runs each setting's repro in a fresh Python process --runs times and prints
a table: runs, crashes, how they ended (signal, first glibc line), and the
oneDNN implementation of the 1x1 stride-2 weight gradient, if oneDNN ran
one. The settings, from the smallest repro to the network:
  raw_*: one tf.raw_ops.Conv2DBackpropFilter call, no Keras.
  keras_*: one Keras Conv2D layer trained with fit; the workarounds.
  network_*: the imagenet_mobile skeleton (N = 1, PNASNet-5) trained for two
    steps of 4 random images.

Example:
  python bench/onednn_repro.py
  python bench/onednn_repro.py --runs=5 --settings=raw_ic12,raw_onednn_off
"""

import collections
import dataclasses
import json
import os
import platform
import re
import signal
import subprocess
import sys
import time

from absl import app
from absl import flags

_RUNS = flags.DEFINE_integer("runs", 3, "Fresh processes per setting.")
_SETTINGS = flags.DEFINE_list(
    "settings", None, "Settings to run (default: all), by name.")
_TIMEOUT = flags.DEFINE_integer(
    "timeout", 300, "Seconds before a run counts as hung and is killed.")
_CHILD = flags.DEFINE_string(
    "child", None, "Internal: run one repro (JSON) in this process.")

# What the child marks success with, on stdout.
_DONE = "REPRO-DONE"
# glibc's fatal heap messages; failing those, a Python exception's last line.
# (faulthandler's "Fatal Python error: <signal>" would only repeat the signal.)
_GLIBC = re.compile(r"\(\): |corrupt|double free|Fatal glibc")
_OTHER = re.compile(r"^\w+(Error|Exception): ")
# A oneDNN primitive creation line of a weight gradient.
_CREATED = re.compile(r"onednn_verbose,.*create:cache_miss,cpu,convolution,"
                      r"([^,]+),backward_weights,.*,(mb\S*)")


@dataclasses.dataclass(frozen=True)
class Setting:
  """One repro and the environment it runs in.

  Attributes:
    name: the table's row name.
    kind: "raw", "keras" or "network".
    params: the repro's parameters (see the _run_* functions).
    env: environment variables set for the run.
    note: what the setting shows.
  """
  name: str
  kind: str
  params: dict
  env: dict = dataclasses.field(default_factory=dict)
  note: str = ""


_RAW = dict(batch=4, size=56, channels=12, filters=12, strides=2)
_KERAS = dict(batch=4, size=56, channels=12, filters=12, subsample=False,
              jit_compile=False)
_NETWORK = dict(filters=24, cell="PNASNet-5", batch=4, steps=2,
                subsample_identity=False)
_OFF = {"TF_ENABLE_ONEDNN_OPTS": "0"}

SETTINGS = (
    Setting("raw_ic12", "raw", _RAW, note="the smallest repro"),
    Setting("raw_ic12_batch1", "raw", {**_RAW, "batch": 1}),
    Setting("raw_ic12_112px", "raw", {**_RAW, "size": 112}),
    Setting("raw_ic4", "raw", {**_RAW, "channels": 4}),
    Setting("raw_ic16", "raw", {**_RAW, "channels": 16},
            note="16 input channels: ok"),
    Setting("raw_ic12_55px", "raw", {**_RAW, "size": 55},
            note="odd size: another implementation"),
    Setting("raw_ic12_stride1", "raw", {**_RAW, "strides": 1}),
    Setting("raw_onednn_off", "raw", _RAW, _OFF, note="workaround"),
    Setting("keras_conv1x1_s2", "keras", _KERAS),
    Setting("keras_subsample_conv1x1", "keras", {**_KERAS, "subsample": True},
            note="workaround: same math"),
    Setting("keras_conv1x1_s2_xla", "keras", {**_KERAS, "jit_compile": True},
            note="workaround"),
    Setting("network_F24", "network", _NETWORK),
    Setting("network_F24_onednn_off", "network", _NETWORK, _OFF,
            note="workaround"),
    Setting("network_F24_subsample", "network",
            {**_NETWORK, "subsample_identity": True},
            note="workaround: identity at stride 2 rewritten"),
    Setting("network_F32", "network", {**_NETWORK, "filters": 32},
            note="F // 2 = 16 channels: ok"),
)


def _run_raw(batch, size, channels, filters, strides):
  """The weight gradient of a 1x1 conv, alone: Conv2DBackpropFilter."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  images = tf.random.uniform((batch, size, size, channels), seed=0)
  out_size = -(-size // strides)
  grads = tf.ones((batch, out_size, out_size, filters))
  kernel_grad = tf.raw_ops.Conv2DBackpropFilter(
      input=images, filter_sizes=[1, 1, channels, filters],
      out_backprop=grads, strides=[1, strides, strides, 1], padding="SAME")
  expected = tf.einsum("nhwc,nhwf->cf",
                       images[:, ::strides, ::strides, :], grads)
  error = tf.reduce_max(tf.abs(kernel_grad[0, 0] - expected))
  print(f"max abs error vs. einsum: {float(error):.2e}")


def _run_keras(batch, size, channels, filters, subsample, jit_compile):
  """A Keras Conv2D(1x1, stride 2) trained on random data, or its rewrite."""
  import keras  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  images = keras.Input((size, size, channels))
  net = images
  if subsample:  # Keeps rows and columns 0, 2, 4, ...: what the conv reads.
    net = keras.layers.AveragePooling2D(pool_size=1, strides=2)(net)
  net = keras.layers.Conv2D(filters, 1, strides=1 if subsample else 2,
                            padding="same", use_bias=False)(net)
  model = keras.Model(images, net)
  model.compile("sgd", "mse", jit_compile=jit_compile)
  rng = np.random.default_rng(0)
  x = rng.random((4 * batch, size, size, channels), dtype=np.float32)
  y = rng.random((4 * batch,) + tuple(model.output.shape[1:]), dtype=np.float32)
  model.fit(x, y, batch_size=batch, epochs=1, verbose=0)


def _subsample_strided_identity(operators) -> None:
  """Makes `identity` at stride 2 ReLU -> subsample -> 1x1 conv -> BN.

  The same function and weights as ReLU -> 1x1 conv stride 2 -> BN: a 1x1
  SAME conv at stride 2 reads rows and columns 0, 2, 4, ..., which is what
  the subsampling (1x1 average pooling, stride 2, VALID) keeps.
  """
  import keras  # pylint: disable=g-import-not-at-top
  original = operators.operation_layers

  def operation_layers(name, filters, strides, input_shape, settings):
    if name == "identity" and strides > 1:
      return [keras.layers.Activation("relu"),
              keras.layers.AveragePooling2D(pool_size=1, strides=strides),
              settings.conv(filters, 1), settings.batch_norm()]
    return original(name, filters, strides, input_shape, settings)

  operators.operation_layers = operation_layers


def _run_network(filters, cell, batch, steps, subsample_identity):
  """The imagenet_mobile skeleton at 224 px, N = 1, trained a few steps."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from pnas_tf.config import network_config  # pylint: disable=g-import-not-at-top
  from pnas_tf.config import train_config  # pylint: disable=g-import-not-at-top
  from pnas_tf.model import network  # pylint: disable=g-import-not-at-top
  from pnas_tf.model import operators  # pylint: disable=g-import-not-at-top
  from pnas_tf.training import training_loop  # pylint: disable=g-import-not-at-top
  if subsample_identity:
    _subsample_strided_identity(operators)
  net = network_config.preset("imagenet_mobile", filters=filters,
                              num_cells_per_stack=1)
  model = network.build_network(cell, net)
  training_loop.compile_network(
      model, train_config.TrainConfig(epochs=1, xla="off"), steps)
  rng = np.random.default_rng(0)
  images = rng.random((batch * steps, 224, 224, 3), dtype=np.float32)
  labels = rng.integers(0, net.num_classes, batch * steps)
  data = tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch)
  model.fit(training_loop.with_aux_labels(model, data), verbose=0)


def _child(spec: str) -> None:
  setting = json.loads(spec)
  runner = {"raw": _run_raw, "keras": _run_keras,
            "network": _run_network}[setting["kind"]]
  runner(**setting["params"])
  print(_DONE, flush=True)


@dataclasses.dataclass
class Outcome:
  """How one run ended."""
  ok: bool
  ending: str
  implementations: set
  onednn: str = ""
  isa: str = ""


def _first_error_line(stderr: str) -> str:
  for pattern in (_GLIBC, _OTHER):
    for line in stderr.splitlines():
      if pattern.search(line):
        # glibc's message and faulthandler's can share a line.
        if pattern is _GLIBC:
          line = line.replace("Fatal Python error: ", "")
        return line.strip()[:80]
  return ""


def _run_once(setting: Setting) -> Outcome:
  """Runs `setting` in a fresh process with oneDNN's verbose log on."""
  env = {**os.environ, "ONEDNN_VERBOSE": "all", "LIBC_FATAL_STDERR_": "1",
         "TF_CPP_MIN_LOG_LEVEL": "0", **setting.env}
  spec = json.dumps({"kind": setting.kind, "params": setting.params})
  try:
    done = subprocess.run([sys.executable, __file__, f"--child={spec}"],
                          env=env, capture_output=True, text=True,
                          timeout=_TIMEOUT.value, check=False)
  except subprocess.TimeoutExpired:
    return Outcome(False, f"hung (killed after {_TIMEOUT.value} s)", set())
  implementations = {match.group(1) for match in _CREATED.finditer(done.stdout)
                     if "kh1" in match.group(2) and "sh2" in match.group(2)}
  version = re.search(r"oneDNN (v[\d.]+)", done.stdout)
  isa = re.search(r"info,cpu,isa:([^\n]+)", done.stdout)
  extra = dict(onednn=version.group(1) if version else "",
               isa=isa.group(1) if isa else "")
  if done.returncode == 0 and _DONE in done.stdout:
    return Outcome(True, "ok", implementations, **extra)
  if done.returncode < 0:
    ending = signal.Signals(-done.returncode).name
  else:
    ending = f"exit {done.returncode}"
  line = _first_error_line(done.stderr)
  return Outcome(False, f"{ending}: {line}" if line else ending,
                 implementations, **extra)


def _cpu_model() -> str:
  try:
    with open("/proc/cpuinfo") as stream:
      for line in stream:
        if line.startswith("model name"):
          return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor()


def _versions() -> str:
  done = subprocess.run(
      [sys.executable, "-c",
       "import tensorflow as tf, keras; print(tf.__version__, "
       "keras.__version__)"],
      capture_output=True, text=True, check=False)
  words = (done.stdout.split() + ["?", "?"])[:2]
  return (f"Python {platform.python_version()}, TensorFlow {words[0]}, "
          f"Keras {words[1]}, {platform.platform()}, CPU {_cpu_model()}, "
          f"{os.cpu_count()} cores")


def main(argv):
  del argv
  if _CHILD.value:
    _child(_CHILD.value)
    return
  names = _SETTINGS.value or [setting.name for setting in SETTINGS]
  by_name = {setting.name: setting for setting in SETTINGS}
  unknown = sorted(set(names) - set(by_name))
  if unknown:
    raise app.UsageError(f"unknown settings {unknown}; known: "
                         f"{', '.join(by_name)}")
  print(_versions())
  onednn, isa = "", ""
  print(f"{'setting':<24} {'runs':>4} {'crashes':>7} {'s/run':>6}  "
        f"{'1x1 s2 weight-gradient impl.':<36}  endings")
  for name in names:
    setting = by_name[name]
    endings, implementations, started = collections.Counter(), set(), time.time()
    for _ in range(_RUNS.value):
      outcome = _run_once(setting)
      endings[outcome.ending] += 1
      implementations |= outcome.implementations
      onednn, isa = onednn or outcome.onednn, isa or outcome.isa
    crashes = _RUNS.value - endings["ok"]
    seconds = (time.time() - started) / _RUNS.value
    impl = ", ".join(sorted(implementations)) or "-"
    ending = "; ".join(f"{count}x {text}" for text, count in endings.items())
    print(f"{name:<24} {_RUNS.value:>4} {crashes:>7} {seconds:>6.0f}  "
          f"{impl:<36}  {ending}" + (f"  [{setting.note}]" if setting.note
                                     else ""), flush=True)
  print(f"oneDNN {onednn or '?'}, ISA: {isa or '?'}; \"-\": oneDNN ran no "
        "1x1 stride-2 weight gradient")


if __name__ == "__main__":
  app.run(main)
