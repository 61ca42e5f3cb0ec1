"""The native code tables (csrc/core/codes.h, exported as fastdnn._C's enums): every name, its
code, and the behaviour that code selects, checked against an independent float64 formula
chosen by the name. A code that moved, or a kernel that switched on a stale number, fails here.
The CUDA kernels' side of the same tables: tests/cuda/test_codes_cuda.py."""

import numpy as np
import pytest

import fastdnn
from fastdnn import _C, _codes
from fastdnn import constraints as C
from _tolerances import ACT_ATOL, ACT_RTOL, CONSTRAINT_ULPS, EPS32
from test_optimizers import ADAM, keras_reference

SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805

# name -> (value(z, alpha), derivative as a function of the value y), float64.
ACTIVATIONS = {
    "identity": (lambda z, a: z, lambda y, a: np.ones_like(y)),
    "relu": (lambda z, a: np.maximum(z, 0), lambda y, a: (y > 0) * 1.0),
    "leaky_relu": (lambda z, a: np.where(z > 0, z, a * z), lambda y, a: np.where(y > 0, 1.0, a)),
    "elu": (lambda z, a: np.where(z > 0, z, a * np.expm1(np.minimum(z, 0))),
            lambda y, a: np.where(y > 0, 1.0, y + a)),
    "selu": (lambda z, a: SELU_SCALE * np.where(z > 0, z, SELU_ALPHA * np.expm1(np.minimum(z, 0))),
             lambda y, a: np.where(y > 0, SELU_SCALE, y + SELU_SCALE * SELU_ALPHA)),
    "sigmoid": (lambda z, a: 1 / (1 + np.exp(-z)), lambda y, a: y * (1 - y)),
    "tanh": (lambda z, a: np.tanh(z), lambda y, a: 1 - y * y),
}
BINARY = ["add", "subtract", "multiply", "divide", "maximum", "minimum", "greater_equal", "greater", "second"]
UNARY = ["negative", "square", "abs", "exp", "log", "sqrt", "clip", "scale", "sign", "inside", "gelu", "gelu_grad"]


@pytest.mark.parametrize("table,names", [
    (_codes.ACTIVATION, list(ACTIVATIONS)), (_codes.BINARY, BINARY), (_codes.UNARY, UNARY),
    (_codes.OPTIMIZER, ["sgd", "adagrad", "rmsprop", "adam", "adamax", "nadam"]),
    (_codes.CONSTRAINT, ["max_norm", "non_neg", "unit_norm", "min_max_norm"]),
], ids=["activation", "binary", "unary", "optimizer", "constraint"])
def test_every_table_is_complete_and_numbered_densely(table, names):
    """Each table holds exactly the names the layers and kernels use, coded 0..n-1."""
    assert sorted(table) == sorted(names)
    assert sorted(table.values()) == list(range(len(names)))


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_code_selects_its_formula(name):
    z = np.linspace(-6, 6, 97).astype(np.float32)
    alpha = {"leaky_relu": 0.3, "elu": 0.7}.get(name, 0.0)
    value, grad = ACTIVATIONS[name]
    code = _codes.ACTIVATION[name]
    y = _C.act_forward(z, code, alpha)
    np.testing.assert_allclose(y, value(z.astype(np.float64), alpha), rtol=ACT_RTOL, atol=1e-6)
    dy = np.linspace(-1, 1, 97).astype(np.float32)
    dx = _C.act_backward(y, dy, code, alpha, False)[0]
    np.testing.assert_allclose(dx, dy * grad(y.astype(np.float64), alpha), rtol=ACT_RTOL, atol=ACT_ATOL + 1e-7)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_ops_names_reach_the_same_code(name):
    """fastdnn.ops.dense(activation=name) runs the kernel of that name's code."""
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    k = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    want = _C.gemm(x, k, False, False, None, False, None, _codes.ACTIVATION[name],
                   {"leaky_relu": 0.2, "elu": 1.0}.get(name, 0.0), False)[0]
    np.testing.assert_array_equal(fastdnn.ops.dense(x, k, activation=name), want)


