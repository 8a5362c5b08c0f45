"""Benchmarks: measured side by side in one run, medians and percentiles, never timed tests."""
