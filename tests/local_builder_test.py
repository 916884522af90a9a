"""Tests for pnas_tf.data.local_builder, through the input pipeline: image
folders (both layouts) and .npz files of generated images, decoded and
resized once, cached, and named when a file is not an image."""

import os
from unittest import mock

import numpy as np
import tensorflow as tf

import image_folders
from pnas_tf.config import train_config
from pnas_tf.data import datasets
from pnas_tf.data import local_builder

Error = datasets.DatasetUnavailableError


class LocalBuilderTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    self.root = self.create_tempdir().full_path
    self.data_dir = os.path.join(self.root, "tfds")

  def config(self, dataset, **overrides):
    return train_config.DataConfig(**{
        "dataset": dataset, "image_size": 16, "batch_size": 4,
        "validation_size": 3, "data_dir": self.data_dir, **overrides})

  def folder(self, per_class, **kwargs):
    return image_folders.write_folder(os.path.join(self.root, "images"),
                                      per_class, **kwargs)

  def prepared_copies(self):
    directory = os.path.join(self.data_dir, local_builder.NAME)
    return sorted(os.listdir(directory)) if os.path.isdir(directory) else []

  def test_a_split_folder_of_mixed_images_becomes_one_size_and_colour(self):
    root = self.folder({"train": 6, "test": 2})
    data = datasets.load_search_data(self.config(root))
    self.assertEqual(data.info.class_names, image_folders.CLASSES)
    self.assertEqual(data.info.image_shape, (16, 16, 3))
    self.assertEqual((data.num_train_examples,
                      data.info.num_evaluation_examples), (15, 3))
    # Already the network's size: trained as CIFAR-10 is (pad, crop, flip).
    self.assertEqual(data.config.image_size, 0)
    images, labels = next(iter(data.train(0, 1)))
    self.assertEqual(images.shape, (4, 16, 16, 3))
    self.assertEqual(images.dtype, tf.float32)
    self.assertAllInSet(labels, [0, 1, 2])
    final = datasets.load_final_data(self.config(root))
    self.assertEqual((final.num_train_examples,
                      final.info.num_evaluation_examples), (18, 6))
    self.assertLen(self.prepared_copies(), 1)

  def test_each_image_is_resized_whole(self):
    root = self.folder({"train": 1, "test": 1}, classes=("a", "b"))
    builder = datasets.get_builder(self.config(root, image_size=8))
    by_label = {int(label): image.numpy() for image, label in
                builder.as_dataset(split="train", as_supervised=True)}
    # Class b's only training image: 0.png, 20x30, colour, resized whole
    # (antialiased bilinear) to 8x8.
    expected = tf.image.resize(
        tf.constant(image_folders.image(0, 1), tf.float32), (8, 8),
        antialias=True)
    self.assertEqual(by_label[1].shape, (8, 8, 3))
    self.assertAllClose(by_label[1], np.round(expected.numpy()), atol=1)

  def test_a_gray_folder_stays_gray(self):
    root = self.folder({"train": 3, "test": 1}, gray_only=True)
    data = datasets.load_search_data(self.config(root))
    self.assertEqual(data.info.image_shape, (16, 16, 1))

  def test_gif_and_bmp_files_too(self):
    # pylint: disable-next=g-import-not-at-top
    from PIL import Image  # Writes the formats TensorFlow only reads.
    root = self.folder({"train": 2, "test": 1}, gray_only=True)
    Image.fromarray(image_folders.image(0, 1)[..., 0]).save(
        os.path.join(root, "train", "dog", "gray.bmp"))
    data = datasets.load_search_data(self.config(root, validation_size=2))
    self.assertEqual(data.info.image_shape, (16, 16, 1))
    Image.fromarray(image_folders.image(1, 2)).save(
        os.path.join(root, "train", "eel", "colour.gif"))
    data = datasets.load_search_data(self.config(root, validation_size=2))
    # A GIF decodes to RGB, so the dataset is in colour.
    self.assertEqual(data.info.image_shape, (16, 16, 3))
    self.assertEqual(data.num_train_examples, 3 * 2 + 2 - 2)

  def test_a_flat_folder_trains_and_tests_on_separate_images(self):
    root = self.folder(10)
    final = datasets.load_final_data(self.config(root))
    self.assertEqual((final.num_train_examples,
                      final.info.num_evaluation_examples), (27, 3))
    labels = np.concatenate([batch[1].numpy() for batch in final.test])
    self.assertEqual(sorted(labels.tolist()), [0, 1, 2])
    search = datasets.load_search_data(self.config(root))
    self.assertEqual(search.num_train_examples + 3, 27)

  def test_an_npz_of_gray_arrays(self):
    x, y = image_folders.arrays(20, channels=None)
    path = os.path.join(self.root, "data.npz")
    np.savez(path, x_train=x, y_train=y,
             class_names=np.array(["a", "b", "c"]))
    final = datasets.load_final_data(self.config(path, image_size=12))
    self.assertEqual(final.info.class_names, ("a", "b", "c"))
    self.assertEqual(final.info.image_shape, (12, 12, 1))
    self.assertEqual((final.num_train_examples,
                      final.info.num_evaluation_examples), (17, 3))
    images, _ = next(iter(final.test))
    self.assertEqual(images.shape, (3, 12, 12, 1))

  def test_prepared_once_and_again_when_a_file_changes(self):
    root = self.folder({"train": 3, "test": 1})
    datasets.get_builder(self.config(root))
    with mock.patch.object(local_builder.LocalImages,
                           "download_and_prepare") as prepare:
      datasets.get_builder(self.config(root))
      prepare.assert_not_called()
    os.utime(os.path.join(root, "train", "cat", "0.png"), (1, 1))
    datasets.get_builder(self.config(root))
    datasets.get_builder(self.config(root, image_size=8))
    self.assertLen(self.prepared_copies(), 3)

  def test_files_that_are_not_images_are_named_before_anything_is_written(
      self):
    root = self.folder({"train": 3, "test": 2})
    with open(os.path.join(root, "train", "dog", "notes.txt"), "w") as f:
      f.write("not an image")
    jpeg = os.path.join(root, "test", "eel", "1.jpg")
    with open(jpeg, "rb") as f:
      data = f.read()
    with open(jpeg, "wb") as f:
      f.write(data[:len(data) // 2])  # Cut short.
    with self.assertRaisesRegex(
        Error, r"^2 file\(s\) unreadable or not a JPEG, PNG, GIF or BMP "
        r"image: .*/test/eel/1.jpg, .*/train/dog/notes.txt; remove or "
        "convert them$"):
      datasets.load_search_data(self.config(root))
    self.assertEqual(self.prepared_copies(), [])

  def test_splits_too_big_to_hold_are_read_from_disk_alike(self):
    root = self.folder({"train": 4, "test": 1})
    config = self.config(root)
    cached = datasets.load_search_data(config)
    with mock.patch.object(datasets, "_MEMORY_SHARE", 0):
      on_disk = datasets.load_search_data(config)
    self.assertNotEqual(type(cached.train_examples).__name__,
                        type(on_disk.train_examples).__name__)
    for (a, b), (c, d) in zip(cached.train(1, 1), on_disk.train(1, 1)):
      self.assertAllEqual(a, c)
      self.assertAllEqual(b, d)


if __name__ == "__main__":
  tf.test.main()
