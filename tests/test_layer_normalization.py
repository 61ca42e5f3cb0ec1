"""LayerNormalization: the native kernels (csrc/layernorm/) against their float64 reference and
an independent NumPy float64 formula, the backward against an explicit float64 Jacobian, finite
differences and PyTorch, and the layer against Keras 3 (config, parameter counts, predictions)
where Keras is installed."""

import contextlib
import os
import sys
from pathlib import Path

import fastdnn
import numpy as np
import pytest
from _tolerances import EPS32, FD_STEP, MODEL_FWD_RTOL, grad_atol
from fastdnn import _C
from fastdnn.layers.layer_normalization import layer_norm

# Forward: y = (x − m)·s·gamma + beta in float32, m and s = 1/sqrt(var + eps) from float64
# statistics, each rounded once to float32. The rounding of m (eps/2·|m|) shifts every x − m of
# the row; the difference, the rounded s and the two products each add eps/2 of |x − m|·s·|gamma|,
# and the sum eps/2 of |y|. So the error is at most about 2.5·eps·(|gamma|·s·(|m| + |x − m|) +
# |beta|) elementwise; the largest error seen over every case and kernel path is 1.55 times that
# bracket, so LN_FWD_FACTOR = 4 leaves 2.6x headroom, yet fails a statistic rounded to float16,
# a dropped epsilon or a wrong shift (errors 100x larger and more).
LN_FWD_FACTOR = 4.0
# Backward, per row: dx = s·g + k0 + k2·(x − m) with g = gamma·dy and the row sums Σg, Σg·x̂
# taken in float64 from float32 x̂ (each off by up to eps/2·(|m|·s + 3·|x̂|)). Every term of dx is
# bounded by s·max|g|·(1 + max|x̂|)², so LN_BWD_FACTOR·eps·(1 + |m|·s)·s·max|g|·(1 + max|x̂|)² is
# the row's tolerance (largest error seen: 0.22 of it with a factor of 1); dgamma and dbeta sum
# dy·x̂ and dy over rows in float64, so their bound is the sum of the terms' own roundings,
# eps·Σ|dy|·(|x̂| + |m|·s) (at most 1.5 times it analytically, 1.15 seen). A factor of 4 leaves
# 2.6x headroom or more and fails a missing mean(g) or mean(g·x̂) term (errors of order 1) by
# orders of magnitude.
LN_BWD_FACTOR = 4.0
# PyTorch's float32 layer_norm and fastdnn's each round like the bounds above; twice the bound.
TORCH_FACTOR = 2.0


# ---- float64 NumPy references -----------------------------------------------------------------

def np_layer_norm(x, gamma, beta, eps, axes=(-1,)):
    """gamma·(x − mean)/sqrt(var + eps) + beta over `axes`, in float64 (gamma and beta shaped to
    broadcast)."""
    x = np.asarray(x, np.float64)
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    y = (x - mean) / np.sqrt(var + eps)
    if gamma is not None:
        y = y * np.asarray(gamma, np.float64)
    if beta is not None:
        y = y + np.asarray(beta, np.float64)
    return y


def np_backward_by_jacobian(dy, x, gamma, eps):
    """(dx, dgamma, dbeta) of the last-axis layer norm, dx from each row's explicit Jacobian
    ∂y_j/∂x_i = gamma_j·s·(δ_ij − 1/n − x̂_i·x̂_j/n): another formulation than the kernels'."""
    x, dy = np.asarray(x, np.float64), np.asarray(dy, np.float64)
    rows = x.reshape(-1, x.shape[-1])
    drows = dy.reshape(rows.shape)
    n = rows.shape[1]
    g = np.ones(n) if gamma is None else np.asarray(gamma, np.float64)
    dx = np.empty_like(rows)
    xhat_all = np.empty_like(rows)
    for r, (row, d) in enumerate(zip(rows, drows)):
        s = 1.0 / np.sqrt(row.var() + eps)
        xhat = (row - row.mean()) * s
        jac = s * (np.eye(n) - 1.0 / n - np.outer(xhat, xhat) / n) * g[None, :]  # [i, j] = ∂y_j/∂x_i
        dx[r] = jac @ d
        xhat_all[r] = xhat
    return dx.reshape(x.shape), (drows * xhat_all).sum(axis=0), drows.sum(axis=0)


