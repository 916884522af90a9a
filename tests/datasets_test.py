"""Tests for pnas_tf.data.datasets: splits, shapes, augmentation, determinism, errors."""

import tempfile
from unittest import mock

from absl.testing import parameterized
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from pnas_tf.config import train_config
from pnas_tf.data import datasets
from pnas_tf.data import preprocessing

DataConfig = train_config.DataConfig


def first_batch(dataset):
  images, labels = next(iter(dataset))
  return images.numpy(), labels.numpy()


class SplitNamesTest(parameterized.TestCase):

  @parameterized.named_parameters(
      ("paper_cifar10", DataConfig(), 50000, ("train[:45000]", "train[45000:]")),
      ("fraction", DataConfig(validation_size=0.1), 50000,
       ("train[:45000]", "train[45000:]")),
      ("proxy_limit", DataConfig(num_train_examples=1000), 50000,
       ("train[:1000]", "train[45000:]")),
      ("unknown_size", DataConfig(), None, ("train[:-5000]", "train[-5000:]")),
      ("unknown_size_limit", DataConfig(num_train_examples=64), None,
       ("train[:64]", "train[-5000:]")),
      ("unknown_size_fraction", DataConfig(validation_size=0.25), None,
       ("train[:-25%]", "train[-25%:]")),
  )
  def test_split_names(self, config, train_size, expected):
    self.assertEqual(datasets.split_names(config, train_size), expected)

  @parameterized.named_parameters(
      ("validation_too_big", DataConfig(validation_size=50000), 50000,
       "leaves 0 of 50000"),
      ("limit_too_big", DataConfig(num_train_examples=45001), 50000,
       "exceeds the 45000 training examples"),
      ("odd_percent", DataConfig(validation_size=0.125), None,
       "validation_size 0.125 is not a whole percent"),
  )
  def test_splits_that_do_not_fit(self, config, train_size, message):
    with self.assertRaisesRegex(ValueError, message):
      datasets.split_names(config, train_size)

  @parameterized.named_parameters(
      ("no_validation", {"validation_size": 0}, "validation_size"),
      ("fractional_count", {"validation_size": 2.5}, "validation_size"),
      ("negative_limit", {"num_train_examples": -1}, "num_train_examples"),
      ("batch", {"batch_size": 0}, "batch_size"),
      ("dataset", {"dataset": ""}, "dataset"),
  )
  def test_bad_data_config(self, overrides, message):
    with self.assertRaisesRegex(ValueError, message):
      DataConfig(**overrides)


class AugmentationTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    rng = np.random.RandomState(0)
    self.image = rng.randint(0, 256, (8, 8, 3)).astype(np.uint8)
    standardized = preprocessing.standardize(self.image).numpy()
    self.padded = np.pad(standardized, [(4, 4), (4, 4), (0, 0)])

  def windows(self):
    """Every 8x8 window of the padded image, and its mirror image."""
    for dy in range(9):
      for dx in range(9):
        window = self.padded[dy:dy + 8, dx:dx + 8]
        yield (dy, dx, False), window
        yield (dy, dx, True), window[:, ::-1]

  def augment_many(self, random_flip, count=60):
    found = []
    for index in range(count):
      out, label = preprocessing.pad_crop_flip(
          self.image, 3, tf.constant([index, 7], tf.int64), random_flip)
      self.assertEqual(label, 3)
      matches = [key for key, window in self.windows()
                 if np.allclose(out.numpy(), window, atol=1e-5)]
      self.assertNotEmpty(matches, msg="output is no crop of the padded image")
      found.append(matches[0])
    return found

  def test_output_is_a_random_crop_of_the_padded_standardized_image(self):
    found = self.augment_many(random_flip=True)
    self.assertGreater(len({(dy, dx) for dy, dx, _ in found}), 15)
    self.assertEqual({flipped for _, _, flipped in found}, {False, True})

  def test_no_flips_when_turned_off(self):
    found = self.augment_many(random_flip=False, count=30)
    self.assertEqual({flipped for _, _, flipped in found}, {False})

  def test_standardize_gives_zero_mean_unit_variance(self):
    out = preprocessing.standardize(self.image).numpy()
    self.assertAllClose(out.mean(), 0.0, atol=1e-5)
    self.assertAllClose(out.std(), 1.0, atol=1e-3)
    self.assertEqual(out.dtype, np.float32)


