r"""Compares two searches by the best accuracy found after n trained models.

Reads two search output directories (typically PNAS and the random baseline
on the same settings), takes each one's children in the order they finished,
and prints, for n = 10, 20, ... trained models, the best validation accuracy
each search had reached. Last, the number of models each needed to reach the
final best of the random search (or of the second directory, if neither is
random).

Example:
  python bench/compare_searches.py /tmp/pnas_proxy /tmp/pnas_proxy_random
"""

import json
import os

from absl import app
from absl import flags

from pnas_tf.nas import search_store

_STEP = flags.DEFINE_integer("step", 10, "Rows every this many models.")


def _strategy(directory: str) -> str:
  with open(os.path.join(directory, "search.json")) as stream:
    return json.load(stream)["settings"].get("search_strategy", "?")


def best_so_far(records) -> list[float]:
  """Best accuracy among the first n records, for n = 1..len(records)."""
  best, curve = float("-inf"), []
  for record in sorted(records, key=lambda r: r.order):
    if record.ok:
      best = max(best, record.accuracy)
    curve.append(best)
  return curve


def models_to_reach(curve: list[float], target: float) -> int | None:
  """The fewest models after which the best reached `target`, or None."""
  return next((n for n, best in enumerate(curve, start=1) if best >= target),
              None)


def main(argv):
  if len(argv) != 3:
    raise app.UsageError("give two search output directories")
  directories = argv[1:]
  names = [f"{_strategy(d)} ({os.path.basename(d.rstrip('/'))})"
           for d in directories]
  curves = [best_so_far(search_store.SearchStore(d).records().values())
            for d in directories]
  print(f"| models | {' | '.join(names)} |")
  print("|---:|" + "---:|" * len(curves))
  longest = max(len(curve) for curve in curves)
  for n in list(range(_STEP.value, longest + 1, _STEP.value)) + (
      [longest] if longest % _STEP.value else []):
    cells = [f"{curve[min(n, len(curve)) - 1]:.4f}" if curve else "-"
             for curve in curves]
    print(f"| {n} | {' | '.join(cells)} |")
  strategies = [_strategy(d) for d in directories]
  reference = strategies.index("random") if "random" in strategies else 1
  target = curves[reference][-1]
  needed = [models_to_reach(curve, target) for curve in curves]
  print()
  print(f"models needed to reach {names[reference]}'s final best "
        f"{target:.4f}: " + ", ".join(
            f"{name} {n if n is not None else 'never'}"
            for name, n in zip(names, needed)))


if __name__ == "__main__":
  app.run(main)
