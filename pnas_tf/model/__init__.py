"""The Keras model: the 8 operators, the PNAS cell, the aux head, networks."""
