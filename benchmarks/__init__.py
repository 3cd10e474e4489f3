"""Benchmarks: latency, beat tracking, dance quality; each prints its numbers."""
