"""What gathering a shuffled batch costs the training loop, in line and prefetched.

`fit` on arrays draws a permutation each epoch and copies each batch's rows out of the data
(`x[indices]`). In line, the copy runs on the training thread between steps; prefetched
(trainers/data_adapters/prefetch.py), a background thread gathers the next batches while the
current step's native kernels run, and the training thread only takes them off a queue.

For each batch size, both modes run the same loop over the same permutation: the chapter's
model (Flatten -> Dense 300 ReLU -> Dense 100 ReLU -> Dense 10 softmax, SGD) on 55,000
Fashion-MNIST images. It reports the time the training thread spends obtaining each batch
(the per-step cost of gathering), the step time, and prefetched / in-line ratios. The modes
alternate over rounds, so that a noisy neighbour slows both alike.

    python benchmarks/batch_gathering.py                # batch 32 and 256, 3 rounds
    python benchmarks/batch_gathering.py --batch 256 --rounds 5
    python benchmarks/batch_gathering.py --json out.json

Data: --data PATH, else $FASTDNN_DATA, else ../shared/datasets/fashion-mnist beside the repo.
"""

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

import fastdnn as keras
from fastdnn.trainers.data_adapters import array_data_adapter
from fastdnn.trainers.data_adapters import get_data_adapter

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "fashion-mnist"


def model():
    keras.utils.set_random_seed(0)
    net = keras.Sequential([keras.layers.Input((28, 28)), keras.layers.Flatten(),
                            keras.layers.Dense(300, activation="relu"), keras.layers.Dense(100, activation="relu"),
                            keras.layers.Dense(10, activation="softmax")])
    net.compile(optimizer=keras.optimizers.SGD(learning_rate=1e-3), loss="sparse_categorical_crossentropy",
                metrics=["accuracy"])
    return net


def epoch(net, x, y, batch_size, prefetch):
    """(seconds obtaining batches, seconds in train_step, steps) of one shuffled epoch."""
    array_data_adapter.PREFETCH_MIN_BYTES = 0 if prefetch else float("inf")
    np.random.seed(1)  # the same permutation in both modes
    adapter = get_data_adapter(x, y, batch_size=batch_size, shuffle=True)
    batches = adapter.get_numpy_iterator()
    waiting = stepping = 0.0
    steps = 0
    try:
        while True:
            t0 = time.perf_counter()
            batch = next(batches, None)
            t1 = time.perf_counter()
            if batch is None:
                break
            net.train_step(batch)
            stepping += time.perf_counter() - t1
            waiting += t1 - t0
            steps += 1
    finally:
        getattr(batches, "close", lambda: None)()
    return waiting, stepping, steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, nargs="*", default=[32, 256])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data", default=os.environ.get("FASTDNN_DATA", str(DEFAULT_DATA)))
    parser.add_argument("--json")
    args = parser.parse_args()
    (x, y), _ = keras.datasets.fashion_mnist.load_data(args.data)
    x = (x[:55000] / 255.0).astype(np.float32)
    y = y[:55000]
    print(f"CPU: {platform.processor() or platform.machine()}, fastdnn ISA {keras.get_isa()}, "
          f"{keras.get_num_threads()} threads; 55,000 images, {args.rounds} rounds per mode")
    default = array_data_adapter.PREFETCH_MIN_BYTES
    results = {}
    for batch_size in args.batch:
        net = model()
        epoch(net, x[:2048], y[:2048], batch_size, False)  # warm-up: build, allocate
        runs = {False: [], True: []}
        for _ in range(args.rounds):
            for prefetch in (False, True):
                runs[prefetch].append(epoch(net, x, y, batch_size, prefetch))
        row = {}
        for prefetch, name in ((False, "inline"), (True, "prefetch")):
            wait = statistics.median(w / s for w, _, s in runs[prefetch]) * 1e6
            step = statistics.median(t / s for _, t, s in runs[prefetch]) * 1e6
            total = statistics.median(w + t for w, t, _ in runs[prefetch])
            row[name] = {"gather_us_per_step": wait, "step_us": step, "epoch_s": total}
            print(f"batch {batch_size:4d} {name:9s} gathering {wait:7.1f} µs/step   train_step {step:8.1f} µs   "
                  f"epoch {total:6.2f} s")
        row["gather_ratio"] = row["prefetch"]["gather_us_per_step"] / row["inline"]["gather_us_per_step"]
        row["epoch_ratio"] = row["prefetch"]["epoch_s"] / row["inline"]["epoch_s"]
        print(f"batch {batch_size:4d} prefetch / inline: gathering {row['gather_ratio']:.2f}x, "
              f"epoch {row['epoch_ratio']:.2f}x")
        results[batch_size] = row
    array_data_adapter.PREFETCH_MIN_BYTES = default
    print(f"fit prefetches batches of at least {default // 1024} KiB ({default // (784 * 4)}+ rows of 784 floats)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
