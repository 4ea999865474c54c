"""Benchmarks: `make bench` runs `python -m bench.api` (see docs/benchmarks.md)."""
