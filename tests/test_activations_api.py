"""fastdnn.activations: `get` (names, None, callables, Keras configs, errors), each function
against float64 NumPy on every kernel path, Keras's relu(negative_slope, max_value, threshold),
and values and gradients against torch.nn.functional."""

import numpy as np
import pytest

import fastdnn
from fastdnn import activations, ops

from _tolerances import ACT_ATOL, ACT_RTOL, ELEMENTWISE_RTOL, TORCH_ACT_ATOL, TORCH_ACT_RTOL, grad_atol
from conftest import assert_close
from reference import activation_ref, f64
from test_ops_grad import away_from, check_gradients, loss_weights, softmax64

NAMES = ["linear", "relu", "leaky_relu", "elu", "selu", "sigmoid", "tanh", "softmax"]


# ---- get / serialize -----------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_get_by_name(name):
    fn = activations.get(name)
    assert fn is getattr(activations, name)
    assert activations.serialize(fn) == name
    assert activations.deserialize(activations.serialize(fn)) is fn


def test_get_none_is_linear():
    assert activations.get(None) is activations.linear
    x = np.arange(3, dtype=np.float32)
    assert activations.get(None)(x) is x


def test_get_callable_is_itself():
    def my_act(z):
        return ops.multiply(z, 2.0)

    assert activations.get(my_act) is my_act
    assert activations.get(ops.relu) is ops.relu


def test_get_keras3_config_dict():
    config = {"module": "keras.activations", "class_name": "function", "config": "elu",
              "registered_name": "elu"}
    assert activations.get(config) is activations.elu


@pytest.mark.parametrize("bad", ["relu6x", "Relu", "", "soft_max"])
def test_get_unknown_name_raises_value_error(bad):
    with pytest.raises(ValueError, match="Unknown activation"):
        activations.get(bad)


@pytest.mark.parametrize("bad", [42, 1.5, object()], ids=["int", "float", "object"])
def test_get_uninterpretable_raises_type_error(bad):
    with pytest.raises(TypeError):
        activations.get(bad)


@pytest.mark.parametrize("name", ["gelu", "swish"])
def test_chapter_11_activations_exist(name):
    x = np.linspace(-3, 3, 13, dtype=np.float32).reshape(1, -1)
    fn = activations.get(name)
    y = fastdnn.layers.Dense(2, activation=name)(x)
    assert y.shape == (1, 2) and callable(fn)


# ---- each function against float64 NumPy, on every kernel path -------------------------------

