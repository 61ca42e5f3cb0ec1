"""`python -m fastdnn`: what this build holds, a self-check, and a short speed comparison.

Prints build_info(), checks every CPU kernel path against float64 NumPy on a small product, then
times fastdnn's matmul and fused dense layer against NumPy on the chapter's MLP shapes and
prints the ratios. The full comparison (PyTorch, JAX, more shapes, JSON output) is
benchmarks/gemm.py in the source tree.

Options: --json prints the results as JSON instead of tables.
"""

import argparse
import json
import sys
import time

import numpy as np

from . import build_info, get_isa, ops, set_isa, available_isas

SHAPES = [(32, 784, 300), (32, 300, 100), (256, 784, 300), (1024, 784, 300), (1024, 1024, 1024)]


def _best_time(fn, min_seconds=0.05, rounds=5):
    """Best per-call time of fn over several rounds of back-to-back calls."""
    fn()
    reps = 1
    while True:
        t = time.perf_counter()
        for _ in range(reps):
            fn()
        if time.perf_counter() - t >= min_seconds / 4:
            break
        reps *= 2
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(reps):
            fn()
        best = min(best, (time.perf_counter() - t) / reps)
    return best


def self_check():
    """Max relative error of each kernel path against float64 NumPy on a ragged product."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((37, 129)).astype(np.float32)
    b = rng.standard_normal((129, 53)).astype(np.float32)
    bias = rng.standard_normal(53).astype(np.float32)
    z = a.astype(np.float64) @ b + bias
    ref = np.where(z > 0, z, np.expm1(np.minimum(z, 0)))
    errors = {}
    active = get_isa()
    try:
        for isa in available_isas():
            set_isa(isa)
            y = ops.dense(a, b, bias, activation="elu")
            errors[isa] = float(np.max(np.abs(y - ref) / (1 + np.abs(ref))))
    finally:
        set_isa(active)
    return errors


def speed():
    """GFLOP/s of fastdnn and NumPy on each shape, for matmul and for dense + bias + ELU."""
    rng = np.random.default_rng(0)
    rows = []
    for m, k, n in SHAPES:
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        bias = rng.standard_normal(n).astype(np.float32)
        out = np.empty((m, n), np.float32)
        flops = 2.0 * m * n * k

        def numpy_dense():
            z = np.matmul(a, b, out=out)
            z += bias
            neg = np.minimum(z, 0)
            np.expm1(neg, out=neg)
            return np.where(z > 0, z, neg)

        t_np = _best_time(lambda: np.matmul(a, b, out=out))
        t_fd = _best_time(lambda: ops.matmul(a, b, out=out))
        t_np_dense = _best_time(numpy_dense)
        t_fd_dense = _best_time(lambda: ops.dense(a, b, bias, activation="elu", out=out))
        rows.append({
            "shape": f"{m}x{k}x{n}",
            "numpy_gflops": flops / t_np / 1e9,
            "fastdnn_gflops": flops / t_fd / 1e9,
            "matmul_speedup": t_np / t_fd,
            "dense_elu_speedup": t_np_dense / t_fd_dense,
        })
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fastdnn", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    args = parser.parse_args(argv)

    info = build_info()
    errors = self_check()
    rows = speed()
    if args.json:
        json.dump({"build_info": info, "self_check": errors, "speed": rows}, sys.stdout, indent=2)
        print()
    else:
        print("fastdnn", info["version"])
        for key, value in info.items():
            if key != "version":
                print(f"  {key:26s} {value}")
        print("\nself-check, max relative error vs float64 NumPy (dense + bias + ELU):")
        for isa, err in errors.items():
            print(f"  {isa:10s} {err:.2e}")
        print(f"\nspeed on {info['num_threads']} thread(s), kernel path {info['isa_active']} "
              "(ratio > 1: fastdnn is faster than NumPy)")
        print(f"  {'M x K x N':16s} {'NumPy GFLOP/s':>14s} {'fastdnn GFLOP/s':>16s} "
              f"{'matmul ratio':>13s} {'dense+ELU ratio':>16s}")
        for r in rows:
            print(f"  {r['shape']:16s} {r['numpy_gflops']:14.1f} {r['fastdnn_gflops']:16.1f} "
                  f"{r['matmul_speedup']:13.2f} {r['dense_elu_speedup']:16.2f}")
    worst = max(errors.values())
    if worst > 1e-4:
        print(f"self-check FAILED: max relative error {worst:.2e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
