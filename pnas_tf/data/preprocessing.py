"""Per-example image preprocessing: what training and serving do to a picture.

CIFAR-style (the paper's, NASNet's): per-image standardization ("whitening"),
then for training a random crop of the image padded by 4 and a random
left-right flip. ImageNet-style, for datasets whose images vary in size and
networks of a fixed input size S: training takes a random crop of 8% to 100%
of the area with aspect ratio 3/4 to 4/3 (Inception's), resized to S x S and
randomly flipped; evaluation takes the central 87.5% resized to S x S; both
are then standardized per image like CIFAR. (The official ImageNet models
scale pixels to [-1, 1] instead; with per-image standardization training,
evaluation and serving share one normalization.) All randomness is
stateless, from the seed passed in.

Example:
  image, label = pad_crop_flip(image, label, seed, random_flip=True)
  image = central_crop_resize(image, 224)
"""

import tensorflow as tf

PAD = 4
CENTRAL_FRACTION = 0.875
_AREA_RANGE = (0.08, 1.0)
_ASPECT_RATIO_RANGE = (3 / 4, 4 / 3)


def standardize(images: tf.Tensor) -> tf.Tensor:
  """Per-image standardization (the paper's "whitening"), uint8 -> float32."""
  return tf.image.per_image_standardization(tf.cast(images, tf.float32))


def pad_crop_flip(image, label, seed, random_flip: bool):
  """Standardize, pad by 4, crop back at random, flip at random.

  Args:
    image: uint8 (S, S, C); label: passed through.
    seed: int64 (2,) stateless seed of this example.
    random_flip: flip left-right with probability 1/2.
  """
  image = standardize(image)
  height, width, channels = image.shape
  image = tf.pad(image, [[PAD, PAD], [PAD, PAD], [0, 0]])
  crop_seed, flip_seed = tf.unstack(
      tf.random.experimental.stateless_split(seed, num=2))
  image = tf.image.stateless_random_crop(
      image, (height, width, channels), seed=crop_seed)
  if random_flip:
    image = tf.image.stateless_random_flip_left_right(image, seed=flip_seed)
  return image, label


def _resize(image, size: int):
  return tf.image.resize(tf.cast(image, tf.float32), (size, size),
                         antialias=True)


def random_crop_resize_flip(image, label, seed, size: int, random_flip: bool):
  """Inception's random crop of an image of any size, to S x S, flipped.

  Args:
    image: uint8 (height, width, C); label: passed through.
    seed: int64 (2,) stateless seed of this example.
    size: S.
    random_flip: flip left-right with probability 1/2.
  """
  crop_seed, flip_seed = tf.unstack(
      tf.random.experimental.stateless_split(seed, num=2))
  begin, crop_size, _ = tf.image.stateless_sample_distorted_bounding_box(
      tf.shape(image), bounding_boxes=tf.constant([[[0.0, 0.0, 1.0, 1.0]]]),
      seed=crop_seed, min_object_covered=0.1,
      aspect_ratio_range=_ASPECT_RATIO_RANGE, area_range=_AREA_RANGE,
      max_attempts=10, use_image_if_no_bounding_boxes=True)
  image = _resize(tf.slice(image, begin, crop_size), size)
  if random_flip:
    image = tf.image.stateless_random_flip_left_right(image, seed=flip_seed)
  return standardize(image), label


def central_crop_resize(image, size: int):
  """The central 87.5% of an image of any size, resized to S x S, standardized.

  Args:
    image: uint8 (height, width, C).
    size: S.
  """
  image = tf.image.central_crop(image, CENTRAL_FRACTION)
  return standardize(_resize(image, size))