class MockDataTest(tf.test.TestCase):
  """The pipeline on tfds' mock cifar10 (no files, no network)."""

  def load(self, **overrides):
    config = DataConfig(dataset="cifar10", batch_size=8,
                        **{"num_train_examples": 0, **overrides})
    with tfds.testing.mock_data(num_examples=24):
      return datasets.load_search_data(config)

  def test_info_comes_from_tfds(self):
    info = self.load().info
    features = tfds.builder("cifar10").info.features
    self.assertEqual(info.num_classes, features["label"].num_classes)
    self.assertEqual(info.image_shape, features["image"].shape)
    self.assertEqual(info.class_names, tuple(features["label"].names))
    self.assertEqual((info.num_classes, info.image_shape), (10, (32, 32, 3)))

  def test_batches_shapes_and_dtypes(self):
    data = self.load()
    self.assertEqual((data.num_train_examples, data.steps_per_epoch), (24, 3))
    images, labels = first_batch(data.train())
    self.assertEqual(images.shape, (8, 32, 32, 3))
    self.assertEqual(images.dtype, np.float32)
    self.assertEqual(labels.dtype, np.int64)
    self.assertTrue(np.all((labels >= 0) & (labels < 10)))
    val_images, _ = first_batch(data.validation)
    self.assertEqual(val_images.shape, (8, 32, 32, 3))
    # Validation images are standardized, not augmented: zero-mean each.
    self.assertAllClose(val_images.mean(axis=(1, 2, 3)), np.zeros(8), atol=1e-4)
    self.assertEqual(sum(1 for _ in data.train()), 3)  # 24 examples / 8.
    self.assertEqual(sum(1 for _ in data.train(0, 2)), 6)

  def test_deterministic_given_the_seed(self):
    data = self.load(seed=5)
    first = first_batch(data.train())
    again = first_batch(data.train())  # Same data object, built again.
    fresh = first_batch(self.load(seed=5).train())
    other = first_batch(self.load(seed=6).train())
    for batch in (again, fresh):
      self.assertAllEqual(first[0], batch[0])
      self.assertAllEqual(first[1], batch[1])
    self.assertNotAllClose(first[0], other[0])

  def test_each_epoch_is_shuffled_and_augmented_anew(self):
    data = self.load(seed=5)
    epochs = [images for images, _ in data.train(0, 2)]
    self.assertNotAllClose(np.concatenate(epochs[:3]),
                           np.concatenate(epochs[3:]))

  def test_an_epoch_is_the_same_whether_started_at_or_resumed_to(self):
    data = self.load(seed=5)
    whole_run = [batch for batch, _ in data.train(0, 3)]
    resumed = [batch for batch, _ in data.train(2, 1)]
    for expected, actual in zip(whole_run[6:], resumed, strict=True):
      self.assertAllEqual(expected, actual)


class ReplicasTest(tf.test.TestCase):
  """An epoch's last batch too small to give every replica an example."""

  def load(self, num_examples, final=False):
    config = DataConfig(dataset="cifar10", batch_size=8)
    with tfds.testing.mock_data(num_examples=num_examples):
      if final:
        return datasets.load_final_data(config)
      return datasets.load_search_data(config)

  def test_a_last_batch_smaller_than_the_replicas_is_dropped(self):
    data = self.load(25)  # Batches of 8, 8, 8 and 1.
    self.assertEqual(data.steps_per_epoch, 4)
    on_two = data.for_replicas(2)
    self.assertEqual(on_two.steps_per_epoch, 3)
    sizes = [len(labels) for _, labels in on_two.train(0, 2)]
    self.assertEqual(sizes, [8] * 6)

  def test_a_last_batch_that_every_replica_shares_is_kept(self):
    data = self.load(29).for_replicas(4)  # 8, 8, 8 and 5.
    self.assertEqual(data.steps_per_epoch, 4)
    self.assertEqual([len(labels) for _, labels in data.train()],
                     [8, 8, 8, 5])

  def test_evaluation_keeps_every_example_in_batches_replicas_can_share(self):
    for data in (self.load(25), self.load(25, final=True)):
      held_out = (data.validation if isinstance(data, datasets.SearchData)
                  else data.test)
      before = np.concatenate([labels for _, labels in held_out])
      two = data.for_replicas(2)
      rebatched = (two.validation if isinstance(two, datasets.SearchData)
                   else two.test)
      sizes = [len(labels) for _, labels in rebatched]
      self.assertEqual(sizes, [8, 8, 9])
      self.assertAllEqual(
          np.concatenate([labels for _, labels in rebatched]), before)


