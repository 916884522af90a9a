r"""Runs a whole Progressive Neural Architecture Search, then exports the best.

Trains every 1-block cell, fits the predictor, then for b = 2..B expands the
K best cells by a block, keeps the K candidates the predictor ranks highest,
trains them and refits (--search_strategy=random trains as many uniformly
sampled B-block cells instead). Every finished child is recorded the moment
it finishes; rerunning the same command after a crash continues where the
search stopped. Writes into --output_dir: the search state (see
search_store.py), tensorboard/, summary.csv and summary.json ranking every
trained cell, and export/pnas_<rank>/<version>/, SavedModels of the best
B-block cells in TensorFlow Serving's layout.

Example:
  python -m pnas_tf.search --flagfile=flags/quickstart.cfg
  python -m pnas_tf.search --dataset=cifar10 --max_blocks=5 --beam_size=256 \
      --output_dir=/tmp/pnas_cifar10
  python -m pnas_tf.search --dataset=$HOME/flowers --max_blocks=2 \
      --epochs=5 --validation_size=0.1 --output_dir=/tmp/flowers  # Your own.
  python -m pnas_tf.search --flagfile=flags/cifar10_search.cfg \
      --executor=local --children_per_gpu=2          # 8 GPUs: 16 at once
  python -m pnas_tf.search --flagfile=flags/cifar10_search.cfg \
      --executor=ray --ray_address=auto --output_dir=/shared/pnas_cifar10
  bazel run //pnas_tf:search -- --flagfile=flags/quickstart.cfg
  tensorboard --logdir=/tmp/pnas_quickstart/tensorboard
"""

import contextlib
import dataclasses
import os
from typing import Iterator

# Hides TensorFlow's C++ INFO logs (see train_child.py).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

# pylint: disable=g-import-not-at-top
from absl import app
from absl import flags

from pnas_tf.cli import child_flags
from pnas_tf.cli import export_flags
from pnas_tf.cli import predictor_flags
from pnas_tf.cli import terminal
from pnas_tf.cli import usage
from pnas_tf.config import child_settings
from pnas_tf.config import executor_config
from pnas_tf.config import predictor_config
from pnas_tf.config import run_settings
from pnas_tf.config import search_config
from pnas_tf.nas import search_store
from pnas_tf.space import search_space
from pnas_tf.storage import files
# pylint: enable=g-import-not-at-top

_DEFAULTS = search_config.SearchConfig()
_EXECUTOR_DEFAULTS = executor_config.ExecutorConfig()


def define_flags() -> None:
  """The shared child and predictor flags, plus the search's own."""
  child_flags.define_flags(flags.FLAGS)
  predictor_flags.define_flags()
  if "max_blocks" in flags.FLAGS:
    return
  flags.DEFINE_integer("max_blocks", _DEFAULTS.max_blocks,
                       "B: blocks of the largest cells searched.")
  flags.DEFINE_integer("beam_size", _DEFAULTS.beam_size,
                       "K: cells trained per round after the first.")
  flags.DEFINE_string("search_strategy", _DEFAULTS.search_strategy,
                      "pnas, or random: as many uniformly sampled B-block "
                      "cells, as a baseline.")
  flags.DEFINE_integer("export_top", _DEFAULTS.export_top,
                       "Export the best N cells of B blocks as SavedModels.")
  export_flags.define_flags(flags.FLAGS)
  if "export_dir" not in flags.FLAGS:  # train_final shares it.
    flags.DEFINE_string("export_dir", None,
                        "Where to export (default: <output_dir>/export).")
  flags.DEFINE_list("operations", list(_DEFAULTS.operations),
                    "Operators cells may use (default: the paper's 8).")
  flags.DEFINE_boolean("isolate_children", True,
                       "inprocess executor: train each child in a fresh "
                       "process (TensorFlow keeps ~50 MiB per model trained "
                       "in a process).")
  flags.DEFINE_enum("executor", _EXECUTOR_DEFAULTS.kind,
                    executor_config.EXECUTORS,
                    "Where children train: inprocess (one at a time), local "
                    "(--num_workers processes on this host, each a share of "
                    "its GPUs or CPUs), ray (Ray tasks on --ray_address or a "
                    "local cluster; pip install -r requirements-ray.txt).")
  flags.DEFINE_integer("num_workers", _EXECUTOR_DEFAULTS.num_workers,
                       "local, ray: children trained at once; 0: one per GPU "
                       "share (GPUs x --children_per_gpu), or with no GPU 1 "
                       "(local) or every CPU of the cluster (ray).")
  flags.DEFINE_float("children_per_gpu", _EXECUTOR_DEFAULTS.children_per_gpu,
                     "local, ray: children sharing a GPU (2, 4: small "
                     "search-size children); 0.5, 0.25: 2 or 4 GPUs per child "
                     "under MirroredStrategy.")
  flags.DEFINE_string("ray_address", None,
                      "ray: a running cluster (auto, host:6379, "
                      "ray://host:10001); unset starts a local one.")
  flags.DEFINE_integer("max_child_retries",
                       _EXECUTOR_DEFAULTS.max_child_retries,
                       "A child whose worker died (killed, lost node) is "
                       "trained again from its last epoch this many times, "
                       "then recorded failed.")


