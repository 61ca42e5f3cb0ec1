"""Per-step cost of ℓ2 regularization + max-norm on the chapter's model, fastdnn and PyTorch.

The chapter's model (Flatten -> Dense 300 ELU -> Dense 100 ELU -> Dense 10 softmax, He normal,
SGD 0.01, batch 32) on Fashion-MNIST images, trained plain and with
`kernel_regularizer=l2(0.01)` + `kernel_constraint=max_norm(1.)` on every Dense, in one process:

* fastdnn: `model.fit` (the book's Keras code); the penalty's value and gradient come from one
  native call per step, the constraints from another;
* torch eager, the same network: plain, and with `0.01·Σw²` added to the loss and
  `torch.renorm` of each weight's columns after `optimizer.step()` (its max-norm, per unit);
* the two native calls alone, over the model's 266,610 parameters, beside the same work in
  NumPy.

Reports milliseconds per step (median of --repeats runs) and the overhead ratio with / without.

    python benchmarks/regularizers.py               # 5,000 images × 2 epochs per variant
    python benchmarks/regularizers.py --images 20000 --repeats 5
"""

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

import fastdnn as keras
from fastdnn import _C
from fastdnn.datasets import fashion_mnist

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "fashion-mnist"


def fastdnn_fit(x, y, regularized, epochs, batch):
    keras.utils.set_random_seed(0)
    extra = dict(kernel_regularizer=keras.regularizers.l2(0.01),
                 kernel_constraint=keras.constraints.max_norm(1.)) if regularized else {}
    model = keras.models.Sequential([
        keras.layers.Flatten(input_shape=[28, 28]),
        keras.layers.Dense(300, activation="elu", kernel_initializer="he_normal", **extra),
        keras.layers.Dense(100, activation="elu", kernel_initializer="he_normal", **extra),
        keras.layers.Dense(10, activation="softmax", **extra)])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(learning_rate=0.01))
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch, epochs=epochs, verbose=0)
    return (time.perf_counter() - start) / (epochs * -(-len(x) // batch))


def torch_fit(torch, x, y, regularized, epochs, batch):
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 300), nn.ELU(), nn.Linear(300, 100), nn.ELU(), nn.Linear(100, 10))
    for m in model:
        if isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight)
            nn.init.zeros_(m.bias)
    kernels = [m.weight for m in model if isinstance(m, nn.Linear)]
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    xt, yt = torch.tensor(x), torch.tensor(y, dtype=torch.long)
    loss_fn = nn.CrossEntropyLoss()
    steps = -(-len(x) // batch)
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(x))
        for s in range(steps):
            idx = order[s * batch:(s + 1) * batch]
            loss = loss_fn(model(xt[idx]), yt[idx])
            if regularized:
                loss = loss + 0.01 * sum((w * w).sum() for w in kernels)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if regularized:  # max-norm per unit: torch's weight is (out, in), a unit is a row
                with torch.no_grad():
                    for w in kernels:
                        w.copy_(torch.renorm(w, p=2, dim=0, maxnorm=1.0))
    return (time.perf_counter() - start) / (epochs * steps)


def native_calls(repeats=200):
    rng = np.random.default_rng(0)
    ws = [rng.normal(size=s).astype(np.float32) * 0.05 for s in [(784, 300), (300, 100), (100, 10)]]
    gs = [np.zeros_like(w) for w in ws]
    spec = [keras.constraints.max_norm(1.).native_spec(w.shape) for w in ws]

    def timed(fn):
        fn()
        t = time.perf_counter()
        for _ in range(repeats):
            fn()
        return (time.perf_counter() - t) / repeats * 1e6

    def numpy_penalty():
        total = 0.0
        for w, g in zip(ws, gs):
            total += 0.01 * float(np.vdot(w, w))
            g += 0.02 * w
        return total

    def numpy_maxnorm():
        for w in ws:
            n = np.sqrt(np.sum(np.square(w), axis=0, keepdims=True))
            w *= np.clip(n, 0, 1.0) / (1e-7 + n)

    return {"penalty": (timed(lambda: _C.weight_penalty(ws, gs, [0.0] * 3, [0.01] * 3)), timed(numpy_penalty)),
            "max_norm": (timed(lambda: _C.apply_constraints(ws, spec)), timed(numpy_maxnorm))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", default=None)
    args = parser.parse_args()
    (x, y), _ = fashion_mnist.load_data(args.data or (DEFAULT_DATA if DEFAULT_DATA.exists() else None))
    x, y = (x[:args.images] / 255.0).astype(np.float32), y[:args.images].astype(np.int64)
    try:
        import torch
        torch.set_num_threads(keras.get_num_threads())
    except ImportError:
        torch = None
    rows = {}
    for rep in range(args.repeats):  # interleaved, so machine drift hits every variant alike
        for name, fn in (("fastdnn", lambda r: fastdnn_fit(x, y, r, args.epochs, args.batch)),
                         ("torch", (lambda r: torch_fit(torch, x, y, r, args.epochs, args.batch)) if torch else None)):
            if fn is None:
                continue
            for regularized in (False, True):
                rows.setdefault((name, regularized), []).append(fn(regularized))
    print(f"{args.images} images × {args.epochs} epochs, batch {args.batch}, {keras.get_num_threads()} threads, "
          f"median of {args.repeats}; ms per step")
    print(f"{'':10} {'plain':>8} {'l2+maxnorm':>11} {'overhead':>9} {'per step':>9}")
    medians = {k: statistics.median(v) * 1e3 for k, v in rows.items()}
    for name in ("fastdnn", "torch"):
        if (name, False) in medians:
            plain, reg = medians[(name, False)], medians[(name, True)]
            print(f"{name:10} {plain:8.3f} {reg:11.3f} {reg / plain:8.2f}x {1e3 * (reg - plain):7.0f}us")
    if ("torch", True) in medians:
        print(f"fastdnn / torch, regularized: {medians[('fastdnn', True)] / medians[('torch', True)]:.2f}")
    calls = native_calls()
    for what, (native, numpy) in calls.items():
        print(f"{what:9} over 266,610 parameters: native {native:6.1f} us, NumPy {numpy:6.1f} us "
              f"(NumPy / native {numpy / native:.2f})")


if __name__ == "__main__":
    main()
