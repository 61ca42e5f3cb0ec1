"""The chapter's Batch Normalization model trained with Nadam: fastdnn against PyTorch, JAX, Keras.

Flatten -> BN -> Dense 300 ELU (He) -> BN -> Dense 100 ELU (He) -> BN -> Dense 10 softmax,
sparse categorical cross-entropy, Nadam(1e-3), on Fashion-MNIST (55,000 training images), at
batch 32 and 256, in one run with the same thread count:

* fastdnn: the book's Keras code with `import fastdnn as keras`, with its native training step
  (the default, `jit_compile="auto"`) and with every step on the GradientTape
  (`jit_compile=False`);
* torch eager: the same network, BatchNorm1d with Keras's momentum and epsilon, NAdam;
* torch.compile: the same, the model compiled (inductor);
* JAX jit: the same network written in jax.numpy, one jitted step per batch (forward, backward
  and Keras 3's Nadam update, parameters donated), batches sliced on the host;
* Keras 3 on its JAX backend (TensorFlow is not installed here): the book's code itself.

Each that is installed runs; the others are skipped. Reports seconds per epoch (median over the
epochs; the first includes compilation), the ratio fastdnn / other (< 1: fastdnn is faster) and
test accuracy after the same epochs.

    python benchmarks/train_bn.py [--epochs 3] [--data DIR] [--threads N] [--only fastdnn,torch]
    python benchmarks/train_bn.py --plain --batches 32     # the plain model with SGD, against torch
    python benchmarks/train_bn.py --custom-layer           # a layer written in Python in the middle:
                                                           # the split step against the tape only
"""

import argparse
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "jax")  # for the real Keras, imported later if present

import fastdnn
import fastdnn as keras

SEED = 42


def load(path):
    (x, y), (xt, yt) = keras.datasets.fashion_mnist.load_data(path)
    scale = lambda a: a.astype(np.float32) / np.float32(255)  # noqa: E731
    return scale(x[5000:]), y[5000:].astype(np.int64), scale(xt), yt.astype(np.int64)


class Scale(keras.layers.Layer):
    """A layer written in Python (x times a constant), for --custom-layer."""

    def call(self, inputs):
        return keras.ops.multiply(inputs, np.float32(1.0))


def train_fastdnn(data, batch, epochs, jit="auto", plain=False, custom=False):
    """The book's code. jit="auto": the native training step (a compiled plan); False: every
    step on the GradientTape; True with `custom`: the split step (native plans around the
    Python layer). plain: the chapter's model without BN, with SGD(0.01). custom: a layer
    written in Python after the middle BatchNormalization."""
    x, y, xt, yt = data
    keras.utils.set_random_seed(SEED)
    if plain:
        model = keras.models.Sequential([
            keras.layers.Flatten(input_shape=[28, 28]),
            keras.layers.Dense(300, activation="elu", kernel_initializer="he_normal"),
            keras.layers.Dense(100, activation="elu", kernel_initializer="he_normal"),
            keras.layers.Dense(10, activation="softmax"),
        ])
        optimizer = keras.optimizers.SGD(learning_rate=0.01)
    else:
        layers = [
            keras.layers.Flatten(input_shape=[28, 28]),
            keras.layers.BatchNormalization(),
            keras.layers.Dense(300, activation="elu", kernel_initializer="he_normal"),
            keras.layers.BatchNormalization(),
            keras.layers.Dense(100, activation="elu", kernel_initializer="he_normal"),
            keras.layers.BatchNormalization(),
            keras.layers.Dense(10, activation="softmax"),
        ]
        if custom:
            layers.insert(4, Scale())
        model = keras.models.Sequential(layers)
        optimizer = keras.optimizers.Nadam(learning_rate=1e-3)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=optimizer, metrics=["accuracy"],
                  jit_compile=jit)
    timer = keras.callbacks.EpochTimer()
    model.fit(x, y, epochs=epochs, batch_size=batch, verbose=0, callbacks=[timer])
    native = getattr(model, "_native", None)
    arena = getattr(native, "arena_bytes", None)
    return timer.times, model.evaluate(xt, yt, verbose=0)[1], arena


