"""BatchNormalization: native kernels on every kernel path vs float64 references (NumPy and the
native float64 reference), gradients by finite differences; the reference kernel path
(bn_ref.cpp) vs the float64 formulas rounded once, and the fast paths vs the reference path;
moving statistics, PyTorch, the chapter's models."""

import contextlib
import io
import json

import numpy as np
import pytest

import fastdnn
import fastdnn as keras
from fastdnn import _C
from fastdnn.layers.normalization import batch_norm_inference, batch_norm_train

from _tolerances import BN_AFFINE_ULPS, BN_DX_ULPS, EPS32
from chapter_models import bn_after_activation, bn_before_activation
from conftest import assert_close


# ---- float64 NumPy references -----------------------------------------------------------------

def ref_train(x, gamma, beta, eps):
    x = np.asarray(x, np.float64)
    x2 = x.reshape(-1, x.shape[-1])
    mean = x2.mean(axis=0)
    var = ((x2 - mean) ** 2).mean(axis=0)
    g = np.ones_like(mean) if gamma is None else np.asarray(gamma, np.float64)
    b = np.zeros_like(mean) if beta is None else np.asarray(beta, np.float64)
    y = g * (x - mean) / np.sqrt(var + eps) + b
    return y, mean, var


def ref_infer(x, mean, var, gamma, beta, eps):
    x = np.asarray(x, np.float64)
    g = 1.0 if gamma is None else np.asarray(gamma, np.float64)
    b = 0.0 if beta is None else np.asarray(beta, np.float64)
    return g * (x - np.asarray(mean, np.float64)) / np.sqrt(np.asarray(var, np.float64) + eps) + b


def rng(seed=0):
    return np.random.default_rng(seed)


