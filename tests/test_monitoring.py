"""GradientMonitor and the native training statistics (csrc/stats/) against float64 NumPy.

The kernels are checked on odd and zero-size shapes on every kernel path; the monitor's records
of a real `fit` step are recomputed from scratch with a float64 NumPy forward and backward pass
of the same small network on the same batch; the clipped global norm is checked against the
update the optimizer actually applied.
"""

import json
import math

import numpy as np
import pytest

import fastdnn as keras
from fastdnn import _C
from fastdnn.monitoring import GradientMonitor, activation_stats, global_norms

from _tolerances import STATS_RTOL

SHAPES = [(r, c) for r in (1, 3, 17, 257) for c in (1, 3, 17, 257)] + [(0, 5), (5, 0), (0, 0), (300, 2)]


def stats64(x, low, high, tol):
    """Float64 NumPy reference of _C.activation_stats."""
    x = np.asarray(x, np.float64).reshape(math.prod(x.shape[:-1]), x.shape[-1])
    rows = x.shape[0]
    sat = (np.abs(x - low) <= tol) | (np.abs(x - high) <= tol) if tol >= 0 else np.zeros(x.shape, bool)
    return {"sum": x.sum(), "sum_squares": (x * x).sum(),
            "dead_units": int((x == 0).all(axis=0).sum()) if rows else 0,
            "saturated_units": int(sat.all(axis=0).sum()) if rows and tol >= 0 else 0,
            "saturated_values": int(sat.sum()), "nonfinite": int((~np.isfinite(x)).sum())}


def sigmoid_like(rng, rows, cols):
    """Values in [0, 1] with dead columns (all 0), saturated columns and values exactly at the
    tolerance boundary."""
    x = rng.random((rows, cols)).astype(np.float32)
    if cols >= 3:
        x[:, 0] = 0.0
        x[:, 1] = rng.choice([0.0, 1e-3, 0.9995, 1.0], rows)  # saturated for the whole batch
        x[::2, 2] = 1.0  # saturated on half the rows
    return x


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_activation_stats_kernel_matches_float64(isa, shape, rng):
    x = sigmoid_like(rng, *shape)
    got = _C.activation_stats(x, 0.0, 1.0, 1e-3)
    ref = stats64(x, 0.0, 1.0, np.float64(np.float32(1e-3)))
    scale = np.abs(x.astype(np.float64)).sum()
    assert abs(got["sum"] - ref["sum"]) <= STATS_RTOL * scale + 1e-30
    assert abs(got["sum_squares"] - ref["sum_squares"]) <= STATS_RTOL * ref["sum_squares"] + 1e-30
    for key in ("dead_units", "saturated_units", "saturated_values", "nonfinite"):
        assert got[key] == ref[key], key
    assert got["count"] == x.size and got["units"] == shape[1]


def test_activation_stats_kernel_tanh_bounds_nonfinite_and_off(isa, rng):
    x = np.tanh(rng.standard_normal((33, 17)) * 6).astype(np.float32)
    x[:, 4] = -1.0
    x[3, 5], x[7, 6], x[9, 7] = np.nan, np.inf, -np.inf
    for low, high, tol in ((-1.0, 1.0, 1e-3), (-1.0, 1.0, 0.0), (0.0, 0.0, -1.0)):
        got = _C.activation_stats(x, low, high, tol)
        ref = stats64(x, low, high, np.float64(np.float32(tol)))
        for key in ("dead_units", "saturated_units", "saturated_values", "nonfinite"):
            assert got[key] == ref[key], (key, tol)
        assert math.isnan(got["sum"]) and math.isnan(got["sum_squares"])  # NaN and ±inf mixed
    assert _C.activation_stats(x, 0.0, 0.0, -1.0)["saturated_values"] == 0


def test_activation_stats_kernel_nd_input_and_errors():
    x = np.zeros((2, 3, 4), np.float32)
    x[0, 0, 1] = 1.0
    assert _C.activation_stats(x, 0, 1, -1)["dead_units"] == 3  # units on the last axis
    with pytest.raises(TypeError, match="float32"):
        _C.activation_stats(np.zeros((2, 2)), 0, 1, 1e-3)
    with pytest.raises(ValueError, match="C-contiguous"):
        _C.activation_stats(np.zeros((4, 4), np.float32)[:, ::2], 0, 1, 1e-3)
    with pytest.raises(ValueError, match="at least 1"):
        _C.activation_stats(np.ones((), np.float32), 0, 1, 1e-3)
    with pytest.raises(ValueError, match="finite"):
        _C.activation_stats(np.zeros((2, 2), np.float32), 0, float("inf"), 1e-3)


