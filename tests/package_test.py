"""The installable package: pyproject's console scripts and subpackages."""

import importlib
import pathlib
import tomllib

from absl.testing import absltest

_ROOT = pathlib.Path(__file__).resolve().parent.parent
_BINARIES = ("search", "train_child", "train_final", "predict",
             "model_summary", "convert_checkpoint")


def _pyproject() -> dict:
  with open(_ROOT / "pyproject.toml", "rb") as f:
    return tomllib.load(f)


class PackageTest(absltest.TestCase):

  def test_every_binary_has_a_console_script_that_runs_it(self):
    scripts = _pyproject()["project"]["scripts"]
    self.assertEqual(
        sorted(scripts),
        sorted("pnas-" + name.replace("_", "-") for name in _BINARIES))
    for name in _BINARIES:
      target = scripts["pnas-" + name.replace("_", "-")]
      self.assertEqual(target, f"pnas_tf.{name}:run")
      module = importlib.import_module(f"pnas_tf.{name}")
      self.assertTrue(callable(module.run), name)

  def test_every_subpackage_is_installed(self):
    include = _pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    self.assertEqual(include, ["pnas_tf", "pnas_tf.*"])
    packages = [path.parent for path in (_ROOT / "pnas_tf").rglob("__init__.py")]
    # Modules outside a package (no __init__.py) would not be installed.
    for path in (_ROOT / "pnas_tf").rglob("*.py"):
      self.assertIn(path.parent, packages, path)

  def test_python_version_and_core_dependencies_are_declared(self):
    project = _pyproject()["project"]
    self.assertEqual(project["requires-python"], ">=3.11")
    declared = {spec.split(">")[0].split("[")[0].lower()
                for spec in project["dependencies"]}
    pinned = set()
    for line in (_ROOT / "requirements.txt").read_text().splitlines():
      line = line.split("#")[0].strip()
      if line and not line.startswith("pytest"):
        pinned.add(line.split("=")[0].split(">")[0].split("<")[0].lower())
    self.assertEqual(declared, pinned)


if __name__ == "__main__":
  absltest.main()
