"""Your own images: what an image folder or an .npz file holds, checked.

A --dataset that names an existing directory is an image folder, one that
ends in .npz a NumPy file (docs/datasets.md); anything else is a tfds name.
This module lists and checks them, with no TensorFlow: which files or arrays
make each split, and the class names. local_builder.py then decodes and
resizes them once into a tfds dataset.

An image folder has one of two layouts:
  <dir>/train/<class>/<image>, <dir>/test/<class>/<image>  (tfds' ImageFolder;
      any other folder beside train/, such as val/, is a split too);
  <dir>/<class>/<image>  (flat: no test split).
Class names are the class folders' names in train/ (or <dir>), sorted.
Names starting with "." (.DS_Store, .ipynb_checkpoints) are not data and
are left out. An .npz holds x_train, y_train and optionally x_test, y_test
and class_names (keras.datasets' names): uint8 images (n, h, w) or
(n, h, w, c) with c 1 or 3, integer labels (n,) or (n, 1).

A dataset without a test split (a flat folder, a split folder without
test/, an .npz without x_test) gets one set aside once: TEST_FRACTION of
each class's images (at least one), chosen with a fixed seed, the same for
every run and every binary; the search never sees them, as with a test/.
Anything that cannot be used as it is, is refused with a message naming it,
never left out quietly: an empty folder, one class, a class folder without
images, a class in test/ but not in train/, files outside a class folder,
labels out of range, arrays of different lengths.

Example:
  if local_kind("/data/flowers") == FOLDER:
    source = scan_folder("/data/flowers")
    source.class_names, source.splits["train"].paths
"""

import dataclasses
import io
import os
import re
from typing import Any, Mapping

import numpy as np

from pnas_tf.storage import files

FOLDER = "folder"
NPZ = "npz"
# The share of each class set aside as the test split when there is none,
# and the seed that chooses it (fixed: every run sets aside the same).
TEST_FRACTION = 0.1
_CARVE_SEED = 0
# Bad files named in full before "and N more".
_NAMED = 5
_ARRAY_KEYS = ("x_train", "y_train", "x_test", "y_test", "class_names")


class DatasetUnavailableError(ValueError):
  """The dataset is unknown, unsuitable, or cannot be had without a download."""


@dataclasses.dataclass(frozen=True)
class Split:
  """One split's examples: image files (paths) or images (an array).

  Attributes:
    labels: int64 (n,), class ids.
    paths: the image files, for a folder.
    images: uint8 (n, h, w, c), for an .npz.
  """
  labels: np.ndarray
  paths: tuple[str, ...] = ()
  images: np.ndarray | None = None

  def subset(self, indices: np.ndarray) -> "Split":
    return Split(labels=self.labels[indices],
                 paths=tuple(self.paths[i] for i in indices) if self.paths
                 else (),
                 images=None if self.images is None else self.images[indices])


@dataclasses.dataclass(frozen=True)
class Source:
  """A local dataset, checked: its classes and splits.

  Attributes:
    class_names: the classes, in label order.
    splits: by tfds split name; always has "train" and "test".
    test_set_aside: whether "test" was set aside from the training images.
  """
  class_names: tuple[str, ...]
  splits: dict[str, Split]
  test_set_aside: bool = False


def local_kind(dataset: str) -> str | None:
  """FOLDER for an existing directory, NPZ for a .npz path, else None (a
  tfds name)."""
  if dataset.endswith(".npz"):
    return NPZ
  return FOLDER if files.isdir(dataset) else None


def _visible(directory: str) -> list[str]:
  """The names in `directory`, sorted, hidden ones (".name") left out."""
  return sorted(name for name in files.listdir(directory)
                if not name.startswith("."))


def named(paths: list[str]) -> str:
  """The first few of `paths`, and how many more (for one-line messages)."""
  shown = ", ".join(paths[:_NAMED])
  more = len(paths) - _NAMED
  return f"{shown} and {more} more" if more > 0 else shown


def _class_folders(directory: str, root: str) -> dict[str, list[str]]:
  """Class name -> its image files, for the class folders in `directory`.

  Raises:
    DatasetUnavailableError: a file outside a class folder, or a folder
      inside one.
  """
  entries = [(name, os.path.join(directory, name))
             for name in _visible(directory)]
  loose = [path for _, path in entries if not files.isdir(path)]
  if loose:
    raise DatasetUnavailableError(
        f"{named(loose)}: not in a class folder; an image folder holds "
        f"{root}/<class>/<image> or {root}/train/<class>/<image>")
  classes = {}
  for name, path in entries:
    images = [os.path.join(path, entry) for entry in _visible(path)]
    nested = [image for image in images if files.isdir(image)]
    if nested:
      raise DatasetUnavailableError(
          f"{named(nested)}: a folder inside class folder {path}; a "
          "class's images go directly in its folder")
    classes[name] = images
  return classes


