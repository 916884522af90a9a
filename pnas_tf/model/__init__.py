"""The Keras model: the 8 operators, the PNAS cell, the auxiliary head, the networks."""
