"""Benchmarks: `make bench` (or `python -m bench.run [--quick]`). Not a test suite: see README.md."""
