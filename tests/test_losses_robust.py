"""fastdnn.losses' Huber and LogCosh (functions and classes): values against float64 NumPy
formulas written here (Huber's two branches; log(cosh e) and, for large errors, its logaddexp
form), every reduction and sample-weight shape, gradients on the GradientTape against central
finite differences of those formulas, real Keras 3 where installed, names, configs, errors, and
an evaluate."""

import json
import os

import fastdnn
import numpy as np
import pytest
from _tolerances import EPS32, FD_STEP
from fastdnn import losses as L
from fastdnn.autodiff import GradientTape

pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

# Huber rounds a subtraction, |.|, a min, a square, two products, a sum and the mean over the
# last axis in float32: a few ulp of each O(1) term; 2e-6 relative (plus 1e-7 absolute for
# losses near 0) is ~10x the worst seen (300 seeds, error scales 0.01 to 10) and fails a wrong
# branch, delta or factor 1/2 by far.
HUBER_RTOL = 2e-6
HUBER_ATOL = 1e-7
# LogCosh is |e| + log(1 + exp(-2|e|)) - log 2 in float32: the last subtraction cancels for
# small e, leaving an absolute error of a few ulp of |e| + log 2 in each element (Keras's float32
# form has the same). So each element gets LOGCOSH_ULPS·eps32·(1 + |e|) absolute; 8 is ~10x the
# worst seen (0.83, over 300 seeds with error scales 0.01 to 10), and still fails a missing
# log 2, a factor 2 or an exp(-|e|) by orders of magnitude.
LOGCOSH_ULPS = 8
# A gradient element of Huber is w·clip(e, -delta, delta)/count through ~5 float32 roundings;
# of LogCosh it is w·tanh(e)/count, built as sign(e)·(1 - 2·exp(-2|e|)/(1 + exp(-2|e|))), whose
# cancellation near e = 0 leaves a few ulp of w/count absolute. Both get GRAD_ULPS·eps32 of the
# element's scale (w/count): the worst seen is 1.3 (same sweep), so 8 leaves 6x; the finite
# differences (float64, FD_STEP) are exact to ~1e-10 of it.
GRAD_ULPS = 8
# Keras computes the same float32 formulas in another order: twice the tolerances above.
KERAS_FACTOR = 2.0

REDUCTIONS = ["sum_over_batch_size", "mean", "sum", "mean_with_sample_weight", "none", None]


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "numpy")
    return pytest.importorskip("keras", minversion="3.0")


# ---- float64 references --------------------------------------------------------------------------

def ref_huber_elements(e, delta=1.0):
    a = np.abs(e)
    return np.where(a <= delta, 0.5 * e ** 2, delta * a - 0.5 * delta ** 2)


def ref_log_cosh_elements(e):
    e = np.asarray(e, np.float64)
    small = np.abs(e) < 20
    # log(cosh e) directly where cosh is finite, else log((e^e + e^-e) / 2) by logaddexp
    return np.where(small, np.log(np.cosh(np.where(small, e, 0.0))), np.logaddexp(e, -e) - np.log(2.0))


def ref_reduce(elements, sample_weight, reduction):
    """Mean over the last axis, then Keras's weighting and reduction."""
    values = elements.mean(axis=-1)
    if sample_weight is not None:
        w = np.asarray(sample_weight, np.float64)
        if w.ndim == values.ndim + 1 and w.shape[-1] == 1:  # Keras: (n,) losses meet (n, 1)
            if values.ndim == 1:                            # weights as (n, 1); deeper ones
                values = values[:, None]                    # drop the weights' trailing 1
            else:
                w = w[..., 0]
        values = values * w
    if reduction in ("none", None):
        return values
    if reduction == "sum":
        return values.sum()
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        return values.sum() / np.broadcast_to(w, values.shape).sum()
    return values.sum() / values.size


def make_data(rng, shape=(13, 3), delta=1.0, scale=2.0):
    """Targets and float32 predictions whose errors stay 1e-3 away from the Huber kink +-delta
    (finite differences there would straddle it)."""
    y = rng.normal(size=shape)
    e = rng.normal(scale=scale, size=shape)
    near = np.abs(np.abs(e) - delta) < 1e-3
    e[near] += 0.01
    p = (y + e).astype(np.float32)
    return y.astype(np.float32), p


def errors(y, p):
    return np.asarray(p, np.float64) - np.asarray(y, np.float64)


CASES = {
    "huber": (lambda **kw: L.Huber(**kw), ref_huber_elements, {}),
    "huber_delta": (lambda **kw: L.Huber(delta=0.4, **kw), lambda e: ref_huber_elements(e, 0.4),
                    {"delta": 0.4}),
    "log_cosh": (lambda **kw: L.LogCosh(**kw), ref_log_cosh_elements, {}),
}


