"""Gradients of every differentiable op in fastdnn.ops against central finite differences.

Each check runs the float32 op on a GradientTape with loss = sum(op(...) · w), w fixed random
weights of both signs so that every output element matters, and compares `tape.gradient` with
central differences of a float64 NumPy reimplementation of the same formula taken at the same
float32 inputs (the float32 op itself is never differenced). The op's float32 forward is checked
against that reference separately. Inputs are drawn away from kinks (relu at 0, clip bounds,
maximum/minimum ties), where the derivative is not defined. Native ops run on every kernel path.
"""

import numpy as np
import pytest

import fastdnn
from fastdnn import ops

from _tolerances import (ACT_RTOL, ELEMENTWISE_RTOL, EPS32, FD_STEP, grad_atol, gemm_atol)
from activations import ACTIVATION_IDS, ACTIVATIONS
from conftest import assert_close
from reference import activation_lipschitz, activation_ref, dense_ref, f64, gemm_ref, gemm_scale


# ---- helpers (test_autodiff.py and test_layers.py use them too) --------------------------------

def numeric_grad(loss64, args, i, step=FD_STEP):
    """d loss64(*args) / d args[i] by central differences, all in float64."""
    args = [np.array(a, dtype=np.float64) for a in args]
    x = args[i]
    grad = np.empty_like(x)
    for idx in np.ndindex(x.shape):
        orig = x[idx]
        x[idx] = orig + step
        up = loss64(*args)
        x[idx] = orig - step
        down = loss64(*args)
        x[idx] = orig
        grad[idx] = (up - down) / (2 * step)
    return grad


def loss_weights(shape, rng):
    """Fixed float32 weights of both signs and magnitude in [0.5, 1.5]: every output counts."""
    w = rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)
    return np.asarray(w, dtype=np.float32)


def away_from(values, points, margin, rng, low, high):
    """Redraws entries of `values` (uniform in [low, high)) until each is `margin` from `points`."""
    values = np.array(values, dtype=np.float32)
    for _ in range(100):
        near = np.zeros(values.shape, bool)
        for p in np.atleast_1d(points):
            near |= np.abs(values.astype(np.float64) - p) < margin
        if not near.any():
            return values
        values[near] = rng.uniform(low, high, int(near.sum())).astype(np.float32)
    raise AssertionError("could not draw values away from the kinks")


def check_gradients(op, ref, inputs, rng, depth=1, fwd_atol=0.0, fwd_rtol=ELEMENTWISE_RTOL,
                    wrt=None, what="op"):
    """Checks op(*inputs) (float32, on a tape) against ref(*inputs) (float64): the forward, and
    the gradient of sum(op · w) with respect to each input listed in `wrt` (default: all)."""
    inputs = [np.array(a, dtype=np.float32, order="C") for a in inputs]  # keeps 0-d as 0-d
    wrt = list(range(len(inputs))) if wrt is None else list(wrt)
    y_ref = np.asarray(ref(*inputs), dtype=np.float64)
    w = loss_weights(y_ref.shape, rng)
    with fastdnn.GradientTape() as tape:
        tape.watch([inputs[i] for i in wrt])
        y = op(*inputs)
        loss = ops.sum(ops.multiply(y, w))
    grads = tape.gradient(loss, [inputs[i] for i in wrt])

    assert isinstance(y, np.ndarray) and y.dtype == np.float32, f"{what}: output {type(y)}"
    assert_close(y, y_ref, fwd_atol, fwd_rtol, what=f"{what} forward")
    assert_close(loss, np.sum(y.astype(np.float64) * w), 1e-5 * np.sum(np.abs(y)) + 1e-30,
                 what=f"{what} loss")

    w64 = w.astype(np.float64)

    def loss64(*args):
        return float(np.sum(np.asarray(ref(*args), dtype=np.float64) * w64))

    for i, g in zip(wrt, grads):
        assert g is not None, f"{what}: no gradient for input {i}"
        # np.asarray: a 0-d source's gradient comes back as a NumPy scalar (see
        # test_gradient_of_0d_source_is_an_array)
        assert np.asarray(g).dtype == np.float32, f"{what}: gradient {i} is {g.dtype}"
        g_ref = numeric_grad(loss64, inputs, i)
        assert_close(g, g_ref, grad_atol(g_ref, depth), what=f"{what}: d loss / d input {i}")
    return y, grads


def softmax64(z):
    z = f64(z)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def logsumexp64(z):
    z = f64(z)
    m = z.max(axis=-1, keepdims=True)
    return (m + np.log(np.exp(z - m).sum(axis=-1, keepdims=True)))[..., 0]


