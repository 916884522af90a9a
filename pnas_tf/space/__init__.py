"""The search space as pure data: cells, canonical forms, counts. No TF."""
