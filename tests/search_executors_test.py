"""A tiny real search trains the same cells under every executor; the
in-process one works without Ray."""

import os

from absl.testing import absltest
import tiny_real_search

from pnas_tf.cli import usage


class SearchExecutorsTest(absltest.TestCase):

  def test_in_process_search_needs_no_ray(self):
    expected, done = tiny_real_search.in_process(
        self.create_tempdir().full_path)
    self.assertEqual(done.returncode, 0, done.stderr[-3000:])
    self.assertIn("5 cells trained", done.stdout)
    self.assertLen(expected, 5)
    output_dir = os.path.join(self.create_tempdir().full_path, "search")
    refused = tiny_real_search.run_without_ray(output_dir, "--executor=ray")
    self.assertEqual(refused.returncode, usage.EXIT_USAGE)
    self.assertIn("--executor=ray needs Ray: pip install -r "
                  "requirements-ray.txt", refused.stderr)
    self.assertFalse(os.path.exists(output_dir))

  def test_local_workers_train_the_same_cells_as_in_process(self):
    root = self.create_tempdir().full_path
    expected, done = tiny_real_search.in_process(root)
    self.assertEqual(done.returncode, 0, done.stderr[-3000:])
    local = tiny_real_search.run(os.path.join(root, "local"),
                                 executor="local", num_workers=2)
    self.assertEqual(local, expected)


if __name__ == "__main__":
  absltest.main()
