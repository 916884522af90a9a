"""Your own images through the binaries: a whole search on an image folder,
final training on a flat folder, a child on an .npz, predict's class names,
--image_size, and every kind of bad data refused in one line, exit 2, with
nothing written."""

import contextlib
import io
import json
import os
import subprocess
import sys

from absl.testing import flagsaver
from absl.testing import parameterized
import numpy as np
import tensorflow as tf

import image_folders
from pnas_tf import predict
from pnas_tf import search
from pnas_tf import train_child
from pnas_tf import train_final
from pnas_tf.cli import usage
from pnas_tf.serving import export

search.define_flags()
train_final.define_flags()
train_child.define_flags()
predict.define_flags()

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# A whole search in seconds (as search_test.py's): one operator, B = 2,
# K = 2, tiny networks trained in this process.
_TINY = dict(epochs=1, filters=4, num_cells_per_stack=1, batch_size=8,
             validation_size=6, operations=["max3x3"], max_blocks=2,
             beam_size=2, export_top=1, predictor="mlp", predictor_epochs=2,
             isolate_children=False)
_CELL = "sep3x3:0+max3x3:1"


def _served_names(model_dir: str, image: np.ndarray) -> list[str]:
  """The class names serving_bytes gives a PNG of `image`, best first."""
  served = tf.saved_model.load(model_dir)
  outputs = served.signatures[export.BYTES_SIGNATURE](
      image_bytes=tf.constant([tf.io.encode_png(image).numpy()]))
  return [name.decode() for name in outputs["class_names"].numpy()[0]]


