"""Functional and subclassed models against Sequential, and a siamese network against PyTorch.

What it measures, in one process, epochs interleaved (Sequential, functional, subclassed,
Sequential, ...) so that a noisy neighbour slows all kinds alike:

* the chapter's BN model (Flatten -> BN -> Dense 300 ELU -> BN -> Dense 100 ELU -> BN -> Dense 10
  softmax, Nadam, batch 32) on 55,000 Fashion-MNIST images, built three ways from the same
  layers and seed: `Sequential`, a functional chain `Model(inputs, outputs)` and a subclassed
  model. Headline: functional / Sequential epoch time (target <= 1.05); the three train the
  same weights (checked), so any difference is the graph's own cost;
* a siamese network (two 28x28 inputs through one shared Dense 300-100 SELU encoder, squared
  difference, product and cosine merged into a sigmoid) on 30,000 image pairs, batch 64, against
  the same network in a PyTorch eager loop (when torch is installed), threads set alike.

    python benchmarks/functional.py              # 3 interleaved rounds, about 1-2 minutes
    python benchmarks/functional.py --quick      # 1 round on 10,000 images
    python benchmarks/functional.py --json out.json
    python benchmarks/functional.py --callgrind  # instructions per step (valgrind), about 15 minutes

On a shared machine the wall times wander by tens of percent between epochs; `--callgrind`
counts the instructions one training step of each kind executes instead (valgrind's callgrind,
one thread, the difference between a 1-epoch and a 2-epoch fit of 3,200 images, so start-up
cancels out), which is repeatable to a few parts in a thousand whatever else runs.

Data: --data PATH, else $FASTDNN_DATA, else ../shared/datasets/fashion-mnist beside the repo.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import fastdnn
import fastdnn as keras

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "fashion-mnist"
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "functional.json"
SEED = 42
TARGET_RATIO = 1.05


def load(path, n):
    (x, y), _ = keras.datasets.fashion_mnist.load_data(path)
    return (x[5000:5000 + n].astype(np.float32) / np.float32(255)), y[5000:5000 + n].astype(np.int64)


def bn_layers():
    keras.utils.set_random_seed(SEED)
    return [keras.layers.Flatten(), keras.layers.BatchNormalization(),
            keras.layers.Dense(300, activation="elu", kernel_initializer="he_normal"),
            keras.layers.BatchNormalization(),
            keras.layers.Dense(100, activation="elu", kernel_initializer="he_normal"),
            keras.layers.BatchNormalization(), keras.layers.Dense(10, activation="softmax")]


class Chain(keras.Model):
    """The same layers as a subclassed model."""

    def __init__(self, layers, **kwargs):
        super().__init__(**kwargs)
        self.stack = layers

    def call(self, inputs, training=None):
        x = inputs
        for layer in self.stack:
            x = layer(x)
        return x


def make(kind):
    layers = bn_layers()
    if kind == "Sequential":
        model = keras.Sequential([keras.Input(shape=(28, 28))] + layers)
    elif kind == "functional":
        inputs = keras.Input(shape=(28, 28))
        x = inputs
        for layer in layers:
            x = layer(x)
        model = keras.Model(inputs, x)
    else:
        model = Chain(layers)
        model.build((None, 28, 28))
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.Nadam(learning_rate=1e-3),
                  metrics=["accuracy"])
    return model


def interleaved_epochs(x, y, rounds):
    kinds = ("Sequential", "functional", "subclassed")
    models = {kind: make(kind) for kind in kinds}
    times = {kind: [] for kind in kinds}
    for _ in range(rounds):
        for kind in kinds:
            keras.utils.set_random_seed(SEED + len(times[kind]))  # the same shuffles for each kind
            timer = keras.callbacks.EpochTimer()
            models[kind].fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[timer])
            times[kind] += timer.times
    reference = models["Sequential"].get_weights()
    same = {kind: all(np.array_equal(a, b) for a, b in zip(models[kind].get_weights(), reference))
            for kind in kinds}
    return times, same


def make_pairs(x, y, n, seed=0):
    rng = np.random.default_rng(seed)
    by_class = [np.flatnonzero(y == c) for c in range(10)]
    left = rng.integers(0, len(x), n)
    same = rng.random(n) < 0.5
    right = np.array([rng.choice(by_class[y[a] if s else (y[a] + rng.integers(1, 10)) % 10])
                      for a, s in zip(left, same)])
    return x[left], x[right], same.astype(np.float32).reshape(-1, 1)


def siamese_fastdnn(left, right, same, epochs):
    keras.utils.set_random_seed(SEED)
    encoder = keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Flatten(),
                                keras.layers.Dense(300, activation="selu", kernel_initializer="lecun_normal"),
                                keras.layers.Dense(100, activation="selu", kernel_initializer="lecun_normal")])
    a_in, b_in = keras.Input(shape=(28, 28)), keras.Input(shape=(28, 28))
    a, b = encoder(a_in), encoder(b_in)
    d = keras.layers.Subtract()([a, b])
    joined = keras.layers.Concatenate()([keras.layers.Multiply()([d, d]), keras.layers.Multiply()([a, b]),
                                         keras.layers.Dot(axes=1, normalize=True)([a, b])])
    model = keras.Model([a_in, b_in], keras.layers.Dense(1, activation="sigmoid")(joined))
    model.compile(loss="binary_crossentropy", optimizer=keras.optimizers.Nadam(learning_rate=1e-3))
    timer = keras.callbacks.EpochTimer()
    model.fit([left, right], same, batch_size=64, epochs=epochs, verbose=0, callbacks=[timer])
    return timer.times


def siamese_torch(torch, left, right, same, epochs):
    nn = torch.nn
    torch.manual_seed(SEED)
    encoder = nn.Sequential(nn.Flatten(), nn.Linear(784, 300), nn.SELU(), nn.Linear(300, 100), nn.SELU())
    head = nn.Linear(201, 1)
    params = list(encoder.parameters()) + list(head.parameters())
    opt = torch.optim.NAdam(params, lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()
    xl, xr, t = (torch.from_numpy(v) for v in (left, right, same))
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        perm = torch.randperm(len(xl))
        for lo in range(0, len(xl), 64):
            idx = perm[lo:lo + 64]
            a, b = encoder(xl[idx]), encoder(xr[idx])
            d = a - b
            cos = nn.functional.cosine_similarity(a, b, dim=1, eps=1e-7).unsqueeze(1)
            opt.zero_grad()
            loss_fn(head(torch.cat([d * d, a * b, cos], dim=1)), t[idx]).backward()
            opt.step()
        times.append(time.perf_counter() - start)
    return times


def _fit_for_callgrind(kind, epochs):
    """What each callgrind run measures: `epochs` epochs of 100 steps of one kind."""
    keras.set_num_threads(1)
    model = make(kind)
    rng = np.random.default_rng(0)
    x = rng.random((3200, 28, 28), dtype=np.float32)
    model.fit(x, rng.integers(0, 10, 3200), batch_size=32, epochs=epochs, verbose=0)


def callgrind_steps():
    """Instructions per training step of each kind, from valgrind's callgrind."""
    import re
    import subprocess
    counts = {}
    for kind in ("Sequential", "functional", "subclassed"):
        totals = []
        for epochs in (1, 2):
            done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
                                   __file__, "--one", kind, str(epochs)], capture_output=True, text=True, check=True)
            totals.append(int(re.search(r"Collected : (\d+)", done.stderr).group(1)))
        counts[kind] = (totals[1] - totals[0]) / 100
        print(f"{kind:<14} {counts[kind] / 1e6:8.3f} M instructions per step "
              f"({counts[kind] / counts['Sequential']:.4f} of Sequential)", flush=True)
    return counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round on 10,000 images")
    parser.add_argument("--callgrind", action="store_true", help="count instructions per step instead")
    parser.add_argument("--one", nargs=2, metavar=("KIND", "EPOCHS"), help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data", default=os.environ.get("FASTDNN_DATA") or str(DEFAULT_DATA))
    parser.add_argument("--json", default=str(DEFAULT_JSON))
    args = parser.parse_args(argv)
    if args.one:
        return _fit_for_callgrind(args.one[0], int(args.one[1])) or True
    if args.callgrind:
        print("the chapter's BN model, batch 32, 1 thread: instructions per training step")
        return callgrind_steps()
    n = 10_000 if args.quick else 55_000
    rounds = 1 if args.quick else args.rounds
    x, y = load(args.data, n)
    threads = fastdnn.get_num_threads()
    print(f"fastdnn {fastdnn.__version__} ({fastdnn.get_isa()}), {threads} thread(s), {platform.processor() or platform.machine()}")
    times, same = interleaved_epochs(x, y, rounds)
    print(f"\nthe chapter's BN model, {n:,} images, batch 32, {rounds} interleaved epoch(s) each")
    print("model          epoch median s    min s   same weights as Sequential")
    for kind, values in times.items():
        print(f"{kind:<14} {statistics.median(values):14.3f} {min(values):8.3f}   {same[kind]}")
    ratio = {kind: statistics.median(times[kind]) / statistics.median(times["Sequential"]) for kind in times}
    best = {kind: min(times[kind]) / min(times["Sequential"]) for kind in times}
    print(f"functional / Sequential: {ratio['functional']:.3f} median, {best['functional']:.3f} best "
          f"(target <= {TARGET_RATIO}); subclassed / Sequential: {ratio['subclassed']:.3f} median, "
          f"{best['subclassed']:.3f} best")

    pairs = make_pairs(x, y, 10_000 if args.quick else 30_000)
    epochs = 1 if args.quick else 2
    result = {"bn_model": {"times": times, "same_weights": same, "ratio_median": ratio, "ratio_best": best}}
    siamese = {"fastdnn": siamese_fastdnn(*pairs, epochs)}
    try:
        import torch
        torch.set_num_threads(threads)
        siamese["torch"] = siamese_torch(torch, *pairs, epochs)
    except ImportError:
        print("(torch is not installed: the siamese network runs in fastdnn only)")
    print(f"\nsiamese network, {len(pairs[0]):,} pairs, batch 64, {epochs} epoch(s)")
    for name, values in siamese.items():
        print(f"{name:<14} {statistics.median(values):14.3f} {min(values):8.3f}")
    if "torch" in siamese:
        print(f"fastdnn / torch eager: {min(siamese['fastdnn']) / min(siamese['torch']):.2f} (best epochs)")
    result["siamese"] = siamese
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=1))
    print(f"wrote {args.json}")
    return result


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
