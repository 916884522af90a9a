"""The surrogate predictors (LSTM, MLP, ensembles), rank correlation."""
