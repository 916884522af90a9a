"""Tests for the model_summary binary, run as a user runs it."""

import json
import os
import pathlib
import subprocess
import sys
from xml.etree import ElementTree

from absl.testing import absltest
from absl.testing import parameterized

_ROOT = pathlib.Path(__file__).resolve().parent.parent


def run_summary(*args, path=None):
  env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
  if path is not None:
    env["PATH"] = path
  return subprocess.run(
      [sys.executable, "-m", "pnas_tf.model_summary", *args], cwd=_ROOT,
      env=env, capture_output=True, text=True, timeout=300)


class ModelSummaryTest(parameterized.TestCase):

  def test_pnasnet5_cifar_search_summary(self):
    result = run_summary("--cell=PNASNet-5", "--preset=cifar_search",
                         "--num_classes=100", "--filters=16")
    self.assertEqual(result.returncode, 0, msg=result.stderr)
    summary = json.loads(result.stdout)
    self.assertEqual(summary["preset"], "cifar_search")
    self.assertEqual(summary["cell_as_given"],
                     "sep5x5:1+max3x3:1,sep7x7:0+max3x3:0,sep5x5:0+sep3x3:0,"
                     "sep3x3:4+max3x3:0,sep3x3:1+identity:0")
    # The canonical form is the same cell, its blocks renumbered.
    self.assertNotEqual(summary["cell"], summary["cell_as_given"])
    self.assertEqual(summary["network"]["filters"], 16)
    self.assertEqual(summary["logits_shape"], [100])
    self.assertEqual(summary["stem_output_shape"], [32, 32, 48])
    self.assertEqual([c["output_shape"] for c in summary["cells"]],
                     [[32, 32, 80]] * 2 + [[16, 16, 160]] * 2
                     + [[8, 8, 320]] * 2)
    self.assertEqual([c["strides"] for c in summary["cells"]],
                     [1, 1, 2, 1, 2, 1])
    self.assertGreater(summary["params"], 100_000)
    # cifar_search has no auxiliary head: served and trained sizes agree.
    self.assertEqual(summary["training_params"], summary["params"])
    self.assertGreater(summary["non_trainable_params"], 0)

  def test_served_params_leave_out_the_aux_head(self):
    result = run_summary("--preset=cifar_final", "--filters=8")
    summary = json.loads(result.stdout)
    self.assertTrue(summary["network"]["use_aux_head"])
    self.assertGreater(summary["training_params"], summary["params"])
    without = json.loads(run_summary("--preset=cifar_final", "--filters=8",
                                     "--noaux_head").stdout)
    self.assertEqual(without["training_params"], summary["params"])

  def test_the_canonical_string_is_accepted_back(self):
    first = json.loads(run_summary("--cell=sep3x3:1+max3x3:0").stdout)
    again = run_summary(f"--cell={first['cell']}")
    self.assertEqual(json.loads(again.stdout)["params"], first["params"])

  @parameterized.named_parameters(
      ("unknown_operator", ["--cell=sep4x4:0+max3x3:1"], "--cell: unknown operator 'sep4x4'"),
      ("input_out_of_range", ["--cell=sep3x3:0+max3x3:5"], "--cell: input 5 out of range"),
      ("arity", ["--cell=sep3x3:0"], "--cell: block 1"),
      ("preset", ["--preset=cifar100"], "--preset: unknown preset 'cifar100'"),
      ("filters_value", ["--filters=0"], "--filters must be >= 1"),
      ("aux_head_room", ["--preset=cifar_final", "--image_size=8"],
       "--image_size 8 is too small for the auxiliary head"),
      ("filters_type", ["--filters=many"], "--filters=many"),
      ("unknown_flag", ["--filter=8"], "Unknown command line flag 'filter'"),
      ("stray_argument", ["PNASNet-5"], "unexpected arguments: PNASNet-5"),
      ("draw_extension", ["--draw=cell.pdf"],
       "--draw: 'cell.pdf' must end in .svg or .png"),
      ("draw_directory", ["--draw=/no/such/directory/cell.svg"],
       "--draw: cannot write /no/such/directory/cell.svg: No such file"),
  )
  def test_bad_input_is_one_line_and_non_zero(self, args, message):
    result = run_summary(*args)
    self.assertEqual(result.returncode, 2)
    self.assertEqual(result.stdout, "")
    lines = result.stderr.strip().splitlines()
    self.assertLen(lines, 1, msg=result.stderr)
    self.assertIn(message, lines[0])
    self.assertRegex(lines[0], r"^model_summary\.py: error: ")
    self.assertNotIn("Traceback", result.stderr)

  def test_draw_writes_the_diagram_too(self):
    path = os.path.join(self.create_tempdir().full_path, "cell.svg")
    result = run_summary("--cell=sep3x3:0+max3x3:1,identity:2+sep5x5:0",
                         "--filters=8", f"--draw={path}")
    self.assertEqual(result.returncode, 0, msg=result.stderr)
    self.assertEqual(json.loads(result.stdout)["cell_as_given"],
                     "sep3x3:0+max3x3:1,identity:2+sep5x5:0")
    svg = "{http://www.w3.org/2000/svg}"
    titles = [group.find(f"{svg}title").text
              for group in ElementTree.parse(path).getroot().iter(f"{svg}g")
              if group.get("class") == "node"]
    self.assertCountEqual(titles, [
        "H(c-1)", "H(c-2)", "block1_op1", "block1_op2", "block1_add",
        "block2_op1", "block2_op2", "block2_add", "concat", "H(c)"])

  def test_bad_draw_extension_writes_nothing(self):
    directory = self.create_tempdir().full_path
    result = run_summary(f"--draw={directory}/cell.jpg")
    self.assertEqual(result.returncode, 2)
    self.assertEqual(os.listdir(directory), [])

  def test_draw_without_graphviz_names_the_package(self):
    directory = self.create_tempdir().full_path
    result = run_summary(f"--draw={directory}/cell.svg",
                         path=self.create_tempdir().full_path)
    self.assertEqual(result.returncode, 1)
    self.assertEqual(result.stdout, "")
    lines = result.stderr.strip().splitlines()
    self.assertLen(lines, 1, msg=result.stderr)
    self.assertRegex(lines[0], r"^model_summary\.py: error: .*"
                     r"apt-get install graphviz")
    self.assertEqual(os.listdir(directory), [])


if __name__ == "__main__":
  absltest.main()
