"""The settings a rerun on the same output directory must keep.

A search or a final training resumes when its command is run again; a rerun
that changed what its results mean (the data, the network, the training)
must be refused. Those settings are derived from the typed configs' fields,
so a field added to a config is compared by default. Only the fields listed
in MAY_CHANGE are left out: they change how a run executes or reports, not
what it computes.

Each field is recorded under its flag's name (PredictorConfig's under
"predictor_<field>", its `kind` as "predictor"). A record written before a
field existed holds no value for it; the run that wrote it used the field's
default, so `defaults` fills it in before comparing.

Example:
  settings = comparable([data, train, search, predictor],
                        extra={"preset": "cifar_search"})
  old = {**defaults([data, train, search, predictor]), **recorded}
"""

import dataclasses
from typing import Any, Iterable

# Fields a rerun may change, with why.
MAY_CHANGE = frozenset({
    "data_dir",  # Where tfds keeps the data: the same data, elsewhere.
    "download",  # Whether tfds may fetch data that is not prepared.
    "strategy",  # How replicas split a batch; the same computation.
    "xla",  # Compilation of the same steps.
    "deterministic",  # The same computation, in a reproducible order.
    "verbose",  # Console output.
    "keep_checkpoints",  # Whether epochs are backed up.
    "export_top",  # How many best cells are exported at the end.
    "export_formats",  # What the exports hold.
})

# Config classes whose fields have flags of other names.
_FLAG_NAMES = {
    "PredictorConfig": lambda field: ("predictor" if field == "kind"
                                      else f"predictor_{field}"),
}
# Fields two configs share and take from one flag; compared once.
_SHARED = frozenset({"seed", "max_blocks"})


def _flag_name(config: Any, field: str) -> str:
  if field in _SHARED:
    return field
  rename = _FLAG_NAMES.get(type(config).__name__)
  return rename(field) if rename else field


def comparable(configs: Iterable[Any], extra: dict[str, Any] | None = None,
               may_change: Iterable[str] = ()) -> dict[str, Any]:
  """The settings of `configs` a rerun must keep, by flag name.

  Args:
    configs: dataclass configs (DataConfig, TrainConfig, SearchConfig, ...).
    extra: settings outside the configs (the preset, network overrides,
      the cell), compared as they are.
    may_change: more fields this kind of run may change (beyond MAY_CHANGE).

  Raises:
    ValueError: two configs disagree on a shared field.
  """
  skipped = MAY_CHANGE | set(may_change)
  settings = {}
  for config in configs:
    for field in dataclasses.fields(config):
      name = _flag_name(config, field.name)
      if name in skipped:
        continue
      value = getattr(config, field.name)
      if isinstance(value, tuple):
        value = list(value)  # As JSON reads it back.
      if name in settings and settings[name] != value:
        raise ValueError(f"{name}: the configs disagree ({settings[name]!r}, "
                         f"{value!r})")
      settings[name] = value
  settings.update(extra or {})
  return settings


def defaults(configs: Iterable[Any], may_change: Iterable[str] = ()
             ) -> dict[str, Any]:
  """comparable() of the configs' default values (fields with defaults)."""
  skipped = MAY_CHANGE | set(may_change)
  values = {}
  for config in configs:
    for field in dataclasses.fields(config):
      name = _flag_name(config, field.name)
      if name in skipped or field.default is dataclasses.MISSING:
        continue
      default = field.default
      values.setdefault(name, list(default) if isinstance(default, tuple)
                        else default)
  return values
