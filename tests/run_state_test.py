"""Tests for pnas_tf.storage.run_state: one owner per directory, settings kept."""

import json
import os
import signal

from absl.testing import absltest
import lock_holders

from pnas_tf.storage import files
from pnas_tf.storage import run_state


class SettingsTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.path = os.path.join(self.create_tempdir().full_path, "run.json")

  def test_first_run_records_and_the_same_settings_pass(self):
    run_state.check_and_record(self.path, {"epochs": 5, "cell": "x"}, 1)
    with open(self.path) as stream:
      self.assertEqual(json.load(stream), {
          "format_version": 1, "settings": {"cell": "x", "epochs": 5}})
    run_state.check_and_record(self.path, {"cell": "x", "epochs": 5}, 1)

  def test_differences_are_all_listed_and_the_file_is_kept(self):
    run_state.check_and_record(self.path, {"epochs": 5, "seed": 0, "a": 1}, 1)
    with open(self.path) as stream:
      before = stream.read()
    with self.assertRaisesRegex(
        run_state.RunStateError,
        r"holds a final training with other settings: --a=1 before, None "
        r"now; --epochs=5 before, 6 now\. Rerun"):
      run_state.check_and_record(self.path, {"epochs": 6, "seed": 0}, 1,
                                 what="a final training")
    with open(self.path) as stream:
      self.assertEqual(stream.read(), before)

  def test_mutable_settings_may_change_and_are_updated(self):
    run_state.check_and_record(self.path, {"max_blocks": 3, "seed": 0}, 1)
    run_state.check_and_record(self.path, {"max_blocks": 5, "seed": 0}, 1,
                               mutable={"max_blocks"})
    with open(self.path) as stream:
      self.assertEqual(json.load(stream)["settings"]["max_blocks"], 5)

  def test_corrupt_or_other_version_files_are_reported_and_kept(self):
    with open(self.path, "w") as stream:
      stream.write("{not json")
    with self.assertRaisesRegex(run_state.RunStateError,
                                "run.json is unreadable or corrupt"):
      run_state.check_and_record(self.path, {"epochs": 5}, 1)
    with open(self.path, "w") as stream:
      json.dump({"format_version": 7, "settings": {}}, stream)
    with self.assertRaisesRegex(run_state.RunStateError,
                                "format version 7; this pnas_tf reads 1"):
      run_state.check_and_record(self.path, {"epochs": 5}, 1)
    with open(self.path) as stream:
      self.assertEqual(json.load(stream)["format_version"], 7)


class KindTest(absltest.TestCase):

  def test_a_directory_of_another_kind_of_run_is_refused(self):
    directory = self.create_tempdir().full_path
    run_state.check_kind(directory, "a final training")  # Empty: fine.
    with open(os.path.join(directory, "search.json"), "w") as stream:
      stream.write("{}")
    run_state.check_kind(directory, "a search")
    with self.assertRaisesRegex(
        run_state.RunStateError,
        f"^{directory} holds a search \\(search.json\\), not a final "
        "training; choose another --output_dir$"):
      run_state.check_kind(directory, "a final training")


class LockTest(absltest.TestCase):

  def test_a_second_owner_is_refused_until_the_first_is_gone(self):
    directory = self.create_tempdir().full_path
    release = lock_holders.event()
    holder = lock_holders.start(self, lock_holders.hold_directory, directory,
                                release)
    with self.assertRaisesRegex(
        run_state.RunStateError,
        "^a search \\(host .*, pid [0-9]+\\) is already running in .*"
        "choose another --output_dir"):
      with run_state.exclusive_directory(directory, "a final training"):
        pass
    release.set()
    holder.join(30)
    with run_state.exclusive_directory(directory, "a final training"):
      pass

  def test_file_lock_makes_its_directory_and_is_free_at_once(self):
    path = os.path.join(self.create_tempdir().full_path, "new", "x.lock")
    busy = []
    with run_state.file_lock(path, on_busy=lambda: busy.append(True)):
      self.assertTrue(os.path.isfile(path))
    with run_state.file_lock(path, on_busy=lambda: busy.append(True)):
      pass
    self.assertEqual(busy, [])

  def test_file_lock_waits_for_its_holder(self):
    path = os.path.join(self.create_tempdir().full_path, "data.prepare.lock")
    release = lock_holders.event()
    lock_holders.start(self, lock_holders.hold_file, path, release)
    busy = []

    def on_busy():
      busy.append(os.path.exists(path + ".released"))
      release.set()

    with run_state.file_lock(path, on_busy=on_busy):
      self.assertTrue(os.path.exists(path + ".released"))
    self.assertEqual(busy, [False])

  def test_file_lock_of_a_killed_holder_is_free(self):
    path = os.path.join(self.create_tempdir().full_path, "data.prepare.lock")
    holder = lock_holders.start(self, lock_holders.hold_file_until_killed,
                                path)
    with run_state.file_lock(path, on_busy=holder.kill):
      holder.join(30)
      self.assertEqual(holder.exitcode, -signal.SIGKILL)

  def test_on_url_storage_a_lock_file_names_its_holder(self):
    directory = "ram://run_state_test/lock"
    lock = directory + "/" + run_state.LOCK_FILE
    with run_state.exclusive_directory(directory, "a search"):
      self.assertIn(f"pid {os.getpid()}", _read(lock))
      with self.assertRaisesRegex(
          run_state.RunStateError,
          f"^a search \\(host .*, pid {os.getpid()}\\) holds {lock}; wait "
          "for it, or if none runs \\(it crashed\\), delete that file$"):
        with run_state.exclusive_directory(directory, "a search"):
          pass
    self.assertFalse(files.exists(lock))
    # A crashed holder's file stays, and refuses, until deleted.
    files.write_text_atomically(lock, "host elsewhere pid 1\n")
    with self.assertRaisesRegex(run_state.RunStateError, "elsewhere pid 1"):
      with run_state.exclusive_directory(directory, "a search"):
        pass
    files.remove(lock)
    with run_state.exclusive_directory(directory, "a search"):
      pass


def _read(path):
  with files.open_file(path) as stream:
    return stream.read()


if __name__ == "__main__":
  absltest.main()
