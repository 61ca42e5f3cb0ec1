"""Cost of GradientMonitor: epoch time of the chapter's model with and without the monitor.

The plain model of Hands-On ML ch. 11 (Flatten -> Dense 300 ELU -> Dense 100 ELU -> Dense 10
softmax, He initialization, SGD 0.01, batch 32) on Fashion-MNIST, trained by `fit` with no
monitor and with a `GradientMonitor(every_n_steps=N)` (per-layer gradient norms, update ratios,
activation mean/std/dead/saturated fractions, global norms before/after clipping). The two runs
alternate epoch by epoch from identical initial weights, so drift of this shared machine hits
both alike; the overhead is the median of the per-round ratios (with / without - 1). Target:
<= 5% at N = 10. N = 1 (every step) is timed too: it gives the cost of one recorded step.
Whole epochs swing by tens of percent on a busy shared machine, so the same comparison is also
made in alternating blocks of 100 steps (median of 41 pairs), which the verdict uses; torch's
overhead is measured the same way.

Where PyTorch is installed, the same statistics are taken the usual torch way (forward hooks on
the activations, torch._foreach_norm of the gradients, a clone of the weights and the norms of
the update, every N steps) in an eager loop of the same network, and its overhead is reported
beside fastdnn's.

    python benchmarks/monitor.py              # 3 rounds of 55,000 images
    python benchmarks/monitor.py --quick      # 2 rounds of 10,000 images
    python benchmarks/monitor.py --rounds 5 --every 10 --json out.json

Data: --data PATH, else $FASTDNN_DATA, else ../shared/datasets/fashion-mnist beside the repo.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import fastdnn as keras
from fastdnn.datasets import fashion_mnist

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train import DEFAULT_DATA, SEED, OtherLoad, torch_mlp, wait_until_idle  # noqa: E402

TARGET_OVERHEAD = 0.05


def chapter_model():
    keras.utils.set_random_seed(SEED)
    model = keras.models.Sequential([
        keras.layers.Flatten(input_shape=[28, 28]),
        keras.layers.Dense(300, activation="elu", kernel_initializer="he_normal"),
        keras.layers.Dense(100, activation="elu", kernel_initializer="he_normal"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(learning_rate=0.01),
                  metrics=["accuracy"])
    return model


def fastdnn_epoch(model, x, y, monitor):
    timer = keras.callbacks.EpochTimer()
    model.fit(x, y, epochs=1, batch_size=32, verbose=0, callbacks=[timer] + ([monitor] if monitor else []))
    wait_until_idle()
    return timer.times[0]


class TorchMonitor:
    """The same records, taken the usual torch way every `every` steps."""

    def __init__(self, torch, model, every):
        self.torch, self.model, self.every = torch, model, every
        self.linears = [m for m in model if isinstance(m, torch.nn.Linear)]
        outputs = [model[i + 1] if i + 1 < len(model) else m for i, m in enumerate(model)
                   if isinstance(m, torch.nn.Linear)]
        self.outputs, self.active, self.records = {}, False, []
        for k, module in enumerate(outputs):
            module.register_forward_hook(self._hook(k))

    def _hook(self, k):
        def hook(module, inputs, output):
            if self.active:
                self.outputs[k] = output.detach()
        return hook

    def before(self, step):
        self.active = step % self.every == 0
        return self.active

    def after_backward(self):
        torch = self.torch
        with torch.no_grad():
            flat = [p for m in self.linears for p in m.parameters()]
            self.grad_norms = torch._foreach_norm([p.grad for p in flat])
            self.weight_norms = torch._foreach_norm(flat)
            self.snapshot = [p.detach().clone() for p in flat]
            self.flat = flat
            self.global_norm = torch.linalg.vector_norm(torch.stack(self.grad_norms))

    def after_step(self):
        torch = self.torch
        deltas = torch._foreach_norm(torch._foreach_sub([p.detach() for p in self.flat], self.snapshot))
        record = {"global": float(self.global_norm), "deltas": [float(d) for d in deltas],
                  "grads": [float(g) for g in self.grad_norms], "weights": [float(w) for w in self.weight_norms]}
        for k, out in self.outputs.items():
            record[k] = (float(out.mean()), float(out.std(unbiased=False)), float((out == 0).all(0).float().mean()))
        self.records.append(record)
        self.active = False


def torch_epoch(torch, model, optimizer, x, y, monitor):
    loss_fn = torch.nn.CrossEntropyLoss()
    n = len(x)
    start = time.perf_counter()
    perm = torch.randperm(n)
    for step, lo in enumerate(range(0, n, 32)):
        idx = perm[lo:lo + 32]
        on = monitor is not None and monitor.before(step)
        optimizer.zero_grad()
        loss_fn(model(x[idx]), y[idx]).backward()
        if on:
            monitor.after_backward()
        optimizer.step()
        if on:
            monitor.after_step()
    elapsed = time.perf_counter() - start
    wait_until_idle()
    return elapsed


def overhead(pairs):
    """Median over rounds of (with / without - 1), and each round's ratio."""
    ratios = [w / wo - 1 for wo, w in pairs]
    return statistics.median(ratios), ratios


