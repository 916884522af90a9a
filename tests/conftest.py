"""pytest set-up shared by the tests."""

from absl import flags


def pytest_configure(config):
  # absltest parses flags in its own main; under pytest nobody does, and
  # create_tempdir and flagsaver need them parsed (defaults are fine).
  del config
  if not flags.FLAGS.is_parsed():
    flags.FLAGS.mark_as_parsed()


def pytest_collection_modifyitems(config, items):
  # tf.test.TestCase inherits a deprecated `test_session` context manager that
  # pytest would collect and report as skipped; it is not a test.
  del config
  items[:] = [item for item in items if item.name != "test_session"]
