"""The input pipeline: tfds image datasets, split and augmented as in the paper.

Any tfds dataset with an image and a class-label feature works: cifar10 (the
paper's), fashion_mnist (offline from Debian's files when tfds' own data is not
there), and others by name. The search holds out the last `validation_size`
training examples for validation (5,000 of CIFAR-10's 50,000 in the paper:
docs/paper_notes.md); the test split is only for final evaluation
(load_final_data). Training examples are standardized per image, padded by 4,
randomly cropped back and randomly flipped left-right; with
DataConfig.image_size (the ImageNet presets), images of any size get
ImageNet-style random crops resized to that size instead, and evaluation sees
their central crop (preprocessing.py). Builders are found by
dataset_builders.py. An image folder or an .npz file is a tfds dataset too,
of images already resized to image_size (local_builder.py), so it is read
and augmented as a dataset of that fixed size, as CIFAR-10 is.

Example:
  data = load_search_data(
      train_config.DataConfig(dataset="fashion_mnist", batch_size=64))
  model.fit(data.train(0, 3), steps_per_epoch=data.steps_per_epoch, epochs=3,
            validation_data=data.validation)
"""

import dataclasses
import functools
import os

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from pnas_tf.config import train_config
from pnas_tf.data import dataset_builders
from pnas_tf.data import local_sources
from pnas_tf.data import preprocessing

# Examples are shuffled within blocks of this many (one block holds all of
# CIFAR-10's training split), in memory as one batch while an epoch starts.
_SHUFFLE_BLOCK = 50_000
# Images of varying size are shuffled through a buffer of this many instead,
# still encoded (about 110 KB each for ImageNet's JPEGs, against about 500 KB
# decoded), and decoded after it.
_SHUFFLE_BUFFER = 10_000

# Decoded training splits are cached in memory when they take at most this
# share of the host's memory; larger ones are read from tfds' files (of
# small PNGs, for a local dataset) every epoch.
_MEMORY_SHARE = 0.25

# Defined with the builders; most callers meet them here.
DatasetUnavailableError = dataset_builders.DatasetUnavailableError
get_builder = dataset_builders.get_builder


def _pipeline_config(
    config: train_config.DataConfig) -> train_config.DataConfig:
  """The settings the pipeline runs on: a local dataset's images have
  image_size already (local_builder.py), so they are not resized again."""
  if local_sources.local_kind(config.dataset):
    return dataclasses.replace(config, image_size=0)
  return config


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
  """What a network needs to know about its data, read from tfds' info."""
  name: str
  num_classes: int
  image_shape: tuple[int, int, int]
  class_names: tuple[str, ...]
  train_split: str
  # The split a run is measured on: the held-out validation examples of a
  # search child, the test split of a final training.
  evaluation_split: str
  # Example counts of the two splits, when tfds knows the split sizes.
  num_train_examples: int | None = None
  num_evaluation_examples: int | None = None


@dataclasses.dataclass(frozen=True)
class TrainingData:
  """Training epochs on demand, from examples decoded once.

  Attributes:
    config: the data settings.
    info: what the data is.
    train_examples: the decoded training examples, cached in memory on
      first use and shared by every child.
    num_train_examples: examples in one training epoch.
  """
  config: train_config.DataConfig
  info: DatasetInfo
  train_examples: tf.data.Dataset
  num_train_examples: int
  # The replicas each batch is split over (for_replicas).
  num_replicas: int = dataclasses.field(default=1, kw_only=True)

  @property
  def batch_size(self) -> int:
    return self.config.batch_size

  @property
  def steps_per_epoch(self) -> int:
    full, last = divmod(self.num_train_examples, self.config.batch_size)
    return full + int(last >= self.num_replicas)

  def for_replicas(self, num_replicas: int) -> "TrainingData":
    """This data for training split over `num_replicas` replicas.

    An epoch's last batch with fewer examples than replicas would leave a
    replica without any, and its batch normalization fails on an empty
    batch, so such a batch is dropped from every epoch.
    """
    return dataclasses.replace(self, num_replicas=num_replicas)

  def train(self, first_epoch: int = 0, num_epochs: int = 1) -> tf.data.Dataset:
    """Training batches of the given epochs (see training_dataset)."""
    return training_dataset(self.train_examples, self.config, first_epoch,
                            num_epochs, channels=self.info.image_shape[-1],
                            batches_per_epoch=self.steps_per_epoch)


