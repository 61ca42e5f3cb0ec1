"""Every optimizer against a float64 NumPy transcription of Keras 3's update rule, over 12 steps,
with clipping, weight decay and the book's `decay=`, on every kernel path; and against
torch.optim where the two formulas coincide. Then the native step on its own: the reference
kernel path (optim_ref.cpp) against the float64 step, and the fast paths against it."""

import math

import numpy as np
import pytest

import fastdnn
from fastdnn import _C, optimizers

from _tolerances import EPS32, OPTIM_ULPS
from conftest import assert_close

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
def test_optimizer_matches_keras_rule(kind, cls, hyper, isa, rng):
    ws0, grads = problem(rng)
    got = run(cls(learning_rate=0.01, **hyper), ws0, grads)
    for g, r in zip(got, keras_reference(kind, ws0, grads, 0.01, **hyper)):
        np.testing.assert_allclose(g, r, rtol=2e-4, atol=2e-6)


@pytest.mark.parametrize("extra", [{"clipnorm": 1.0}, {"clipvalue": 0.5}, {"global_clipnorm": 2.0},
                                   {"weight_decay": 0.1}, {"decay": 0.05}],
                         ids=["clipnorm", "clipvalue", "global_clipnorm", "weight_decay", "decay"])
@pytest.mark.parametrize("kind,cls,hyper", [CASES[1], CASES[6]], ids=["sgd-momentum", "adam"])
def test_clipping_decay_and_book_decay(kind, cls, hyper, extra, isa, rng):
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


def test_clipvalue_keeps_a_nan_gradient_nan(isa):
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


# ---- the native update rule step by step: the reference kernel path and the fast paths ----------
# One call of _C.optimizer_update from given float32 weights, gradients and state, against the
# same step in float64 NumPy (Keras 3's formulas as optim_rule.h's header writes them, with the
# step coefficients coef0..2 that Python precomputes). The hyperparameters reach the kernels as
# float32 (OptimHyper), so the NumPy step reads them rounded to float32 too; each step starts
# from the state the kernel left, so every step is checked on its own.

def _f32(v):
    return float(np.float32(v))


NATIVE_RULES = [
    ("sgd", {}),
    ("sgd", {"momentum": 0.9}),
    ("sgd", {"momentum": 0.9, "nesterov": True}),
    ("adagrad", {"epsilon": 1e-7}),
    ("rmsprop", {"rho": 0.9, "epsilon": 1e-7}),
    ("rmsprop", {"rho": 0.9, "epsilon": 1e-7, "momentum": 0.5}),
    ("rmsprop", {"rho": 0.8, "epsilon": 1e-7, "centered": True}),
    ("rmsprop", {"rho": 0.8, "epsilon": 1e-7, "momentum": 0.5, "centered": True}),
    ("adam", ADAM),
    ("adam", {**ADAM, "amsgrad": True}),
    ("adamax", ADAM),
    ("nadam", ADAM),
]
NATIVE_EXTRAS = [{}, {"clipvalue": 1.0}, {"clipnorm": 5.0}, {"global_clipnorm": 10.0}, {"weight_decay": 0.1}]
NATIVE_CASES = [(k, {**h, **e}) for k, h in NATIVE_RULES for e in NATIVE_EXTRAS]
NATIVE_IDS = [f"{k}-{'-'.join(f'{a}={b}' for a, b in h.items() if a not in ADAM) or 'plain'}" for k, h in NATIVE_CASES]
NATIVE_SHAPES = [(3,), (70, 130)]
NATIVE_LR = 0.3  # steps comparable to the weights, so an error in the step shows in w


