"""Training benchmark: fastdnn's Keras-compatible fit() against a PyTorch eager loop.

What it measures, in one process (fastdnn first, then torch, each seeded):

* epoch time and test accuracy of the plain model of Hands-On ML ch. 11 on Fashion-MNIST (first
  55,000 training images scaled to [0, 1], 10,000 test images): Flatten -> Dense 300 ELU
  (he_normal) -> Dense 100 ELU (he_normal) -> Dense 10 softmax, sparse categorical cross-entropy,
  SGD(learning_rate=0.01), batch 32, reshuffled every epoch. fastdnn runs the book's Keras code
  (`import fastdnn as keras`, fit() with a callback timing each epoch); torch runs the same
  network and initialisation (CrossEntropyLoss on logits) in the fastest idiomatic eager loop:
  batches indexed from pre-made tensors by a permutation, no DataLoader, no per-step .item(),
  its threads set to fastdnn's. Headline: fastdnn/torch epoch time (target <= 0.5) and the
  test-accuracy gap after the same epochs (target: within 1 percentage point);
* per-step Python overhead: a tiny model (Dense(4, elu) -> Dense(2, softmax) on batches of 2,
  where arithmetic is negligible) trained by model.fit and by a raw loop of model.train_step,
  beside a torch eager loop of the same net, in microseconds per step (target <= 50 us).

The 'other' figures give how many CPUs other processes kept busy meanwhile (from /proc/stat, as
in gemm.py): on a shared machine, anything near 1 means the numbers are disturbed, and with more
than one thread badly so (torch's OpenMP workers spin-wait for a CPU that is taken: its steps
then run tens of times slower). The first epoch includes warm-up; median and min are reported.

    python benchmarks/train.py                # 3 epochs of 55,000 images, about 1-2 minutes
    python benchmarks/train.py --quick        # smoke test: 1 epoch of 10,000 images, < 30 s
    python benchmarks/train.py --epochs 10 --threads 1 --json out.json
    python benchmarks/train.py --profile      # also cProfile the tiny model's fit loop

Data: --data PATH, else $FASTDNN_DATA, else ../shared/datasets/fashion-mnist beside the repo.
"""

import argparse
import cProfile
import datetime
import json
import os
import platform
import pstats
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import fastdnn
import fastdnn as keras
from fastdnn.datasets import fashion_mnist

from _timing import best_of

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "fashion-mnist"
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "train.json"
SEED = 42
N_TRAIN, N_TRAIN_QUICK = 55_000, 10_000
TINY_SAMPLES, TINY_SAMPLES_QUICK, TINY_BATCH = 20_000, 4_000, 2
TARGET_RATIO, TARGET_ACC_PP, TARGET_STEP_US = 0.5, 1.0, 50.0
NOISY_OTHER_CPUS = 0.2
HE_TRUNC_STD = 0.87962566103423978  # stddev of a unit normal truncated to [-2, 2]


