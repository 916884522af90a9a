"""What a search does, as pure data (no TensorFlow).

Example:
  config = SearchConfig(max_blocks=3, beam_size=16, search_strategy="random")
"""

import dataclasses

from pnas_tf.config import errors
from pnas_tf.config import export_config
from pnas_tf.space import search_space

# How candidates are chosen: the paper's progressive search, or uniformly
# random cells of max_blocks blocks as a baseline on the same budget.
SEARCH_STRATEGIES = ("pnas", "random")


@dataclasses.dataclass(frozen=True)
class SearchConfig:
  """The search's own settings (the children's are train_config's).

  Attributes:
    max_blocks: B, the blocks of the largest cells searched (paper: 5; at
      most search_space.MAX_BLOCKS).
    beam_size: K, cells trained per round after the first (paper: 256).
    search_strategy: one of SEARCH_STRATEGIES.
    export_top: how many of the best cells to export at the end.
    export_formats: what each export holds (export_config.FORMATS).
    seed: seeds the predictor and the random baseline's sampling.
    operations: the operators cells may use (default: the paper's 8); fewer
      make a smaller space for quick proxy searches.
  """
  max_blocks: int = 5
  beam_size: int = 256
  search_strategy: str = "pnas"
  export_top: int = 5
  export_formats: tuple[str, ...] = (export_config.SAVED_MODEL,)
  seed: int = 0
  operations: tuple[str, ...] = search_space.OPERATIONS

  def __post_init__(self):
    if self.max_blocks < 1:
      raise errors.ConfigError(
          f"max_blocks must be >= 1, got {self.max_blocks}")
    if self.max_blocks > search_space.MAX_BLOCKS:
      raise errors.ConfigError(
          f"max_blocks must be <= MAX_BLOCKS = {search_space.MAX_BLOCKS}, "
          f"the most blocks a cell may have; got {self.max_blocks}")
    if self.beam_size < 1:
      raise errors.ConfigError(f"beam_size must be >= 1, got {self.beam_size}")
    if self.search_strategy not in SEARCH_STRATEGIES:
      raise errors.ConfigError(f"search_strategy must be one of "
                               f"{', '.join(SEARCH_STRATEGIES)}, got "
                               f"{self.search_strategy!r}")
    object.__setattr__(self, "operations",
                       search_space.check_operations(self.operations))
    if self.export_top < 0:
      raise errors.ConfigError(
          f"export_top must be >= 0, got {self.export_top}")
    object.__setattr__(self, "export_formats",
                       export_config.check_formats(self.export_formats))

  @property
  def budget(self) -> int:
    """Children a search trains: every 1-block cell (136), then K a round."""
    return (len(search_space.initial_cells(self.operations))
            + (self.max_blocks - 1) * self.beam_size)