def assert_loss(case, got, y, p, w, reduction, factor=1.0):
    _, ref_elements, _ = CASES[case]
    e = errors(y, p)
    expected = ref_reduce(ref_elements(e), w, reduction)
    got = np.asarray(got, np.float64)
    assert got.shape == np.shape(expected)
    if case == "log_cosh":
        # each element's bound, weighted and reduced as the losses are (the reduction is linear)
        bounds = LOGCOSH_ULPS * EPS32 * (1 + np.abs(e))
        atol = factor * np.asarray(ref_reduce(bounds, None if w is None else np.abs(w), reduction))
        np.testing.assert_array_less(np.abs(got - expected), atol + 1e-30)
    else:
        np.testing.assert_allclose(got, expected, rtol=factor * HUBER_RTOL, atol=factor * HUBER_ATOL)


# ---- values ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weights", [None, "sample", "column"])
def test_reductions_and_sample_weights(case, reduction, weights, rng):
    make, _, _ = CASES[case]
    y, p = make_data(rng, delta=CASES[case][2].get("delta", 1.0))
    w = None if weights is None else rng.uniform(0.0, 2.0, (13,) if weights == "sample" else (13, 1))
    got = make(reduction=reduction)(y, p, sample_weight=w)
    assert got.dtype == np.float32
    assert_loss(case, got, y, p, w, reduction)


@pytest.mark.parametrize("case", sorted(CASES))
def test_functions_give_per_sample_losses(case, rng):
    kwargs = CASES[case][2]
    fn = L.huber if case.startswith("huber") else L.log_cosh
    for shape in [(9, 4), (5, 3, 2), (7, 1)]:
        y, p = make_data(rng, shape, delta=kwargs.get("delta", 1.0))
        got = fn(y, p, **kwargs)
        assert got.shape == shape[:-1] and got.dtype == np.float32
        assert_loss(case, got, y, p, None, "none")
    # (batch,) targets against (batch, 1) predictions: one loss per sample
    y, p = make_data(rng, (6, 1))
    assert fn(y[:, 0], p, **kwargs).shape == (6,)
    np.testing.assert_array_equal(fn(y[:, 0], p, **kwargs), fn(y, p, **kwargs))


