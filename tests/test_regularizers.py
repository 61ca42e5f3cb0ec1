"""Weight and activity regularizers: penalty values against float64 NumPy, the native gradient
l1·sign(w) + 2·l2·w, what the optimizer receives, the reported loss including the penalty,
`model.losses`, configs and errors."""

import numpy as np
import pytest

import fastdnn as keras
from fastdnn import _C, ops
from _tolerances import EPS32, PENALTY_GRAD_ULPS, PENALTY_RTOL

SIZES = [1, 3, 17, 1000, 300_001]  # the last one runs on the thread pool


def penalty64(w, l1, l2):
    w = np.asarray(w, np.float64)
    return l1 * np.abs(w).sum() + l2 * np.square(w).sum()


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("l1,l2", [(0.01, 0.0), (0.0, 0.01), (0.3, 0.07)])
def test_native_penalty_and_gradient(isa, rng, n, l1, l2):
    w = rng.normal(size=n).astype(np.float32)
    w[::7] = 0.0  # sign(0) = 0
    g0 = rng.normal(size=n).astype(np.float32)
    g = g0.copy()
    total = _C.weight_penalty([w], [g], [l1], [l2])
    assert total == pytest.approx(penalty64(w, l1, l2), rel=PENALTY_RTOL)
    expected = g0.astype(np.float64) + l1 * np.sign(w) + 2 * l2 * w.astype(np.float64)
    scale = np.abs(g0) + l1 + 2 * l2 * np.abs(w)
    assert np.all(np.abs(g - expected) <= PENALTY_GRAD_ULPS * EPS32 * scale)
    # value only: nothing written
    assert _C.weight_penalty([w], None, [l1], [l2]) == pytest.approx(total, rel=1e-12)


def test_native_penalty_many_tensors(rng):
    ws = [rng.normal(size=s).astype(np.float32) for s in [(784, 300), (300,), (300, 100), (7,)]]
    factors = [(0.01, 0.0), (0.0, 0.5), (0.02, 0.03), (1.0, 1.0)]
    gs = [np.zeros_like(w) for w in ws]
    total = _C.weight_penalty(ws, gs, [f[0] for f in factors], [f[1] for f in factors])
    assert total == pytest.approx(sum(penalty64(w, *f) for w, f in zip(ws, factors)), rel=PENALTY_RTOL)
    for w, g, (l1, l2) in zip(ws, gs, factors):
        np.testing.assert_allclose(g, l1 * np.sign(w) + 2 * l2 * w, rtol=4 * EPS32, atol=4 * EPS32 * (l1 + l2))


@pytest.mark.parametrize("reg,l1,l2", [(keras.regularizers.l2(0.01), 0, 0.01),
                                       (keras.regularizers.L1(0.2), 0.2, 0),
                                       (keras.regularizers.l1_l2(l1=0.01, l2=0.01), 0.01, 0.01),
                                       (keras.regularizers.L1L2(l2=0.5), 0, 0.5)])
def test_call_matches_formula(rng, reg, l1, l2):
    w = rng.normal(size=(17, 33)).astype(np.float32)
    assert float(reg(w)) == pytest.approx(penalty64(w, l1, l2), rel=PENALTY_RTOL)
    assert reg.native_factors() == (l1, l2)


def test_keras_defaults_and_names():
    assert keras.regularizers.l2().l2 == 0.01 and keras.regularizers.L1().l1 == 0.01
    assert keras.regularizers.l1_l2().get_config() == {"l1": 0.0, "l2": 0.0}
    assert isinstance(keras.regularizers.get("l2"), keras.regularizers.L2)
    assert isinstance(keras.regularizers.get("L1L2"), keras.regularizers.L1L2)
    assert isinstance(keras.regularizers.get("l1_l2"), keras.regularizers.L1L2)
    assert keras.regularizers.get(None) is None


@pytest.mark.parametrize("reg", [keras.regularizers.L1(0.3), keras.regularizers.L2(0.02),
                                 keras.regularizers.L1L2(0.1, 0.2),
                                 keras.regularizers.OrthogonalRegularizer(0.5, "columns")])
