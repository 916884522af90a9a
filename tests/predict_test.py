"""Tests for the predict binary on a tiny exported model and PNG files."""

import contextlib
import io
import json
import os
import shutil
import struct
import tempfile
import zlib

from absl.testing import flagsaver
import keras
import numpy as np
import tensorflow as tf

from pnas_tf import predict
from pnas_tf.cli import usage
from pnas_tf.config import network_config
from pnas_tf.model import network
from pnas_tf.serving import export

predict.define_flags()

NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat")


def _huge_png(directory: str) -> str:
  """A valid 30000 x 30000 gray PNG (900 MB decoded, under 1 MB on disk)."""
  width = height = 30000

  def chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

  row = b"\x00" + bytes(width)  # Filter byte, then a black row.
  pixels = zlib.compress(row * height, 9)
  path = os.path.join(directory, "huge.png")
  with open(path, "wb") as stream:
    stream.write(b"\x89PNG\r\n\x1a\n"
                 + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8,
                                              0, 0, 0, 0))
                 + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))
  return path


class PredictTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    keras.utils.set_random_seed(1)
    config = network_config.preset("cifar_search", filters=4,
                                   num_cells_per_stack=1, image_size=28,
                                   image_channels=1, num_classes=5)
    model = network.build_network("sep3x3:0+max3x3:1", config)
    cls.directory = tempfile.mkdtemp(prefix="predict_test_")
    cls.model_dir = os.path.join(cls.directory, "pnas")
    # Version 1 names its classes otherwise: the highest version must win.
    export.export_classifier(model, (28, 28, 1),
                             os.path.join(cls.model_dir, "1"),
                             class_names=[f"old {name}" for name in NAMES])
    export.export_classifier(model, (28, 28, 1),
                             os.path.join(cls.model_dir, "2"),
                             class_names=NAMES)
    cls.images = np.random.RandomState(0).randint(
        0, 256, (2, 28, 28, 1)).astype(np.uint8)

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.directory, ignore_errors=True)
    super().tearDownClass()

  def setUp(self):
    super().setUp()
    directory = self.create_tempdir().full_path
    self.files = []
    for index, image in enumerate(self.images):
      path = os.path.join(directory, f"image_{index}.png")
      tf.io.write_file(path, tf.io.encode_png(image))
      self.files.append(path)

  def _run(self, paths, **overrides):
    settings = dict(model=self.model_dir, top_k=3, format="text")
    settings.update(overrides)
    output = io.StringIO()
    with flagsaver.flagsaver(**settings), contextlib.redirect_stdout(output):
      status = predict.main(["predict", *paths])
    self.assertEqual(status, 0)
    return output.getvalue()

  def test_text_lists_each_file_with_its_top_classes_by_name(self):
    expected = tf.saved_model.load(os.path.join(self.model_dir, "2")) \
        .signatures[export.DEFAULT_SIGNATURE](
            images=tf.constant(self.images))
    lines = self._run(self.files).splitlines()
    self.assertLen(lines, 2 * 4)
    for index, path in enumerate(self.files):
      block = lines[4 * index: 4 * index + 4]
      self.assertEqual(block[0], path)
      names = [line.split(".", 1)[1].rsplit(None, 1)[0].strip()
               for line in block[1:]]
      scores = [float(line.rsplit(None, 1)[1]) for line in block[1:]]
      top = expected["classes"][index].numpy()[:3]
      self.assertEqual(names, [NAMES[k] for k in top])
      self.assertAllClose(scores, expected["scores"][index][:3], atol=1e-4)

  def test_json_is_the_rest_response_and_the_highest_version_is_used(self):
    response = json.loads(self._run(self.files[:1], format="json"))
    (prediction,) = response["predictions"]
    self.assertLen(prediction["probabilities"], 5)
    self.assertEqual(prediction["class_names"],
                     [NAMES[k] for k in prediction["classes"]])
    # A version directory is accepted as well: version 1 has other names.
    old = json.loads(self._run(self.files[:1], format="json",
                               model=os.path.join(self.model_dir, "1")))
    (old_prediction,) = old["predictions"]
    self.assertEqual(old_prediction["class_names"],
                     [f"old {name}" for name in prediction["class_names"]])

  def test_bad_arguments_are_one_line_errors(self):
    not_image = os.path.join(self.create_tempdir().full_path, "notes.png")
    with open(not_image, "w") as stream:
      stream.write("not an image")
    for paths, overrides, message in (
        ([], {}, "^no image files given$"),
        (self.files, {"model": "/nonexistent"},
         "^--model: /nonexistent is not a SavedModel"),
        (["/nonexistent.png"], {}, "^/nonexistent.png: No such file"),
        ([not_image], {}, "notes.png: not a JPEG, PNG, GIF or BMP image$"),
        ([_huge_png(self.create_tempdir().full_path)], {},
         "huge.png: 30000x30000 pixels is too large: TensorFlow decodes "
         "images of under 2\\*\\*31 bytes"),
        (self.files, {"format": "xml"}, "^--format must be one of"),
    ):
      with self.subTest(message=message):
        with self.assertRaisesRegex(usage.UsageError, message):
          self._run(paths, **overrides)


if __name__ == "__main__":
  tf.test.main()