# ---- matmul --------------------------------------------------------------------------------

@pytest.mark.parametrize("transpose_b", [False, True], ids=["b", "bT"])
@pytest.mark.parametrize("transpose_a", [False, True], ids=["a", "aT"])
def test_matmul_gradients(transpose_a, transpose_b, isa, rng):
    m, k, n = 5, 7, 6
    a = rng.uniform(-1, 1, (k, m) if transpose_a else (m, k))
    b = rng.uniform(-1, 1, (n, k) if transpose_b else (k, n))
    a, b = a.astype(np.float32), b.astype(np.float32)
    check_gradients(
        lambda a, b: ops.matmul(a, b, transpose_a=transpose_a, transpose_b=transpose_b),
        lambda a, b: gemm_ref(a, b, transpose_a, transpose_b),
        [a, b], rng, depth=max(m, n),
        fwd_atol=gemm_atol(k, gemm_scale(a, b, transpose_a, transpose_b)), fwd_rtol=0.0,
        what=f"matmul(ta={transpose_a}, tb={transpose_b})")


def test_matmul_gradient_of_variables(rng):
    """Variables go in as themselves and are watched without tape.watch."""
    a = fastdnn.Variable(rng.uniform(-1, 1, (3, 4)))
    b = fastdnn.Variable(rng.uniform(-1, 1, (4, 2)))
    with fastdnn.GradientTape() as tape:
        loss = ops.sum(ops.matmul(a, b))
    da, db = tape.gradient(loss, [a, b])
    assert_close(da, np.ones((3, 2)) @ f64(b).T, 1e-6)
    assert_close(db, f64(a).T @ np.ones((3, 2)), 1e-6)


# ---- dense ---------------------------------------------------------------------------------

DENSE_ACTIVATIONS = ACTIVATIONS + [("softmax", {})]
DENSE_IDS = ACTIVATION_IDS + ["softmax"]


def dense_ref64(x, kernel, bias, activation, kwargs):
    if activation == "softmax":
        return softmax64(dense_ref(x, kernel, bias)[1])
    return dense_ref(x, kernel, bias, activation, **kwargs)[0]


def dense_inputs(x_shape, units, with_bias, rng):
    """x, kernel, bias with every pre-activation at least 0.05 from the kinks at 0."""
    k = x_shape[-1]
    for _ in range(1000):
        x = rng.uniform(-1, 1, x_shape).astype(np.float32)
        kernel = rng.uniform(-1, 1, (k, units)).astype(np.float32)
        bias = rng.uniform(-1, 1, units).astype(np.float32) if with_bias else None
        z = dense_ref(x, kernel, bias)[1]
        if np.abs(z).min() > 0.05:
            return x, kernel, bias
    raise AssertionError("could not draw pre-activations away from 0")


def check_dense(x_shape, units, with_bias, activation, kwargs, rng):
    x, kernel, bias = dense_inputs(x_shape, units, with_bias, rng)
    inputs = [x, kernel] + ([bias] if with_bias else [])

    def op(x, kernel, bias=None):
        return ops.dense(x, kernel, bias, activation, **kwargs)

    def ref(x, kernel, bias=None):
        return dense_ref64(x, kernel, bias, activation, kwargs)

    k = x_shape[-1]
    z_atol = gemm_atol(k + 1, gemm_scale(x, kernel, c0=bias))
    if activation == "softmax":  # each output depends on its whole row of z
        fwd_atol = np.broadcast_to(z_atol.max(axis=-1, keepdims=True), z_atol.shape)
    else:
        fwd_atol = activation_lipschitz(activation, **kwargs) * z_atol
    rows = int(np.prod(x_shape[:-1]))
    check_gradients(op, ref, inputs, rng, depth=max(rows, units, k), fwd_atol=fwd_atol,
                    fwd_rtol=ACT_RTOL, what=f"dense({activation}, {kwargs}, bias={with_bias})")


@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("activation,kwargs", DENSE_ACTIVATIONS, ids=DENSE_IDS)
def test_dense_gradients(activation, kwargs, with_bias, isa, rng):
    check_dense((5, 4), 3, with_bias, activation, kwargs, rng)


@pytest.mark.parametrize("activation,kwargs", [(None, {}), ("elu", {"alpha": 0.5}), ("sigmoid", {}),
                                               ("leaky_relu", {"alpha": 0.3}), ("softmax", {})],
                         ids=["linear", "elu-0.5", "sigmoid", "leaky-0.3", "softmax"])