@pytest.mark.parametrize("clipvalue", [0.0, 0.5])
@pytest.mark.parametrize("with_others", [False, True])
def test_sum_squares_kernel_matches_float64(isa, rng, clipvalue, with_others):
    shapes = [(1,), (3,), (17, 3), (257, 17), (0,), (0, 4), (300, 1000)]
    tensors = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    others = [rng.standard_normal(s).astype(np.float32) for s in shapes] if with_others else None
    got = _C.sum_squares(tensors, others, clipvalue)
    for i, t in enumerate(tensors):
        d = t.astype(np.float64) - (others[i] if others else 0)
        if clipvalue:
            d = np.clip(d, -clipvalue, clipvalue)
        ref = (d * d).sum()
        assert abs(got[i] - ref) <= STATS_RTOL * ref + 1e-30, (shapes[i], got[i], ref)
    assert got.dtype == np.float64 and got.shape == (len(shapes),)
    assert _C.sum_squares([]).shape == (0,)


def test_sum_squares_kernel_copies_in_the_same_pass(isa, rng):
    shapes = [(3,), (257, 17), (0,), (300, 1000)]
    tensors = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    copies = [np.full(s, np.nan, np.float32) for s in shapes]
    got = _C.sum_squares(tensors, None, 0.0, [copies[0], None, copies[2], copies[3]])
    for i in (0, 2, 3):
        np.testing.assert_array_equal(copies[i], tensors[i])
    assert np.isnan(copies[1]).all()  # None: not copied
    ref = [(t.astype(np.float64) ** 2).sum() for t in tensors]
    np.testing.assert_allclose(got, ref, rtol=STATS_RTOL)
    with pytest.raises(ValueError, match="one entry per tensor"):
        _C.sum_squares(tensors, None, 0.0, [])
    with pytest.raises(ValueError, match="shape"):
        _C.sum_squares(tensors[:1], None, 0.0, [np.zeros(4, np.float32)])
    with pytest.raises(ValueError, match="overlaps"):
        _C.sum_squares(tensors[:1], None, 0.0, [tensors[0]])
    readonly = np.zeros(3, np.float32)
    readonly.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        _C.sum_squares(tensors[:1], None, 0.0, [readonly])


def test_sum_squares_kernel_errors():
    a = np.ones((2, 3), np.float32)
    with pytest.raises(TypeError, match="float32"):
        _C.sum_squares([np.ones(3)])
    with pytest.raises(TypeError, match="NumPy array"):
        _C.sum_squares([[1.0, 2.0]])
    with pytest.raises(ValueError, match="shape"):
        _C.sum_squares([a], [np.ones((3, 2), np.float32)])
    with pytest.raises(ValueError, match="one array per tensor"):
        _C.sum_squares([a], [])
    with pytest.raises(ValueError, match="clipvalue"):
        _C.sum_squares([a], None, -1.0)
    with pytest.raises(ValueError, match="clipvalue"):
        _C.sum_squares([a], None, float("nan"))


def test_activation_stats_function(rng):
    x = rng.standard_normal((64, 9)).astype(np.float32)
    x[:, 2] = 0.0
    s = activation_stats(x, "relu")
    x64 = x.astype(np.float64)
    assert s["mean"] == pytest.approx(x64.mean(), rel=1e-6, abs=1e-9)
    assert s["std"] == pytest.approx(x64.std(), rel=1e-6)
    assert s["dead_fraction"] == pytest.approx(1 / 9)
    assert math.isnan(s["saturated_fraction"])
    sig = 1 / (1 + np.exp(-10 * x64))
    sig[:, 4] = 1.0
    s = activation_stats(sig, "sigmoid")
    assert s["saturated_fraction"] == pytest.approx(((np.minimum(sig, 1 - sig) <= 1e-3).all(0)).mean())
    assert s["saturated_value_fraction"] == pytest.approx((np.minimum(sig, 1 - sig) <= 1e-3).mean(), abs=2 / sig.size)
    empty = activation_stats(np.zeros((0, 4)), "relu")
    assert math.isnan(empty["mean"]) and empty["dead_fraction"] == 0.0
    with pytest.raises(TypeError, match="real numeric"):
        activation_stats(np.ones((2, 2), complex))
    with pytest.raises(ValueError, match="scalar"):
        activation_stats(1.0)
    with pytest.raises(ValueError, match="tolerance"):
        activation_stats(x, "sigmoid", tolerance=-1)


