"""Every optimizer against a float64 NumPy transcription of Keras 3's update rule, over 12 steps,
with clipping, weight decay and the book's `decay=`; and against torch.optim where the two
formulas coincide."""

import math

import numpy as np
import pytest

import fastdnn
from fastdnn import _C, optimizers

SHAPES = [(3,), (70, 130), (300, 400)]  # the last spans the kernel's parallel chunks


def clip(grads, clipnorm=None, clipvalue=None, global_clipnorm=None):
    if clipnorm:
        return [g * min(1.0, clipnorm / max(np.linalg.norm(g), 1e-300)) for g in grads]
    if global_clipnorm:
        norm = math.sqrt(sum(float((g ** 2).sum()) for g in grads))
        return [g * min(1.0, global_clipnorm / norm) for g in grads]
    if clipvalue:
        return [np.clip(g, -clipvalue, clipvalue) for g in grads]
    return grads


def keras_reference(kind, ws, grad_steps, lr=0.01, **h):
    """Keras 3's rules in float64 (keras/src/optimizers/*.py), step by step."""
    ws = [w.astype(np.float64) for w in ws]
    state = [dict() for _ in ws]
    u_product = 1.0
    for t0, grads in enumerate(grad_steps):
        t = t0 + 1
        rate = lr / (1 + h.get("decay", 0) * t0)
        grads = clip([g.astype(np.float64) for g in grads], h.get("clipnorm"), h.get("clipvalue"),
                     h.get("global_clipnorm"))
        if kind == "nadam":
            u_t = h["beta_1"] * (1 - 0.5 * 0.96 ** t)
            u_t1 = h["beta_1"] * (1 - 0.5 * 0.96 ** (t + 1))
            u_product *= u_t
        for i, (w, g) in enumerate(zip(ws, grads)):
            s = state[i]
            w = w - rate * h.get("weight_decay", 0) * w
            if kind == "sgd":
                mom = h.get("momentum", 0)
                if mom:
                    m = s["m"] = mom * s.get("m", 0) - rate * g
                    w = w + (mom * m - rate * g if h.get("nesterov") else m)
                else:
                    w = w - rate * g
            elif kind == "adagrad":
                a = s["a"] = s.get("a", h["initial_accumulator_value"]) + g * g
                w = w - rate * g / np.sqrt(a + h["epsilon"])
            elif kind == "rmsprop":
                v = s["v"] = h["rho"] * s.get("v", 0) + (1 - h["rho"]) * g * g
                den = v + h["epsilon"]
                if h.get("centered"):
                    c = s["c"] = h["rho"] * s.get("c", 0) + (1 - h["rho"]) * g
                    den = v - c * c + h["epsilon"]
                inc = rate * g / np.sqrt(den)
                if h.get("momentum"):
                    mo = s["mo"] = h["momentum"] * s.get("mo", 0) + inc
                    w = w - mo
                else:
                    w = w - inc
            elif kind in ("adam", "adamw"):
                m = s["m"] = s.get("m", 0) + (g - s.get("m", 0)) * (1 - h["beta_1"])
                v = s["v"] = s.get("v", 0) + (g * g - s.get("v", 0)) * (1 - h["beta_2"])
                if h.get("amsgrad"):
                    v = s["vh"] = np.maximum(s.get("vh", 0), v)
                alpha = rate * math.sqrt(1 - h["beta_2"] ** t) / (1 - h["beta_1"] ** t)
                w = w - m * alpha / (np.sqrt(v) + h["epsilon"])
            elif kind == "adamax":
                m = s["m"] = s.get("m", 0) + (g - s.get("m", 0)) * (1 - h["beta_1"])
                u = s["u"] = np.maximum(h["beta_2"] * s.get("u", 0), np.abs(g))
                w = w - rate * m / ((1 - h["beta_1"] ** t) * (u + h["epsilon"]))
            elif kind == "nadam":
                m = s["m"] = s.get("m", 0) + (g - s.get("m", 0)) * (1 - h["beta_1"])
                v = s["v"] = s.get("v", 0) + (g * g - s.get("v", 0)) * (1 - h["beta_2"])
                m_hat = u_t1 * m / (1 - u_product * u_t1) + (1 - u_t) * g / (1 - u_product)
                v_hat = v / (1 - h["beta_2"] ** t)
                w = w - m_hat * rate / (np.sqrt(v_hat) + h["epsilon"])
            ws[i] = w
    return ws


