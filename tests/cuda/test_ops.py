"""Every CUDA op against its CPU twin (fastdnn._C) on the same inputs; skipped without a GPU.

Tolerances, per op, relative to the CPU result (|gpu − cpu| <= ATOL + RTOL·|cpu|):
* gemm: both sides round each partial sum in float32 but in a different order (cuBLASLt's or the
  tiled kernel's blocking vs the CPU's), so C_ij differ by about sqrt(K)·eps·(|A|·|B|)_ij, the
  size of the terms summed; where they cancel, that is far more than eps·|C_ij|. The products
  are checked against 1e-6·(|A|·|B|) (K = 784 differs by ~5e-8 of it); the other ops fed by a
  product, whose terms do not cancel much, against 2e-5 of the result.
* element-wise activations: float32 exp/tanh of the two math libraries differ by a few ulp: 2e-6.
* softmax, cross-entropy, batch norm: reductions in double on both sides, then float32: 1e-5.
* Bernoulli dropout: the same Philox bits, so the mask is identical and the values exact.
* Gaussian noise: the same uniforms, float32 log/cos/sin of two libraries: 1e-5.
* optimizers: one float32 step on both sides, rules written alike, but contracted into FMAs at
  other places (the CPU's vector code, nvcc): a few ulp of the O(1) inputs, 1e-6 absolute.
"""

import numpy as np
import pytest

import fastdnn
from fastdnn import _C

pytestmark = pytest.mark.skipif(not fastdnn.cuda.is_available(),
                                reason=f"no usable GPU: {fastdnn.cuda.status()}")

TOL = {"gemm": (2e-5, 1e-5), "act": (2e-6, 1e-7), "reduce": (1e-5, 1e-6), "noise": (1e-5, 1e-6),
       "optim": (1e-6, 1e-6)}
SIZES = [1, 3, 17, 33, 257]


@pytest.fixture(scope="module")
def k():
    return fastdnn.device("cuda")._kernels


@pytest.fixture(params=[True, False], ids=["cublaslt", "tiled"])
def gemm_path(request, k):
    if request.param and not k.native.cublaslt_loaded():
        pytest.skip(f"cuBLASLt not loaded: {fastdnn.cuda.cublaslt_error()}")
    k.native.set_use_cublaslt(request.param)
    yield request.param
    k.native.set_use_cublaslt(True)


def close(gpu, cpu, kind):
    rtol, atol = TOL[kind]
    np.testing.assert_allclose(gpu.numpy() if hasattr(gpu, "numpy") else gpu, cpu, rtol=rtol, atol=atol)


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("m,n,kk", [(1, 1, 1), (3, 17, 33), (257, 33, 17), (64, 300, 784), (1000, 10, 100)])
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_gemm(k, gemm_path, m, n, kk, ta, tb):
    a = rand(*((kk, m) if ta else (m, kk)))
    b = rand(*((n, kk) if tb else (kk, n)), seed=1)
    want = _C.gemm(a, b, ta, tb, None, False, None, 0, 0.0, False)[0]
    got = k.gemm(k.put(a), k.put(b), ta, tb, None, False, None, 0, 0.0, False)[0].numpy()
    terms = np.abs(a.T if ta else a).astype(np.float64) @ np.abs(b.T if tb else b).astype(np.float64)
    worst = np.max(np.abs(got.astype(np.float64) - want) / terms)
    assert worst <= 1e-6, f"|gpu - cpu| reaches {worst:.2e} of |A|·|B|"


@pytest.mark.parametrize("act,alpha", [(0, 0.0), (1, 0.0), (2, 0.2), (3, 1.0), (4, 0.0), (5, 0.0), (6, 0.0)])
@pytest.mark.parametrize("keep_z", [False, True])
def test_dense_epilogues(k, gemm_path, act, alpha, keep_z):
    x, w, bias = rand(33, 70), rand(70, 257, seed=1) / 8, rand(257, seed=2)
    y, z = _C.gemm(x, w, False, False, None, False, bias, act, alpha, keep_z)
    gy, gz = k.gemm(k.put(x), k.put(w), False, False, None, False, k.put(bias), act, alpha, keep_z)
    close(gy, y, "gemm")
    if keep_z:
        close(gz, z, "gemm")


