"""The package's layers: what may import what, and who touches files.

pnas_tf/__init__.py draws the layers; these tests hold the code to it by
reading the sources (no imports), so they run in milliseconds.
"""

import ast
import pathlib
import re

from absl.testing import absltest
from absl.testing import parameterized

_PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "pnas_tf"
# Higher layers may import lower ones (and their own), never the reverse.
_RANK = {
    "space": 0, "storage": 0, "config": 1, "testing": 1, "visual": 1,
    "model": 2,
    "data": 2, "predictor": 2, "serving": 3, "training": 4, "nas": 5,
    "cli": 6, "": 7,  # "": the binaries at the top.
}
# Calls that ask the operating system about a path; storage/files.py asks
# for every other module, so that a URL output directory works too.
_PATH_QUERIES = {"exists", "isdir", "isfile", "listdir", "getsize"}


def _modules():
  for path in sorted(_PACKAGE.rglob("*.py")):
    layer = path.parent.name if path.parent != _PACKAGE else ""
    yield path, layer


def _imported_layers(tree: ast.AST):
  for node in ast.walk(tree):
    if isinstance(node, ast.ImportFrom) and node.module:
      parts = node.module.split(".")
      if parts[0] == "pnas_tf":
        yield node.lineno, parts[1] if len(parts) > 1 else ""


class LayersTest(parameterized.TestCase):

  def test_every_subpackage_has_a_rank(self):
    layers = {layer for _, layer in _modules()}
    self.assertEqual(layers, set(_RANK))

  def test_lower_layers_never_import_higher_ones(self):
    found = []
    for path, layer in _modules():
      tree = ast.parse(path.read_text())
      for line, imported in _imported_layers(tree):
        if _RANK[imported] > _RANK[layer]:
          found.append(f"{path.relative_to(_PACKAGE)}:{line} imports "
                       f"pnas_tf.{imported or '<binary>'}")
    self.assertEqual(found, [])

  def test_only_storage_asks_the_os_about_paths(self):
    found = []
    for path, layer in _modules():
      if layer == "storage":
        continue
      for node in ast.walk(ast.parse(path.read_text())):
        if (isinstance(node, ast.Attribute) and node.attr in _PATH_QUERIES
            and re.fullmatch(r"os(\.path)?", ast.unparse(node.value))):
          found.append(f"{path.relative_to(_PACKAGE)}:{node.lineno} "
                       f"{ast.unparse(node)}")
    self.assertEqual(found, [])

  def test_space_and_config_read_no_tensorflow(self):
    for path, layer in _modules():
      if _RANK[layer] <= 1 and layer != "storage":
        text = path.read_text()
        self.assertNotRegex(text, r"(?m)^\s*import tensorflow|^\s*import keras",
                            str(path))

  def test_build_files_list_every_import(self):
    missing = []
    for path, layer in _modules():
      build = (path.parent / "BUILD").read_text()
      name = path.stem
      if name == "__init__":
        continue
      match = re.search(rf'name = "{name}",\n(.*?)\n\)', build, re.S)
      deps = match.group(1) if match else ""
      for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.ImportFrom) and node.module
                and node.module.startswith("pnas_tf.")):
          continue
        parts = node.module.split(".")
        # from pnas_tf.<layer> import <module>, or
        # from pnas_tf.<layer>.<module> import <name>.
        targets = ([parts[2]] if len(parts) > 2
                   else [alias.name for alias in node.names])
        for target in targets:
          label = (f'":{target}"' if parts[1] == layer
                   else f'"//pnas_tf/{parts[1]}:{target}"')
          if label not in deps:
            missing.append(f"{path.relative_to(_PACKAGE)}: {label}")
    self.assertEqual(missing, [])


if __name__ == "__main__":
  absltest.main()
