"""Finding a tfds image-classification dataset, prepared, or saying how to.

tfds' own prepared data is used when present; fashion_mnist otherwise comes
from Debian's dataset-fashion-mnist files (debian_fashion_mnist.py); other
datasets download on first use where allowed. Datasets tfds cannot download
(imagenet2012) get an error that says where their files go.

Example:
  builder = get_builder(train_config.DataConfig(dataset="fashion_mnist"))
"""

import os

from absl import logging
import tensorflow_datasets as tfds

from pnas_tf.config import train_config
from pnas_tf.data import debian_fashion_mnist


class DatasetUnavailableError(ValueError):
  """The dataset is unknown, unsuitable, or cannot be had without a download."""



def get_builder(config: train_config.DataConfig) -> tfds.core.DatasetBuilder:
  """The tfds builder to read `config.dataset` from, prepared.

  Uses tfds' prepared data if present; for fashion_mnist otherwise Debian's
  local files; otherwise downloads (if allowed).

  Raises:
    DatasetUnavailableError: unknown name, not an image-classification
      dataset, or not obtainable here; the message says how to get it.
  """
  try:
    builder = tfds.builder(config.dataset, data_dir=config.data_dir)
  except tfds.core.DatasetNotFoundError:
    raise DatasetUnavailableError(
        f"unknown dataset {config.dataset!r}: not a tfds dataset name "
        "(see tfds.list_builders())") from None
  _check_image_classification(builder)
  if builder.is_prepared():
    return builder
  if (config.dataset == "fashion_mnist"
      and debian_fashion_mnist.files_present()):
    offline = debian_fashion_mnist.DebianFashionMnist(data_dir=config.data_dir)
    if not offline.is_prepared():
      logging.info("Preparing fashion_mnist from %s (once).",
                   debian_fashion_mnist.DEFAULT_DIRECTORY)
      offline.download_and_prepare()
    return offline
  hint = (" or install Debian's dataset-fashion-mnist package"
          if config.dataset == "fashion_mnist" else "")
  if not config.download:
    raise _manual_download_error(builder) or DatasetUnavailableError(
        f"dataset {config.dataset!r} is not prepared in "
        f"{builder.data_dir_root} and downloads are off: run once with "
        f"internet and --download{hint}")
  logging.info("Downloading and preparing %s (first use).", config.dataset)
  try:
    builder.download_and_prepare()
  except Exception as error:  # pylint: disable=broad-except
    text = str(error).strip()
    first_line = text.splitlines()[0] if text else type(error).__name__
    raise _manual_download_error(builder) or DatasetUnavailableError(
        f"dataset {config.dataset!r} needs a download on first use and it "
        f"failed ({first_line[:200]}): run once with internet access, or copy "
        f"a prepared {builder.data_dir_root} here{hint}") from None
  return builder


def _manual_download_error(builder) -> DatasetUnavailableError | None:
  """What to do for a dataset tfds cannot download itself (ImageNet)."""
  manual = getattr(builder, "MANUAL_DOWNLOAD_INSTRUCTIONS", None)
  if not manual:
    return None
  manual_dir = os.path.join(builder.data_dir_root, "downloads", "manual")
  return DatasetUnavailableError(
      f"dataset {builder.name!r} needs a manual download that tfds cannot "
      f"do: {' '.join(manual.split())} Put the files in {manual_dir} and "
      "rerun (tfds then prepares it once)")


def _check_image_classification(builder: tfds.core.DatasetBuilder) -> None:
  features = builder.info.features
  keys = builder.info.supervised_keys
  if (not keys or len(keys) != 2
      or not isinstance(features[keys[0]], tfds.features.Image)
      or not isinstance(features[keys[1]], tfds.features.ClassLabel)):
    raise DatasetUnavailableError(
        f"dataset {builder.name!r} is not an image-classification dataset "
        "(it needs supervised keys (image, label) with an Image and a "
        "ClassLabel feature)")