def test_gemm_accumulates_into_out(k, gemm_path):
    a, b, c = rand(17, 33), rand(33, 9, seed=1), rand(17, 9, seed=2)
    want = c.copy()
    _C.gemm(a, b, False, False, want, True, None, 0, 0.0, False)
    out = k.put(c)
    k.gemm(k.put(a), k.put(b), False, False, out, True, None, 0, 0.0, False)
    close(out, want, "gemm")


@pytest.mark.parametrize("rows", [1, 3, 257])
def test_weight_and_bias_gradient(k, gemm_path, rows):
    x, dz = rand(rows, 33), rand(rows, 17, seed=1)
    dk, db = k.native.weight_bias_grad(k.put(x), k.put(dz))
    close(dk, _C.gemm(x, dz, True, False, None, False, None, 0, 0.0, False)[0], "gemm")
    close(db, dz.astype(np.float64).sum(axis=0), "reduce")


@pytest.mark.parametrize("act,alpha", [(1, 0.0), (2, 0.2), (3, 1.0), (4, 0.0), (5, 0.0), (6, 0.0)])
@pytest.mark.parametrize("n", SIZES)
def test_activations(k, act, alpha, n):
    x, g = rand(n, 7) * 3, rand(n, 7, seed=1)
    y = _C.act_forward(x, act, alpha)
    close(k.act_forward(k.put(x), act, alpha), y, "act")
    dx, db = _C.act_backward(y, g, act, alpha, True)
    gdx, gdb = k.act_backward(k.put(y), k.put(g), act, alpha, True)
    close(gdx, dx, "act")
    close(gdb, db, "reduce")


@pytest.mark.parametrize("rows,cols", [(1, 1), (3, 10), (33, 257), (1000, 10)])
def test_softmax_and_cross_entropy(k, rows, cols):
    x, g = rand(rows, cols) * 4, rand(rows, cols, seed=1)
    labels = np.random.default_rng(2).integers(0, cols, rows).astype(np.int64)
    y = _C.softmax(x)
    close(k.softmax(k.put(x)), y, "reduce")
    close(k.softmax_backward(k.put(y), k.put(g)), _C.softmax_backward(y, g), "reduce")
    loss, d = _C.softmax_xent(x, labels, None, 0.5, True)
    gl, gd = k.softmax_xent(k.put(x), labels, None, 0.5, True)
    close(gl, loss, "reduce")
    close(gd, d, "reduce")
    t = np.abs(rand(rows, cols, seed=3))
    loss, d = _C.softmax_xent(x, None, t, 1.0, True)
    gl, gd = k.softmax_xent(k.put(x), None, k.put(t), 1.0, True)
    close(gl, loss, "reduce")
    close(gd, d, "reduce")


def test_cross_entropy_rejects_out_of_range_labels(k):
    with pytest.raises(ValueError, match="class indices"):
        k.softmax_xent(k.put(rand(2, 3)), np.array([0, 3]), None, 1.0, False)


@pytest.mark.parametrize("rows,cols", [(1, 3), (32, 300), (257, 33), (4096, 10)])
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm(k, rows, cols, training):
    x, g = rand(rows, cols) * 2 + 1, rand(rows, cols, seed=1)
    gamma, beta = rand(cols, seed=2), rand(cols, seed=3)
    y, mean, var, inv_std = _C.batchnorm_forward_train(x, gamma, beta, 1e-3)
    gy, gm, gv, gs = k.batchnorm_forward_train(k.put(x), k.put(gamma), k.put(beta), 1e-3)
    for a, b in ((gy, y), (gm, mean), (gv, var), (gs, inv_std)):
        close(a, b, "reduce")
    close(k.batchnorm_forward_infer(k.put(x), k.put(mean), k.put(var), k.put(gamma), k.put(beta), 1e-3),
          _C.batchnorm_forward_infer(x, mean, var, gamma, beta, 1e-3), "reduce")
    want = _C.batchnorm_backward(g, x, mean, inv_std, gamma, training)
    got = k.batchnorm_backward(k.put(g), k.put(x), k.put(mean), k.put(inv_std), k.put(gamma), training)
    for a, b in zip(got, want):
        close(a, b, "reduce")


