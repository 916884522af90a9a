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

With --image_folder (or --generate_folder=N, N photo-like 256x256 JPEGs of
10 classes written to a temporary folder), (a) is instead the pipeline of
--dataset=<folder> at 32x32: the folder decoded, checked, resized and
written once (its "prepare" time is printed), then read into memory during
the first epoch. Each feed runs --repeats times, alternating; the rate is of
the quickest epoch after the first (the least disturbed by other processes),
and a second table divides images by the process's CPU seconds (median
epoch), which other processes on shared cores do not inflate. The first
epoch of each feed is printed too: (a)'s, beside (b)'s, is what the first
read of the prepared images costs (both include tracing the training step).

Example:
  python bench/child_throughput.py --num_images=1024 --epochs=3 --repeats=2
  python bench/child_throughput.py --generate_folder=2000 --epochs=3
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
_IMAGE_FOLDER = flags.DEFINE_string(
    "image_folder", None, "Feed (a) from this image folder, resized to 32x32 "
    "(--num_images is then the folder's training images).")
_GENERATE_FOLDER = flags.DEFINE_integer(
    "generate_folder", 0, "Write this many 256x256 JPEGs of 10 classes to a "
    "temporary folder and use it as --image_folder.")


class _EpochTimes(keras.callbacks.Callback):

  def __init__(self):
    super().__init__()
    self.seconds = []
    # CPU seconds of this process (all its threads) per epoch: what the
    # pipeline adds to training, whatever other processes take of the cores.
    self.cpu_seconds = []

  def on_epoch_begin(self, epoch, logs=None):
    self._start = time.perf_counter()
    self._cpu_start = time.process_time()

  def on_epoch_end(self, epoch, logs=None):
    self.seconds.append(time.perf_counter() - self._start)
    self.cpu_seconds.append(time.process_time() - self._cpu_start)


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


def _photo_like_folder(directory: str, count: int) -> str:
  """`count` 256x256 JPEGs in directory/<class>/, 10 classes: smooth random
  colours with a little noise, about 15 KB each, as photos are."""
  rng = np.random.RandomState(0)
  for index in range(count):
    label = index % 10
    coarse = rng.randint(0, 256, (1, 8, 8, 3)).astype(np.float32)
    image = tf.image.resize(coarse, (256, 256))[0] + rng.normal(
        0, 8, (256, 256, 3))
    image = tf.cast(tf.clip_by_value(image, 0, 255), tf.uint8)
    path = os.path.join(directory, f"class_{label}", f"{index}.jpg")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tf.io.write_file(path, tf.io.encode_jpeg(image, quality=90))
  return directory


def _compiled_model() -> keras.Model:
  model = network.build_network(
      search_space.PNASNET_5, network_config.PRESETS["cifar_search"])
  model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
  return model


def _images_per_second(dataset, num_images: int) -> float:
  seconds = _epoch_times(dataset).seconds
  return num_images * (len(seconds) - 1) / sum(seconds[1:])


def _epoch_times(dataset) -> _EpochTimes:
  """The wall and CPU seconds of each of --epochs epochs of a fresh model."""
  keras.backend.clear_session()
  keras.utils.set_random_seed(0)
  model = _compiled_model()
  timer = _EpochTimes()
  model.fit(dataset, epochs=_EPOCHS.value, callbacks=[timer], verbose=0)
  return timer


def _print_table(rows) -> None:
  print(f"{'batch':>5}  {'pipeline img/s':>14}  {'in-memory img/s':>15}  "
        f"{'ratio a/b':>9}")
  for batch_size, fed, memory, ratio in rows:
    print(f"{batch_size:>5}  {fed:>14.1f}  {memory:>15.1f}  {ratio:>9.3f}")
  print(f"ratio a/b (worst): {min(row[3] for row in rows):.3f}")


def _in_memory(pipeline, batch_size: int, count: int):
  """One batch of `pipeline`, repeated to `count` images' full batches."""
  images, labels = next(iter(pipeline))
  return tf.data.Dataset.from_tensors((images, labels)).repeat(
      count // batch_size)


def _image_folder_rows(folder: str, data_dir: str):
  """The comparison with (a) the pipeline of --dataset=<folder>."""
  started = time.perf_counter()
  datasets.get_builder(train_config.DataConfig(
      dataset=folder, image_size=32, data_dir=data_dir))
  print(f"prepare (decode, check, resize, write {folder}): "
        f"{time.perf_counter() - started:.1f} s")
  rows, cpu_rows, first_epochs = [], [], []
  for batch_size in map(int, _BATCH_SIZES.value):
    config = train_config.DataConfig(
        dataset=folder, image_size=32, data_dir=data_dir,
        batch_size=batch_size, validation_size=0.1)
    data = datasets.load_search_data(config)
    count = data.num_train_examples
    in_memory = _in_memory(data.train(0, 1), batch_size, count)
    fed, memory = [], []
    for _ in range(_REPEATS.value):
      # A fresh pipeline each run, so that its first epoch fills its cache.
      fed.append(_epoch_times(datasets.load_search_data(config).train(0, 1)))
      memory.append(_epoch_times(in_memory))
    for name, runs in (("(a)", fed), ("(b)", memory)):
      print(f"batch {batch_size} {name} seconds per epoch, wall (CPU): " +
            "; ".join(" ".join(f"{wall:.1f} ({cpu:.1f})" for wall, cpu in
                               zip(run.seconds, run.cpu_seconds))
                      for run in runs))
    counts = (count, count // batch_size * batch_size)
    # Wall: the quickest epoch after the first (the least disturbed by
    # other processes, as the best run counts above); CPU: the median.
    wall = [images / min(t for run in runs for t in run.seconds[1:])
            for images, runs in zip(counts, (fed, memory))]
    cpu = [images / np.median([t for run in runs for t in run.cpu_seconds[1:]])
           for images, runs in zip(counts, (fed, memory))]
    rows.append((batch_size, *wall, wall[0] / wall[1]))
    cpu_rows.append((batch_size, *cpu, cpu[0] / cpu[1]))
    first_epochs.append((batch_size, count, fed[0].seconds[0],
                         memory[0].seconds[0]))
  print(f"{'batch':>5}  {'images':>6}  {'first epoch (a) s':>17}  "
        f"{'first epoch (b) s':>17}")
  for batch_size, count, fed, memory in first_epochs:
    print(f"{batch_size:>5}  {count:>6}  {fed:>17.1f}  {memory:>17.1f}")
  print("images per CPU second (all threads)")
  _print_table(cpu_rows)
  print("images per second")
  return rows


def main(argv):
  del argv
  if _EPOCHS.value < 2:
    sys.exit("--epochs must be >= 2 (the first one is warm-up)")
  if _IMAGE_FOLDER.value or _GENERATE_FOLDER.value:
    with tempfile.TemporaryDirectory() as directory:
      folder = _IMAGE_FOLDER.value or _photo_like_folder(
          os.path.join(directory, "images"), _GENERATE_FOLDER.value)
      _print_table(_image_folder_rows(folder,
                                      os.path.join(directory, "tfds")))
    return
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
  _print_table(rows)


if __name__ == "__main__":
  app.run(main)
