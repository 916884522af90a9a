"""Input pipelines: tfds datasets, per-image preprocessing, dataset builders."""
