"""Reproducible measurements against the raw tools; `python -m benchmarks` runs them all."""