class ImageFolderBinariesTest(tf.test.TestCase, parameterized.TestCase):

  def setUp(self):
    super().setUp()
    self.root = self.create_tempdir().full_path
    self.data_dir = os.path.join(self.root, "tfds")
    self.output_dir = os.path.join(self.root, "out")

  def _search(self, dataset, **overrides):
    search.define_flags()  # The search's defaults, whoever set theirs last.
    settings = dict(_TINY, dataset=dataset, data_dir=self.data_dir,
                    output_dir=self.output_dir, **overrides)
    with flagsaver.flagsaver(**settings):
      return search.main(["search"])

  def test_a_whole_search_on_an_image_folder(self):
    folder = image_folders.write_folder(os.path.join(self.root, "images"),
                                        {"train": 8, "test": 2})
    self.assertEqual(self._search(folder, export_formats=["onnx"]), 0)
    with open(os.path.join(self.output_dir, "summary.json")) as stream:
      self.assertLen(json.load(stream), 3 + 2)
    with open(os.path.join(self.output_dir, "search.json")) as stream:
      recorded = json.load(stream)["settings"]
    # cifar_search's input size, by default; the folder as an absolute path.
    self.assertEqual((recorded["dataset"], recorded["image_size"]),
                     (folder, 32))
    model_dir = os.path.join(self.output_dir, "export", "pnas_1")
    version = max(int(name) for name in os.listdir(model_dir)
                  if name.isdigit())
    names = _served_names(os.path.join(model_dir, str(version)),
                          image_folders.image(1, 2))
    self.assertCountEqual(names[:3], image_folders.CLASSES)
    # --export_formats reaches the search's exports, with the class names.
    with open(os.path.join(model_dir, str(version), "labels.txt")) as stream:
      self.assertEqual(stream.read().split(), list(image_folders.CLASSES))
    self.assertTrue(os.path.exists(os.path.join(model_dir, str(version),
                                                "model.onnx")))
    # Another size means other results: refused on the same directory.
    with self.assertRaisesRegex(usage.UsageError,
                                "--image_size=32 before, 16 now"):
      self._search(folder, image_size=16)

  def test_final_training_on_a_flat_folder_then_predict(self):
    folder = image_folders.write_folder(os.path.join(self.root, "images"), 10)
    train_final.define_flags()
    with flagsaver.flagsaver(
        cell=_CELL, dataset=folder, data_dir=self.data_dir, epochs=1,
        filters=4, num_cells_per_stack=1, batch_size=8, image_size=16,
        output_dir=self.output_dir, verbose=0, export_formats=["tflite"]):
      with contextlib.redirect_stdout(io.StringIO()):
        self.assertEqual(train_final.main(["train_final"]), 0)
    with open(os.path.join(self.output_dir, "result.json")) as stream:
      record = json.load(stream)
    # 10% of each class's 10 images, set aside as the test split.
    self.assertEqual(record["result"]["test_examples"], 3)
    self.assertEqual(record["dataset"]["class_names"],
                     list(image_folders.CLASSES))
    self.assertEqual(record["network"]["image_size"], 16)
    self.assertCountEqual(_served_names(record["export"],
                                        image_folders.image(0, 0))[:3],
                          image_folders.CLASSES)
    # --export_formats=tflite: both TFLite files beside the SavedModel.
    self.assertContainsSubset(
        {"model.tflite", "model_uint8.tflite", "labels.txt", "saved_model.pb"},
        os.listdir(record["export"]))
    photo = os.path.join(self.root, "photo.jpg")
    with open(photo, "wb") as stream:
      stream.write(image_folders.encoded(image_folders.image(1, 1), 1)[0])
    predict.define_flags()
    output = io.StringIO()
    with flagsaver.flagsaver(model=os.path.dirname(record["export"]),
                             top_k=3):
      with contextlib.redirect_stdout(output):
        self.assertEqual(predict.main(["predict", photo]), 0)
    lines = output.getvalue().splitlines()
    self.assertEqual(lines[0], photo)
    self.assertCountEqual([line.split()[1] for line in lines[1:]],
                          image_folders.CLASSES)

  def test_a_child_on_an_npz(self):
    x, y = image_folders.arrays(24, channels=None)
    path = os.path.join(self.root, "data.npz")
    np.savez(path, x_train=x, y_train=y,
             class_names=np.array(["low", "mid", "high"]))
    train_child.define_flags()
    with flagsaver.flagsaver(
        cell=_CELL, dataset=path, data_dir=self.data_dir, epochs=1,
        filters=4, num_cells_per_stack=1, batch_size=8, validation_size=6,
        image_size=12, output_dir=self.output_dir):
      with contextlib.redirect_stdout(io.StringIO()):
        self.assertEqual(train_child.main(["train_child"]), 0)
    with open(os.path.join(self.output_dir, "result.json")) as stream:
      record = json.load(stream)
    self.assertEqual(record["dataset"]["image_shape"], [12, 12, 1])
    self.assertCountEqual(_served_names(
        os.path.join(self.output_dir, "saved_model"),
        np.zeros((12, 12, 1), np.uint8))[:3], ["low", "mid", "high"])

  def _bad_data(self, case: str) -> str:
    """A dataset with one kind of problem; returns its --dataset."""
    folder = os.path.join(self.root, "images")
    npz = os.path.join(self.root, "data.npz")
    x, y = image_folders.arrays(12)
    if case == "empty_folder":
      os.makedirs(folder)
    elif case == "one_class":
      image_folders.write_folder(folder, 3, classes=("cat",))
    elif case == "class_only_in_test":
      image_folders.write_folder(folder, {"train": 2})
      image_folders.write_folder(os.path.join(folder, "test"), 1,
                                 classes=("cat", "yak"))
    elif case == "not_an_image":
      image_folders.write_folder(folder, {"train": 2, "test": 1})
      with open(os.path.join(folder, "train", "cat", "Thumbs.db"), "wb") as f:
        f.write(b"\0" * 64)
    elif case == "labels_out_of_range":
      np.savez(npz, x_train=x, y_train=y + 1, x_test=x, y_test=y,
               class_names=np.array(["a", "b", "c"]))
      return npz
    elif case == "mismatched_lengths":
      np.savez(npz, x_train=x, y_train=y[:-1])
      return npz
    return folder

  @parameterized.parameters(
      ("empty_folder", "holds no class folders"),
      ("one_class", r"has one class \(cat\)"),
      ("class_only_in_test", "class 'yak' has no folder in .*/train"),
      ("not_an_image", r"1 file\(s\) unreadable or not a JPEG, PNG, GIF or "
       r"BMP image: .*/train/cat/Thumbs.db"),
      ("labels_out_of_range", r"y_train has labels out of range \(3\)"),
      ("mismatched_lengths", "x_train has 12 images but y_train has 11"),
  )
  def test_bad_data_is_refused_before_anything_is_written(self, case,
                                                          message):
    dataset = self._bad_data(case)
    with self.assertRaisesRegex(usage.UsageError, f"^--dataset: .*{message}"):
      self._search(dataset)
    self.assertFalse(os.path.exists(self.output_dir))
    self.assertFalse(os.path.exists(self.data_dir))

  @parameterized.named_parameters(
      ("zero", dict(image_size=0), "^--image_size must be >= 1, got 0$"),
      ("too_small_for_the_aux_head", dict(image_size=8, preset="cifar_final"),
       "^--image_size 8 is too small for the auxiliary head"),
  )
  def test_bad_image_sizes(self, overrides, message):
    folder = image_folders.write_folder(os.path.join(self.root, "images"),
                                        {"train": 2, "test": 1})
    with self.assertRaisesRegex(usage.UsageError, message):
      self._search(folder, **overrides)
    self.assertFalse(os.path.exists(self.output_dir))

  def test_the_binary_says_it_in_one_line_and_exits_2(self):
    folder = image_folders.write_folder(os.path.join(self.root, "images"), 3,
                                        classes=("cat",))
    process = subprocess.run(
        [sys.executable, "-m", "pnas_tf.search", f"--dataset={folder}",
         f"--output_dir={self.output_dir}", f"--data_dir={self.data_dir}"],
        cwd=_ROOT, capture_output=True, text=True, timeout=300, check=False)
    self.assertEqual(process.returncode, 2, process.stderr)
    self.assertEqual(
        process.stderr.strip().splitlines()[-1],
        f"search.py: error: --dataset: {folder} has one class (cat): a "
        "classifier needs at least two")
    self.assertNotIn("Traceback", process.stderr)
    self.assertFalse(os.path.exists(self.output_dir))
    self.assertFalse(os.path.exists(self.data_dir))


if __name__ == "__main__":
  tf.test.main()
