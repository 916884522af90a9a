"""Rank correlations between predicted and true accuracies (NumPy only).

The paper judges a predictor by Spearman's rank correlation between its
predictions and the accuracies the children really reached; Kendall's tau is
reported beside it. Both handle ties (average ranks; tau-b).

Example:
  spearman([0.1, 0.2, 0.3], [0.5, 0.9, 0.7])  # 0.5
"""

from typing import Sequence

import numpy as np


def _average_ranks(values: np.ndarray) -> np.ndarray:
  """Ranks 1..n, tied values sharing the mean of their ranks."""
  order = np.argsort(values, kind="stable")
  sorted_values = values[order]
  # Start index of each run of equal values, and the run each value is in.
  starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
  run = np.cumsum(np.r_[True, sorted_values[1:] != sorted_values[:-1]]) - 1
  ends = np.r_[starts[1:], len(values)]
  ranks = np.empty(len(values))
  ranks[order] = (starts + ends + 1)[run] / 2.0
  return ranks


def _checked(x: Sequence[float], y: Sequence[float]):
  x = np.asarray(x, np.float64)
  y = np.asarray(y, np.float64)
  if x.shape != y.shape or x.ndim != 1:
    raise ValueError(f"need two equally long 1-D sequences, got shapes "
                     f"{x.shape} and {y.shape}")
  return x, y


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
  """Spearman's rho; NaN if there are fewer than 2 values or one is constant."""
  x, y = _checked(x, y)
  if len(x) < 2:
    return float("nan")
  rx = _average_ranks(x) - (len(x) + 1) / 2.0
  ry = _average_ranks(y) - (len(y) + 1) / 2.0
  denominator = np.sqrt(np.sum(rx * rx) * np.sum(ry * ry))
  return float(np.sum(rx * ry) / denominator) if denominator else float("nan")


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float:
  """Kendall's tau-b; NaN if there are fewer than 2 values or one is constant.

  Counts concordant and discordant pairs directly, in blocks of rows, so it
  costs O(n^2) time but only O(n) memory: a few seconds for 10^4 values.
  """
  x, y = _checked(x, y)
  n = len(x)
  if n < 2:
    return float("nan")
  concordance = 0.0
  x_untied = 0
  y_untied = 0
  rows = max(1, 2**22 // n)
  for start in range(0, n, rows):
    dx = np.sign(x[start:start + rows, None] - x[None, :])
    dy = np.sign(y[start:start + rows, None] - y[None, :])
    concordance += float(np.sum(dx * dy))
    x_untied += int(np.count_nonzero(dx))
    y_untied += int(np.count_nonzero(dy))
  denominator = np.sqrt(float(x_untied) * float(y_untied))
  return concordance / denominator if denominator else float("nan")