@dataclasses.dataclass(frozen=True)
class SearchData(TrainingData):
  """The data of a search: training epochs, and validation batches.

  Attributes:
    validation: batched, standardized validation examples in a fixed order
      (info.evaluation_split, held out from the training split).
  """
  validation: tf.data.Dataset

  def for_replicas(self, num_replicas: int) -> "SearchData":
    """Also merges a validation batch too small for `num_replicas` into the
    one before it: every example is still evaluated."""
    return dataclasses.replace(
        super().for_replicas(num_replicas),
        validation=_rebatched_for_replicas(
            self.validation, self.batch_size, num_replicas,
            self.info.num_evaluation_examples))


@dataclasses.dataclass(frozen=True)
class FinalData(TrainingData):
  """The data of final training: the training split, and the test split.

  Attributes:
    test: batched, standardized examples of info.evaluation_split (the test
      split) in a fixed order.
  """
  test: tf.data.Dataset

  def for_replicas(self, num_replicas: int) -> "FinalData":
    """Also merges a test batch too small for `num_replicas` into the one
    before it: every example is still evaluated."""
    return dataclasses.replace(
        super().for_replicas(num_replicas),
        test=_rebatched_for_replicas(self.test, self.batch_size, num_replicas,
                                     self.info.num_evaluation_examples))


def _rebatched_for_replicas(batches: tf.data.Dataset, batch_size: int,
                            num_replicas: int,
                            count: int | None) -> tf.data.Dataset:
  """`batches` with a last batch of fewer than `num_replicas` examples
  joined to the one before (a replica without examples cannot evaluate)."""
  if num_replicas == 1:
    return batches
  examples = batches.unbatch()
  count = _count(examples, count)
  full, last = divmod(count, batch_size)
  if not 0 < last < num_replicas or full == 0:
    return batches
  head = (full - 1) * batch_size
  return examples.take(head).batch(batch_size).concatenate(
      examples.skip(head).batch(batch_size + last)).prefetch(tf.data.AUTOTUNE)


def split_names(config: train_config.DataConfig,
                train_size: int | None) -> tuple[str, str]:
  """tfds split strings (training, validation) for the search.

  Args:
    config: the data settings.
    train_size: examples in the dataset's train split, if known.

  Returns:
    e.g. ("train[:45000]", "train[45000:]") for CIFAR-10's defaults, or
    ("train[:-5000]", "train[-5000:]") when the size is unknown.

  Raises:
    ValueError: when the held-out and training examples do not fit.
  """
  if train_size is None:
    return _split_names_from_the_end(config)
  validation = config.validation_size
  if validation < 1:
    validation = round(validation * train_size)
  validation = int(validation)
  available = train_size - validation
  if validation < 1 or available < 1:
    raise ValueError(
        f"validation_size {config.validation_size} leaves {available} of "
        f"{train_size} training examples")
  if config.num_train_examples > available:
    raise ValueError(
        f"num_train_examples {config.num_train_examples} exceeds the "
        f"{available} training examples left after holding out {validation}")
  train_end = config.num_train_examples or available
  return f"train[:{train_end}]", f"train[{available}:]"


def _split_names_from_the_end(
    config: train_config.DataConfig) -> tuple[str, str]:
  """split_names for a train split of unknown size (tfds' mock data): the
  held-out examples are sliced from its end, by count or by percent.

  Raises:
    ValueError: for a fraction that is not a whole percent.
  """
  validation = config.validation_size
  if validation < 1:
    percent = validation * 100
    if percent != int(percent):
      raise ValueError(
          f"validation_size {validation} is not a whole percent, which tfds "
          "slicing needs when the split size is unknown")
    return f"train[:-{int(percent)}%]", f"train[-{int(percent)}%:]"
  validation = int(validation)
  limit = (str(config.num_train_examples) if config.num_train_examples
           else f"-{validation}")
  return f"train[:{limit}]", f"train[-{validation}:]"


