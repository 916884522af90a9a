"""Tests for search_store: settings checks, locking, records, corruption."""

import math
import os

from absl.testing import absltest
import lock_holders

from pnas_tf.nas import search_store
from pnas_tf.space import search_space

Cell = search_space.Cell


def _record(accuracy=0.9, order=0, status="ok"):
  return search_store.ChildRecord(cell="", num_blocks=1, status=status,
                                  accuracy=accuracy, order=order)


class SettingsTest(absltest.TestCase):

  def test_other_settings_are_refused_with_every_difference(self):
    store = search_store.SearchStore(self.create_tempdir().full_path)
    store.check_settings({"dataset": "cifar10", "epochs": 20, "filters": 24})
    store.check_settings({"dataset": "cifar10", "epochs": 20, "filters": 24})
    with self.assertRaisesRegex(
        search_store.StoreError,
        r"other settings: --epochs=20 before, 1 now; "
        r"--filters=24 before, 8 now\. Rerun"):
      store.check_settings({"dataset": "cifar10", "epochs": 1, "filters": 8})

  def test_raising_b_is_allowed(self):
    store = search_store.SearchStore(self.create_tempdir().full_path)
    store.check_settings({"dataset": "cifar10", "max_blocks": 3})
    store.check_settings({"dataset": "cifar10", "max_blocks": 5})

  def test_corrupt_settings_are_reported_and_kept(self):
    directory = self.create_tempdir().full_path
    path = os.path.join(directory, "search.json")
    with open(path, "w") as stream:
      stream.write("{not json")
    with self.assertRaisesRegex(search_store.StoreError,
                                "search.json is unreadable or corrupt"):
      search_store.SearchStore(directory).check_settings({"epochs": 1})
    with open(path) as stream:
      self.assertEqual(stream.read(), "{not json")


class LockTest(absltest.TestCase):

  def test_a_second_search_on_the_directory_is_refused(self):
    directory = self.create_tempdir().full_path
    release = lock_holders.event()
    holder = lock_holders.start(self, lock_holders.hold_directory, directory,
                                release)
    with self.assertRaisesRegex(
        search_store.StoreError,
        "^a search \\(host .*, pid [0-9]+\\) is already running in"):
      with search_store.SearchStore(directory).locked():
        pass
    release.set()
    holder.join(30)
    with search_store.SearchStore(directory).locked():
      pass  # free again once the holder is gone


class RecordsTest(absltest.TestCase):

  def test_records_come_back_in_finishing_order(self):
    store = search_store.SearchStore(self.create_tempdir().full_path)
    cells = search_space.initial_cells()[:5]
    for order, cell in reversed(list(enumerate(cells))):
      store.add_record(cell, _record(0.5 + order / 10, order))
    failed = search_space.initial_cells()[5]
    store.add_record(failed, _record(math.nan, 5, "failed"))
    records = store.records()
    self.assertEqual(list(records), cells + [failed])
    self.assertAlmostEqual(records[cells[2]].accuracy, 0.7)
    self.assertFalse(records[failed].ok)
    self.assertTrue(math.isnan(records[failed].accuracy))

  def test_a_record_is_never_replaced(self):
    store = search_store.SearchStore(self.create_tempdir().full_path)
    cell = search_space.initial_cells()[0]
    store.add_record(cell, _record())
    with self.assertRaisesRegex(search_store.StoreError, "trained already"):
      store.add_record(cell, _record(0.1))
    self.assertAlmostEqual(store.records()[cell].accuracy, 0.9)

  def test_keys_are_those_of_the_canonical_cell(self):
    cell = Cell.parse("max3x3:1+sep3x3:0,sep5x5:2+identity:0")
    self.assertEqual(search_store.child_key(cell),
                     search_store.child_key(cell.canonical()))

  def test_a_corrupt_record_is_reported_with_its_path(self):
    directory = self.create_tempdir().full_path
    store = search_store.SearchStore(directory)
    cell = search_space.initial_cells()[0]
    store.add_record(cell, _record())
    path = os.path.join(directory, "children",
                        f"{search_store.child_key(cell)}.json")
    with open(path, "w") as stream:
      stream.write('{"cell": "sep3x3:0+')
    with self.assertRaisesRegex(search_store.StoreError,
                                f"{path} is unreadable or corrupt"):
      store.records()

  def test_rounds_round_trip(self):
    store = search_store.SearchStore(self.create_tempdir().full_path)
    self.assertIsNone(store.load_round(2))
    cells = search_space.expand(search_space.initial_cells()[3])[:4]
    store.save_round(2, cells, [0.9, 0.8, 0.7, 0.6])
    self.assertEqual(store.load_round(2), (cells, [0.9, 0.8, 0.7, 0.6]))


if __name__ == "__main__":
  absltest.main()
