"""Benchmarks: the load runner (run_load.py), its scenarios, baselines and report."""
