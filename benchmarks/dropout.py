"""Dropout benchmark: the fused Philox dropout kernel and Monte Carlo Dropout, fastdnn against
PyTorch eager in one process (torch skipped cleanly where it is not installed).

What it measures:

* dropout forward + backward on a 256×1024 float32 batch (rate 0.5): fastdnn's `Dropout` layer
  on a GradientTape (forward writes x·keep/(1-rate) in one pass, backward regenerates the mask),
  and the bare native kernels; torch: `torch.nn.functional.dropout` forward and autograd backward.
  Median of many repetitions, in microseconds. Target: torch/fastdnn >= 2.
* MC Dropout: 100 samples over the 10,000 Fashion-MNIST test images with the chapter's dropout
  model (Flatten, Dropout(0.2), Dense(300, elu, he_normal), Dropout(0.2), Dense(100, elu,
  he_normal), Dropout(0.2), Dense(10, softmax)): `fastdnn.mc_dropout_predict` (tiled large
  batches), the chapter's loop `np.stack([model(X, training=True) for sample in range(100)])` in
  fastdnn, and the same loop in PyTorch eager (model.train(), torch.no_grad(), same weights).
  Best of `--rounds`, in seconds. Target: torch loop / fastdnn helper >= 3.

The layer-on-tape figure includes NumPy's fresh 1 MB arrays (the loss product, the tape's ones,
the gradients). fastdnn keeps 16 MB of slack at glibc's heap top (csrc/core/memory.h), so they
do not page-fault anew each time; FASTDNN_MALLOC_TUNING=0 shows the cost without it (~5x here).

Both libraries use the same thread count (--threads, default fastdnn's), NumPy's BLAS too where
threadpoolctl is installed. The weights are untrained (timing does not depend on them).

    python benchmarks/dropout.py             # about a minute
    python benchmarks/dropout.py --quick     # 1,000 test images, 20 samples
    python benchmarks/dropout.py --threads 1

Data: --data PATH, else $FASTDNN_DATA, else ../shared/datasets/fashion-mnist beside the repo.
"""

import argparse
import contextlib
import os
import statistics
import time
from pathlib import Path

import numpy as np

import fastdnn
import fastdnn as keras
from fastdnn import _C
from fastdnn.datasets import fashion_mnist

from _timing import best_of

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "fashion-mnist"
SHAPE, RATE = (256, 1024), 0.5
TARGET_DROPOUT, TARGET_MC = 2.0, 3.0


def median_us(fn, reps):
    fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def blas_threads(threads):
    try:
        import threadpoolctl
    except ImportError:
        return contextlib.nullcontext()
    return threadpoolctl.threadpool_limits(limits=threads, user_api="blas")


# ---- dropout forward + backward ------------------------------------------------------------

def dropout_fastdnn(x, g, reps):
    layer = keras.layers.Dropout(RATE, seed=1)

    def layer_step():
        with fastdnn.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = fastdnn.ops.multiply(y, g)
        return tape.gradient(loss, x)

    scale = 1 / (1 - RATE)
    out_y, out_dx = np.empty_like(x), np.empty_like(x)

    def kernels():
        _C.noise_bernoulli(x, RATE, 1, 0, 7, scale, out=out_y)
        _C.noise_bernoulli(g, RATE, 1, 0, 7, scale, out=out_dx)

    return {"layer_tape_us": median_us(layer_step, reps), "kernels_us": median_us(kernels, reps)}


def dropout_torch(torch, x, g, reps):
    xt = torch.from_numpy(x).requires_grad_(True)
    gt = torch.from_numpy(g)

    def step():
        xt.grad = None
        y = torch.nn.functional.dropout(xt, RATE, training=True)
        y.backward(gt)
        return xt.grad

    def mask_multiply():  # the hand-written alternative: a bernoulli mask, two multiplies
        mask = torch.empty(SHAPE).bernoulli_(1 - RATE).mul_(1 / (1 - RATE))
        return xt.detach() * mask, gt * mask

    return {"autograd_us": median_us(step, reps), "mask_multiply_us": median_us(mask_multiply, reps)}


# ---- MC Dropout ------------------------------------------------------------------------------

def chapter_model():
    return keras.models.Sequential([
        keras.layers.Flatten(input_shape=[28, 28]),
        keras.layers.Dropout(rate=0.2),
        keras.layers.Dense(300, activation="elu", kernel_initializer="he_normal"),
        keras.layers.Dropout(rate=0.2),
        keras.layers.Dense(100, activation="elu", kernel_initializer="he_normal"),
        keras.layers.Dropout(rate=0.2),
        keras.layers.Dense(10, activation="softmax")])


