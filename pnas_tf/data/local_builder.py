"""Your own images as a tfds dataset: decoded, checked and resized once.

An image folder or an .npz file (local_sources.py) becomes a tfds dataset of
S x S images (DataConfig.image_size), so the input pipeline (datasets.py)
reads it as it reads CIFAR-10: from tfds' records, decoded once into memory
on first use. Each image is resized whole to S x S (bilinear, antialiased;
the aspect ratio is not kept, as the served model resizes a request) and
converted to the dataset's channels: 1 if every image is gray, else 3
(gray images made RGB, alpha dropped). Every file is decoded first, so a
file that is not a JPEG, PNG, GIF or BMP image is named before anything is
written or trained.

The dataset is written to <data_dir>/local_images/<name>_<fingerprint>/,
where the fingerprint covers S and every file's path, size and modification
time: a changed folder or file is prepared anew, an unchanged one is read
as it is, by every later run and every child of a search.

Example:
  builder = prepared_builder(
      train_config.DataConfig(dataset="/data/flowers", image_size=64),
      prepare=lambda builder: builder.download_and_prepare())
  builder.as_dataset(split="train", as_supervised=True)
"""

import hashlib
import os
import re
from typing import Callable, Iterator

from absl import logging
import tensorflow as tf
import tensorflow_datasets as tfds

from pnas_tf.config import train_config
from pnas_tf.data import local_sources
from pnas_tf.storage import files

NAME = "local_images"
# Changes with what preparation writes, so that older copies are not read.
FORMAT_VERSION = "1.0.0"
_INFO_FILE = "dataset_info.json"


class LocalImages(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """A checked local_sources.Source, written as S x S images of C channels."""

  VERSION = tfds.core.Version(FORMAT_VERSION)
  RELEASE_NOTES = {FORMAT_VERSION: "Images resized once to S x S."}

  def __init__(self, *, source: local_sources.Source, image_size: int,
               channels: int, fingerprint: str, **kwargs):
    self._source = source
    self._image_size = image_size
    self._channels = channels
    config = tfds.core.BuilderConfig(
        name=fingerprint, version=FORMAT_VERSION,
        release_notes=self.RELEASE_NOTES,
        description=f"{image_size}x{image_size}x{channels}")
    super().__init__(config=config, **kwargs)

  def _info(self) -> tfds.core.DatasetInfo:
    size = self._image_size
    return tfds.core.DatasetInfo(
        builder=self,
        description="Local images, resized to S x S (pnas_tf.data).",
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(shape=(size, size, self._channels)),
            "label": tfds.features.ClassLabel(
                names=list(self._source.class_names)),
        }),
        supervised_keys=("image", "label"))

  def _split_generators(self, dl_manager):
    del dl_manager  # Nothing to download.
    return {name: self._generate_examples(split)
            for name, split in self._source.splits.items()}

  def _generate_examples(self, split: local_sources.Split) -> Iterator:
    encoded = _resized_png(split, self._image_size, self._channels)
    # A file's key is <class>/<name>, so its place in tfds' (hashed) order
    # does not depend on where the folder is.
    keys = ([os.path.join(os.path.basename(os.path.dirname(path)),
                          os.path.basename(path)) for path in split.paths]
            or range(len(split.labels)))
    for key, (image, label) in zip(keys, encoded.as_numpy_iterator()):
      yield key, {"image": image, "label": int(label)}


def _resized_png(split: local_sources.Split, size: int,
                 channels: int) -> tf.data.Dataset:
  """(PNG bytes of the S x S image, label) for each example, in order."""

  def resize(image):
    image = tf.image.resize(tf.cast(image, tf.float32), (size, size),
                            antialias=True)
    return tf.io.encode_png(tf.cast(tf.clip_by_value(tf.round(image), 0, 255),
                                    tf.uint8))

  if split.paths:
    def load(path, label):
      image = tf.io.decode_image(tf.io.read_file(path),
                                 expand_animations=False)
      return resize(_with_channels(image, channels)), label
    examples = tf.data.Dataset.from_tensor_slices(
        (list(split.paths), split.labels))
  else:
    def load(image, label):
      if channels == 3 and image.shape[-1] == 1:
        image = tf.image.grayscale_to_rgb(image)
      return resize(image), label
    # A generator, not from_tensor_slices: that would put the arrays in
    # the graph, which holds at most 2 GB.
    images, labels = split.images, split.labels
    examples = tf.data.Dataset.from_generator(
        lambda: zip(images, labels),
        output_signature=(tf.TensorSpec(images.shape[1:], tf.uint8),
                          tf.TensorSpec((), tf.int64)))
  return examples.map(load, num_parallel_calls=tf.data.AUTOTUNE,
                      deterministic=True).prefetch(tf.data.AUTOTUNE)