def test_config_round_trip(reg):
    config = keras.regularizers.serialize(reg)
    again = keras.regularizers.deserialize(config)
    assert type(again) is type(reg) and again.get_config() == reg.get_config()
    layer = keras.layers.Dense(3, kernel_regularizer=reg, bias_regularizer="l2", activity_regularizer=reg)
    clone = keras.layers.Dense.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    assert type(clone.kernel_regularizer) is type(reg)


@pytest.mark.parametrize("make", [lambda: keras.regularizers.L2(-0.1), lambda: keras.regularizers.L1(float("nan")),
                                  lambda: keras.regularizers.L1L2(l1="0.1"),
                                  lambda: keras.regularizers.OrthogonalRegularizer(mode="diagonal"),
                                  lambda: keras.regularizers.get("l3"),
                                  lambda: keras.layers.Dense(3, kernel_regularizer="nope"),
                                  lambda: keras.regularizers.get(3)])
def test_bad_arguments(make):
    with pytest.raises(ValueError):
        make()


def test_native_call_rejects_bad_input():
    w = np.ones(3, np.float32)
    with pytest.raises(ValueError, match="non-negative"):
        _C.weight_penalty([w], None, [-1.0], [0.0])
    with pytest.raises(ValueError):
        _C.weight_penalty([w], [np.ones(4, np.float32)], [0.0], [1.0])
    with pytest.raises(TypeError):
        _C.weight_penalty([w], [np.ones(3, np.float64)], [0.0], [1.0])
    with pytest.raises(ValueError):
        _C.weight_penalty([w], None, [0.0, 1.0], [0.0])


def _model(reg, units=4, inputs=5, activation=None, **kw):
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.layers.Dense(units, activation=activation, kernel_regularizer=reg,
                                                 input_shape=[inputs], **kw)])
    return model


@pytest.mark.parametrize("reg,step", [(keras.regularizers.l2(0.05), lambda w: w * (1 - 2 * 0.05)),
                                      (keras.regularizers.l1(0.05), lambda w: w - 0.05 * np.sign(w)),
                                      (lambda w: ops.multiply(0.05, ops.sum(ops.square(w))),  # tape path
                                       lambda w: w * (1 - 2 * 0.05))])
def test_optimizer_receives_penalty_gradient(reg, step):
    """Zero inputs give the kernel a zero data gradient, so with SGD(lr=1) the kernel moves by
    exactly the penalty's gradient."""
    model = _model(reg)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0), loss="mse")
    w0 = model.layers[0].kernel.numpy().astype(np.float64)
    model.fit(np.zeros((8, 5)), np.ones((8, 4)), batch_size=8, epochs=1, verbose=0, shuffle=False)
    np.testing.assert_allclose(model.layers[0].kernel.numpy(), step(w0), rtol=4 * EPS32, atol=4 * EPS32)


def test_reported_loss_includes_penalty(rng):
    reg = keras.regularizers.l1_l2(l1=0.01, l2=0.02)
    model = _model(reg, units=3, activation="elu", bias_regularizer=keras.regularizers.l2(0.5))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    x, y = rng.normal(size=(16, 5)), rng.normal(size=(16, 3))
    layer = model.layers[0]
    kernel, bias = layer.kernel.numpy().astype(np.float64), rng.normal(size=3).astype(np.float32)
    layer.bias.assign(bias)
    z = x.astype(np.float32).astype(np.float64) @ kernel + bias
    pred = np.where(z > 0, z, np.expm1(z))
    data = np.mean((pred - y) ** 2)
    penalty = penalty64(kernel, 0.01, 0.02) + penalty64(bias, 0, 0.5)
    assert model.evaluate(x, y, batch_size=5, verbose=0) == pytest.approx(data + penalty, rel=1e-5)
    assert model.losses == pytest.approx([penalty64(kernel, 0.01, 0.02), penalty64(bias, 0, 0.5)], rel=1e-5)
    assert layer.losses == pytest.approx(model.losses, rel=1e-12)
    history = model.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
    assert history.history["loss"][0] == pytest.approx(data + penalty, rel=1e-5)  # pre-update weights
    assert not np.allclose(layer.kernel.numpy(), kernel)