def dataset_info(builder: tfds.core.DatasetBuilder,
                 config: train_config.DataConfig,
                 split_pair: tuple[str, str] | None = None) -> DatasetInfo:
  """What `config`'s data is, from the builder's tfds info.

  Args:
    builder: the prepared builder.
    config: the data settings.
    split_pair: (training, held-out) tfds split strings; by default the
      search's (split_names).

  Returns:
    The dataset's classes, the network's image shape and the two splits.

  Raises:
    DatasetUnavailableError: for images of varying size and no image_size.
    ValueError: when the split sizes do not fit the dataset.
  """
  image_key, label_key = builder.info.supervised_keys
  features = builder.info.features
  splits = builder.info.splits
  train_size = splits["train"].num_examples if "train" in splits else None
  train_split, evaluation_split = (split_pair
                                   or split_names(config, train_size))

  def size(split):
    return splits[split].num_examples if train_size is not None else None

  return DatasetInfo(
      name=config.dataset,
      num_classes=features[label_key].num_classes,
      image_shape=_network_image_shape(features[image_key], config),
      class_names=tuple(features[label_key].names),
      train_split=train_split,
      evaluation_split=evaluation_split,
      num_train_examples=size(train_split),
      num_evaluation_examples=size(evaluation_split))


def _network_image_shape(image_feature: tfds.features.Image,
                         config: train_config.DataConfig
                         ) -> tuple[int, int, int]:
  """The shape of the images the network sees: resized to image_size, if set.

  Raises:
    DatasetUnavailableError: for images of varying size and no image_size.
  """
  image_shape = tuple(image_feature.shape)
  if config.image_size:
    return (config.image_size, config.image_size, image_shape[-1])
  if None in image_shape:
    raise DatasetUnavailableError(
        f"dataset {config.dataset!r} has images of varying size "
        f"{image_shape}: they need resizing to the network's size, which "
        "--image_size sets, as the ImageNet presets do in train_final "
        "(--preset=imagenet_mobile or imagenet_large)")
  return image_shape


def _read(builder, split: str, encoded: bool = False) -> tf.data.Dataset:
  """The split's (image, label) pairs; with `encoded`, the image file bytes."""
  read_config = tfds.ReadConfig(try_autocache=False)
  image_key = builder.info.supervised_keys[0]
  decoders = {image_key: tfds.decode.SkipDecoding()} if encoded else None
  return builder.as_dataset(split=split, as_supervised=True,
                            shuffle_files=False, read_config=read_config,
                            decoders=decoders)


def training_dataset(examples: tf.data.Dataset,
                     config: train_config.DataConfig, first_epoch: int = 0,
                     num_epochs: int = 1,
                     channels: int | None = None,
                     batches_per_epoch: int | None = None) -> tf.data.Dataset:
  """Epochs first_epoch .. first_epoch + num_epochs - 1 of augmented batches.

  Epoch k is shuffled and augmented with seeds made from (config.seed, k)
  alone, so it is the same batches whether training started at epoch 0 or
  resumed at k, and whichever child of a search trains on it. Images of one
  fixed shape are shuffled within consecutive blocks of 50,000 (a whole
  CIFAR-10 split); images of varying size, still encoded, through a
  10,000-example buffer, seeded by (config.seed, k) and TensorFlow's global
  seed (which every run sets from its seed), and decoded after it.

  Args:
    examples: (uint8 image, label) pairs, or (encoded image, label) pairs
      for images of varying size (see _examples).
    config: batch size, seed and flips.
    first_epoch: the first epoch to produce.
    num_epochs: how many epochs, one after another.
    channels: the channels that encoded images decode to (the network's);
      needed only for encoded examples.
    batches_per_epoch: the first this many batches of each epoch (all of
      them by default).

  Returns:
    Batches of (float32 images, int64 labels); an epoch's last batch may be
    smaller.
  """
  decode = None
  if _is_encoded(examples):
    if not channels:
      raise ValueError("encoded images need the channels to decode them to")
    decode = functools.partial(_decode, channels=channels)
  one_epoch = functools.partial(_training_epoch, examples, config,
                                decode=decode,
                                batches=batches_per_epoch or -1)
  if _fixed_shape(examples):
    epochs = tf.data.Dataset.range(first_epoch, first_epoch + num_epochs)
    return epochs.flat_map(one_epoch).prefetch(tf.data.AUTOTUNE)
  # The shuffle buffer's seed is a Python int (below), so each epoch is a
  # pipeline of its own.
  epochs = [one_epoch(epoch)
            for epoch in range(first_epoch, first_epoch + num_epochs)]
  return functools.reduce(tf.data.Dataset.concatenate,
                          epochs).prefetch(tf.data.AUTOTUNE)