CLIPS = [{}, {"clipnorm": 0.3}, {"clipvalue": 0.05}, {"global_clipnorm": 0.5}, {"global_clipnorm": 100.0}]


@pytest.mark.parametrize("clip", CLIPS, ids=lambda c: ",".join(c) or "none")
def test_global_norms_match_numpy_and_the_applied_update(clip, rng):
    grads = [rng.standard_normal(s).astype(np.float32) * 0.2 for s in ((7, 5), (5,), (5, 3), (3,))]
    opt = keras.optimizers.SGD(learning_rate=1.0, **clip)
    before, after = global_norms(grads + [None], opt)
    g64 = [g.astype(np.float64) for g in grads]
    norm = math.sqrt(sum((g * g).sum() for g in g64))
    if "clipnorm" in clip:
        clipped = [g * min(1.0, clip["clipnorm"] / np.linalg.norm(g)) for g in g64]
    elif "clipvalue" in clip:
        clipped = [np.clip(g, -clip["clipvalue"], clip["clipvalue"]) for g in g64]
    elif "global_clipnorm" in clip:
        clipped = [g * min(1.0, clip["global_clipnorm"] / norm) for g in g64]
    else:
        clipped = g64
    assert before == pytest.approx(norm, rel=1e-6)
    assert after == pytest.approx(math.sqrt(sum((g * g).sum() for g in clipped)), rel=1e-6)
    # The optimizer's own step (SGD, lr 1, no momentum: w -= clipped g) has exactly that norm.
    variables = [keras.Variable(np.zeros_like(g)) for g in grads]
    opt.apply_gradients(zip(grads, variables))
    applied = math.sqrt(sum((v.numpy().astype(np.float64) ** 2).sum() for v in variables))
    assert after == pytest.approx(applied, rel=1e-5)


# ---- the monitor on a real fit step, against a float64 NumPy forward and backward -------------

def _tiny_model(clip):
    keras.utils.set_random_seed(7)
    model = keras.Sequential([
        keras.Input(shape=[6]),
        keras.layers.Dense(8, activation="relu"),
        keras.layers.Dense(5),
        keras.layers.Activation("tanh"),
        keras.layers.Dense(3, activation="softmax"),
    ])
    w = model.get_weights()
    w[0][:, 0], w[1][0] = -1.0, -5.0  # unit 0 of the ReLU layer is dead for inputs in [0, 1)
    w[2][:, 1], w[3][1] = 4.0, 30.0  # unit 1 of the tanh layer saturates at +1
    model.set_weights(w)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(0.1, **clip))
    return model


