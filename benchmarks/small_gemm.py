"""The products of one training step of the chapter's model, at the batch sizes of training:
fastdnn against NumPy's BLAS and PyTorch, side by side in one run.

For each dense layer (784→300, 300→100) and batch (32, 256):
* fwd: X·W (M = batch), dW: Xᵀ·dZ (K = batch), dX: dZ·Wᵀ (a transposed B under few rows);
* for dX also the direct kernel (the same product with a zero bias, which keeps it on the
  blocked kernel that packs all of Wᵀ) against the transposed problem fastdnn now runs
  (gemm.cpp: Cᵀ = W·dZᵀ, bit for bit the same result).

Reports GFLOP/s (best of several rounds) and the ratios fastdnn / other (> 1: fastdnn faster).

    python benchmarks/small_gemm.py [--threads N] [--rounds 7]
"""

import argparse
import time

import numpy as np

import fastdnn
from fastdnn import _C


def best_us(fn, rounds, inner=50):
    fn()
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        best = min(best, (time.perf_counter() - start) / inner)
    return best * 1e6


def gemm(a, b, ta, tb, bias=None):
    return lambda: _C.gemm(a, b, ta, tb, None, False, bias, 0, 0.0, False)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    if args.threads:
        fastdnn.set_num_threads(args.threads)
    try:
        import torch
        torch.set_num_threads(fastdnn.get_num_threads())
    except ImportError:
        torch = None
    rng = np.random.default_rng(0)
    print(f"{fastdnn.get_num_threads()} thread(s), CPU {_C.cpu_info()['brand']}, ISA {fastdnn.get_isa()}; "
          f"GFLOP/s, best of {args.rounds}")
    print(f"{'product':<22} {'fastdnn':>8} {'numpy':>8} {'torch':>8} {'/numpy':>7} {'/torch':>7}")
    for batch in (32, 256):
        for k, n in ((784, 300), (300, 100)):
            x = rng.standard_normal((batch, k)).astype(np.float32)
            w = rng.standard_normal((k, n)).astype(np.float32)
            dz = rng.standard_normal((batch, n)).astype(np.float32)
            flops = 2.0 * batch * k * n
            cases = {"fwd X·W": (gemm(x, w, False, False), lambda: x @ w, (x, w, False, False)),
                     "dW Xt·dZ": (gemm(x, dz, True, False), lambda: x.T @ dz, (x, dz, True, False)),
                     "dX dZ·Wt": (gemm(dz, w, False, True), lambda: dz @ w.T, (dz, w, False, True))}
            for name, (fast, ref, (a, b, ta, tb)) in cases.items():
                f = best_us(fast, args.rounds)
                r = best_us(ref, args.rounds)
                line = f"{name} {batch}x{k}x{n}"
                t = None
                if torch is not None:
                    ta_, tb_ = torch.from_numpy(a), torch.from_numpy(b)
                    t = best_us(lambda: (ta_.T if ta else ta_) @ (tb_.T if tb else tb_), args.rounds)
                gf = lambda us: flops / us / 1e3  # noqa: E731
                print(f"{line:<22} {gf(f):8.1f} {gf(r):8.1f} {gf(t) if t else float('nan'):8.1f} "
                      f"{r / f:7.2f} {(t / f) if t else float('nan'):7.2f}")
            zero = np.zeros(k, np.float32)
            direct = best_us(gemm(dz, w, False, True, zero), args.rounds)
            now = best_us(gemm(dz, w, False, True), args.rounds)
            same = np.array_equal(gemm(dz, w, False, True, zero)()[0], gemm(dz, w, False, True)()[0])
            print(f"{'  dX direct kernel':<22} {flops / direct / 1e3:8.1f}   -> transposed problem "
                  f"{flops / now / 1e3:.1f} GFLOP/s: {direct / now:.2f}x, identical bits: {same}")


if __name__ == "__main__":
    main()