def train_torch(torch, data, batch, epochs, compiled=False, plain=False):
    """The same network in PyTorch eager, or under torch.compile (the whole training step)."""
    nn = torch.nn
    torch.manual_seed(SEED)
    x, y, xt, yt = (torch.from_numpy(a) for a in data)
    bn = lambda n: nn.BatchNorm1d(n, eps=1e-3, momentum=0.01)  # noqa: E731  (Keras 0.99 / 1e-3)
    if plain:
        model = nn.Sequential(nn.Flatten(), nn.Linear(784, 300), nn.ELU(), nn.Linear(300, 100), nn.ELU(),
                              nn.Linear(100, 10))
        dense = (model[1], model[3])
    else:
        model = nn.Sequential(nn.Flatten(), bn(784), nn.Linear(784, 300), nn.ELU(), bn(300),
                              nn.Linear(300, 100), nn.ELU(), bn(100), nn.Linear(100, 10))
        dense = (model[2], model[5])
    for layer in dense:
        nn.init.kaiming_normal_(layer.weight)
        nn.init.zeros_(layer.bias)
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.01) if plain else torch.optim.NAdam(model.parameters(), lr=1e-3)
    forward = torch.compile(model) if compiled else model
    times = []
    for _ in range(epochs):
        model.train()
        start = time.perf_counter()
        perm = torch.randperm(len(x))
        for lo in range(0, len(x), batch):
            idx = perm[lo:lo + batch]
            opt.zero_grad()
            loss_fn(forward(x[idx]), y[idx]).backward()
            opt.step()
        times.append(time.perf_counter() - start)
    model.eval()
    with torch.no_grad():
        return times, (model(xt).argmax(1) == yt).float().mean().item()


def _init_params(rng):
    """He-normal kernels, zero biases, BN gamma 1 / beta 0, moving mean 0 / variance 1."""
    def dense(n_in, n_out, he=True):
        std = np.sqrt(2.0 / n_in) if he else np.sqrt(2.0 / (n_in + n_out))
        return [rng.normal(0, std, (n_in, n_out)).astype(np.float32), np.zeros(n_out, np.float32)]
    def bn(n):
        return [np.ones(n, np.float32), np.zeros(n, np.float32)]
    params = bn(784) + dense(784, 300) + bn(300) + dense(300, 100) + bn(100) + dense(100, 10, he=False)
    moving = []
    for n in (784, 300, 100):
        moving += [np.zeros(n, np.float32), np.ones(n, np.float32)]
    return params, moving


def train_jax(data, batch, epochs):
    import jax
    import jax.numpy as jnp

    x, y, xt, yt = data
    eps, momentum, lr, b1, b2, adam_eps = 1e-3, 0.99, 1e-3, 0.9, 0.999, 1e-7
    params, moving = _init_params(np.random.default_rng(SEED))

    def forward(params, moving, xb, training):
        h, new_moving = xb.reshape(len(xb), -1), []
        for i in range(3):
            gamma, beta, kernel, bias = params[4 * i:4 * i + 4]
            if training:
                mean, var = h.mean(0), h.var(0)
                new_moving += [moving[2 * i] * momentum + mean * (1 - momentum),
                               moving[2 * i + 1] * momentum + var * (1 - momentum)]
            else:
                mean, var = moving[2 * i], moving[2 * i + 1]
            h = (h - mean) * jax.lax.rsqrt(var + eps) * gamma + beta
            h = h @ kernel + bias
            if i < 2:
                h = jax.nn.elu(h)
        return h, new_moving

    def loss_fn(params, moving, xb, yb):
        logits, new_moving = forward(params, moving, xb, True)
        logp = jax.nn.log_softmax(logits)
        return -jnp.take_along_axis(logp, yb[:, None], axis=1).mean(), new_moving

    def step(params, moving, m, v, u_product, t, xb, yb):  # Keras 3's Nadam
        grads, new_moving = jax.grad(loss_fn, has_aux=True)(params, moving, xb, yb)
        t = t + 1.0
        u_t = b1 * (1 - 0.5 * 0.96 ** (0.004 * t))
        u_t1 = b1 * (1 - 0.5 * 0.96 ** (0.004 * (t + 1)))
        u_product_t = u_product * u_t
        u_product_t1 = u_product_t * u_t1
        new = [], [], []
        for w, g, mi, vi in zip(params, grads, m, v):
            mi = b1 * mi + (1 - b1) * g
            vi = b2 * vi + (1 - b2) * g * g
            m_hat = u_t1 * mi / (1 - u_product_t1) + (1 - u_t) * g / (1 - u_product_t)
            v_hat = vi / (1 - b2 ** t)
            for out, val in zip(new, (w - lr * m_hat / (jnp.sqrt(v_hat) + adam_eps), mi, vi)):
                out.append(val)
        return new[0], new_moving, new[1], new[2], u_product_t, t

    step = jax.jit(step, donate_argnums=(0, 1, 2, 3))
    params = [jnp.asarray(p) for p in params]
    moving = [jnp.asarray(p) for p in moving]
    m = [jnp.zeros_like(p) for p in params]
    v = [jnp.zeros_like(p) for p in params]
    u_product, t = jnp.float32(1.0), jnp.float32(0.0)
    rng, times = np.random.default_rng(SEED), []
    y = y.astype(np.int32)
    for _ in range(epochs):
        start = time.perf_counter()
        perm = rng.permutation(len(x))
        for lo in range(0, len(x), batch):
            idx = perm[lo:lo + batch]
            params, moving, m, v, u_product, t = step(params, moving, m, v, u_product, t, x[idx], y[idx])
        jax.block_until_ready(params)
        times.append(time.perf_counter() - start)
    logits, _ = jax.jit(forward, static_argnums=3)(params, moving, xt, False)
    return times, float((np.asarray(logits).argmax(1) == yt).mean())


