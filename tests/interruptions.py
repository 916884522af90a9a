"""Keras callbacks that stand in for a crash, and count what a rerun trains."""

import keras


class StopAfterEpoch(keras.callbacks.Callback):
  """Simulates a crash once `epoch` (0-based) has finished and been saved."""

  def __init__(self, epoch):
    super().__init__()
    self.epoch = epoch

  def on_epoch_end(self, epoch, logs=None):
    if epoch == self.epoch:
      raise KeyboardInterrupt("simulated interruption")


class CountEpochs(keras.callbacks.Callback):
  """Records the 0-based index of every epoch that starts."""

  def __init__(self):
    super().__init__()
    self.epochs = []

  def on_epoch_begin(self, epoch, logs=None):
    self.epochs.append(epoch)
