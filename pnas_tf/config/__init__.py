"""Typed, frozen settings: network, data, training, predictor, search. No TF."""