def _data(rng, shape, offset=0.0, spread=1.0):
    return (rng.standard_normal(shape) * spread + offset).astype(np.float32)


def _row_stats(x, eps):
    rows = np.asarray(x, np.float64).reshape(-1, x.shape[-1])
    mean = rows.mean(axis=1)
    return mean, 1.0 / np.sqrt(rows.var(axis=1) + eps)


def _fwd_atol(x, gamma, beta, eps):
    mean, s = _row_stats(x, eps)
    rows = np.asarray(x, np.float64).reshape(-1, x.shape[-1])
    g = np.ones(x.shape[-1]) if gamma is None else np.abs(gamma.astype(np.float64))
    b = np.zeros(x.shape[-1]) if beta is None else np.abs(beta.astype(np.float64))
    bound = g * s[:, None] * (np.abs(mean)[:, None] + np.abs(rows - mean[:, None])) + b
    return (LN_FWD_FACTOR * EPS32 * bound).reshape(x.shape) + 1e-30


def _bwd_atols(dy, x, gamma, eps):
    mean, s = _row_stats(x, eps)
    rows = np.asarray(x, np.float64).reshape(-1, x.shape[-1])
    d = np.asarray(dy, np.float64).reshape(rows.shape)
    xhat = (rows - mean[:, None]) * s[:, None]
    g = d * (1.0 if gamma is None else gamma.astype(np.float64))
    shift = 1.0 + np.abs(mean) * s
    row_scale = shift * s * np.abs(g).max(axis=1, initial=0.0) * (1.0 + np.abs(xhat).max(axis=1, initial=0.0)) ** 2
    dx_atol = np.broadcast_to((LN_BWD_FACTOR * EPS32 * row_scale)[:, None], rows.shape).reshape(x.shape)
    param_atol = LN_BWD_FACTOR * EPS32 * (np.abs(d) * (np.abs(xhat) + (np.abs(mean) * s)[:, None])).sum(axis=0)
    return dx_atol + 1e-30, param_atol + 1e-30, LN_BWD_FACTOR * EPS32 * np.abs(d).sum(axis=0) + 1e-30


def _affine(rng, n, kind):
    gamma = rng.standard_normal(n).astype(np.float32) if kind in ("both", "gamma") else None
    beta = rng.standard_normal(n).astype(np.float32) if kind in ("both", "beta") else None
    return gamma, beta


SHAPES = [(1, 1), (3, 17), (17, 3), (33, 257), (257, 33), (5, 1000), (2, 3, 17), (1000, 5)]


