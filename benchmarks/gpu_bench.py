"""GPU benchmarks: fastdnn's CUDA backend beside PyTorch CUDA (when installed), in one process.

* bn_epoch: the chapter's BN model (Flatten -> BN -> Dense 300 ELU -> BN -> Dense 100 ELU -> BN
  -> Dense 10 softmax, Nadam 1e-3) for one epoch at batch 32 over 55,000 images of 28x28
  (Fashion-MNIST from $FASTDNN_DATA when there, else random images of that size);
  seconds per epoch, after a warm-up.
* mlp: 8 Dense(4096, relu) layers and a Dense(10) softmax on 4096 inputs, batch 4096, Adam;
  training samples per second over timed steps after a warm-up. float32 everywhere (TF32 off
  on both sides).
* nadam: one fused optimizer step over 10M parameters (10 tensors of 1M): fastdnn's Nadam
  (one launch) against torch.optim.Adam(fused=True); microseconds per step.

Prints one JSON object per benchmark; ratios are fastdnn / torch time (< 1: fastdnn faster).

    python benchmarks/gpu_bench.py [--only bn_epoch,mlp,nadam] [--quick]
"""

import argparse
import json
import os
import sys
import time

import numpy as np

import fastdnn


def _torch():
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    return torch


def _images(n):
    path = os.environ.get("FASTDNN_DATA")
    if path:
        try:
            (x, y), _ = fastdnn.datasets.fashion_mnist.load_data(path)
            return (x[:n] / 255.0).astype(np.float32), y[:n].astype(np.int64)
        except Exception:  # noqa: BLE001 - fall back to random images of the same size
            pass
    rng = np.random.default_rng(0)
    return rng.random((n, 28, 28), dtype=np.float32), rng.integers(0, 10, n).astype(np.int64)


def bn_epoch(quick):
    n = 5_500 if quick else 55_000
    x, y = _images(n)
    model = fastdnn.Sequential([
        fastdnn.layers.Flatten(input_shape=[28, 28]), fastdnn.layers.BatchNormalization(),
        fastdnn.layers.Dense(300, activation="elu", kernel_initializer="he_normal"),
        fastdnn.layers.BatchNormalization(),
        fastdnn.layers.Dense(100, activation="elu", kernel_initializer="he_normal"),
        fastdnn.layers.BatchNormalization(), fastdnn.layers.Dense(10, activation="softmax")]).to("cuda")
    model.compile(loss="sparse_categorical_crossentropy", optimizer=fastdnn.optimizers.Nadam(1e-3),
                  metrics=["accuracy"])
    model.fit(x[:3200], y[:3200], batch_size=32, epochs=1, verbose=0)  # warm-up: plans, pools
    t = time.perf_counter()
    hist = model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    fd = time.perf_counter() - t
    out = {"bench": "bn_epoch", "samples": n, "fastdnn_s": round(fd, 3),
           "fastdnn_loss": round(hist.history["loss"][-1], 4)}
    torch = _torch()
    if torch is not None:
        nn = torch.nn
        dev = torch.device("cuda")
        net = nn.Sequential(nn.Flatten(), nn.BatchNorm1d(784, eps=1e-3, momentum=0.01), nn.Linear(784, 300), nn.ELU(),
                            nn.BatchNorm1d(300, eps=1e-3, momentum=0.01), nn.Linear(300, 100), nn.ELU(),
                            nn.BatchNorm1d(100, eps=1e-3, momentum=0.01), nn.Linear(100, 10)).to(dev)
        opt = torch.optim.NAdam(net.parameters(), lr=1e-3)
        lossf = nn.CrossEntropyLoss()

        def epoch(xs, ys):
            perm = np.random.permutation(len(xs))
            total = 0.0
            for i in range(0, len(xs), 32):
                idx = perm[i:i + 32]
                xb = torch.from_numpy(xs[idx]).to(dev, non_blocking=True)
                yb = torch.from_numpy(ys[idx]).to(dev, non_blocking=True)
                opt.zero_grad(set_to_none=True)
                loss = lossf(net(xb), yb)
                loss.backward()
                opt.step()
                total += float(loss) * len(idx)  # the per-step loss, as fit's progress logs read it
            return total / len(xs)

        epoch(x[:3200], y[:3200])
        torch.cuda.synchronize()
        t = time.perf_counter()
        tl = epoch(x, y)
        torch.cuda.synchronize()
        tt = time.perf_counter() - t
        out.update({"torch_s": round(tt, 3), "torch_loss": round(tl, 4), "ratio": round(fd / tt, 3)})
    return out


