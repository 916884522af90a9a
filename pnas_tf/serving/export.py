"""Exports a trained classifier as a SavedModel that TensorFlow Serving loads.

Two signatures, both with the preprocessing the network was trained with
inside, so clients send what they have:
  serving_default  images: uint8 (batch, height, width, C). Images of any
                   height and width are resized (bilinear, antialiased) to
                   the network's S x S; C must be the training data's.
  serving_bytes    image_bytes: string (batch,), each an encoded JPEG, PNG,
                   GIF or BMP; decoded to C channels and resized to S x S.
Networks trained with ImageNet-style preprocessing (central_crop=True) see
the central 87.5% of each image, resized, as in their evaluation. The pixels
then go through the network's input normalization (preprocessing_style):
  standardize  per-image standardization, as pnas_tf trains (the default);
  inception    TF-slim's Inception evaluation preprocessing, for converted
               slim checkpoints: the central 87.5%, resized bilinearly as
               TF1's resize_bilinear did (no antialiasing, no half-pixel
               centres), pixels scaled to [-1, 1].
Both return
  probabilities  float32 (batch, num_classes), softmax of the logits;
  classes        int32 (batch, k), the k most probable class ids, best first;
  scores         float32 (batch, k), their probabilities;
  class_names    string (batch, k), their names (the ids as text when the
                 dataset has none).
With formats, the same version directory also holds the network for
devices and other runtimes: TensorFlow Lite and ONNX files
(device_export.py). Only the path to the logits is served: the auxiliary
head is cut off (its weights are not saved) and drop-path runs in inference
mode, which adds no operation to the graph.

Example:
  export_classifier(model, (32, 32, 3), "/tmp/export/pnas/1",
                    class_names=("airplane", ...))
  served = tf.saved_model.load("/tmp/export/pnas/1")
  served.signatures["serving_default"](images=uint8_batch)["classes"]
"""

import os
from typing import Sequence

import keras
import tensorflow as tf

from pnas_tf.data import preprocessing
from pnas_tf.serving import device_export
from pnas_tf.storage import files

DEFAULT_SIGNATURE = "serving_default"
BYTES_SIGNATURE = "serving_bytes"
SIGNATURE_INPUT = "images"
BYTES_INPUT = "image_bytes"
SIGNATURE_OUTPUT = "probabilities"
OUTPUTS = ("probabilities", "classes", "scores", "class_names")
DEFAULT_TOP_K = 5
STANDARDIZE = "standardize"
INCEPTION = "inception"
PREPROCESSING = (STANDARDIZE, INCEPTION)


def inference_model(model: keras.Model) -> keras.Model:
  """`model` without its auxiliary head: images -> logits."""
  if len(model.outputs) == 1:
    return model
  return keras.Model(model.inputs, model.outputs[0], name=model.name)


class _ServingModule(tf.Module):
  """Holds the inference model and the two serving functions."""

  def __init__(self, model: keras.Model, image_shape: tuple[int, int, int],
               class_names: Sequence[str], top_k: int, central_crop: bool,
               preprocessing_style: str):
    super().__init__()
    self.central_crop = central_crop
    self.preprocessing_style = preprocessing_style
    self.model = inference_model(model)
    self.image_size = tuple(model.inputs[0].shape[1:3])
    self.channels = image_shape[-1]
    self.top_k = top_k
    self.class_names = tf.constant(list(class_names))
    self.serve = tf.function(
        self._from_images,
        input_signature=[tf.TensorSpec((None, None, None, self.channels),
                                       tf.uint8, name=SIGNATURE_INPUT)])
    self.serve_bytes = tf.function(
        self._from_bytes,
        input_signature=[tf.TensorSpec((None,), tf.string, name=BYTES_INPUT)])

  def _resize(self, images, antialias=True):
    """Float images of any size, resized to the network's."""
    if self.preprocessing_style == INCEPTION:
      # TF1's resize_bilinear(align_corners=False), as slim's evaluation.
      return tf.raw_ops.ResizeBilinear(images=images, size=self.image_size,
                                       half_pixel_centers=False)
    return tf.image.resize(images, self.image_size, antialias=antialias)

  def _resized(self, images):
    """float32 images of the network's size; unchanged when already so."""
    images = tf.cast(images, tf.float32)
    if self.central_crop:
      return self._resize(
          tf.image.central_crop(images, preprocessing.CENTRAL_FRACTION))
    same = tf.reduce_all(tf.equal(tf.shape(images)[1:3], self.image_size))
    return tf.cond(
        same, lambda: tf.ensure_shape(images, (None, *self.image_size, None)),
        lambda: self._resize(images))

  def _normalized(self, images):
    """Pixels in [0, 255] as the network's input."""
    if self.preprocessing_style == INCEPTION:
      return images / 127.5 - 1.0
    return preprocessing.standardize(images)

  def _answer(self, images):
    images = tf.ensure_shape(images, (None, *self.image_size, self.channels))
    logits = self.model(self._normalized(images), training=False)
    probabilities = tf.nn.softmax(tf.cast(logits, tf.float32))
    scores, classes = tf.math.top_k(probabilities, k=self.top_k)
    return {"probabilities": probabilities, "classes": classes,
            "scores": scores,
            "class_names": tf.gather(self.class_names, classes)}

  def _from_images(self, images):
    return self._answer(self._resized(images))

  def device_model(self, dtype: str) -> keras.Model:
    """The served network for devices: images of the network's size only.

    (batch, S, S, C) pixels in [0, 255] of `dtype` -> probabilities.
    Without resizing (runtimes for devices have no antialiased resize), but
    with the central crop when the network has one: the crop of an S x S
    image is enlarged back to S x S, where bilinear resizing without
    antialiasing is the same up to float rounding.
    """
    def preprocess(images):
      images = tf.cast(images, tf.float32)
      if self.central_crop:
        images = self._resize(
            tf.image.central_crop(images, preprocessing.CENTRAL_FRACTION),
            antialias=False)
      return self._normalized(images)

    images = keras.Input((*self.image_size, self.channels), dtype=dtype,
                         name=SIGNATURE_INPUT)
    logits = self.model(keras.layers.Lambda(preprocess)(images))
    probabilities = keras.layers.Activation(
        "softmax", dtype="float32", name=SIGNATURE_OUTPUT)(logits)
    return keras.Model(images, {SIGNATURE_OUTPUT: probabilities},
                       name=f"{self.model.name}_device")

  def _from_bytes(self, image_bytes):
    def decode(encoded):
      image = tf.io.decode_image(encoded, channels=self.channels,
                                 expand_animations=False)
      if self.central_crop:
        image = tf.image.central_crop(image, preprocessing.CENTRAL_FRACTION)
      return self._resize(tf.cast(image, tf.float32)[tf.newaxis])[0]
    images = tf.map_fn(
        decode, image_bytes,
        fn_output_signature=tf.TensorSpec((*self.image_size, self.channels),
                                          tf.float32))
    return self._answer(images)