def test_documented_values():
    y, p = [[0.0, 1.0], [0.0, 0.0]], [[0.6, 0.4], [0.4, 0.6]]
    assert float(L.Huber()(y, p)) == pytest.approx(0.155, rel=HUBER_RTOL)
    assert float(L.LogCosh()([[0.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [0.0, 0.0]])) == \
        pytest.approx(np.log(np.cosh(1.0)) / 4, rel=1e-6)


def test_large_errors_stay_finite_and_exact():
    """log(cosh e) for |e| up to 1e30 (cosh overflows float64 at 710): |e| - log 2, and Huber's
    linear branch."""
    e = np.array([[-1e30, -1e4, -50.0, 30.0, 900.0, 1e30]], np.float32)
    got = L.log_cosh(np.zeros_like(e), e)
    assert np.isfinite(got).all()
    expected = (np.abs(e.astype(np.float64)) - np.log(2.0)).mean(axis=-1)
    np.testing.assert_allclose(got, expected, rtol=4 * EPS32)
    got = L.huber(np.zeros_like(e), e, delta=2.0)
    np.testing.assert_allclose(got, ref_huber_elements(e.astype(np.float64), 2.0).mean(-1), rtol=4 * EPS32)


def test_zero_error_and_empty_batch():
    z = np.zeros((3, 2), np.float32)
    assert float(L.LogCosh()(z, z)) == 0.0 and float(L.Huber()(z, z)) == 0.0
    empty = np.zeros((0, 2), np.float32)
    assert float(L.Huber()(empty, empty)) == 0.0
    assert float(L.LogCosh(reduction="sum")(empty, empty)) == 0.0


# ---- gradients --------------------------------------------------------------------------------

def finite_difference(f, x):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += FD_STEP
        down[i] -= FD_STEP
        g[i] = (f(up) - f(down)) / (2 * FD_STEP)
    return g


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "mean_with_sample_weight"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_gradient_matches_finite_differences(case, reduction, weighted, rng):
    make, ref_elements, kwargs = CASES[case]
    y, p = make_data(rng, (11, 3), delta=kwargs.get("delta", 1.0))
    p[0, 0] = y[0, 0]  # one zero error, where |e| is not differentiable but the loss is
    w = rng.uniform(0.1, 2.0, 11) if weighted else None
    loss = make(reduction=reduction)
    with GradientTape() as tape:
        tape.watch(p)
        value = loss(y, p, sample_weight=w)
    grad = tape.gradient(value, p)
    y64 = y.astype(np.float64)
    expected = finite_difference(lambda q: ref_reduce(ref_elements(q - y64), w, reduction),
                                 p.astype(np.float64))
    count = {"sum": 1.0, "sum_over_batch_size": 11.0}.get(reduction, 11.0 if w is None else w.sum())
    scale = (np.ones(11) if w is None else w)[:, None] / (3 * count)
    np.testing.assert_array_less(np.abs(grad - expected),
                                 np.broadcast_to(GRAD_ULPS * EPS32 * scale + 1e-30, grad.shape))
    assert np.abs(expected).max() > 10 * GRAD_ULPS * EPS32 * scale.max()  # a real gradient


def test_gradient_reaches_the_weights(rng):
    """In a fit step: the dense layer's kernel gradient through Huber equals the chain rule on
    the float64 reference."""
    x = rng.normal(size=(8, 3)).astype(np.float32)
    y = rng.normal(size=(8, 2)).astype(np.float32) * 3
    layer = fastdnn.layers.Dense(2)
    layer.build((None, 3))
    with GradientTape() as tape:
        value = L.Huber(delta=0.7)(y, layer(x))
    kernel_grad = tape.gradient(value, layer.kernel)
    e = x.astype(np.float64) @ layer.kernel.numpy() + layer.bias.numpy() - y
    d_pred = np.clip(e, -0.7, 0.7) / e.size
    np.testing.assert_allclose(kernel_grad, x.T.astype(np.float64) @ d_pred, rtol=1e-5, atol=1e-7)


# ---- Keras ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_matches_keras(case, reduction, keras, rng):
    kwargs = CASES[case][2]
    y, p = make_data(rng, delta=kwargs.get("delta", 1.0))
    w = rng.uniform(0.0, 2.0, 13)
    cls = "Huber" if case.startswith("huber") else "LogCosh"
    ours = getattr(L, cls)(reduction=reduction, **kwargs)(y, p, sample_weight=w)
    theirs = np.asarray(getattr(keras.losses, cls)(reduction=reduction, **kwargs)(y, p, sample_weight=w))
    assert_loss(case, ours, y, p, w, reduction)
    assert_loss(case, theirs, y, p, w, reduction, factor=KERAS_FACTOR)
    fn = "huber" if cls == "Huber" else "log_cosh"
    assert_loss(case, getattr(L, fn)(y, p, **kwargs), y, p, None, "none")
    assert_loss(case, getattr(keras.losses, fn)(y, p, **kwargs), y, p, None, "none", factor=KERAS_FACTOR)


def test_configs_read_by_keras(keras):
    for ours in (L.Huber(delta=2.5, reduction="sum", name="h"), L.LogCosh(reduction=None)):
        config = json.loads(json.dumps(ours.get_config()))
        theirs = getattr(keras.losses, type(ours).__name__).from_config(config)
        assert theirs.name == ours.name and theirs.reduction == ours.reduction
        if isinstance(ours, L.Huber):
            assert theirs.fn.__name__ == "huber" and theirs._fn_kwargs == {"delta": 2.5}
    # Keras leaves delta out of Huber's config; such a config reads back as delta=1.0 (as Keras)
    keras_config = keras.losses.Huber(delta=3.0).get_config()
    assert L.Huber.from_config(keras_config).delta == 1.0
    assert keras.losses.LogCosh().get_config() == L.LogCosh().get_config()


# ---- names, configs and errors ---------------------------------------------------------------

def test_names_and_round_trips(rng):
    assert L.get("huber") is L.huber and L.get("log_cosh") is L.log_cosh
    for name, fn in (("huber", L.huber), ("log_cosh", L.log_cosh)):
        wrapped = L.resolve(name)
        assert wrapped.fn is fn and wrapped.name == name
        assert L.deserialize(L.serialize(fn)) is fn
    with pytest.raises(ValueError, match="log_cosh"):  # Keras 3 has no "logcosh" either
        L.get("logcosh")
    assert L.Huber().get_config() == {"name": "huber_loss", "reduction": "sum_over_batch_size", "delta": 1.0}
    assert L.LogCosh().get_config() == {"name": "log_cosh", "reduction": "sum_over_batch_size"}
    y, p = make_data(rng)
    for loss in (L.Huber(delta=0.3, reduction="sum", name="h"), L.LogCosh(reduction="none")):
        config = json.loads(json.dumps(L.serialize(loss)))
        again = L.deserialize(config)
        assert type(again) is type(loss) and again.get_config() == loss.get_config()
        np.testing.assert_array_equal(again(y, p), loss(y, p))
    assert type(L.get("Huber")) is L.Huber and type(L.get("LogCosh")) is L.LogCosh


def test_delta_errors():
    for bad in (0, -1.0, float("nan"), float("inf"), "1", None, True):
        with pytest.raises(ValueError, match="delta"):
            L.Huber(delta=bad)
        with pytest.raises(ValueError, match="delta"):
            L.huber([[0.0]], [[1.0]], delta=bad)


def test_evaluate_with_huber(rng):
    x = rng.normal(size=(30, 3)).astype(np.float32)
    y = rng.normal(size=(30, 1)).astype(np.float32) * 2
    model = fastdnn.Sequential([fastdnn.Input(shape=[3]), fastdnn.layers.Dense(1)])
    model.compile(optimizer="sgd", loss=L.Huber(delta=0.5), metrics=["mae"])
    loss = model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)["loss"]
    e = model.predict(x, verbose=0).astype(np.float64) - y
    assert loss == pytest.approx(ref_huber_elements(e, 0.5).mean(), rel=HUBER_RTOL)
