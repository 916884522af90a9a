"""A cell drawn as a DAG, the way the PNAS paper draws PNASNet-5.

The cell inputs H(c-1) and H(c-2) are at the top. Each block has a node for
each of its two operators and a "+" node that adds them; every "+" feeds the
"concat" node (the cell output concatenates all blocks) and the operators of
later blocks that read it; "concat" gives the cell output H(c) at the bottom.
Only the stride-1 (normal) cell is drawn: a reduction cell is the same DAG.

Node names, which Graphviz's SVG keeps as each node's <title>: "H(c-1)",
"H(c-2)", "block<i>_op1", "block<i>_op2", "block<i>_add" (i from 1),
"concat", "H(c)". The `graphviz` Python package writes the DOT source; the
`dot` program of Graphviz (Debian package graphviz) lays it out and draws it.

Example:
  from pnas_tf.space import search_space
  from pnas_tf.visual import cell_diagram
  cell_diagram.render(search_space.PNASNET_5, "/tmp/pnasnet5_cell.svg")
"""

import os

import graphviz

from pnas_tf.space import search_space

# Output formats, named by the file's extension.
FORMATS = ("svg", "png")

INPUT_NODES = ("H(c-1)", "H(c-2)")  # By hidden-state index.
CONCAT_NODE = "concat"
OUTPUT_NODE = "H(c)"

# The paper's names for the operators, and a fill per kind (separable convs,
# other convs, pooling, identity) so that a reader sees the mix at a glance.
_SEP, _CONV, _POOL, _IDENTITY = "#cfe2f3", "#d9ead3", "#fce5cd", "#eeeeee"
OPERATOR_LABELS = {
    "sep3x3": ("sep 3x3", _SEP),
    "sep5x5": ("sep 5x5", _SEP),
    "sep7x7": ("sep 7x7", _SEP),
    "conv1x7_7x1": ("conv 1x7 7x1", _CONV),
    "identity": ("identity", _IDENTITY),
    "avg3x3": ("avg 3x3", _POOL),
    "max3x3": ("max 3x3", _POOL),
    "dil3x3": ("dil 3x3", _CONV),
}

_FONT = "Helvetica"
# PNG is a bitmap: Graphviz's 96 dpi blurs the labels on a modern screen.
_PNG_DPI = "150"


class GraphvizNotFoundError(RuntimeError):
  """Graphviz's `dot` program, which draws the diagrams, is not installed."""


def output_format(path: str | os.PathLike) -> str:
  """The format a diagram at `path` is written in: its extension.

  Raises:
    ValueError: if the extension is not one of FORMATS.
  """
  extension = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
  if extension not in FORMATS:
    raise ValueError(
        f"{os.fspath(path)!r} must end in "
        f"{' or '.join('.' + name for name in FORMATS)}")
  return extension


def _add_node(position: int) -> str:
  """The "+" node of block `position` (1-based, as in "block 1")."""
  return f"block{position}_add"


def _source_node(index: int) -> str:
  """The node that gives hidden state `index` (0 = H(c-1), 2 + i = block)."""
  if index < search_space.NUM_CELL_INPUTS:
    return INPUT_NODES[index]
  return _add_node(index - search_space.NUM_CELL_INPUTS + 1)


def _graph(cell: search_space.Cell) -> graphviz.Digraph:
  """The cell's DAG with its layout attributes."""
  graph = graphviz.Digraph(
      "cell",
      graph_attr={"rankdir": "TB", "nodesep": "0.25", "ranksep": "0.4",
                  "fontname": _FONT},
      node_attr={"fontname": _FONT, "fontsize": "12", "shape": "box",
                 "style": "rounded,filled", "height": "0.35"},
      edge_attr={"arrowsize": "0.6", "color": "#555555"})
  # Same-rank subgraphs pin the inputs to the top and the output to the
  # bottom; H(c-2) is declared first so that it stands left, earlier in time.
  with graph.subgraph() as inputs:
    inputs.attr(rank="source")
    for name in reversed(INPUT_NODES):
      inputs.node(name, shape="ellipse", style="bold")
  for position, block in enumerate(cell.blocks, start=1):
    add = _add_node(position)
    for operand, (index, op) in enumerate(block.operands(), start=1):
      node = f"block{position}_op{operand}"
      label, fill = OPERATOR_LABELS[op]
      graph.node(node, label, fillcolor=fill)
      graph.edge(_source_node(index), node)
      graph.edge(node, add)
    graph.node(add, "+", shape="circle", style="", width="0.3",
               height="0.3", fixedsize="true", fontsize="16")
    graph.edge(add, CONCAT_NODE)
  graph.node(CONCAT_NODE, "concat", fillcolor="#fff2cc")
  with graph.subgraph() as output:
    output.attr(rank="sink")
    output.node(OUTPUT_NODE, shape="ellipse", style="bold")
  graph.edge(CONCAT_NODE, OUTPUT_NODE)
  return graph


def to_dot(cell: search_space.Cell) -> str:
  """The DOT source of the cell's diagram (needs no Graphviz install)."""
  return _graph(cell).source


def drawing(cell: search_space.Cell, format_: str) -> bytes:
  """The cell's diagram as an SVG or PNG file's bytes.

  Args:
    cell: the cell to draw (its stride-1 form).
    format_: "svg" or "png".

  Raises:
    GraphvizNotFoundError: if Graphviz's `dot` program is not installed.
  """
  graph = _graph(cell)
  if format_ == "png":
    graph.attr(dpi=_PNG_DPI)
  try:
    return graph.pipe(format=format_)
  except graphviz.ExecutableNotFound:
    raise GraphvizNotFoundError(
        "drawing a cell needs Graphviz's `dot` program, which is not on "
        "PATH: install the Debian package graphviz "
        "(apt-get install graphviz)") from None


def render(cell: search_space.Cell, path: str | os.PathLike) -> None:
  """Draws the cell into `path`, as SVG or PNG by the file's extension.

  Args:
    cell: the cell to draw (its stride-1 form).
    path: a local file ending in .svg or .png; replaced if it exists.

  Raises:
    ValueError: if the extension is not .svg or .png (checked first).
    GraphvizNotFoundError: if Graphviz's `dot` program is not installed.
    OSError: if `path` cannot be written.
  """
  image = drawing(cell, output_format(path))
  with open(path, "wb") as file:
    file.write(image)
