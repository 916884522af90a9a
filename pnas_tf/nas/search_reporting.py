"""What a user sees of a running search: progress lines, TensorBoard, plots.

`LogReporter` logs a line per finished child: round, children done of the
round and of the whole search, the child's accuracy, the best so far and an
estimate of the time left. `ProgressBar` shows the same as one bar, on a
terminal. `TensorBoardReporter` writes, under
<output_dir>/tensorboard:
  search/    per round: best, mean and median validation accuracy of the
             round's children; the predictor's Spearman rho (and Kendall tau)
             between its predictions for the round and the true accuracies
             (the paper's measure) and on the cells it was fitted on; models
             trained so far; child-training hours; and as images, the
             round's best cell drawn (best_cell) and three plots (see
             pnas_tf/visual/plots.py): plots/predicted_vs_true (the round's
             children, rho in the title), plots/best_so_far (the best
             accuracy against models trained) and plots/accuracy_vs_params
             (every child so far);
  children/<key>/  one HParams session per child (cell, blocks, round,
             the predictor's accuracy for it where it chose it, accuracy,
             parameters), ended with the child's status.
Given a plots directory (<output_dir>/plots), it also writes the plots there
as PNG files: round<k>_predicted_vs_true.png for each round a predictor
chose, best_so_far.png and accuracy_vs_params.png rewritten every round.

`write_ranking` writes the ranking of every trained cell as summary.csv and
summary.json.

Example:
  reporter = Reporters([LogReporter(),
                        TensorBoardReporter("/tmp/s/tensorboard",
                                            "/tmp/s/plots")])
"""

import csv
import io
import math
import os
from typing import Sequence

from absl import logging
import numpy as np

from pnas_tf.nas import controller
from pnas_tf.nas import search_store
from pnas_tf.predictor import rank_correlation
from pnas_tf.space import search_space
from pnas_tf.storage import files
from pnas_tf.visual import cell_diagram
from pnas_tf.visual import plots


class Reporters:
  """Passes every event to each of several reporters."""

  def __init__(self, reporters: Sequence[controller.Reporter]):
    self.reporters = list(reporters)

  def child_finished(self, record, progress):
    for reporter in self.reporters:
      reporter.child_finished(record, progress)

  def round_finished(self, summary):
    for reporter in self.reporters:
      reporter.round_finished(summary)


def _duration(seconds: float) -> str:
  if not math.isfinite(seconds):
    return "unknown"
  minutes = int(round(seconds / 60))
  return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else (
      f"{minutes}m" if minutes else f"{int(seconds)}s")


class LogReporter:
  """Progress lines through absl logging."""

  def child_finished(self, record, progress):
    best = progress.best
    logging.info(
        "round %d: child %d/%d (search %d/%d) %s %s | best %.4f %s | "
        "ETA %s", progress.round, progress.done_in_round,
        progress.round_size, progress.done_total, progress.budget,
        f"{record.accuracy:.4f}" if record.ok else f"failed ({record.reason})",
        record.cell, best.accuracy if best else math.nan,
        best.cell if best else "-", _duration(progress.seconds_left))

  def round_finished(self, summary):
    accuracies = [r.accuracy for r in summary.records if r.ok]
    logging.info("round %d done: %d children, best %.4f, mean %.4f",
                 summary.round, len(summary.records),
                 max(accuracies, default=math.nan),
                 float(np.mean(accuracies)) if accuracies else math.nan)


class ProgressBar:
  """A tqdm bar over the search's children, for a terminal: done of the
  budget, the round, the best so far and tqdm's own time estimate."""

  def __init__(self, budget: int, stream=None):
    import tqdm  # pylint: disable=g-import-not-at-top
    self._bar = tqdm.tqdm(total=budget, unit="child", file=stream,
                          desc="search")

  def child_finished(self, record, progress):
    del record
    best = progress.best
    # A resumed search starts the bar at the children already trained.
    self._bar.update(progress.done_total - self._bar.n)
    self._bar.set_postfix_str(
        f"round {progress.round}, best {best.accuracy:.4f}" if best
        else f"round {progress.round}")

  def round_finished(self, summary):
    del summary

  def close(self) -> None:
    self._bar.close()


def round_statistics(summary: controller.RoundSummary) -> dict[str, float]:
  """The per-round scalars TensorBoard shows (NaN where not defined)."""
  ok = [r for r in summary.records if r.ok]
  accuracies = np.array([r.accuracy for r in ok])
  stats = {
      "accuracy/best": float(accuracies.max()) if ok else math.nan,
      "accuracy/mean": float(accuracies.mean()) if ok else math.nan,
      "accuracy/median": float(np.median(accuracies)) if ok else math.nan,
      "models_trained": float(len(summary.all_records)),
      "child_training_hours": sum(r.seconds for r in summary.all_records)
                              / 3600.0,
      "predictor/spearman_new_round": math.nan,
      "predictor/kendall_new_round": math.nan,
      "predictor/spearman_training_set": math.nan,
  }
  if summary.predicted and ok:
    pairs = [(p, r.accuracy) for p, r in zip(summary.predicted,
                                             summary.records) if r.ok]
    predicted, true = zip(*pairs)
    stats["predictor/spearman_new_round"] = rank_correlation.spearman(
        predicted, true)
    stats["predictor/kendall_new_round"] = rank_correlation.kendall_tau(
        predicted, true)
  if summary.predictor is not None:
    new = {r.cell for r in summary.records}
    seen = [r for r in summary.all_records if r.ok and r.cell not in new]
    if len(seen) > 1:
      cells = [search_space.Cell.parse(r.cell) for r in seen]
      stats["predictor/spearman_training_set"] = rank_correlation.spearman(
          summary.predictor.predict(cells), [r.accuracy for r in seen])
  return stats