def test_dense_gradients_3d_input(activation, kwargs, rng):
    """(batch, time, features) inputs: x's gradient keeps the leading dimensions."""
    check_dense((2, 3, 4), 3, True, activation, kwargs, rng)


def test_dense_gradients_wide(isa, rng):
    """Wide enough for the kernels' vector tiles and masked tails (K, N not multiples of 16)."""
    check_dense((9, 21), 19, True, "tanh", {}, rng)


# ---- activations ---------------------------------------------------------------------------

ACT_OPS = [
    ("relu", lambda x: ops.relu(x), activation_ref("relu")),
    ("leaky_relu", lambda x: ops.leaky_relu(x), activation_ref("leaky_relu")),
    ("leaky_relu-0.01", lambda x: ops.leaky_relu(x, 0.01), activation_ref("leaky_relu", negative_slope=0.01)),
    ("leaky_relu-0.3", lambda x: ops.leaky_relu(x, negative_slope=0.3),
     activation_ref("leaky_relu", negative_slope=0.3)),
    ("elu", lambda x: ops.elu(x), activation_ref("elu")),
    ("elu-0.5", lambda x: ops.elu(x, 0.5), activation_ref("elu", alpha=0.5)),
    ("elu-2.5", lambda x: ops.elu(x, alpha=2.5), activation_ref("elu", alpha=2.5)),
    ("selu", lambda x: ops.selu(x), activation_ref("selu")),
    ("sigmoid", lambda x: ops.sigmoid(x), activation_ref("sigmoid")),
    ("tanh", lambda x: ops.tanh(x), activation_ref("tanh")),
    ("softmax", lambda x: ops.softmax(x), softmax64),
    ("softmax-axis1", lambda x: ops.softmax(x, axis=1), softmax64),
]


@pytest.mark.parametrize("name,op,ref", ACT_OPS, ids=[c[0] for c in ACT_OPS])
def test_activation_gradients(name, op, ref, isa, rng):
    # 7 x 19: 133 elements, so vector bodies and masked tails both run; |x| in [0.05, 4].
    x = away_from(rng.uniform(-4, 4, (7, 19)), 0.0, 0.05, rng, -4, 4)
    check_gradients(op, ref, [x], rng, depth=19 if name.startswith("softmax") else 1,
                    fwd_atol=1e-30, fwd_rtol=ACT_RTOL, what=name)


def test_activation_gradient_of_3d_input(rng):
    x = away_from(rng.uniform(-3, 3, (2, 3, 5)), 0.0, 0.05, rng, -3, 3)
    check_gradients(ops.elu, activation_ref("elu"), [x], rng, fwd_rtol=ACT_RTOL, what="elu 3-D")
    check_gradients(ops.softmax, softmax64, [x], rng, depth=5, fwd_rtol=ACT_RTOL, what="softmax 3-D")


# ---- cross-entropy -------------------------------------------------------------------------

XENT_ATOL = 16 * EPS32  # log-sum-exp of O(1) logits: a few roundings of O(1..5) values


def test_sparse_softmax_cross_entropy_gradient(isa, rng):
    logits = rng.uniform(-3, 3, (6, 5)).astype(np.float32)
    labels = rng.integers(0, 5, 6)

    def ref(z):
        return logsumexp64(z) - f64(z)[np.arange(len(labels)), labels]

    check_gradients(lambda z: ops.sparse_softmax_cross_entropy(z, labels), ref, [logits], rng,
                    depth=5, fwd_atol=XENT_ATOL * 5, fwd_rtol=ACT_RTOL, what="sparse xent")


def test_sparse_softmax_cross_entropy_gradient_wide(isa, rng):
    """More classes than a vector register holds, with a masked tail."""
    logits = rng.uniform(-3, 3, (4, 37)).astype(np.float32)
    labels = rng.integers(0, 37, 4)

    def ref(z):
        return logsumexp64(z) - f64(z)[np.arange(len(labels)), labels]

    check_gradients(lambda z: ops.sparse_softmax_cross_entropy(z, labels), ref, [logits], rng,
                    depth=37, fwd_atol=XENT_ATOL * 5, fwd_rtol=ACT_RTOL, what="sparse xent wide")


