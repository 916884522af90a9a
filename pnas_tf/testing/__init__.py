"""What only tests and benchmarks use: the synthetic accuracy of a cell."""
