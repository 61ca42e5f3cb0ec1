"""Data-parallel training over MPI (fastdnn.distribution) on this machine, and a scaling model
for several machines calibrated by it.

The chapter's two models on Fashion-MNIST (55,000 images when found, else the shipped 5,000):
the plain model (Dense 300 ReLU -> 100 ReLU -> 10 softmax) with SGD, and the BN model
(BN -> Dense 300 ELU -> BN -> Dense 100 ELU -> BN -> Dense 10 softmax) with Nadam, at global
batch 32 and 256. Each layout runs in turn, in one run:

* 1 process x 2 threads (no MPI: the single-process baseline);
* 2 processes x 1 thread (mpiexec -n 2);
* 2 processes x 2 threads (oversubscribed: 4 threads on the machine's cores);
* PyTorch DistributedDataParallel (gloo) with 2 processes x 1 thread, where torch is installed,
  and PyTorch eager in one process x 2 threads.

Reports seconds per epoch (median of the epochs after the first), the ratio to the 1-process
run, and for fastdnn the gradient all-reduce's time per step and its share of the step. Then the
scaling model: a ring all-reduce moves 2(N-1)/N x the gradient's bytes per machine; with the
per-sample compute time measured here, it gives for N machines on a 10/25/100 Gb/s network the
global batch below which communication takes longer than computing (where adding machines
stops paying).

    python benchmarks/distributed.py [--epochs 3] [--data DIR] [--batches 32,256] [--no-torch]
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from fastdnn.distribution.launch import mpiexec_command

HERE = os.path.abspath(__file__)


# ---- the work, run by every rank -----------------------------------------------------------------

def load(path):
    import fastdnn as keras

    (data, source) = keras.datasets.fashion_mnist.load_data_or_sample(path)
    (x, y), _ = data
    x = (x / 255.0).astype(np.float32)
    if len(x) > 50000:
        x, y = x[5000:], y[5000:]
    return x, y.astype(np.int64), source


def fastdnn_models(keras):
    plain = lambda: keras.models.Sequential([  # noqa: E731
        keras.layers.Flatten(input_shape=[28, 28]),
        keras.layers.Dense(300, activation="relu"), keras.layers.Dense(100, activation="relu"),
        keras.layers.Dense(10, activation="softmax")])
    bn = lambda: keras.models.Sequential([  # noqa: E731
        keras.layers.Flatten(input_shape=[28, 28]), keras.layers.BatchNormalization(),
        keras.layers.Dense(300, activation="elu", kernel_initializer="he_normal"),
        keras.layers.BatchNormalization(),
        keras.layers.Dense(100, activation="elu", kernel_initializer="he_normal"),
        keras.layers.BatchNormalization(), keras.layers.Dense(10, activation="softmax")])
    return {"plain+SGD": (plain, lambda: keras.optimizers.SGD(learning_rate=1e-2)),
            "BN+Nadam": (bn, lambda: keras.optimizers.Nadam(learning_rate=1e-3))}


def run_fastdnn(args):
    import fastdnn as keras

    comm = None
    if args.mpi:
        comm = keras.distribution.initialize()
        keras.distribution.set_distribution(keras.distribution.DataParallel())
    keras.set_num_threads(args.threads)
    x, y, source = load(args.data)
    out = {"source": source, "samples": len(x), "threads": keras.get_num_threads(), "runs": {}}
    for name, (build, optimizer) in fastdnn_models(keras).items():
        for batch in args.batches:
            keras.utils.set_random_seed(42)
            model = build()
            model.compile(loss="sparse_categorical_crossentropy", optimizer=optimizer(), metrics=["accuracy"])
            timer = keras.callbacks.EpochTimer()
            before = (comm.reduce_seconds, comm.reduce_calls) if comm else (0.0, 0)
            model.fit(x, y, batch_size=batch, epochs=args.epochs, verbose=0, callbacks=[timer])
            reduce_s, calls = ((comm.reduce_seconds - before[0], comm.reduce_calls - before[1]) if comm
                               else (0.0, 0))
            out["runs"][f"{name} b{batch}"] = {
                "epoch_s": statistics.median(timer.times[1:] or timer.times),
                "reduce_per_step_s": reduce_s / calls if calls else 0.0,
                "steps": -(-len(x) // batch), "params": model.count_params()}
    return out, comm is None or comm.rank == 0


def run_torch(args):
    import torch
    import torch.distributed as dist

    size = int(os.environ.get("OMPI_COMM_WORLD_SIZE", os.environ.get("PMI_SIZE", "1")))
    rank = int(os.environ.get("OMPI_COMM_WORLD_RANK", os.environ.get("PMI_RANK", "0")))
    torch.set_num_threads(args.threads)
    if size > 1:
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{args.port}", rank=rank, world_size=size)
    x, y, source = load(args.data)
    x, y = torch.from_numpy(x.reshape(len(x), -1)), torch.from_numpy(y)
    nn = torch.nn
    out = {"source": source, "samples": len(x), "threads": args.threads, "runs": {}}
    bn = lambda n: nn.BatchNorm1d(n, eps=1e-3, momentum=0.01)  # noqa: E731
    models = {"plain+SGD": (lambda: nn.Sequential(nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(),
                                                  nn.Linear(100, 10)),
                            lambda p: torch.optim.SGD(p, lr=1e-2)),
              "BN+Nadam": (lambda: nn.Sequential(bn(784), nn.Linear(784, 300), nn.ELU(), bn(300),
                                                 nn.Linear(300, 100), nn.ELU(), bn(100), nn.Linear(100, 10)),
                           lambda p: torch.optim.NAdam(p, lr=1e-3))}
    for name, (build, optimizer) in models.items():
        for batch in args.batches:
            torch.manual_seed(42)
            model = build()
            if size > 1:
                model = nn.parallel.DistributedDataParallel(model)
            opt, loss_fn = optimizer(model.parameters()), nn.CrossEntropyLoss()
            times = []
            for epoch in range(args.epochs):
                start = time.perf_counter()
                g = torch.Generator().manual_seed(epoch)
                perm = torch.randperm(len(x), generator=g)
                for lo in range(0, len(x), batch):
                    idx = perm[lo:lo + batch]
                    share = len(idx) // size + (1 if rank < len(idx) % size else 0)
                    first = rank * (len(idx) // size) + min(rank, len(idx) % size)
                    mine = idx[first:first + share]
                    opt.zero_grad()
                    loss_fn(model(x[mine]), y[mine]).backward()
                    opt.step()
                times.append(time.perf_counter() - start)
            out["runs"][f"{name} b{batch}"] = {"epoch_s": statistics.median(times[1:] or times)}
    if size > 1:
        dist.destroy_process_group()
    return out, rank == 0


# ---- the driver ----------------------------------------------------------------------------------

def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(args, engine, procs, threads):
    with tempfile.TemporaryDirectory() as tmp:
        result = os.path.join(tmp, "result.json")
        cmd = [sys.executable, HERE, "--worker", engine, "--threads", str(threads), "--epochs", str(args.epochs),
               "--batches", ",".join(map(str, args.batches)), "--out", result, "--port", str(_free_port())]
        if args.data:
            cmd += ["--data", args.data]
        if procs > 1:
            cmd = mpiexec_command(procs) + cmd + ["--mpi"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"  {engine} {procs}x{threads} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
            return None
        with open(result) as f:
            return json.load(f)


def scaling_model(base, params_of, batches_of):
    """Prints, for N machines like this one, the global batch at which the ring all-reduce
    takes as long as the step's compute."""
    print("\nScaling model: N machines like this one (compute per sample as measured in 1 process x 2 threads),")
    print("ring all-reduce 2(N-1)/N x 4 bytes x parameters per step, no overlap with the backward pass.")
    print("B*: the global batch at which communication equals compute; below it adding machines stops paying.")
    for name in ("plain+SGD", "BN+Nadam"):
        key = f"{name} b{max(batches_of)}"
        run = base["runs"][key]
        per_sample = run["epoch_s"] / base["samples"]
        grad_bytes = 4 * params_of[name]
        print(f"  {name}: {params_of[name]:,} parameters ({grad_bytes / 2**20:.2f} MiB), "
              f"{per_sample * 1e6:.1f} µs per sample (batch {max(batches_of)})")
        print("    " + "N".rjust(4) + "".join(f"{bw:>4} Gb/s: t_comm, B*".rjust(28) for bw in (10, 25, 100)))
        for n in (2, 4, 8, 16, 64):
            cells = []
            for bw in (10, 25, 100):
                t_comm = 2 * (n - 1) / n * grad_bytes * 8 / (bw * 1e9)
                cells.append(f"{t_comm * 1e3:7.3f} ms, {n * t_comm / per_sample:8,.0f}".rjust(28))
            print("    " + str(n).rjust(4) + "".join(cells))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--data", default=None)
    parser.add_argument("--batches", default="32,256")
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--worker", default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=None)
    parser.add_argument("--mpi", action="store_true")
    parser.add_argument("--port", type=int, default=29500)
    args = parser.parse_args()
    args.batches = [int(b) for b in str(args.batches).split(",")]
    if args.worker:
        out, chief = (run_fastdnn if args.worker == "fastdnn" else run_torch)(args)
        if chief:
            with open(args.out, "w") as f:
                json.dump(out, f)
        return
    if mpiexec_command(2) is None:
        sys.exit("needs mpiexec and mpi4py: pip install 'fastdnn[mpi]'")
    layouts = [("fastdnn", 1, 2), ("fastdnn", 2, 1), ("fastdnn", 2, 2)]
    try:
        import torch  # noqa: F401
        if not args.no_torch:
            layouts += [("torch", 1, 2), ("torch", 2, 1)]
    except ImportError:
        pass
    print(f"CPU: {_cpu_name()}, {os.cpu_count()} cores; epochs: {args.epochs} (median of all but the first)")
    results = {}
    for engine, procs, threads in layouts:
        results[(engine, procs, threads)] = launch(args, engine, procs, threads)
    base = results[("fastdnn", 1, 2)]
    if base is None:
        sys.exit("the single-process run failed")
    print(f"data: {base['samples']:,} images from {base['source']}\n")
    print(f"{'run':<18}{'layout':<16}{'s/epoch':>9}{'vs 1x2':>8}{'all-reduce/step':>17}{'share':>7}")
    for key in base["runs"]:
        for (engine, procs, threads), res in results.items():
            if res is None or key not in res["runs"]:
                continue
            run = res["runs"][key]
            ratio = run["epoch_s"] / base["runs"][key]["epoch_s"]
            reduce = run.get("reduce_per_step_s", 0.0)
            step = run["epoch_s"] / run["steps"] if "steps" in run else 0.0
            comm = f"{reduce * 1e6:13.0f} µs{100 * reduce / step:6.1f}%" if reduce else " " * 23
            print(f"{key:<18}{f'{engine} {procs}x{threads}':<16}{run['epoch_s']:9.3f}{ratio:8.2f}{comm}")
        print()
    params = {name: base["runs"][f"{name} b{args.batches[0]}"]["params"] for name in ("plain+SGD", "BN+Nadam")}
    scaling_model(base, params, args.batches)


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return "unknown"


if __name__ == "__main__":
    main()
