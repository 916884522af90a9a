"""Fashion-MNIST for tfds from Debian's package, for machines without internet.

Debian's `dataset-fashion-mnist` installs the real Fashion-MNIST IDX files in
/usr/share/datasets/fashion-mnist/, recompressed, so tfds' registered checksums
reject them and its own `fashion_mnist` builder cannot use them. This builder
reads them instead, with the features (28x28x1 uint8 image, 10 named classes)
and splits (train: 60,000, test: 10,000) of tfds' `fashion_mnist`, so the rest
of pnas_tf cannot tell the two apart. datasets.py picks it when tfds' own data
is not prepared and the files are there.

Example:
  builder = DebianFashionMnist()
  builder.download_and_prepare()   # Reads the local files; no network.
  train = builder.as_dataset(split="train", as_supervised=True)
"""

import gzip
import os

import numpy as np
import tensorflow_datasets as tfds

from pnas_tf.storage import files

DEFAULT_DIRECTORY = "/usr/share/datasets/fashion-mnist"
_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_IMAGE_MAGIC, _LABEL_MAGIC = 2051, 2049
IMAGE_SHAPE = (28, 28, 1)


def files_present(directory: str = DEFAULT_DIRECTORY) -> bool:
  """Whether all four Fashion-MNIST files are in `directory`."""
  return all(files.exists(os.path.join(directory, name))
             for pair in _FILES.values() for name in pair)


def _read_idx(path: str, magic: int) -> np.ndarray:
  """Reads a gzipped IDX file (big-endian header, then uint8 data)."""
  with gzip.open(path, "rb") as stream:
    data = stream.read()
  header = np.frombuffer(data, dtype=">i4", count=2)
  if header[0] != magic:
    raise ValueError(f"{path} is not an IDX file of the expected kind "
                     f"(magic {header[0]}, expected {magic})")
  count = int(header[1])
  if magic == _IMAGE_MAGIC:
    rows, cols = np.frombuffer(data, dtype=">i4", count=2, offset=8)
    array = np.frombuffer(data, dtype=np.uint8, offset=16)
    return array.reshape(count, rows, cols, 1)
  return np.frombuffer(data, dtype=np.uint8, offset=8)[:count]


class DebianFashionMnist(tfds.core.GeneratorBasedBuilder):
  """tfds' fashion_mnist, read from Debian's local files."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "fashion_mnist's features, from Debian's files."}

  def __init__(self, *, source_dir: str = DEFAULT_DIRECTORY, **kwargs):
    self._source_dir = source_dir
    super().__init__(**kwargs)

  def _info(self) -> tfds.core.DatasetInfo:
    # The class names are tfds' own for fashion_mnist, read from its builder.
    reference = tfds.builder("fashion_mnist").info.features
    return tfds.core.DatasetInfo(
        builder=self,
        description="Fashion-MNIST from Debian's dataset-fashion-mnist.",
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(shape=IMAGE_SHAPE),
            "label": tfds.features.ClassLabel(
                names=reference["label"].names),
        }),
        supervised_keys=("image", "label"),
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # Nothing to download.
    return {split: self._generate_examples(*names)
            for split, names in _FILES.items()}

  def _generate_examples(self, images_name: str, labels_name: str):
    images = _read_idx(os.path.join(self._source_dir, images_name),
                       _IMAGE_MAGIC)
    labels = _read_idx(os.path.join(self._source_dir, labels_name),
                       _LABEL_MAGIC)
    if len(images) != len(labels):
      raise ValueError(f"{images_name} has {len(images)} images but "
                       f"{labels_name} has {len(labels)} labels")
    for index, (image, label) in enumerate(zip(images, labels)):
      yield index, {"image": image, "label": int(label)}
