"""What the tests and the benchmarks share: the fake Discord, Popple processes, test data and settings."""