def mlp(quick):
    width, depth, batch, steps = 4096, 8, 4096, (3 if quick else 10)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, width), dtype=np.float32)
    y = rng.integers(0, 10, batch).astype(np.int64)
    layers = [fastdnn.layers.Dense(width, activation="relu", input_shape=[width])]
    layers += [fastdnn.layers.Dense(width, activation="relu") for _ in range(depth - 1)]
    model = fastdnn.Sequential(layers + [fastdnn.layers.Dense(10, activation="softmax")]).to("cuda")
    model.compile(loss="sparse_categorical_crossentropy", optimizer=fastdnn.optimizers.Adam(1e-4))
    xd = fastdnn.device("cuda").put(x)
    model.train_step((xd, y))
    fastdnn.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(steps):
        model.train_step((xd, y))
    fastdnn.cuda.synchronize()
    fd = steps * batch / (time.perf_counter() - t)
    out = {"bench": "mlp", "width": width, "depth": depth, "batch": batch,
           "fastdnn_samples_per_s": round(fd), "gemm": fastdnn.cuda.gemm_backend()}
    torch = _torch()
    if torch is not None:
        nn = torch.nn
        mods = []
        for i in range(depth):
            mods += [nn.Linear(width, width), nn.ReLU()]
        net = nn.Sequential(*mods, nn.Linear(width, 10)).cuda()
        opt = torch.optim.Adam(net.parameters(), lr=1e-4, fused=True)
        xt, yt = torch.from_numpy(x).cuda(), torch.from_numpy(y).cuda()
        lossf = nn.CrossEntropyLoss()

        def step():
            opt.zero_grad(set_to_none=True)
            loss = lossf(net(xt), yt)
            loss.backward()
            opt.step()
            return float(loss)

        step()
        torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(steps):
            step()
        torch.cuda.synchronize()
        tt = steps * batch / (time.perf_counter() - t)
        out.update({"torch_samples_per_s": round(tt), "ratio": round(tt / fd, 3)})
        del net, opt, xt, yt
        torch.cuda.empty_cache()
    return out


def nadam(quick):
    tensors, size, steps = 10, 1_000_000, (20 if quick else 200)
    k = fastdnn.device("cuda")._kernels
    rng = np.random.default_rng(0)
    ws = [fastdnn.Variable(rng.standard_normal(size, dtype=np.float32)) for _ in range(tensors)]
    for w in ws:
        w._value = k.put(w._value)
    grads = [k.put(rng.standard_normal(size, dtype=np.float32)) for _ in range(tensors)]
    opt = fastdnn.optimizers.Nadam(1e-3)
    pairs = list(zip(grads, ws))
    opt.apply_gradients(pairs)
    fastdnn.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(steps):
        opt.apply_gradients(pairs)
    fastdnn.cuda.synchronize()
    fd = (time.perf_counter() - t) / steps * 1e6
    out = {"bench": "nadam", "parameters": tensors * size, "fastdnn_us": round(fd, 1)}
    torch = _torch()
    if torch is not None:
        ps = [torch.randn(size, device="cuda", requires_grad=True) for _ in range(tensors)]
        for p in ps:
            p.grad = torch.randn(size, device="cuda")
        for name, make in (("torch_fused_adam", lambda: torch.optim.Adam(ps, lr=1e-3, fused=True)),
                           ("torch_nadam_foreach", lambda: torch.optim.NAdam(ps, lr=1e-3, foreach=True))):
            opt_t = make()
            opt_t.step()
            torch.cuda.synchronize()
            t = time.perf_counter()
            for _ in range(steps):
                opt_t.step()
            torch.cuda.synchronize()
            out[name + "_us"] = round((time.perf_counter() - t) / steps * 1e6, 1)
        out["ratio_vs_fused_adam"] = round(fd / out["torch_fused_adam_us"], 3)
    return out


BENCHES = {"bn_epoch": bn_epoch, "mlp": mlp, "nadam": nadam}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=",".join(BENCHES))
    ap.add_argument("--quick", action="store_true", help="smaller runs, for a tight time budget")
    args = ap.parse_args(argv)
    if not fastdnn.cuda.is_available():
        print(json.dumps({"skipped": f"no usable GPU: {fastdnn.cuda.status()}"}))
        return 0
    fastdnn.device("cuda")
    print(json.dumps({"gemm": fastdnn.cuda.gemm_backend(), "cublaslt_error": fastdnn.cuda.cublaslt_error(),
                      "devices": fastdnn.cuda.devices(), "torch_cuda": _torch() is not None}), flush=True)
    status = 0
    for name in args.only.split(","):
        try:
            print(json.dumps(BENCHES[name](args.quick)), flush=True)
        except Exception as e:  # noqa: BLE001 - report and go on to the next benchmark
            print(json.dumps({"bench": name, "error": f"{type(e).__name__}: {e}"}), flush=True)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