def _numpy_step(weights, x, y):
    """Float64 forward and backward of _tiny_model: activations and weight gradients."""
    k1, b1, k2, b2, k3, b3 = [w.astype(np.float64) for w in weights]
    z1 = x @ k1 + b1
    a1 = np.maximum(z1, 0)
    a2 = np.tanh(a1 @ k2 + b2)
    z3 = a2 @ k3 + b3
    p = np.exp(z3 - z3.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    n = len(x)
    loss = -np.log(p[np.arange(n), y]).mean()
    d3 = p.copy()
    d3[np.arange(n), y] -= 1
    d3 /= n
    d2 = (d3 @ k3.T) * (1 - a2 ** 2)
    d1 = (d2 @ k2.T) * (z1 > 0)
    grads = [x.T @ d1, d1.sum(0), a1.T @ d2, d2.sum(0), a2.T @ d3, d3.sum(0)]
    return [a1, a2, p], grads, loss


@pytest.mark.parametrize("clip", CLIPS[:4], ids=lambda c: ",".join(c) or "none")
def test_records_match_numpy_recomputation(clip, rng):
    model = _tiny_model(clip)
    x = rng.random((16, 6)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    w0 = model.get_weights()
    monitor = GradientMonitor(every_n_steps=1)
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0, callbacks=[monitor])
    w1 = model.get_weights()
    acts, grads, loss = _numpy_step(w0, x.astype(np.float64), y)

    assert monitor.steps == [0] and monitor.epochs == [0]
    assert len(monitor.layer_names()) == 3  # the Activation layer belongs to the Dense before it
    names = monitor.layer_names()
    assert [monitor.layers[n]["activation"] for n in names] == ["relu", "tanh", "softmax"]
    rtol = 1e-4  # float32 forward/backward against float64
    for k, name in enumerate(names):
        r = monitor.history[name]
        g = grads[2 * k:2 * k + 2]
        gnorm = math.sqrt(sum((gi ** 2).sum() for gi in g))
        wnorm = math.sqrt(sum((wi.astype(np.float64) ** 2).sum() for wi in w0[2 * k:2 * k + 2]))
        dnorm = math.sqrt(sum(((a.astype(np.float64) - b) ** 2).sum() for a, b in zip(w1[2 * k:2 * k + 2], w0[2 * k:2 * k + 2])))
        assert r["grad_norm"][0] == pytest.approx(gnorm, rel=rtol)
        assert r["weight_norm"][0] == pytest.approx(wnorm, rel=1e-6)
        assert r["update_ratio"][0] == pytest.approx(dnorm / wnorm, rel=rtol)
        a = acts[k]
        assert r["activation_mean"][0] == pytest.approx(a.mean(), rel=rtol, abs=1e-6)
        assert r["activation_std"][0] == pytest.approx(a.std(), rel=rtol)
        assert r["dead_fraction"][0] == pytest.approx((a == 0).all(0).mean())
    assert monitor.history[names[0]]["dead_fraction"][0] >= 1 / 8  # the unit made dead
    sat = (np.abs(np.abs(acts[1]) - 1) <= 1e-3).all(0).mean()
    assert sat >= 1 / 5 and monitor.history[names[1]]["saturated_fraction"][0] == pytest.approx(sat)
    assert math.isnan(monitor.history[names[0]]["saturated_fraction"][0])
    g64 = [g for g in grads]
    before = math.sqrt(sum((g * g).sum() for g in g64))
    assert monitor.global_history["grad_norm"][0] == pytest.approx(before, rel=rtol)
    applied = math.sqrt(sum(((a.astype(np.float64) - b) ** 2).sum() for a, b in zip(w1, w0))) / 0.1
    assert monitor.global_history["grad_norm_clipped"][0] == pytest.approx(applied, rel=1e-3)
    assert monitor.global_history["loss"][0] == pytest.approx(loss, rel=1e-5)
    assert monitor.global_history["learning_rate"] == [pytest.approx(0.1)]


def test_every_n_steps_epochs_and_no_effect_on_training(rng):
    x = rng.random((40, 6)).astype(np.float32)
    y = rng.integers(0, 3, 40)
    trained = []
    for monitor in (None, GradientMonitor(every_n_steps=3)):
        model = _tiny_model({})
        keras.utils.set_random_seed(1)
        model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[monitor] if monitor else None)
        trained.append(model.get_weights())
        assert model._step_hooks == ()  # detached after fit
    for a, b in zip(*trained):
        np.testing.assert_array_equal(a, b)
    assert monitor.steps == [0, 3, 6, 9, 12]
    assert monitor.epochs == [0, 0, 1, 1, 2]
    assert all(len(v) == 5 for r in monitor.history.values() for v in r.values())
    # a second fit continues the step count
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[monitor])
    assert monitor.steps[-2:] == [15, 18]


def test_model_built_by_its_first_batch(rng):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.layers.Dense(4, activation="relu"), keras.layers.LeakyReLU(0.1),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    monitor = GradientMonitor(every_n_steps=1)
    model.fit(rng.random((8, 3)), rng.integers(0, 2, 8), batch_size=4, verbose=0, callbacks=[monitor])
    assert [info["activation"] for info in monitor.layers.values()] == ["leaky_relu", "softmax"]
    assert all(len(r["grad_norm"]) == 2 and np.isfinite(r["grad_norm"]).all() for r in monitor.history.values())


