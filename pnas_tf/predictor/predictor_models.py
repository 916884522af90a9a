"""The paper's two surrogate architectures as Keras models (keras.ops only).

Both read the token array of `cell_encoding.encode`, shape (cells, blocks, 4),
and return one predicted accuracy in (0, 1) per cell:

  LSTM: input tokens and operator tokens through their own embedding tables
    (initialized uniformly in [-0.1, 0.1]), the 4b embeddings as a sequence
    into an LSTM, its final hidden state -> dense(1) -> sigmoid, with the
    dense bias initialized to `output_bias`.
  MLP: the same embeddings, a block's 4 concatenated, averaged over the
    blocks, -> dense(hidden, relu) -> dense(hidden, relu) -> dense(1) ->
    sigmoid (the same output initialization; the paper does not give the MLP's
    activations or its output bias).

Padded blocks (token 0) are masked out of both. Every initializer is seeded,
so a model is a function of (config, seed).

Example:
  model = build_model(PredictorConfig(kind="lstm"), seed=0)
  accuracy = model(cell_encoding.encode([cell]))
"""

import keras
import numpy as np

from pnas_tf.config import predictor_config
from pnas_tf.predictor import cell_encoding

# Layer names the fast LSTM scorer (lstm_scoring.py) reads weights from.
INPUT_EMBEDDING = "input_embedding"
OPERATOR_EMBEDDING = "operator_embedding"
LSTM = "lstm"
OUTPUT = "accuracy"


class _Seeds:
  """Distinct integer seeds for the initializers of one model."""

  def __init__(self, seed: int):
    self._sequence = np.random.SeedSequence(seed)

  def next(self) -> int:
    return int(self._sequence.spawn(1)[0].generate_state(1)[0])


def build_model(config: predictor_config.PredictorConfig,
                seed: int) -> keras.Model:
  """A fresh, untrained predictor model of `config.model_kind`.

  Args:
    config: architecture (kind, sizes, output bias).
    seed: seeds every initializer; equal seeds give equal weights.

  Returns:
    A Keras model: int32 tokens (cells, blocks, 4) -> accuracies (cells,).
  """
  seeds = _Seeds(seed)
  tokens = keras.Input(shape=(None, cell_encoding.TOKENS_PER_BLOCK),
                       dtype="int32", name="tokens")
  embedded = _embed(tokens, config, seeds)
  present = keras.ops.not_equal(tokens[:, :, 0], cell_encoding.PADDING)
  if config.model_kind == "lstm":
    features = _lstm_features(embedded, present, config, seeds)
  else:
    features = _mlp_features(embedded, present, config, seeds)
  accuracy = keras.layers.Dense(
      1, activation="sigmoid", name=OUTPUT,
      kernel_initializer=keras.initializers.GlorotUniform(seeds.next()),
      bias_initializer=keras.initializers.Constant(config.output_bias),
  )(features)
  return keras.Model(tokens, keras.ops.squeeze(accuracy, axis=-1),
                     name=f"{config.model_kind}_predictor")


def _embed(tokens, config, seeds):
  """(cells, blocks, 4, E): I1, I2, O1, O2 embeddings per block."""

  def table(name, rows):
    return keras.layers.Embedding(
        rows, config.embedding_size, name=name,
        embeddings_initializer=keras.initializers.RandomUniform(
            -0.1, 0.1, seed=seeds.next()))

  inputs = table(INPUT_EMBEDDING,
                 cell_encoding.input_vocabulary_size(config.max_blocks))(
                     tokens[:, :, cell_encoding.INPUT_COLUMNS])
  operators = table(OPERATOR_EMBEDDING,
                    cell_encoding.OPERATOR_VOCABULARY_SIZE)(
                        tokens[:, :, cell_encoding.OPERATOR_COLUMNS])
  return keras.ops.concatenate([inputs, operators], axis=2)


def _lstm_features(embedded, present, config, seeds):
  sequence = keras.layers.Reshape((-1, config.embedding_size))(embedded)
  mask = keras.ops.repeat(present, cell_encoding.TOKENS_PER_BLOCK, axis=1)
  return keras.layers.LSTM(
      config.hidden_size, name=LSTM,
      kernel_initializer=keras.initializers.GlorotUniform(seeds.next()),
      recurrent_initializer=keras.initializers.Orthogonal(seed=seeds.next()),
  )(sequence, mask=mask)


def _mlp_features(embedded, present, config, seeds):
  blocks = keras.layers.Reshape(
      (-1, cell_encoding.TOKENS_PER_BLOCK * config.embedding_size))(embedded)
  weights = keras.ops.expand_dims(keras.ops.cast(present, blocks.dtype), -1)
  mean = (keras.ops.sum(blocks * weights, axis=1)
          / keras.ops.maximum(keras.ops.sum(weights, axis=1), 1.0))
  hidden = mean
  for index in (1, 2):
    hidden = keras.layers.Dense(
        config.hidden_size, activation="relu", name=f"hidden_{index}",
        kernel_initializer=keras.initializers.GlorotUniform(seeds.next()),
    )(hidden)
  return hidden
