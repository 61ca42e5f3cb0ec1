"""The dropout family (csrc/dropout/, fastdnn.noise, layers/regularization.py): masks and normals
against a NumPy Philox (tests/philox_reference.py) on every kernel path and thread count,
statistics, gradients, seeding and argument errors."""

import numpy as np
import pytest

import fastdnn
from fastdnn import _C, layers, noise, ops

from _tolerances import ELEMENTWISE_RTOL, EPS32, NORMAL_ATOL
from conftest import assert_close
from philox_reference import SEEDED_STREAM, keep_mask, normals
from reference import SELU_ALPHA, SELU_SCALE, f64

SIZES = [1, 3, 17, 33, 63, 64, 65, 257, 1000, 70001]


# ---- the native kernels against the NumPy Philox --------------------------------------------

@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("rate", [0.0, 0.2, 0.5, 0.9])
def test_bernoulli_matches_reference_exactly(isa, n, rate, rng):
    x = rng.uniform(-2, 2, n).astype(np.float32)
    seed, stream, step = 2**40 + 12345, 7, 2**33 + 5  # high words of seed and step in use
    scale = 1 / (1 - rate)
    y = _C.noise_bernoulli(x, rate, seed, stream, step, scale)
    keep = keep_mask(n, rate, seed, stream, step)
    np.testing.assert_array_equal(y, np.where(keep, x * np.float32(scale), np.float32(0)))


@pytest.mark.parametrize("n", SIZES)
def test_normal_matches_reference(isa, n, rng):
    x = rng.uniform(-2, 2, n).astype(np.float32)
    y = _C.noise_normal(x, 99, 3, 11, 1.0, 0.5, 0.25, 2.0)
    z = normals(n, 99, 3, 11)
    assert_close(y, f64(x) * (1 + 0.5 * z) + 0.25 + 2.0 * z, NORMAL_ATOL * 3, 4 * EPS32, "noise_normal")


@pytest.mark.parametrize("op", ["bernoulli", "normal"])
def test_same_draws_on_one_and_two_threads(op, fast_isa, rng):
    x = rng.standard_normal((513, 1031)).astype(np.float32)  # several thread chunks plus a ragged tail
    run = {"bernoulli": lambda: _C.noise_bernoulli(x, 0.3, 5, 1, 2, 1 / 0.7),
           "normal": lambda: _C.noise_normal(x, 5, 1, 2, 1.0, 0.7, 0.0, 0.0)}[op]
    previous = fastdnn.get_num_threads()
    try:
        fastdnn.set_num_threads(1)
        one = run()
        fastdnn.set_num_threads(2)
        two = run()
    finally:
        fastdnn.set_num_threads(previous)
    np.testing.assert_array_equal(one, two)


def test_kernel_paths_agree_bitwise_on_masks(rng):
    x = rng.standard_normal(10007).astype(np.float32)
    previous = fastdnn.get_isa()
    try:
        outs = []
        for name in fastdnn.available_isas():
            fastdnn.set_isa(name)
            outs.append(_C.noise_bernoulli(x, 0.37, 1, 2, 3, 1.5, 0.25, -1.0))
    finally:
        fastdnn.set_isa(previous)
    for out in outs[1:]:
        np.testing.assert_array_equal(out == -1.0, outs[0] == -1.0)
        # x·m + c rounds once or twice (fused or not): within an ulp of |x·m| + |c|
        assert_close(out, outs[0], 2 * EPS32 * (np.abs(f64(x)) * 1.5 + 0.25), 0.0)


def test_coordinates_change_the_draws():
    x = np.ones(4096, np.float32)
    base = _C.noise_bernoulli(x, 0.5, 1, 2, 3, 2.0)
    for coords in [(2, 2, 3), (1, 3, 3), (1, 2, 4), (1 + 2**32, 2, 3), (1, 2, 3 + 2**32)]:
        other = _C.noise_bernoulli(x, 0.5, *coords, 2.0)
        assert 0.4 < (other != base).mean() < 0.6, coords  # independent masks differ in half the places


# ---- Dropout ----------------------------------------------------------------------------------

@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_dropout_keep_fraction_and_scaling(rate):
    layer = layers.Dropout(rate, seed=3)
    x = np.ones((400, 500), np.float32)
    y = layer(x, training=True)
    n = x.size
    sigma = np.sqrt(rate * (1 - rate) / n)
    assert abs((y == 0).mean() - rate) < 6 * sigma
    np.testing.assert_array_equal(np.unique(y), np.array([0, 1 / (1 - rate)], np.float32))
    assert abs(y.mean() - 1) < 6 * sigma / (1 - rate)


