"""The search space as pure data: blocks, cells, canonical forms, counts. No TensorFlow."""
