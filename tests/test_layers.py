"""fastdnn.layers: each layer's output against a float64 NumPy reference of its formula, its
gradients (inputs and trainable weights, through the GradientTape) against finite differences,
argument checks, Keras 3 defaults, random layers (Dropout, MC Dropout, RReLU), user layers built
from ops, configs and serialization, and naming."""

import json
import re

import numpy as np
import pytest

import fastdnn
from fastdnn import layers, ops

from _tolerances import ACT_RTOL, ELEMENTWISE_RTOL, EPS32, grad_atol, gemm_atol
from conftest import assert_close
from reference import SELU_ALPHA, SELU_SCALE, activation_ref, f64, gemm_scale
from test_ops_grad import away_from, dense_inputs, loss_weights, numeric_grad, softmax64


def check_layer(layer, x, ref, rng, weights=None, depth=1, fwd_atol=1e-30, fwd_rtol=ACT_RTOL,
                training=None, what=None):
    """Runs `layer` on float32 `x` on a tape and checks its output against ref(x, *weights) in
    float64, and the gradients of sum(output · w) with respect to x and every trainable weight
    against central differences of the reference. `weights` (if given) are set first."""
    what = what or type(layer).__name__
    x = np.array(x, dtype=np.float32, order="C")
    if not layer.built:
        layer.build(x.shape)
        layer.built = True
    if weights is not None:
        layer.set_weights(weights)
    values = [np.array(v, np.float32) for v in layer.get_weights()]
    trainable = layer.trainable_weights
    positions = [next(i for i, v in enumerate(layer.weights) if v is t) for t in trainable]

    y_ref = np.asarray(ref(x, *values), np.float64)
    w = loss_weights(y_ref.shape, rng)
    with fastdnn.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=training)
        loss = ops.sum(ops.multiply(y, w))
    grads = tape.gradient(loss, [x] + trainable)

    assert isinstance(y, np.ndarray) and y.dtype == np.float32
    assert_close(y, y_ref, fwd_atol, fwd_rtol, what=f"{what} output")

    w64 = f64(w)

    def loss64(*args):
        return float(np.sum(np.asarray(ref(*args), np.float64) * w64))

    args = [x] + values
    for j, g in zip([0] + [p + 1 for p in positions], grads):
        name = "inputs" if j == 0 else layer.weights[j - 1].name
        assert g is not None, f"{what}: no gradient for {name}"
        assert g.shape == args[j].shape and np.asarray(g).dtype == np.float32
        g_ref = numeric_grad(loss64, args, j)
        assert_close(g, g_ref, grad_atol(g_ref, depth), what=f"{what}: d loss / d {name}")
    return y, grads


# ---- Dense ---------------------------------------------------------------------------------

DENSE_ACTS = [None, "linear", "relu", "leaky_relu", "elu", "selu", "sigmoid", "tanh", "softmax"]


def dense_act64(name):
    return softmax64 if name == "softmax" else activation_ref(name)


@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("activation", DENSE_ACTS, ids=str)
def test_dense_layer(activation, use_bias, rng):
    x, kernel, bias = dense_inputs((6, 5), 4, use_bias, rng)
    layer = layers.Dense(4, activation=activation, use_bias=use_bias)
    weights = [kernel] + ([bias] if use_bias else [])
    f = dense_act64(activation)

    def ref(x, kernel, bias=None):
        z = f64(x) @ f64(kernel)
        return f(z if bias is None else z + f64(bias))

    z_atol = gemm_atol(6, gemm_scale(x, kernel, c0=bias))
    fwd_atol = 2 * np.max(z_atol)
    y, grads = check_layer(layer, x, ref, rng, weights, depth=6, fwd_atol=fwd_atol)
    assert y.shape == (6, 4) and len(grads) == (3 if use_bias else 2)
    assert [v.path for v in layer.weights] == [f"{layer.name}/kernel"] + (
        [f"{layer.name}/bias"] if use_bias else [])


def test_dense_layer_3d_input(rng):
    x, kernel, bias = dense_inputs((2, 3, 5), 4, True, rng)
    layer = layers.Dense(4, activation="elu")
    y, _ = check_layer(layer, x, lambda x, k, b: activation_ref("elu")(f64(x) @ f64(k) + f64(b)),
                       rng, [kernel, bias], depth=6, fwd_atol=1e-6)
    assert y.shape == (2, 3, 4)
    assert layer.compute_output_shape((None, 3, 5)) == (None, 3, 4)