def _native_slots(kind, h, shape, rng):
    """Random but valid state: squares' averages >= 0, v-hat sometimes above v (so AMSGrad's max
    has both outcomes), a centered average with c² <= v/2: where c² nears v, centered RMSprop's
    v − c² amplifies v's rounding by v/(v − c²), a property of the formula, not of a kernel."""
    f = lambda a: np.asarray(a, np.float32)  # noqa: E731
    v = rng.uniform(0, 0.02, shape)
    if kind == "sgd":
        return [f(rng.normal(0, 0.1, shape))] if h.get("momentum") else []
    if kind == "adagrad":
        return [f(rng.uniform(0.1, 1.0, shape))]
    if kind == "rmsprop":
        return ([f(v)] + ([f(rng.normal(0, 0.1, shape))] if h.get("momentum") else [])
                + ([f(np.sqrt(v) * rng.uniform(-0.7, 0.7, shape))] if h.get("centered") else []))
    if kind == "adam":
        return [f(rng.normal(0, 0.1, shape)), f(v)] + ([f(rng.uniform(0, 0.04, shape))] if h.get("amsgrad") else [])
    if kind == "adamax":
        return [f(rng.normal(0, 0.1, shape)), f(rng.uniform(0, 1, shape))]
    return [f(rng.normal(0, 0.1, shape)), f(v)]  # nadam


def _native_hyper(kind, h, t, u_product):
    """The dict Python passes for step t (1-based), coefficients as fastdnn/optimizers.py
    computes them; returns (hyper, the next u_product)."""
    hyper = {"learning_rate": NATIVE_LR, **h}
    b1, b2 = h.get("beta_1", 0.9), h.get("beta_2", 0.999)
    if kind == "adam":
        hyper["coef0"] = NATIVE_LR * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
    elif kind == "adamax":
        hyper["coef0"] = NATIVE_LR / (1 - b1 ** t)
    elif kind == "nadam":
        u_t, u_t1 = b1 * (1 - 0.5 * 0.96 ** t), b1 * (1 - 0.5 * 0.96 ** (t + 1))
        u_product *= u_t
        hyper.update(coef0=u_t1 / (1 - u_product * u_t1), coef1=(1 - u_t) / (1 - u_product),
                     coef2=1 / (1 - b2 ** t))
    return hyper, u_product


def _native_step64(kind, ws, gs, slots, hyper):
    """One step in float64 from float32 inputs: returns the new weights and state, unrounded."""
    h = {k: (_f32(v) if not isinstance(v, bool) else v) for k, v in hyper.items()}
    lr, eps, wd, cv = h["learning_rate"], h.get("epsilon", 0.0), h.get("weight_decay", 0.0), h.get("clipvalue", 0.0)
    b1, b2, rho, mu = h.get("beta_1", 0.0), h.get("beta_2", 0.0), h.get("rho", 0.0), h.get("momentum", 0.0)
    c0, c1, c2 = h.get("coef0", 0.0), h.get("coef1", 0.0), h.get("coef2", 0.0)
    gs = [np.asarray(g, np.float64) for g in gs]
    scales = [1.0] * len(gs)  # the clipping factor reaches the kernel as a float32
    if h.get("clipnorm", 0) > 0:
        norms = [math.sqrt(float((g * g).sum())) for g in gs]
        scales = [_f32(h["clipnorm"] / n) if n > h["clipnorm"] else 1.0 for n in norms]
    elif h.get("global_clipnorm", 0) > 0:
        n = math.sqrt(sum(float((g * g).sum()) for g in gs))
        scales = [_f32(h["global_clipnorm"] / n) if n > h["global_clipnorm"] else 1.0] * len(gs)
    out = []
    for w, g, s, scale in zip(ws, gs, slots, scales):
        w, s = np.asarray(w, np.float64), [np.asarray(a, np.float64) for a in s]
        g = g * scale
        if cv > 0:
            g = np.clip(g, -cv, cv)
        if wd:
            w = w - lr * wd * w
        if kind == "sgd":
            if mu > 0:
                m = mu * s[0] - lr * g
                w, s = w + (mu * m - lr * g if h.get("nesterov") else m), [m]
            else:
                w = w - lr * g
        elif kind == "adagrad":
            a = s[0] + g * g
            w, s = w - lr * g / np.sqrt(a + eps), [a]
        elif kind == "rmsprop":
            v = rho * s[0] + (1 - rho) * g * g
            new = [v] + ([None] if mu > 0 else [])
            den = v + eps
            if h.get("centered"):
                c = rho * s[-1] + (1 - rho) * g
                den = v - c * c + eps
                new.append(c)
            inc = lr * g / np.sqrt(den)
            if mu > 0:
                new[1] = mu * s[1] + inc
                inc = new[1]
            w, s = w - inc, new
        elif kind == "adam":
            m = s[0] + (g - s[0]) * (1 - b1)
            v = s[1] + (g * g - s[1]) * (1 - b2)
            new = [m, v]
            if h.get("amsgrad"):
                v = np.maximum(s[2], v)
                new.append(v)
            w, s = w - c0 * m / (np.sqrt(v) + eps), new
        elif kind == "adamax":
            m = s[0] + (g - s[0]) * (1 - b1)
            u = np.maximum(b2 * s[1], np.abs(g))
            w, s = w - c0 * m / (u + eps), [m, u]
        else:  # nadam
            m = s[0] + (g - s[0]) * (1 - b1)
            v = s[1] + (g * g - s[1]) * (1 - b2)
            w, s = w - lr * (c0 * m + c1 * g) / (np.sqrt(c2 * v) + eps), [m, v]
        out.append((w, s))
    return out


