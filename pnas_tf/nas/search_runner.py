"""The search binary's work once its flags are checked (TensorFlow loads here).

search.py reads and checks flags; this module opens the dataset, wires the
real collaborators into the controller (child evaluator, predictor, progress
lines and TensorBoard), runs the search, and writes the ranking and exports.

Example:
  info, net = dataset_and_network(settings)
  executor = make_executor(executors.ExecutorConfig(kind="local",
                                                    num_workers=2),
                           net, settings)
  run(config, predictor_settings, settings, store, export_dir, info, net,
      executor)
"""

import os

from absl import logging

from pnas_tf.cli import child_flags
from pnas_tf.cli import usage
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


def dataset_and_network(settings: child_flags.ChildSettings
                        ) -> tuple[datasets.DatasetInfo,
                                   network_config.NetworkConfig]:
  """The dataset's info and the child network for it.

  Raises:
    usage.UsageError: for a dataset that cannot be had or does not fit.
  """
  try:
    builder = datasets.get_builder(settings.data)
    info = datasets.dataset_info(builder, settings.data)
  except datasets.DatasetUnavailableError as error:
    raise usage.UsageError(f"--dataset: {error}") from None
  except ValueError as error:
    raise usage.UsageError(f"--{error}") from None
  return info, child_flags.network_for(settings, info.num_classes,
                                       info.image_shape)


def make_executor(config: executors.ExecutorConfig,
                  net: network_config.NetworkConfig,
                  settings: child_flags.ChildSettings) -> executors.Executor:
  """The executor `config` asks for, training children of `net`.

  Raises:
    usage.UsageError: for a worker layout this host cannot give, or Ray
      missing or unreachable.
  """
  evaluate = child_evaluator.ChildEvaluator(net, settings.data,
                                            settings.train)
  if config.kind == "inprocess":
    if not config.isolate:
      return executors.SerialExecutor(evaluate)
    return executors.LocalExecutor(evaluate, [{}], config.max_child_retries)
  if config.kind == "ray":
    # pylint: disable=g-import-not-at-top
    from pnas_tf.nas import ray_executor
    try:
      return ray_executor.RayExecutor(
          evaluate, config.ray_address, config.num_workers,
          config.children_per_gpu, config.max_child_retries)
    except ray_executor.RayUnavailableError as error:
      raise usage.UsageError(str(error)) from None
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  num_gpus = len(tf.config.list_physical_devices("GPU"))
  num_workers = config.num_workers or max(
      1, int(num_gpus * config.children_per_gpu))
  try:
    slots = executors.local_slots(
        num_workers, num_gpus, len(os.sched_getaffinity(0)),
        config.children_per_gpu, os.environ.get("CUDA_VISIBLE_DEVICES"))
  except ValueError as error:
    raise usage.UsageError(f"--{error}") from None
  logging.info("Local executor: %d workers (%s)", len(slots),
               "; ".join(" ".join(f"{k}={v}" for k, v in slot.items())
                         or "the whole host" for slot in slots))
  return executors.LocalExecutor(evaluate, slots, config.max_child_retries)


def _load_predictor(directory: str) -> predictors.Predictor:
  """A round's saved predictor; a damaged one is a StoreError (one line)."""
  try:
    return predictors.Predictor.load(directory)
  except predictors.PredictorStateError as error:
    raise search_store.StoreError(
        f"{error}; remove that directory to refit it from the records"
    ) from None


def run(config: search_config.SearchConfig,
        predictor_settings: predictor_config.PredictorConfig,
        settings: child_flags.ChildSettings,
        store: search_store.SearchStore, export_dir: str,
        info: datasets.DatasetInfo, net: network_config.NetworkConfig,
        executor: executors.Executor) -> int:
  """Runs the search in `store`'s directory; returns the exit status (0)."""
  reporter = search_reporting.Reporters([
      search_reporting.LogReporter(),
      search_reporting.TensorBoardReporter(
          os.path.join(settings.output_dir, "tensorboard"))])
  collaborators = controller.Collaborators(
      config=config, store=store, executor=executor,
      new_predictor=lambda: predictors.Predictor(predictor_settings),
      load_predictor=_load_predictor, reporter=reporter)
  logging.info("Searching cells of up to %d blocks (%s, K = %d): %d children",
               config.max_blocks, config.search_strategy, config.beam_size,
               config.budget)
  if config.search_strategy == "random":
    ranking = controller.random_search(collaborators)
  else:
    ranking = controller.progressive_search(collaborators)
  search_reporting.write_ranking(ranking, settings.output_dir)
  exported = child_evaluator.export_best(
      ranking, store, net, info.image_shape, export_dir, config.export_top,
      config.max_blocks, class_names=info.class_names)
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
