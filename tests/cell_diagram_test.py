"""Tests for pnas_tf.visual.cell_diagram: the drawn DAG is the cell's.

Each test draws with Graphviz's real `dot` and reads the SVG back: one node
per input, operator, add, concat and output, and exactly the edges that the
cell's blocks imply, computed here from the blocks, not from the module.
"""

import os
import random
import subprocess
import sys
from unittest import mock
from xml.etree import ElementTree

from absl.testing import absltest
from absl.testing import parameterized

import random_cells
from pnas_tf.space import search_space
from pnas_tf.visual import cell_diagram

_SVG = "{http://www.w3.org/2000/svg}"
_INPUTS = {0: "H(c-1)", 1: "H(c-2)"}
# The names a reader of the PNAS paper expects on the operator nodes.
_LABELS = {
    "sep3x3": "sep 3x3", "sep5x5": "sep 5x5", "sep7x7": "sep 7x7",
    "conv1x7_7x1": "conv 1x7 7x1", "identity": "identity",
    "avg3x3": "avg 3x3", "max3x3": "max 3x3", "dil3x3": "dil 3x3",
}


def _random_cells():
  rng = random.Random(15)
  cells = [("random_1", random_cells.random_cell(rng, 1)),
           ("random_5", random_cells.random_cell(rng, 5)),
           ("random_12", random_cells.random_cell(
               rng, search_space.MAX_BLOCKS))]
  cells += [(f"symmetric_{i}", random_cells.symmetric_cell(rng, 6))
            for i in range(2)]
  return cells


def _expected(cell):
  """(node -> label, sorted edges) of the cell's diagram, from its blocks."""
  nodes = {"H(c-1)": "H(c-1)", "H(c-2)": "H(c-2)", "concat": "concat",
           "H(c)": "H(c)"}
  edges = [("concat", "H(c)")]
  for number, block in enumerate(cell.blocks, start=1):
    add = f"block{number}_add"
    nodes[add] = "+"
    edges.append((add, "concat"))
    for side, (inp, op) in (("op1", (block.in1, block.op1)),
                            ("op2", (block.in2, block.op2))):
      node = f"block{number}_{side}"
      nodes[node] = _LABELS[op]
      # Hidden state 2 + i is block i + 1's output.
      source = _INPUTS[inp] if inp < 2 else f"block{inp - 1}_add"
      edges += [(source, node), (node, add)]
  return nodes, sorted(edges)


def _read_svg(path):
  """(node title -> [label], node title -> y, sorted edges) of a drawing."""
  root = ElementTree.parse(path).getroot()
  labels, heights, edges = {}, {}, []
  for group in root.iter(f"{_SVG}g"):
    title = group.find(f"{_SVG}title").text
    if group.get("class") == "node":
      texts = list(group.iter(f"{_SVG}text"))
      labels.setdefault(title, []).extend(text.text for text in texts)
      heights[title] = float(texts[0].get("y"))
    elif group.get("class") == "edge":
      tail, head = title.split("->")
      edges.append((tail, head))
  return labels, heights, sorted(edges)


class CellDiagramTest(parameterized.TestCase):

  def setUp(self):
    super().setUp()
    self.directory = self.create_tempdir().full_path

  def _draw(self, cell, name="cell.svg"):
    path = os.path.join(self.directory, name)
    cell_diagram.render(cell, path)
    return path

  @parameterized.named_parameters(
      [("pnasnet5", search_space.PNASNET_5)] + _random_cells())
  def test_nodes_and_edges_are_the_cells(self, cell):
    labels, _, edges = _read_svg(self._draw(cell))
    nodes, expected_edges = _expected(cell)
    # One node per name: a repeated title would show as two labels.
    self.assertEqual(labels, {name: [label] for name, label in nodes.items()})
    self.assertEqual(edges, expected_edges)

  def test_pnasnet5_reads_like_the_paper(self):
    labels, _, edges = _read_svg(self._draw(search_space.PNASNET_5))
    operators = [labels[f"block{b}_op{o}"][0] for b in range(1, 6)
                 for o in (1, 2)]
    self.assertEqual(operators, [
        "sep 5x5", "max 3x3", "sep 7x7", "max 3x3", "sep 5x5", "sep 3x3",
        "sep 3x3", "max 3x3", "sep 3x3", "identity"])
    self.assertLen(edges, 5 * 2 * 2 + 5 + 1)
    # Block 4 reads block 3; no other block reads a block.
    self.assertEqual([edge for edge in edges if edge[0].endswith("_add")
                      and edge[1] != "concat"], [("block3_add", "block4_op1")])

  @parameterized.named_parameters(
      [("pnasnet5", search_space.PNASNET_5)] + _random_cells())
  def test_inputs_on_top_and_output_at_the_bottom(self, cell):
    _, heights, _ = _read_svg(self._draw(cell))
    inputs = [heights.pop(name) for name in ("H(c-1)", "H(c-2)")]
    output = heights.pop("H(c)")
    self.assertEqual(inputs[0], inputs[1])
    # SVG's y grows downwards.
    self.assertLess(inputs[0], min(heights.values()))
    self.assertGreater(output, max(heights.values()))

  def test_png_by_extension(self):
    path = self._draw(search_space.PNASNET_5, "cell.png")
    with open(path, "rb") as file:
      self.assertEqual(file.read(8), b"\x89PNG\r\n\x1a\n")

  def test_the_extension_is_case_blind(self):
    path = self._draw(search_space.PNASNET_5, "cell.SVG")
    self.assertLen(_read_svg(path)[0], 2 + 5 * 3 + 2)

  @parameterized.parameters("cell.pdf", "cell", "svg", "cell.svg.gz")
  def test_other_extensions_are_refused_before_drawing(self, name):
    with self.assertRaisesRegex(ValueError, r"must end in \.svg or \.png"):
      self._draw(search_space.PNASNET_5, name)
    self.assertEmpty(os.listdir(self.directory))

  def test_missing_dot_names_the_debian_package(self):
    no_programs = self.create_tempdir().full_path
    with mock.patch.dict(os.environ, {"PATH": no_programs}):
      with self.assertRaisesRegex(cell_diagram.GraphvizNotFoundError,
                                  r"apt-get install graphviz"):
        self._draw(search_space.PNASNET_5)
      # The DOT source needs no Graphviz install.
      self.assertIn('"H(c-2)" -> block1_op1',
                    cell_diagram.to_dot(search_space.PNASNET_5))
    self.assertEmpty(os.listdir(self.directory))

  def test_every_operator_has_a_readable_name(self):
    self.assertCountEqual(cell_diagram.OPERATOR_LABELS,
                          search_space.OPERATIONS)
    self.assertEqual({op: label for op, (label, _)
                      in cell_diagram.OPERATOR_LABELS.items()}, _LABELS)

  def test_reads_no_tensorflow(self):
    subprocess.run(
        [sys.executable, "-c",
         "import sys; from pnas_tf.visual import cell_diagram; "
         "assert 'tensorflow' not in sys.modules, 'tensorflow'; "
         "assert 'keras' not in sys.modules, 'keras'"],
        check=True, cwd=os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))


if __name__ == "__main__":
  absltest.main()