@pytest.mark.parametrize("n", [1, 3, 17, 1000, 65537])
@pytest.mark.parametrize("rate", [0.0, 0.2, 0.5])
def test_dropout_mask_is_the_cpus(k, n, rate):
    x = rand(n) + 3.0  # no zeros: a zero output means a dropped unit
    coords = (12345, 2**31, 7)
    want = _C.noise_bernoulli(x, rate, *coords, 1 / (1 - rate))
    got = k.noise_bernoulli(k.put(x), rate, *coords, 1 / (1 - rate)).numpy()
    np.testing.assert_array_equal(got == 0, want == 0)  # the same Philox mask, bit for bit
    np.testing.assert_allclose(got, want, rtol=1e-7)
    a = k.noise_bernoulli(k.put(x), rate, *coords, 1.2, 0.3, -1.7).numpy()
    np.testing.assert_allclose(a, _C.noise_bernoulli(x, rate, *coords, 1.2, 0.3, -1.7), rtol=1e-6)


@pytest.mark.parametrize("kind", ["dropout", "alpha_dropout"])
@pytest.mark.parametrize("shape,noise_shape", [((6, 5, 7), (6, 1, 7)), ((40, 9), (1, 9)), ((3, 4), (3, 1))])
def test_dropout_with_a_broadcast_mask_is_the_cpus(k, kind, shape, noise_shape):
    x = rand(*shape) + 3.0
    fn = lambda v: getattr(fastdnn.noise, kind)(v, 0.4, (77, 5, 3), noise_shape)  # noqa: E731
    y, (g,) = _with_gradients(fn, (x,), k.put)
    y_cpu, (g_cpu,) = _with_gradients(fn, (x,), lambda v: v)
    np.testing.assert_array_equal(g == 0, g_cpu == 0)  # the same mask
    close(y, y_cpu, "act")
    close(g, g_cpu, "act")


@pytest.mark.parametrize("n", [1, 5, 1001])
def test_gaussian_noise(k, n):
    x, coords = rand(n), (9, 3, 2)
    close(k.noise_normal(k.put(x), *coords, 1.0, 0.5, 0.1, 0.2), _C.noise_normal(x, *coords, 1.0, 0.5, 0.1, 0.2),
          "noise")


@pytest.mark.parametrize("kind,hyper,slots", [
    (0, {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}, 1),
    (1, {"learning_rate": 0.1, "epsilon": 1e-7}, 1),
    (2, {"learning_rate": 0.01, "rho": 0.9, "momentum": 0.5, "centered": True, "epsilon": 1e-7}, 3),
    (3, {"learning_rate": 1e-3, "coef0": 3e-4, "amsgrad": True, "clipnorm": 0.5}, 3),
    (4, {"learning_rate": 1e-3, "coef0": 1e-2, "clipvalue": 0.1}, 2),
    (5, {"learning_rate": 1e-3, "coef0": 0.9, "coef1": 0.1, "coef2": 1.5, "global_clipnorm": 1.0,
         "weight_decay": 0.01}, 2)])
def test_multi_tensor_optimizer(k, kind, hyper, slots):
    shapes = [(300, 100), (100,), (1,), (9000,)]
    ws = [rand(*s, seed=i) for i, s in enumerate(shapes)]
    gs = [rand(*s, seed=10 + i) for i, s in enumerate(shapes)]
    ss = [[np.abs(rand(*s, seed=20 + 3 * i + j)) for j in range(slots)] for i, s in enumerate(shapes)]
    if hyper.get("centered"):
        # Training keeps v >= c² (a variance); v - c² near 0 would compare two roundings of a
        # cancellation, so the state starts with v - c² >= 0.5.
        for sl in ss:
            sl[0] += np.square(sl[2]) + np.float32(0.5)
    dw, dg, ds = [k.put(w) for w in ws], [k.put(g) for g in gs], [[k.put(s) for s in sl] for sl in ss]
    _C.optimizer_update(kind, ws, gs, ss, hyper)
    k.optimizer_update(kind, dw, dg, ds, hyper)
    for a, b in zip(dw, ws):
        close(a, b, "optim")
    for sa, sb in zip(ds, ss):
        for a, b in zip(sa, sb):
            close(a, b, "optim")


