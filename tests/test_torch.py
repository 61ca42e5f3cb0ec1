"""matmul and dense against PyTorch's float32 CPU implementations, where torch is installed."""

import numpy as np
import pytest

from fastdnn import ops

from _tolerances import TORCH_ACT_ATOL, TORCH_ACT_RTOL, TORCH_GEMM_FACTOR, gemm_atol
from activations import ACTIVATION_IDS, ACTIVATIONS
from conftest import assert_close
from reference import activation_lipschitz, gemm_scale

torch = pytest.importorskip("torch")
F = torch.nn.functional


def torch_activation(name, **kwargs):
    if name in (None, "linear", "identity"):
        return lambda t: t
    if name == "relu":
        return F.relu
    if name == "leaky_relu":
        slope = kwargs.get("alpha")
        if slope is None:
            slope = kwargs.get("negative_slope", 0.2)
        return lambda t: F.leaky_relu(t, negative_slope=slope)
    if name == "elu":
        return lambda t: F.elu(t, alpha=kwargs.get("alpha", 1.0))
    if name == "selu":
        return F.selu
    if name == "sigmoid":
        return torch.sigmoid
    if name == "tanh":
        return torch.tanh
    raise KeyError(name)


def t(x):
    return torch.from_numpy(np.ascontiguousarray(x))


@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)],
                         ids=["NN", "TN", "NT", "TT"])
@pytest.mark.parametrize("shape", [(3, 17, 33), (257, 33, 1000), (100, 300, 257)],
                         ids=lambda s: "x".join(map(str, s)))
def test_matmul_matches_torch(shape, ta, tb, fast_isa, rng):
    m, n, k = shape
    a = rng.uniform(-1, 1, (k, m) if ta else (m, k)).astype(np.float32)
    b = rng.uniform(-1, 1, (n, k) if tb else (k, n)).astype(np.float32)
    ta_, tb_ = t(a), t(b)
    expected = (ta_.T if ta else ta_) @ (tb_.T if tb else tb_)
    c = ops.matmul(a, b, transpose_a=ta, transpose_b=tb)
    atol = TORCH_GEMM_FACTOR * gemm_atol(k, gemm_scale(a, b, ta, tb))
    assert_close(c, expected.numpy(), atol, what="fastdnn vs torch matmul")


@pytest.mark.parametrize("activation,kwargs", ACTIVATIONS, ids=ACTIVATION_IDS)
def test_dense_matches_torch(activation, kwargs, isa, rng):
    m, k, n = 64, 48, 75
    x = rng.uniform(-1, 1, (m, k)).astype(np.float32)
    kernel = (5 * rng.uniform(-1, 1, (k, n))).astype(np.float32)  # z spans about [-35, 35]
    bias = rng.uniform(-3, 3, n).astype(np.float32)
    act = torch_activation(activation, **kwargs)

    y, z = ops.dense(x, kernel, bias, activation, return_preactivation=True, **kwargs)
    # Same pre-activation in, same activation out.
    assert_close(y, act(t(z)).numpy(), TORCH_ACT_ATOL, TORCH_ACT_RTOL, what="act(z) vs torch")
    # The whole layer, as torch.nn.functional.linear + activation computes it.
    y_torch = act(F.linear(t(x), t(kernel.T), t(bias))).numpy()
    atol = TORCH_GEMM_FACTOR * gemm_atol(k + 1, gemm_scale(x, kernel, c0=bias))
    atol *= activation_lipschitz(activation, **kwargs)
    assert_close(y, y_torch, atol, TORCH_ACT_RTOL, what="dense vs torch layer")


@pytest.mark.parametrize("activation,kwargs", ACTIVATIONS, ids=ACTIVATION_IDS)
def test_activation_near_zero_matches_torch(activation, kwargs):
    mags = np.logspace(-7, 0, 300)
    z = np.concatenate([mags, -mags]).astype(np.float32).reshape(-1, 1)
    y = ops.dense(z, np.ones((1, 1), np.float32), activation=activation, **kwargs)
    expected = torch_activation(activation, **kwargs)(t(z)).numpy()
    assert_close(y, expected, TORCH_ACT_ATOL, TORCH_ACT_RTOL, what="near-zero vs torch")