def scan_folder(root: str) -> Source:
  """The image files of folder `root`, by split and class (module docstring).

  Files are not opened here: local_builder.py decodes every one and names
  those that are not images.

  Raises:
    DatasetUnavailableError: naming what is wrong (module docstring).
  """
  names = _visible(root)
  if "train" in names and files.isdir(os.path.join(root, "train")):
    loose = [os.path.join(root, name) for name in names
             if not files.isdir(os.path.join(root, name))]
    if loose:
      raise DatasetUnavailableError(
          f"{named(loose)}: not in a split folder; beside {root}/train/ "
          "there are only split folders such as test/")
    bad = [name for name in names if not re.fullmatch(r"\w+", name)]
    if bad:
      raise DatasetUnavailableError(
          f"{root}: split folder names are letters, digits and _, not "
          f"{', '.join(bad)}")
    splits = {name: _class_folders(os.path.join(root, name), root)
              for name in names}
    train_dir = os.path.join(root, "train")
  else:
    splits = {"train": _class_folders(root, root)}
    train_dir = root
  class_names = tuple(splits["train"])
  _check_classes(class_names, splits["train"], train_dir, root)
  for split, classes in splits.items():
    if not any(classes.values()):
      raise DatasetUnavailableError(f"{os.path.join(root, split)} holds no "
                                    "images in class folders")
    unknown = sorted(set(classes) - set(class_names))
    if unknown:
      raise DatasetUnavailableError(
          f"{os.path.join(root, split, unknown[0])}: class {unknown[0]!r} has "
          f"no folder in {train_dir}, so no training images")
  return _with_test(class_names, {
      split: _file_split(classes, class_names)
      for split, classes in splits.items()}, train_dir)


def _check_classes(class_names: tuple[str, ...],
                   train: dict[str, list[str]], train_dir: str,
                   root: str) -> None:
  if not class_names:
    raise DatasetUnavailableError(
        f"{root} holds no class folders: an image folder holds "
        f"{root}/<class>/<image> or {root}/train/<class>/<image>")
  empty = [os.path.join(train_dir, name) for name, paths in train.items()
           if not paths]
  if empty:
    raise DatasetUnavailableError(f"{named(empty)}: class folder without "
                                  "images")
  if len(class_names) < 2:
    raise DatasetUnavailableError(
        f"{train_dir} has one class ({class_names[0]}): a classifier needs "
        "at least two")


def _file_split(classes: dict[str, list[str]],
                class_names: tuple[str, ...]) -> Split:
  paths, labels = [], []
  for name, images in classes.items():
    paths += images
    labels += [class_names.index(name)] * len(images)
  return Split(labels=np.array(labels, np.int64), paths=tuple(paths))


def _with_test(class_names: tuple[str, ...], splits: dict[str, Split],
               where: str) -> Source:
  """`splits` with a test split, set aside from train if there is none."""
  if "test" in splits:
    return Source(class_names=class_names, splits=splits)
  train, test = set_aside(splits["train"].labels, class_names, where)
  return Source(class_names=class_names,
                splits={**splits, "train": splits["train"].subset(train),
                        "test": splits["train"].subset(test)},
                test_set_aside=True)


def set_aside(labels: np.ndarray, class_names: tuple[str, ...],
              where: str) -> tuple[np.ndarray, np.ndarray]:
  """(training, test) indices: TEST_FRACTION of each class (at least one)
  in the test split, chosen with a fixed seed.

  Raises:
    DatasetUnavailableError: a class with one example, which cannot be in
      both.
  """
  rng = np.random.RandomState(_CARVE_SEED)
  test = []
  for label, name in enumerate(class_names):
    members = np.flatnonzero(labels == label)
    if len(members) < 2:
      raise DatasetUnavailableError(
          f"{where}: class {name!r} has {len(members)} image(s), but a test "
          "split is set aside from the training images and needs one of "
          "each class, leaving one to train on; add images, or give a test "
          "split (<dir>/test/<class>/, or x_test and y_test)")
    count = max(1, round(len(members) * TEST_FRACTION))
    test.append(members[rng.permutation(len(members))[:count]])
  test = np.sort(np.concatenate(test))
  return np.setdiff1d(np.arange(len(labels)), test), test


