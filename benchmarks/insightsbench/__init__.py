"""Helpers of benchmarks/insights.py: the synthetic history and its loaders.

A package rather than scripts beside it, so `make bench` (which runs every
benchmarks/*.py) runs only the benchmark itself.
"""