def _training_epoch(examples: tf.data.Dataset,
                    config: train_config.DataConfig,
                    epoch: int | tf.Tensor, decode=None,
                    batches: int = -1) -> tf.data.Dataset:
  """One epoch's shuffled, augmented batches (see training_dataset).

  `epoch` is a scalar int64 tensor for images of a fixed shape (flat_map
  passes it), a Python int for images of varying size; `decode` turns
  encoded images into uint8 ones after the shuffle; `batches` limits the
  epoch to its first batches (-1: all).
  """
  base_seed = tf.constant([config.seed, 0], tf.int64)
  epoch_seed = tf.random.experimental.stateless_fold_in(base_seed, epoch)
  if _fixed_shape(examples):
    shuffled = _shuffled_in_blocks(examples, epoch_seed)
  else:
    shuffled = _shuffled_in_buffer(examples, config.seed, epoch)
  return _augmented(shuffled, config, epoch_seed,
                    decode).batch(config.batch_size).take(batches)


def _shuffled_in_blocks(examples: tf.data.Dataset,
                        epoch_seed: tf.Tensor) -> tf.data.Dataset:
  """Fixed-shape examples shuffled within blocks of _SHUFFLE_BLOCK.

  Stateless throughout, so the same (seed, epoch) gives the same order
  whatever TensorFlow's global seed or how often this was iterated.
  """

  def shuffle_block(block_index, block):
    images, labels = block
    order = tf.random.experimental.stateless_shuffle(
        tf.range(tf.shape(labels)[0]),
        seed=tf.random.experimental.stateless_fold_in(epoch_seed, block_index))
    return tf.gather(images, order), tf.gather(labels, order)

  return examples.batch(_SHUFFLE_BLOCK).enumerate().map(
      shuffle_block).unbatch()


def _shuffled_in_buffer(examples: tf.data.Dataset, seed: int,
                        epoch: int) -> tf.data.Dataset:
  """Examples of varying size (ImageNet) through a shuffle buffer.

  They do not batch before resizing, so no block shuffle: the buffer is
  seeded by (seed, epoch) through a Python int, as it takes no tensor seed
  inside a tf.function.
  """
  return examples.shuffle(_SHUFFLE_BUFFER,
                          seed=(seed * 1_000_003 + epoch) % 2**31,
                          reshuffle_each_iteration=False)


def _augmented(shuffled: tf.data.Dataset, config: train_config.DataConfig,
               epoch_seed: tf.Tensor, decode=None) -> tf.data.Dataset:
  """Each example (decoded, if `decode`) cropped and flipped with a seed
  from its place."""

  def augment(index, example):
    example_seed = tf.random.experimental.stateless_fold_in(epoch_seed, index)
    image, label = example
    if decode is not None:
      image = decode(image)
    if config.image_size:
      return preprocessing.random_crop_resize_flip(
          image, label, example_seed, config.image_size, config.random_flip)
    return preprocessing.pad_crop_flip(image, label, example_seed,
                                       config.random_flip)

  return shuffled.enumerate().map(augment, num_parallel_calls=tf.data.AUTOTUNE,
                                  deterministic=True)


def _is_encoded(examples: tf.data.Dataset) -> bool:
  """Whether the images are still files' bytes (see _examples)."""
  return examples.element_spec[0].dtype == tf.string


def _fixed_shape(examples: tf.data.Dataset) -> bool:
  """Whether every image is decoded with one known shape (CIFAR-10)."""
  return (not _is_encoded(examples)
          and examples.element_spec[0].shape.is_fully_defined())


def _decode(encoded: tf.Tensor, channels: int) -> tf.Tensor:
  """A JPEG, PNG, GIF or BMP file's bytes as a uint8 image of `channels`."""
  image = tf.io.decode_image(encoded, channels=channels,
                             expand_animations=False)
  return tf.ensure_shape(image, [None, None, channels])