def resume_settings(settings: child_settings.ChildSettings,
                    config: search_config.SearchConfig,
                    predictor: predictor_config.PredictorConfig
                    ) -> tuple[dict, dict]:
  """(settings a rerun must keep, defaults for an older search.json)."""
  configs = (settings.data, settings.train, config, predictor)
  extra = {"preset": settings.preset, **settings.network_overrides}
  return (run_settings.comparable(configs, extra),
          run_settings.defaults(configs))


def _with_absolute_paths(settings: child_settings.ChildSettings
                         ) -> child_settings.ChildSettings:
  """Local paths made absolute: a worker (a Ray task) may start elsewhere."""
  return dataclasses.replace(
      settings, output_dir=files.absolute(settings.output_dir),
      data=dataclasses.replace(settings.data,
                               data_dir=files.absolute(settings.data.data_dir)))


def _configs(values: flags.FlagValues):
  """(child settings, search, executor, predictor) configs, all checked.

  Raises:
    usage.UsageError: naming the first bad flag.
  """
  settings = _with_absolute_paths(
      child_flags.settings_from_flags(values, "a search"))
  try:
    operations = search_space.check_operations(values.operations)
  except ValueError as error:
    raise usage.UsageError(f"--operations: {error}") from None
  config = search_config.SearchConfig(
      max_blocks=values.max_blocks, beam_size=values.beam_size,
      search_strategy=values.search_strategy, export_top=values.export_top,
      export_formats=export_flags.formats_from_flags(values),
      seed=values.seed, operations=operations)
  executor = executor_config.ExecutorConfig(
      kind=values.executor, num_workers=values.num_workers,
      children_per_gpu=values.children_per_gpu,
      ray_address=values.ray_address,
      max_child_retries=values.max_child_retries,
      isolate=values.isolate_children)
  predictor_settings = predictor_flags.config_from_flags(
      values, max_blocks=config.max_blocks, seed=config.seed)
  one_block_cells = len(search_space.initial_cells(config.operations))
  if (config.max_blocks > 1
      and predictor_settings.num_members > one_block_cells):
    # The first fit would fail after all of round 1 had trained.
    raise usage.UsageError(
        f"--predictor={predictor_settings.kind} fits "
        f"{predictor_settings.num_members} members on the one-block cells, "
        f"but --operations={','.join(config.operations)} gives only "
        f"{one_block_cells}; lower --predictor_ensemble_size or add operators")
  return settings, config, executor, predictor_settings


@contextlib.contextmanager
def _ray_errors(kind: str) -> Iterator[None]:
  """Ray missing or unreachable, under --executor=ray, as one line."""
  if kind != "ray":
    yield
    return
  from pnas_tf.nas import ray_executor  # pylint: disable=g-import-not-at-top
  try:
    yield
  except ray_executor.RayUnavailableError as error:
    raise usage.UsageError(str(error)) from None


@usage.flag_errors()
def main(argv):
  """Runs the search; returns the exit status."""
  usage.no_arguments(argv)
  settings, config, executor_settings, predictor_settings = _configs(
      flags.FLAGS)
  store = search_store.SearchStore(settings.output_dir)
  export_dir = (files.absolute(flags.FLAGS.export_dir)
                or os.path.join(settings.output_dir, "export"))
  usage.check_output_directory("export_dir", export_dir)
  if executor_settings.kind == "ray":
    from pnas_tf.nas import ray_executor  # pylint: disable=g-import-not-at-top
    with _ray_errors(executor_settings.kind):
      ray_executor.import_ray()  # Ray missing: said before TensorFlow loads.

  # TensorFlow loads only once the flags are known to be good; what it
  # prints as it loads and finds its devices goes to search.log, not the
  # terminal, unless --verbose.
  verbose = settings.train.verbose
  with terminal.captured_output(enabled=not verbose) as startup:
    from pnas_tf.nas import search_runner  # pylint: disable=g-import-not-at-top
    info, net = search_runner.dataset_and_network(settings)
    with _ray_errors(executor_settings.kind):
      executor = search_runner.make_executor(executor_settings, net, settings)
  try:
    with store.locked():
      store.check_settings(*resume_settings(settings, config,
                                            predictor_settings))
      terminal.log_to_file(os.path.join(settings.output_dir, "search.log"),
                           startup)
      progress_bar = terminal.shows_progress_bar(verbose)
      if progress_bar:
        terminal.info_only_to_log()
      return search_runner.run(config, predictor_settings, settings, store,
                               export_dir, info, net, executor, progress_bar)
  except search_store.StoreError as error:
    raise usage.UsageError(str(error)) from None
  finally:
    executor.close()


def run():
  """The entry point of `python -m pnas_tf.search` and its console script."""
  usage.enter_build_working_directory()
  define_flags()
  app.run(usage.checked(main), flags_parser=usage.parse_flags)


if __name__ == "__main__":
  run()