def paired_steps(x, y, every, pairs=41, block=100):
    """Per-step cost in alternating blocks of `block` train_step calls without and with the
    monitor attached (the path fit takes), on one model: drift between neighbouring blocks is
    small, so the median of the per-pair ratios is steadier than whole epochs on a busy machine.
    Returns (median overhead at every_n_steps=every, median overhead at 1, plain step seconds)."""
    model = chapter_model()
    batches = [(x[i:i + 32], y[i:i + 32]) for i in range(0, block * 32, 32)]

    def timed(monitor):
        if monitor is not None:
            monitor.set_model(model)
            monitor.on_train_begin()
        start = time.perf_counter()
        for xb, yb in batches:
            model.train_step((xb, yb))
        elapsed = time.perf_counter() - start
        if monitor is not None:
            monitor.on_train_end()
        return elapsed

    timed(None)
    result = {}
    for n in (every, 1):
        ratios, plain = [], []
        for _ in range(pairs):
            t0 = timed(None)
            t1 = timed(keras.callbacks.GradientMonitor(every_n_steps=n))
            ratios.append(t1 / t0 - 1)
            plain.append(t0 / block)
        result[n] = (statistics.median(ratios), statistics.median(plain))
    return result


def run(rounds, every, quick, data_path, json_path):
    n_train = 10_000 if quick else 55_000
    (x_train, y_train), _ = fashion_mnist.load_data(data_path)
    x = x_train[:n_train].astype(np.float32) / np.float32(255)
    y = y_train[:n_train]
    load = OtherLoad().start()
    result = {"n_train": n_train, "rounds": rounds, "threads": keras.get_num_threads(), "fastdnn": {}}
    for n in (every, 1):
        plain, monitored = chapter_model(), chapter_model()
        monitor = keras.callbacks.GradientMonitor(every_n_steps=n)
        pairs = []
        for _ in range(rounds):
            pairs.append((fastdnn_epoch(plain, x, y, None), fastdnn_epoch(monitored, x, y, monitor)))
        med, ratios = overhead(pairs)
        result["fastdnn"][f"every_{n}"] = {"epoch_s": pairs, "overhead": med, "round_overheads": ratios,
                                           "records": len(monitor.steps)}
        steps = -(-n_train // 32)
        print(f"fastdnn, every {n:2d} steps: epoch {statistics.median(p[0] for p in pairs):.3f} s without, "
              f"{statistics.median(p[1] for p in pairs):.3f} s with the monitor -> overhead {100 * med:+.1f}% "
              f"(rounds: {', '.join(f'{100 * r:+.1f}%' for r in ratios)}); "
              f"{1e6 * med * statistics.median(p[0] for p in pairs) / (steps / n):.0f} us per recorded step")
    paired = paired_steps(x, y, every)
    (ov_n, plain_s), (ov_1, _) = paired[every], paired[1]
    result["fastdnn"]["paired_blocks"] = {f"overhead_every_{every}": ov_n, "overhead_every_1": ov_1,
                                          "plain_step_s": plain_s, "recorded_step_cost_s": ov_1 * plain_s}
    print(f"fastdnn, alternating blocks of 100 steps (median of 41 pairs): step {1e6 * plain_s:.0f} us; "
          f"overhead {100 * ov_n:+.1f}% at every {every}, {100 * ov_1:+.1f}% at every 1 "
          f"(one recorded step costs {1e6 * ov_1 * plain_s:.0f} us, i.e. {100 * ov_1 / every:.1f}% at every {every})")
    try:
        import torch
    except ImportError:
        torch = None
        print("torch not installed: no PyTorch column")
    if torch is not None:
        torch.set_num_threads(keras.get_num_threads())
        xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
        torch.manual_seed(SEED)
        m_plain, m_mon = torch_mlp(torch), torch_mlp(torch)
        m_mon.load_state_dict(m_plain.state_dict())
        o_plain = torch.optim.SGD(m_plain.parameters(), lr=0.01)
        o_mon = torch.optim.SGD(m_mon.parameters(), lr=0.01)
        tmon = TorchMonitor(torch, m_mon, every)
        pairs = [(torch_epoch(torch, m_plain, o_plain, xt, yt, None), torch_epoch(torch, m_mon, o_mon, xt, yt, tmon))
                 for _ in range(rounds)]
        med, ratios = overhead(pairs)
        result["torch"] = {"version": torch.__version__, f"every_{every}": {"epoch_s": pairs, "overhead": med,
                                                                            "round_overheads": ratios}}
        print(f"torch {torch.__version__}, every {every:2d} steps: epoch {statistics.median(p[0] for p in pairs):.3f} s "
              f"without, {statistics.median(p[1] for p in pairs):.3f} s with hooks -> overhead {100 * med:+.1f}% "
              f"(rounds: {', '.join(f'{100 * r:+.1f}%' for r in ratios)})")
        xs, ys = xt[:3200], yt[:3200]
        block_ratios = []
        for _ in range(41):
            t0 = torch_epoch(torch, m_plain, o_plain, xs, ys, None)
            t1 = torch_epoch(torch, m_mon, o_mon, xs, ys, tmon)
            block_ratios.append(t1 / t0 - 1)
        result["torch"]["paired_blocks"] = {f"overhead_every_{every}": statistics.median(block_ratios)}
        print(f"torch, alternating blocks of 100 steps (median of 41 pairs): overhead "
              f"{100 * statistics.median(block_ratios):+.1f}% at every {every}")
        fd = statistics.median(p[0] for p in result["fastdnn"][f"every_{every}"]["epoch_s"])
        print(f"epoch time with monitoring, fastdnn / torch: "
              f"{statistics.median(p[1] for p in result['fastdnn'][f'every_{every}']['epoch_s']) / statistics.median(p[1] for p in pairs):.2f} "
              f"(without: {fd / statistics.median(p[0] for p in pairs):.2f})")
    other = load.stop()
    result["other_load_cpus"] = other
    if other is not None:
        print(f"other processes kept {other:.2f} CPUs busy meanwhile" + (" (noisy)" if other > 0.2 else ""))
    verdict = result["fastdnn"]["paired_blocks"][f"overhead_every_{every}"] <= TARGET_OVERHEAD
    print(f"target: overhead <= {100 * TARGET_OVERHEAD:.0f}% at every {every} (paired blocks): "
          f"{'met' if verdict else 'NOT met'}")
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(result, indent=2))
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="epochs timed per configuration")
    parser.add_argument("--every", type=int, default=10, help="the monitor's every_n_steps")
    parser.add_argument("--quick", action="store_true", help="2 rounds of 10,000 images")
    parser.add_argument("--data", default=os.environ.get("FASTDNN_DATA") or DEFAULT_DATA)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.every < 1:
        parser.error("--rounds and --every must be positive integers")
    run(2 if args.quick else args.rounds, args.every, args.quick, args.data, args.json)


if __name__ == "__main__":
    main()
