"""Finding a tfds image-classification dataset, prepared, or saying how to.

An image folder or an .npz file is prepared as a tfds dataset once
(local_builder.py). For a tfds name, tfds' own prepared data is used when
present; fashion_mnist otherwise comes from Debian's dataset-fashion-mnist
files (debian_fashion_mnist.py); other datasets download on first use where
allowed. Datasets tfds cannot download (imagenet2012) get an error that says
where their files go. Processes that prepare the same dataset at once (a
search's workers) take turns: one prepares it, the others wait and read its
data.

Example:
  builder = get_builder(train_config.DataConfig(dataset="fashion_mnist"))
"""

import os

from absl import logging
import tensorflow_datasets as tfds

from pnas_tf.config import train_config
from pnas_tf.data import debian_fashion_mnist
from pnas_tf.data import local_builder
from pnas_tf.data import local_sources
from pnas_tf.storage import files
from pnas_tf.storage import run_state

# Beside <data_dir>/<name>/, so that preparations of other datasets go on.
_LOCK_SUFFIX = ".prepare.lock"


# Defined with the local datasets' checks, which need no TensorFlow.
DatasetUnavailableError = local_sources.DatasetUnavailableError


def get_builder(config: train_config.DataConfig) -> tfds.core.DatasetBuilder:
  """The tfds builder to read `config.dataset` from, prepared.

  An image folder or .npz file is prepared once (local_builder.py). For a
  tfds name, uses tfds' prepared data if present; for fashion_mnist
  otherwise Debian's local files; otherwise downloads (if allowed).

  Raises:
    DatasetUnavailableError: unknown name, not an image-classification
      dataset, not obtainable here, or local data that cannot be used; the
      message says how to get it or what is wrong and, when a download
      failed, why (the tfds error is also its __cause__).
  """
  if local_sources.local_kind(config.dataset):
    return local_builder.prepared_builder(config, _prepare_once)
  try:
    builder = tfds.builder(config.dataset, data_dir=config.data_dir)
  except tfds.core.DatasetNotFoundError:
    folder = (" nor an image folder (no such directory)"
              if os.sep in config.dataset else "")
    raise DatasetUnavailableError(
        f"unknown dataset {config.dataset!r}: not a tfds dataset name "
        f"(see tfds.list_builders()){folder}") from None
  _check_image_classification(builder)
  if builder.is_prepared():
    return builder
  if (config.dataset == "fashion_mnist"
      and debian_fashion_mnist.files_present()):
    return _offline_fashion_mnist(config)
  hint = (" or install Debian's dataset-fashion-mnist package"
          if config.dataset == "fashion_mnist" else "")
  if not config.download:
    raise _manual_download_error(builder) or DatasetUnavailableError(
        f"dataset {config.dataset!r} is not prepared in "
        f"{builder.data_dir_root} and downloads are off: run once with "
        f"internet and --download{hint}")
  _download_and_prepare(builder, config, hint)
  return builder


def _offline_fashion_mnist(
    config: train_config.DataConfig) -> tfds.core.DatasetBuilder:
  """fashion_mnist prepared from Debian's files (once), with no download."""
  offline = debian_fashion_mnist.DebianFashionMnist(data_dir=config.data_dir)
  if not offline.is_prepared():
    logging.info("Preparing fashion_mnist from %s (once).",
                 debian_fashion_mnist.DEFAULT_DIRECTORY)
    _prepare_once(offline)
  return offline


def _prepare_once(builder: tfds.core.DatasetBuilder) -> None:
  """Prepares `builder`'s data, unless another process does it first.

  Two processes that prepare one dataset at once collide: each writes its
  own copy and renames it to <data_dir>/<name>/<version>, and the second
  rename fails (FileExistsError). So one prepares, under a lock in the data
  directory, while the others wait, then read what it wrote.

  Args:
    builder: an unprepared builder; prepared on return, its info (splits,
      sizes) read from the data.
  """
  root = builder.data_dir_root
  if files.is_url(root):
    # Object stores have no locks: tfds on its own, as before.
    builder.download_and_prepare()
    return
  lock = os.path.join(root, builder.name + _LOCK_SUFFIX)

  def waiting():
    logging.info("Waiting for another process to prepare %s (it holds %s).",
                 builder.name, lock)

  with run_state.file_lock(lock, on_busy=waiting):
    # Checked again: the holder we waited for may have prepared it.
    if not builder.is_prepared():
      builder.download_and_prepare()
      return
  # This builder was made before the data existed, so its info is the
  # code's (no splits); read the prepared data's, as a new builder would.
  builder.info.read_from_directory(builder.data_dir)


def _download_and_prepare(builder: tfds.core.DatasetBuilder,
                          config: train_config.DataConfig, hint: str) -> None:
  """Has tfds download and prepare the dataset (its first use).

  Args:
    builder: the unprepared builder.
    config: the data settings.
    hint: another way to get the dataset, for the error message.

  Raises:
    DatasetUnavailableError: for any error of tfds', which it names in its
      message and chains as its __cause__: the download may have failed,
      but so may the preparation (a full disk, a corrupt archive).
  """
  logging.info("Downloading and preparing %s (first use).", config.dataset)
  try:
    _prepare_once(builder)
  except Exception as error:  # pylint: disable=broad-except
    cause = _one_line(error)
    raise _manual_download_error(builder, cause) or DatasetUnavailableError(
        f"dataset {config.dataset!r} needs a download on first use and it "
        f"failed ({cause}): run once with internet access, or copy "
        f"a prepared {builder.data_dir_root} here{hint}") from error


def _one_line(error: Exception) -> str:
  """The error's type and the first line of its message, for a message."""
  text = str(error).strip()
  if not text:
    return type(error).__name__
  return f"{type(error).__name__}: {text.splitlines()[0][:200]}"


def _manual_download_error(builder: tfds.core.DatasetBuilder,
                           cause: str = "") -> DatasetUnavailableError | None:
  """What to do for a dataset tfds cannot download itself (ImageNet).

  Args:
    builder: the unprepared builder.
    cause: tfds' error, if it tried to prepare the dataset and failed (the
      files may be there but damaged).

  Returns:
    The error to raise, or None if tfds can download the dataset itself.
  """
  manual = getattr(builder, "MANUAL_DOWNLOAD_INSTRUCTIONS", None)
  if not manual:
    return None
  manual_dir = os.path.join(builder.data_dir_root, "downloads", "manual")
  tried = f" (tfds failed with {cause})" if cause else ""
  return DatasetUnavailableError(
      f"dataset {builder.name!r} needs a manual download that tfds cannot "
      f"do: {' '.join(manual.split())} Put the files in {manual_dir} and "
      f"rerun (tfds then prepares it once){tried}")


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