class VaryingSizeMockDataTest(tf.test.TestCase):
  """ImageNet-style data: tfds' mock imagenet2012 has images of any size."""

  def load(self, **overrides):
    config = DataConfig(dataset="imagenet2012", batch_size=4, seed=3,
                        **{"image_size": 40, **overrides})
    with tfds.testing.mock_data(num_examples=8):
      return datasets.load_final_data(config, test_split="validation")

  def test_batches_are_resized_to_the_network_size(self):
    data = self.load()
    self.assertEqual(data.info.image_shape, (40, 40, 3))
    self.assertEqual(data.info.num_classes, 1000)
    images, labels = first_batch(data.train())
    self.assertEqual(images.shape, (4, 40, 40, 3))
    self.assertEqual(labels.shape, (4,))
    test_images, _ = first_batch(data.test)
    self.assertEqual(test_images.shape, (4, 40, 40, 3))

  def test_epochs_are_seeded_and_resume_alike(self):
    data = self.load()
    whole = [images for images, _ in data.train(0, 2)]
    again = [images for images, _ in self.load().train(0, 2)]
    resumed = [images for images, _ in data.train(1, 1)]
    for expected, actual in zip(whole, again, strict=True):
      self.assertAllEqual(expected, actual)
    for expected, actual in zip(whole[2:], resumed, strict=True):
      self.assertAllEqual(expected, actual)
    self.assertNotAllClose(np.concatenate(whole[:2]),
                           np.concatenate(whole[2:]))

  def test_the_shuffle_buffer_holds_encoded_files(self):
    # Decoded ImageNet images in a 10,000-example buffer take about 4.6 GB
    # (bench/shuffle_memory.py); their files, a tenth of that.
    data = self.load()
    self.assertEqual(data.train_examples.element_spec[0].dtype, tf.string)
    images, _ = first_batch(data.train())
    self.assertEqual(images.dtype, tf.float32)

  def test_varying_sizes_without_an_image_size_are_refused(self):
    with self.assertRaisesRegex(datasets.DatasetUnavailableError,
                                "varying size .* the ImageNet presets"):
      self.load(image_size=0)


class BuilderTest(parameterized.TestCase):

  def test_unknown_dataset(self):
    with self.assertRaisesRegex(datasets.DatasetUnavailableError,
                                "unknown dataset 'cifar11'"):
      datasets.get_builder(DataConfig(dataset="cifar11"))

  def test_not_an_image_classification_dataset(self):
    with self.assertRaisesRegex(datasets.DatasetUnavailableError,
                                "not an image-classification dataset"):
      datasets.get_builder(DataConfig(dataset="imdb_reviews"))

  def test_unprepared_dataset_without_downloads_says_how_to_get_it(self):
    with tempfile.TemporaryDirectory() as data_dir:
      with self.assertRaisesRegex(
          datasets.DatasetUnavailableError,
          r"'cifar10' is not prepared in .* downloads are off: run once with "
          "internet"):
        datasets.get_builder(DataConfig(dataset="cifar10", data_dir=data_dir,
                                        download=False))

  def test_a_failed_download_names_and_chains_the_tfds_error(self):
    cause = OSError(28, "No space left on device")
    with tempfile.TemporaryDirectory() as data_dir, mock.patch.object(
        tfds.core.DatasetBuilder, "download_and_prepare", side_effect=cause):
      with self.assertRaisesRegex(
          datasets.DatasetUnavailableError,
          r"'cifar10' needs a download on first use and it failed \(OSError: "
          r"\[Errno 28\] No space left on device\): run once with internet"
      ) as raised:
        datasets.get_builder(DataConfig(dataset="cifar10", data_dir=data_dir))
    self.assertIs(raised.exception.__cause__, cause)

  def test_a_failed_manual_preparation_names_the_tfds_error(self):
    cause = ValueError("ILSVRC2012_img_val.tar: truncated archive")
    with tempfile.TemporaryDirectory() as data_dir, mock.patch.object(
        tfds.core.DatasetBuilder, "download_and_prepare", side_effect=cause):
      with self.assertRaisesRegex(
          datasets.DatasetUnavailableError,
          r"Put the files in .*downloads/manual and rerun .*\(tfds failed "
          r"with ValueError: ILSVRC2012_img_val.tar: truncated archive\)"
      ) as raised:
        datasets.get_builder(DataConfig(dataset="imagenet2012",
                                        data_dir=data_dir))
    self.assertIs(raised.exception.__cause__, cause)

  def test_a_split_without_labels_is_refused(self):
    unlabelled = tf.data.Dataset.from_tensor_slices(
        (np.zeros((2, 4, 4, 3), np.uint8), np.array([-1, -1])))
    with self.assertRaisesRegex(
        datasets.DatasetUnavailableError,
        "split 'test' of 'imagenet2012' has no labels .*--test_split"):
      datasets.require_labels(unlabelled, "imagenet2012", "test")
    labelled = tf.data.Dataset.from_tensor_slices(
        (np.zeros((2, 4, 4, 3), np.uint8), np.array([3, 0])))
    datasets.require_labels(labelled, "cifar10", "test")

  def test_manual_download_datasets_say_where_the_files_go(self):
    with tempfile.TemporaryDirectory() as data_dir:
      with self.assertRaisesRegex(
          datasets.DatasetUnavailableError,
          r"'imagenet2012' needs a manual download that tfds cannot do: "
          r"manual_dir should contain two files: ILSVRC2012_img_train.tar "
          r".* Put the files in .*downloads/manual and rerun"):
        datasets.get_builder(DataConfig(dataset="imagenet2012",
                                        data_dir=data_dir))


if __name__ == "__main__":
  tf.test.main()
