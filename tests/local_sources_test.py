"""Tests for pnas_tf.data.local_sources: layouts, the test split set aside,
and every kind of bad folder or array named (no TensorFlow, no decoding)."""

import io
import os

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from pnas_tf.data import local_sources

Error = local_sources.DatasetUnavailableError


def touch(root, *names):
  """Empty files (the scan does not open them) at root/name."""
  for name in names:
    path = os.path.join(root, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb"):
      pass


def flat(root, counts):
  """root/<class>/<i>.png for {class: count}."""
  for name, count in counts.items():
    touch(root, *(f"{name}/{i}.png" for i in range(count)))
  return root


class FolderTest(parameterized.TestCase):

  def setUp(self):
    super().setUp()
    self.root = self.create_tempdir().full_path

  def test_split_layout_is_read_as_it_is(self):
    touch(self.root, "train/b/1.jpg", "train/b/2.png", "train/a/x.gif",
          "test/a/y.bmp", "val/b/z.png")
    source = local_sources.scan_folder(self.root)
    self.assertEqual(source.class_names, ("a", "b"))
    self.assertFalse(source.test_set_aside)
    self.assertEqual(sorted(source.splits), ["test", "train", "val"])
    train = source.splits["train"]
    self.assertEqual(
        [os.path.relpath(path, self.root) for path in train.paths],
        ["train/a/x.gif", "train/b/1.jpg", "train/b/2.png"])
    self.assertEqual(train.labels.tolist(), [0, 1, 1])
    self.assertEqual(source.splits["test"].labels.tolist(), [0])

  def test_hidden_files_and_folders_are_not_data(self):
    touch(self.root, "a/1.png", "b/1.png", "b/2.png", "a/2.png", ".DS_Store",
          "a/.DS_Store", ".ipynb_checkpoints/x.png")
    source = local_sources.scan_folder(self.root)
    self.assertEqual(source.class_names, ("a", "b"))
    self.assertLen(source.splits["train"].paths + source.splits["test"].paths,
                   4)

  def test_a_flat_folder_sets_aside_a_fixed_stratified_test_split(self):
    flat(self.root, {"a": 30, "b": 10, "c": 2})
    source = local_sources.scan_folder(self.root)
    self.assertTrue(source.test_set_aside)
    test, train = source.splits["test"], source.splits["train"]
    # 10% of each class, at least one.
    self.assertEqual(np.bincount(test.labels).tolist(), [3, 1, 1])
    self.assertEqual(np.bincount(train.labels).tolist(), [27, 9, 1])
    self.assertEmpty(set(test.paths) & set(train.paths))
    again = local_sources.scan_folder(self.root)
    self.assertEqual(again.splits["test"].paths, test.paths)
    # Not simply the first files of each class.
    self.assertNotEqual(
        sorted(os.path.basename(path) for path in test.paths[:3]),
        ["0.png", "1.png", "2.png"])

  def test_a_split_folder_without_test_sets_one_aside_too(self):
    flat(os.path.join(self.root, "train"), {"a": 10, "b": 10})
    source = local_sources.scan_folder(self.root)
    self.assertTrue(source.test_set_aside)
    self.assertLen(source.splits["test"].paths, 2)

  @parameterized.named_parameters(
      ("empty", {}, "holds no class folders"),
      ("one_class", {"a": 3}, r"has one class \(a\): a classifier needs at "
       "least two"),
      ("class_without_images", {"a": 3, "b": 0}, "/b: class folder without "
       "images"),
      ("class_of_one_image_without_test", {"a": 3, "b": 1},
       "class 'b' has 1 image"),
  )
  def test_bad_flat_folders_are_named(self, counts, message):
    flat(self.root, counts)
    for name, count in counts.items():
      if not count:
        os.makedirs(os.path.join(self.root, name))
    with self.assertRaisesRegex(Error, message):
      local_sources.scan_folder(self.root)

  def test_an_empty_test_split_is_named(self):
    touch(self.root, "train/a/1.png", "train/b/1.png")
    os.makedirs(os.path.join(self.root, "test", "a"))
    with self.assertRaisesRegex(Error, "/test holds no images in class "
                                "folders"):
      local_sources.scan_folder(self.root)

  def test_a_class_in_test_but_not_in_train_is_named(self):
    touch(self.root, "train/a/1.png", "train/b/1.png", "test/a/2.png",
          "test/c/3.png")
    with self.assertRaisesRegex(
        Error, r"test/c: class 'c' has no folder in .*/train, so no "
        "training images"):
      local_sources.scan_folder(self.root)

  @parameterized.named_parameters(
      ("image_beside_classes", ("a/1.png", "b/1.png", "loose.png"),
       r"/loose.png: not in a class folder"),
      ("file_beside_splits", ("train/a/1.png", "train/b/1.png", "notes.txt"),
       r"/notes.txt: not in a split folder"),
      ("folder_in_a_class", ("a/1.png", "b/1.png", "b/more/2.png"),
       r"/b/more: a folder inside class folder"),
      ("bad_split_name", ("train/a/1.png", "train/b/1.png", "val-set/a/1.png"),
       "split folder names are letters, digits and _, not val-set"),
  )
  def test_files_outside_the_layout_are_named(self, names, message):
    touch(self.root, *names)
    with self.assertRaisesRegex(Error, message):
      local_sources.scan_folder(self.root)

  def test_many_bad_files_are_counted(self):
    touch(self.root, "a/1.png", "b/1.png", *(f"{i}.png" for i in range(8)))
    with self.assertRaisesRegex(Error, r"/4.png and 3 more: not in a class"):
      local_sources.scan_folder(self.root)

  def test_local_kind(self):
    self.assertEqual(local_sources.local_kind(self.root), local_sources.FOLDER)
    self.assertEqual(local_sources.local_kind("/no/such/x.npz"),
                     local_sources.NPZ)
    self.assertIsNone(local_sources.local_kind("cifar10"))
    self.assertIsNone(local_sources.local_kind("imagenet2012_subset/1pct"))


def _arrays(**overrides):
  x = np.zeros((10, 5, 5), np.uint8)
  y = np.arange(10) % 2
  arrays = {"x_train": x, "y_train": y, "x_test": x[:4], "y_test": y[:4],
            "class_names": np.array(["no", "yes"])}
  arrays.update(overrides)
  return {name: value for name, value in arrays.items() if value is not None}


class ArraysTest(parameterized.TestCase):

  def test_keras_datasets_arrays(self):
    # cifar10.load_data()'s shapes: (n, 32, 32, 3) images, (n, 1) labels.
    x = np.zeros((6, 8, 8, 3), np.uint8)
    y = np.array([[0], [1], [2], [0], [1], [2]], np.uint8)
    source = local_sources.check_arrays(
        {"x_train": x, "y_train": y, "x_test": x[:3], "y_test": y[:3]}, "d")
    self.assertEqual(source.class_names, ("0", "1", "2"))
    self.assertEqual(source.splits["train"].labels.tolist(),
                     [0, 1, 2, 0, 1, 2])
    self.assertEqual(source.splits["test"].images.shape, (3, 8, 8, 3))
    self.assertFalse(source.test_set_aside)

  def test_gray_arrays_get_a_channel_and_a_test_split_set_aside(self):
    source = local_sources.check_arrays(
        _arrays(x_test=None, y_test=None, x_train=np.zeros((40, 5, 5),
                                                           np.uint8),
                y_train=np.arange(40) % 2), "d")
    self.assertEqual(source.class_names, ("no", "yes"))
    self.assertEqual(source.splits["train"].images.shape, (36, 5, 5, 1))
    self.assertEqual(np.bincount(source.splits["test"].labels).tolist(),
                     [2, 2])

  @parameterized.named_parameters(
      ("labels_out_of_range", dict(y_train=np.arange(10) % 3),
       r"d: y_train has labels out of range \(2\): the class_names 2 classes "
       "have labels 0 to 1"),
      ("negative_labels", dict(y_test=np.array([0, -1, 1, 0])),
       r"y_test has labels out of range \(-1\)"),
      ("test_label_never_trained", dict(class_names=None,
                                        y_test=np.array([0, 1, 2, 0])),
       r"y_test has labels out of range \(2\): y_train's 2 classes"),
      ("mismatched_lengths", dict(y_train=np.arange(9) % 2),
       "x_train has 10 images but y_train has 9 labels"),
      ("float_images", dict(x_train=np.zeros((10, 5, 5), np.float32)),
       "x_train is float32; images are uint8"),
      ("four_channels", dict(x_train=np.zeros((10, 5, 5, 4), np.uint8)),
       r"x_train has shape \(10, 5, 5, 4\)"),
      ("float_labels", dict(y_train=np.zeros(10)), "labels are integers"),
      ("no_labels", dict(y_train=None), "d has no y_train"),
      ("half_a_test_split", dict(y_test=None), "x_test and y_test go "
       "together; it has only x_test"),
      ("unknown_array", dict(x_val=np.zeros(3)), "unknown array.* x_val"),
      ("one_class", dict(y_train=np.zeros(10, int), y_test=np.zeros(4, int),
                         class_names=None), r"1 class\(es\) \(0\)"),
      ("class_without_examples", dict(class_names=np.array(["a", "b", "c"])),
       "y_train has no example of class.* c"),
      ("no_images", dict(x_train=np.zeros((0, 5, 5), np.uint8),
                         y_train=np.zeros(0, int)), "x_train has no images"),
  )
  def test_bad_arrays_are_named(self, overrides, message):
    with self.assertRaisesRegex(Error, message):
      local_sources.check_arrays(_arrays(**overrides), "d")

  def test_read_npz(self):
    path = os.path.join(self.create_tempdir().full_path, "d.npz")
    np.savez(path, **_arrays())
    self.assertEqual(local_sources.read_npz(path).class_names, ("no", "yes"))
    with self.assertRaisesRegex(Error, "no such file"):
      local_sources.read_npz(path + ".npz")
    with open(path, "wb") as stream:
      stream.write(b"not numpy")
    with self.assertRaisesRegex(Error, "is not a NumPy .npz file"):
      local_sources.read_npz(path)

  def test_an_npz_in_memory_reads_alike(self):
    stream = io.BytesIO()
    np.savez(stream, **_arrays())
    loaded = np.load(io.BytesIO(stream.getvalue()))
    source = local_sources.check_arrays(
        {name: loaded[name] for name in loaded.files}, "d")
    self.assertEqual(source.splits["test"].labels.tolist(), [0, 1, 0, 1])


if __name__ == "__main__":
  absltest.main()