def best_so_far(records: Sequence[search_store.ChildRecord]) -> list[float]:
  """Best accuracy among the first n records by `order`, for n = 1, 2, ...

  -inf until the first successful child.
  """
  best, curve = -math.inf, []
  for record in sorted(records, key=lambda r: r.order):
    if record.ok:
      best = max(best, record.accuracy)
    curve.append(best)
  return curve


_PLOT_DESCRIPTIONS = {
    "predicted_vs_true": "The round's children: the predictor's accuracy "
                         "(x) against the validation accuracy (y).",
    "best_so_far": "The best validation accuracy among the first n models "
                   "trained, against n.",
    "accuracy_vs_params": "Every child trained so far: validation accuracy "
                          "against trainable parameters, by cell size.",
}


def round_plots(summary: controller.RoundSummary,
                rho: float) -> dict[str, bytes]:
  """The round's plots as PNG bytes, by name (see `plots`).

  predicted_vs_true only where a predictor chose the round's cells;
  best_so_far and accuracy_vs_params over the whole search so far.
  """
  pngs = {}
  pairs = [(p, r.accuracy) for p, r in zip(summary.predicted,
                                           summary.records) if r.ok]
  if pairs:
    predicted, true = zip(*pairs)
    pngs["predicted_vs_true"] = plots.predicted_vs_true(
        predicted, true, summary.round, rho)
  pngs["best_so_far"] = plots.best_so_far(
      {"search": [best_so_far(summary.all_records)]})
  pngs["accuracy_vs_params"] = plots.accuracy_vs_params(
      [r.params for r in summary.all_records],
      [r.accuracy if r.ok else math.nan for r in summary.all_records],
      [r.num_blocks for r in summary.all_records])
  return pngs


class TensorBoardReporter:
  """Writes the search's summaries under `log_dir` and its plots, as PNG
  files, under `plots_dir` (see module doc)."""

  def __init__(self, log_dir: str, plots_dir: str | None = None):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    self._tf = tf
    self.log_dir = log_dir
    self.plots_dir = plots_dir
    self._writer = tf.summary.create_file_writer(os.path.join(log_dir,
                                                              "search"))

  def child_finished(self, record, progress):
    # pylint: disable=g-import-not-at-top
    from tensorboard.plugins.hparams import api as hp
    from tensorboard.plugins.hparams import api_pb2
    from tensorboard.plugins.hparams import summary as hp_summary
    # pylint: enable=g-import-not-at-top
    key = search_store.child_key(search_space.Cell.parse(record.cell))
    writer = self._tf.summary.create_file_writer(
        os.path.join(self.log_dir, "children", key))
    # NaN where no predictor chose the child (round 1, random search), so
    # that every session has the same hyperparameters to plot.
    predicted = math.nan if progress.predicted is None else progress.predicted
    with writer.as_default():
      hp.hparams({"cell": record.cell, "blocks": record.num_blocks,
                  "round": progress.round, "predicted_accuracy": predicted,
                  "status": record.status}, trial_id=record.cell)
      self._tf.summary.scalar("accuracy", record.accuracy if record.ok
                              else math.nan, step=record.order)
      self._tf.summary.scalar("params", float(record.params),
                              step=record.order)
      # The session's end, so that HParams shows it done, not "unknown".
      status = (api_pb2.STATUS_SUCCESS if record.ok
                else api_pb2.STATUS_FAILURE)
      self._tf.summary.experimental.write_raw_pb(
          hp_summary.session_end_pb(status).SerializeToString(), step=0)
    writer.close()

  def round_finished(self, summary):
    stats = round_statistics(summary)
    pngs = round_plots(summary, stats["predictor/spearman_new_round"])
    with self._writer.as_default():
      for name, value in stats.items():
        self._tf.summary.scalar(name, value, step=summary.round)
      for name, png in pngs.items():
        self._tf.summary.image(
            f"plots/{name}",
            self._tf.image.decode_png(png, channels=3)[None],
            step=summary.round, description=_PLOT_DESCRIPTIONS[name])
      best = max((r for r in summary.records if r.ok),
                 key=lambda record: record.accuracy, default=None)
      if best:
        drawing = cell_diagram.drawing(search_space.Cell.parse(best.cell),
                                       "png")
        self._tf.summary.image(
            "best_cell", self._tf.image.decode_png(drawing, channels=3)[None],
            step=summary.round,
            description=f"The round's best cell, {best.cell}: validation "
            f"accuracy {best.accuracy:.4f}")
    self._writer.flush()
    if self.plots_dir:
      for name, png in pngs.items():
        # The per-round plot keeps every round; the others show the search
        # so far, so the latest replaces the last.
        file_name = (f"round{summary.round}_{name}.png"
                     if name == "predicted_vs_true" else f"{name}.png")
        files.write_bytes_atomically(os.path.join(self.plots_dir, file_name),
                                     png)


_RANKING_FIELDS = ("rank", "cell", "num_blocks", "accuracy", "params",
                   "seconds", "status", "order", "reason")


def write_ranking(ranking: Sequence[search_store.ChildRecord],
                  directory: str) -> None:
  """summary.csv and summary.json in `directory`: every cell, best first."""
  rows = [dict(record.to_json(), rank=rank)
          for rank, record in enumerate(ranking, start=1)]
  text = io.StringIO()
  writer = csv.DictWriter(text, fieldnames=_RANKING_FIELDS,
                          lineterminator="\n")
  writer.writeheader()
  writer.writerows(rows)
  files.write_text_atomically(os.path.join(directory, "summary.csv"),
                              text.getvalue())
  files.write_json_atomically(os.path.join(directory, "summary.json"), rows)
