"""Timing shared by the benchmark scripts (each run as `python3 benchmarks/NAME.py`, which puts
this folder on the import path)."""

import time


def best_of(fn, rounds):
    """Minimum seconds of `rounds` calls of fn()."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)