def test_dropout_layer_uses_its_coordinates(rng):
    layer = layers.Dropout(0.3, seed=17)
    x = rng.uniform(0.5, 1.5, (31, 29)).astype(np.float32)
    for step in range(3):
        y = layer(x, training=True)
        keep = keep_mask(x.size, 0.3, 17, SEEDED_STREAM, step).reshape(x.shape)
        np.testing.assert_array_equal(y, np.where(keep, x * np.float32(1 / 0.7), 0))


def test_dropout_backward_is_the_regenerated_mask_times_g(rng):
    rate = 0.45
    layer = layers.Dropout(rate, seed=8)
    layer(np.ones((2, 2), np.float32), training=True)  # step 0 used; the taped call is step 1
    x = rng.uniform(0.5, 1.5, (37, 41)).astype(np.float32)
    w = rng.uniform(-1, 1, x.shape).astype(np.float32)
    with fastdnn.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        loss = ops.sum(ops.multiply(y, w))
    g = tape.gradient(loss, x)
    keep = keep_mask(x.size, rate, 8, SEEDED_STREAM, 1).reshape(x.shape)
    np.testing.assert_array_equal(keep, y != 0)
    np.testing.assert_array_equal(g, np.where(keep, w * np.float32(1 / (1 - rate)), 0))


def test_dropout_inference_and_zero_rate_are_identity(rng):
    x = rng.standard_normal((5, 7)).astype(np.float32)
    assert layers.Dropout(0.5)(x) is x
    assert layers.Dropout(0.5)(x, training=False) is x
    assert layers.Dropout(0.0)(x, training=True) is x


def test_dropout_noise_shape_broadcasts_and_differentiates(rng):
    layer = layers.Dropout(0.5, noise_shape=(None, 1, 4), seed=2)
    x = rng.uniform(0.5, 1.5, (30, 3, 4)).astype(np.float32)
    with fastdnn.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
    g = tape.gradient(y, x)
    keep = keep_mask(30 * 4, 0.5, 2, SEEDED_STREAM, 0).reshape(30, 1, 4)
    np.testing.assert_array_equal(y, np.where(keep, x * np.float32(2), 0))
    np.testing.assert_array_equal(g, np.broadcast_to(keep * np.float32(2), x.shape))


def test_unseeded_layers_draw_apart_and_seeded_layers_together():
    x = np.ones((64, 64), np.float32)
    a, b = layers.Dropout(0.5), layers.Dropout(0.5)
    assert (a(x, training=True) != b(x, training=True)).mean() > 0.4
    c, d = layers.Dropout(0.5, seed=4), layers.Dropout(0.5, seed=4)
    np.testing.assert_array_equal(c(x, training=True), d(x, training=True))
    assert not np.array_equal(c(x, training=True), d(x, training=False))


def test_set_random_seed_restarts_unseeded_layers():
    x = np.ones((50, 50), np.float32)
    outs = []
    for _ in range(2):
        fastdnn.utils.set_random_seed(11)
        layer = layers.Dropout(0.3)
        outs.append([layer(x, training=True) for _ in range(3)])
    for first, second in zip(*outs):
        np.testing.assert_array_equal(first, second)
    assert not np.array_equal(outs[0][0], outs[0][1])