def test_dense_default_weights(rng):
    layer = layers.Dense(30)
    layer(np.zeros((2, 20), np.float32))
    kernel, bias = layer.get_weights()
    assert kernel.shape == (20, 30) and bias.shape == (30,)
    limit = np.sqrt(6 / (20 + 30))  # glorot_uniform
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.5 * limit
    np.testing.assert_array_equal(bias, 0)
    assert layer.count_params() == 20 * 30 + 30


@pytest.mark.parametrize("units", [0, -3, None, "10", 2.5, 4.0, True], ids=repr)
def test_dense_units_validation(units):
    with pytest.raises(ValueError, match="expected a positive integer"):
        layers.Dense(units)


@pytest.mark.parametrize("units", [2.5, None, "10"], ids=repr)
def test_dense_units_error_names_the_value(units):
    with pytest.raises(ValueError, match=re.escape(f"units={units!r}")):
        layers.Dense(units)


def test_dense_accepts_numpy_integers():
    assert layers.Dense(np.int64(7)).units == 7


CALLABLES = [
    ("relu", lambda z: fastdnn.activations.relu(z)),
    ("leaky_relu", lambda z: fastdnn.activations.leaky_relu(z)),
    ("elu", lambda z: fastdnn.activations.elu(z)),
    ("selu", lambda z: ops.selu(z)),
    ("sigmoid", lambda z: ops.sigmoid(z)),
    ("tanh", lambda z: ops.tanh(z)),
    ("softmax", lambda z: ops.softmax(z)),
]


@pytest.mark.parametrize("name,fn", CALLABLES, ids=[c[0] for c in CALLABLES])
def test_dense_callable_activation_equals_fused(name, fn, rng):
    """A lambda is not in FUSED, so it runs as dense + separate op; same values and gradients."""
    x, kernel, bias = dense_inputs((7, 5), 6, True, rng)
    fused, plain = layers.Dense(6, activation=name), layers.Dense(6, activation=fn)
    results = []
    for layer in (fused, plain):
        layer(x)
        layer.set_weights([kernel, bias])
        with fastdnn.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = ops.sum(ops.multiply(y, np.arange(6, dtype=np.float32) - 2.5))
        results.append((y, tape.gradient(loss, [x, layer.kernel, layer.bias])))
    (y1, g1), (y2, g2) = results
    assert_close(y2, y1, 1e-30, 2 * ACT_RTOL, what="callable vs fused output")
    for a, b in zip(g2, g1):
        assert_close(a, b, grad_atol(b, 7), what="callable vs fused gradient")


def test_dense_with_leaky_relu_layer_as_activation(rng):
    """The book's `Dense(50, activation=LeakyReLU(alpha=0.2))`."""
    with pytest.warns(Warning, match="alpha"):
        leaky = layers.LeakyReLU(alpha=0.2)
    x, kernel, bias = dense_inputs((4, 3), 5, True, rng)
    layer = layers.Dense(5, activation=leaky, kernel_initializer="he_normal")
    check_layer(layer, x, lambda x, k, b: activation_ref("leaky_relu", negative_slope=0.2)(
        f64(x) @ f64(k) + f64(b)), rng, [kernel, bias], depth=4, fwd_atol=1e-6)


# ---- shape layers --------------------------------------------------------------------------

def test_flatten_input_shape(rng):
    layer = layers.Flatten(input_shape=[28, 28])
    x = rng.uniform(-1, 1, (3, 28, 28)).astype(np.float32)
    y = layer(x)
    assert y.shape == (3, 784)
    np.testing.assert_array_equal(y, x.reshape(3, 784))
    assert layer.compute_output_shape((None, 28, 28)) == (None, 784)
    assert layer.get_config()["batch_input_shape"] == [None, 28, 28]


def test_flatten_gradient(rng):
    x = rng.uniform(-1, 1, (3, 2, 4)).astype(np.float32)
    check_layer(layers.Flatten(), x, lambda x: f64(x).reshape(3, -1), rng, fwd_rtol=0.0)


def test_input_and_input_layer(rng):
    t = fastdnn.Input(shape=[28, 28])
    assert t.shape == (None, 28, 28)
    assert layers.Input(shape=(5,), batch_size=8).shape == (8, 5)
    layer = layers.InputLayer(shape=(5,))
    x = rng.uniform(-1, 1, (2, 5)).astype(np.float32)
    np.testing.assert_array_equal(layer(x), x)
    assert layer.get_config()["batch_shape"] == [None, 5]  # Keras 3's key
    with pytest.raises(ValueError):
        fastdnn.Input()


