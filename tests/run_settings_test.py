"""Tests for pnas_tf.config.run_settings: what a rerun must keep."""

import dataclasses
import json
import os

from absl.testing import absltest

from pnas_tf import search
from pnas_tf import train_final
from pnas_tf.config import child_settings
from pnas_tf.config import predictor_config
from pnas_tf.config import run_settings
from pnas_tf.config import search_config
from pnas_tf.config import train_config
from pnas_tf.space import search_space
from pnas_tf.storage import run_state


def _settings(**train) -> child_settings.ChildSettings:
  return child_settings.ChildSettings(
      data=train_config.DataConfig(dataset="fashion_mnist"),
      train=train_config.TrainConfig(**train), preset="cifar_search",
      network_overrides={"filters": 8}, output_dir="/tmp/x")


class ComparableTest(absltest.TestCase):

  def test_a_new_config_field_is_compared_by_default(self):

    @dataclasses.dataclass(frozen=True)
    class FutureConfig:
      label_smoothing: float = 0.0
      strategy: str = "auto"

    settings = run_settings.comparable([FutureConfig(0.1)])
    self.assertEqual(settings, {"label_smoothing": 0.1})
    self.assertEqual(run_settings.defaults([FutureConfig(0.1)]),
                     {"label_smoothing": 0.0})

  def test_fields_are_named_as_their_flags(self):
    settings = run_settings.comparable([
        search_config.SearchConfig(max_blocks=3),
        predictor_config.PredictorConfig(kind="mlp", max_blocks=3,
                                         ensemble_size=1, epochs=7)])
    self.assertEqual(settings["predictor"], "mlp")
    self.assertEqual(settings["predictor_epochs"], 7)
    self.assertEqual(settings["max_blocks"], 3)
    self.assertNotIn("kind", settings)
    self.assertNotIn("export_top", settings)  # May change.
    self.assertEqual(settings["operations"], list(search_space.OPERATIONS))

  def test_configs_that_disagree_on_a_shared_field_are_a_bug(self):
    with self.assertRaisesRegex(ValueError, "max_blocks"):
      run_settings.comparable([
          search_config.SearchConfig(max_blocks=3),
          predictor_config.PredictorConfig(max_blocks=4)])

  def test_the_search_compares_the_aux_head_weight(self):
    config = search_config.SearchConfig(max_blocks=2)
    predictor = predictor_config.PredictorConfig(max_blocks=2)
    before, _ = search.resume_settings(_settings(), config, predictor)
    after, _ = search.resume_settings(_settings(aux_head_weight=0.3), config,
                                      predictor)
    self.assertEqual(run_state.differences(before, after),
                     ["--aux_head_weight=0.4 before, 0.3 now"])
    # What runs where, and how loudly, may change.
    moved, _ = search.resume_settings(
        _settings(strategy="one_device", xla="on", verbose=2), config,
        predictor)
    self.assertEqual(run_state.differences(before, moved), [])

  def test_final_training_ignores_the_validation_size(self):
    cell = search_space.Cell.parse("PNASNet-5")
    settings = _settings()
    before, _ = train_final.resume_settings(cell, settings, "test")
    other = dataclasses.replace(settings, data=dataclasses.replace(
        settings.data, validation_size=0.2))
    after, _ = train_final.resume_settings(cell, other, "test")
    self.assertEqual(before, after)
    self.assertEqual(before["cell"], str(cell))


class OlderRecordsTest(absltest.TestCase):

  def _record(self, settings):
    path = os.path.join(self.create_tempdir().full_path, "run.json")
    with open(path, "w") as f:
      json.dump({"format_version": 1, "settings": settings}, f)
    return path

  def test_a_record_without_a_newer_field_matches_its_default(self):
    recorded = {"epochs": 2}  # Written before aux_head_weight was compared.
    path = self._record(recorded)
    defaults = {"aux_head_weight": 0.4}
    run_state.check_and_record(path, {"epochs": 2, "aux_head_weight": 0.4},
                               1, defaults=defaults)
    path = self._record(recorded)
    with self.assertRaisesRegex(run_state.RunStateError,
                                "--aux_head_weight=0.4 before, 0.3 now"):
      run_state.check_and_record(path, {"epochs": 2, "aux_head_weight": 0.3},
                                 1, defaults=defaults)


if __name__ == "__main__":
  absltest.main()