def _with_channels(image: tf.Tensor, channels: int) -> tf.Tensor:
  """A decoded image of 1 to 4 channels with `channels` (1 or 3) instead.

  Not decode_image's own conversion: its BMP decoder makes no gray images.
  A dataset has 1 channel only if every image is gray (channels_of).
  """
  gray = image[..., :1]  # Of gray, or of gray and alpha.
  if channels == 1:
    return gray
  return tf.ensure_shape(
      tf.cond(tf.shape(image)[-1] < 3,
              lambda: tf.image.grayscale_to_rgb(gray),
              lambda: image[..., :3]), [None, None, 3])


def channels_of(source: local_sources.Source) -> int:
  """The dataset's channels: 1 if every image is gray, else 3.

  Decodes every file of a folder once, to find the unreadable ones.

  Raises:
    local_sources.DatasetUnavailableError: naming every file that cannot be
      read or is not a JPEG, PNG, GIF or BMP image, and their count.
  """
  splits = source.splits.values()
  if not any(split.paths for split in splits):
    return max(split.images.shape[-1] for split in splits)
  paths = [path for split in splits for path in split.paths]
  found = _file_channels(paths)
  bad = sorted(path for index, path in enumerate(paths) if index not in found)
  if bad:
    if len(bad) > 1:
      logging.error("Not images: %s", ", ".join(bad))
    raise local_sources.DatasetUnavailableError(
        f"{len(bad)} file(s) unreadable or not a JPEG, PNG, GIF or BMP "
        f"image: {local_sources.named(bad)}; remove or convert them")
  # 2 channels: gray and alpha.
  return 1 if max(found.values()) <= 2 else 3


def _file_channels(paths: list[str]) -> dict[int, int]:
  """The channels of each file that decodes, by its index in `paths`."""

  def probe(index, path):
    image = tf.io.decode_image(tf.io.read_file(path), expand_animations=False)
    return index, tf.shape(image)[-1]

  probes = tf.data.Dataset.from_tensor_slices(paths).enumerate().map(
      probe, num_parallel_calls=tf.data.AUTOTUNE)
  return dict(probes.ignore_errors().as_numpy_iterator())


def _fingerprint(path: str, source: local_sources.Source | None,
                 image_size: int) -> str:
  """What the prepared copy depends on: S and every file's path, size and
  modification time (the .npz itself, or the folder's images)."""
  digest = hashlib.sha256(
      f"{FORMAT_VERSION}\n{path}\n{image_size}\n".encode())
  listed = ([file for split in source.splits.values() for file in split.paths]
            if source else [path])
  for file in sorted(listed):
    stat = tf.io.gfile.stat(file)
    digest.update(f"{file}\n{stat.length}\n{stat.mtime_nsec}\n".encode())
  return digest.hexdigest()[:16]


def prepared_builder(config: train_config.DataConfig,
                     prepare: Callable[[tfds.core.DatasetBuilder], None]
                     ) -> tfds.core.DatasetBuilder:
  """The tfds builder of local dataset `config.dataset`, prepared.

  Args:
    config: the data settings; config.image_size is S (>= 1).
    prepare: prepares an unprepared builder (dataset_builders' one process
      at a time).

  Returns:
    A builder that reads the prepared copy.

  Raises:
    local_sources.DatasetUnavailableError: naming what cannot be used.
  """
  path = files.absolute(config.dataset)
  if local_sources.local_kind(path) == local_sources.FOLDER:
    source = local_sources.scan_folder(path)
  else:
    source = None  # Read only if it is not prepared yet.
    if not files.exists(path):
      raise local_sources.DatasetUnavailableError(f"no such file {path}")
  if config.image_size < 1:
    raise local_sources.DatasetUnavailableError(
        f"{path}: its images need a size to be resized to (image_size)")
  name = re.sub(r"\W", "_", os.path.basename(path.rstrip("/")))
  fingerprint = f"{name}_{_fingerprint(path, source, config.image_size)}"
  root = config.data_dir or os.path.expanduser(tfds.core.constants.DATA_DIR)
  directory = os.path.join(root, NAME, fingerprint, FORMAT_VERSION)
  if not files.exists(os.path.join(directory, _INFO_FILE)):
    source = source or local_sources.read_npz(path)
    channels = channels_of(source)
    if source.test_set_aside:
      logging.info("%s has no test split: %d of its images (%.0f%% of each "
                   "class) are set aside as one.", path,
                   len(source.splits["test"].labels),
                   100 * local_sources.TEST_FRACTION)
    logging.info("Preparing %s as %dx%dx%d images in %s (once).", path,
                 config.image_size, config.image_size, channels, directory)
    prepare(LocalImages(source=source, image_size=config.image_size,
                        channels=channels, fingerprint=fingerprint,
                        data_dir=root))
  return tfds.builder_from_directory(directory)

