"""pytest set-up shared by the tests."""


def pytest_collection_modifyitems(config, items):
  # tf.test.TestCase inherits a deprecated `test_session` context manager that
  # pytest would collect and report as skipped; it is not a test.
  del config
  items[:] = [item for item in items if item.name != "test_session"]
