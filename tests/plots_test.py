"""Tests for pnas_tf.visual.plots: every plot is a PNG that says what it shows.

The PNGs are read back two ways: decoded by matplotlib (a valid image of the
expected size), and chunk by chunk (png_chunks), for the title each carries
as its PNG "Title" text.
"""

import io
import math
import os
import subprocess
import sys

from absl.testing import absltest
from absl.testing import parameterized
from matplotlib import image as mpl_image
import numpy as np
import png_chunks

from pnas_tf.visual import plots

_CURVE = [0.5, 0.7, 0.7, 0.9]
_EVERY_PLOT = (
    ("predicted_vs_true",
     lambda: plots.predicted_vs_true([0.6, 0.8, 0.7], [0.62, 0.75, 0.8], 2,
                                     0.5)),
    ("best_so_far_one_run", lambda: plots.best_so_far({"pnas": [_CURVE]})),
    ("best_so_far_two_strategies",
     lambda: plots.best_so_far({"pnas": [_CURVE, _CURVE[:2]],
                                "random": [[-math.inf, 0.4, 0.6]]})),
    ("accuracy_vs_params",
     lambda: plots.accuracy_vs_params([1000, 2000, 3000],
                                      [0.5, math.nan, 0.7], [1, 2, 2])),
)


class PlotsTest(parameterized.TestCase):

  @parameterized.named_parameters(*_EVERY_PLOT)
  def test_is_a_640_by_480_png(self, draw):
    png = draw()
    size, texts = png_chunks.size_and_texts(png)
    self.assertEqual(size, (640, 480))
    self.assertIn("Title", texts)
    pixels = mpl_image.imread(io.BytesIO(png), format="png")
    self.assertEqual(pixels.shape[:2], (480, 640))
    # Drawn on, not blank: far more than the white background's one colour.
    self.assertGreater(len(np.unique(pixels.reshape(-1, pixels.shape[2]),
                                     axis=0)), 10)

  def test_predicted_vs_true_names_round_and_rho(self):
    png = plots.predicted_vs_true([0.1, 0.2], [0.3, 0.4], 3, 0.45678)
    self.assertEqual(png_chunks.title(png),
                     "Round 3: predicted vs true accuracy "
                     "(Spearman's \u03c1 = 0.457)")
    png = plots.predicted_vs_true([0.1], [0.3], 4, math.nan)
    self.assertEndsWith(png_chunks.title(png),
                        "(Spearman's \u03c1 = undefined)")

  def test_accuracy_vs_params_counts_only_trained_children(self):
    png = plots.accuracy_vs_params([1, 2, 3], [0.5, math.nan, 0.7],
                                   [1, 1, 2])
    self.assertEqual(png_chunks.title(png),
                     "Validation accuracy against parameters (2 children)")

  def test_best_so_far_title_is_the_callers(self):
    png = plots.best_so_far({"pnas": [_CURVE]}, title="PNAS vs random")
    self.assertEqual(png_chunks.title(png), "PNAS vs random")

  def test_a_long_title_wraps_inside_the_image(self):
    title = "Best validation accuracy so far: " + " vs ".join(
        f"pnas, predictor_{n}" for n in range(6))
    png = plots.best_so_far({"pnas": [_CURVE]}, title=title)
    self.assertEqual(png_chunks.title(png), title)
    pixels = mpl_image.imread(io.BytesIO(png), format="png")[..., :3]
    # Unwrapped, the title's ends would be cut by the left and right edges.
    for column in (0, pixels.shape[1] - 1):
      np.testing.assert_array_equal(pixels[:, column], 1.0)

  @parameterized.named_parameters(
      ("predicted_vs_true", lambda: plots.predicted_vs_true([], [], 1,
                                                            math.nan)),
      ("best_so_far_no_label", lambda: plots.best_so_far({})),
      ("best_so_far_empty_curve", lambda: plots.best_so_far({"pnas": [[]]})),
      ("accuracy_vs_params", lambda: plots.accuracy_vs_params([], [], [])),
      ("accuracy_vs_params_all_failed",
       lambda: plots.accuracy_vs_params([5], [math.nan], [1])),
  )
  def test_empty_inputs_give_an_empty_plot(self, draw):
    self.assertEqual(png_chunks.size_and_texts(draw())[0], (640, 480))

  def test_lengths_must_agree(self):
    with self.assertRaisesRegex(ValueError, "2 predictions for 1"):
      plots.predicted_vs_true([0.1, 0.2], [0.3], 1, 0.0)
    with self.assertRaisesRegex(ValueError, "2 parameter counts"):
      plots.accuracy_vs_params([1, 2], [0.5, 0.6], [1])

  def test_mean_curve_holds_a_finished_runs_best(self):
    mean = plots.mean_curve([[0.5, 0.7, 0.7, 0.9], [0.6, 0.8],
                             [-math.inf, 0.4, 0.4, 0.4]])
    np.testing.assert_allclose(mean, [0.55, (0.7 + 0.8 + 0.4) / 3,
                                      (0.7 + 0.8 + 0.4) / 3,
                                      (0.9 + 0.8 + 0.4) / 3])
    self.assertTrue(np.isnan(plots.mean_curve([[math.nan]])[0]))
    with self.assertRaises(ValueError):
      plots.mean_curve([])

  def test_reads_no_tensorflow_and_no_pyplot(self):
    # pyplot would keep every figure alive and may open a window.
    subprocess.run(
        [sys.executable, "-c",
         "import sys; from pnas_tf.visual import plots; "
         "plots.best_so_far({'a': [[0.5, 0.6]]}); "
         "assert 'tensorflow' not in sys.modules, 'tensorflow'; "
         "assert 'keras' not in sys.modules, 'keras'; "
         "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot'"],
        check=True, cwd=os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))


if __name__ == "__main__":
  absltest.main()