# ---- kernels --------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("affine", ["both", "gamma", "beta", "none"])
def test_forward_matches_the_float64_reference_and_numpy(shape, affine, isa, threads, rng):
    x = _data(rng, shape, offset=3.0, spread=2.0)
    gamma, beta = _affine(rng, shape[-1], affine)
    y, mean, inv_std = _C.layernorm_forward(x, gamma, beta, 1e-3)
    assert y.dtype == np.float32 and y.shape == x.shape and mean.shape == inv_std.shape == shape[:-1]
    expected = np_layer_norm(x, gamma, beta, 1e-3)
    ref_y, ref_mean, ref_var = _C.layernorm_reference_forward(x.astype(np.float64), gamma, beta, 1e-3)
    np.testing.assert_allclose(ref_y, expected, rtol=1e-12, atol=1e-12)  # both exact in float64
    atol = _fwd_atol(x, gamma, beta, 1e-3)
    assert np.all(np.abs(y - expected) <= atol)
    m64, s64 = _row_stats(x, 1e-3)
    np.testing.assert_allclose(mean.reshape(-1), m64, rtol=EPS32, atol=1e-30)  # rounded once
    np.testing.assert_allclose(inv_std.reshape(-1), s64, rtol=EPS32)
    np.testing.assert_allclose(ref_mean.reshape(-1), m64, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(ref_var.reshape(-1), 1 / s64**2 - 1e-3, rtol=1e-10, atol=1e-13)


@contextlib.contextmanager
def _on_isa(name):
    previous = fastdnn.get_isa()
    fastdnn.set_isa(name)
    try:
        yield
    finally:
        fastdnn.set_isa(previous)


def test_the_reference_path_runs_the_float64_reference(rng):
    # set_isa("reference") reaches layer norm through the CpuIsa table. Its forward is the float64
    # reference's, rounded once, so exactly layernorm_reference_forward's; its backward is the
    # float64 formula over the float32 mean and inv_std it is given, rounded once: within one
    # float32 ulp of NumPy's float64 (the sums' order differs only in the double's last bits;
    # atol covers dx entries that cancel to ~0). The fast paths round differently somewhere.
    x = _data(rng, (64, 257), offset=3.0, spread=2.0)
    gamma, beta = _affine(rng, 257, "both")
    dy = rng.standard_normal(x.shape).astype(np.float32)
    ref_y, ref_mean, ref_var = _C.layernorm_reference_forward(x.astype(np.float64), gamma, beta, 1e-3)
    with _on_isa("reference"):
        y, mean, inv_std = _C.layernorm_forward(x, gamma, beta, 1e-3)
        dx, dgamma, dbeta = _C.layernorm_backward(dy, x, mean, inv_std, gamma)
    np.testing.assert_array_equal(y, ref_y.astype(np.float32))
    np.testing.assert_array_equal(mean, ref_mean.astype(np.float32))
    np.testing.assert_array_equal(inv_std, (1 / np.sqrt(ref_var + 1e-3)).astype(np.float32))
    d64, g64 = dy.astype(np.float64), gamma.astype(np.float64)
    xhat = (x - mean.astype(np.float64)[:, None]) * inv_std.astype(np.float64)[:, None]
    g = d64 * g64
    n = x.shape[1]
    want_dx = inv_std[:, None] / n * (n * g - g.sum(1, keepdims=True) - xhat * (g * xhat).sum(1, keepdims=True))
    np.testing.assert_allclose(dx, want_dx, rtol=EPS32, atol=1e-12)
    np.testing.assert_allclose(dgamma, (d64 * xhat).sum(0), rtol=EPS32)
    np.testing.assert_allclose(dbeta, d64.sum(0), rtol=EPS32)
    for name in [i for i in fastdnn.available_isas() if i != "reference"]:
        with _on_isa(name):
            fast_y = _C.layernorm_forward(x, gamma, beta, 1e-3)[0]
        assert not np.array_equal(fast_y, y), f"{name}'s layer norm gave the reference's bits"


def test_forward_keeps_float32_accuracy_when_the_mean_dwarfs_the_spread(isa, rng):
    """Rows of mean 1e4 and spread 1: E[x²] − mean² would lose 8 digits; the shifted sums do not."""
    x = _data(rng, (64, 300), offset=1e4, spread=1.0)
    y, _, inv_std = _C.layernorm_forward(x, None, None, 1e-5)
    expected = np_layer_norm(x, None, None, 1e-5)
    assert np.all(np.abs(y - expected) <= _fwd_atol(x, None, None, 1e-5))
    np.testing.assert_allclose(inv_std, _row_stats(x, 1e-5)[1], rtol=EPS32)


def test_constant_rows_give_beta(rng):
    """x̂ = 0 on a constant row: y = beta exactly, dgamma = 0 and dx = s·(g − mean(g)), g = gamma·dy."""
    x = np.full((4, 9), 7.25, np.float32)
    gamma, beta = _affine(rng, 9, "both")
    y, mean, inv_std = _C.layernorm_forward(x, gamma, beta, 1e-3)
    np.testing.assert_array_equal(y, np.broadcast_to(beta, x.shape))
    np.testing.assert_array_equal(mean, 7.25)
    np.testing.assert_allclose(inv_std, 1 / np.sqrt(1e-3), rtol=EPS32)
    dy = _data(rng, x.shape)
    dx, dgamma, _ = _C.layernorm_backward(dy, x, mean, inv_std, gamma)
    g = dy.astype(np.float64) * gamma
    expected = (g - g.mean(axis=1, keepdims=True)) / np.sqrt(1e-3)
    assert np.all(np.abs(dx - expected) <= _bwd_atols(dy, x, gamma, 1e-3)[0])
    np.testing.assert_array_equal(dgamma, 0.0)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("affine", ["both", "none"])
def test_backward_matches_the_reference_and_an_explicit_jacobian(shape, affine, isa, threads, rng):
    x = _data(rng, shape, offset=-2.0, spread=1.5)
    dy = _data(rng, shape)
    gamma, beta = _affine(rng, shape[-1], affine)
    _, mean, inv_std = _C.layernorm_forward(x, gamma, beta, 1e-3)
    dx, dgamma, dbeta = _C.layernorm_backward(dy, x, mean, inv_std, gamma)
    ref_dx, ref_dgamma, ref_dbeta = _C.layernorm_reference_backward(dy.astype(np.float64), x.astype(np.float64),
                                                                    gamma, 1e-3)
    if shape[-1] <= 257:  # the Jacobian is n × n per row
        jac_dx, jac_dgamma, jac_dbeta = np_backward_by_jacobian(dy, x, gamma, 1e-3)
        np.testing.assert_allclose(ref_dx, jac_dx, rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(ref_dgamma, jac_dgamma, rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(ref_dbeta, jac_dbeta, rtol=1e-12, atol=1e-12)
    dx_atol, dgamma_atol, dbeta_atol = _bwd_atols(dy, x, gamma, 1e-3)
    assert np.all(np.abs(dx - ref_dx) <= dx_atol)
    assert np.all(np.abs(dgamma - ref_dgamma) <= dgamma_atol)
    assert np.all(np.abs(dbeta - ref_dbeta) <= dbeta_atol)


def _fd_gradients(x, gamma, beta, eps, weights):
    """Central differences (float64) of Σ weights·layer_norm(x) with respect to x, gamma, beta."""
    def loss(x_, g_, b_):
        return float((weights * np_layer_norm(x_, g_, b_, eps)).sum())

    x64, g64, b64 = x.astype(np.float64), gamma.astype(np.float64), beta.astype(np.float64)
    grads = []
    for target in (x64, g64, b64):
        grad = np.zeros_like(target)
        for index in np.ndindex(target.shape):
            keep = target[index]
            target[index] = keep + FD_STEP
            up = loss(x64, g64, b64)
            target[index] = keep - FD_STEP
            down = loss(x64, g64, b64)
            target[index] = keep
            grad[index] = (up - down) / (2 * FD_STEP)
        grads.append(grad)
    return grads


@pytest.mark.parametrize("shape", [(1, 3), (3, 5), (4, 2, 7)])
def test_tape_gradients_match_finite_differences(shape, isa, rng):
    x = _data(rng, shape, offset=0.5)
    gamma, beta = _affine(rng, shape[-1], "both")
    weights = rng.standard_normal(shape)
    g_var, b_var = fastdnn.Variable(gamma), fastdnn.Variable(beta)
    with fastdnn.GradientTape() as tape:
        tape.watch(x)
        y = layer_norm(x, g_var, b_var, 1e-3)
        loss = fastdnn.ops.sum(fastdnn.ops.multiply(y, weights.astype(np.float32)))
    dx, dgamma, dbeta = tape.gradient(loss, [x, g_var, b_var])
    fd_x, fd_gamma, fd_beta = _fd_gradients(x, gamma, beta, 1e-3, weights)
    rows = int(np.prod(shape[:-1]))
    np.testing.assert_allclose(dx, fd_x, rtol=0, atol=grad_atol(fd_x, shape[-1]))
    np.testing.assert_allclose(dgamma, fd_gamma, rtol=0, atol=grad_atol(fd_gamma, rows))
    np.testing.assert_allclose(dbeta, fd_beta, rtol=0, atol=grad_atol(fd_beta, rows))


def test_results_do_not_depend_on_the_thread_count(rng):
    x = _data(rng, (3000, 301), offset=1.0)
    dy = _data(rng, x.shape)
    gamma, beta = _affine(rng, 301, "both")
    previous = fastdnn.get_num_threads()
    results = []
    try:
        for n in (1, 2, 3):
            fastdnn.set_num_threads(n)
            y, mean, inv_std = _C.layernorm_forward(x, gamma, beta, 1e-3)
            results.append((y, mean, inv_std) + tuple(_C.layernorm_backward(dy, x, mean, inv_std, gamma)))
    finally:
        fastdnn.set_num_threads(previous)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


def test_empty_batches_and_empty_rows():
    y, mean, inv_std = _C.layernorm_forward(np.zeros((0, 4), np.float32), None, None, 1e-3)
    assert y.shape == (0, 4) and mean.shape == inv_std.shape == (0,)
    dx, dgamma, dbeta = _C.layernorm_backward(np.zeros((0, 4), np.float32), np.zeros((0, 4), np.float32),
                                              mean, inv_std, None)
    assert dx.shape == (0, 4)
    np.testing.assert_array_equal(dgamma, 0.0)
    np.testing.assert_array_equal(dbeta, 0.0)
    y, mean, _ = _C.layernorm_forward(np.zeros((3, 0), np.float32), None, None, 1e-3)
    assert y.shape == (3, 0) and np.isnan(mean).all()  # the mean of no values, as NumPy's


def test_kernel_arguments_are_checked():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(TypeError, match="float32"):
        _C.layernorm_forward(x.astype(np.float64), None, None, 1e-3)
    with pytest.raises(ValueError, match=r"`gamma` must have shape \(3,\)"):
        _C.layernorm_forward(x, np.ones(4, np.float32), None, 1e-3)
    with pytest.raises(ValueError, match="epsilon"):
        _C.layernorm_forward(x, None, None, -1.0)
    with pytest.raises(ValueError, match="at least 1 dimension"):
        _C.layernorm_forward(np.array(1.0, np.float32), None, None, 1e-3)
    _, mean, inv_std = _C.layernorm_forward(x, None, None, 1e-3)
    with pytest.raises(ValueError, match="same shape"):
        _C.layernorm_backward(np.ones((2, 4), np.float32), x, mean, inv_std, None)
    with pytest.raises(ValueError, match="one value per row"):
        _C.layernorm_backward(x, x, np.ones(3, np.float32), inv_std, None)


@pytest.mark.parametrize("shape", [(4, 7), (3, 2, 33)])
def test_matches_torch_forward_and_backward(shape, rng):
    torch = pytest.importorskip("torch")
    x = _data(rng, shape, offset=1.0)
    dy = _data(rng, shape)
    gamma, beta = _affine(rng, shape[-1], "both")
    tx = torch.tensor(x, requires_grad=True)
    tg, tb = torch.tensor(gamma, requires_grad=True), torch.tensor(beta, requires_grad=True)
    ty = torch.nn.functional.layer_norm(tx, (shape[-1],), tg, tb, 1e-3)
    ty.backward(torch.tensor(dy))
    y, mean, inv_std = _C.layernorm_forward(x, gamma, beta, 1e-3)
    dx, dgamma, dbeta = _C.layernorm_backward(dy, x, mean, inv_std, gamma)
    assert np.all(np.abs(y - ty.detach().numpy()) <= TORCH_FACTOR * _fwd_atol(x, gamma, beta, 1e-3))
    dx_atol, dgamma_atol, dbeta_atol = _bwd_atols(dy, x, gamma, 1e-3)
    assert np.all(np.abs(dx - tx.grad.numpy()) <= TORCH_FACTOR * dx_atol)
    # torch sums dgamma and dbeta in float32 over the rows: its own error grows with sqrt(rows)
    rows = int(np.prod(shape[:-1]))
    assert np.all(np.abs(dgamma - tg.grad.numpy()) <= TORCH_FACTOR * np.sqrt(rows) * dgamma_atol)
    assert np.all(np.abs(dbeta - tb.grad.numpy()) <= TORCH_FACTOR * np.sqrt(rows) * dbeta_atol)


# ---- the layer --------------------------------------------------------------------------------

@pytest.mark.parametrize("axis, shape", [(-1, (5, 6)), (2, (3, 4, 5)), (1, (3, 4, 5)), ([1, 2], (3, 4, 5)),
                                         ((-2, -1), (2, 3, 4, 5)), ([0, 1], (4, 6))])
def test_layer_forward_over_any_axes(axis, shape, rng):
    layer = fastdnn.layers.LayerNormalization(axis=axis, epsilon=0.01)
    x = _data(rng, shape, offset=2.0)
    layer.build(shape)
    gamma = rng.standard_normal(layer.gamma.shape).astype(np.float32)
    beta = rng.standard_normal(layer.beta.shape).astype(np.float32)
    layer.set_weights([gamma, beta])
    axes = tuple(sorted(a % len(shape) for a in (axis if isinstance(axis, (list, tuple)) else [axis])))
    broadcast = [shape[a] if a in axes else 1 for a in range(len(shape))]
    expected = np_layer_norm(x, gamma.reshape(broadcast), beta.reshape(broadcast), 0.01, axes)
    np.testing.assert_allclose(layer(x), expected, rtol=MODEL_FWD_RTOL, atol=MODEL_FWD_RTOL)


@pytest.mark.parametrize("axis, shape", [(-1, (3, 4)), ([1, 2], (2, 3, 4))])
@pytest.mark.parametrize("center, scale", [(True, True), (False, True), (True, False), (False, False)])
def test_layer_gradients_match_finite_differences(axis, shape, center, scale, rng):
    layer = fastdnn.layers.LayerNormalization(axis=axis, center=center, scale=scale, epsilon=0.01,
                                              gamma_initializer="random_normal", beta_initializer="random_normal")
    x = _data(rng, shape)
    weights = rng.standard_normal(shape)
    layer.build(shape)
    axes = tuple(a % len(shape) for a in layer.axis)
    broadcast = [shape[a] if a in axes else 1 for a in range(len(shape))]
    with fastdnn.GradientTape() as tape:
        tape.watch(x)
        loss = fastdnn.ops.sum(fastdnn.ops.multiply(layer(x), weights.astype(np.float32)))
    params = layer.trainable_weights
    grads = tape.gradient(loss, [x] + params)
    assert len(params) == int(center) + int(scale)
    values = [x.astype(np.float64)] + [p.numpy().astype(np.float64) for p in params]

    def f(vals):
        g = vals[1].reshape(broadcast) if scale else None
        b = vals[-1].reshape(broadcast) if center else None
        return float((weights * np_layer_norm(vals[0], g, b, 0.01, axes)).sum())

    for grad, value in zip(grads, values):
        fd = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            keep = value[index]
            value[index] = keep + FD_STEP
            up = f(values)
            value[index] = keep - FD_STEP
            fd[index] = (up - f(values)) / (2 * FD_STEP)
            value[index] = keep
        np.testing.assert_allclose(grad, fd, rtol=0, atol=grad_atol(fd, x.size))


def test_rms_scaling_follows_keras(rng):
    with pytest.warns(UserWarning, match="rms_scaling"):
        layer = fastdnn.layers.LayerNormalization(rms_scaling=True, epsilon=0.01, gamma_initializer="random_normal")
    x = _data(rng, (4, 6), offset=1.0)
    y = layer(x)
    assert [w.name for w in layer.weights] == ["gamma"]
    x64 = x.astype(np.float64)
    expected = x64 / np.sqrt(x64.var(axis=-1, keepdims=True) + 0.01) * layer.gamma.numpy()
    np.testing.assert_allclose(y, expected, rtol=MODEL_FWD_RTOL, atol=MODEL_FWD_RTOL)


def test_layer_arguments_and_inputs_are_checked():
    L = fastdnn.layers.LayerNormalization
    with pytest.raises(TypeError, match="axis"):
        L(axis="last")
    with pytest.raises(TypeError, match="axis"):
        L(axis=[1, 1.5])
    with pytest.raises(ValueError, match="epsilon"):
        L(epsilon=-1e-3)
    with pytest.raises(ValueError, match=r"\[-2, 2\)"):
        L(axis=2)(np.ones((2, 3)))
    layer = L()
    layer(np.ones((2, 3)))
    with pytest.raises(ValueError, match="built for sizes"):
        layer(np.ones((2, 4)))
    with pytest.raises(ValueError, match="known"):
        fastdnn.Sequential([fastdnn.Input((None,)), L()])


def test_config_round_trip_registration_and_models(rng):
    layer = fastdnn.layers.LayerNormalization(axis=[1, 2], epsilon=0.02, center=False,
                                              gamma_initializer="he_normal", gamma_regularizer="l2",
                                              gamma_constraint="non_neg", name="ln")
    config = layer.get_config()
    clone = fastdnn.layers.deserialize(fastdnn.layers.serialize(layer))
    assert type(clone) is fastdnn.layers.LayerNormalization and clone.get_config() == config
    inputs = fastdnn.Input((3, 4))
    outputs = fastdnn.layers.Dense(2)(fastdnn.layers.LayerNormalization(axis=[1, 2])(inputs))
    functional = fastdnn.Model(inputs, outputs)
    assert functional.count_params() == 3 * 4 * 2 + 4 * 2 + 2
    sequential = fastdnn.Sequential([fastdnn.Input((5,)), fastdnn.layers.LayerNormalization(), fastdnn.layers.Dense(1)])
    assert sequential.layers[0].count_params() == 10
    assert sequential.layers[0].compute_output_shape((None, 5)) == (None, 5)
    x = _data(rng, (16, 5))
    sequential.compile(optimizer="sgd", loss="mse")
    before = sequential.layers[0].get_weights()
    sequential.fit(x, x[:, :1], epochs=2, verbose=0)
    after = sequential.layers[0].get_weights()
    assert all(np.abs(a - b).max() > 0 for a, b in zip(before, after))  # gamma and beta trained


def test_native_file_round_trip(tmp_path, rng):
    model = fastdnn.Sequential([fastdnn.Input((6,)), fastdnn.layers.LayerNormalization(beta_initializer="random_normal")])
    path = tmp_path / "ln.fdnn"
    model.save(path)
    loaded = fastdnn.models.load_model(path)
    x = _data(rng, (3, 6))
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_a_model_on_the_gpu_says_the_layer_runs_on_the_cpu(monkeypatch):
    sys.path.insert(0, str(Path(__file__).parent / "cuda"))
    try:
        import fake_backend
    finally:
        sys.path.pop(0)
    fake_backend.install(monkeypatch)
    model = fastdnn.Sequential([fastdnn.Input((4,)), fastdnn.layers.LayerNormalization()]).to("cuda")
    with pytest.raises(NotImplementedError, match="CPU only"):
        model.predict(np.ones((2, 4), np.float32), verbose=0)


# ---- Keras 3 -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "numpy")
    return pytest.importorskip("keras", minversion="3.0")


def _plain(config):
    return {k: v for k, v in config.items() if k not in ("name", "dtype")}


@pytest.mark.parametrize("kwargs", [
    lambda k: {},
    lambda k: {"axis": [1, 2], "epsilon": 0.01, "center": False},
    lambda k: {"axis": 1, "scale": False, "beta_regularizer": k.regularizers.L1(0.5)},  # 0.5: exact in float32
    lambda k: {"rms_scaling": True}])
@pytest.mark.filterwarnings("ignore:You passed `rms_scaling=True`:UserWarning")  # both libraries warn
def test_same_config_parameters_and_outputs_as_keras(keras, kwargs, rng):
    shape = (4, 3, 5)
    ours = fastdnn.layers.LayerNormalization(**kwargs(fastdnn))
    theirs = keras.layers.LayerNormalization(**kwargs(keras))
    ours.build(shape)
    theirs.build(shape)
    assert ours.count_params() == theirs.count_params()
    assert [w.name for w in ours.weights] == [w.name for w in theirs.weights]
    ours_config, theirs_config = _plain(ours.get_config()), _plain(theirs.get_config())
    for key in ("beta_initializer", "gamma_initializer", "beta_regularizer"):
        for config in (ours_config, theirs_config):
            if isinstance(config.get(key), dict):
                config[key] = {"class_name": config[key]["class_name"], "config": config[key]["config"]}
    assert ours_config == theirs_config
    weights = [rng.standard_normal(w.shape).astype(np.float32) for w in theirs.weights]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    x = _data(rng, shape, offset=1.0)
    np.testing.assert_allclose(ours(x), np.asarray(theirs(x)), rtol=MODEL_FWD_RTOL, atol=MODEL_FWD_RTOL)
    rebuilt = fastdnn.layers.LayerNormalization.from_config(theirs.get_config())
    assert _plain(rebuilt.get_config())["axis"] == theirs_config["axis"]