def _native_problem(kind, h, rng):
    ws = [rng.standard_normal(s).astype(np.float32) for s in NATIVE_SHAPES]
    slots = [_native_slots(kind, h, s, rng) for s in NATIVE_SHAPES]
    grads = [[(3 * rng.standard_normal(s)).astype(np.float32) for s in NATIVE_SHAPES] for _ in range(3)]
    return ws, slots, grads


def _native_update(kind, ws, gs, slots, hyper, isa):
    """A copy of (ws, slots) after one _C.optimizer_update on kernel path `isa`."""
    ws, slots = [w.copy() for w in ws], [[a.copy() for a in s] for s in slots]
    previous = fastdnn.get_isa()
    fastdnn.set_isa(isa)
    try:
        _C.optimizer_update(int(_C.OptimizerKind.__members__[kind]), ws, [g.copy() for g in gs], slots, hyper)
    finally:
        fastdnn.set_isa(previous)
    return ws, slots


@pytest.mark.parametrize("kind,h", NATIVE_CASES, ids=NATIVE_IDS)
def test_reference_path_is_the_rule_in_float64(kind, h, rng):
    """The reference kernel path (optim_ref.cpp) computes each element in double and rounds it to
    float32 once: its weights and state equal NumPy's float64 step rounded to float32, up to one
    float32 ulp where NumPy's and the kernel's double roundings straddle a float32 rounding
    boundary (rare: nearly every element must be exact, which a float32 computation is not)."""
    ws, slots, grads = _native_problem(kind, h, rng)
    u_product, exact, total = 1.0, 0, 0
    for t, gs in enumerate(grads, start=1):
        hyper, u_product = _native_hyper(kind, h, t, u_product)
        want = _native_step64(kind, ws, gs, slots, hyper)
        ws, slots = _native_update(kind, ws, gs, slots, hyper, "reference")
        for w, s, (w64, s64) in zip(ws, slots, want):
            for got, ref in zip([w] + s, [w64] + s64):
                ref32 = ref.astype(np.float32)
                np.testing.assert_array_max_ulp(got, ref32, maxulp=1)
                exact += int((got == ref32).sum())
                total += got.size
    assert exact >= 0.99 * total, f"only {exact} of {total} values are the float64 step rounded once"


@pytest.mark.parametrize("kind,h", NATIVE_CASES, ids=NATIVE_IDS)
def test_fast_paths_match_the_reference_path(kind, h, fast_isa, rng):
    """Each fast path (optim_rule.h's float32 steps) against the float64 reference path, from the
    same inputs at every step. A float32 step is a chain of at most ~10 roundings (clip scale,
    products, sums, a sqrt, a divide), each half an ulp of the terms it combines; the terms of
    an output are no larger than its old and new values and the step between them. So
        atol = OPTIM_ULPS · eps32 · (|old| + |new| + |step|)   (normwise: the largest over the
    array, as a state element near 0 can be the difference of two larger terms)."""
    ws, slots, grads = _native_problem(kind, h, rng)
    u_product = 1.0
    for t, gs in enumerate(grads, start=1):
        hyper, u_product = _native_hyper(kind, h, t, u_product)
        ref_ws, ref_slots = _native_update(kind, ws, gs, slots, hyper, "reference")
        got_ws, got_slots = _native_update(kind, ws, gs, slots, hyper, fast_isa)
        for k in range(len(ws)):
            for old, got, ref in zip([ws[k]] + slots[k], [got_ws[k]] + got_slots[k], [ref_ws[k]] + ref_slots[k]):
                old64, ref64 = old.astype(np.float64), ref.astype(np.float64)
                scale = np.max(np.abs(old64) + np.abs(ref64) + np.abs(ref64 - old64))
                assert_close(got, ref64, OPTIM_ULPS * EPS32 * scale, what=f"{fast_isa} step {t}")
        ws, slots = ref_ws, ref_slots


