"""Tests for pnas_tf.storage.files on local disk and at URLs (TensorFlow's ram://,
standing for gs:// and the like)."""

import os

from absl.testing import absltest
from absl.testing import parameterized
import tensorflow as tf

from pnas_tf.storage import files


class FilesTest(parameterized.TestCase):

  def _root(self, kind):
    if kind == "url":
      return f"ram://files_test/{self._testMethodName}"
    return self.create_tempdir().full_path

  @parameterized.parameters("local", "url")
  def test_text_written_whole_then_read_listed_and_removed(self, kind):
    root = self._root(kind)
    path = os.path.join(root, "a", "b.json")
    files.write_json_atomically(path, {"x": 1})
    files.write_json_atomically(path, {"x": 2})
    with files.open_file(path) as stream:
      self.assertEqual(stream.read(), '{\n  "x": 2\n}\n')
    self.assertEqual(files.listdir(os.path.join(root, "a")), ["b.json"])
    self.assertTrue(files.isdir(os.path.join(root, "a")))
    files.remove(path)
    self.assertFalse(files.exists(path))
    files.rmtree(os.path.join(root, "a"))
    files.rmtree(os.path.join(root, "a"))  # absent: no error
    self.assertFalse(files.exists(os.path.join(root, "a")))

  @parameterized.parameters("local", "url")
  def test_a_directory_moves_whole(self, kind):
    root = self._root(kind)
    staging = files.staging_directory(root, ".tmp-")
    self.assertTrue(os.path.basename(staging).startswith(".tmp-"))
    for name in ("state.json", "variables/data", "variables/index", "w.h5"):
      files.write_text_atomically(os.path.join(staging, name), name)
    target = os.path.join(root, "done")
    files.rename(staging, target, last=["state.json"])
    self.assertFalse(files.exists(staging))
    self.assertCountEqual(files.listdir(target),
                          ["state.json", "variables", "w.h5"])
    with files.open_file(os.path.join(target, "variables", "index")) as stream:
      self.assertEqual(stream.read(), "variables/index")
    self.assertEqual(files.serving_versions(root), [])

  def test_absolute_leaves_urls_alone(self):
    self.assertEqual(files.absolute("gs://bucket/x"), "gs://bucket/x")
    self.assertEqual(files.absolute("x"), os.path.join(os.getcwd(), "x"))
    self.assertIsNone(files.absolute(None))
    self.assertTrue(files.is_url("ram://x"))
    self.assertFalse(files.is_url("/tmp/x"))

  def test_url_files_are_tensorflow_files(self):
    files.write_text_atomically("ram://files_test/plain.txt", "hi")
    with tf.io.gfile.GFile("ram://files_test/plain.txt") as stream:
      self.assertEqual(stream.read(), "hi")
    self.assertEqual([name for name in tf.io.gfile.listdir("ram://files_test")
                      if name.startswith(".tmp")], [])


if __name__ == "__main__":
  absltest.main()