def test_arguments_config_and_wrong_model():
    for bad in ({"every_n_steps": 0}, {"every_n_steps": 2.5}, {"every_n_steps": True},
                {"saturation_tolerance": -1}, {"vanishing_ratio": 2}, {"exploding_ratio": 0.5},
                {"dead_threshold": float("nan")}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            GradientMonitor(**bad)
    m = GradientMonitor(every_n_steps=5, saturation_tolerance=1e-2, verbose=1)
    assert GradientMonitor.from_config(m.get_config()).get_config() == m.get_config()
    json.dumps(m.get_config())

    class NotSequential:
        pass

    m.set_model(NotSequential())
    with pytest.raises(TypeError, match="Sequential"):
        m.on_train_begin()


def test_json_round_trip_and_bad_files(tmp_path, rng):
    model = _tiny_model({})
    monitor = GradientMonitor(every_n_steps=2)
    model.fit(rng.random((32, 6)), rng.integers(0, 3, 32), batch_size=8, epochs=2, verbose=0, callbacks=[monitor])
    path = tmp_path / "monitor.json"
    monitor.save(path)
    loaded = GradientMonitor.load(path)
    assert loaded.steps == monitor.steps and loaded.epochs == monitor.epochs
    assert loaded.layers == monitor.layers
    assert loaded.get_config() == monitor.get_config()
    for name in monitor.history:
        for stat, values in monitor.history[name].items():
            np.testing.assert_array_equal(loaded.history[name][stat], values)  # NaN == NaN here
    assert loaded.global_history == monitor.global_history
    assert loaded.report() == monitor.report()

    with pytest.raises(FileNotFoundError, match="No GradientMonitor file"):
        GradientMonitor.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text('{"format": "fastdnn.GradientMonitor", "ver')
    with pytest.raises(ValueError, match="not valid JSON"):
        GradientMonitor.load(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text('{"loss": [1, 2]}')
    with pytest.raises(ValueError, match="not a GradientMonitor record"):
        GradientMonitor.load(tmp_path / "other.json")
    data = monitor.to_dict()
    data["global"]["loss"].pop()
    with pytest.raises(ValueError, match="damaged"):
        GradientMonitor.from_dict(data)
    del data["layers"]
    with pytest.raises(ValueError, match="damaged"):
        GradientMonitor.from_dict(data)


def _synthetic(grad_low, grad_top, dead=0.0, saturated=float("nan"), n=6):
    data = GradientMonitor().to_dict()
    data["steps"], data["epochs"] = list(range(n)), [0] * n
    data["global"] = {k: [1.0] * n for k in data["global"]}
    data["global"]["grad_norm"] = [math.hypot(grad_low, grad_top)] * n
    for name, g, act in (("dense", grad_low, "sigmoid"), ("dense_1", grad_top, "softmax")):
        data["layers"].append({"name": name, "class_name": "Dense", "activation": act,
                               "grad_norm": [g] * n, "weight_norm": [1.0] * n, "update_ratio": [g] * n,
                               "activation_mean": [0.5] * n, "activation_std": [0.1] * n,
                               "dead_fraction": [dead] * n, "saturated_fraction": [saturated] * n})
    return GradientMonitor.from_dict(data)


def test_report_findings():
    assert _synthetic(1.0, 1.0).findings() == []
    assert "No unstable gradients" in _synthetic(1.0, 1.0).report()
    vanishing = _synthetic(1e-4, 1.0).report()
    assert "Vanishing gradients" in vanishing and "He initialization" in vanishing and "Batch Normalization" in vanishing
    exploding = _synthetic(1e4, 1.0).report()
    assert "Exploding gradients" in exploding and "clipnorm" in exploding
    assert "non-finite" in _synthetic(float("nan"), 1.0).report()
    dead = _synthetic(1.0, 1.0, dead=0.6).report()
    assert "Dead units: 60%" in dead and "leaky ReLU" in dead
    saturated = _synthetic(1.0, 1.0, saturated=0.5).report()
    assert "Saturated units: 50%" in saturated and "nonsaturating" in saturated
    growing = _synthetic(1.0, 1.0)
    growing.global_history["grad_norm"] = [1.0, 1.0, 10.0, 100.0, 1e3, 1e4]
    assert "grew" in growing.report()
    assert "no steps recorded" in GradientMonitor().report()
    with pytest.raises(ValueError, match="at least two layers"):
        GradientMonitor().gradient_ratio()


def test_verbose_prints_report_at_train_end(capsys, rng):
    model = _tiny_model({})
    model.fit(rng.random((8, 6)), rng.integers(0, 3, 8), batch_size=8, verbose=0,
              callbacks=[GradientMonitor(every_n_steps=1, verbose=1)])
    assert "GradientMonitor: 1 records" in capsys.readouterr().out
