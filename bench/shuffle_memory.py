r"""Benchmark: host memory of the shuffle buffer for images of varying size.

ImageNet-style data (images of any size) is shuffled through a buffer of
10,000 examples (pnas_tf/data/datasets.py). This fills that buffer once from
--num_images generated JPEGs of ImageNet's typical sizes (300 to 500 pixels a
side, smooth content so that they compress as photographs do), two ways, each
in a fresh process:
  encoded  the pipeline as it is: the buffer holds the files' bytes, and
           images are decoded after it;
  decoded  images decoded before the buffer, as the pipeline did before.
and prints the growth of resident memory once the first batch is made
(which fills the buffer), beside the mean size of a file and of an image.

Example:
  python bench/shuffle_memory.py --num_images=10000
"""

import resource
import subprocess
import sys

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from pnas_tf.config import train_config
from pnas_tf.data import datasets

_NUM_IMAGES = flags.DEFINE_integer(
    "num_images", 10_000, "Generated JPEGs (the buffer holds 10,000).",
    lower_bound=64)
_MODE = flags.DEFINE_enum("mode", None, ["encoded", "decoded"],
                          "Measure one way in this process (internal).")


def _resident_mib() -> float:
  with open("/proc/self/statm") as stream:
    pages = int(stream.read().split()[1])
  return pages * resource.getpagesize() / 2**20


def _jpegs(count: int) -> list[bytes]:
  """Random images of 300-500 pixels a side, as JPEG at quality 90: smooth
  shapes plus grain, which compress about as photographs do."""
  rng = np.random.default_rng(0)
  files = []
  for _ in range(count):
    height, width = rng.integers(300, 501, size=2)
    coarse = rng.integers(0, 256, (height // 8 + 1, width // 8 + 1, 3))
    image = tf.image.resize(coarse[None].astype(np.float32),
                            (height, width))[0]
    image += rng.normal(0, 6, image.shape)
    files.append(tf.io.encode_jpeg(
        tf.cast(tf.clip_by_value(image, 0, 255), tf.uint8),
        quality=90).numpy())
  return files


def _measure(mode: str) -> None:
  files = _jpegs(_NUM_IMAGES.value)
  labels = np.zeros(len(files), np.int64)
  examples = tf.data.Dataset.from_tensor_slices((files, labels))
  if mode == "decoded":
    examples = examples.map(
        lambda data, label: (tf.io.decode_jpeg(data, channels=3), label))
  config = train_config.DataConfig(batch_size=32, image_size=224)
  before = _resident_mib()
  # The first batch fills the buffer; the iterator keeps it while measured.
  batches = iter(datasets.training_dataset(examples, config, channels=3))
  next(batches)
  growth = _resident_mib() - before
  pixels = np.mean([np.prod(tf.io.extract_jpeg_shape(data).numpy())
                    for data in files[:200]])
  print(f"{mode} {growth:.0f} "
        f"{np.mean([len(data) for data in files]) / 1024:.0f} "
        f"{pixels / 1024:.0f}")


def main(argv):
  del argv
  if _MODE.value:
    _measure(_MODE.value)
    return
  rows = []
  for mode in ("encoded", "decoded"):
    output = subprocess.run(
        [sys.executable, __file__, f"--mode={mode}",
         f"--num_images={_NUM_IMAGES.value}"],
        check=True, capture_output=True, text=True).stdout
    rows.append(output.split()[-4:])
  print(f"{'buffer holds':>12}  {'RSS growth MiB':>14}  "
        f"{'file KiB':>8}  {'image KiB':>9}")
  for mode, growth, file_kib, image_kib in rows:
    print(f"{mode:>12}  {growth:>14}  {file_kib:>8}  {image_kib:>9}")
  print(f"{_NUM_IMAGES.value} images through a buffer of 10,000")


if __name__ == "__main__":
  app.run(main)
