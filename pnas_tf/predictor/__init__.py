"""The surrogate predictors (LSTM, MLP, ensembles) and their rank correlation."""