def export_classifier(model: keras.Model, image_shape: tuple[int, int, int],
                      path: str, class_names: Sequence[str] = (),
                      top_k: int = DEFAULT_TOP_K,
                      central_crop: bool = False,
                      preprocessing_style: str = STANDARDIZE,
                      formats: Sequence[str] = ()) -> str:
  """Writes `model` as a SavedModel at `path` (see the module docstring).

  Args:
    model: the trained network (its aux head, if any, is left out).
    image_shape: (S, S, C) of the images it was trained on.
    path: the SavedModel directory, e.g. <export_dir>/<name>/<version>.
    class_names: the names of the classes, in id order (default: the ids).
    top_k: how many classes the top-k outputs hold (at most num_classes).
    central_crop: serve the central 87.5% of each image, as the network
      was evaluated with ImageNet-style preprocessing (preprocessing.py).
    preprocessing_style: the network's input normalization, one of
      PREPROCESSING (see the module docstring). INCEPTION includes slim's
      central crop, so central_crop must be True with it.
    formats: device formats written into the version directory too
      (device_export.py: "tflite", "onnx").

  Returns:
    `path`.

  Raises:
    FileExistsError: `path` exists; an export never replaces another.
    ValueError: as many class names as classes are needed; an unknown
      preprocessing_style, or INCEPTION without central_crop.

  The SavedModel is written beside `path` and renamed into place when
  complete, so TensorFlow Serving, which watches the model directory for
  new versions, never loads half of one.
  """
  if files.exists(path):
    raise FileExistsError(f"{path} exists; exports never replace one")
  num_classes = model.outputs[0].shape[-1]
  names = list(class_names) or [str(index) for index in range(num_classes)]
  if len(names) != num_classes:
    raise ValueError(f"{len(names)} class names for {num_classes} classes")
  if preprocessing_style not in PREPROCESSING:
    raise ValueError(f"preprocessing_style must be one of "
                     f"{', '.join(PREPROCESSING)}, got {preprocessing_style!r}")
  if preprocessing_style == INCEPTION and not central_crop:
    raise ValueError("Inception preprocessing crops the central 87.5%: "
                     "central_crop must be True with it")
  module = _ServingModule(model, tuple(image_shape), names,
                          min(top_k, num_classes), central_crop,
                          preprocessing_style)
  partial = path.rstrip("/") + ".partial"
  files.rmtree(partial)  # Left by a crash.
  tf.saved_model.save(module, partial,
                      signatures={DEFAULT_SIGNATURE: module.serve,
                                  BYTES_SIGNATURE: module.serve_bytes})
  device_export.write_formats(module.device_model, names, partial, formats)
  # Serving loads a version once its saved_model.pb is there.
  files.rename(partial, path, last=["saved_model.pb"])
  return path


def next_version_directory(model_dir: str) -> str:
  """<model_dir>/<n+1>, n the highest version TensorFlow Serving would see."""
  versions = files.serving_versions(model_dir)
  return os.path.join(model_dir, str(max(versions, default=0) + 1))
