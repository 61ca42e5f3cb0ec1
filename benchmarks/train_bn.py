"""The chapter's Batch Normalization model trained with Nadam: fastdnn against PyTorch eager.

Flatten -> BN -> Dense 300 ELU (He) -> BN -> Dense 100 ELU (He) -> BN -> Dense 10 softmax,
sparse categorical cross-entropy, Nadam(1e-3), on Fashion-MNIST (55,000 training images), at
batch 32 and 256, fastdnn (the book's Keras code with `import fastdnn as keras`) and torch eager
(the same network, BatchNorm1d with Keras's momentum and epsilon, NAdam) in one run with the same
thread count. Reports seconds per epoch, the ratio fastdnn / torch (< 1: fastdnn is faster) and
test accuracy after the same epochs. (JAX and Keras are not compared yet.)

    python benchmarks/train_bn.py [--epochs 3] [--data DIR] [--threads N]
"""

import argparse
import os
import time
from pathlib import Path

import numpy as np

import fastdnn
import fastdnn as keras

SEED = 42


def load(path):
    (x, y), (xt, yt) = keras.datasets.fashion_mnist.load_data(path)
    scale = lambda a: a.astype(np.float32) / np.float32(255)  # noqa: E731
    return scale(x[5000:]), y[5000:].astype(np.int64), scale(xt), yt.astype(np.int64)


def train_fastdnn(data, batch, epochs):
    x, y, xt, yt = data
    keras.utils.set_random_seed(SEED)
    model = keras.models.Sequential([
        keras.layers.Flatten(input_shape=[28, 28]),
        keras.layers.BatchNormalization(),
        keras.layers.Dense(300, activation="elu", kernel_initializer="he_normal"),
        keras.layers.BatchNormalization(),
        keras.layers.Dense(100, activation="elu", kernel_initializer="he_normal"),
        keras.layers.BatchNormalization(),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.Nadam(learning_rate=1e-3),
                  metrics=["accuracy"])
    timer = keras.callbacks.EpochTimer()
    model.fit(x, y, epochs=epochs, batch_size=batch, verbose=0, callbacks=[timer])
    return timer.times, model.evaluate(xt, yt, verbose=0)[1]


def train_torch(torch, data, batch, epochs):
    nn = torch.nn
    torch.manual_seed(SEED)
    x, y, xt, yt = (torch.from_numpy(a) for a in data)
    bn = lambda n: nn.BatchNorm1d(n, eps=1e-3, momentum=0.01)  # noqa: E731  (Keras 0.99 / 1e-3)
    model = nn.Sequential(nn.Flatten(), bn(784), nn.Linear(784, 300), nn.ELU(), bn(300),
                          nn.Linear(300, 100), nn.ELU(), bn(100), nn.Linear(100, 10))
    for layer in (model[2], model[5]):
        nn.init.kaiming_normal_(layer.weight)
        nn.init.zeros_(layer.bias)
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.NAdam(model.parameters(), lr=1e-3)
    times = []
    for _ in range(epochs):
        model.train()
        start = time.perf_counter()
        perm = torch.randperm(len(x))
        for lo in range(0, len(x), batch):
            idx = perm[lo:lo + batch]
            opt.zero_grad()
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
        times.append(time.perf_counter() - start)
    model.eval()
    with torch.no_grad():
        return times, (model(xt).argmax(1) == yt).float().mean().item()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--data", default=os.environ.get("FASTDNN_DATA") or str(
        Path(__file__).resolve().parents[2] / "shared" / "datasets" / "fashion-mnist"))
    args = parser.parse_args(argv)
    if args.threads:
        fastdnn.set_num_threads(args.threads)
    try:
        import torch
        torch.set_num_threads(fastdnn.get_num_threads())
    except ImportError:
        torch = None
    data = load(args.data)
    print(f"BN model, Nadam 1e-3, {len(data[0]):,} images, {args.epochs} epoch(s), "
          f"{fastdnn.get_num_threads()} thread(s); load average {os.getloadavg()[0]:.2f}")
    for batch in (32, 256):
        times, acc = train_fastdnn(data, batch, args.epochs)
        line = f"batch {batch:3d}: fastdnn {np.median(times):.2f} s/epoch (min {min(times):.2f}), test acc {acc:.4f}"
        if torch is not None:
            t_times, t_acc = train_torch(torch, data, batch, args.epochs)
            line += (f" | torch {np.median(t_times):.2f} s/epoch (min {min(t_times):.2f}), test acc {t_acc:.4f}"
                     f" | ratio {np.median(times) / np.median(t_times):.2f}, accuracy {100 * (acc - t_acc):+.2f} pp")
        print(line, flush=True)


if __name__ == "__main__":
    main()
