"""Tests for search_reporting: round statistics, plots, TensorBoard, files."""

import csv
import json
import dataclasses
import io
import math
import os

from absl.testing import absltest
import numpy as np
import png_chunks
import tensorflow as tf
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins.hparams import api_pb2
from tensorboard.plugins.hparams import metadata as hp_metadata

from pnas_tf.nas import controller
from pnas_tf.nas import search_reporting
from pnas_tf.nas import search_store
from pnas_tf.space import search_space


_PLOT_TAGS = ("plots/predicted_vs_true", "plots/best_so_far",
              "plots/accuracy_vs_params")


def _read(path: str) -> bytes:
  with open(path, "rb") as stream:
    return stream.read()


def _record(cell, accuracy, order, status="ok", seconds=1800.0):
  cell = cell.canonical()
  return search_store.ChildRecord(
      cell=str(cell), num_blocks=cell.num_blocks, status=status,
      accuracy=accuracy, params=100, seconds=seconds, order=order)


class _Predictor:
  """Predicts the negated index of a cell in a fixed list."""

  def __init__(self, cells):
    self.cells = [str(c) for c in cells]

  def predict(self, cells):
    return np.array([-self.cells.index(str(c)) for c in cells], float)


def _summary():
  cells = search_space.initial_cells()[:6]
  old = [_record(c, 0.5 + i / 100, i) for i, c in enumerate(cells[:3])]
  new = [_record(cells[3], 0.9, 3), _record(cells[4], 0.7, 4),
         _record(cells[5], math.nan, 5, status="failed")]
  return controller.RoundSummary(
      round=2, records=new, predicted=[0.8, 0.9, 0.85],
      all_records=old + new,
      predictor=_Predictor(list(reversed(cells[:3])) + cells[3:]))


def _progress(predicted):
  return controller.Progress(round=2, done_in_round=1, round_size=3,
                             done_total=4, budget=6, best=None,
                             seconds_left=0.0, predicted=predicted)


class RoundStatisticsTest(absltest.TestCase):

  def test_values(self):
    stats = search_reporting.round_statistics(_summary())
    self.assertAlmostEqual(stats["accuracy/best"], 0.9)
    self.assertAlmostEqual(stats["accuracy/mean"], 0.8)
    self.assertAlmostEqual(stats["accuracy/median"], 0.8)
    self.assertEqual(stats["models_trained"], 6)
    self.assertAlmostEqual(stats["child_training_hours"], 3.0)
    # Predicted 0.8 < 0.9 but true 0.9 > 0.7: reversed ranks.
    self.assertAlmostEqual(stats["predictor/spearman_new_round"], -1.0)
    self.assertAlmostEqual(stats["predictor/kendall_new_round"], -1.0)
    # The predictor puts the three older cells in their accuracy order.
    self.assertAlmostEqual(stats["predictor/spearman_training_set"], 1.0)

  def test_first_round_has_no_predictor_figures(self):
    summary = _summary()
    first = controller.RoundSummary(round=1, records=summary.records,
                                    predicted=[], all_records=summary.records,
                                    predictor=None)
    stats = search_reporting.round_statistics(first)
    self.assertTrue(math.isnan(stats["predictor/spearman_new_round"]))
    self.assertTrue(math.isnan(stats["predictor/spearman_training_set"]))


class PlotsTest(absltest.TestCase):

  def test_best_so_far_follows_the_order_children_were_trained_in(self):
    cells = search_space.initial_cells()[:4]
    records = [_record(cells[0], 0.6, 2), _record(cells[1], 0.5, 0),
               _record(cells[2], math.nan, 3, status="failed"),
               _record(cells[3], 0.7, 1)]
    self.assertEqual(search_reporting.best_so_far(records),
                     [0.5, 0.7, 0.7, 0.7])
    self.assertEqual(search_reporting.best_so_far(records[2:3]), [-math.inf])

  def test_round_plots(self):
    summary = _summary()
    pngs = search_reporting.round_plots(summary, -1.0)
    self.assertCountEqual(pngs, ["predicted_vs_true", "best_so_far",
                                 "accuracy_vs_params"])
    self.assertIn("Round 2", png_chunks.title(pngs["predicted_vs_true"]))
    self.assertIn("= -1.000", png_chunks.title(pngs["predicted_vs_true"]))
    # Five trained children so far; the failed one is not drawn.
    self.assertIn("(5 children)",
                  png_chunks.title(pngs["accuracy_vs_params"]))
    first = controller.RoundSummary(round=1, records=summary.records,
                                    predicted=[], all_records=summary.records,
                                    predictor=None)
    self.assertCountEqual(search_reporting.round_plots(first, math.nan),
                          ["best_so_far", "accuracy_vs_params"])


