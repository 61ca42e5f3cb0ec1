"""Sample weights and class weights in fit and evaluate, as Keras 3 applies them: each
sample's loss times its weight, summed over the batch and divided by the batch size, and the
weighted metrics weighted likewise. Checked against a float64 NumPy computation of the same
step and against real Keras 3 from the same weights."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastdnn as keras
from _tolerances import KERAS_STEP_ATOL

LR = 0.1
N = 32
CASES = [
    {"name": "sparse", "loss": "sparse_categorical_crossentropy", "units": 3, "activation": "softmax",
     "weighted_metrics": ["accuracy"], "class_weight": None},
    {"name": "onehot", "loss": "categorical_crossentropy", "units": 3, "activation": "softmax",
     "weighted_metrics": ["accuracy"], "class_weight": {"0": 0.5, "1": 2.0, "2": 1.0}},
    {"name": "binary", "loss": "binary_crossentropy", "units": 1, "activation": "sigmoid",
     "weighted_metrics": ["accuracy"], "class_weight": None},
    {"name": "binary_cw", "loss": "binary_crossentropy", "units": 1, "activation": "sigmoid",
     "weighted_metrics": ["accuracy"], "class_weight": {"0": 3.0}},
    {"name": "mse", "loss": "mse", "units": 2, "activation": "linear", "weighted_metrics": ["mae"],
     "class_weight": None},
    {"name": "mae", "loss": "mae", "units": 2, "activation": "linear", "weighted_metrics": ["mse"],
     "class_weight": None},
]


def data():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(N, 5)).astype(np.float32)
    labels = rng.integers(0, 3, N)
    arrays = {"x": x, "sw": rng.uniform(0, 2, N).astype(np.float32),
              "sparse_y": labels, "onehot_y": np.eye(3, dtype=np.float32)[labels],
              "binary_y": (labels == 1).astype(np.float32)[:, None],
              "binary_cw_y": (labels == 1).astype(np.float32)[:, None],
              "mse_y": rng.normal(size=(N, 2)).astype(np.float32),
              "mae_y": rng.normal(size=(N, 2)).astype(np.float32)}
    for case in CASES:
        keras.utils.set_random_seed(3)
        model = build(case)
        for i, w in enumerate(model.get_weights()):
            arrays[f"{case['name']}_w{i}"] = w
    return arrays


def build(case, arrays=None):
    model = keras.Sequential([keras.layers.Input((5,)), keras.layers.Dense(6, activation="tanh"),
                              keras.layers.Dense(case["units"], activation=case["activation"])])
    if arrays is not None:
        model.set_weights([arrays[f"{case['name']}_w{i}"] for i in range(4)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=LR), loss=case["loss"],
                  weighted_metrics=case["weighted_metrics"])
    return model


def fit(case, arrays):
    model = build(case, arrays)
    y = arrays[f"{case['name']}_y"]
    weights = {"class_weight": {int(k): v for k, v in case["class_weight"].items()}} if case["class_weight"] \
        else {"sample_weight": arrays["sw"]}
    history = model.fit(arrays["x"], y, batch_size=16, epochs=1, shuffle=False, verbose=0, **weights)
    return model, history


# ---- an independent float64 reference of one weighted SGD step -----------------------------------

def per_sample_loss(case, p, y):
    eps = 1e-7  # Keras's clip of probabilities
    if case["loss"] == "sparse_categorical_crossentropy":
        return -np.log(np.clip(p[np.arange(len(y)), y], eps, 1 - eps))
    if case["loss"] == "categorical_crossentropy":
        return -(y * np.log(np.clip(p, eps, 1 - eps))).sum(1)
    if case["loss"] == "binary_crossentropy":
        q = np.clip(p, eps, 1 - eps)
        return -(y * np.log(q) + (1 - y) * np.log(1 - q)).mean(1)
    if case["loss"] == "mse":
        return ((p - y) ** 2).mean(1)
    return np.abs(p - y).mean(1)


def reference_step(case, w, x, y, sw):
    """(weights after one SGD step on the weighted mean loss, the loss): float64 forward and a
    central-difference gradient of the same float64 function."""
    def loss(params):
        w0, b0, w1, b1 = params
        h = np.tanh(x @ w0 + b0)
        z = h @ w1 + b1
        if case["activation"] == "softmax":
            p = np.exp(z - z.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
        elif case["activation"] == "sigmoid":
            p = 1 / (1 + np.exp(-z))
        else:
            p = z
        return (per_sample_loss(case, p, y) * sw).sum() / len(x)  # Keras: divided by the batch size

    params = [np.asarray(v, np.float64) for v in w]
    new = []
    for k, v in enumerate(params):
        grad = np.zeros_like(v)
        for idx in np.ndindex(v.shape):
            hi = [q.copy() for q in params]
            lo = [q.copy() for q in params]
            hi[k][idx] += 1e-6
            lo[k][idx] -= 1e-6
            grad[idx] = (loss(hi) - loss(lo)) / 2e-6
        new.append(v - LR * grad)
    return new, loss(params)


def class_weights_of(case, y):
    table = {int(k): v for k, v in case["class_weight"].items()}
    labels = np.argmax(y, 1) if y.ndim > 1 and y.shape[1] > 1 else np.round(y).reshape(-1).astype(int)
    return np.array([table.get(int(c), 1.0) for c in labels])


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_a_weighted_step_is_the_weighted_sum_over_the_batch_size(case):
    arrays = data()
    x, y = arrays["x"][:16], arrays[f"{case['name']}_y"][:16]
    sw = class_weights_of(case, y) if case["class_weight"] else arrays["sw"][:16].astype(np.float64)
    start = [arrays[f"{case['name']}_w{i}"] for i in range(4)]
    want, want_loss = reference_step(case, start, x.astype(np.float64), y, sw)
    model = build(case, arrays)
    weights = {"class_weight": {int(k): v for k, v in case["class_weight"].items()}} if case["class_weight"] \
        else {"sample_weight": arrays["sw"][:16]}
    logs = model.train_on_batch(x, y, return_dict=True, **weights)
    # float32 forward and backward of a 5-6-3 network against a float64 central difference
    # (truncation ~1e-12): a few float32 ulps of the loss (~1) and of the weights (~1) after
    # a step of 0.1 x gradient.
    np.testing.assert_allclose(logs["loss"], want_loss, rtol=1e-5)
    for got, ref in zip(model.get_weights(), want):
        np.testing.assert_allclose(got, ref, atol=1e-6)


def test_all_zero_weights_give_a_zero_gradient():
    arrays = data()
    for case in CASES[:3] + CASES[4:]:
        model = build(case, arrays)
        start = model.get_weights()
        y = arrays[f"{case['name']}_y"]
        logs = model.train_on_batch(arrays["x"], y, sample_weight=np.zeros(N, np.float32), return_dict=True)
        assert logs["loss"] == 0.0
        for got, was in zip(model.get_weights(), start):
            np.testing.assert_array_equal(got, was)


def test_class_weight_equals_the_same_sample_weights():
    arrays = data()
    case = CASES[1]
    y = arrays["onehot_y"]
    by_class, _ = fit(case, arrays)
    by_sample = build(case, arrays)
    by_sample.fit(arrays["x"], y, sample_weight=class_weights_of(case, y).astype(np.float32), batch_size=16,
                  epochs=1, shuffle=False, verbose=0)
    for a, b in zip(by_class.get_weights(), by_sample.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_weighted_metrics_weigh_each_sample():
    arrays = data()
    case = CASES[0]
    model = build(case, arrays)
    sw = arrays["sw"]
    logs = model.evaluate(arrays["x"], arrays["sparse_y"], sample_weight=sw, batch_size=8, verbose=0,
                          return_dict=True)
    p = model.predict(arrays["x"], verbose=0).astype(np.float64)
    correct = (np.argmax(p, 1) == arrays["sparse_y"]).astype(np.float64)
    # a weighted mean of 0/1 values over float32 weights: float32 accumulation, 32 terms
    np.testing.assert_allclose(logs["accuracy"], (correct * sw).sum() / sw.sum(), rtol=1e-6)
    loss = -np.log(np.clip(p[np.arange(N), arrays["sparse_y"]], 1e-7, 1))
    batch_means = [(loss[i:i + 8] * sw[i:i + 8]).sum() / 8 for i in range(0, N, 8)]
    np.testing.assert_allclose(logs["loss"], np.mean(batch_means), rtol=1e-5)


def test_class_weight_errors():
    arrays = data()
    model = build(CASES[0], arrays)
    with pytest.raises(ValueError, match="class_weight.*sample_weight"):
        model.fit(arrays["x"], arrays["sparse_y"], class_weight={0: 1.0}, sample_weight=arrays["sw"], verbose=0)
    with pytest.raises(TypeError, match="dict"):
        model.fit(arrays["x"], arrays["sparse_y"], class_weight=[1.0, 2.0], verbose=0)
    two = keras.Model(*_two_outputs())
    two.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="single output"):
        two.fit(arrays["x"], [arrays["mse_y"], arrays["mse_y"]], class_weight={0: 2.0}, verbose=0)


def _two_outputs():
    inputs = keras.Input((5,))
    return inputs, [keras.layers.Dense(2, name="a")(inputs), keras.layers.Dense(2, name="b")(inputs)]


def test_weights_and_logs_match_keras(tmp_path):
    """One epoch (two steps) of SGD per case, then a weighted evaluation: the same weights and
    logs as Keras 3 on JAX from the same start."""
    if importlib.util.find_spec("keras") is None or importlib.util.find_spec("jax") is None:
        pytest.skip("needs Keras 3 and JAX")
    arrays = data()
    np.savez(tmp_path / "in.npz", cases=json.dumps(CASES), **arrays)
    script = Path(__file__).with_name("keras_weights_reference.py")
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "in.npz"), str(tmp_path / "out.npz")],
                          env={**os.environ, "KERAS_BACKEND": "jax"}, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    theirs = np.load(tmp_path / "out.npz")
    for case in CASES:
        name = case["name"]
        model, history = fit(case, arrays)
        for i, got in enumerate(model.get_weights()):
            # two SGD steps, each side rounding in float32
            np.testing.assert_allclose(got, theirs[f"{name}_w{i}"], atol=2 * KERAS_STEP_ATOL, err_msg=f"{name} w{i}")
        for key in [k for k in theirs.files if k.startswith(f"{name}_h_")]:
            np.testing.assert_allclose(history.history[key[len(name) + 3:]], theirs[key], rtol=1e-5, err_msg=key)
        logs = model.evaluate(arrays["x"], arrays[f"{name}_y"], sample_weight=arrays["sw"], batch_size=16,
                              verbose=0, return_dict=True)
        for key in [k for k in theirs.files if k.startswith(f"{name}_e_")]:
            np.testing.assert_allclose(logs[key[len(name) + 3:]], theirs[key], rtol=1e-5, err_msg=key)
