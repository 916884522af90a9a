"""Trains a child in a fresh process, so that host memory stays flat.

TensorFlow keeps memory from every model it trains in a process, even after
keras.backend.clear_session() (tensorflow/tensorflow#62854: about 50 MiB per
search child here, see bench/child_memory.py). A search trains ~1,000
children, so each runs in a process of its own that exits afterwards and
gives all its memory back. A child whose process dies (killed, or out of
host memory) comes back as a failed result instead of taking the caller down.

Example:
  result = train_in_subprocess(cell, net, data_config, train_config,
                               "/tmp/child_0")
"""

import concurrent.futures
import multiprocessing
import time

from pnas_tf import network_config
from pnas_tf import search_space
from pnas_tf import train_config


def _train(cell, net, data_config, config, output_dir, export_dir,
           weights_path):
  # Runs in the child process: TensorFlow loads there, not in the caller.
  from pnas_tf import child_trainer  # pylint: disable=g-import-not-at-top
  from pnas_tf import datasets  # pylint: disable=g-import-not-at-top
  data = datasets.load_search_data(data_config)
  return child_trainer.train_and_evaluate(cell, net, data, config, output_dir,
                                          export_dir, weights_path=weights_path)


def train_in_subprocess(cell: search_space.Cell,
                        net: network_config.NetworkConfig,
                        data_config: train_config.DataConfig,
                        config: train_config.TrainConfig, output_dir: str,
                        export_dir: str | None = None,
                        weights_path: str | None = None):
  """child_trainer.train_and_evaluate in a new process; same arguments.

  The process loads the data itself from `data_config` (tfds' prepared
  files, so this takes seconds).

  Returns:
    The child_trainer.ChildResult; status "failed" if the process died.
  """
  started = time.perf_counter()
  context = multiprocessing.get_context("spawn")
  with concurrent.futures.ProcessPoolExecutor(
      max_workers=1, mp_context=context, max_tasks_per_child=1) as pool:
    future = pool.submit(_train, cell, net, data_config, config, output_dir,
                         export_dir, weights_path)
    try:
      return future.result()
    except concurrent.futures.process.BrokenProcessPool as error:
      from pnas_tf import child_trainer  # pylint: disable=g-import-not-at-top
      cell = cell.canonical()
      return child_trainer.ChildResult(
          cell=str(cell), num_blocks=cell.num_blocks,
          status=child_trainer.STATUS_FAILED,
          reason=f"the child's process died: {error}",
          wall_seconds=time.perf_counter() - started)
