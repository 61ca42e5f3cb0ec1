"""GEMM scaling with the thread count: fastdnn against NumPy's BLAS at 1, 2, 4, ... threads.

For each square-ish shape, times fastdnn.ops.matmul and numpy.matmul (its BLAS limited to the
same thread count with threadpoolctl, when installed) and prints GFLOP/s and the ratio
(> 1: fastdnn is faster). Useful on many-core machines, where the split across threads matters.

    python benchmarks/threads.py [--max-threads N]
"""

import argparse
import contextlib
import os
import time

import numpy as np

import fastdnn

SHAPES = [(1024, 784, 300), (1024, 1024, 1024), (1000, 1000, 1000), (2048, 2048, 2048)]


def best(fn, reps, rounds=5):
    fn()
    t = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(reps):
            fn()
        t = min(t, (time.perf_counter() - start) / reps)
    return t


def blas_limit(threads):
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(threads)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-threads", type=int, default=os.cpu_count())
    args = parser.parse_args(argv)
    counts = [t for t in (1, 2, 4, 8, 16, 32, 64) if t <= args.max_threads]
    try:
        import threadpoolctl  # noqa: F401
    except ImportError:
        print("WARNING: threadpoolctl is not installed, so NumPy's BLAS uses its own thread count "
              "in every row; compare the ratios only where it matches (pip install threadpoolctl).")
    rng = np.random.default_rng(0)
    for m, k, n in SHAPES:
        a = rng.random((m, k), dtype=np.float32)
        b = rng.random((k, n), dtype=np.float32)
        c = np.empty((m, n), np.float32)
        flops = 2.0 * m * n * k
        reps = max(2, int(2e9 / flops))
        for threads in counts:
            fastdnn.set_num_threads(threads)
            with blas_limit(threads):
                tf = best(lambda: fastdnn.ops.matmul(a, b, out=c), reps)
                tn = best(lambda: np.matmul(a, b, out=c), reps)
            print(f"{m}x{k}x{n} threads={threads:2d} fastdnn {flops / tf / 1e9:7.1f} "
                  f"numpy {flops / tn / 1e9:7.1f} GFLOP/s  ratio {tn / tf:.2f}", flush=True)


if __name__ == "__main__":
    main()