def train_keras(real_keras, data, batch, epochs):
    x, y, xt, yt = data
    real_keras.utils.set_random_seed(SEED)
    model = real_keras.models.Sequential([
        real_keras.Input(shape=[28, 28]),
        real_keras.layers.Flatten(),
        real_keras.layers.BatchNormalization(),
        real_keras.layers.Dense(300, activation="elu", kernel_initializer="he_normal"),
        real_keras.layers.BatchNormalization(),
        real_keras.layers.Dense(100, activation="elu", kernel_initializer="he_normal"),
        real_keras.layers.BatchNormalization(),
        real_keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(loss="sparse_categorical_crossentropy",
                  optimizer=real_keras.optimizers.Nadam(learning_rate=1e-3), metrics=["accuracy"])
    times = []

    class Timer(real_keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    model.fit(x.reshape(-1, 28, 28), y, epochs=epochs, batch_size=batch, verbose=0, callbacks=[Timer()])
    return times, model.evaluate(xt.reshape(-1, 28, 28), yt, verbose=0)[1]


def _optional(name):
    try:
        return __import__(name)
    except ImportError:
        return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--only", default="fastdnn,torch,compile,jax,keras",
                        help="comma-separated frameworks to run (fastdnn, native and tape, always runs): "
                             "torch (eager), compile (torch.compile), jax, keras")
    parser.add_argument("--batches", default="32,256")
    parser.add_argument("--plain", action="store_true",
                        help="the chapter's plain model (no BN) with SGD(0.01); only torch is compared")
    parser.add_argument("--custom-layer", action="store_true",
                        help="a layer written in Python in the BN model: the split step (jit_compile=True) "
                             "against the tape; the other frameworks are not run")
    parser.add_argument("--data", default=os.environ.get("FASTDNN_DATA") or str(
        Path(__file__).resolve().parents[2] / "shared" / "datasets" / "fashion-mnist"))
    args = parser.parse_args(argv)
    if args.threads:
        fastdnn.set_num_threads(args.threads)
    wanted = set() if args.custom_layer else set(args.only.split(","))
    plain, custom = args.plain, args.custom_layer
    runners = {"fastdnn tape": lambda d, b, e: train_fastdnn(d, b, e, jit=False, plain=plain, custom=custom)[:2]}
    torch = _optional("torch") if "torch" in wanted else None
    if torch is not None:
        torch.set_num_threads(fastdnn.get_num_threads())
        runners["torch eager"] = lambda d, b, e: train_torch(torch, d, b, e, plain=plain)
        if "torch.compile" in wanted or "compile" in wanted:
            runners["torch.compile"] = lambda d, b, e: train_torch(torch, d, b, e, compiled=True, plain=plain)
    if not plain and "jax" in wanted and _optional("jax") is not None:
        runners["JAX jit"] = train_jax
    real_keras = _optional("keras") if "keras" in wanted and not plain else None
    if real_keras is not None:
        runners[f"Keras {real_keras.__version__} ({real_keras.backend.backend()})"] = (
            lambda d, b, e: train_keras(real_keras, d, b, e))
    data = load(args.data)
    what = "plain model, SGD 0.01" if plain else "BN model, Nadam 1e-3"
    what += ", a Python layer after the middle BN" if custom else ""
    print(f"{what}, {len(data[0]):,} images, {args.epochs} epoch(s), "
          f"{fastdnn.get_num_threads()} thread(s); load average {os.getloadavg()[0]:.2f}; "
          f"CPU {fastdnn._C.cpu_info()['brand']}; compared: {', '.join(runners)}")
    for batch in (int(b) for b in args.batches.split(",")):
        times, acc, arena = train_fastdnn(data, batch, args.epochs, jit=True if custom else "auto",
                                          plain=plain, custom=custom)
        print(f"batch {batch:3d}: fastdnn ({'split' if custom else 'native'} step) {np.median(times):6.2f} s/epoch (min {min(times):.2f}), "
              f"test acc {acc:.4f}, arena {arena / 2**20 if arena else 0:.2f} MiB", flush=True)
        for name, run in runners.items():
            o_times, o_acc = run(data, batch, args.epochs)
            print(f"           {name}: {np.median(o_times):6.2f} s/epoch (min {min(o_times):.2f}), "
                  f"test acc {o_acc:.4f} | fastdnn/{name.split()[0]} {np.median(times) / np.median(o_times):.2f}, "
                  f"accuracy {100 * (acc - o_acc):+.2f} pp", flush=True)

if __name__ == "__main__":
    main()
