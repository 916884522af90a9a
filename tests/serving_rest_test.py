"""Tests for pnas_tf.serving.serving_rest: REST requests answered as documented."""

import base64
import json
import os
import shutil
import tempfile

import keras
import numpy as np
import tensorflow as tf

from pnas_tf.config import network_config
from pnas_tf.model import network
from pnas_tf.serving import export
from pnas_tf.serving import serving_rest

NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress")


class ServingRestTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    keras.utils.set_random_seed(5)
    config = network_config.preset("cifar_search", filters=4,
                                   num_cells_per_stack=1, image_size=28,
                                   image_channels=1, num_classes=4)
    model = network.build_network("sep3x3:0+max3x3:1", config)
    cls.directory = tempfile.mkdtemp(prefix="serving_rest_test_")
    path = export.export_classifier(model, (28, 28, 1),
                                    os.path.join(cls.directory, "1"),
                                    class_names=NAMES, top_k=2)
    cls.served = tf.saved_model.load(path)
    cls.images = np.random.RandomState(0).randint(
        0, 256, (3, 28, 28, 1)).astype(np.uint8)

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.directory, ignore_errors=True)
    super().tearDownClass()

  def test_b64_request_gives_the_documented_response(self):
    encoded = [tf.io.encode_png(image).numpy() for image in self.images]
    # Through JSON text, as the HTTP body would travel.
    body = json.loads(json.dumps(serving_rest.bytes_request(encoded)))
    self.assertEqual(body["signature_name"], export.BYTES_SIGNATURE)
    self.assertEqual(base64.b64decode(body["instances"][1]["b64"]),
                     encoded[1])
    response = json.loads(json.dumps(serving_rest.predict(self.served, body)))
    direct = self.served.signatures[export.DEFAULT_SIGNATURE](
        images=tf.constant(self.images))
    self.assertEqual(list(response), ["predictions"])
    self.assertLen(response["predictions"], 3)
    for row, prediction in enumerate(response["predictions"]):
      self.assertEqual(sorted(prediction), sorted(export.OUTPUTS))
      self.assertEqual(prediction["classes"], direct["classes"][row].numpy()
                       .tolist())
      self.assertEqual(prediction["class_names"],
                       [NAMES[index] for index in prediction["classes"]])
      self.assertLen(prediction["scores"], 2)
      self.assertGreaterEqual(prediction["scores"][0], prediction["scores"][1])
      self.assertAllClose(prediction["probabilities"],
                          direct["probabilities"][row], atol=1e-5)

  def test_pixel_instances_default_to_serving_default(self):
    plain = {"instances": self.images.tolist()}
    named = {"instances": [{"images": image} for image in
                           self.images.tolist()]}
    first = serving_rest.predict(self.served, plain)["predictions"]
    second = serving_rest.predict(self.served, named)["predictions"]
    self.assertEqual([p["classes"] for p in first],
                     [p["classes"] for p in second])
    self.assertAllClose([p["probabilities"] for p in first],
                        [p["probabilities"] for p in second])

  def test_a_single_output_signature_answers_plain_values(self):
    module = tf.Module()
    module.names = tf.function(
        lambda x: {"name": tf.strings.as_string(x * 2)},
        input_signature=[tf.TensorSpec((None,), tf.int32, name="x")])
    path = os.path.join(self.directory, "single")
    tf.saved_model.save(module, path,
                        signatures={"serving_default": module.names})
    response = serving_rest.predict(tf.saved_model.load(path),
                                    {"instances": [1, 20]})
    self.assertEqual(json.loads(json.dumps(response)),
                     {"predictions": ["2", "40"]})

  def test_bad_requests_name_the_problem(self):
    with self.assertRaisesRegex(serving_rest.RequestError,
                                "no signature 'classify'"):
      serving_rest.predict(self.served, {"signature_name": "classify",
                                         "instances": [1]})
    with self.assertRaisesRegex(serving_rest.RequestError, "instances"):
      serving_rest.predict(self.served, {"instances": []})
    with self.assertRaisesRegex(serving_rest.RequestError,
                                "do not fit input 'images'"):
      serving_rest.predict(self.served, {"instances": [[[1, 2, 3]]]})


if __name__ == "__main__":
  tf.test.main()