def read_npz(path: str) -> Source:
  """The checked arrays of the .npz file `path` (module docstring).

  Raises:
    DatasetUnavailableError: no such file, not an .npz, or bad arrays.
  """
  if not files.exists(path):
    raise DatasetUnavailableError(f"no such file {path}")
  try:
    with files.open_file(path, "rb") as stream:
      data = np.load(io.BytesIO(stream.read()), allow_pickle=False)
      arrays = {name: data[name] for name in data.files}
  except (OSError, ValueError) as error:
    raise DatasetUnavailableError(
        f"{path} is not a NumPy .npz file ({error})") from None
  return check_arrays(arrays, path)


def check_arrays(arrays: Mapping[str, Any], where: str) -> Source:
  """`arrays` (an .npz's, or a notebook's) as a checked Source.

  Args:
    arrays: x_train, y_train, and optionally x_test, y_test, class_names.
    where: what to name in messages (the file).

  Raises:
    DatasetUnavailableError: naming the first bad array.
  """
  unknown = sorted(set(arrays) - set(_ARRAY_KEYS))
  if unknown:
    raise DatasetUnavailableError(
        f"{where}: unknown array(s) {', '.join(unknown)}; the arrays are "
        f"{', '.join(_ARRAY_KEYS)}")
  for name in ("x_train", "y_train"):
    if name not in arrays:
      raise DatasetUnavailableError(f"{where} has no {name}")
  if ("x_test" in arrays) != ("y_test" in arrays):
    raise DatasetUnavailableError(
        f"{where}: x_test and y_test go together; it has only "
        f"{'x_test' if 'x_test' in arrays else 'y_test'}")
  splits = {split: _array_split(arrays, split, where)
            for split in ("train", "test") if f"x_{split}" in arrays}
  class_names = _class_names(arrays, splits["train"].labels, where)
  for split, data in splits.items():
    bad = data.labels[(data.labels < 0) | (data.labels >= len(class_names))]
    if bad.size:
      whose = "the class_names" if "class_names" in arrays else "y_train's"
      labels = [str(label) for label in sorted(set(bad.tolist()))]
      raise DatasetUnavailableError(
          f"{where}: y_{split} has labels out of range ({named(labels)}): "
          f"{whose} {len(class_names)} classes have labels 0 to "
          f"{len(class_names) - 1}")
  counts = np.bincount(splits["train"].labels, minlength=len(class_names))
  missing = [class_names[label] for label in np.flatnonzero(counts == 0)]
  if missing:
    raise DatasetUnavailableError(
        f"{where}: y_train has no example of class(es) {named(missing)}")
  return _with_test(class_names, splits, where)


def _array_split(arrays: Mapping[str, Any], split: str, where: str) -> Split:
  x_name, y_name = f"x_{split}", f"y_{split}"
  images, labels = np.asarray(arrays[x_name]), np.asarray(arrays[y_name])
  if images.dtype != np.uint8:
    raise DatasetUnavailableError(
        f"{where}: {x_name} is {images.dtype}; images are uint8 (0 to 255)")
  if images.ndim == 3:
    images = images[..., np.newaxis]
  if images.ndim != 4 or images.shape[-1] not in (1, 3):
    raise DatasetUnavailableError(
        f"{where}: {x_name} has shape {images.shape}; images are (n, height, "
        "width) or (n, height, width, channels) with 1 or 3 channels")
  if labels.ndim == 2 and labels.shape[1] == 1:
    labels = labels[:, 0]  # keras.datasets' (n, 1) labels.
  if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
    raise DatasetUnavailableError(
        f"{where}: {y_name} has shape {labels.shape} and dtype "
        f"{labels.dtype}; labels are integers, (n,) or (n, 1)")
  if len(images) != len(labels):
    raise DatasetUnavailableError(
        f"{where}: {x_name} has {len(images)} images but {y_name} has "
        f"{len(labels)} labels")
  if not len(images):
    raise DatasetUnavailableError(f"{where}: {x_name} has no images")
  return Split(labels=labels.astype(np.int64), images=images)


def _class_names(arrays: Mapping[str, Any], train_labels: np.ndarray,
                 where: str) -> tuple[str, ...]:
  """The class_names array, or the labels as text ("0", "1", ...)."""
  if "class_names" in arrays:
    names = tuple(str(name) for name in np.asarray(arrays["class_names"])
                  .reshape(-1))
    if len(set(names)) != len(names):
      raise DatasetUnavailableError(f"{where}: class_names has duplicates")
  else:
    names = tuple(str(label) for label in range(
        max(int(train_labels.max()) + 1, 0)))
  if len(names) < 2:
    raise DatasetUnavailableError(
        f"{where}: {len(names)} class(es) ({', '.join(names)}): a classifier "
        "needs at least two")
  return names
