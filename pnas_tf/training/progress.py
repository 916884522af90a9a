"""A long training's progress: a log line per epoch, and a bar on a terminal.

Example:
  model.fit(..., callbacks=[EpochProgress(epochs=600, bar=True)], verbose=0)
"""

import math

from absl import logging
import keras


def _metrics_text(logs) -> str:
  return " ".join(f"{name} {value:.4f}" for name, value in sorted(
      (logs or {}).items()) if isinstance(value, (int, float))
                  and math.isfinite(value))


class EpochProgress(keras.callbacks.Callback):
  """Logs each finished epoch's metrics (absl INFO, so also the log file)
  and, with `bar`, moves a tqdm bar over the epochs on stdout."""

  def __init__(self, epochs: int, bar: bool = False, stream=None):
    super().__init__()
    self.epochs = epochs
    self._want_bar = bar
    self._stream = stream
    self._bar = None

  def on_epoch_begin(self, epoch, logs=None):
    if self._want_bar and self._bar is None:
      import tqdm  # pylint: disable=g-import-not-at-top
      # A resumed run's bar starts at its first epoch.
      self._bar = tqdm.tqdm(total=self.epochs, initial=epoch, unit="epoch",
                            desc="training", file=self._stream)

  def on_epoch_end(self, epoch, logs=None):
    text = _metrics_text(logs)
    logging.info("epoch %d/%d: %s", epoch + 1, self.epochs, text)
    if self._bar is not None:
      self._bar.update(epoch + 1 - self._bar.n)
      self._bar.set_postfix_str(text)

  def on_train_end(self, logs=None):
    if self._bar is not None:
      self._bar.close()
      self._bar = None