def torch_model(torch, weights):
    nn = torch.nn
    dense = [nn.Linear(784, 300), nn.Linear(300, 100), nn.Linear(100, 10)]
    with torch.no_grad():
        for layer, (w, b) in zip(dense, zip(weights[::2], weights[1::2])):
            layer.weight.copy_(torch.from_numpy(w.T.copy()))
            layer.bias.copy_(torch.from_numpy(b))
    return nn.Sequential(nn.Flatten(), nn.Dropout(0.2), dense[0], nn.ELU(), nn.Dropout(0.2), dense[1],
                         nn.ELU(), nn.Dropout(0.2), dense[2], nn.Softmax(dim=1)).train()


def mc_fastdnn(model, x, samples, rounds):
    helper = best_of(lambda: keras.mc_dropout_predict(model, x, samples=samples), rounds)

    def chapter_loop():
        y_probas = np.stack([model(x, training=True) for sample in range(samples)])
        return y_probas.mean(axis=0), y_probas.std(axis=0)

    return {"helper_s": helper, "chapter_loop_s": best_of(chapter_loop, rounds)}


def mc_torch(torch, model, x, samples, rounds):
    xt = torch.from_numpy(x)

    def chapter_loop():
        with torch.no_grad():
            y_probas = torch.stack([model(xt) for sample in range(samples)])
            return y_probas.mean(dim=0), y_probas.std(dim=0)

    return {"chapter_loop_s": best_of(chapter_loop, rounds)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data", default=None)
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        torch = None
    saved = fastdnn.get_num_threads()
    fastdnn.set_num_threads(args.threads or saved)
    threads = fastdnn.get_num_threads()
    if torch:
        torch.set_num_threads(threads)
    n_test, samples, reps = (1000, 20, 50) if args.quick else (10_000, 100, 300)
    print(f"fastdnn {fastdnn.__version__} isa={fastdnn.get_isa()} threads={threads}"
          + (f"; torch {torch.__version__} threads={torch.get_num_threads()}" if torch else "; torch not installed"))

    rng = np.random.default_rng(0)
    x = rng.standard_normal(SHAPE).astype(np.float32)
    g = rng.standard_normal(SHAPE).astype(np.float32)
    with blas_threads(threads):
        fd = dropout_fastdnn(x, g, reps)
        print(f"\nDropout({RATE}) forward + backward, {SHAPE[0]}x{SHAPE[1]} float32 (median us):")
        print(f"  fastdnn Dropout layer on a GradientTape  {fd['layer_tape_us']:9.1f}")
        print(f"  fastdnn native kernels (fwd + bwd)       {fd['kernels_us']:9.1f}")
        if torch:
            tc = dropout_torch(torch, x, g, reps)
            print(f"  torch F.dropout + autograd backward      {tc['autograd_us']:9.1f}")
            print(f"  torch bernoulli_ mask, two multiplies    {tc['mask_multiply_us']:9.1f}")
            print(f"  ratio torch autograd / fastdnn layer: {tc['autograd_us'] / fd['layer_tape_us']:.2f}x "
                  f"(target >= {TARGET_DROPOUT}); / native kernels: {tc['autograd_us'] / fd['kernels_us']:.2f}x")

        path = args.data or os.environ.get(fashion_mnist.ENV_VAR) or DEFAULT_DATA
        try:
            _, (x_test, _) = fashion_mnist.load_data(path)
        except (OSError, ValueError) as exc:
            raise SystemExit(f"ABORTED: {exc}") from exc
        x_test = (x_test[:n_test].astype(np.float32) / np.float32(255))
        keras.utils.set_random_seed(42)
        model = chapter_model()
        mc = mc_fastdnn(model, x_test, samples, args.rounds)
        print(f"\nMC Dropout, {samples} samples x {n_test} test images, chapter dropout model (best s):")
        print(f"  fastdnn.mc_dropout_predict               {mc['helper_s']:9.3f}")
        print(f"  fastdnn chapter loop model(X, training=True) {mc['chapter_loop_s']:5.3f}")
        if torch:
            tm = mc_torch(torch, torch_model(torch, model.get_weights()), x_test, samples, args.rounds)
            print(f"  torch eager chapter loop (no_grad)       {tm['chapter_loop_s']:9.3f}")
            print(f"  ratio torch loop / fastdnn helper: {tm['chapter_loop_s'] / mc['helper_s']:.2f}x "
                  f"(target >= {TARGET_MC}); torch loop / fastdnn loop: "
                  f"{tm['chapter_loop_s'] / mc['chapter_loop_s']:.2f}x")
    fastdnn.set_num_threads(saved)


if __name__ == "__main__":
    main()
