"""What a child or final training is told: data, training, network shape.

ChildSettings gathers the typed configs that the shared training flags fill
(pnas_tf.cli.child_flags), so the search library and the trainers take one
value instead of flags. Pure data: no TensorFlow.

Example:
  settings = ChildSettings(data=DataConfig(dataset="fashion_mnist"),
                           train=TrainConfig(epochs=2), preset="cifar_search",
                           network_overrides={"filters": 8},
                           output_dir="/tmp/child")
  net = network_for(settings, num_classes=10, image_shape=(28, 28, 1))
"""

import dataclasses

from pnas_tf.config import errors
from pnas_tf.config import network_config
from pnas_tf.config import train_config


@dataclasses.dataclass(frozen=True)
class ChildSettings:
  """Everything the shared training flags say, checked."""
  data: train_config.DataConfig
  train: train_config.TrainConfig
  preset: str
  network_overrides: dict[str, int]
  output_dir: str


def with_network_overrides(settings: ChildSettings,
                           **overrides) -> ChildSettings:
  """`settings` with more network fields replaced, checked.

  Raises:
    errors.ConfigError: naming the first bad field.
  """
  merged = {**settings.network_overrides, **overrides}
  network_config.preset(settings.preset, **merged)
  return dataclasses.replace(settings, network_overrides=merged)


def network_for(settings: ChildSettings, num_classes: int,
                image_shape: tuple[int, int, int]
                ) -> network_config.NetworkConfig:
  """The preset, with the overrides and the dataset's classes and shape.

  Raises:
    errors.ConfigError: for non-square images, or a network that does not
      fit them.
  """
  height, width, channels = image_shape
  if height != width:
    raise errors.ConfigError(f"dataset: images are {height}x{width}; pnas_tf "
                      "networks take square images")
  return network_config.preset(settings.preset, num_classes=num_classes,
                               image_size=height, image_channels=channels,
                               **settings.network_overrides)
