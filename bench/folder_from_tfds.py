r"""Writes a tfds image dataset out as an image folder of PNG files.

Real images in a folder, to try --dataset=<folder> on when none are at hand:
--source_dataset's first --num_train training and --num_test test images
become <folder_dir>/train/<class>/<n>.png and <folder_dir>/test/<class>/<n>.png
(the split layout of docs/datasets.md), the class folders named after the
dataset's classes ("/" in a name becomes "_"). Fashion-MNIST works offline (Debian's files).

Example:
  python bench/folder_from_tfds.py --source_dataset=fashion_mnist \
      --folder_dir=/tmp/fashion_png --num_train=6000 --num_test=1000
"""

import os

from absl import app
from absl import flags
import tensorflow as tf

from pnas_tf.config import train_config
from pnas_tf.data import datasets

_DATASET = flags.DEFINE_string("source_dataset", "fashion_mnist",
                               "The tfds image-classification dataset.")
_FOLDER_DIR = flags.DEFINE_string("folder_dir", None,
                                  "The image folder to write (new or empty).")
_NUM_TRAIN = flags.DEFINE_integer("num_train", 6000, "Training images.",
                                  lower_bound=1)
_NUM_TEST = flags.DEFINE_integer("num_test", 1000, "Test images.",
                                 lower_bound=1)


def write_folder(dataset: str, output_dir: str, counts: dict[str, int]
                 ) -> dict[str, int]:
  """Writes the first counts[split] images of each split as PNG files.

  Returns:
    The images written, by split.
  """
  builder = datasets.get_builder(train_config.DataConfig(dataset=dataset))
  # A folder's name cannot hold "/" (Fashion-MNIST's "T-shirt/top").
  names = [name.replace("/", "_")
           for name in builder.info.features["label"].names]
  written = {}
  for split, count in counts.items():
    examples = builder.as_dataset(split=split, as_supervised=True,
                                  shuffle_files=False).take(count)
    written[split] = 0
    for index, (image, label) in enumerate(examples.as_numpy_iterator()):
      path = os.path.join(output_dir, split, names[label], f"{index}.png")
      os.makedirs(os.path.dirname(path), exist_ok=True)
      tf.io.write_file(path, tf.io.encode_png(image))
      written[split] += 1
  return written


def main(argv):
  del argv
  if not _FOLDER_DIR.value:
    raise app.UsageError("--folder_dir is required")
  if os.path.exists(_FOLDER_DIR.value) and os.listdir(_FOLDER_DIR.value):
    raise app.UsageError(f"--folder_dir {_FOLDER_DIR.value} is not empty")
  written = write_folder(_DATASET.value, _FOLDER_DIR.value,
                         {"train": _NUM_TRAIN.value, "test": _NUM_TEST.value})
  print(f"{_FOLDER_DIR.value}: " + ", ".join(
      f"{count} {split} images" for split, count in written.items()))


if __name__ == "__main__":
  app.run(main)
