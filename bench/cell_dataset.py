r"""Gathers every trained child of the measurement runs into one data file.

The project's own small benchmark of the PNAS space on real data (issue 18):
every child that bench/proxy_noise.py trained (records under
bench/data/proxy_noise/<name>/) and every child of the searches kept under
bench/data/searches/<name>/ (search.json and children/*.json, copied from a
search's output directory), in one versioned JSON file. Its format
(bench/data/README.md):

  {"format_version": 1,
   "runs": {<run>: {"kind": "proxy_noise" | "search", "settings": {...},
                    "commit": <commit or null>}},
   "children": [{"run", "cell", "num_blocks", "seed", "accuracy", "params",
                 "seconds", "status"}, ...]}

A run's children are comparable with each other (one set of child
settings); children of different runs are not. `seed` is the child's
training seed (a search trains each cell once, with its --seed).

Example:
  python bench/cell_dataset.py --output=bench/data/pnas_cells.json
"""

import glob
import json
import os

from absl import app
from absl import flags

_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

_OUTPUT = flags.DEFINE_string("output", os.path.join(_DATA, "pnas_cells.json"),
                              "The data file to write.")

FORMAT_VERSION = 1
_FIELDS = ("cell", "num_blocks", "accuracy", "params", "seconds", "status")


def _read(path: str):
  with open(path) as stream:
    return json.load(stream)


def proxy_noise_run(directory: str) -> tuple[dict, list[dict]]:
  """A proxy_noise records directory: its run entry and children."""
  cells = _read(os.path.join(directory, "cells.json"))
  children = []
  for path in sorted(glob.glob(os.path.join(directory, "*_seed*.json"))):
    record = _read(path)
    children.append({**{field: record.get(field) for field in _FIELDS},
                     "seed": record["seed"]})
  return ({"kind": "proxy_noise", "settings": cells["settings"],
           "commit": cells.get("commit")}, children)


def search_run(directory: str) -> tuple[dict, list[dict]]:
  """A kept search (search.json and children/*.json): run and children."""
  search = _read(os.path.join(directory, "search.json"))
  settings = search.get("settings", {})
  children = []
  for path in sorted(glob.glob(os.path.join(directory, "children",
                                            "*.json"))):
    record = _read(path)
    children.append({**{field: record.get(field) for field in _FIELDS},
                     "seed": settings.get("seed"),
                     "order": record.get("order")})
  return ({"kind": "search", "settings": settings,
           "commit": search.get("commit")}, children)


def collect(data_dir: str) -> dict:
  """Every run under `data_dir` (proxy_noise/*, searches/*), as one dict."""
  runs, children = {}, []
  sources = [("proxy_noise", proxy_noise_run), ("searches", search_run)]
  for folder, read in sources:
    for directory in sorted(glob.glob(os.path.join(data_dir, folder, "*"))):
      if not os.path.isdir(directory):
        continue
      name = f"{folder}/{os.path.basename(directory)}"
      runs[name], run_children = read(directory)
      children += [{"run": name, **child} for child in run_children]
  return {"format_version": FORMAT_VERSION, "runs": runs,
          "children": children}


def main(argv):
  del argv
  dataset = collect(_DATA)
  with open(_OUTPUT.value, "w") as stream:
    json.dump(dataset, stream, indent=1, sort_keys=True)
    stream.write("\n")
  print(f"{len(dataset['children'])} children of {len(dataset['runs'])} runs "
        f"-> {_OUTPUT.value}")


if __name__ == "__main__":
  app.run(main)