@pytest.mark.parametrize("targets_kind", ["one_hot", "soft", "unnormalized"])
def test_softmax_cross_entropy_gradient(targets_kind, isa, rng):
    logits = rng.uniform(-3, 3, (6, 5)).astype(np.float32)
    if targets_kind == "one_hot":
        targets = np.eye(5, dtype=np.float32)[rng.integers(0, 5, 6)]
    else:
        targets = rng.uniform(0, 1, (6, 5)).astype(np.float32)
        if targets_kind == "soft":
            targets = (targets / targets.sum(axis=1, keepdims=True)).astype(np.float32)

    def ref(z):
        return -np.sum(f64(targets) * (f64(z) - logsumexp64(z)[:, None]), axis=1)

    check_gradients(lambda z: ops.softmax_cross_entropy(z, targets), ref, [logits], rng,
                    depth=5, fwd_atol=XENT_ATOL * 5, fwd_rtol=ACT_RTOL,
                    what=f"softmax xent {targets_kind}")


# ---- element-wise arithmetic with broadcasting ---------------------------------------------

BROADCAST_SHAPES = [((4, 3), (4, 3)), ((4, 3), (3,)), ((3,), (4, 3)), ((4, 1), (1, 3)),
                    ((2, 4, 3), (4, 1)), ((4, 3), ())]
SHAPE_IDS = ["x".join(map(str, a)) + "_" + ("x".join(map(str, b)) or "scalar")
             for a, b in BROADCAST_SHAPES]


def _depth(a_shape, b_shape):
    """How many output elements a broadcast input's gradient sums."""
    out = np.broadcast_shapes(a_shape, b_shape)
    return int(np.prod(out)) // max(1, min(int(np.prod(a_shape or (1,))), int(np.prod(b_shape or (1,)))))


BINARY = [
    ("add", ops.add, lambda a, b: f64(a) + f64(b)),
    ("subtract", ops.subtract, lambda a, b: f64(a) - f64(b)),
    ("multiply", ops.multiply, lambda a, b: f64(a) * f64(b)),
    ("divide", ops.divide, lambda a, b: f64(a) / f64(b)),
]


