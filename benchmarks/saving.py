"""Model file benchmark: save and load an 11M-parameter MLP with its Adam state.

fastdnn's own format, `.keras` and `.h5` against Keras 3 (`.keras`, same network, JAX or NumPy
backend) and `torch.save`/`torch.load` of a state dict with the optimizer's, in one run on the
same disk. Each time is the best of `--rounds`, and includes the fsync of fastdnn's atomic
write; the ratio is other / fastdnn (> 1: fastdnn is faster).

    python benchmarks/saving.py [--rounds 5] [--dir /tmp]
"""

import argparse
import os
import tempfile

import numpy as np

import fastdnn

from _timing import best_of


def build():
    """Input 1000 -> Dense 2500 -> Dense 2500 -> Dense 1000 -> Dense 10: 11,266,010 parameters."""
    model = fastdnn.Sequential([fastdnn.Input(shape=[1000]),
                                fastdnn.layers.Dense(2500, activation="relu"),
                                fastdnn.layers.Dense(2500, activation="relu"),
                                fastdnn.layers.Dense(1000, activation="relu"),
                                fastdnn.layers.Dense(10)])
    model.compile(loss="mse", optimizer="adam")
    x, y = np.ones((8, 1000), np.float32), np.zeros((8, 10), np.float32)
    model.train_step((x, y))  # the optimizer has state to save
    return model


def fastdnn_rows(directory, rounds):
    model = build()
    rows = []
    for suffix in (".fdnn", ".keras", ".h5"):
        path = os.path.join(directory, "model" + suffix)
        try:
            save = best_of(lambda: model.save(path), rounds)
        except ImportError as e:  # .keras/.h5 without h5py
            print(f"  fastdnn {suffix}: skipped ({e})")
            continue
        load = best_of(lambda: fastdnn.models.load_model(path), rounds)
        rows.append((f"fastdnn {suffix}", save, load, os.path.getsize(path)))
    return model.count_params(), rows


def keras_rows(directory, rounds):
    try:
        os.environ.setdefault("KERAS_BACKEND", "numpy")
        import keras
    except ImportError:
        print("  Keras 3: not installed, skipped")
        return []
    model = keras.Sequential([keras.Input(shape=(1000,)), keras.layers.Dense(2500, activation="relu"),
                              keras.layers.Dense(2500, activation="relu"),
                              keras.layers.Dense(1000, activation="relu"), keras.layers.Dense(10)])
    model.compile(loss="mse", optimizer="adam")
    model.optimizer.build(model.trainable_variables)
    path = os.path.join(directory, "keras_model.keras")
    save = best_of(lambda: model.save(path), rounds)
    load = best_of(lambda: keras.models.load_model(path), rounds)
    return [(f"Keras {keras.__version__} ({keras.backend.backend()}) .keras", save, load,
             os.path.getsize(path))]


def torch_rows(directory, rounds):
    try:
        import torch
    except ImportError:
        print("  torch: not installed, skipped")
        return []
    net = torch.nn.Sequential(torch.nn.Linear(1000, 2500), torch.nn.ReLU(), torch.nn.Linear(2500, 2500),
                              torch.nn.ReLU(), torch.nn.Linear(2500, 1000), torch.nn.ReLU(),
                              torch.nn.Linear(1000, 10))
    opt = torch.optim.Adam(net.parameters())
    net(torch.ones(8, 1000)).sum().backward()
    opt.step()
    path = os.path.join(directory, "torch_model.pt")

    def save():
        with open(path, "wb") as f:  # the same durability as fastdnn's atomic write
            torch.save({"model": net.state_dict(), "optimizer": opt.state_dict()}, f)
            f.flush()
            os.fsync(f.fileno())

    def load():
        state = torch.load(path, weights_only=True)
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])

    return [(f"torch {torch.__version__} state_dict", best_of(save, rounds), best_of(load, rounds),
             os.path.getsize(path))]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dir", default=None, help="where to write (default: a temporary dir)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.dir) as directory:
        params, rows = fastdnn_rows(directory, args.rounds)
        print(f"{params:,} parameters + Adam state, best of {args.rounds}, files in {directory}")
        reference = rows[0]
        rows += keras_rows(directory, args.rounds) + torch_rows(directory, args.rounds)
    print(f"{'':34} {'save s':>8} {'load s':>8} {'MB':>7} {'save x':>7} {'load x':>7}")
    for name, save, load, size in rows:
        print(f"{name:34} {save:8.3f} {load:8.3f} {size / 2**20:7.1f} "
              f"{save / reference[1]:7.2f} {load / reference[2]:7.2f}")
    print("x: time / fastdnn's own format's time (> 1: fastdnn's format is faster)")


if __name__ == "__main__":
    main()
