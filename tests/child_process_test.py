"""Tests for pnas_tf.nas.child_process: a child trained in a fresh process."""

import multiprocessing
import os
import signal
import tempfile
import threading
import time

from absl.testing import absltest

from pnas_tf.config import network_config
from pnas_tf.config import train_config
from pnas_tf.nas import child_process
from pnas_tf.space import search_space

# Real Fashion-MNIST from Debian's package (.ci/run installs it): tfds'
# mock data lives in this process only and cannot reach a child process.
DATA = train_config.DataConfig(dataset="fashion_mnist", batch_size=32,
                               num_train_examples=96, validation_size=64)
NET = network_config.preset("cifar_search", filters=4, num_cells_per_stack=1,
                            image_size=28, image_channels=1)
CELL = search_space.Cell.parse("sep3x3:0+max3x3:1")


class ChildProcessTest(absltest.TestCase):

  def test_same_result_as_in_process_and_no_tensorflow_here(self):
    with tempfile.TemporaryDirectory() as directory:
      config = train_config.TrainConfig(epochs=1, seed=3)
      isolated = child_process.train_in_subprocess(
          CELL, NET, DATA, config, os.path.join(directory, "isolated"))
      self.assertEqual(isolated.status, "ok", isolated.reason)
      self.assertBetween(isolated.validation_accuracy, 0.0, 1.0)
      self.assertTrue(os.path.exists(os.path.join(directory, "isolated",
                                                  "epochs.json")))
      # The same child in this process, from the same seeds: same result.
      from pnas_tf.training import child_trainer  # pylint: disable=g-import-not-at-top
      from pnas_tf.data import datasets  # pylint: disable=g-import-not-at-top
      here = child_trainer.train_and_evaluate(
          CELL, NET, datasets.load_search_data(DATA), config,
          os.path.join(directory, "here"))
      self.assertEqual(isolated.validation_accuracy, here.validation_accuracy)
      self.assertAlmostEqual(isolated.validation_loss, here.validation_loss,
                             places=5)

  def test_a_killed_process_is_a_failed_child_not_a_crash(self):
    outcome = []

    def train():
      with tempfile.TemporaryDirectory() as directory:
        outcome.append(child_process.train_in_subprocess(
            CELL, NET, DATA, train_config.TrainConfig(epochs=50),
            os.path.join(directory, "child")))

    thread = threading.Thread(target=train)
    thread.start()
    deadline = time.monotonic() + 120
    while not multiprocessing.active_children():
      self.assertLess(time.monotonic(), deadline, "no child process started")
      time.sleep(0.2)
    time.sleep(2)
    for process in multiprocessing.active_children():
      os.kill(process.pid, signal.SIGKILL)
    thread.join(timeout=120)
    self.assertFalse(thread.is_alive())
    (result,) = outcome
    self.assertEqual(result.status, "failed")
    self.assertIn("process died", result.reason)
    self.assertEqual(result.cell, str(CELL.canonical()))


if __name__ == "__main__":
  absltest.main()
