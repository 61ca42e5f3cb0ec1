"""The scenarios of test_distribution.py, run by every rank under `mpiexec -n N python
tests/distributed_worker.py SCENARIO OUTDIR` and, without MPI, by the test itself as the
single-process reference (the same functions with `parallel=False`).

Each scenario writes what it observed to OUTDIR/<scenario>_rank<r>.npz.
"""

import os
import signal
import sys
import time

import numpy as np

import fastdnn as keras
from fastdnn.datasets import fashion_mnist

SAMPLES, BATCH = 600, 66  # 66 rows split 17/17/16/16 over 4 ranks; the last batch has 6 rows


def data():
    (x, y), (x_test, y_test) = fashion_mnist.load_sample()
    return (x[:SAMPLES] / 255.0).astype(np.float32), y[:SAMPLES], (x_test[:200] / 255.0).astype(np.float32), \
        y_test[:200]


def plain_model():
    return keras.models.Sequential([
        keras.layers.Flatten(input_shape=[28, 28]),
        keras.layers.Dense(300, activation="relu"),
        keras.layers.Dense(100, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])


def bn_dropout_model(synchronized=True):
    bn = lambda: keras.layers.BatchNormalization(synchronized=synchronized)  # noqa: E731
    return keras.models.Sequential([
        keras.layers.Flatten(input_shape=[28, 28]),
        bn(),
        keras.layers.Dense(300, activation="elu", kernel_initializer="he_normal"),
        keras.layers.Dropout(0.2),
        bn(),
        keras.layers.Dense(100, activation="elu", kernel_initializer="he_normal"),
        keras.layers.Dropout(0.2),
        bn(),
        keras.layers.Dense(10, activation="softmax"),
    ])


def _weights(model):
    return {f"w{i}": w for i, w in enumerate(model.get_weights())}


def _history(history):
    return {f"h_{k}": np.asarray(v, np.float64) for k, v in history.history.items()}


def train(parallel, out=None, rank=0):
    """The plain model with SGD, then the BN + dropout model with Nadam and synchronized BN:
    weights, histories, evaluate and predict."""
    x, y, x_val, y_val = data()
    keras.utils.set_random_seed(1)
    model = plain_model()
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(learning_rate=0.05,
                                                                                         momentum=0.9),
                  metrics=["accuracy"])
    history = model.fit(x, y, batch_size=BATCH, epochs=2, verbose=0, validation_data=(x_val, y_val))
    result = {"plain_" + k: v for k, v in _weights(model).items()}
    result.update({"plain_" + k: v for k, v in _history(history).items()})
    result["plain_evaluate"] = np.asarray(model.evaluate(x_val, y_val, batch_size=BATCH, verbose=0))
    result["plain_predict"] = model.predict(x_val, batch_size=BATCH, verbose=0)

    keras.utils.set_random_seed(2)
    model = bn_dropout_model()
    model.compile(loss="sparse_categorical_crossentropy", optimizer="nadam", metrics=["accuracy"])
    callbacks = []
    if out is not None:
        folder = os.path.join(out, f"files_rank{rank}")
        os.makedirs(folder, exist_ok=True)
        callbacks = [keras.callbacks.ModelCheckpoint(os.path.join(folder, "model.keras")),
                     keras.callbacks.CSVLogger(os.path.join(folder, "log.csv"))]
    history = model.fit(x, y, batch_size=BATCH, epochs=2, verbose=0, callbacks=callbacks)
    result.update({"bn_" + k: v for k, v in _weights(model).items()})
    result.update({"bn_" + k: v for k, v in _history(history).items()})
    result["bn_evaluate"] = np.asarray(model.evaluate(x_val, y_val, batch_size=BATCH, verbose=0))
    return result


def per_replica(parallel, out=None, rank=0):
    """Default (per-replica) BatchNormalization: the moving statistics stay each rank's own."""
    x, y, _, _ = data()
    keras.utils.set_random_seed(3)
    model = bn_dropout_model(synchronized=False)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
    return _weights(model)


class _At(keras.callbacks.Callback):
    """Runs `action` on rank `rank` at the start of global step `step` (counted over epochs)."""

    def __init__(self, rank, step, action):
        super().__init__()
        self.rank, self.step, self.action, self.seen = rank, step, action, 0

    def on_train_batch_begin(self, batch, logs=None):
        if self.seen == self.step and keras.distribution.world().rank == self.rank:
            self.action()
        self.seen += 1


def _fault_fit(out, action, epochs=3):
    """The plain model, checkpointed by rank 0 at each epoch's end, with `action` on rank 1 at
    global step 13 (the middle of the second epoch). Returns the model and whether fit was
    interrupted."""
    x, y, _, _ = data()
    keras.utils.set_random_seed(4)
    model = plain_model()
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    checkpoint = keras.callbacks.ModelCheckpoint(os.path.join(out, "checkpoint.keras"))
    try:
        model.fit(x, y, batch_size=BATCH, epochs=epochs, verbose=0, callbacks=[checkpoint, _At(1, 13, action)])
    except KeyboardInterrupt:
        return model, True
    return model, False


def kill(parallel, out=None, rank=0):
    """Rank 1 is SIGKILLed in the middle of the second epoch."""
    _fault_fit(out, lambda: os.kill(os.getpid(), signal.SIGKILL))
    return {}


def raises(parallel, out=None, rank=0):
    """Rank 1 raises in the middle of the second epoch."""
    def fail():
        raise RuntimeError("rank 1 failed on purpose")
    _fault_fit(out, fail)
    return {}


def interrupt(parallel, out=None, rank=0):
    """Ctrl-C reaches rank 1 alone, in the middle of the second epoch: every rank stops after
    the same step."""
    model, stopped = _fault_fit(out, lambda: os.kill(os.getpid(), signal.SIGINT), epochs=5)
    return {"stopped": np.array(stopped), "iterations": np.array(model.optimizer.iterations), **_weights(model)}


def stall(parallel, out=None, rank=0):
    """Rank 1 stalls for longer than the collective timeout: rank 0's watchdog ends the job."""
    _fault_fit(out, lambda: time.sleep(30))
    return {}


def mismatch(parallel, out=None, rank=0):
    """Rank 1 builds a wider layer, then passes fewer samples: an error before the first step."""
    x, y, _, _ = data()
    errors = []
    for case in ("model", "data"):
        keras.utils.set_random_seed(5)
        model = plain_model() if (case == "data" or rank == 0) else keras.models.Sequential([
            keras.layers.Flatten(input_shape=[28, 28]), keras.layers.Dense(301, activation="relu"),
            keras.layers.Dense(100, activation="relu"), keras.layers.Dense(10, activation="softmax")])
        model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
        n = SAMPLES - 66 if (case == "data" and rank == 1) else SAMPLES
        try:
            model.fit(x[:n], y[:n], batch_size=BATCH, epochs=1, verbose=0)
            errors.append("")
        except ValueError as exc:
            errors.append(str(exc))
    return {"errors": np.array(errors), "iterations": np.array(model.optimizer.iterations)}


def main():
    scenario, out = sys.argv[1], sys.argv[2]
    comm = keras.distribution.initialize()
    keras.distribution.set_distribution(keras.distribution.DataParallel())
    result = globals()[scenario](True, out, comm.rank)
    path = os.path.join(out, f"{scenario}_rank{comm.rank}.npz")
    with open(path + ".tmp", "wb") as f:
        np.savez(f, **result)
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
