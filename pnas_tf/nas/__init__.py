"""The search library: Algorithm 1, its store, executors, evaluator, reports."""