class OtherLoad:
    """Average number of CPUs other processes kept busy between start() and stop() (None
    without /proc/stat): all CPUs' busy time less this process's own CPU time, per wall second."""

    @staticmethod
    def _sample():
        try:
            with open("/proc/stat") as f:
                fields = [int(v) for v in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        own = os.times()
        busy = (sum(fields[:3]) + sum(fields[5:8])) / os.sysconf("SC_CLK_TCK")
        return busy, own.user + own.system, time.perf_counter()

    def start(self):
        self._start = self._sample()
        return self

    def stop(self):
        end = self._sample()
        if self._start is None or end is None or end[2] <= self._start[2]:
            return None
        busy, own, wall = (e - s for e, s in zip(end, self._start))
        return max(0.0, (busy - own) / wall)


def wait_until_idle(step=0.005, max_wait=0.5):
    """Sleeps until this process's worker threads stop spinning, so they do not slow the next run."""
    deadline = time.perf_counter() + max_wait
    while time.perf_counter() < deadline:
        before = time.process_time()
        time.sleep(step)
        if time.process_time() - before < 0.2 * step:
            return


def load_data(path, n_train):
    """Fashion-MNIST as float32 in [0, 1]: the first `n_train` training images and all test ones.
    Exits with load_data's message (exit status 1) when the files are missing or corrupt."""
    try:
        (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data(path)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"ABORTED: {exc}") from exc
    scale = lambda x: x.astype(np.float32) / np.float32(255)  # noqa: E731
    return scale(x_train[:n_train]), y_train[:n_train], scale(x_test), y_test


def train_fastdnn(data, epochs):
    """The book's Keras code with `import fastdnn as keras`; returns epoch times and test accuracy."""
    x_train, y_train, x_test, y_test = data
    keras.utils.set_random_seed(SEED)
    model = keras.models.Sequential([
        keras.layers.Flatten(input_shape=[28, 28]),
        keras.layers.Dense(300, activation="elu", kernel_initializer="he_normal"),
        keras.layers.Dense(100, activation="elu", kernel_initializer="he_normal"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(loss="sparse_categorical_crossentropy",
                  optimizer=keras.optimizers.SGD(learning_rate=0.01), metrics=["accuracy"])
    timer = keras.callbacks.EpochTimer()
    model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=0, callbacks=[timer])
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    return {"epoch_s": timer.times, "test_accuracy": float(accuracy)}


def torch_mlp(torch):
    """The same network in torch, initialised as Keras does (biases zero)."""
    nn = torch.nn
    layers = [nn.Linear(784, 300), nn.Linear(300, 100), nn.Linear(100, 10)]
    for layer in layers[:2]:  # he_normal: normal truncated at 2 stddevs, stddev sqrt(2/fan_in)
        std = (2.0 / layer.in_features) ** 0.5 / HE_TRUNC_STD
        nn.init.trunc_normal_(layer.weight, std=std, a=-2 * std, b=2 * std)
    nn.init.xavier_uniform_(layers[2].weight)
    for layer in layers:
        nn.init.zeros_(layer.bias)
    return nn.Sequential(nn.Flatten(), layers[0], nn.ELU(), layers[1], nn.ELU(), layers[2])


def train_torch(torch, data, epochs):
    """An idiomatic eager loop over pre-made tensors; returns epoch times and test accuracy."""
    torch.manual_seed(SEED)
    x_train, y_train, x_test, y_test = (torch.from_numpy(a) for a in data)
    y_train, y_test = y_train.long(), y_test.long()
    model = torch_mlp(torch)
    loss_fn = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    times, n = [], len(x_train)
    for _ in range(epochs):
        start = time.perf_counter()
        perm = torch.randperm(n)
        for lo in range(0, n, 32):
            idx = perm[lo:lo + 32]
            optimizer.zero_grad()
            loss_fn(model(x_train[idx]), y_train[idx]).backward()
            optimizer.step()
        times.append(time.perf_counter() - start)
    with torch.no_grad():
        accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
    return {"epoch_s": times, "test_accuracy": accuracy}


def tiny_fastdnn_model(jit="auto"):
    """Dense(4, elu) -> Dense(2, softmax) on 4 inputs: arithmetic is negligible."""
    model = keras.models.Sequential([keras.layers.Dense(4, activation="elu", input_shape=[4]),
                                     keras.layers.Dense(2, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy",
                  optimizer=keras.optimizers.SGD(learning_rate=0.01), metrics=["accuracy"], jit_compile=jit)
    return model


def tiny_data(samples):
    """Random float32 inputs (samples, 4) and labels 0/1."""
    rng = np.random.default_rng(SEED)
    return rng.random((samples, 4), dtype=np.float32), rng.integers(0, 2, samples).astype(np.uint8)


def overhead_fastdnn(samples, rounds):
    """Microseconds per step of the tiny model: through model.fit, and through train_step alone."""
    x, y = tiny_data(samples)
    steps = samples // TINY_BATCH
    model = tiny_fastdnn_model()
    fit = lambda: model.fit(x, y, epochs=1, batch_size=TINY_BATCH, verbose=0)  # noqa: E731
    batches = [(x[i:i + TINY_BATCH], y[i:i + TINY_BATCH]) for i in range(0, samples, TINY_BATCH)]

    def raw_loop():
        for xb, yb in batches:
            model.train_step((xb, yb))

    fit()  # warm-up
    result = {"steps": steps, "fit_us": best_of(fit, rounds) / steps * 1e6,
              "train_step_us": best_of(raw_loop, rounds) / steps * 1e6}
    native = getattr(model, "_native", None)
    if hasattr(native, "plan"):  # the native step: its two native calls alone, per step
        plan, hyper = native.plan, model.optimizer._next_hyper()
        labels = [(np.ascontiguousarray(xb), yb.astype(np.int64)) for xb, yb in batches]

        def plan_calls():
            for xb, yb in labels:
                plan.forward_backward(xb, yb)
                plan.update(hyper)
        result["plan_calls_us"] = best_of(plan_calls, rounds) / steps * 1e6
    tape = tiny_fastdnn_model(jit=False)

    def tape_loop():
        for xb, yb in batches:
            tape.train_step((xb, yb))
    tape_loop()
    result["tape_train_step_us"] = best_of(tape_loop, rounds) / steps * 1e6
    return result


def overhead_torch(torch, samples, rounds):
    """Microseconds per step of the same tiny net in a torch eager loop over pre-cut batches."""
    x, y = tiny_data(samples)
    x, y = torch.from_numpy(x), torch.from_numpy(y).long()
    nn = torch.nn
    model = nn.Sequential(nn.Linear(4, 4), nn.ELU(), nn.Linear(4, 2))
    loss_fn, optimizer = nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.01)
    batches = list(zip(x.split(TINY_BATCH), y.split(TINY_BATCH)))

    def loop():
        for xb, yb in batches:
            optimizer.zero_grad()
            loss_fn(model(xb), yb).backward()
            optimizer.step()

    loop()  # warm-up
    return {"steps": len(batches), "loop_us": best_of(loop, rounds) / len(batches) * 1e6}


def measured(fn, *args):
    """Runs fn(*args) once the process is idle; adds the CPUs other processes kept busy meanwhile
    and, for a training run, the median and min epoch time."""
    wait_until_idle()
    load = OtherLoad().start()
    result = fn(*args)
    result["other_load_cpus"] = load.stop()
    if "epoch_s" in result:
        result["epoch_median_s"], result["epoch_min_s"] = statistics.median(result["epoch_s"]), min(result["epoch_s"])
    return result


def profile_tiny_fit(samples, top=15):
    """Prints the functions that dominate the tiny model's fit loop (by own time)."""
    x, y = tiny_data(samples)
    model = tiny_fastdnn_model()
    profiler = cProfile.Profile()
    profiler.runcall(model.fit, x, y, epochs=1, batch_size=TINY_BATCH, verbose=0)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def machine_info(torch):
    """Versions, threads and load that the numbers depend on."""
    return {"python": sys.version.split()[0], "platform": platform.platform(),
            "fastdnn": fastdnn.build_info(),
            "torch": {"version": torch.__version__, "threads": torch.get_num_threads()} if torch else None,
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}


def fmt_other(value):
    """An 'other CPUs busy' figure for the table."""
    return "-" if value is None else f"{value:.2f}"


def report_lines(res):
    """The results as a printable table."""
    s, m, lines = res["settings"], res["machine"], []
    lines.append(f"fastdnn {m['fastdnn']['version']} ({m['fastdnn']['isa_active']}), torch "
                 f"{m['torch']['version'] if m['torch'] else 'absent'}; load average "
                 f"{', '.join(f'{v:.2f}' for v in m['load_average'] or [])}; other CPUs busy during the "
                 f"run {fmt_other(res['other_load_cpus'])}\n")
    lines.append(f"training: Fashion-MNIST {s['n_train']:,} images, batch 32, {s['epochs']} epoch(s), "
                 f"{s['threads']} thread(s)")
    lines.append(f"{'library':<10} {'epoch median s':>15} {'min s':>8} {'test acc':>9} {'other':>6}")
    for name, run in res["training"].items():
        lines.append(f"{name:<10} {run['epoch_median_s']:>15.2f} {run['epoch_min_s']:>8.2f} "
                     f"{run['test_accuracy']:>9.4f} {fmt_other(run['other_load_cpus']):>6}")
    if res["comparison"]:
        c = res["comparison"]
        lines.append(f"fastdnn/torch epoch time: {c['epoch_ratio']:.2f} (target <= {TARGET_RATIO}); "
                     f"accuracy fastdnn - torch: {c['accuracy_diff_pp']:+.2f} pp (target within {TARGET_ACC_PP})")
    o = res["overhead"]
    lines.append(f"\nper-step overhead: Dense(4, elu) -> Dense(2, softmax), batch {TINY_BATCH}, "
                 f"{o['fastdnn']['steps']:,} steps (best of {s['overhead_rounds']}; target <= {TARGET_STEP_US} us)")
    lines.append(f"{'loop':<24} {'us/step':>8} {'other':>6}")
    rows = [("fastdnn model.fit", o["fastdnn"]["fit_us"], o["fastdnn"]),
            ("fastdnn train_step loop", o["fastdnn"]["train_step_us"], o["fastdnn"]),
            ("  the same on the tape", o["fastdnn"]["tape_train_step_us"], o["fastdnn"])]
    if "plan_calls_us" in o["fastdnn"]:
        rows.append(("  its two native calls", o["fastdnn"]["plan_calls_us"], o["fastdnn"]))
    if "torch" in o:
        rows.append(("torch eager loop", o["torch"]["loop_us"], o["torch"]))
    for name, us, part in rows:
        lines.append(f"{name:<24} {us:>8.1f} {fmt_other(part['other_load_cpus']):>6}")
    return lines + [f"WARNING: {note}" for note in res["warnings"]]


def measure(torch, data, epochs, tiny_samples, rounds, profile):
    """Trains both libraries, then times the per-step overhead; returns (training, overhead)."""
    training = {"fastdnn": measured(train_fastdnn, data, epochs)}
    overhead = {"fastdnn": measured(overhead_fastdnn, tiny_samples, rounds)}
    if torch:
        training["torch"] = measured(train_torch, torch, data, epochs)
        overhead["torch"] = measured(overhead_torch, torch, tiny_samples, rounds)
    if profile:
        profile_tiny_fit(tiny_samples)
    return training, overhead


def compare(training):
    """fastdnn/torch epoch-time ratios and the test-accuracy gap in points (None without torch)."""
    if "torch" not in training:
        return None
    fd, tc = training["fastdnn"], training["torch"]
    return {"epoch_ratio": fd["epoch_median_s"] / tc["epoch_median_s"],
            "epoch_ratio_min": fd["epoch_min_s"] / tc["epoch_min_s"],
            "accuracy_diff_pp": 100 * (fd["test_accuracy"] - tc["test_accuracy"])}


def warnings_for(torch, other, threads, quick):
    """Conditions that make the numbers unreliable, as sentences."""
    notes = [] if torch else ["torch is not installed: fastdnn is timed alone"]
    if other is not None and other > NOISY_OTHER_CPUS:
        notes.append(f"other processes kept {other:.2f} CPUs busy on average: the numbers are disturbed")
        if threads > 1:
            notes.append(f"{threads} threads with CPUs taken: spinning thread pools (torch's OpenMP most, "
                         "fastdnn's too) slow down many-fold; compare with --threads 1 or on a quiet machine")
    if quick:
        notes.append("--quick: accuracy after 313 steps varies by several points with the seed; "
                     f"the {TARGET_ACC_PP} pp target applies to full runs")
    return notes


def run(quick=False, epochs=3, threads=None, data_path=None, json_path=None, profile=False):
    """Runs the benchmark, prints the table, optionally writes JSON; returns the results dict."""
    try:
        import torch
    except ImportError:  # timed alone then; jax and keras are not measured here
        torch = None
    saved = fastdnn.get_num_threads(), torch.get_num_threads() if torch else None
    fastdnn.set_num_threads(threads or saved[0])
    threads = fastdnn.get_num_threads()
    if torch:
        torch.set_num_threads(threads)
    epochs, n_train = (1, N_TRAIN_QUICK) if quick else (epochs, N_TRAIN)
    tiny_samples, rounds = (TINY_SAMPLES_QUICK, 1) if quick else (TINY_SAMPLES, 3)
    path = data_path or os.environ.get(fashion_mnist.ENV_VAR) or DEFAULT_DATA
    timestamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    run_load = OtherLoad().start()
    try:
        info = machine_info(torch)
        data = load_data(path, n_train)
        training, overhead = measure(torch, data, epochs, tiny_samples, rounds, profile)
    finally:
        fastdnn.set_num_threads(saved[0])
        if torch:
            torch.set_num_threads(saved[1])
    other = run_load.stop()
    res = {"benchmark": "train", "timestamp": timestamp, "machine": info,
           "settings": {"quick": quick, "epochs": epochs, "n_train": n_train, "threads": threads,
                        "data": str(path), "seed": SEED, "tiny_samples": tiny_samples,
                        "overhead_rounds": rounds},
           "training": training, "comparison": compare(training), "overhead": overhead,
           "other_load_cpus": other, "warnings": warnings_for(torch, other, threads, quick)}
    print("\n".join(report_lines(res)))
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(res, indent=1) + "\n")
        print(f"wrote {json_path}")
    return res


def main(argv=None):
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 epoch of 10,000 images (< ~30 s)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per library (default 3)")
    parser.add_argument("--threads", type=int, help="threads for fastdnn and torch (default: fastdnn's)")
    parser.add_argument("--data", help="folder holding the Fashion-MNIST files")
    parser.add_argument("--json", default=DEFAULT_JSON, metavar="PATH", help="results file")
    parser.add_argument("--profile", action="store_true", help="cProfile the tiny model's fit loop")
    args = parser.parse_args(argv)
    if args.epochs < 1 or (args.threads is not None and args.threads < 1):
        parser.error("--epochs and --threads must be positive integers")
    run(args.quick, args.epochs, args.threads, args.data, args.json, args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