ADAM = {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}
CASES = [
    ("sgd", optimizers.SGD, {}),
    ("sgd", optimizers.SGD, {"momentum": 0.9}),
    ("sgd", optimizers.SGD, {"momentum": 0.9, "nesterov": True}),
    ("adagrad", optimizers.Adagrad, {"initial_accumulator_value": 0.1, "epsilon": 1e-7}),
    ("rmsprop", optimizers.RMSprop, {"rho": 0.9, "epsilon": 1e-7}),
    ("rmsprop", optimizers.RMSprop, {"rho": 0.8, "epsilon": 1e-7, "momentum": 0.5, "centered": True}),
    ("adam", optimizers.Adam, ADAM),
    ("adam", optimizers.Adam, {**ADAM, "amsgrad": True}),
    ("adamw", optimizers.AdamW, {**ADAM, "weight_decay": 0.004}),
    ("adamax", optimizers.Adamax, ADAM),
    ("nadam", optimizers.Nadam, ADAM),
]
IDS = [f"{k}-{'-'.join(f'{a}={b}' for a, b in h.items() if a not in ADAM)}" for k, _, h in CASES]


def run(opt, ws0, grad_steps):
    variables = [fastdnn.Variable(w) for w in ws0]
    for grads in grad_steps:
        opt.apply_gradients(zip([g.copy() for g in grads], variables))
    return [v.numpy() for v in variables]


def problem(rng, steps=12):
    ws0 = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(np.float32) for s in SHAPES] for _ in range(steps)]
    return ws0, grads


@pytest.mark.parametrize("kind,cls,hyper", CASES, ids=IDS)
def test_optimizer_matches_keras_rule(kind, cls, hyper, rng):
    ws0, grads = problem(rng)
    got = run(cls(learning_rate=0.01, **hyper), ws0, grads)
    for g, r in zip(got, keras_reference(kind, ws0, grads, 0.01, **hyper)):
        np.testing.assert_allclose(g, r, rtol=2e-4, atol=2e-6)


@pytest.mark.parametrize("extra", [{"clipnorm": 1.0}, {"clipvalue": 0.5}, {"global_clipnorm": 2.0},
                                   {"weight_decay": 0.1}, {"decay": 0.05}],
                         ids=["clipnorm", "clipvalue", "global_clipnorm", "weight_decay", "decay"])
@pytest.mark.parametrize("kind,cls,hyper", [CASES[1], CASES[6]], ids=["sgd-momentum", "adam"])
def test_clipping_decay_and_book_decay(kind, cls, hyper, extra, rng):
    ws0, grads = problem(rng, steps=6)
    grads = [[g * 10 for g in step] for step in grads]  # large enough that clipping bites
    got = run(cls(learning_rate=0.01, **hyper, **extra), ws0, grads)
    for g, r in zip(got, keras_reference(kind, ws0, grads, 0.01, **hyper, **extra)):
        np.testing.assert_allclose(g, r, rtol=2e-4, atol=2e-6)


def test_learning_rate_schedule_callable_and_lr_spelling(rng):
    ws0, grads = problem(rng, steps=5)
    sched = lambda step: 0.1 / (1 + step)  # noqa: E731
    got = run(optimizers.SGD(learning_rate=sched), ws0, grads)
    ref = [w.astype(np.float64) for w in ws0]
    for t, step in enumerate(grads):
        ref = [w - sched(t) * g for w, g in zip(ref, step)]
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-6)
    assert optimizers.SGD(lr=0.001, momentum=0.9, nesterov=True).learning_rate == 0.001


@pytest.mark.parametrize("name", ["sgd", "adagrad", "rmsprop", "adam", "adamw", "adamax", "nadam"])
def test_names_and_config_round_trip(name):
    opt = optimizers.get(name)
    clone = type(opt).from_config(opt.get_config())
    assert clone.get_config() == opt.get_config()
    assert optimizers.get(type(opt).__name__).get_config() == opt.get_config()


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="learning_rate"):
        optimizers.SGD(learning_rate=-1)
    with pytest.raises(ValueError, match="momentum"):
        optimizers.SGD(momentum=1.5)
    with pytest.raises(ValueError, match="Only one of"):
        optimizers.Adam(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ValueError, match="beta_1"):
        optimizers.Adam(beta_1=2.0)
    with pytest.raises(TypeError, match="Unrecognized"):
        optimizers.SGD(foo=1)
    with pytest.raises(ValueError, match="Unknown optimizer"):
        optimizers.get("nope")


def test_native_update_rejects_mismatched_inputs():
    w = np.zeros((3, 2), np.float32)
    with pytest.raises(ValueError, match="does not match"):
        _C.optimizer_update(0, [w], [np.zeros((2, 3), np.float32)], [[]], {})
    with pytest.raises(ValueError, match="one gradient"):
        _C.optimizer_update(0, [w], [], [], {})
    with pytest.raises(ValueError, match="state arrays"):
        _C.optimizer_update(3, [w], [np.zeros((3, 2), np.float32)], [[]], {})
    ro = np.zeros(3, np.float32)
    ro.setflags(write=False)
    with pytest.raises(ValueError, match="read-only"):
        _C.optimizer_update(0, [ro], [np.zeros(3, np.float32)], [[]], {})


