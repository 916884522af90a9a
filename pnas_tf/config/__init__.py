"""Typed, frozen settings (network, data, training, predictor, search). No TensorFlow."""
