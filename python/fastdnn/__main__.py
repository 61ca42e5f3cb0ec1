"""`python -m fastdnn` (also the `fastdnn` command): train the chapter's model, or inspect the build.

    python -m fastdnn train [--epochs N] [--data DIR] [--save PATH]
        Trains the chapter's recommended plain model (Flatten -> Dense 300 ELU -> Dense 100 ELU
        -> Dense 10 softmax, He initialization, SGD 0.01) on Fashion-MNIST, printing progress,
        time per epoch and test accuracy. Without the dataset on this machine it trains on the
        small real sample shipped in the package, and says so. --save writes the trained model
        (`.keras`, `.h5` or fastdnn's own format, by suffix).

    python -m fastdnn plot activations|history|gradients|lr [FILE] -o OUT.png
        Draws a figure with fastdnn.plotting (needs matplotlib: pip install fastdnn[plot]):
        the activation functions and their derivatives; learning curves from a history JSON
        (json.dump(history.history)) or a CSVLogger file; per-layer gradient norms from a
        GradientMonitor.save file; the learning rate from either kind of file.

    python -m fastdnn info [--json]
        Prints build_info(), checks every CPU kernel path against float64 NumPy on a small
        product, and times fastdnn's matmul and fused dense layer against NumPy on the chapter's
        MLP shapes. The full comparison is benchmarks/gemm.py in the source tree.
"""

import argparse
import json
import sys
import time

import numpy as np

from . import available_isas, build_info, get_isa, ops, set_isa
from .callbacks import EpochTimer

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


def train(epochs=10, data=None, batch_size=32, verbose=1, save=None):
    """Trains the chapter's plain model on Fashion-MNIST; returns (history, test accuracy, source)."""
    import fastdnn as keras
    from .datasets import fashion_mnist

    ((x_train, y_train), (x_test, y_test)), source = fashion_mnist.load_data_or_sample(data)
    if source == "sample":
        print(f"Fashion-MNIST was not found (see fastdnn.datasets.fashion_mnist.load_data); training on "
              f"the {len(x_train):,}-image sample shipped with fastdnn instead.")
    else:
        print(f"Fashion-MNIST from {source}: {len(x_train):,} training and {len(x_test):,} test images.")
    x_train, x_test = x_train / np.float32(255), x_test / np.float32(255)
    n_valid = len(x_train) // 12
    x_valid, y_valid = x_train[:n_valid], y_train[:n_valid]
    x_train, y_train = x_train[n_valid:], y_train[n_valid:]

    keras.utils.set_random_seed(42)
    model = keras.models.Sequential([
        keras.layers.Flatten(input_shape=[28, 28]),
        keras.layers.Dense(300, activation="elu", kernel_initializer="he_normal"),
        keras.layers.Dense(100, activation="elu", kernel_initializer="he_normal"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(learning_rate=0.01),
                  metrics=["accuracy"])
    if verbose:
        model.summary()
    timer = EpochTimer()
    history = model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=verbose,
                        validation_data=(x_valid, y_valid), callbacks=[timer])
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"time per epoch: {np.mean(timer.times):.2f} s (min {np.min(timer.times):.2f} s) on "
          f"{build_info()['num_threads']} thread(s)")
    print(f"test accuracy: {accuracy:.4f}  test loss: {loss:.4f}  ({source})")
    if save:
        model.save(save)
        print(f"saved the trained model to {save}")
    return history, accuracy, source


def info(as_json=False):
    """Prints build info, the kernel self-check and the speed table; returns an exit code."""
    info = build_info()
    errors = self_check()
    rows = speed()
    if as_json:
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


def plot(what, file, output):
    """Draws one fastdnn.plotting figure into `output`; returns an exit code."""
    from . import plotting

    try:
        if what == "activations":
            plotting.plot_activations(output)
        elif file is None:
            raise ValueError(f"`plot {what}` needs the file to read: python -m fastdnn plot {what} FILE -o OUT.png")
        elif what == "history":
            plotting.plot_learning_curves(file, output)
        elif what == "gradients":
            plotting.plot_gradient_norms(file, output)
        else:
            plotting.plot_learning_rate(file, output)
    except (ImportError, OSError, ValueError, TypeError) as e:
        print(f"fastdnn plot: {e}", file=sys.stderr)
        return 1
    print(f"wrote {output}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="fastdnn", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    p_train = sub.add_parser("train", help="train the chapter's model on Fashion-MNIST")
    p_train.add_argument("--epochs", type=int, default=10)
    p_train.add_argument("--batch-size", type=int, default=32)
    p_train.add_argument("--data", help="folder holding the Fashion-MNIST files")
    p_train.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2])
    p_train.add_argument("--save", help="write the trained model here (.keras, .h5 or any other name)")
    p_info = sub.add_parser("info", help="build info, kernel self-check and a short speed table")
    p_info.add_argument("--json", action="store_true", help="print results as JSON")
    p_plot = sub.add_parser("plot", help="draw activations, learning curves, gradient norms or the learning rate")
    p_plot.add_argument("what", choices=["activations", "history", "gradients", "lr"])
    p_plot.add_argument("file", nargs="?", help="history JSON/CSV (history, lr) or monitor JSON (gradients, lr)")
    p_plot.add_argument("-o", "--output", required=True, help="the image to write (PNG)")
    args = parser.parse_args(argv)
    if args.command == "plot":
        return plot(args.what, args.file, args.output)
    if args.command == "train":
        train(args.epochs, args.data, args.batch_size, args.verbose, args.save)
        return 0
    return info(getattr(args, "json", False))


if __name__ == "__main__":
    sys.exit(main())