def _special_problem(kind, h, rng):
    """_native_problem with NaN and ±inf planted in the gradients and a weight set to inf."""
    ws, slots, grads = _native_problem(kind, h, rng)
    for gs in grads:
        flat = gs[1].reshape(-1)
        flat[rng.choice(flat.size, 12, replace=False)] = [np.nan] * 4 + [np.inf] * 4 + [-np.inf] * 4
    ws[1].reshape(-1)[:2] = [np.inf, -np.inf]
    return ws, slots, grads


@pytest.mark.parametrize("kind,h", NATIVE_CASES, ids=NATIVE_IDS)
def test_fast_paths_place_nan_and_inf_as_the_reference_path(kind, h, fast_isa, rng):
    """Non-finite gradients and weights: every path puts NaN and ±inf in the same places of the
    weights and the state (max's operand order, the clamp order, weight decay skipped at 0)."""
    ws, slots, grads = _special_problem(kind, h, rng)
    u_product = 1.0
    with np.errstate(invalid="ignore", over="ignore"):
        for t, gs in enumerate(grads, start=1):
            hyper, u_product = _native_hyper(kind, h, t, u_product)
            ref_ws, ref_slots = _native_update(kind, ws, gs, slots, hyper, "reference")
            got_ws, got_slots = _native_update(kind, ws, gs, slots, hyper, fast_isa)
            for got, ref in zip(got_ws + sum(got_slots, []), ref_ws + sum(ref_slots, [])):
                np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
                inf = np.isinf(ref)
                np.testing.assert_array_equal(got[inf], ref[inf])
                np.testing.assert_array_equal(np.isinf(got), inf)
            ws, slots = ref_ws, ref_slots


def test_reference_path_nonfinite_semantics():
    """The reference path's documented edge cases (optim_ref.cpp's header), one element each."""
    def step(kind, w, g, slots, **hyper):
        ws, ss = _native_update(kind, [np.array(w, np.float32)], [np.array(g, np.float32)],
                                [[np.array(s, np.float32) for s in slots]], {"learning_rate": 0.5, **hyper},
                                "reference")
        return ws[0], ss[0]

    with np.errstate(invalid="ignore"):
        w, _ = step("sgd", [1.0, 1.0, 1.0], [np.nan, np.inf, -np.inf], [], clipvalue=0.25)
        np.testing.assert_array_equal(w, np.float32([np.nan, 0.875, 1.125]))  # NaN kept, ±inf clamped
        w, _ = step("sgd", [np.inf, 1.0], [1.0, 1.0], [])  # no weight decay: inf stays inf
        np.testing.assert_array_equal(w, np.float32([np.inf, 0.5]))
        w, _ = step("sgd", [np.inf, 1.0], [1.0, 1.0], [], weight_decay=0.5)  # inf − lr·wd·inf
        assert np.isnan(w[0]) and w[1] == np.float32(1 - 0.25 - 0.5)
        w, s = step("adam", [1.0], [np.nan], [[0.0], [0.0], [0.75]], amsgrad=True, coef0=0.1, epsilon=1e-7)
        assert np.isnan(w[0]) and np.isnan(s[0][0]) and np.isnan(s[1][0]) and s[2][0] == 0.75  # max(v̂, NaN) = v̂
        w, s = step("adamax", [1.0], [np.nan], [[0.0], [0.5]], beta_1=0.9, beta_2=0.5, coef0=0.1, epsilon=1e-7)
        assert np.isnan(w[0]) and np.isnan(s[0][0]) and s[1][0] == 0.25  # max(β2·u, |NaN|) = β2·u
