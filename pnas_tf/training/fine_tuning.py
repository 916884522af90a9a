"""Starting a training from a trained network's weights (train_final's
--init_weights), e.g. PNASNet-5's converted ImageNet weights.

The source is a Keras model file (convert_checkpoint's model.keras, or any
network build_network made and keras saved). Its weights are copied into the
new network layer by layer by name (network.transfer_weights); only the
classifier, and the auxiliary head, which a served model.keras leaves out, may
stay as initialized, so a new class count gets a new classifier. Anything
else not copied means another cell or skeleton: refused before training.

Example:
  source = fine_tuning.load_source("/tmp/pnasnet5_mobile/model.keras")
  fine_tuning.check_fits(source, search_space.PNASNET_5, net)
  ...
  fine_tuning.initialize(model, source)   # before the first epoch
"""

import keras

from pnas_tf.config import network_config
from pnas_tf.model import network
from pnas_tf.space import search_space
from pnas_tf.storage import files

# Layers a fine-tuned network may start afresh: the classifier (another class
# count) and the auxiliary head (not in a served model).
REPLACEABLE = frozenset({network.LOGITS_NAME, network.AUX_HEAD_NAME})
# How many unfitting layers a message names.
_SHOWN = 4


class FineTuningError(ValueError):
  """The source model is missing, unreadable or does not fit the network."""


def load_source(path: str) -> keras.Model:
  """The model in the Keras file `path`.

  Raises:
    FineTuningError: no such file, or not a Keras model file pnas_tf reads.
  """
  if not files.exists(path):
    raise FineTuningError(f"no such file {path}")
  if not path.endswith(".keras"):
    raise FineTuningError(f"{path} is not a Keras model file (.keras), such "
                          "as convert_checkpoint's model.keras")
  try:
    return keras.saving.load_model(path, compile=False)
  except (ValueError, TypeError, OSError) as error:
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    raise FineTuningError(f"cannot read {path}: {first}") from None


def initialize(model: keras.Model, source: keras.Model) -> list[str]:
  """Copies `source`'s weights into `model`; the layers started afresh.

  Raises:
    FineTuningError: a layer outside REPLACEABLE was not fully copied.
  """
  afresh = network.transfer_weights(source, model)
  unfitting = [name for name in afresh if name not in REPLACEABLE]
  if unfitting:
    shown = ", ".join(unfitting[:_SHOWN])
    more = (f" and {len(unfitting) - _SHOWN} more"
            if len(unfitting) > _SHOWN else "")
    raise FineTuningError(
        f"its weights do not fit {len(unfitting)} layer(s) of this network "
        f"({shown}{more}): give the cell, --preset, --filters and "
        "--num_cells_per_stack it was trained with")
  return afresh


def check_fits(source: keras.Model, cell: search_space.Cell,
               net: network_config.NetworkConfig) -> list[str]:
  """Builds the network once and initializes it, to refuse early.

  Returns:
    The layers that will start afresh.

  Raises:
    FineTuningError: as initialize.
  """
  return initialize(network.build_network(cell, net), source)
