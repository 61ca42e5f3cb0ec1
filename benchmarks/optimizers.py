"""Optimizer-step benchmark: one update of the chapter model's 266,610 parameters.

fastdnn's Adam and Nadam (one native multi-tensor call per step) against torch.optim.Adam and
NAdam in their fastest CPU forms (foreach, and fused where torch offers it), in one run, with the
same thread count. Reports microseconds per step and the ratio torch / fastdnn (> 1: fastdnn
is faster).

    python benchmarks/optimizers.py [--threads N] [--steps 2000]
"""

import argparse
import time

import numpy as np

import fastdnn

SHAPES = [(784, 300), (300,), (300, 100), (100,), (100, 10), (10,)]  # the chapter's MLP


def best_us(step, steps, rounds=5):
    """Best mean time of `steps` calls of step(), in microseconds."""
    step()
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        best = min(best, (time.perf_counter() - start) / steps)
    return best * 1e6


def fastdnn_step(cls, rng):
    variables = [fastdnn.Variable(rng.standard_normal(s).astype(np.float32)) for s in SHAPES]
    grads = [rng.standard_normal(s).astype(np.float32) * 1e-3 for s in SHAPES]
    opt = cls(learning_rate=1e-3)
    pairs = list(zip(grads, variables))
    return lambda: opt.apply_gradients(pairs)


def torch_step(torch, cls, rng, **kwargs):
    params = [torch.nn.Parameter(torch.tensor(rng.standard_normal(s).astype(np.float32))) for s in SHAPES]
    for p in params:
        p.grad = torch.randn_like(p) * 1e-3
    opt = cls(params, lr=1e-3, **kwargs)
    return opt.step


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args(argv)
    if args.threads:
        fastdnn.set_num_threads(args.threads)
    threads = fastdnn.get_num_threads()
    rng = np.random.default_rng(0)
    rows = [("fastdnn Adam", best_us(fastdnn_step(fastdnn.optimizers.Adam, rng), args.steps)),
            ("fastdnn Nadam", best_us(fastdnn_step(fastdnn.optimizers.Nadam, rng), args.steps))]
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        torch.set_num_threads(threads)
        for label, cls, kw in [("torch Adam foreach", torch.optim.Adam, {"foreach": True}),
                               ("torch Adam fused", torch.optim.Adam, {"fused": True}),
                               ("torch NAdam foreach", torch.optim.NAdam, {"foreach": True})]:
            try:
                rows.append((label, best_us(torch_step(torch, cls, rng, **kw), args.steps)))
            except (RuntimeError, TypeError) as exc:  # a form this torch build lacks
                print(f"{label}: skipped ({exc})")
    print(f"optimizer step over {sum(int(np.prod(s)) for s in SHAPES):,} parameters, {threads} thread(s)"
          + ("" if torch else "; torch not installed"))
    base = dict(rows)
    for label, us in rows:
        peer = base["fastdnn Nadam" if "NAdam" in label else "fastdnn Adam"]
        ratio = "" if label.startswith("fastdnn") else f"   torch/fastdnn {us / peer:.2f}"
        print(f"  {label:22s} {us:8.1f} us/step{ratio}")


if __name__ == "__main__":
    main()