def relu_ref(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras: max_value for x >= max_value, x for threshold <= x < max_value,
    negative_slope · (x - threshold) otherwise."""
    x = f64(x)
    y = np.where(x >= threshold, x, negative_slope * (x - threshold))
    return y if max_value is None else np.minimum(y, max_value)


FUNCTIONS = [
    ("linear", lambda x: activations.linear(x), lambda x: f64(x)),
    ("relu", lambda x: activations.relu(x), activation_ref("relu")),
    ("leaky_relu", lambda x: activations.leaky_relu(x), activation_ref("leaky_relu")),
    ("leaky_relu-0.05", lambda x: activations.leaky_relu(x, negative_slope=0.05),
     activation_ref("leaky_relu", negative_slope=0.05)),
    ("elu", lambda x: activations.elu(x), activation_ref("elu")),
    ("elu-1.7", lambda x: activations.elu(x, alpha=1.7), activation_ref("elu", alpha=1.7)),
    ("selu", lambda x: activations.selu(x), activation_ref("selu")),
    ("sigmoid", lambda x: activations.sigmoid(x), activation_ref("sigmoid")),
    ("tanh", lambda x: activations.tanh(x), activation_ref("tanh")),
    ("softmax", lambda x: activations.softmax(x), softmax64),
]


@pytest.mark.parametrize("name,fn,ref", FUNCTIONS, ids=[c[0] for c in FUNCTIONS])
def test_function_matches_numpy(name, fn, ref, isa, rng):
    wide = rng.uniform(-20, 20, (9, 37))
    small = rng.choice([-1, 1], (9, 37)) * np.logspace(-6, 0, 9 * 37).reshape(9, 37)
    for x in (wide, small):
        x = x.astype(np.float32)
        y = fn(x)
        assert y.dtype == np.float32 and y.shape == x.shape
        assert_close(y, ref(x), ACT_ATOL, ACT_RTOL, what=name)


@pytest.mark.parametrize("name,fn,ref", FUNCTIONS[1:], ids=[c[0] for c in FUNCTIONS[1:]])
def test_function_gradient(name, fn, ref, rng):
    x = away_from(rng.uniform(-3, 3, (4, 9)), 0.0, 0.05, rng, -3, 3)
    check_gradients(fn, ref, [x], rng, depth=9 if name == "softmax" else 1, fwd_rtol=ACT_RTOL,
                    what=name)


def test_special_values(isa):
    x = np.array([[-np.inf, -1e30, -0.0, 0.0, 1e30, np.inf]], np.float32)

    def expect(values):
        return np.array([values], np.float32)

    np.testing.assert_array_equal(activations.relu(x), expect([0, 0, 0, 0, 1e30, np.inf]))
    np.testing.assert_array_equal(activations.sigmoid(x), expect([0, 0, 0.5, 0.5, 1, 1]))
    np.testing.assert_array_equal(activations.tanh(x), expect([-1, -1, 0, 0, 1, 1]))
    np.testing.assert_array_equal(activations.elu(x), expect([-1, -1, 0, 0, 1e30, np.inf]))
    assert np.isnan(activations.relu(np.array([[np.nan]], np.float32))).all()


# ---- Keras relu arguments ------------------------------------------------------------------

RELU_ARGS = [
    {},
    {"max_value": 6.0},
    {"max_value": 0.5},
    {"threshold": 1.0},
    {"threshold": -1.0},
    {"negative_slope": 0.1},
    {"max_value": 2.0, "threshold": 0.5},
    {"negative_slope": 0.1, "threshold": 0.5},
    {"negative_slope": 0.3, "max_value": 1.0},
    {"negative_slope": 0.3, "max_value": 2.0, "threshold": -0.5},
]
RELU_IDS = ["-".join(f"{k}={v}" for k, v in a.items()) or "plain" for a in RELU_ARGS]


def _relu_inputs(kwargs, rng):
    kinks = [0.0, kwargs.get("threshold", 0.0)] + ([kwargs["max_value"]] if "max_value" in kwargs else [])
    return away_from(rng.uniform(-4, 8, (6, 11)), kinks, 0.05, rng, -4, 8)


@pytest.mark.parametrize("kwargs", RELU_ARGS, ids=RELU_IDS)
def test_relu_arguments_forward(kwargs, rng):
    x = _relu_inputs(kwargs, rng)
    assert_close(activations.relu(x, **kwargs), relu_ref(x, **kwargs), 1e-30, ELEMENTWISE_RTOL,
                 what=f"relu{kwargs}")


@pytest.mark.parametrize("kwargs", RELU_ARGS,
                         ids=RELU_IDS)
def test_relu_arguments_gradient(kwargs, rng):
    x = _relu_inputs(kwargs, rng)
    check_gradients(lambda x: activations.relu(x, **kwargs), lambda x: relu_ref(x, **kwargs), [x],
                    rng, what=f"relu{kwargs}")


# ---- torch ---------------------------------------------------------------------------------

def _torch_cases():
    F = pytest.importorskip("torch.nn.functional")
    torch = pytest.importorskip("torch")
    return torch, [
        ("relu", activations.relu, F.relu),
        ("relu6", lambda x: activations.relu(x, max_value=6.0), F.relu6),
        ("relu_threshold", lambda x: activations.relu(x, threshold=1.0), lambda t: F.threshold(t, 1.0, 0.0)),
        ("leaky_relu", activations.leaky_relu, lambda t: F.leaky_relu(t, 0.2)),
        ("leaky_relu-0.01", lambda x: activations.leaky_relu(x, 0.01), lambda t: F.leaky_relu(t, 0.01)),
        ("elu", activations.elu, F.elu),
        ("elu-0.5", lambda x: activations.elu(x, alpha=0.5), lambda t: F.elu(t, alpha=0.5)),
        ("selu", activations.selu, F.selu),
        ("sigmoid", activations.sigmoid, torch.sigmoid),
        ("tanh", activations.tanh, torch.tanh),
        ("softmax", activations.softmax, lambda t: F.softmax(t, dim=-1)),
    ]


TORCH_NAMES = ["relu", "relu6", "relu_threshold", "leaky_relu", "leaky_relu-0.01", "elu", "elu-0.5",
               "selu", "sigmoid", "tanh", "softmax"]


@pytest.mark.parametrize("name", TORCH_NAMES)
def test_matches_torch(name, rng):
    torch, cases = _torch_cases()
    fn, tfn = next((f, t) for n, f, t in cases if n == name)
    # away from the kinks (0, 1 for the threshold, 6 for relu6)
    x = away_from(rng.uniform(-8, 8, (8, 23)), [0.0, 1.0, 6.0], 0.05, rng, -8, 8)

    # values: both in float32
    y = fn(x)
    y_t = tfn(torch.from_numpy(x)).numpy()
    assert_close(y, y_t, TORCH_ACT_ATOL + 2 * np.finfo(np.float32).tiny, TORCH_ACT_RTOL,
                 what=f"{name} vs torch")

    # gradients of sum(f(x) · w): fastdnn's float32 tape against torch autograd in float64
    w = loss_weights(x.shape, rng)
    with fastdnn.GradientTape() as tape:
        tape.watch(x)
        loss = ops.sum(ops.multiply(fn(x), w))
    g = tape.gradient(loss, x)
    x_t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    (tfn(x_t) * torch.from_numpy(w.astype(np.float64))).sum().backward()
    g_t = x_t.grad.numpy()
    assert_close(g, g_t, grad_atol(g_t, 23 if name == "softmax" else 1), what=f"d {name} vs torch")


@pytest.mark.parametrize("approximate", [True, False])
def test_gelu_value_and_gradient_against_float64(approximate):
    import math

    x = np.linspace(-5, 5, 41).astype(np.float32)
    x64 = x.astype(np.float64)
    if approximate:
        def f(v):
            return 0.5 * v * (1 + np.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v ** 3)))
    else:
        def f(v):
            return v * 0.5 * (1 + np.array([math.erf(t / math.sqrt(2)) for t in v]))
    with fastdnn.GradientTape() as tape:
        tape.watch(x)
        y = activations.gelu(x, approximate=approximate)
        total = fastdnn.ops.sum(y)
    np.testing.assert_allclose(y, f(x64), rtol=1e-6, atol=1e-7)
    numeric = (f(x64 + 1e-6) - f(x64 - 1e-6)) / 2e-6
    np.testing.assert_allclose(tape.gradient(total, x), numeric, rtol=1e-5, atol=1e-6)


def test_swish_is_x_times_sigmoid():
    x = np.linspace(-6, 6, 25).astype(np.float32)
    np.testing.assert_allclose(activations.get("swish")(x), x / (1 + np.exp(-x.astype(np.float64))), rtol=1e-6)
    assert activations.get("silu") is activations.swish