def test_activity_regularizer_penalty_and_gradient(rng):
    """Linear Dense, MSE and activity l2(a): loss = mean((xW+b-y)²) + a·Σ(xW+b)²; one SGD step
    against the float64 gradient Xᵀ(2(o−y)/(n·u) + 2a·o)."""
    a, lr = 0.03, 0.05
    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.layers.Dense(3, input_shape=[4], activity_regularizer=keras.regularizers.l2(a))])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mse")
    x, y = rng.normal(size=(6, 4)).astype(np.float32), rng.normal(size=(6, 3))
    W, b = (v.numpy().astype(np.float64) for v in model.layers[0].weights)
    o = x @ W + b
    loss = np.mean((o - y) ** 2) + a * np.sum(o ** 2)
    assert model.evaluate(x, y, batch_size=6, verbose=0) == pytest.approx(loss, rel=1e-5)
    assert model.losses == pytest.approx([a * np.sum(o ** 2)], rel=1e-5)
    history = model.fit(x, y, batch_size=6, epochs=1, verbose=0, shuffle=False)
    assert history.history["loss"][0] == pytest.approx(loss, rel=1e-5)
    d = 2 * (o - y) / o.size + 2 * a * o
    np.testing.assert_allclose(model.layers[0].kernel.numpy(), W - lr * x.T @ d, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.layers[0].bias.numpy(), b - lr * d.sum(0), rtol=1e-5, atol=1e-6)


def test_chapter_regularized_dense_trains(rng):
    """The chapter's partial(Dense, ..., kernel_regularizer=l2(0.01)) model trains, and one
    penalty per regularized kernel is listed."""
    from functools import partial
    RegularizedDense = partial(keras.layers.Dense, activation="elu", kernel_initializer="he_normal",
                               kernel_regularizer=keras.regularizers.l2(0.01))
    model = keras.models.Sequential([keras.layers.Flatten(input_shape=[28, 28]), RegularizedDense(30),
                                     RegularizedDense(10), RegularizedDense(10, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    x, y = rng.random((64, 28, 28)), rng.integers(0, 10, 64)
    kernels = [layer.kernel.numpy() for layer in model.layers[1:]]
    assert model.losses == pytest.approx([penalty64(k, 0, 0.01) for k in kernels], rel=1e-5)
    history = model.fit(x, y, epochs=3, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_orthogonal_regularizer_matches_numpy(rng):
    w = rng.normal(size=(6, 4)).astype(np.float32)
    for mode, m in (("rows", w.astype(np.float64)), ("columns", w.T.astype(np.float64))):
        n = m / np.sqrt(np.maximum((m ** 2).sum(1, keepdims=True), 1e-12))
        p = n @ n.T
        size = len(p)
        expected = 0.3 * 0.5 * np.abs(p * (1 - np.eye(size))).sum() / (size * (size - 1) / 2)
        assert float(keras.regularizers.OrthogonalRegularizer(0.3, mode)(w)) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="2-D"):
        keras.regularizers.OrthogonalRegularizer()(np.ones(3, np.float32))


def test_torch_l2_step_matches(rng):
    torch = pytest.importorskip("torch")
    lam, lr = 0.01, 0.1
    model = _model(keras.regularizers.l2(lam), units=3, inputs=4, activation="elu")
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mse")
    x, y = rng.normal(size=(8, 4)).astype(np.float32), rng.normal(size=(8, 3)).astype(np.float32)
    W = torch.tensor(model.layers[0].kernel.numpy(), dtype=torch.float64, requires_grad=True)
    b = torch.tensor(model.layers[0].bias.numpy(), dtype=torch.float64, requires_grad=True)
    out = torch.nn.functional.elu(torch.tensor(x, dtype=torch.float64) @ W + b)
    loss = torch.mean((out - torch.tensor(y, dtype=torch.float64)) ** 2) + lam * (W ** 2).sum()
    loss.backward()
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    assert history.history["loss"][0] == pytest.approx(loss.item(), rel=1e-5)
    np.testing.assert_allclose(model.layers[0].kernel.numpy(), (W - lr * W.grad).detach().numpy(), rtol=1e-5, atol=1e-6)