# ---- activation layers ---------------------------------------------------------------------

def relu_ref(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras's ReLU: max_value for x >= max_value, x for threshold <= x < max_value,
    negative_slope · (x - threshold) below the threshold."""
    x = f64(x)
    y = np.where(x >= threshold, x, negative_slope * (x - threshold))
    return y if max_value is None else np.minimum(y, max_value)


RELU_CASES = [
    pytest.param({}, id="default"),
    pytest.param({"max_value": 1.5}, id="max_value"),
    pytest.param({"threshold": 0.5}, id="threshold"),
    pytest.param({"negative_slope": 0.1}, id="negative_slope"),
    pytest.param({"max_value": 6.0, "threshold": -0.5}, id="max+threshold"),
    pytest.param({"negative_slope": 0.1, "threshold": 0.5}, id="slope+threshold"),
    pytest.param({"negative_slope": 0.2, "max_value": 1.5}, id="slope+max"),
    pytest.param({"negative_slope": 0.2, "max_value": 1.5, "threshold": -0.25}, id="all"),
]


@pytest.mark.parametrize("kwargs", RELU_CASES)
def test_relu_layer(kwargs, rng):
    kinks = [0.0, kwargs.get("threshold", 0.0)] + ([kwargs["max_value"]] if "max_value" in kwargs else [])
    x = away_from(rng.uniform(-3, 3, (5, 8)), kinks, 0.05, rng, -3, 3)
    check_layer(layers.ReLU(**kwargs), x, lambda x: relu_ref(x, **kwargs), rng,
                fwd_rtol=ELEMENTWISE_RTOL)


def test_relu_layer_forward_with_every_argument(rng):
    """The forward is right even where the gradient is not (see RELU_CASES)."""
    x = away_from(rng.uniform(-3, 3, (5, 8)), [0.0, -0.25, 1.5], 0.05, rng, -3, 3)
    kwargs = {"negative_slope": 0.2, "max_value": 1.5, "threshold": -0.25}
    assert_close(layers.ReLU(**kwargs)(x), relu_ref(x, **kwargs), 1e-30, ELEMENTWISE_RTOL)


def test_relu_layer_validation():
    with pytest.raises(ValueError, match="max_value"):
        layers.ReLU(max_value=-1.0)
    with pytest.raises(ValueError, match="negative_slope"):
        layers.ReLU(negative_slope=-0.1)


def test_leaky_relu_default_is_keras3():
    assert layers.LeakyReLU().negative_slope == pytest.approx(0.3)


def test_leaky_relu_alpha_is_deprecated_but_works(rng):
    with pytest.warns(Warning, match="deprecated"):
        layer = layers.LeakyReLU(alpha=0.2)
    assert layer.negative_slope == pytest.approx(0.2)
    assert "alpha" not in layer.get_config()
    x = away_from(rng.uniform(-3, 3, (4, 6)), 0.0, 0.05, rng, -3, 3)
    check_layer(layer, x, lambda x: activation_ref("leaky_relu", negative_slope=0.2)(x), rng)


@pytest.mark.parametrize("slope", [0.3, 0.01, 0.0], ids=str)
def test_leaky_relu_layer(slope, rng):
    x = away_from(rng.uniform(-3, 3, (4, 6)), 0.0, 0.05, rng, -3, 3)
    check_layer(layers.LeakyReLU(negative_slope=slope), x,
                lambda x: activation_ref("leaky_relu", negative_slope=slope)(x), rng)


def test_leaky_relu_rejects_negative_slope():
    with pytest.raises(ValueError, match="negative"):
        layers.LeakyReLU(negative_slope=-0.1)


@pytest.mark.parametrize("alpha", [1.0, 0.5, 2.0], ids=str)
def test_elu_layer(alpha, rng):
    x = away_from(rng.uniform(-3, 3, (4, 6)), 0.0, 0.05, rng, -3, 3)
    check_layer(layers.ELU(alpha=alpha), x, lambda x: activation_ref("elu", alpha=alpha)(x), rng)


def test_softmax_layer(rng):
    x = rng.uniform(-3, 3, (4, 7)).astype(np.float32)
    y, _ = check_layer(layers.Softmax(), x, softmax64, rng, depth=7)
    assert_close(y.sum(axis=-1), np.ones(4), 4 * 7 * EPS32)


@pytest.mark.parametrize("name", ["linear", "relu", "leaky_relu", "elu", "selu", "sigmoid", "tanh",
                                  "softmax"])
def test_activation_layer(name, rng):
    x = away_from(rng.uniform(-3, 3, (4, 6)), 0.0, 0.05, rng, -3, 3)
    check_layer(layers.Activation(name), x, dense_act64(name), rng, depth=6)


def test_activation_layer_with_callable(rng):
    x = rng.uniform(-2, 2, (3, 4)).astype(np.float32)
    check_layer(layers.Activation(lambda z: ops.multiply(ops.tanh(z), z)), x,
                lambda x: np.tanh(f64(x)) * f64(x), rng)


def test_activation_layer_unknown_name():
    with pytest.raises(ValueError, match="Unknown activation"):
        layers.Activation("no_such_activation")


# ---- PReLU ---------------------------------------------------------------------------------

def prelu_ref(x, alpha):
    x = f64(x)
    return np.maximum(x, 0) + f64(alpha) * np.minimum(x, 0)


def test_prelu_learns_one_slope_per_unit(rng):
    layer = layers.PReLU()
    x = away_from(rng.uniform(-3, 3, (6, 5)), 0.0, 0.05, rng, -3, 3)
    layer(x)
    assert [v.shape for v in layer.weights] == [(5,)]
    assert layer.trainable_weights[0] is layer.alpha
    np.testing.assert_array_equal(layer.alpha.numpy(), 0)  # Keras default alpha_initializer
    alpha = rng.uniform(0.05, 0.5, 5).astype(np.float32)
    _, (gx, galpha) = check_layer(layer, x, prelu_ref, rng, [alpha], depth=6)
    assert galpha.shape == (5,)


def test_prelu_alpha_gradient_is_sum_of_negative_parts(rng):
    layer = layers.PReLU(alpha_initializer=fastdnn.initializers.Constant(0.25))
    x = away_from(rng.uniform(-3, 3, (6, 5)), 0.0, 0.05, rng, -3, 3)
    layer(x)
    np.testing.assert_array_equal(layer.alpha.numpy(), np.full(5, 0.25, np.float32))
    with fastdnn.GradientTape() as tape:
        loss = ops.sum(layer(x))
    g = tape.gradient(loss, layer.alpha)
    assert_close(g, np.minimum(f64(x), 0).sum(axis=0), 1e-6)


@pytest.mark.parametrize("shared_axes,alpha_shape", [(None, (3, 4)), ([1], (1, 4)), (2, (3, 1))],
                         ids=["none", "shared1", "shared2"])
def test_prelu_3d_and_shared_axes(shared_axes, alpha_shape, rng):
    layer = layers.PReLU(shared_axes=shared_axes)
    x = away_from(rng.uniform(-3, 3, (2, 3, 4)), 0.0, 0.05, rng, -3, 3)
    layer(x)
    assert layer.alpha.shape == alpha_shape
    alpha = rng.uniform(0.05, 0.5, alpha_shape).astype(np.float32)
    check_layer(layer, x, prelu_ref, rng, [alpha], depth=6)


# ---- RReLU ---------------------------------------------------------------------------------

def test_rrelu_defaults():
    layer = layers.RReLU()
    assert layer.lower == pytest.approx(1 / 8) and layer.upper == pytest.approx(1 / 3)


def test_rrelu_inference_uses_mean_slope(rng):
    layer = layers.RReLU(lower=0.1, upper=0.3)
    x = away_from(rng.uniform(-3, 3, (4, 6)), 0.0, 0.05, rng, -3, 3)
    check_layer(layer, x, lambda x: activation_ref("leaky_relu", negative_slope=0.2)(x), rng)
    np.testing.assert_array_equal(layer(x), layer(x, training=False))


def test_rrelu_training_slopes_in_range_and_varied(rng):
    lower, upper = 1 / 8, 1 / 3
    layer = layers.RReLU(seed=11)
    x = np.concatenate([-rng.uniform(0.5, 2, (50, 20)), rng.uniform(0.5, 2, (50, 20))]).astype(np.float32)
    with fastdnn.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
    g = tape.gradient(y, x)
    neg = x < 0
    slopes = f64(y[neg]) / f64(x[neg])
    assert slopes.min() >= lower - 1e-6 and slopes.max() <= upper + 1e-6
    assert slopes.std() > 0.25 * (upper - lower) / np.sqrt(12)  # varies (uniform: std 0.06)
    assert abs(slopes.mean() - (lower + upper) / 2) < 0.01
    np.testing.assert_array_equal(y[~neg], x[~neg])
    # the gradient is each element's own slope, 1 on the positive side
    assert_close(g[neg], slopes, 0.0, 4 * EPS32)
    np.testing.assert_array_equal(g[~neg], 1)


def test_rrelu_seeded_is_reproducible(rng):
    x = -rng.uniform(0.5, 2, (8, 8)).astype(np.float32)
    a, b = layers.RReLU(seed=3), layers.RReLU(seed=3)
    ya1, yb1 = a(x, training=True), b(x, training=True)
    np.testing.assert_array_equal(ya1, yb1)
    ya2 = a(x, training=True)
    assert not np.array_equal(ya1, ya2)  # a new draw each call
    np.testing.assert_array_equal(ya2, b(x, training=True))
    assert not np.array_equal(ya1, layers.RReLU(seed=4)(x, training=True))


def test_rrelu_validation():
    with pytest.raises(ValueError):
        layers.RReLU(lower=0.5, upper=0.1)
    with pytest.raises(ValueError):
        layers.RReLU(lower=-0.1)


# ---- Dropout and MC Dropout ----------------------------------------------------------------

def test_dropout_training_statistics(rng):
    rate = 0.2
    layer = layers.Dropout(rate, seed=5)
    x = np.ones((200, 500), np.float32)
    y = layer(x, training=True)
    dropped = (y == 0).mean()
    sigma = np.sqrt(rate * (1 - rate) / x.size)  # 0.0013
    assert abs(dropped - rate) < 6 * sigma
    np.testing.assert_array_equal(y[y != 0], np.float32(1 / (1 - rate)))
    assert abs(y.mean() - 1) < 6 * sigma / (1 - rate)


def test_dropout_inference_is_identity(rng):
    layer = layers.Dropout(0.5)
    x = rng.uniform(-1, 1, (10, 10)).astype(np.float32)
    for y in (layer(x), layer(x, training=False)):
        np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(layers.Dropout(0.0)(x, training=True), x)


def test_dropout_gradient_is_scaled_mask(rng):
    rate = 0.4
    layer = layers.Dropout(rate, seed=1)
    x = rng.uniform(0.5, 1.5, (20, 30)).astype(np.float32)
    w = loss_weights(x.shape, rng)
    with fastdnn.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        loss = ops.sum(ops.multiply(y, w))
    g = tape.gradient(loss, x)
    mask = (y != 0) / (1 - rate)
    assert 0 < (y == 0).mean() < 1
    assert_close(g, f64(w) * mask, 0.0, 2 * EPS32)


def test_dropout_masks_differ_between_calls_and_seed_reproduces():
    x = np.ones((30, 30), np.float32)
    a, b = layers.Dropout(0.5, seed=9), layers.Dropout(0.5, seed=9)
    a1, a2 = a(x, training=True), a(x, training=True)
    assert not np.array_equal(a1, a2)
    np.testing.assert_array_equal(a1, b(x, training=True))


def test_dropout_noise_shape(rng):
    layer = layers.Dropout(0.5, noise_shape=(None, 1), seed=2)
    y = layer(np.ones((40, 6), np.float32), training=True)
    rows = (y == 0).all(axis=1) | (y != 0).all(axis=1)
    assert rows.all() and 0 < (y[:, 0] == 0).mean() < 1


def test_dropout_rate_validation():
    for rate in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError, match="rate"):
            layers.Dropout(rate)


class MCDropout(layers.Dropout):
    """The chapter's Monte Carlo Dropout: dropout at inference too."""

    def call(self, inputs, training=None):
        return super().call(inputs, training=True)


def test_mc_dropout_drops_at_inference_and_gradient_flows(rng):
    layer = MCDropout(0.3, seed=4)
    x = rng.uniform(0.5, 1.5, (50, 40)).astype(np.float32)
    y1, y2 = layer(x), layer(x, training=False)
    assert 0.2 < (y1 == 0).mean() < 0.4
    assert not np.array_equal(y1, y2)
    kept = y1 != 0
    assert_close(y1[kept], f64(x[kept]) / 0.7, 0.0, 2 * EPS32)
    # Monte Carlo averaging recovers the input's scale
    mc = np.mean([layer(x) for _ in range(100)], axis=0)
    assert abs(mc.mean() / x.mean() - 1) < 0.02
    with fastdnn.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
    g = tape.gradient(y, x)
    assert g is not None
    assert_close(g, (y != 0) / 0.7, 0.0, 2 * EPS32)


def test_mc_dropout_round_trips_through_custom_objects():
    layer = MCDropout(0.25, seed=1)
    config = layers.serialize(layer)
    assert config["class_name"] == "MCDropout"
    with pytest.raises(ValueError, match="custom_objects"):
        layers.deserialize(config)
    rebuilt = layers.deserialize(config, custom_objects={"MCDropout": MCDropout})
    assert type(rebuilt) is MCDropout and rebuilt.rate == 0.25


# ---- user layers from ops ------------------------------------------------------------------

class ScaledTanhDense(layers.Layer):
    """y = tanh(x · w) · scale, written from ops with no backward of its own."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform",
                                 name="w")
        self.scale = self.add_weight(shape=(self.units,), initializer="ones", name="scale")

    def call(self, x):
        return ops.multiply(ops.tanh(ops.matmul(x, self.w.value)), self.scale.value)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_user_layer_gradients(rng):
    layer = ScaledTanhDense(3)
    x = rng.uniform(-1, 1, (5, 4)).astype(np.float32)
    w = rng.uniform(-1, 1, (4, 3)).astype(np.float32)
    scale = rng.uniform(0.5, 2, 3).astype(np.float32)
    _, grads = check_layer(layer, x, lambda x, w, s: np.tanh(f64(x) @ f64(w)) * f64(s), rng,
                           [w, scale], depth=5, fwd_atol=1e-6)
    assert [g.shape for g in grads] == [(5, 4), (4, 3), (3,)]
    assert [v.path for v in layer.trainable_weights] == [f"{layer.name}/w", f"{layer.name}/scale"]
    assert layer.name.startswith("scaled_tanh_dense")


def test_user_layer_non_trainable_weight_gets_no_gradient(rng):
    class Shift(layers.Layer):
        def build(self, input_shape):
            self.b = self.add_weight(shape=input_shape[1:], initializer="ones", trainable=False)
            self.k = self.add_weight(shape=input_shape[1:], initializer="ones")

        def call(self, x):
            return ops.multiply(ops.add(x, self.b.value), self.k.value)

    layer = Shift()
    x = rng.uniform(-1, 1, (2, 3)).astype(np.float32)
    with fastdnn.GradientTape() as tape:
        loss = ops.sum(layer(x))
    gb, gk = tape.gradient(loss, [layer.b, layer.k])
    assert gb is None and gk is not None
    assert layer.trainable_weights == [layer.k] and layer.non_trainable_weights == [layer.b]


def test_frozen_layer_has_no_trainable_weights(rng):
    layer = layers.Dense(3, trainable=False)
    layer(np.ones((2, 4), np.float32))
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 2


# ---- configs and serialization -------------------------------------------------------------

@fastdnn.saving.register_keras_serializable(package="tests")
def _scaled_tanh(x, scale=1.0):
    """A named function for a Lambda layer: its config names it, and the registry finds it."""
    return ops.multiply(ops.tanh(x), scale)


LAYER_FACTORIES = [
    ("LayerNormalization", lambda: layers.LayerNormalization(axis=[1, 2], epsilon=1e-2, center=False), (3, 2, 5)),
    ("LayerNormalization_last", lambda: layers.LayerNormalization(gamma_initializer="he_normal"), (3, 5)),
    ("Normalization", lambda: layers.Normalization(mean=[0.5] * 5, variance=[2.0] * 5, invert=True), (3, 5)),
    ("Rescaling", lambda: layers.Rescaling(np.array([1.0, 2.0, 0.5, -1.0, 3.0], np.float32), offset=0.5), (3, 5)),
    ("UnitNormalization", lambda: layers.UnitNormalization(axis=[1, 2]), (3, 2, 5)),
    ("BatchNormalization", lambda: layers.BatchNormalization(momentum=0.9, epsilon=1e-2, center=False,
                                                              gamma_initializer="he_normal", name="bn_cfg"), (3, 5)),
    ("Dense", lambda: layers.Dense(4, activation="elu", use_bias=True,
                                   kernel_initializer="he_normal", name="d_cfg"), (3, 5)),
    ("Dense_nobias_softmax", lambda: layers.Dense(4, activation="softmax", use_bias=False), (3, 5)),
    ("Flatten", lambda: layers.Flatten(input_shape=[2, 3]), (4, 2, 3)),
    ("Activation", lambda: layers.Activation("selu"), (3, 5)),
    ("Dropout", lambda: layers.Dropout(0.3, seed=7), (3, 5)),
    ("AlphaDropout", lambda: layers.AlphaDropout(0.2, noise_shape=(None, 1), seed=3), (3, 5)),
    ("GaussianDropout", lambda: layers.GaussianDropout(0.4, seed=4), (3, 5)),
    ("GaussianNoise", lambda: layers.GaussianNoise(0.5, seed=5), (3, 5)),
    ("InputLayer", lambda: layers.InputLayer(shape=(5,)), (3, 5)),
    ("ReLU", lambda: layers.ReLU(max_value=1.0, threshold=-0.5), (3, 5)),
    ("LeakyReLU", lambda: layers.LeakyReLU(negative_slope=0.15), (3, 5)),
    ("PReLU", lambda: layers.PReLU(alpha_initializer="glorot_uniform"), (3, 5)),
    ("PReLU_shared", lambda: layers.PReLU(shared_axes=[1]), (3, 2, 5)),
    ("ELU", lambda: layers.ELU(alpha=0.7), (3, 5)),
    ("Softmax", lambda: layers.Softmax(axis=-1), (3, 5)),
    ("RReLU", lambda: layers.RReLU(lower=0.05, upper=0.4, seed=2), (3, 5)),
    ("Identity", lambda: layers.Identity(), (3, 5)),
    ("Reshape", lambda: layers.Reshape((-1, 2)), (3, 4)),
    ("Add", lambda: layers.Add(), [(3, 5), (3, 5)]),
    ("Subtract", lambda: layers.Subtract(), [(3, 5), (3, 5)]),
    ("Multiply", lambda: layers.Multiply(), [(3, 5), (3, 5), (3, 5)]),
    ("Average", lambda: layers.Average(), [(3, 5), (3, 1)]),
    ("Maximum", lambda: layers.Maximum(), [(3, 5), (3, 5)]),
    ("Minimum", lambda: layers.Minimum(), [(3, 5), (3, 5)]),
    ("Concatenate", lambda: layers.Concatenate(axis=-1), [(3, 5), (3, 2)]),
    ("Dot", lambda: layers.Dot(axes=1, normalize=True), [(3, 5), (3, 5)]),
    ("Lambda", lambda: layers.Lambda(_scaled_tanh, arguments={"scale": 2.0}), (3, 5)),
]


def layer_input(rng, shape, low=-2, high=2):
    """An input for a layer: one array, or a list of them for a merging layer."""
    if isinstance(shape, list):
        return [rng.uniform(low, high, s).astype(np.float32) for s in shape]
    return rng.uniform(low, high, shape).astype(np.float32)


def test_every_layer_class_has_a_config_case():
    covered = {type(f()).__name__ for _, f, _ in LAYER_FACTORIES}
    assert covered == set(layers._CLASSES)


@pytest.mark.parametrize("name,factory,shape", LAYER_FACTORIES, ids=[c[0] for c in LAYER_FACTORIES])
def test_config_round_trip(name, factory, shape, rng):
    layer = factory()
    x = layer_input(rng, shape)
    y = layer(x)
    weights = [rng.uniform(0.1, 0.5, w.shape).astype(np.float32) for w in layer.get_weights()]
    layer.set_weights(weights)
    y = layer(x)
    config = layer.get_config()
    json.dumps(config)  # JSON-safe, as model saving needs

    rebuilt = type(layer).from_config(config)
    assert type(rebuilt) is type(layer) and rebuilt.name == layer.name
    rebuilt(x)
    rebuilt.set_weights(layer.get_weights())
    np.testing.assert_array_equal(rebuilt(x), y)
    assert rebuilt.get_config() == config

    payload = json.loads(json.dumps(layers.serialize(layer)))
    assert payload["class_name"] == type(layer).__name__
    again = layers.deserialize(payload)
    assert type(again) is type(layer) and again.get_config() == config
    again(x)
    again.set_weights(layer.get_weights())
    np.testing.assert_array_equal(again(x), y)


@pytest.mark.parametrize("cls", ["Dropout", "RReLU"])
def test_seeded_random_layer_config_reproduces_training_draws(cls, rng):
    layer = {"Dropout": lambda: layers.Dropout(0.5, seed=21),
             "RReLU": lambda: layers.RReLU(seed=21)}[cls]()
    config = layer.get_config()
    x = -rng.uniform(0.5, 2, (10, 10)).astype(np.float32)
    first = layer(x, training=True)
    np.testing.assert_array_equal(type(layer).from_config(config)(x, training=True), first)


def test_deserialize_unknown_class():
    with pytest.raises(ValueError, match="Unknown layer class"):
        layers.deserialize({"class_name": "NoSuchLayer", "config": {}})


def test_user_layer_config_round_trip(rng):
    layer = ScaledTanhDense(2, name="custom")
    x = rng.uniform(-1, 1, (3, 4)).astype(np.float32)
    y = layer(x)
    rebuilt = layers.deserialize(layers.serialize(layer), custom_objects={"ScaledTanhDense": ScaledTanhDense})
    rebuilt(x)
    rebuilt.set_weights(layer.get_weights())
    np.testing.assert_array_equal(rebuilt(x), y)


# ---- naming and arguments ------------------------------------------------------------------

def _index(name, base):
    m = re.fullmatch(re.escape(base) + r"(?:_(\d+))?", name)
    assert m, f"{name!r} is not {base!r} or {base!r}_<n>"
    return int(m.group(1) or 0)


def test_layer_names_are_unique_and_numbered():
    a, b, c = layers.Dense(2), layers.Dense(2), layers.Dense(2)
    ia, ib, ic = (_index(l.name, "dense") for l in (a, b, c))
    assert ib == ia + 1 and ic == ib + 1
    assert layers.Dense(2, name="hidden1").name == "hidden1"
    d = layers.Dropout(0.1)
    _index(d.name, "dropout")


@pytest.mark.parametrize("cls,base", [(layers.ReLU, "re_lu"), (layers.LeakyReLU, "leaky_re_lu"),
                                      (layers.ELU, "elu"), (layers.Softmax, "softmax"),
                                      (layers.Flatten, "flatten"), (layers.InputLayer, "input_layer")],
                         ids=lambda v: getattr(v, "__name__", v))
def test_default_names_follow_keras(cls, base):
    _index(cls().name, base)


@pytest.mark.parametrize("cls,base", [(layers.PReLU, "p_re_lu"), (layers.RReLU, "r_re_lu")],
                         ids=["PReLU", "RReLU"])
def test_default_names_of_p_and_r_relu_follow_keras(cls, base):
    _index(cls().name, base)


UNKNOWN_KWARG_FACTORIES = [
    lambda: layers.Dense(3, foo=1),
    lambda: layers.Flatten(foo=1),
    lambda: layers.Activation("relu", foo=1),
    lambda: layers.Dropout(0.5, foo=1),
    lambda: layers.InputLayer(shape=(3,), foo=1),
    lambda: layers.ReLU(foo=1),
    lambda: layers.LeakyReLU(foo=1),
    lambda: layers.PReLU(foo=1),
    lambda: layers.ELU(foo=1),
    lambda: layers.Softmax(foo=1),
    lambda: layers.RReLU(foo=1),
    lambda: ScaledTanhDense(3, foo=1),
]


@pytest.mark.parametrize("factory", UNKNOWN_KWARG_FACTORIES,
                         ids=[f"case{i}" for i in range(len(UNKNOWN_KWARG_FACTORIES))])
def test_unknown_kwargs_raise_type_error(factory):
    with pytest.raises(TypeError, match="foo"):
        factory()


def test_layer_dtype_is_float32_only():
    assert layers.Dense(2, dtype="float32").dtype == "float32"
    with pytest.raises(ValueError, match="float32"):
        layers.Dense(2, dtype="float64")


def test_set_weights_checks_count_and_shape(rng):
    layer = layers.Dense(3)
    layer(np.ones((1, 2), np.float32))
    with pytest.raises(ValueError, match="expects 2 weight arrays"):
        layer.set_weights([np.zeros((2, 3))])
    with pytest.raises(ValueError, match="shape"):
        layer.set_weights([np.zeros((3, 3)), np.zeros(3)])


def test_selu_constants_match_reference():
    y = layers.Activation("selu")(np.array([[-1.0, 1.0]], np.float32))
    assert_close(y, [[SELU_SCALE * SELU_ALPHA * np.expm1(-1.0), SELU_SCALE]], 1e-30, ACT_RTOL)


def test_flatten_layer_on_an_empty_batch():
    out = fastdnn.layers.Flatten()(np.zeros((0, 28, 28), np.float32))
    assert out.shape == (0, 784) and out.dtype == np.float32