def test_none_gradients_are_skipped():
    var = fastdnn.Variable(np.ones(3, np.float32))
    optimizers.Adam(0.1).apply_gradients([(None, var)])
    np.testing.assert_array_equal(var.numpy(), np.ones(3, np.float32))


TORCH_CASES = [  # rules that coincide; epsilon 0, as the two place it differently
    (lambda: optimizers.SGD(0.01, momentum=0.9), lambda t, p: t.optim.SGD(p, lr=0.01, momentum=0.9)),
    (lambda: optimizers.SGD(0.01, momentum=0.9, nesterov=True),
     lambda t, p: t.optim.SGD(p, lr=0.01, momentum=0.9, nesterov=True)),
    (lambda: optimizers.Adam(0.01, epsilon=0.0), lambda t, p: t.optim.Adam(p, lr=0.01, eps=0.0)),
    (lambda: optimizers.RMSprop(0.01, rho=0.9, epsilon=0.0),
     lambda t, p: t.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=0.0)),
]


@pytest.mark.parametrize("make_fd,make_torch", TORCH_CASES, ids=["sgd-momentum", "nesterov", "adam", "rmsprop"])
def test_against_torch_optim(make_fd, make_torch, rng):
    torch = pytest.importorskip("torch")
    ws0, grads = problem(rng, steps=10)
    got = run(make_fd(), ws0, grads)
    params = [torch.nn.Parameter(torch.tensor(w)) for w in ws0]
    opt = make_torch(torch, params)
    for step in grads:
        for p, g in zip(params, step):
            p.grad = torch.tensor(g)
        opt.step()
    for g, p in zip(got, params):
        np.testing.assert_allclose(g, p.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_keras_schedule_object_drives_the_rate(rng):
    sched = optimizers.schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
    ws0, grads = problem(rng, steps=4)
    opt = optimizers.SGD(learning_rate=sched)
    got = run(opt, ws0, grads)
    ref = [w.astype(np.float64) for w in ws0]
    for t, step in enumerate(grads):
        ref = [w - 0.1 * 0.5 ** (t / 2) * g for w, g in zip(ref, step)]
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-6)
    assert opt.current_learning_rate == pytest.approx(0.1 * 0.5 ** 2)
    assert optimizers.SGD.from_config(opt.get_config()).get_config() == opt.get_config()


# ---- the native entry point's checks and NaN handling (found by tests/fuzz) ----------------------

def _one(n=3):
    return [np.ones(n, np.float32)], [np.full(n, 0.5, np.float32)]


def test_clipvalue_keeps_a_nan_gradient_nan():
    """A NaN gradient must not be clamped to ±clipvalue (which would hide it as a finite step)."""
    w, g = _one()
    g[0][1] = np.nan
    _C.optimizer_update(0, w, g, [[]], {"learning_rate": 0.1, "clipvalue": 0.2})
    expected = 1.0 - 0.1 * np.clip(np.array([0.5, np.nan, 0.5]), -0.2, 0.2)
    np.testing.assert_array_equal(w[0], expected.astype(np.float32))


def test_optimizer_update_checks_its_lists():
    w, g = _one()
    with pytest.raises(TypeError, match="one list of state arrays per parameter.*ndarray at index 0"):
        _C.optimizer_update(0, w, g, [np.zeros(3, np.float32)], {"momentum": 0.9})
    with pytest.raises(ValueError, match="Expected 1 state arrays per parameter, received 2"):
        _C.optimizer_update(0, w, g, [(np.zeros(3, np.float32),) * 2], {"momentum": 0.9})
    with pytest.raises(ValueError, match=r"`grads\[0\]` of shape \(4,\) does not match its parameter of shape \(3,\)"):
        _C.optimizer_update(0, w, [np.zeros(4, np.float32)], [[]], {})


@pytest.mark.parametrize("value", ["fast", None, [0.1]])
def test_optimizer_update_hyperparameter_of_wrong_type(value):
    w, g = _one()
    with pytest.raises(TypeError, match="Hyperparameter `learning_rate` must be a number"):
        _C.optimizer_update(0, w, g, [[]], {"learning_rate": value})
    np.testing.assert_array_equal(w[0], 1.0)  # nothing was updated


def test_optimizer_update_unknown_kind_lists_the_kinds():
    w, g = _one()
    with pytest.raises(ValueError, match=r"expected an integer in \[0, 6\).*5 nadam"):
        _C.optimizer_update(9, w, g, [[]], {})