def _fit_once(x, y, seed):
    fastdnn.utils.set_random_seed(seed)
    model = fastdnn.Sequential([
        fastdnn.Input(shape=[x.shape[1]]),
        layers.Dense(32, activation="elu", kernel_initializer="he_normal"),
        layers.Dropout(0.3),
        layers.Dense(16, activation="selu", kernel_initializer="lecun_normal"),
        layers.AlphaDropout(0.1),
        layers.GaussianNoise(0.05),
        layers.Dense(3, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    return model.get_weights()


def test_training_run_repeats_exactly_after_set_random_seed(rng):
    x = rng.standard_normal((120, 10)).astype(np.float32)
    y = rng.integers(0, 3, 120)
    first, second, other = _fit_once(x, y, 42), _fit_once(x, y, 42), _fit_once(x, y, 43)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(first, other))


# ---- AlphaDropout -----------------------------------------------------------------------------

def test_alpha_dropout_keeps_selu_mean_and_variance(rng):
    z = rng.standard_normal((1000, 500))
    selu = np.where(z > 0, SELU_SCALE * z, SELU_SCALE * SELU_ALPHA * np.expm1(z))
    x = ((selu - selu.mean()) / selu.std()).astype(np.float32)  # standardized SELU activations
    for rate in (0.05, 0.2, 0.5):
        y = layers.AlphaDropout(rate, seed=1)(x, training=True).astype(np.float64)
        assert abs(y.mean()) < 0.01 and abs(y.var() - 1) < 0.01, (rate, y.mean(), y.var())
        naive = x * (y != y.min())  # plain zeroing would shift the variance
        assert abs(naive.var() - 1) > 0.04


@pytest.mark.parametrize("n", [1, 17, 1000])
def test_alpha_dropout_formula_and_gradient(isa, n, rng):
    rate = 0.3
    layer = layers.AlphaDropout(rate, seed=6)
    x = rng.standard_normal(n).astype(np.float32)
    with fastdnn.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
    g = tape.gradient(y, x)
    keep = keep_mask(n, rate, 6, SEEDED_STREAM, 0)
    alpha_p = -SELU_ALPHA * SELU_SCALE
    a = ((1 - rate) * (1 + rate * alpha_p ** 2)) ** -0.5
    b = -a * alpha_p * rate
    ref = a * (f64(x) * keep + alpha_p * (1 - keep)) + b
    # a·x + b rounds once or twice: within an ulp or so of the terms' size
    assert_close(y, ref, 3 * EPS32 * (a * np.abs(f64(x)) + abs(b) + abs(a * alpha_p)), 0.0, "alpha dropout")
    assert_close(g, a * keep, 0.0, ELEMENTWISE_RTOL, "alpha dropout gradient")


def test_alpha_dropout_noise_shape(rng):
    x = rng.standard_normal((20, 6)).astype(np.float32)
    y = layers.AlphaDropout(0.5, noise_shape=(None, 1), seed=9)(x, training=True)
    dropped = np.isclose(y, y.min()).all(axis=1)
    assert dropped.any() and not dropped.all()
    assert np.unique(y[dropped]).size == 1


# ---- GaussianDropout and GaussianNoise -------------------------------------------------------

@pytest.mark.parametrize("rate", [0.2, 0.5])
def test_gaussian_dropout_statistics(rate):
    y = layers.GaussianDropout(rate, seed=2)(np.ones((500, 400), np.float32), training=True).astype(np.float64)
    var = rate / (1 - rate)
    n = y.size
    assert abs(y.mean() - 1) < 6 * np.sqrt(var / n)
    assert abs(y.var() / var - 1) < 6 * np.sqrt(2 / n)
    z = (y - 1) / np.sqrt(var)
    assert abs((np.abs(z) < 1).mean() - 0.682689) < 6 * np.sqrt(0.22 / n)  # a normal's shape
    assert abs((np.abs(z) > 3).mean() - 0.0026998) < 6 * np.sqrt(0.0027 / n)


def test_gaussian_dropout_values_and_gradient(rng):
    rate = 0.4
    x = rng.uniform(-1, 1, (13, 17)).astype(np.float32)
    layer = layers.GaussianDropout(rate, seed=12)
    with fastdnn.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
    g = tape.gradient(y, x)
    noise_ref = 1 + np.sqrt(rate / (1 - rate)) * normals(x.size, 12, SEEDED_STREAM, 0).reshape(x.shape)
    assert_close(y, f64(x) * noise_ref, NORMAL_ATOL, 4 * EPS32, "gaussian dropout")
    assert_close(g, noise_ref, NORMAL_ATOL, 4 * EPS32, "gaussian dropout gradient")


def test_gaussian_noise_statistics_and_gradient(rng):
    x = rng.uniform(-1, 1, (400, 300)).astype(np.float32)
    layer = layers.GaussianNoise(0.3, seed=5)
    with fastdnn.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
    g = tape.gradient(y, x)
    e = (f64(y) - x) / 0.3
    assert abs(e.mean()) < 6 / np.sqrt(e.size) and abs(e.var() - 1) < 6 * np.sqrt(2 / e.size)
    assert_close(y, f64(x) + 0.3 * normals(x.size, 5, SEEDED_STREAM, 0).reshape(x.shape), NORMAL_ATOL, 2 * EPS32)
    np.testing.assert_array_equal(g, np.ones_like(x))
    assert layers.GaussianNoise(0.3)(x) is x


# ---- configs and errors ----------------------------------------------------------------------

@pytest.mark.parametrize("factory,args", [
    (lambda: layers.Dropout(0.25, noise_shape=(None, 1), seed=3), {"rate": 0.25, "noise_shape": [None, 1], "seed": 3}),
    (lambda: layers.AlphaDropout(0.1), {"rate": 0.1, "noise_shape": None, "seed": None}),
    (lambda: layers.GaussianDropout(0.3, seed=1), {"rate": 0.3, "seed": 1}),
    (lambda: layers.GaussianNoise(0.2), {"stddev": 0.2, "seed": None}),
])
def test_config_uses_keras_names_and_round_trips(factory, args):
    layer = factory()
    config = layer.get_config()
    assert {k: config[k] for k in args} == args
    again = layers.deserialize(layers.serialize(layer))
    assert type(again) is type(layer) and again.get_config() == config


def test_seeded_config_reproduces_the_draws(rng):
    x = rng.standard_normal((9, 9)).astype(np.float32)
    for layer in (layers.AlphaDropout(0.3, seed=4), layers.GaussianDropout(0.3, seed=4),
                  layers.GaussianNoise(1.0, seed=4)):
        rebuilt = type(layer).from_config(layer.get_config())
        np.testing.assert_array_equal(layer(x, training=True), rebuilt(x, training=True))


@pytest.mark.parametrize("cls", [layers.Dropout, layers.AlphaDropout, layers.GaussianDropout])
@pytest.mark.parametrize("rate,error", [(-0.1, ValueError), (1.0, ValueError), (float("nan"), ValueError),
                                        ("0.5", TypeError), (None, TypeError), (True, TypeError)])
def test_bad_rate(cls, rate, error):
    with pytest.raises(error, match="rate"):
        cls(rate)


@pytest.mark.parametrize("stddev,error", [(-1.0, ValueError), (float("inf"), ValueError), ("1", TypeError)])
def test_bad_stddev(stddev, error):
    with pytest.raises(error, match="stddev"):
        layers.GaussianNoise(stddev)


@pytest.mark.parametrize("seed", [-1, 1.5, "3"])
def test_bad_seed(seed):
    with pytest.raises(ValueError, match="seed"):
        layers.Dropout(0.5, seed=seed)


@pytest.mark.parametrize("noise_shape", [(None,), (None, 3), (None, 2, 1)])
def test_bad_noise_shape(noise_shape):
    layer = layers.Dropout(0.5, noise_shape=noise_shape)
    with pytest.raises(ValueError, match="noise_shape"):
        layer(np.ones((4, 5), np.float32), training=True)


def test_native_argument_errors():
    x = np.ones(8, np.float32)
    with pytest.raises(TypeError, match="float32"):
        _C.noise_bernoulli(np.ones(8), 0.5, 1, 0, 0, 2.0)
    with pytest.raises(ValueError, match="rate"):
        _C.noise_bernoulli(x, 1.0, 1, 0, 0, 2.0)
    with pytest.raises(ValueError, match="C-contiguous"):
        _C.noise_normal(np.ones((4, 4), np.float32)[:, ::2], 1, 0, 0, 1.0, 1.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="finite"):
        _C.noise_normal(x, 1, 0, 0, 1.0, float("nan"), 0.0, 0.0)
    with pytest.raises(TypeError):
        _C.noise_bernoulli(x, 0.5, -1, 0, 0, 2.0)  # seeds are unsigned 64-bit
    with pytest.raises(TypeError, match="real numbers"):
        noise.dropout(np.array(["a"]), 0.5, (1, 0, 0))


def test_writes_into_out_and_zero_size(rng):
    x = rng.standard_normal((3, 5)).astype(np.float32)
    out = np.empty_like(x)
    assert _C.noise_bernoulli(x, 0.5, 1, 0, 0, 2.0, out=out) is out
    np.testing.assert_array_equal(out, _C.noise_bernoulli(x, 0.5, 1, 0, 0, 2.0))
    assert layers.Dropout(0.5)(np.zeros((0, 4), np.float32), training=True).shape == (0, 4)
    assert layers.GaussianNoise(1.0)(np.zeros((0, 4), np.float32), training=True).shape == (0, 4)
