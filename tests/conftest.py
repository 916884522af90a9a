"""pytest set-up shared by the tests, and the fast tier.

`python -m pytest -q -m "not slow" -n 0` runs the fast tier: the modules below,
which import no TensorFlow or build only tiny models (about 45 s on 2 cores;
`-n 0`: collecting the slow modules imports TensorFlow, which two test
processes would each do for nothing).
Every other test module trains networks, runs binaries in subprocesses or
starts Ray, and is marked `slow`.
"""

import os

from absl import flags

_FAST_MODULES = frozenset({
    "cell_diagram_test", "cell_encoding_test", "child_flags_test", "compare_searches_test",
    "controller_test", "executors_test", "files_test", "flagfiles_test",
    "layers_test", "local_sources_test", "new_block_position_test",
    "package_test", "plots_test",
    "predictor_flags_test",
    "preprocessing_test", "proxy_noise_test", "rank_correlation_test",
    "run_settings_test", "run_state_test", "search_config_test",
    "search_reporting_test", "search_space_test", "search_store_test",
    "serving_rest_test", "synthetic_accuracy_test", "terminal_test", "progress_test",
    "usage_test",
})


def pytest_configure(config):
  # absltest parses flags in its own main; under pytest nobody does, and
  # create_tempdir and flagsaver need them parsed (defaults are fine).
  if not flags.FLAGS.is_parsed():
    flags.FLAGS.mark_as_parsed()
  config.addinivalue_line(
      "markers", "slow: trains networks, runs binaries or starts Ray "
      "(deselect with -m 'not slow')")


def pytest_collection_modifyitems(config, items):
  del config
  # tf.test.TestCase inherits a deprecated `test_session` context manager that
  # pytest would collect and report as skipped; it is not a test.
  items[:] = [item for item in items if item.name != "test_session"]
  for item in items:
    module = os.path.splitext(os.path.basename(str(item.path)))[0]
    if module not in _FAST_MODULES:
      item.add_marker("slow")