def _examples(builder, split: str) -> tf.data.Dataset:
  """The split's (image, label) pairs, as cheaply as they can be held.

  Images of one fixed shape (CIFAR-10, Fashion-MNIST, a local dataset) are
  decoded and cached in memory on first use, if they fit (_MEMORY_SHARE).
  Images of varying size (ImageNet) are read from disk each time and stay
  encoded until after the shuffle, so its buffer holds file bytes rather
  than decoded images (bench/shuffle_memory.py).
  """
  image_feature = builder.info.features[builder.info.supervised_keys[0]]
  if None in tuple(image_feature.shape):
    return _read(builder, split, encoded=True)
  if not _fits_in_memory(builder, split, image_feature.shape):
    return _read(builder, split)
  return _read(builder, split).cache()


def _fits_in_memory(builder, split: str, shape) -> bool:
  """Whether `split`, decoded, takes at most _MEMORY_SHARE of the host's
  memory (True when tfds does not know its size: mock data)."""
  try:
    count = builder.info.splits[split].num_examples
  except KeyError:
    return True
  memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
  return count * np.prod(shape) <= _MEMORY_SHARE * memory


def evaluation_dataset(builder, split: str, batch_size: int,
                       image_size: int = 0) -> tf.data.Dataset:
  """Standardized (central-cropped and resized to image_size, if given),
  batched examples in a fixed order."""
  examples = _examples(builder, split)
  image_feature = builder.info.features[builder.info.supervised_keys[0]]
  channels = image_feature.shape[-1]
  if image_size:
    def preprocess(image, label):
      if _is_encoded(examples):
        image = _decode(image, channels)
      return preprocessing.central_crop_resize(image, image_size), label
  else:
    def preprocess(image, label):
      return preprocessing.standardize(image), label
  dataset = examples.map(
      preprocess, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def load_search_data(config: train_config.DataConfig) -> SearchData:
  """The training and validation data of a search (no test split).

  Raises:
    DatasetUnavailableError: see get_builder.
    ValueError: when the split sizes do not fit the dataset.
  """
  builder = get_builder(config)
  config = _pipeline_config(config)
  info = dataset_info(builder, config)
  examples = _examples(builder, info.train_split)
  return SearchData(
      config=config, info=info, train_examples=examples,
      validation=evaluation_dataset(builder, info.evaluation_split,
                                    config.batch_size, config.image_size),
      num_train_examples=_count(examples, info.num_train_examples))


def _count(examples: tf.data.Dataset, known: int | None) -> int:
  if known is not None:
    return known
  # tfds does not know the split sizes (mock data): count once.
  return int(examples.reduce(0, lambda count, _: count + 1))


def require_labels(examples: tf.data.Dataset, dataset: str,
                   split: str) -> None:
  """Refuses a split whose first example has no label (tfds writes -1).

  Raises:
    DatasetUnavailableError: naming the split and the flag that picks it.
  """
  for _, label in examples.take(1):
    if int(label) < 0:
      raise DatasetUnavailableError(
          f"split {split!r} of {dataset!r} has no labels (they are "
          f"{int(label)}): choose a labelled one with --test_split, e.g. "
          "validation")


def load_final_data(config: train_config.DataConfig,
                    test_split: str = "test") -> FinalData:
  """The data of final training: all of the train split, and `test_split`.

  config.num_train_examples > 0 trains on the first M examples only (a
  scaled-down run); config.validation_size is not used.

  Raises:
    DatasetUnavailableError: see get_builder; or no such test split, or one
      without labels.
  """
  builder = get_builder(config)
  config = _pipeline_config(config)
  splits = builder.info.splits
  if splits and test_split.split("[")[0] not in splits:
    raise DatasetUnavailableError(
        f"dataset {config.dataset!r} has no split {test_split!r} (it has "
        f"{', '.join(sorted(splits))}): choose one with --test_split")
  train_split = (f"train[:{config.num_train_examples}]"
                 if config.num_train_examples else "train")
  require_labels(_read(builder, test_split), config.dataset, test_split)
  info = dataset_info(builder, config, (train_split, test_split))
  examples = _examples(builder, train_split)
  return FinalData(
      config=config, info=info, train_examples=examples,
      num_train_examples=_count(examples, info.num_train_examples),
      test=evaluation_dataset(builder, test_split, config.batch_size,
                              config.image_size))
