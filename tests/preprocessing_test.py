"""Tests for pnas_tf.data.preprocessing's ImageNet-style path (CIFAR's is in
datasets_test)."""

import numpy as np
import tensorflow as tf

from pnas_tf.data import preprocessing


class ResizedPreprocessingTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    self.image = tf.constant(np.random.RandomState(0).randint(
        0, 256, (45, 70, 3)).astype(np.uint8))

  def crop(self, seed, flip=True):
    image, label = preprocessing.random_crop_resize_flip(
        self.image, 7, tf.constant([seed, 3], tf.int64), 32, flip)
    self.assertEqual(int(label), 7)
    return image.numpy()

  def test_random_crops_are_standardized_fixed_size_and_seeded(self):
    first = self.crop(1)
    self.assertEqual(first.shape, (32, 32, 3))
    self.assertEqual(first.dtype, np.float32)
    self.assertAllClose(first.mean(), 0.0, atol=1e-4)
    self.assertAllClose(first.std(), 1.0, atol=1e-2)
    self.assertAllEqual(first, self.crop(1))
    crops = [self.crop(seed) for seed in range(2, 8)]
    self.assertGreater(len({crop.tobytes() for crop in crops}), 4)

  def test_flipping_mirrors_some_crops_and_changes_nothing_else(self):
    mirrored = 0
    for seed in range(12):
      plain, flipped = self.crop(seed, flip=False), self.crop(seed)
      if np.allclose(flipped, plain[:, ::-1], atol=1e-5) and not np.allclose(
          flipped, plain, atol=1e-5):
        mirrored += 1
      else:
        self.assertAllClose(flipped, plain, atol=1e-5)
    self.assertBetween(mirrored, 1, 11)

  def test_central_crop_keeps_the_middle_seven_eighths(self):
    out = preprocessing.central_crop_resize(self.image, 32).numpy()
    self.assertEqual(out.shape, (32, 32, 3))
    middle = tf.image.central_crop(self.image, 0.875)
    expected = preprocessing.standardize(tf.image.resize(
        tf.cast(middle, tf.float32), (32, 32), antialias=True))
    self.assertAllClose(out, expected, atol=1e-5)


if __name__ == "__main__":
  tf.test.main()
