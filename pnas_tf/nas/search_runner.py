"""The search binary's work once its flags are checked (TensorFlow loads here).

search.py reads and checks flags; this module opens the dataset, wires the
real collaborators into the controller (child evaluator, predictor, progress
lines and TensorBoard), runs the search, and writes the ranking and exports.

Example:
  info, net = dataset_and_network(settings)
  executor = make_executor(
      executor_config.ExecutorConfig(kind="local", num_workers=2), net,
      settings)
  run(config, predictor_settings, settings, store, export_dir, info, net,
      executor)
"""

import functools
import os
import sys

from absl import logging

from pnas_tf.config import child_settings
from pnas_tf.config import errors
from pnas_tf.config import executor_config
from pnas_tf.config import network_config
from pnas_tf.config import predictor_config
from pnas_tf.config import search_config
from pnas_tf.data import datasets
from pnas_tf.nas import child_evaluator
from pnas_tf.nas import controller
from pnas_tf.nas import executors
from pnas_tf.nas import search_reporting
from pnas_tf.nas import search_store
from pnas_tf.predictor import predictors


def dataset_and_network(settings: child_settings.ChildSettings
                        ) -> tuple[datasets.DatasetInfo,
                                   network_config.NetworkConfig]:
  """The dataset's info and the child network for it.

  Raises:
    errors.ConfigError: for a dataset that cannot be had or does not fit.
  """
  try:
    builder = datasets.get_builder(settings.data)
    info = datasets.dataset_info(builder, settings.data)
  except datasets.DatasetUnavailableError as error:
    raise errors.ConfigError(f"dataset: {error}") from None
  except errors.ConfigError:
    raise
  except ValueError as error:
    # dataset_info's messages start with the setting they are about.
    raise errors.ConfigError(str(error)) from None
  return info, child_settings.network_for(settings, info.num_classes,
                                       info.image_shape)


def make_executor(config: executor_config.ExecutorConfig,
                  net: network_config.NetworkConfig,
                  settings: child_settings.ChildSettings) -> executors.Executor:
  """The executor `config` asks for, training children of `net`.

  Raises:
    errors.ConfigError: for a worker layout this host cannot give.
    ray_executor.RayUnavailableError: Ray missing or unreachable.
  """
  evaluate = child_evaluator.ChildEvaluator(net, settings.data,
                                            settings.train)
  # --verbose asks for the children's own output on the terminal.
  child_logs = not settings.train.verbose
  if config.kind == "inprocess":
    if not config.isolate:
      return executors.SerialExecutor(evaluate)
    return executors.LocalExecutor(evaluate, [{}], config.max_child_retries,
                                   child_logs)
  if config.kind == "ray":
    # pylint: disable=g-import-not-at-top
    from pnas_tf.nas import ray_executor
    return ray_executor.RayExecutor(
        evaluate, config.ray_address, config.num_workers,
        config.children_per_gpu, config.max_child_retries)
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  num_gpus = len(tf.config.list_physical_devices("GPU"))
  num_workers = config.num_workers or max(
      1, int(num_gpus * config.children_per_gpu))
  try:
    slots = executors.local_slots(
        num_workers, num_gpus, len(os.sched_getaffinity(0)),
        config.children_per_gpu, os.environ.get("CUDA_VISIBLE_DEVICES"))
  except ValueError as error:
    # local_slots' messages start with the setting they are about.
    raise errors.ConfigError(str(error)) from None
  logging.info("Local executor: %d workers (%s)", len(slots),
               "; ".join(" ".join(f"{k}={v}" for k, v in slot.items())
                         or "the whole host" for slot in slots))
  return executors.LocalExecutor(evaluate, slots, config.max_child_retries,
                                 child_logs)


def _load_predictor(directory: str) -> predictors.Predictor:
  """A round's saved predictor; a damaged one is a StoreError (one line)."""
  try:
    return predictors.Predictor.load(directory)
  except predictors.PredictorStateError as error:
    raise search_store.StoreError(
        f"{error}; remove that directory to refit it from the records"
    ) from None


class _ResultsSoFar:
  """After every round but the last: the ranking so far and its exports.

  A user who stops a search at any point has summary.csv, summary.json and
  servable exports of the best cells so far, of any size (labelled as such
  in pnas_cell.json); the last round's are the search's own, written by
  `run` once it ends.
  """

  def __init__(self, output_dir: str, max_blocks: int, export):
    self._output_dir = output_dir
    self._max_blocks = max_blocks
    self._export = export

  def child_finished(self, record, progress) -> None:
    del record, progress

  def round_finished(self, summary: controller.RoundSummary) -> None:
    if summary.round >= self._max_blocks or any(
        record.num_blocks > summary.round for record in summary.all_records):
      return  # The last round, or a rerun past this round: kept as it is.
    ranking = controller.ranking(dict(enumerate(summary.all_records)))
    search_reporting.write_ranking(ranking, self._output_dir)
    self._export(ranking, num_blocks=None,
                 label={"search_finished": False,
                        "best_so_far_after_round": summary.round})


def run(config: search_config.SearchConfig,
        predictor_settings: predictor_config.PredictorConfig,
        settings: child_settings.ChildSettings,
        store: search_store.SearchStore, export_dir: str,
        info: datasets.DatasetInfo, net: network_config.NetworkConfig,
        executor: executors.Executor, progress_bar: bool = False) -> int:
  """Runs the search in `store`'s directory; returns the exit status (0).

  With `progress_bar`, a bar over the children shows on stdout (the log
  lines still go to the log).
  """
  export = functools.partial(
      child_evaluator.export_best, store=store, net=net,
      image_shape=info.image_shape, export_dir=export_dir,
      count=config.export_top, class_names=info.class_names,
      formats=config.export_formats)
  reporter = search_reporting.Reporters([
      search_reporting.LogReporter(),
      search_reporting.TensorBoardReporter(
          os.path.join(settings.output_dir, "tensorboard"),
          os.path.join(settings.output_dir, "plots")),
      _ResultsSoFar(settings.output_dir, config.max_blocks, export)])
  bar = None
  if progress_bar:
    bar = search_reporting.ProgressBar(config.budget, sys.stdout)
    reporter.reporters.append(bar)
  collaborators = controller.Collaborators(
      config=config, store=store, executor=executor,
      new_predictor=lambda: predictors.Predictor(predictor_settings),
      load_predictor=_load_predictor, reporter=reporter)
  logging.info("Searching cells of up to %d blocks (%s, K = %d): %d children",
               config.max_blocks, config.search_strategy, config.beam_size,
               config.budget)
  try:
    if config.search_strategy == "random":
      ranking = controller.random_search(collaborators)
    else:
      ranking = controller.progressive_search(collaborators)
  finally:
    if bar:
      bar.close()
  search_reporting.write_ranking(ranking, settings.output_dir)
  exported = export(ranking, num_blocks=config.max_blocks,
                    label={"search_finished": True})
  print(f"{len(ranking)} cells trained")
  for label, records in (
      ("best cell", ranking),
      (f"best {config.max_blocks}-block cell",
       [r for r in ranking if r.num_blocks == config.max_blocks])):
    best = next((r for r in records if r.ok), None)
    if best:
      print(f"{label}: {best.cell}  validation accuracy {best.accuracy:.4f}")
  for path in exported:
    print(f"exported: {path}")
  print(f"ranking: {os.path.join(settings.output_dir, 'summary.csv')}")
  return 0
