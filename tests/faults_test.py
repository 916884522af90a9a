"""Faults a user causes, on the real binaries: Ctrl-C and a full disk.

Each ends in one line and a documented exit status, keeps what was
committed, and the same command then continues. The search and the child
train for real on Debian's Fashion-MNIST (tiny settings); the full disk is
a small tmpfs, where this test may mount one (root), else it is skipped and
usage_test's injected ENOSPC covers the message.
"""

import os
import signal
import subprocess
import sys
import time

from absl.testing import absltest
import tiny_real_search

from pnas_tf.nas import search_store

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_CHILD = ["--cell=max3x3:0+max3x3:1", "--dataset=fashion_mnist", "--epochs=1",
          "--num_train_examples=64", "--validation_size=64", "--filters=4",
          "--num_cells_per_stack=1", "--batch_size=16"]


def _last_line(text: str) -> str:
  lines = [line for line in text.splitlines() if line.strip()]
  return lines[-1] if lines else ""


def _group_ends(group: int, seconds: float = 30) -> bool:
  """Whether every process of `group` is gone within `seconds`."""
  deadline = time.monotonic() + seconds
  while time.monotonic() < deadline:
    try:
      os.killpg(group, 0)
    except ProcessLookupError:
      return True
    time.sleep(0.2)
  return False


class CtrlCTest(absltest.TestCase):

  def test_ctrl_c_ends_the_search_in_one_line_and_the_rerun_finishes(self):
    output_dir = os.path.join(self.create_tempdir().full_path, "search")
    command = [sys.executable, "-m", "pnas_tf.search",
               *tiny_real_search.arguments(output_dir, "--executor=local")]
    # A session of its own, as a terminal's foreground job is: Ctrl-C sends
    # SIGINT to the search and its children alike.
    # SIGINT's default action restored: a shell's background job (as this
    # test may be) ignores it, and Python would inherit that.
    process = subprocess.Popen(
        command, cwd=_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    children = os.path.join(output_dir, "children")
    deadline = time.monotonic() + 300
    while not (os.path.isdir(children) and os.listdir(children)):
      if process.poll() is not None:
        self.fail(f"the search ended first: {process.communicate()}")
      self.assertLess(time.monotonic(), deadline)
      time.sleep(0.2)
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    self.assertEqual(process.returncode, 130, stderr)
    self.assertRegex(_last_line(stderr),
                     ": interrupted; rerun the same command to continue$")
    self.assertNotIn("Traceback", stderr)
    self.assertTrue(_group_ends(process.pid), "a child trains on")
    rerun = subprocess.run(command, cwd=_ROOT, capture_output=True, text=True,
                           timeout=600, check=False)
    self.assertEqual(rerun.returncode, 0, rerun.stderr)
    self.assertLen(search_store.SearchStore(output_dir).records(), 5)


class FullDiskTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.mount = self.create_tempdir().full_path
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", self.mount],
        capture_output=True, check=False)
    if mounted.returncode:
      self.skipTest("cannot mount a tmpfs here (not root?)")
    self.addCleanup(subprocess.run, ["umount", "-l", self.mount],
                    check=False)

  def test_train_child_says_no_space_in_one_line_then_continues(self):
    output_dir = os.path.join(self.mount, "child")
    command = [sys.executable, "-m", "pnas_tf.train_child", *_CHILD,
               f"--output_dir={output_dir}"]
    full = subprocess.run(command, cwd=_ROOT, capture_output=True, text=True,
                          timeout=600, check=False)
    self.assertEqual(full.returncode, 1, full.stderr)
    self.assertRegex(_last_line(full.stderr),
                     f"error: no space left on {self.mount} \\(writing ")
    self.assertNotIn("Traceback", full.stderr)
    subprocess.run(["mount", "-o", "remount,size=64m", self.mount],
                   check=True)
    rerun = subprocess.run(command, cwd=_ROOT, capture_output=True, text=True,
                           timeout=600, check=False)
    self.assertEqual(rerun.returncode, 0, rerun.stderr)
    self.assertTrue(os.path.exists(os.path.join(output_dir, "result.json")))


if __name__ == "__main__":
  absltest.main()