# ---- kernels --------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(1, 1), (7, 3), (64, 33), (4, 5, 17), (2, 3, 4, 9), (256, 300)])
@pytest.mark.parametrize("affine", [True, False])
def test_forward_train_matches_float64(shape, affine, isa):
    r = rng(1)
    x = (r.normal(size=shape) * 3 + 2).astype(np.float32)
    f = shape[-1]
    gamma = r.normal(size=f).astype(np.float32) if affine else None
    beta = r.normal(size=f).astype(np.float32) if affine else None
    y, mean, var = batch_norm_train(x, gamma, beta, 1e-3)
    ry, rm, rv = ref_train(x, gamma, beta, 1e-3)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(mean, rm, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(var, rv, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(y, ry, rtol=1e-4, atol=1e-4)
    # the native float64 reference agrees with NumPy too
    cy, cm, cv = _C.batchnorm_reference_forward(x.astype(np.float64), gamma, beta, 1e-3)
    np.testing.assert_allclose(cy, ry, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(cv, rv, rtol=1e-10, atol=1e-12)


def test_forward_train_large_offset_is_stable(isa):
    # A large common offset: a naive E[x²] − E[x]² in float32 would lose the variance entirely.
    r = rng(2)
    x = (1e4 + r.normal(size=(4096, 8))).astype(np.float32)
    _, mean, var = batch_norm_train(x, None, None, 0.0)
    _, rm, rv = ref_train(x, None, None, 0.0)
    np.testing.assert_allclose(var, rv, rtol=1e-5)
    np.testing.assert_allclose(mean, rm, rtol=1e-7)


def test_forward_constant_feature(isa):
    x = np.full((10, 3), 5.0, np.float32)
    y, mean, var = batch_norm_train(x, None, None, 1e-3)
    np.testing.assert_array_equal(var, 0.0)
    np.testing.assert_allclose(y, 0.0, atol=1e-6)


@pytest.mark.parametrize("shape", [(5, 4), (3, 6, 10)])
def test_forward_inference_matches_float64(shape, isa):
    r = rng(3)
    x = r.normal(size=shape).astype(np.float32)
    f = shape[-1]
    mm = r.normal(size=f).astype(np.float32)
    mv = r.uniform(0.1, 3, size=f).astype(np.float32)
    g, b = r.normal(size=f).astype(np.float32), r.normal(size=f).astype(np.float32)
    y = batch_norm_inference(x, mm, mv, g, b, 1e-3)
    np.testing.assert_allclose(y, ref_infer(x, mm, mv, g, b, 1e-3), rtol=1e-5, atol=1e-5)
    y = batch_norm_inference(x, mm, mv, None, None, 1e-2)
    np.testing.assert_allclose(y, ref_infer(x, mm, mv, None, None, 1e-2), rtol=1e-5, atol=1e-5)


def test_native_argument_errors():
    x = np.ones((4, 3), np.float32)
    with pytest.raises(TypeError, match="float32"):
        _C.batchnorm_forward_train(x.astype(np.float64), None, None, 1e-3)
    with pytest.raises(ValueError, match="gamma"):
        _C.batchnorm_forward_train(x, np.ones(4, np.float32), None, 1e-3)
    with pytest.raises(ValueError, match="epsilon"):
        _C.batchnorm_forward_train(x, None, None, -1.0)
    with pytest.raises(ValueError, match="same shape"):
        _C.batchnorm_backward(np.ones((4, 2), np.float32), x, np.zeros(3, np.float32),
                              np.ones(3, np.float32), None, True)


# ---- gradients ----------------------------------------------------------------------------------

def _numeric_grads(fn, arrays, h=1e-6):
    grads = []
    for a in arrays:
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            old = a[idx]
            a[idx] = old + h
            fp = fn()
            a[idx] = old - h
            fm = fn()
            a[idx] = old
            g[idx] = (fp - fm) / (2 * h)
        grads.append(g)
    return grads


def _tape_grads(x, gamma, beta, w, training, mm=None, mv=None, eps=1e-3):
    xv = x.astype(np.float32)
    gv = fastdnn.Variable(gamma) if gamma is not None else None
    bv = fastdnn.Variable(beta) if beta is not None else None
    with fastdnn.GradientTape() as tape:
        tape.watch(xv)
        if training:
            y, _, _ = batch_norm_train(xv, gv, bv, eps)
        else:
            y = batch_norm_inference(xv, mm, mv, gv, bv, eps)
        loss = fastdnn.ops.sum(fastdnn.ops.multiply(y, w.astype(np.float32)))
    sources = [xv] + [v for v in (gv, bv) if v is not None]
    return tape.gradient(loss, sources)


@pytest.mark.parametrize("shape", [(6, 4), (2, 3, 5)])
@pytest.mark.parametrize("affine", [True, False])
def test_training_gradients_match_finite_differences(shape, affine, isa):
    r = rng(4)
    f = shape[-1]
    x = r.normal(size=shape) * 2 + 1
    gamma = r.normal(size=f) if affine else None
    beta = r.normal(size=f) if affine else None
    w = r.normal(size=shape)
    x32 = x.astype(np.float32)
    g32 = gamma.astype(np.float32) if affine else None
    b32 = beta.astype(np.float32) if affine else None
    got = _tape_grads(x32, g32, b32, w, True)
    # finite differences of the float64 reference at the same (float32-rounded) point
    xd = x32.astype(np.float64)
    params = [xd] + ([g32.astype(np.float64), b32.astype(np.float64)] if affine else [])
    fn = lambda: float(np.sum(ref_train(params[0], params[1] if affine else None,  # noqa: E731
                                        params[2] if affine else None, 1e-3)[0] * w))
    want = _numeric_grads(fn, params)
    assert len(got) == len(want)
    for g, wnt in zip(got, want):
        assert g.shape == wnt.shape and g.dtype == np.float32
        np.testing.assert_allclose(g, wnt, rtol=1e-3, atol=1e-4)


def test_inference_gradients_match_finite_differences(isa):
    r = rng(5)
    x = r.normal(size=(5, 3)).astype(np.float32)
    g, b = r.normal(size=3).astype(np.float32), r.normal(size=3).astype(np.float32)
    mm, mv = r.normal(size=3).astype(np.float32), r.uniform(0.5, 2, 3).astype(np.float32)
    w = r.normal(size=(5, 3))
    got = _tape_grads(x, g, b, w, False, mm, mv)
    params = [x.astype(np.float64), g.astype(np.float64), b.astype(np.float64)]
    want = _numeric_grads(lambda: float(np.sum(ref_infer(params[0], mm, mv, params[1], params[2], 1e-3) * w)),
                          params)
    for gg, wnt in zip(got, want):
        np.testing.assert_allclose(gg, wnt, rtol=1e-4, atol=1e-5)


# ---- PyTorch ----------------------------------------------------------------------------------

def test_matches_torch_train_and_eval():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    r = rng(6)
    n, f, momentum, eps = 32, 7, 0.9, 1e-3
    layer = keras.layers.BatchNormalization(momentum=momentum, epsilon=eps,
                                            gamma_initializer="random_normal",
                                            beta_initializer="random_normal")
    xs = [(r.normal(size=(n, f)) * 2 + 3).astype(np.float32) for _ in range(3)]
    layer.build(xs[0].shape)
    gamma, beta = layer.gamma.numpy(), layer.beta.numpy()
    rm = torch.zeros(f, dtype=torch.float64)
    rv = torch.ones(f, dtype=torch.float64)
    ours_var = np.ones(f)
    for x in xs:
        tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        tg = torch.tensor(gamma, dtype=torch.float64, requires_grad=True)
        tb = torch.tensor(beta, dtype=torch.float64, requires_grad=True)
        rv_before = rv.clone()
        ty = F.batch_norm(tx, rm, rv, tg, tb, training=True, momentum=1 - momentum, eps=eps)
        w = r.normal(size=(n, f))
        (ty * torch.tensor(w)).sum().backward()
        xv = x.copy()
        with fastdnn.GradientTape() as tape:
            tape.watch(xv)
            y = layer(xv, training=True)
            loss = fastdnn.ops.sum(fastdnn.ops.multiply(y, w.astype(np.float32)))
        dx, dg, db = tape.gradient(loss, [xv, layer.gamma, layer.beta])
        np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-3, atol=1e-4)
        np.testing.assert_allclose(dg, tg.grad.numpy(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(db, tb.grad.numpy(), rtol=1e-4, atol=1e-4)
        # torch: running_mean uses momentum' = 1 - keras momentum, running_var the unbiased variance
        np.testing.assert_allclose(layer.moving_mean.numpy(), rm.numpy(), rtol=1e-5, atol=1e-5)
        unbiased = ((rv - momentum * rv_before) / (1 - momentum)).numpy()
        ours_var = momentum * ours_var + (1 - momentum) * unbiased * (n - 1) / n
        np.testing.assert_allclose(layer.moving_variance.numpy(), ours_var, rtol=1e-5, atol=1e-5)
    # eval: torch with the same (our) moving statistics
    x = r.normal(size=(5, f)).astype(np.float32)
    ty = F.batch_norm(torch.tensor(x, dtype=torch.float64), torch.tensor(layer.moving_mean.numpy(), dtype=torch.float64),
                      torch.tensor(layer.moving_variance.numpy(), dtype=torch.float64),
                      torch.tensor(gamma, dtype=torch.float64), torch.tensor(beta, dtype=torch.float64),
                      training=False, eps=eps)
    np.testing.assert_allclose(layer(x, training=False), ty.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(layer(x), ty.numpy(), rtol=1e-4, atol=1e-4)


# ---- the layer ----------------------------------------------------------------------------------

def test_moving_statistics_follow_the_formula():
    r = rng(7)
    layer = keras.layers.BatchNormalization(momentum=0.8)
    mm, mv = np.zeros(4), np.ones(4)
    for _ in range(5):
        x = (r.normal(size=(16, 4)) * 3 + 1).astype(np.float32)
        y = layer(x, training=True)
        ry, m, v = ref_train(x, layer.gamma.numpy(), layer.beta.numpy(), 1e-3)
        np.testing.assert_allclose(y, ry, rtol=1e-4, atol=1e-4)
        mm = mm * 0.8 + m * 0.2
        mv = mv * 0.8 + v * 0.2  # Keras uses the biased batch variance
    np.testing.assert_allclose(layer.moving_mean.numpy(), mm, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.numpy(), mv, rtol=1e-5, atol=1e-5)
    # inference uses them and leaves them unchanged
    x = r.normal(size=(3, 4)).astype(np.float32)
    before = layer.get_weights()
    for training in (False, None):
        np.testing.assert_allclose(layer(x, training=training),
                                   ref_infer(x, mm, mv, layer.gamma.numpy(), layer.beta.numpy(), 1e-3),
                                   rtol=1e-4, atol=1e-4)
    for a, b in zip(before, layer.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_weights_and_epsilon_momentum_args():
    layer = keras.layers.BatchNormalization(epsilon=0.5, momentum=0.5, center=False)
    x = rng(8).normal(size=(8, 3)).astype(np.float32)
    y = layer(x, training=True)
    np.testing.assert_allclose(y, ref_train(x, None, None, 0.5)[0], rtol=1e-4, atol=1e-5)
    assert [w.path for w in layer.weights] == [f"{layer.name}/gamma", f"{layer.name}/moving_mean",
                                                f"{layer.name}/moving_variance"]
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.5 * x.astype(np.float64).mean(0), rtol=1e-5)
    full = keras.layers.BatchNormalization()
    full.build((None, 5))
    assert [w.trainable for w in full.weights] == [True, True, False, False]
    assert full.count_params() == 20
    assert len(full.trainable_weights) == 2 and len(full.non_trainable_weights) == 2
    none = keras.layers.BatchNormalization(center=False, scale=False)
    np.testing.assert_allclose(none(x, training=True), ref_train(x, None, None, 1e-3)[0], rtol=1e-4, atol=1e-5)
    assert len(none.weights) == 2


def test_frozen_layer_uses_moving_statistics():
    r = rng(9)
    layer = keras.layers.BatchNormalization()
    layer.build((None, 4))
    layer.moving_mean.assign(r.normal(size=4))
    layer.moving_variance.assign(r.uniform(0.5, 2, 4))
    layer.trainable = False
    before = layer.get_weights()
    x = r.normal(size=(6, 4)).astype(np.float32)
    y = layer(x, training=True)
    np.testing.assert_allclose(y, ref_infer(x, before[2], before[3], before[0], before[1], 1e-3),
                               rtol=1e-4, atol=1e-4)
    for a, b in zip(before, layer.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 4


def test_config_round_trip():
    layer = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, center=False,
                                            gamma_initializer="he_normal", name="bn_cfg")
    config = layer.get_config()
    assert config["momentum"] == 0.9 and config["epsilon"] == 1e-5 and config["center"] is False
    clone = keras.layers.BatchNormalization.from_config(config)
    assert clone.get_config() == config
    again = keras.layers.deserialize(json.loads(json.dumps(keras.layers.serialize(layer))))
    assert type(again) is keras.layers.BatchNormalization and again.get_config() == config
    x = rng(11).normal(size=(3, 2, 5)).astype(np.float32)
    y = layer(x)
    layer.set_weights([w + 0.25 for w in layer.get_weights()])
    y = layer(x)
    again(x)
    again.set_weights(layer.get_weights())
    np.testing.assert_array_equal(again(x), y)


def test_axis_errors():
    for axis in (-2, 1.5, [1, 2], "last"):
        with pytest.raises(ValueError, match="last axis"):
            keras.layers.BatchNormalization(axis=axis)
    layer = keras.layers.BatchNormalization(axis=1)
    with pytest.raises(ValueError, match="last axis"):
        layer(np.zeros((2, 3, 4), np.float32))
    ok = keras.layers.BatchNormalization(axis=1)  # the last axis of 2-D inputs
    assert ok(np.ones((2, 3), np.float32), training=True).shape == (2, 3)
    with pytest.raises(ValueError, match="momentum"):
        keras.layers.BatchNormalization(momentum=1.5)
    with pytest.raises(ValueError, match="epsilon"):
        keras.layers.BatchNormalization(epsilon=-1)
    built = keras.layers.BatchNormalization()
    built(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="features"):
        built(np.ones((2, 4), np.float32))


# ---- the chapter's models -------------------------------------------------------------------------

def _brightness_data(n=512, seed=10):
    r = rng(seed)
    b = r.uniform(0, 1, n)
    x = np.clip(b[:, None, None] + r.normal(scale=0.25, size=(n, 28, 28)), 0, 1).astype(np.float32)
    y = np.minimum((b * 4).astype(np.int64), 3)  # four brightness bands
    return x, y


@pytest.mark.parametrize("make, total, non_trainable", [
    (bn_after_activation, 784 * 4 + 784 * 300 + 300 + 300 * 4 + 300 * 100 + 100 + 100 * 4 + 1010,
     2 * (784 + 300 + 100)),
    (bn_before_activation, 784 * 4 + 784 * 300 + 300 * 4 + 300 * 100 + 100 * 4 + 1010, 2 * (784 + 300 + 100)),
], ids=["bn_after_activation", "bn_before_activation"])
def test_chapter_models_train(make, total, non_trainable):
    fastdnn.random.set_seed(42) if hasattr(fastdnn.random, "set_seed") else None
    model = make()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        model.summary()
    text = out.getvalue()
    assert f"Total params: {total:,}" in text
    assert f"Non-trainable params: {non_trainable:,}" in text
    assert f"Trainable params: {total - non_trainable:,}" in text
    x, y = _brightness_data()
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    bn = model.layers[1]
    mm0 = bn.moving_mean.numpy()
    history = model.fit(x, y, epochs=4, batch_size=32, verbose=0)
    loss = history.history["loss"]
    assert all(np.isfinite(loss))
    assert loss[-1] < 0.8 * loss[0], loss
    assert not np.array_equal(bn.moving_mean.numpy(), mm0)  # moving statistics were updated
    # after 4 epochs × 16 steps from zeros, the moving mean of the first BN layer holds
    # (1 − 0.99^64) of the mean pixel value
    expected = (1 - 0.99 ** 64) * float(x.mean())
    assert abs(float(bn.moving_mean.numpy().mean()) - expected) < 0.03
    preds = model.predict(x[:64], verbose=0)
    assert preds.shape == (64, 10) and np.all(np.isfinite(preds))
    assert history.history["accuracy"][-1] > 0.5


def test_frozen_bn_in_model_is_unchanged_by_fit():
    model = bn_after_activation()
    x, y = _brightness_data(128)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
    model.build((None, 28, 28)) if not model.built else None
    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    model.predict(x[:2], verbose=0)
    before = [layer.get_weights() for layer in bns]
    dense_before = model.layers[2].get_weights()[0].copy()
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    for layer, ws in zip(bns, before):
        for a, b in zip(ws, layer.get_weights()):
            np.testing.assert_array_equal(a, b)
    assert not np.array_equal(dense_before, model.layers[2].get_weights()[0])


def test_inference_backward_does_not_read_x(isa):
    """In inference mode dx = gamma·inv_std·dy: a NaN or inf in x must not reach dx (it did as
    0·x in the shared training/inference formula)."""
    x = np.array([[np.nan, 1.0], [np.inf, -np.inf]], np.float32)
    dy = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    mean, inv_std, gamma = (np.array(v, np.float32) for v in ([0.5, -1.0], [2.0, 0.25], [1.5, -3.0]))
    dx, _, dbeta = _C.batchnorm_backward(dy, x, mean, inv_std, gamma, False)
    np.testing.assert_allclose(dx, dy * (gamma * inv_std), rtol=1e-7)
    np.testing.assert_array_equal(dbeta, dy.sum(axis=0))


# ---- the kernels on their own: the reference path, and the fast paths against it ----------------
# The entry points round their per-feature coefficients to float32 before the element-wise
# kernel (bn_op.cpp: center = mean, scale = gamma·inv_std, shift = beta) and the backward reads
# float32 mean and inv_std; the NumPy models below take the same float32 values, so every
# difference left is the kernels' own arithmetic.

BN_SHAPES = [(1, 1), (7, 3), (64, 33), (4, 5, 17), (256, 40)]


def _bn_data(shape, seed, affine=True):
    r = rng(seed)
    f = shape[-1]
    x = (r.normal(size=shape) * 3 + r.normal(size=f) * 5).astype(np.float32)  # offsets per feature
    gamma = r.normal(size=f).astype(np.float32) if affine else None
    beta = r.normal(size=f).astype(np.float32) if affine else None
    return x, gamma, beta


def _on(isa, fn, *args):
    previous = fastdnn.get_isa()
    fastdnn.set_isa(isa)
    try:
        return fn(*args)
    finally:
        fastdnn.set_isa(previous)


def _affine64(x, center, scale, shift):
    """(x − center)·scale + shift in float64 from the float32 coefficients, and the size of its
    terms |x − center|·|scale| + |shift| (what a float32 evaluation rounds)."""
    x2 = x.astype(np.float64).reshape(-1, x.shape[-1])
    c, s, b = (np.asarray(v, np.float32).astype(np.float64) for v in (center, scale, shift))
    return ((x2 - c) * s + b).reshape(x.shape), (np.abs(x2 - c) * np.abs(s) + np.abs(b)).reshape(x.shape)


def _train_coefficients(x, gamma, beta, eps):
    x2 = x.astype(np.float64).reshape(-1, x.shape[-1])
    mean = x2.mean(axis=0)
    var = ((x2 - mean) ** 2).mean(axis=0)
    inv_std = 1.0 / np.sqrt(var + eps)
    g = np.ones_like(mean) if gamma is None else gamma.astype(np.float64)
    b = np.zeros_like(mean) if beta is None else beta
    return mean, var, inv_std, (np.float32(mean), np.float32(g * inv_std), np.float32(b))


def _backward64(dy, x, mean, inv_std, gamma, training):
    """Ioffe & Szegedy's backward in float64 from float32 inputs: (dx, dgamma, dbeta), the size
    of dx's terms as the fast kernel combines them (k1·dy − k2 − k3·x), and of dgamma's."""
    f = x.shape[-1]
    d, x2 = dy.astype(np.float64).reshape(-1, f), x.astype(np.float64).reshape(-1, f)
    m, s = mean.astype(np.float64), inv_std.astype(np.float64)
    g = np.ones(f) if gamma is None else gamma.astype(np.float64)
    n = d.shape[0]
    xhat = (x2 - m) * s
    dbeta, dgamma = d.sum(axis=0), (d * xhat).sum(axis=0)
    if training:
        dx = g * s / n * (n * d - dbeta - xhat * dgamma)
        e = dgamma / n * s
        terms = np.abs(g * s * d) + np.abs(g * s * (dbeta / n - e * m)) + np.abs(g * s * e * x2)
    else:
        dx = g * s * d
        terms = np.abs(dx)
    return dx.reshape(x.shape), dgamma, dbeta, terms.reshape(x.shape), np.abs(d * xhat).sum(axis=0)


def _max_ulp(got, want, what):
    try:
        np.testing.assert_array_max_ulp(got, want, maxulp=1)
    except AssertionError as e:
        raise AssertionError(f"{what}: {e}") from None


def _assert_rounded_once(got, ref64, what):
    """got is ref64 rounded to float32: one ulp allowed where two double evaluations straddle a
    float32 rounding boundary, but nearly every element exact (which float32 arithmetic is not)."""
    ref32 = np.asarray(ref64, np.float64).astype(np.float32)
    _max_ulp(got, ref32, what)
    return int((got == ref32).sum()), got.size


@pytest.mark.parametrize("shape", BN_SHAPES)
@pytest.mark.parametrize("affine", [True, False])
def test_reference_path_forward_is_float64(shape, affine):
    x, gamma, beta = _bn_data(shape, 20, affine)
    eps = 1e-3
    y, mean, var, inv_std = _on("reference", _C.batchnorm_forward_train, x, gamma, beta, eps)
    m64, v64, is64, coef = _train_coefficients(x, gamma, beta, eps)
    counts = [_assert_rounded_once(mean, m64, "mean"), _assert_rounded_once(var, v64, "var"),
              _assert_rounded_once(inv_std, is64, "inv_std")]
    y64, _ = _affine64(x, *coef)
    counts.append(_assert_rounded_once(y, y64, "y"))
    # and against the textbook formula: the float32 coefficients are off by half an ulp of the
    # mean (times |scale|) and of the scale (times |x − mean|), y by half an ulp of its own
    ry, _, _ = ref_train(x, gamma, beta, eps)
    s = np.abs(coef[1].astype(np.float64))
    x2 = x.astype(np.float64).reshape(-1, shape[-1])
    bound = EPS32 * ((np.abs(x2 - m64) + np.abs(m64)) * s).reshape(shape) + EPS32 * np.abs(ry) + 1e-30
    assert_close(y, ry, bound, what="y vs the formula")
    # inference with given statistics: center = moving mean, scale = gamma / sqrt(var + eps)
    mm, mv = mean, np.abs(var) + 0.5
    yi = _on("reference", _C.batchnorm_forward_infer, x, mm, mv, gamma, beta, eps)
    g = np.ones(shape[-1]) if gamma is None else gamma.astype(np.float64)
    yi64, _ = _affine64(x, mm, np.float32(g / np.sqrt(mv.astype(np.float64) + eps)),
                        np.zeros(shape[-1]) if beta is None else beta)
    counts.append(_assert_rounded_once(yi, yi64, "inference y"))
    exact, total = map(sum, zip(*counts))
    assert exact >= 0.99 * total, f"only {exact} of {total} values are the float64 formula rounded once"


@pytest.mark.parametrize("shape", BN_SHAPES)
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
def test_reference_path_backward_is_float64(shape, affine, training):
    x, gamma, _ = _bn_data(shape, 21, affine)
    dy = rng(22).normal(size=shape).astype(np.float32)
    _, mean, _, inv_std = _C.batchnorm_forward_train(x, gamma, None, 1e-3)
    dx, dgamma, dbeta = _on("reference", _C.batchnorm_backward, dy, x, mean, inv_std, gamma, training)
    rdx, rdg, rdb, _, _ = _backward64(dy, x, mean, inv_std, gamma, training)
    counts = [_assert_rounded_once(dx, rdx, "dx"), _assert_rounded_once(dgamma, rdg, "dgamma"),
              _assert_rounded_once(dbeta, rdb, "dbeta")]
    exact, total = map(sum, zip(*counts))
    assert exact >= 0.99 * total, f"only {exact} of {total} values are the float64 formula rounded once"


@pytest.mark.parametrize("shape", BN_SHAPES)
@pytest.mark.parametrize("affine", [True, False])
def test_fast_paths_match_the_reference_path(shape, affine, fast_isa):
    """Statistics: both paths accumulate in float64 and round once, so one ulp apart at most.
    y = (x − center)·scale + shift in float32 rounds three times (or twice with an FMA), half an
    ulp of the terms each: BN_AFFINE_ULPS · eps32 · (|x − center|·|scale| + |shift|). dx =
    k1·dy − k2 − k3·x with float32 coefficients: BN_DX_ULPS · eps32 · (the terms' sizes), which
    is larger than |dx| where the mean is large (k2 and k3·x then nearly cancel). dgamma and
    dbeta: float64 sums rounded once, an ulp apart plus float64 rounding of the summands."""
    x, gamma, beta = _bn_data(shape, 23, affine)
    eps = 1e-3
    ref = _on("reference", _C.batchnorm_forward_train, x, gamma, beta, eps)
    got = _on(fast_isa, _C.batchnorm_forward_train, x, gamma, beta, eps)
    for a, b, name in zip(got[1:], ref[1:], ["mean", "var", "inv_std"]):
        _max_ulp(a, b, name)
    _, _, _, coef = _train_coefficients(x, gamma, beta, eps)
    _, terms = _affine64(x, *coef)
    assert_close(got[0], ref[0], BN_AFFINE_ULPS * EPS32 * terms + 1e-30, what=f"{fast_isa} y")
    mm, mv = ref[1], ref[2] + 0.5
    ref_i = _on("reference", _C.batchnorm_forward_infer, x, mm, mv, gamma, beta, eps)
    got_i = _on(fast_isa, _C.batchnorm_forward_infer, x, mm, mv, gamma, beta, eps)
    g = np.ones(shape[-1]) if gamma is None else gamma.astype(np.float64)
    _, terms = _affine64(x, mm, np.float32(g / np.sqrt(mv.astype(np.float64) + eps)),
                         np.zeros(shape[-1]) if beta is None else beta)
    assert_close(got_i, ref_i, BN_AFFINE_ULPS * EPS32 * terms + 1e-30, what=f"{fast_isa} inference y")
    dy = rng(24).normal(size=shape).astype(np.float32)
    for training in (True, False):
        args = (dy, x, ref[1], ref[3], gamma, training)
        rdx, rdg, rdb = _on("reference", _C.batchnorm_backward, *args)
        gdx, gdg, gdb = _on(fast_isa, _C.batchnorm_backward, *args)
        _, _, _, dx_terms, dg_terms = _backward64(*args)
        assert_close(gdx, rdx, BN_DX_ULPS * EPS32 * dx_terms + 1e-30, what=f"{fast_isa} dx")
        assert_close(gdg, rdg, 1e-12 * dg_terms + 1e-30, rtol=EPS32, what=f"{fast_isa} dgamma")
        assert_close(gdb, rdb, 1e-12 * np.abs(dy.astype(np.float64)).reshape(-1, shape[-1]).sum(0) + 1e-30,
                     rtol=EPS32, what=f"{fast_isa} dbeta")


def test_empty_batch_and_a_nan_feature_on_every_path(isa):
    """No rows: zero statistics, inv_std = 1/sqrt(eps), empty outputs and zero dgamma, dbeta. A
    NaN in one feature spoils that feature's statistics, outputs and gradients only."""
    x = np.zeros((0, 3), np.float32)
    y, mean, var, inv_std = _C.batchnorm_forward_train(x, None, None, 0.25)
    assert y.shape == (0, 3)
    np.testing.assert_array_equal(mean, 0.0)
    np.testing.assert_array_equal(var, 0.0)
    np.testing.assert_array_equal(inv_std, 2.0)
    dx, dgamma, dbeta = _C.batchnorm_backward(x, x, mean, inv_std, None, True)
    assert dx.shape == (0, 3) and not dgamma.any() and not dbeta.any()
    x, gamma, beta = _bn_data((9, 4), 25)
    x[3, 1] = np.nan
    dy = rng(26).normal(size=x.shape).astype(np.float32)
    with np.errstate(invalid="ignore"):
        y, mean, var, inv_std = _C.batchnorm_forward_train(x, gamma, beta, 1e-3)
        dx, dgamma, dbeta = _C.batchnorm_backward(dy, x, mean, inv_std, gamma, True)
    bad = np.array([False, True, False, False])
    for v in (mean, var, inv_std, dgamma):
        np.testing.assert_array_equal(np.isnan(v), bad)
    for v in (y, dx):
        np.testing.assert_array_equal(np.isnan(v), np.broadcast_to(bad, x.shape))
    assert np.isfinite(dbeta).all()
