"""Image folders and .npz files written for tests, in temporary directories.

Images come in several sizes, as PNG and JPEG, gray and colour, each class
a different mean brightness (so that a network can tell them apart).

Example:
  root = write_folder(self.create_tempdir().full_path, {"train": 6, "test": 2})
"""

import os

import numpy as np

CLASSES = ("cat", "dog", "eel")
# (height, width) of the images, in turn.
SIZES = ((20, 30), (48, 48), (64, 40), (33, 33))


def image(index: int, label: int, gray: bool = False) -> np.ndarray:
  """A uint8 image of SIZES[index % 4], around brightness 60 + 70 * label."""
  rng = np.random.RandomState(index * 7 + label)
  height, width = SIZES[index % len(SIZES)]
  channels = 1 if gray else 3
  noise = rng.randint(-30, 31, (height, width, channels))
  return np.clip(60 + 70 * label + noise, 0, 255).astype(np.uint8)


def encoded(array: np.ndarray, index: int) -> tuple[bytes, str]:
  """`array` as PNG (even index) or JPEG (odd), and the file's suffix."""
  # pylint: disable-next=g-import-not-at-top
  import tensorflow as tf  # Only for writing real images.
  if index % 2:
    return tf.io.encode_jpeg(array).numpy(), "jpg"
  return tf.io.encode_png(array).numpy(), "png"


def write_folder(root: str, per_class: dict[str, int] | int,
                 classes=CLASSES, gray_only: bool = False) -> str:
  """Writes <root>/<split>/<class>/<i>.<png|jpg>, or <root>/<class>/... when
  `per_class` is a count (the flat layout); returns `root`.

  Every third image is gray (all of them with `gray_only`).
  """
  splits = per_class if isinstance(per_class, dict) else {"": per_class}
  for split, count in splits.items():
    for label, name in enumerate(classes):
      directory = os.path.join(root, split, name)
      os.makedirs(directory, exist_ok=True)
      for index in range(count):
        data, suffix = encoded(
            image(index, label, gray=gray_only or index % 3 == 2), index)
        with open(os.path.join(directory, f"{index}.{suffix}"), "wb") as f:
          f.write(data)
  return root


def arrays(count: int, num_classes: int = 3, size: int = 12,
           channels: int | None = 3, seed: int = 0) -> tuple[np.ndarray,
                                                            np.ndarray]:
  """(x, y): `count` uint8 images (n, S, S, C), or (n, S, S) for channels
  None, with labels 0, 1, ..., num_classes - 1 in turn."""
  rng = np.random.RandomState(seed)
  labels = np.arange(count) % num_classes
  shape = (count, size, size) + ((channels,) if channels else ())
  noise = rng.randint(-30, 31, shape)
  brightness = (60 + 70 * labels).reshape((-1,) + (1,) * (len(shape) - 1))
  return np.clip(brightness + noise, 0, 255).astype(np.uint8), labels
