"""TensorFlow Serving's REST predict API, in its row ("instances") format.

`predict` answers a request body exactly as tensorflow_model_server's
POST /v1/models/<name>:predict would, by calling the signature of a loaded
SavedModel here: the tests check our exports' documented responses with it,
and the predict binary prints requests ready for curl.

Request:  {"signature_name": "serving_bytes",
           "instances": [{"b64": "<base64 JPEG>"}, ...]}
  or      {"instances": [<image as nested lists of 0..255>, ...]}
  (an instance may also name its input: {"image_bytes": {"b64": ...}}).
Response: {"predictions": [{"classes": [3, 1, ...], "scores": [...],
                            "class_names": ["Dress", ...],
                            "probabilities": [...]}, ...]}

Example:
  served = tf.saved_model.load("/tmp/export/pnas/1")
  body = bytes_request([open("shoe.png", "rb").read()])
  predict(served, body)["predictions"][0]["class_names"]
"""

import base64
from typing import Any, Sequence

import tensorflow as tf

from pnas_tf.serving import export


class RequestError(ValueError):
  """A request TensorFlow Serving would answer with an error."""


def bytes_request(encoded_images: Sequence[bytes]) -> dict[str, Any]:
  """The request body that sends encoded images to the bytes signature."""
  return {"signature_name": export.BYTES_SIGNATURE,
          "instances": [{"b64": base64.b64encode(data).decode("ascii")}
                        for data in encoded_images]}


def _decode(value):
  """JSON value -> tensor value; {"b64": text} is binary data."""
  if isinstance(value, dict) and set(value) == {"b64"}:
    return base64.b64decode(value["b64"])
  return value


def _to_json(value):
  """A tensor row as JSON: numbers as numbers, strings as text (or, if not
  UTF-8, as {"b64": ...}, as TensorFlow Serving writes binary strings)."""
  return _text(value.tolist() if hasattr(value, "tolist") else value)


def _text(value):
  if isinstance(value, list):
    return [_text(item) for item in value]
  if isinstance(value, bytes):
    try:
      return value.decode("utf-8")
    except UnicodeDecodeError:
      return {"b64": base64.b64encode(value).decode("ascii")}
  return value


def predict(served, request: dict[str, Any]) -> dict[str, Any]:
  """The response body to `request` (see the module docstring).

  Args:
    served: a loaded SavedModel (tf.saved_model.load).
    request: the parsed JSON body.

  Raises:
    RequestError: no such signature, no instances, or instances that do not
      fit the signature's input.
  """
  name = request.get("signature_name", export.DEFAULT_SIGNATURE)
  if name not in served.signatures:
    raise RequestError(f"no signature {name!r}; the model has "
                       f"{', '.join(sorted(served.signatures))}")
  signature = served.signatures[name]
  inputs = signature.structured_input_signature[1]
  if len(inputs) != 1:
    raise RequestError("the row format needs a signature with one input")
  (input_name, spec), = inputs.items()
  instances = request.get("instances")
  if not isinstance(instances, list) or not instances:
    raise RequestError('the request needs a non-empty "instances" list')
  values = [
      _decode(instance[input_name] if isinstance(instance, dict)
              and input_name in instance else instance)
      for instance in instances]
  try:
    batch = tf.constant(values, dtype=spec.dtype)
    outputs = signature(**{input_name: batch})
  except (ValueError, TypeError, tf.errors.InvalidArgumentError) as error:
    raise RequestError(f"instances do not fit input {input_name!r} "
                       f"({spec.dtype.name}, shape {spec.shape}): "
                       f"{str(error).splitlines()[0][:200]}") from None
  arrays = {key: value.numpy() for key, value in outputs.items()}
  if len(arrays) == 1:
    (array,) = arrays.values()
    return {"predictions": [_to_json(row) for row in array]}
  return {"predictions": [
      {key: _to_json(array[row]) for key, array in sorted(arrays.items())}
      for row in range(len(values))]}