class TensorBoardTest(absltest.TestCase):

  def test_round_scalars_images_and_child_sessions(self):
    log_dir = self.create_tempdir().full_path
    reporter = search_reporting.TensorBoardReporter(log_dir)
    summary = _summary()
    for record, predicted in zip(summary.records, summary.predicted):
      reporter.child_finished(record, _progress(predicted))
    reporter.round_finished(summary)
    events = event_accumulator.EventAccumulator(
        os.path.join(log_dir, "search"),
        size_guidance={event_accumulator.TENSORS: 0,
                       event_accumulator.IMAGES: 0})
    events.Reload()
    tags = events.Tags()["tensors"]
    for tag in ("accuracy/best", "predictor/spearman_new_round",
                "child_training_hours", "best_cell"):
      self.assertIn(tag, tags)
    best = events.Tensors("accuracy/best")[0]
    self.assertEqual(best.step, 2)
    for tag in _PLOT_TAGS:
      image = events.Tensors(tag)[0]
      self.assertEqual(image.step, 2)
      # An image summary: width, height, then the encoded image.
      width, height, encoded = tf.make_ndarray(image.tensor_proto)
      self.assertEqual((int(width), int(height)), (640, 480))
      self.assertEqual(tf.image.decode_png(encoded).shape[:2], (480, 640))
    self.assertLen(os.listdir(os.path.join(log_dir, "children")), 3)
    # No plots directory given, none written.
    self.assertCountEqual(os.listdir(log_dir), ["search", "children"])

  def test_plots_written_as_png_files_every_round(self):
    log_dir = self.create_tempdir().full_path
    plots_dir = os.path.join(self.create_tempdir().full_path, "plots")
    reporter = search_reporting.TensorBoardReporter(log_dir, plots_dir)
    summary = _summary()
    first = controller.RoundSummary(round=1, records=summary.all_records[:3],
                                    predicted=[],
                                    all_records=summary.all_records[:3],
                                    predictor=None)
    reporter.round_finished(first)
    self.assertCountEqual(os.listdir(plots_dir),
                          ["best_so_far.png", "accuracy_vs_params.png"])
    reporter.round_finished(summary)
    self.assertCountEqual(os.listdir(plots_dir),
                          ["round2_predicted_vs_true.png", "best_so_far.png",
                           "accuracy_vs_params.png"])
    for name in os.listdir(plots_dir):
      png = _read(os.path.join(plots_dir, name))
      self.assertEqual(tf.image.decode_png(png).shape[:2], (480, 640), name)
    # Rewritten for round 2: the search's five trained children so far.
    self.assertIn("(5 children)", png_chunks.title(
        _read(os.path.join(plots_dir, "accuracy_vs_params.png"))))
    self.assertIn("\u03c1 = -1.000", png_chunks.title(
        _read(os.path.join(plots_dir, "round2_predicted_vs_true.png"))))

  def test_child_sessions_end_with_their_status_round_and_prediction(self):
    log_dir = self.create_tempdir().full_path
    reporter = search_reporting.TensorBoardReporter(log_dir)
    summary = _summary()
    for record, predicted in zip(summary.records, summary.predicted):
      reporter.child_finished(record, _progress(predicted))
    for record, predicted in zip(summary.records, summary.predicted):
      key = search_store.child_key(search_space.Cell.parse(record.cell))
      events = event_accumulator.EventAccumulator(
          os.path.join(log_dir, "children", key),
          size_guidance={event_accumulator.TENSORS: 0})
      events.Reload()
      content = events.PluginTagToContent("hparams")
      start = hp_metadata.parse_session_start_info_plugin_data(
          content[hp_metadata.SESSION_START_INFO_TAG])
      self.assertEqual(start.hparams["round"].number_value, 2)
      self.assertAlmostEqual(
          start.hparams["predicted_accuracy"].number_value, predicted)
      end = hp_metadata.parse_session_end_info_plugin_data(
          content[hp_metadata.SESSION_END_INFO_TAG])
      self.assertEqual(end.status, api_pb2.STATUS_SUCCESS if record.ok
                       else api_pb2.STATUS_FAILURE)


class ProgressBarTest(absltest.TestCase):

  def test_the_bar_shows_children_done_round_and_best(self):
    stream = io.StringIO()
    bar = search_reporting.ProgressBar(budget=6, stream=stream)
    best = _record(search_space.initial_cells()[0], 0.8125, 0)
    # A resumed search: its first report is already its fourth child.
    bar.child_finished(best, dataclasses.replace(_progress(None), best=best))
    bar.close()
    text = stream.getvalue()
    self.assertIn("4/6", text)
    self.assertIn("round 2, best 0.8125", text)
    self.assertNotIn("1/6", text)


class RankingFilesTest(absltest.TestCase):

  def test_csv_and_json_rank_every_cell(self):
    directory = self.create_tempdir().full_path
    summary = _summary()
    records = {search_space.Cell.parse(r.cell): r
               for r in summary.all_records}
    search_reporting.write_ranking(controller.ranking(records), directory)
    with open(os.path.join(directory, "summary.csv")) as stream:
      rows = list(csv.DictReader(stream))
    self.assertEqual([row["accuracy"] for row in rows][:2], ["0.9", "0.7"])
    self.assertEqual(rows[-1]["status"], "failed")
    self.assertEqual(rows[-1]["accuracy"], "")
    with open(os.path.join(directory, "summary.json")) as stream:
      ranked = json.load(stream)
    self.assertEqual([r["rank"] for r in ranked], list(range(1, 7)))


if __name__ == "__main__":
  absltest.main()
