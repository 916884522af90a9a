"""The one error a library raises for a setting that cannot be used.

Its message starts with the setting's name, which is also its flag's name
("dataset: ..."), so binaries report it as that flag in one line
(pnas_tf.cli.usage); libraries never speak of flags themselves.

Example:
  raise errors.ConfigError(
      "dataset: images are 28x32; networks take square images")
"""


class ConfigError(ValueError):
  """A setting that cannot be used; the message starts with its name."""
