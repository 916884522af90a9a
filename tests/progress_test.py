"""Tests for pnas_tf.training.progress: epoch lines and the epoch bar."""

import io

from absl import logging
from absl.testing import absltest
import keras
import numpy as np

from pnas_tf.training import progress


def _fit(callback, epochs=3, initial_epoch=0):
  keras.utils.set_random_seed(0)
  model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
  model.compile(optimizer="sgd", loss="mse")
  x = np.ones((8, 2), np.float32)
  model.fit(x, x[:, :1], epochs=epochs, initial_epoch=initial_epoch,
            callbacks=[callback], verbose=0)


class EpochProgressTest(absltest.TestCase):

  def test_one_log_line_per_epoch(self):
    with self.assertLogs(logging.get_absl_logger(), "INFO") as logs:
      _fit(progress.EpochProgress(epochs=3))
    lines = [line for line in logs.output if "epoch" in line]
    self.assertLen(lines, 3)
    self.assertIn("epoch 3/3: loss ", lines[-1])

  def test_the_bar_counts_epochs_from_a_resumed_one(self):
    stream = io.StringIO()
    _fit(progress.EpochProgress(epochs=4, bar=True, stream=stream), epochs=4,
         initial_epoch=2)
    self.assertIn("4/4", stream.getvalue())
    self.assertIn("2/4", stream.getvalue())
    self.assertNotIn("0/4", stream.getvalue())

  def test_no_bar_unless_asked(self):
    callback = progress.EpochProgress(epochs=2, stream=io.StringIO())
    _fit(callback, epochs=2)
    self.assertEqual(callback._stream.getvalue(), "")  # pylint: disable=protected-access


if __name__ == "__main__":
  absltest.main()
