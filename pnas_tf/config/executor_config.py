"""How a search spreads its children over processes, GPUs and hosts.

Pure data, checked at start-up (pnas_tf.nas.executors does the work).

Example:
  config = ExecutorConfig(kind="local", num_workers=2)
"""

import dataclasses
import math

from pnas_tf.config import errors

EXECUTORS = ("inprocess", "local", "ray")


@dataclasses.dataclass(frozen=True)
class ExecutorConfig:
  """How children are spread over processes, GPUs and hosts.

  Attributes:
    kind: one of EXECUTORS.
    num_workers: children trained at once (local, ray); 0 means one per GPU
      share (GPUs x children_per_gpu), or with no GPU: 1 for local, every
      CPU of the cluster for ray.
    children_per_gpu: children sharing one GPU; 1/n gives each child n GPUs.
    ray_address: a running Ray cluster's address; none starts a local one.
    max_child_retries: trainings more for a child whose worker died.
    isolate: inprocess only: each child in a fresh process.
  """
  kind: str = "inprocess"
  num_workers: int = 0
  children_per_gpu: float = 1.0
  ray_address: str | None = None
  max_child_retries: int = 2
  isolate: bool = True

  def __post_init__(self):
    if self.kind not in EXECUTORS:
      raise errors.ConfigError(
          f"executor must be one of {', '.join(EXECUTORS)}, got {self.kind!r}")
    if self.num_workers < 0:
      raise errors.ConfigError(
          f"num_workers must be >= 0, got {self.num_workers}")
    if self.kind == "inprocess" and self.num_workers > 1:
      raise errors.ConfigError(
          "num_workers: the inprocess executor trains one child at a time; "
          "use --executor=local or ray")
    check_children_per_gpu(self.children_per_gpu)
    if self.max_child_retries < 0:
      raise errors.ConfigError("max_child_retries must be >= 0, got "
                               f"{self.max_child_retries}")
    if self.ray_address and self.kind != "ray":
      raise errors.ConfigError("ray_address is for --executor=ray only")
    if not self.isolate and self.kind != "inprocess":
      raise errors.ConfigError(
          "isolate_children: every child of the local and ray executors "
          "trains in a fresh process")


def check_children_per_gpu(children_per_gpu: float) -> None:
  """Raises ConfigError unless it is a whole number or 1/n (GPUs a child)."""
  if not children_per_gpu > 0:
    raise errors.ConfigError(
        f"children_per_gpu must be > 0, got {children_per_gpu}")
  if children_per_gpu >= 1:
    if children_per_gpu != int(children_per_gpu):
      raise errors.ConfigError(
          "children_per_gpu must be a whole number, or 1/n for n GPUs per "
          f"child, got {children_per_gpu:g}")
  elif not math.isclose(round(1 / children_per_gpu) * children_per_gpu, 1.0):
    raise errors.ConfigError("children_per_gpu below 1 must be 1/n (n GPUs "
                             f"per child), got {children_per_gpu:g}")