@pytest.mark.parametrize("n", [0, 1, 3, 1000, 1_000_003])
def test_sum_is_deterministic_and_right(k, n):
    x = rand(n)
    d = k.put(x)
    first = k.sum_all(d, 0.5).numpy()
    assert all(k.sum_all(d, 0.5).numpy() == first for _ in range(3))  # the same bits every time
    np.testing.assert_allclose(first, 0.5 * x.astype(np.float64).sum(), rtol=1e-6, atol=1e-6)


def test_arrays_round_trip_and_reshape(k):
    x = rand(4, 6)
    d = k.put(x)
    assert d.shape == (4, 6) and d.dtype == np.float32 and len(d) == 4
    np.testing.assert_array_equal(d.numpy(), x)
    np.testing.assert_array_equal(np.asarray(d.reshape(3, -1)), x.reshape(3, 8))
    np.testing.assert_array_equal((d + d).numpy(), x + x)
    with pytest.raises(ValueError, match="reshape"):
        d.reshape(5, 5)
    with pytest.raises(TypeError, match="CUDA array"):
        k.gemm(x, d, False, False, None, False, None, 0, 0.0, False)


@pytest.mark.parametrize("with_grads", [True, False])
def test_weight_penalty(k, with_grads):
    shapes = [(300, 100), (100,), (1,), (9000,), (0,)]
    ws = [rand(*s, seed=i) for i, s in enumerate(shapes)]
    ws[1][::3] = 0.0  # sign(0) = 0: no L1 gradient there
    gs = [rand(*s, seed=10 + i) for i, s in enumerate(shapes)]
    l1, l2 = [0.0, 0.01, 0.5, 1e-3, 0.1], [0.01, 0.0, 0.2, 1e-4, 0.1]
    dgs = [k.put(g) for g in gs] if with_grads else None
    want = _C.weight_penalty(ws, gs if with_grads else None, l1, l2)
    got = k.weight_penalty([k.put(w) for w in ws], dgs, l1, l2)
    assert isinstance(got, float) and got == pytest.approx(want, rel=1e-6)
    for a, b in zip(dgs or [], gs):
        close(a, b, "optim")


@pytest.mark.parametrize("name,shape", [
    ("max_norm", (300, 100)), ("max_norm_rows", (30, 100)), ("non_neg", (17, 5)),
    ("unit_norm", (64, 3)), ("min_max_norm", (5, 7, 9)), ("max_norm", (40,))])
def test_constraints_match_the_cpu(k, name, shape):
    c = fastdnn.constraints
    constraint = {"max_norm": c.MaxNorm(2.0), "max_norm_rows": c.MaxNorm(1.0, axis=1), "non_neg": c.NonNeg(),
                  "unit_norm": c.UnitNorm(), "min_max_norm": c.MinMaxNorm(0.5, 1.5, rate=0.7, axis=1)}[name]
    w = rand(*shape) * 0.5
    spec = constraint.native_spec(shape)
    assert spec is not None
    d = k.put(w)
    _C.apply_constraints([w], [spec])
    k.apply_constraints([d], [spec])
    close(d, w, "optim")


def test_penalty_arguments_are_checked(k):
    w = k.put(rand(3, 4))
    with pytest.raises(ValueError, match="non-negative"):
        k.weight_penalty([w], None, [-1.0], [0.0])
    with pytest.raises(ValueError, match="does not cover"):
        k.apply_constraints([w], [(0, 0.0, 2.0, 1.0, 1, 3, 5)])
    with pytest.raises(TypeError, match="CUDA array"):
        k.apply_constraints([rand(3, 4)], [(0, 0.0, 2.0, 1.0, 1, 3, 4)])


