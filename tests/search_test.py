"""End-to-end tests of the search binary on tfds mock data."""

import csv
import json
import os
from unittest import mock

from absl.testing import flagsaver
from absl.testing import parameterized
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from pnas_tf import search
from pnas_tf.cli import usage
from pnas_tf.nas import controller
from pnas_tf.storage import files

search.define_flags()

# A whole search in seconds: one operator (3 one-block cells), B = 2, K = 2,
# tiny networks trained in this process (mock data lives only here).
_TINY = dict(dataset="cifar10", epochs=1, filters=4, num_cells_per_stack=1,
             batch_size=8, validation_size=8, operations=["max3x3"],
             max_blocks=2, beam_size=2, export_top=2, predictor="mlp",
             predictor_epochs=2, isolate_children=False)


class SearchMainTest(tf.test.TestCase, parameterized.TestCase):

  def setUp(self):
    super().setUp()
    search.define_flags()  # The search's defaults, whoever set theirs last.
    self.output_dir = os.path.join(self.create_tempdir().full_path, "search")

  def _search(self, **overrides):
    settings = dict(_TINY, output_dir=self.output_dir)
    settings.update(overrides)
    with flagsaver.flagsaver(**settings):
      with tfds.testing.mock_data(num_examples=24):
        return search.main(["search"])

  def test_whole_search_ranks_and_exports_servable_models(self):
    self.assertEqual(self._search(), 0)
    with open(os.path.join(self.output_dir, "summary.csv")) as stream:
      rows = list(csv.DictReader(stream))
    self.assertLen(rows, 3 + 2)
    self.assertEqual([row["rank"] for row in rows], ["1", "2", "3", "4", "5"])
    accuracies = [float(row["accuracy"]) for row in rows]
    self.assertEqual(accuracies, sorted(accuracies, reverse=True))
    with open(os.path.join(self.output_dir, "summary.json")) as stream:
      self.assertEqual(len(json.load(stream)), 5)
    two_block = [row for row in rows if row["num_blocks"] == "2"]
    for rank in (1, 2):
      model_dir = os.path.join(self.output_dir, "export", f"pnas_{rank}")
      with open(os.path.join(model_dir, "pnas_cell.json")) as stream:
        exported = json.load(stream)
      self.assertEqual(exported["cell"], two_block[rank - 1]["cell"])
      self.assertTrue(exported["search_finished"])
      with open(os.path.join(model_dir, "pnas_cell.svg")) as stream:
        self.assertIn("concat", stream.read())
      # Version 1 is round 1's best so far; the last is the search's.
      last = max(files.serving_versions(model_dir))
      served = tf.saved_model.load(os.path.join(model_dir, str(last)))
      images = tf.constant(np.zeros((3, 32, 32, 3)), tf.uint8)
      probabilities = served.signatures["serving_default"](images=images)
      self.assertAllClose(tf.reduce_sum(probabilities["probabilities"], 1),
                          [1.0] * 3, atol=1e-5)
    events = os.listdir(os.path.join(self.output_dir, "tensorboard",
                                     "search"))
    self.assertNotEmpty(events)
    self.assertLen(os.listdir(os.path.join(self.output_dir, "tensorboard",
                                           "children")), 5)
    # Rerunning the finished search trains nothing and changes nothing.
    pnas_1 = os.path.join(self.output_dir, "export", "pnas_1")
    versions = files.serving_versions(pnas_1)
    self.assertEqual(self._search(), 0)
    with open(os.path.join(self.output_dir, "summary.csv")) as stream:
      self.assertEqual(list(csv.DictReader(stream)), rows)
    self.assertEqual(files.serving_versions(pnas_1), versions)
    # A rank whose exported cell is no longer the one there gets version 2.
    cell_file = os.path.join(self.output_dir, "export", "pnas_1",
                             "pnas_cell.json")
    with open(cell_file) as stream:
      exported = json.load(stream)
    with open(cell_file, "w") as stream:
      json.dump(dict(exported, cell="max3x3:0+max3x3:0"), stream)
    self.assertEqual(self._search(), 0)
    self.assertEqual(files.serving_versions(pnas_1),
                     versions + [max(versions) + 1])
    with open(cell_file) as stream:
      self.assertEqual(json.load(stream)["cell"], exported["cell"])
    self._check_refusals()

  def test_a_search_stopped_after_round_1_has_its_results_so_far(self):
    with mock.patch.object(controller, "_chosen",
                           side_effect=KeyboardInterrupt):
      with self.assertRaises(KeyboardInterrupt):
        self._search()
    with open(os.path.join(self.output_dir, "summary.csv")) as stream:
      rows = list(csv.DictReader(stream))
    self.assertLen(rows, 3)  # Round 1's one-block cells.
    for rank in (1, 2):
      model_dir = os.path.join(self.output_dir, "export", f"pnas_{rank}")
      with open(os.path.join(model_dir, "pnas_cell.json")) as stream:
        exported = json.load(stream)
      self.assertEqual(exported["cell"], rows[rank - 1]["cell"])
      self.assertEqual((exported["search_finished"],
                        exported["best_so_far_after_round"]), (False, 1))
      self.assertEqual(files.serving_versions(model_dir), [1])
    # The rerun continues, and ends with the search's own exports.
    self.assertEqual(self._search(), 0)
    with open(os.path.join(self.output_dir, "export", "pnas_1",
                           "pnas_cell.json")) as stream:
      self.assertTrue(json.load(stream)["search_finished"])

  def _check_refusals(self):
    """Reruns that must be refused, on the finished search's directory."""
    with self.assertRaisesRegex(
        usage.UsageError, "other settings: --epochs=1 before, 2 now; "
        "--filters=4 before, 8 now"):
      self._search(epochs=2, filters=8)
    state = os.path.join(self.output_dir, "predictor", "round_1",
                         "predictor.json")
    with open(state, "w") as stream:
      stream.write("{")
    with self.assertRaisesRegex(usage.UsageError,
                                "predictor.json is corrupt.*remove that"):
      self._search(max_blocks=3)
    with open(state) as stream:
      self.assertEqual(stream.read(), "{")

  def test_a_search_on_url_storage_resumes_there(self):
    # ram:// stands for gs:// and the like: every path through tf.io.gfile.
    url = "ram://search_test/search"
    gfile = tf.io.gfile
    self.assertEqual(self._search(output_dir=url, max_blocks=1), 0)
    records = sorted(name for name in gfile.listdir(url + "/children")
                     if name.endswith(".json"))
    self.assertLen(records, 3)
    self.assertFalse(gfile.exists(url + "/.lock"))
    # No later round would use a predictor: none is fitted.
    self.assertFalse(gfile.exists(url + "/predictor"))
    served = tf.saved_model.load(url + "/export/pnas_1/1")
    self.assertIn("serving_bytes", served.signatures)
    # A record lost, as if the search had been killed as the child finished:
    # the child's own copy brings it back, and nothing trains again.
    before = {name: _read(f"{url}/children/{name}") for name in records}
    gfile.remove(f"{url}/children/{records[0]}")
    self.assertEqual(self._search(output_dir=url, max_blocks=1), 0)
    self.assertEqual({name: _read(f"{url}/children/{name}")
                      for name in records}, before)
    self.assertEqual(sorted(name.rstrip("/") for name in
                            gfile.listdir(url + "/export/pnas_1")),
                     ["1", "pnas_cell.json", "pnas_cell.svg"])
    self.assertEqual([name for name in gfile.listdir(url)
                      if name.startswith(".tmp")], [])
    self.assertFalse(os.path.exists(self.output_dir))

  @parameterized.parameters(
      (dict(beam_size=0), "^--beam_size must be >= 1, got 0$"),
      (dict(search_strategy="evolution"), "^--search_strategy must be one"),
      (dict(operations=["sep4x4"]), "^--operations: unknown operator"),
      (dict(predictor="gru"), "^--predictor must be one of"),
      (dict(num_workers=2), "^--num_workers: the inprocess executor trains "
       "one child at a time"),
      (dict(executor="local", num_workers=-1),
       "^--num_workers must be >= 0, got -1$"),
      (dict(executor="ray", max_child_retries=-1),
       "^--max_child_retries must be >= 0"),
      (dict(executor="local", ray_address="auto"),
       "^--ray_address is for --executor=ray only$"),
      (dict(validation_size=1.0), "^--validation_size 1 is ambiguous"),
      (dict(operations=["max3x3"], max_blocks=2, predictor="lstm_ensemble"),
       "^--predictor=lstm_ensemble fits 5 members on the one-block cells, "
       "but --operations=max3x3 gives only 3;"),
      (dict(export_dir="/proc/pnas_tf_export"),
       "^--export_dir /proc/pnas_tf_export cannot be created"),
  )
  def test_bad_flags_fail_before_anything_is_written(self, overrides, message):
    with self.assertRaisesRegex(usage.UsageError, message):
      self._search(**overrides)
    self.assertFalse(os.path.exists(self.output_dir))


def _read(path):
  with tf.io.gfile.GFile(path) as stream:
    return stream.read()


if __name__ == "__main__":
  tf.test.main()