@pytest.mark.parametrize("a_shape,b_shape", BROADCAST_SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("name,op,ref", BINARY, ids=[c[0] for c in BINARY])
def test_binary_gradients_broadcast(name, op, ref, a_shape, b_shape, rng):
    a = rng.uniform(-2, 2, a_shape).astype(np.float32)
    # divisors in ±[0.5, 2]
    b = (rng.uniform(0.5, 2, b_shape) * rng.choice([-1.0, 1.0], b_shape)).astype(np.float32)
    y, (da, db) = check_gradients(op, ref, [a, b], rng, depth=_depth(a_shape, b_shape),
                                  what=f"{name}{a_shape}{b_shape}")
    assert y.shape == np.broadcast_shapes(a_shape, b_shape)
    assert da.shape == a_shape and db.shape == b_shape


@pytest.mark.parametrize("a_shape,b_shape", [((4, 3), (4, 3)), ((4, 3), (3,)), ((4, 1), (1, 3))],
                         ids=["same", "row", "outer"])
@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_gradients(name, a_shape, b_shape, rng):
    a = rng.uniform(-2, 2, a_shape).astype(np.float32)
    b = rng.uniform(-2, 2, b_shape).astype(np.float32)
    ab = np.broadcast_arrays(a, b)
    for _ in range(100):  # no ties within 0.05
        if np.abs(ab[0].astype(np.float64) - ab[1]).min() > 0.05:
            break
        a = rng.uniform(-2, 2, a_shape).astype(np.float32)
        ab = np.broadcast_arrays(a, b)
    else:
        raise AssertionError("could not draw inputs without ties")
    ref = (lambda a, b: np.maximum(f64(a), f64(b))) if name == "maximum" else \
        (lambda a, b: np.minimum(f64(a), f64(b)))
    check_gradients(getattr(ops, name), ref, [a, b], rng, depth=_depth(a_shape, b_shape), what=name)


def test_multiply_by_python_scalar(rng):
    x = rng.uniform(-1, 1, (3, 4)).astype(np.float32)
    check_gradients(lambda x: ops.multiply(x, 2.5), lambda x: 2.5 * f64(x), [x], rng, what="x*2.5")
    check_gradients(lambda x: ops.divide(1.0, x), lambda x: 1.0 / f64(x),
                    [away_from(x, 0.0, 0.2, rng, -1, 1)], rng, what="1/x")


def test_gradient_of_0d_source_is_an_array(rng):
    a = rng.uniform(-1, 1, (4, 3)).astype(np.float32)
    b = np.array(0.5, np.float32)
    with fastdnn.GradientTape() as tape:
        tape.watch(b)
        loss = ops.sum(ops.multiply(a, b))
    g = tape.gradient(loss, b)
    assert isinstance(g, np.ndarray) and g.shape == () and g.dtype == np.float32


@pytest.mark.parametrize("case", ["python_floats", "loss_times_float", "exp_of_float64_0d"])
def test_python_scalar_operands_keep_0d_shape(case):
    """Python scalars and 0-d arrays stay 0-d, as in Keras (they once became shape (1,))."""
    x = np.ones((2, 3), np.float32)
    y = {"python_floats": lambda: ops.add(1.0, 2.0),
         "loss_times_float": lambda: ops.multiply(ops.sum(x), 0.5),
         "exp_of_float64_0d": lambda: ops.exp(np.float64(0.5))}[case]()
    assert np.shape(y) == () and np.asarray(y).dtype == np.float32


# ---- element-wise unary --------------------------------------------------------------------

def _signed(rng, shape, low, high):
    return (rng.uniform(low, high, shape) * rng.choice([-1.0, 1.0], shape)).astype(np.float32)


UNARY = [
    ("negative", ops.negative, np.negative, lambda rng: rng.uniform(-2, 2, (3, 5))),
    ("square", ops.square, np.square, lambda rng: rng.uniform(-2, 2, (3, 5))),
    ("abs", ops.abs, np.abs, lambda rng: _signed(rng, (3, 5), 0.05, 2)),
    ("exp", ops.exp, np.exp, lambda rng: rng.uniform(-3, 3, (3, 5))),
    ("log", ops.log, np.log, lambda rng: rng.uniform(0.1, 5, (3, 5))),
    ("sqrt", ops.sqrt, np.sqrt, lambda rng: rng.uniform(0.1, 5, (3, 5))),
]


@pytest.mark.parametrize("name,op,ref,draw", UNARY, ids=[c[0] for c in UNARY])
def test_unary_gradients(name, op, ref, draw, rng):
    x = np.asarray(draw(rng), np.float32)
    check_gradients(op, lambda x: ref(f64(x)), [x], rng, what=name)


@pytest.mark.parametrize("bounds", [(-1.0, 1.0), (0.0, 0.5), (-0.3, 2.0)], ids=str)
def test_clip_gradient(bounds, rng):
    lo, hi = bounds
    x = away_from(rng.uniform(-2, 2, (4, 6)), [lo, hi], 0.05, rng, -2, 2)
    assert ((x < lo) | (x > hi)).any() and ((x > lo) & (x < hi)).any()  # clipped and passed
    check_gradients(lambda x: ops.clip(x, lo, hi), lambda x: np.clip(f64(x), lo, hi), [x], rng,
                    what=f"clip{bounds}")


@pytest.mark.parametrize("b_shape", [(4, 3), (3,), ()], ids=["same", "row", "scalar"])
def test_where_gradient(b_shape, rng):
    cond = rng.random((4, 3)) < 0.5
    cond[0, 0], cond[0, 1] = True, False
    a = rng.uniform(-2, 2, (4, 3)).astype(np.float32)
    b = rng.uniform(-2, 2, b_shape).astype(np.float32)
    _, (da, db) = check_gradients(lambda a, b: ops.where(cond, a, b),
                                  lambda a, b: np.where(cond, f64(a), f64(b)), [a, b], rng,
                                  depth=12, what="where")
    assert (da[~cond] == 0).all()


# ---- reductions and shapes -----------------------------------------------------------------

REDUCTIONS = [None, 0, 1, -1, (0, 2), (1, 2)]


def _reduce_atol(x, axis, mean):
    """Summation error: a float32 sum of n terms, like a dot product of depth n."""
    x64 = f64(x)
    n = x.size if axis is None else int(np.prod([x.shape[a] for a in np.atleast_1d(axis)]))
    scale = np.sqrt(np.sum(x64 * x64, axis=axis)) + np.abs(np.sum(x64, axis=axis))
    return gemm_atol(n, scale) / (n if mean else 1)


@pytest.mark.parametrize("keepdims", [False, True], ids=["drop", "keep"])
@pytest.mark.parametrize("axis", REDUCTIONS, ids=str)
@pytest.mark.parametrize("name", ["sum", "mean"])
def test_reduction_gradients(name, axis, keepdims, rng):
    x = rng.uniform(-2, 2, (3, 4, 5)).astype(np.float32)
    ref = np.sum if name == "sum" else np.mean
    atol = _reduce_atol(x, axis, name == "mean")
    if keepdims:
        atol = np.reshape(atol, ref(x, axis=axis, keepdims=True).shape)
    y, _ = check_gradients(lambda x: getattr(ops, name)(x, axis=axis, keepdims=keepdims),
                           lambda x: ref(f64(x), axis=axis, keepdims=keepdims), [x], rng,
                           fwd_atol=atol, what=f"{name}(axis={axis}, keepdims={keepdims})")
    assert y.shape == np.sum(x, axis=axis, keepdims=keepdims).shape


@pytest.mark.parametrize("shape", [(12, 5), (-1,), (5, -1), (3, 2, 2, 5), (60, 1)], ids=str)
def test_reshape_gradient(shape, rng):
    x = rng.uniform(-2, 2, (3, 4, 5)).astype(np.float32)
    y, (g,) = check_gradients(lambda x: ops.reshape(x, shape), lambda x: f64(x).reshape(shape),
                              [x], rng, fwd_rtol=0.0, what=f"reshape{shape}")
    assert y.shape == x.reshape(shape).shape and g.shape == x.shape


@pytest.mark.parametrize("shape", [(3, 4, 5), (2, 7), (4, 1, 2, 3)], ids=str)
def test_flatten_gradient(shape, rng):
    x = rng.uniform(-2, 2, shape).astype(np.float32)
    y, (g,) = check_gradients(ops.flatten, lambda x: f64(x).reshape(shape[0], -1), [x], rng,
                              fwd_rtol=0.0, what=f"flatten{shape}")
    assert y.shape == (shape[0], int(np.prod(shape[1:]))) and g.shape == shape


def test_reshape_output_is_independent_of_later_writes(rng):
    """The reshaped result is what the tape differentiates; gradients keep the input's shape
    even when the result is consumed by a further op."""
    x = rng.uniform(-2, 2, (2, 6)).astype(np.float32)
    check_gradients(lambda x: ops.square(ops.reshape(x, (3, 4))),
                    lambda x: np.square(f64(x).reshape(3, 4)), [x], rng, what="square(reshape)")


# ---- a composite ---------------------------------------------------------------------------

def test_composite_network_gradients(isa, rng):
    """Two dense layers, a softmax cross-entropy and an L2 term: the whole graph at once."""
    x = rng.uniform(-1, 1, (6, 5)).astype(np.float32)
    k1 = rng.uniform(-1, 1, (5, 4)).astype(np.float32)
    b1 = rng.uniform(-0.5, 0.5, 4).astype(np.float32)
    k2 = rng.uniform(-1, 1, (4, 3)).astype(np.float32)
    labels = rng.integers(0, 3, 6)

    def op(x, k1, b1, k2):
        h = ops.dense(x, k1, b1, "elu")
        logits = ops.dense(h, k2)
        xent = ops.mean(ops.sparse_softmax_cross_entropy(logits, labels))
        return ops.add(xent, ops.multiply(ops.sum(ops.square(k1)), 0.01))

    def ref(x, k1, b1, k2):
        h = activation_ref("elu")(f64(x) @ f64(k1) + f64(b1))
        logits = h @ f64(k2)
        xent = np.mean(logsumexp64(logits) - logits[np.arange(6), labels])
        return xent + 0.01 * np.sum(f64(k1) ** 2)

    check_gradients(op, ref, [x, k1, b1, k2], rng, depth=6, fwd_atol=1e-6, fwd_rtol=1e-5,
                    what="network")


def test_flatten_of_an_empty_batch():
    """(0, 28, 28) -> (0, 784): the feature count is spelled out, as -1 is ambiguous for size 0."""
    assert ops.flatten(np.zeros((0, 28, 28), np.float32)).shape == (0, 784)
    assert ops.flatten(np.zeros((3, 0, 4), np.float32)).shape == (3, 0)


def test_mean_of_nothing_is_nan():
    """As NumPy and Keras: a mean over zero elements is NaN, not 0."""
    with np.errstate(invalid="ignore"):
        expected = np.mean(np.zeros((0, 3)), axis=0)
    np.testing.assert_array_equal(ops.mean(np.zeros((0, 3), np.float32), axis=0), expected)
    assert np.isnan(ops.mean(np.zeros((0, 3), np.float32)))
    assert ops.mean(np.zeros((0, 3), np.float32), axis=1).shape == (0,)
    np.testing.assert_array_equal(ops.mean(np.ones((2, 3), np.float32), axis=(0, 1)), 1.0)
