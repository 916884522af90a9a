"""Tests for search_reporting: round statistics, plots, TensorBoard, files."""

import csv
import json
import math
import os

from absl.testing import absltest
import numpy as np
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins.hparams import api_pb2
from tensorboard.plugins.hparams import metadata as hp_metadata

from pnas_tf.nas import controller
from pnas_tf.nas import search_reporting
from pnas_tf.nas import search_store
from pnas_tf.space import search_space


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


class ScatterTest(absltest.TestCase):

  def test_points_land_where_their_values_say(self):
    image = search_reporting.scatter_image([0.0, 1.0], [0.0, 1.0], size=100)
    self.assertEqual(image.shape, (100, 100, 3))
    self.assertEqual(image.dtype, np.uint8)
    red = np.argwhere((image[:, :, 0] == 200) & (image[:, :, 1] == 30))
    # (0, 0) near the bottom left, (1, 1) near the top right.
    self.assertTrue(any(r > 90 and c < 10 for r, c in red))
    self.assertTrue(any(r < 10 and c > 90 for r, c in red))
    self.assertFalse(any(r < 50 and c < 50 for r, c in red))


class TensorBoardTest(absltest.TestCase):

  def test_round_scalars_image_and_child_sessions(self):
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
                "child_training_hours", "predicted_vs_true", "best_cell"):
      self.assertIn(tag, tags)
    best = events.Tensors("accuracy/best")[0]
    self.assertEqual(best.step, 2)
    self.assertLen(os.listdir(os.path.join(log_dir, "children")), 3)

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