@pytest.mark.parametrize("name", ["sgd", "adagrad", "rmsprop", "adam", "adamax", "nadam"])
def test_optimizer_code_selects_its_rule(name):
    """The optimizer registered under `name` sends that name's code, and three steps follow
    Keras 3's rule of that name (float64 reference; float32 steps: 1e-5 relative)."""
    opt = fastdnn.optimizers.get(name)
    assert opt._kind == name  # optimizers.py sends _codes.OPTIMIZER[opt._kind]
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal((7, 5)).astype(np.float32)
    steps = [[rng.standard_normal((7, 5)).astype(np.float32)] for _ in range(3)]
    var = fastdnn.Variable(w0.copy())
    for grads in steps:
        opt.apply_gradients(zip(grads, [var]))
    h = {"initial_accumulator_value": opt.initial_accumulator_value} if name == "adagrad" else {}
    h.update({"rho": getattr(opt, "rho", 0.9), **ADAM})
    want = keras_reference(name, [w0], steps, lr=float(opt.learning_rate), **h)[0]
    np.testing.assert_allclose(var.numpy(), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,constraint", [
    ("max_norm", C.MaxNorm(0.5)), ("non_neg", C.NonNeg()), ("unit_norm", C.UnitNorm()),
    ("min_max_norm", C.MinMaxNorm(0.2, 0.9, rate=0.5)),
])
def test_constraint_code_selects_its_formula(name, constraint):
    w = np.random.default_rng(4).standard_normal((6, 3)).astype(np.float32)
    spec = constraint.native_spec(w.shape)
    assert spec[0] == _codes.CONSTRAINT[name]
    w64 = w.astype(np.float64)
    norms = np.sqrt((w64 * w64).sum(axis=0, keepdims=True))
    desired = {"max_norm": lambda: np.clip(norms, 0, 0.5), "unit_norm": lambda: 1.0,
               "min_max_norm": lambda: 0.5 * np.clip(norms, 0.2, 0.9) + 0.5 * norms}
    want = w64 * (w64 >= 0) if name == "non_neg" else w64 * (desired[name]() / (1e-7 + norms))
    _C.apply_constraints([w], [spec])
    assert np.all(np.abs(w - want) <= CONSTRAINT_ULPS * EPS32 * np.abs(want) + 1e-30)


def test_error_messages_list_the_codes_from_the_table():
    listing = ", ".join(f"{code} {name}" for name, code in sorted(_codes.ACTIVATION.items(), key=lambda t: t[1]))
    with pytest.raises(ValueError, match=f"expected an integer in \\[0, {len(_codes.ACTIVATION)}\\): {listing}."):
        _C.act_forward(np.ones(2, np.float32), len(_codes.ACTIVATION), 0.0)
    with pytest.raises(ValueError, match="5 nadam"):
        _C.optimizer_update(len(_codes.OPTIMIZER), [], [], [], {})


def test_selu_constants_are_written_once_in_the_kernels():
    # The paper's values (Klambauer et al. 2017, to the digits Keras writes), from act_rule.h
    # through _C: Python's alpha-dropout coefficients use the double, the kernels its float.
    from fastdnn import noise
    assert _codes.SELU_ALPHA == noise.SELU_ALPHA == 1.6732632423543772848170429916717
    assert _codes.SELU_SCALE == noise.SELU_SCALE == 1.0507009873554804934193349852946
    z = np.float32([-1.0])
    want = np.float32(SELU_SCALE) * (np.float32(SELU_ALPHA) * np.expm1(np.float64(z)))
    np.testing.assert_allclose(_C.act_forward(z, _codes.ACTIVATION["selu"], 0.0), want, rtol=ACT_RTOL, atol=ACT_ATOL)
