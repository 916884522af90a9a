r"""Benchmark: does the input pipeline slow child training down?

Trains the search-time network (N = 2, F = 24) on 32x32x3 images at batch 32
and 128, fed (a) by pnas_tf's real input pipeline (tfds TFRecords on disk ->
cache -> shuffle -> augment -> batch -> prefetch) and (b) by one batch of
tensors already in memory, repeated. CIFAR-10 cannot be downloaded here, so
(a) reads a dataset of random 32x32x3 images that tfds writes to disk the same
way it writes CIFAR-10. Each feed runs --repeats times, alternating with the
other, after one warm-up run, and the best run counts: on 2 shared cores the
order of runs alone moves a single run by 10-20%. Prints training images per
second (the first epoch of a run, which traces the graph, left out), then,
last, the smallest ratio a / b.

Example:
  python bench/child_throughput.py --num_images=1024 --epochs=3 --repeats=2
"""

import os
import sys
import tempfile
import time

from absl import app
from absl import flags
import keras
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from pnas_tf.config import network_config
from pnas_tf.config import train_config
from pnas_tf.data import datasets
from pnas_tf.model import network
from pnas_tf.space import search_space

_NUM_IMAGES = flags.DEFINE_integer("num_images", 1024, "Images per epoch.")
_EPOCHS = flags.DEFINE_integer("epochs", 3, "Epochs per run (first is warm-up).")
_REPEATS = flags.DEFINE_integer("repeats", 2, "Runs per feed; the best counts.")
_BATCH_SIZES = flags.DEFINE_list("batch_sizes", ["32", "128"], "Batch sizes.")


class _EpochTimes(keras.callbacks.Callback):

  def __init__(self):
    super().__init__()
    self.seconds = []

  def on_epoch_begin(self, epoch, logs=None):
    self._start = time.perf_counter()

  def on_epoch_end(self, epoch, logs=None):
    self.seconds.append(time.perf_counter() - self._start)


class _SupervisedTfDataBuilder(tfds.dataset_builders.TfDataBuilder):
  """tfds' TfDataBuilder, plus the (image, label) keys the pipeline reads."""

  def _info(self):
    info = super()._info()
    return tfds.core.DatasetInfo(
        builder=self, description=info.description, features=info.features,
        supervised_keys=("image", "label"))


def _random_dataset_on_disk(directory: str, count: int):
  """A tfds dataset of random 32x32x3 uint8 images with 10 classes."""
  rng = np.random.RandomState(0)
  images = rng.randint(0, 256, (count, 32, 32, 3)).astype(np.uint8)
  labels = rng.randint(0, 10, count).astype(np.int64)
  examples = tf.data.Dataset.from_tensor_slices(
      {"image": images, "label": labels})
  builder = _SupervisedTfDataBuilder(
      name="random_cifar_like", version="1.0.0", data_dir=directory,
      split_datasets={"train": examples},
      features=tfds.features.FeaturesDict({
          "image": tfds.features.Image(shape=(32, 32, 3)),
          "label": tfds.features.ClassLabel(num_classes=10)}))
  builder.download_and_prepare()
  return builder


def _images_per_second(dataset, num_images: int) -> float:
  keras.backend.clear_session()
  keras.utils.set_random_seed(0)
  model = network.build_network(
      search_space.PNASNET_5, network_config.PRESETS["cifar_search"])
  model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
  timer = _EpochTimes()
  model.fit(dataset, epochs=_EPOCHS.value, callbacks=[timer], verbose=0)
  return num_images * (len(timer.seconds) - 1) / sum(timer.seconds[1:])


def main(argv):
  del argv
  if _EPOCHS.value < 2:
    sys.exit("--epochs must be >= 2 (the first one is warm-up)")
  count = _NUM_IMAGES.value
  rows = []
  with tempfile.TemporaryDirectory() as directory:
    builder = _random_dataset_on_disk(directory, count)
    for batch_size in map(int, _BATCH_SIZES.value):
      config = train_config.DataConfig(batch_size=batch_size, seed=0)
      examples = builder.as_dataset(split="train", as_supervised=True).cache()
      pipeline = datasets.training_dataset(examples, config)
      images, labels = next(iter(pipeline))
      full_batches = count // batch_size
      in_memory = tf.data.Dataset.from_tensors((images, labels)).repeat(
          full_batches)
      if not rows:
        _images_per_second(in_memory, full_batches * batch_size)  # Warm-up.
      fed, memory = 0.0, 0.0
      for _ in range(_REPEATS.value):
        fed = max(fed, _images_per_second(pipeline, count))
        memory = max(memory, _images_per_second(in_memory,
                                                full_batches * batch_size))
      rows.append((batch_size, fed, memory, fed / memory))
  print(f"{'batch':>5}  {'pipeline img/s':>14}  {'in-memory img/s':>15}  "
        f"{'ratio a/b':>9}")
  for batch_size, fed, memory, ratio in rows:
    print(f"{batch_size:>5}  {fed:>14.1f}  {memory:>15.1f}  {ratio:>9.3f}")
  print(f"ratio a/b (worst): {min(row[3] for row in rows):.3f}")


if __name__ == "__main__":
  app.run(main)