def _with_gradients(fn, arrays, put):
    """fn(*arrays) and the gradients of Σ fn(...)·r (r fixed, random) for each array, with the
    arrays placed by `put` (identity for the CPU)."""
    vs = [fastdnn.Variable(np.asarray(a, np.float32)) for a in arrays]
    for v in vs:
        v._value = put(v._value)
    with fastdnn.GradientTape() as tape:
        y = fn(*[v.value for v in vs])
        r = put(np.asarray(np.random.default_rng(5).standard_normal(y.shape), np.float32))
        loss = fastdnn.ops.sum(fastdnn.ops.multiply(y, r))
    grads = tape.gradient(loss, vs)
    return np.asarray(y), [np.asarray(g) for g in grads]


@pytest.mark.parametrize("name", ["add", "subtract", "multiply", "divide", "maximum", "minimum"])
@pytest.mark.parametrize("sa,sb", [((4, 5), (4, 5)), ((4, 5), (5,)), ((3, 1, 5), (4, 1)), ((), (2, 3)),
                                   ((2, 3), ())])
def test_binary_ops_broadcast_and_differentiate(k, name, sa, sb):
    a = np.asarray(rand(*sa)).round(1)  # rounded: maximum and minimum meet ties
    b = np.asarray(rand(*sb, seed=1)).round(1) + (3.0 if name == "divide" else 0.0)
    fn = getattr(fastdnn.ops, name)
    y, grads = _with_gradients(fn, (a, b), k.put)
    y_cpu, grads_cpu = _with_gradients(fn, (a, b), lambda x: x)
    close(y, y_cpu, "act")
    for g, g_cpu in zip(grads, grads_cpu):
        assert g.shape == g_cpu.shape
        close(g, g_cpu, "reduce")


@pytest.mark.parametrize("name,args", [("negative", ()), ("square", ()), ("abs", ()), ("exp", ()), ("log", ()),
                                       ("sqrt", ()), ("clip", (-0.5, 0.5))])
def test_unary_ops_differentiate(k, name, args):
    x = rand(6, 7).round(1)  # abs meets 0, clip its bounds
    if name in ("log", "sqrt"):
        x = np.abs(x) + 0.5
    fn = lambda v: getattr(fastdnn.ops, name)(v, *args)  # noqa: E731
    y, (g,) = _with_gradients(fn, (x,), k.put)
    y_cpu, (g_cpu,) = _with_gradients(fn, (x,), lambda v: v)
    close(y, y_cpu, "act")
    close(g, g_cpu, "act")


@pytest.mark.parametrize("approximate", [True, False])
def test_gelu_differentiates(k, approximate):
    x = rand(9, 11) * 3
    fn = lambda v: fastdnn.ops.gelu(v, approximate=approximate)  # noqa: E731
    y, (g,) = _with_gradients(fn, (x,), k.put)
    y_cpu, (g_cpu,) = _with_gradients(fn, (x,), lambda v: v)
    close(y, y_cpu, "act")
    close(g, g_cpu, "act")


@pytest.mark.parametrize("name", ["sum", "mean"])
@pytest.mark.parametrize("axis", [0, 1, -1, (0, 2), None])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions_over_axes(k, name, axis, keepdims):
    x = rand(3, 4, 5)
    fn = lambda v: getattr(fastdnn.ops, name)(v, axis=axis, keepdims=keepdims)  # noqa: E731
    y, (g,) = _with_gradients(fn, (x,), k.put)
    y_cpu, (g_cpu,) = _with_gradients(fn, (x,), lambda v: v)
    assert y.shape == y_cpu.shape
    close(y, y_cpu, "reduce")
    close(g, g_cpu, "reduce")


def test_element_wise_shapes_are_checked(k):
    with pytest.raises(ValueError, match="could not be broadcast"):
        k.native.binary(0, k.put(rand(2, 3)), k.put(rand(4)))
    with pytest.raises(ValueError, match="out of bounds"):
        fastdnn.ops.sum(k.put(rand(2, 3)), axis=2)
    with pytest.raises(ValueError, match="Cannot broadcast"):
        k.native.broadcast_to(k.put(rand(2, 3)), (-1, 3))
    with pytest.raises(ValueError, match="reduce_to needs"):
        k.native.reduce_to(k.put(rand(2, 3)), (2, 2))
    empty = k.native.reduce_to(k.put(np.zeros((0, 3), np.float32)), (1, 3)).numpy()
    np.testing.assert_array_equal(empty, np.zeros((1, 3)))  # a sum over nothing is 0
