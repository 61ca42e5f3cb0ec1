"""fastdnn.initializers and fastdnn.random: sample moments against the float64 formulas, fans,
seeding, configs, the `get()` registry and argument errors. Keras configs are compared where
Keras is installed."""

import json
import math
import random as python_random

import numpy as np
import pytest

from fastdnn import initializers as I
from fastdnn import random as R

# A sample moment may sit this many standard errors from its target. The draws are seeded, so
# the tests are deterministic; 4 SE keeps them from hinging on a lucky seed while still catching
# a wrong constant (e.g. a missing 1/0.8796 truncation factor is 9+ SE off even for 3000 draws).
Z_SCORE = 4.0
BOUND_RTOL = 1e-6  # float32 rounding of mean + z * stddev at the truncation / uniform bounds
TRUNC_SD = 0.87962566103423978  # stddev of N(0, 1) truncated to [-2, 2]

SHAPES = [(784, 300), (300, 100), (3000,), (3, 3, 16, 32)]
# Fans written out by hand, independently of compute_fans.
FANS = {(784, 300): (784, 300), (300, 100): (300, 100), (3000,): (3000, 3000),
        (3, 3, 16, 32): (144, 288), (): (1, 1), (7,): (7, 7), (5, 0): (5, 0),
        (2, 4, 3, 5): (24, 40)}

# name: (class, scale, mode, distribution), from Keras 3's random_initializers.py
NAMED = {
    "glorot_normal": (I.GlorotNormal, 1.0, "fan_avg", "truncated_normal"),
    "glorot_uniform": (I.GlorotUniform, 1.0, "fan_avg", "uniform"),
    "he_normal": (I.HeNormal, 2.0, "fan_in", "truncated_normal"),
    "he_uniform": (I.HeUniform, 2.0, "fan_in", "uniform"),
    "lecun_normal": (I.LecunNormal, 1.0, "fan_in", "truncated_normal"),
    "lecun_uniform": (I.LecunUniform, 1.0, "fan_in", "uniform"),
}

# Keras 3's default configs, class by class.
DEFAULT_CONFIGS = {
    I.Constant: {"value": 0.0},
    I.GlorotNormal: {"seed": None},
    I.GlorotUniform: {"seed": None},
    I.HeNormal: {"seed": None},
    I.HeUniform: {"seed": None},
    I.Identity: {"gain": 1.0},
    I.LecunNormal: {"seed": None},
    I.LecunUniform: {"seed": None},
    I.Ones: {},
    I.Orthogonal: {"seed": None, "gain": 1.0},
    I.RandomNormal: {"seed": None, "mean": 0.0, "stddev": 0.05},
    I.RandomUniform: {"seed": None, "minval": -0.05, "maxval": 0.05},
    I.TruncatedNormal: {"seed": None, "mean": 0.0, "stddev": 0.05},
    I.VarianceScaling: {"seed": None, "scale": 1.0, "mode": "fan_in",
                        "distribution": "truncated_normal"},
    I.Zeros: {},
}
ALL_CLASSES = list(DEFAULT_CONFIGS)
RANDOM_CLASSES = [c for c in ALL_CLASSES if issubclass(c, I.RandomInitializer)]
CONSTANT_CLASSES = [c for c in ALL_CLASSES if c not in RANDOM_CLASSES]

# Non-default arguments for every class, for round trips.
EXAMPLES = {
    I.Constant: {"value": 0.25},
    I.Identity: {"gain": 3.0},
    I.Orthogonal: {"gain": 2.0},
    I.RandomNormal: {"mean": 1.5, "stddev": 0.3},
    I.RandomUniform: {"minval": -2.0, "maxval": 0.5},
    I.TruncatedNormal: {"mean": -1.0, "stddev": 0.2},
    I.VarianceScaling: {"scale": 0.5, "mode": "fan_out", "distribution": "uniform"},
}

# Names get() must know (Keras 3's snake_case and CamelCase names and aliases).
NAMES = {
    "constant": I.Constant, "Constant": I.Constant,
    "glorot_normal": I.GlorotNormal, "GlorotNormal": I.GlorotNormal,
    "glorot_uniform": I.GlorotUniform, "GlorotUniform": I.GlorotUniform,
    "he_normal": I.HeNormal, "HeNormal": I.HeNormal,
    "he_uniform": I.HeUniform, "HeUniform": I.HeUniform,
    "identity": I.Identity, "Identity": I.Identity, "IdentityInitializer": I.Identity,
    "lecun_normal": I.LecunNormal, "LecunNormal": I.LecunNormal,
    "lecun_uniform": I.LecunUniform, "LecunUniform": I.LecunUniform,
    "ones": I.Ones, "Ones": I.Ones, "one": I.Ones,
    "orthogonal": I.Orthogonal, "Orthogonal": I.Orthogonal,
    "OrthogonalInitializer": I.Orthogonal,
    "random_normal": I.RandomNormal, "RandomNormal": I.RandomNormal, "normal": I.RandomNormal,
    "random_uniform": I.RandomUniform, "RandomUniform": I.RandomUniform,
    "uniform": I.RandomUniform,
    "truncated_normal": I.TruncatedNormal, "TruncatedNormal": I.TruncatedNormal,
    "variance_scaling": I.VarianceScaling, "VarianceScaling": I.VarianceScaling,
    "zeros": I.Zeros, "Zeros": I.Zeros, "zero": I.Zeros,
}


def shape_for(cls):
    return (30, 20) if cls in (I.Identity, I.Orthogonal) else (300, 100)


def draw(cls, seed=None, shape=None, dtype=None, **kwargs):
    if cls in RANDOM_CLASSES:
        kwargs["seed"] = seed
    return cls(**kwargs)(shape_for(cls) if shape is None else shape, dtype=dtype)


def check_moments(x, mean, stddev, what):
    """Sample mean and variance (float64) within Z_SCORE standard errors of the targets. The
    variance's standard error comes from the sample's own fourth moment, so one check fits
    normal, truncated normal and uniform draws."""
    x = np.asarray(x, np.float64).ravel()
    n = x.size
    m = x.mean()
    d = x - m
    m2, m4 = np.mean(d**2), np.mean(d**4)
    se_mean, se_var = math.sqrt(m2 / n), math.sqrt((m4 - m2**2) / n)
    assert abs(m - mean) <= Z_SCORE * se_mean, (
        f"{what}: mean {m:.6g}, expected {mean:.6g} (SE {se_mean:.3g})")
    assert abs(m2 - stddev**2) <= Z_SCORE * se_var, (
        f"{what}: variance {m2:.6g}, expected {stddev**2:.6g} (SE {se_var:.3g})")


def check_distribution(x, distribution, mean, stddev, what):
    """Moments plus the support: `stddev` is the values' target stddev (after truncation)."""
    x64 = np.asarray(x, np.float64)
    check_moments(x64, mean, stddev, what)
    dev = np.abs(x64 - mean)
    if distribution == "truncated_normal":
        bound = 2.0 * stddev / TRUNC_SD
        assert dev.max() <= bound * (1 + BOUND_RTOL), f"{what}: value beyond 2 stddev"
        if x64.size >= 3000:  # P(no draw beyond 1.9 sd of 2) < 1e-30 at this size
            assert dev.max() > 1.9 * stddev / TRUNC_SD, f"{what}: truncated too tightly"
    elif distribution == "uniform":
        limit = math.sqrt(3.0) * stddev
        assert dev.max() <= limit * (1 + BOUND_RTOL), f"{what}: value beyond the limit"
        if x64.size >= 3000:
            assert dev.max() > 0.99 * limit, f"{what}: range too narrow"
    else:  # untruncated normal: 3000+ draws always hold one beyond 2.5 sd
        if x64.size >= 3000:
            assert dev.max() > 2.5 * stddev, f"{what}: looks truncated"


def expected_stddev(scale, mode, shape):
    fan_in, fan_out = FANS[shape]
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    return math.sqrt(scale / max(1.0, n))


# ---------------------------------------------------------------------------------------------
# Statistics


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", list(NAMED))
def test_named_initializer_statistics(name, shape):
    cls, scale, mode, distribution = NAMED[name]
    x = cls(seed=11)(shape)
    assert x.shape == shape and x.dtype == np.float32
    check_distribution(x, distribution, 0.0, expected_stddev(scale, mode, shape),
                       f"{name}{shape}")


@pytest.mark.parametrize("shape", [(784, 300), (300, 100), (3000,)], ids=str)
@pytest.mark.parametrize("distribution", ["truncated_normal", "untruncated_normal", "uniform"])
@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg"])
@pytest.mark.parametrize("scale", [0.5, 3.0])
def test_variance_scaling_statistics(scale, mode, distribution, shape):
    x = I.VarianceScaling(scale, mode, distribution, seed=5)(shape)
    check_distribution(x, distribution, 0.0, expected_stddev(scale, mode, shape),
                       f"VarianceScaling({scale}, {mode}, {distribution}){shape}")


def test_fan_modes_pick_different_fans():
    # (784, 300): fan_in, fan_out and fan_avg give clearly different variances.
    stds = {m: I.VarianceScaling(mode=m, distribution="uniform", seed=1)((784, 300)).std()
            for m in ("fan_in", "fan_out", "fan_avg")}
    assert stds["fan_in"] < stds["fan_avg"] < stds["fan_out"]
    np.testing.assert_allclose(stds["fan_out"] / stds["fan_in"], math.sqrt(784 / 300),
                               rtol=0.01)


@pytest.mark.parametrize("shape", [(784, 300), (3000,)], ids=str)
@pytest.mark.parametrize("cls,kwargs,distribution,mean,stddev", [
    (I.RandomNormal, {}, "untruncated_normal", 0.0, 0.05),
    (I.RandomNormal, {"mean": 1.5, "stddev": 0.3}, "untruncated_normal", 1.5, 0.3),
    (I.TruncatedNormal, {}, "truncated_normal", 0.0, 0.05 * TRUNC_SD),
    (I.TruncatedNormal, {"mean": -1.0, "stddev": 0.2}, "truncated_normal", -1.0,
     0.2 * TRUNC_SD),
    (I.RandomUniform, {}, "uniform", 0.0, 0.1 / math.sqrt(12)),
    (I.RandomUniform, {"minval": -2.0, "maxval": 0.5}, "uniform", -0.75, 2.5 / math.sqrt(12)),
])
def test_plain_random_statistics(cls, kwargs, distribution, mean, stddev, shape):
    x = cls(seed=3, **kwargs)(shape)
    assert x.dtype == np.float32
    check_distribution(x, distribution, mean, stddev, f"{cls.__name__}({kwargs}){shape}")
    if cls is I.RandomUniform:
        lo, hi = kwargs.get("minval", -0.05), kwargs.get("maxval", 0.05)
        assert x.min() >= np.float32(lo) and x.max() <= np.float32(hi)


@pytest.mark.parametrize("shape,fans", list(FANS.items()), ids=str)
def test_compute_fans(shape, fans):
    assert I.compute_fans(shape) == fans


def test_degenerate_shapes():
    for cls in RANDOM_CLASSES + [I.Zeros, I.Ones, I.Constant]:
        if cls is I.Orthogonal:
            continue
        x = draw(cls, seed=1, shape=())
        assert x.shape == () and np.isfinite(x)
        assert draw(cls, seed=1, shape=(5, 0)).shape == (5, 0)
        assert draw(cls, seed=1, shape=(1,)).shape == (1,)
    # An int shape means (n,), as NumPy reads it.
    assert I.HeNormal(seed=1)(7).shape == (7,)
    # A scalar has fans (1, 1): scale 2 uniform -> limit sqrt(6); over many seeds the values
    # reach close to it.
    x = np.array([I.VarianceScaling(2.0, "fan_avg", "uniform", seed=s)(()) for s in range(500)])
    assert np.abs(x).max() <= math.sqrt(6) and np.abs(x).max() > 0.95 * math.sqrt(6)


def test_constants():
    np.testing.assert_array_equal(I.Zeros()((3, 2)), np.zeros((3, 2), np.float32))
    np.testing.assert_array_equal(I.Ones()((3,)), np.ones(3, np.float32))
    np.testing.assert_array_equal(I.Constant(0.1)((2, 2)), np.full((2, 2), 0.1, np.float32))
    np.testing.assert_array_equal(I.Constant()((2,)), [0.0, 0.0])
    # An array value broadcasts, and survives the JSON round trip.
    c = I.Constant([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(c((2, 3)), [[1, 2, 3], [1, 2, 3]])
    np.testing.assert_array_equal(I.Constant.from_config(json.loads(json.dumps(
        c.get_config())))((2, 3)), c((2, 3)))
    with pytest.raises(ValueError):
        c((2, 4))
    # NumPy scalars are stored as plain Python numbers.
    assert type(I.Constant(np.float32(0.5)).get_config()["value"]) is float


def test_identity():
    x = I.Identity(2.5)((3, 5))
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x, 2.5 * np.eye(3, 5))
    with pytest.raises(ValueError, match="2-D"):
        I.Identity()((3, 3, 3))


@pytest.mark.parametrize("shape", [(30, 20), (20, 30), (17, 17), (3, 3, 4, 8)], ids=str)
def test_orthogonal(shape):
    x = I.Orthogonal(gain=2.0, seed=4)(shape, dtype="float64").reshape(-1, shape[-1])
    small = min(x.shape)
    gram = x.T @ x if x.shape[0] >= x.shape[1] else x @ x.T
    np.testing.assert_allclose(gram, 4.0 * np.eye(small), atol=1e-12)
    assert I.Orthogonal(seed=4)(shape).dtype == np.float32
    with pytest.raises(ValueError, match="rank 2"):
        I.Orthogonal()((5,))


# ---------------------------------------------------------------------------------------------
# dtype


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_dtype(cls):
    assert draw(cls, seed=2).dtype == np.float32
    for dtype in ("float64", np.float16, np.dtype("float32")):
        assert draw(cls, seed=2, dtype=dtype).dtype == np.dtype(dtype)
    if cls in RANDOM_CLASSES:
        with pytest.raises(ValueError, match="floating dtype"):
            draw(cls, seed=2, dtype="int32")
    else:
        assert draw(cls, dtype="int32").dtype == np.int32
        with pytest.raises(ValueError, match="numeric"):
            draw(cls, dtype="U3")


def test_float64_draws_are_float64_precision():
    x = I.RandomNormal(seed=1)((1000,), dtype="float64")
    assert not np.array_equal(x, x.astype(np.float32).astype(np.float64))


# ---------------------------------------------------------------------------------------------
# Seeds


@pytest.mark.parametrize("cls", RANDOM_CLASSES, ids=lambda c: c.__name__)
def test_seeded_reproducible(cls):
    init = cls(seed=42)
    a = init(shape_for(cls))
    np.testing.assert_array_equal(a, init(shape_for(cls)))  # same instance, second call
    np.testing.assert_array_equal(a, draw(cls, seed=42))  # a new instance, same seed
    assert not np.array_equal(a, draw(cls, seed=43))
    R.set_random_seed(0)  # the global generator does not affect seeded initializers
    np.testing.assert_array_equal(a, init(shape_for(cls)))


@pytest.mark.parametrize("cls", RANDOM_CLASSES, ids=lambda c: c.__name__)
def test_unseeded_follow_global_seed(cls):
    R.set_random_seed(7)
    init = cls()
    a, b = init(shape_for(cls)), init(shape_for(cls))
    c = cls()(shape_for(cls))
    assert not np.array_equal(a, b) and not np.array_equal(b, c)  # each call draws anew
    R.set_random_seed(7)
    np.testing.assert_array_equal(a, cls()(shape_for(cls)))
    np.testing.assert_array_equal(b, init(shape_for(cls)))
    R.set_random_seed(8)
    assert not np.array_equal(a, cls()(shape_for(cls)))


def test_same_model_twice_same_weights():
    def build():
        names = ["he_normal", "zeros", "glorot_uniform", "zeros", "lecun_normal", "zeros"]
        shapes = [(784, 300), (300,), (300, 100), (100,), (100, 10), (10,)]
        return [I.get(n)(s) for n, s in zip(names, shapes)]

    R.set_random_seed(42)
    first = build()
    R.set_random_seed(42)
    for a, b in zip(first, build()):
        np.testing.assert_array_equal(a, b)


def test_set_random_seed():
    gen = R.global_generator()
    R.set_random_seed(123)
    assert R.global_generator() is gen  # reseeded in place
    values = (gen.random(), python_random.random(), np.random.random())
    R.set_random_seed(123)
    assert values == (gen.random(), python_random.random(), np.random.random())
    R.set_random_seed(2**40)  # beyond np.random.seed's 32 bits
    for bad in (-1, 1.5, "3", True, None):
        with pytest.raises(ValueError, match="non-negative integer"):
            R.set_random_seed(bad)
    R.set_random_seed(np.int64(5))


def test_make_generator():
    assert R.make_generator(3).random() == R.make_generator(3).random()
    assert R.make_generator(3).random() != R.make_generator(4).random()
    assert R.make_generator(3) is not R.make_generator(3)
    with pytest.raises(ValueError, match="Received: seed=-2"):
        R.make_generator(-2)


def test_seed_generator():
    gen = R.SeedGenerator(1337)
    a, b = I.HeNormal(seed=gen)((50, 50)), I.HeNormal(seed=gen)((50, 50))
    assert not np.array_equal(a, b)
    gen2 = R.SeedGenerator(1337)
    np.testing.assert_array_equal(a, I.HeNormal(seed=gen2)((50, 50)))
    # The config names the generator's seed; rebuilding restarts its stream.
    init = I.RandomUniform(seed=R.SeedGenerator(9))
    config = json.loads(json.dumps(init.get_config()))
    assert config["seed"] == {"class_name": "SeedGenerator", "config": {"seed": 9}}
    np.testing.assert_array_equal(I.RandomUniform.from_config(config)((4,)),
                                  I.RandomUniform(seed=R.SeedGenerator(9))((4,)))
    R.set_random_seed(1)
    s1 = R.SeedGenerator().seed
    R.set_random_seed(1)
    assert R.SeedGenerator().seed == s1
    with pytest.raises(ValueError):
        R.SeedGenerator(-1)


def test_random_functions():
    for fn in (R.normal, R.truncated_normal, R.uniform):
        np.testing.assert_array_equal(fn((4, 3), seed=1), fn((4, 3), seed=1))
        assert fn((4, 3)).dtype == np.float32 and fn(5, dtype="float64").dtype == np.float64
    with pytest.raises(ValueError, match="shape"):
        R.normal((-1, 3))
    with pytest.raises(ValueError, match="shape"):
        R.uniform((2, None))
    with pytest.raises(ValueError, match="shape"):
        R.uniform("ab")


# ---------------------------------------------------------------------------------------------
# Configs


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_default_config_matches_keras(cls):
    assert cls().get_config() == DEFAULT_CONFIGS[cls]


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_config_round_trip(cls):
    kwargs = dict(EXAMPLES.get(cls, {}))
    if cls in RANDOM_CLASSES:
        kwargs["seed"] = 17
    init = cls(**kwargs)
    config = init.get_config()
    assert json.loads(json.dumps(config)) == config  # JSON-safe plain values
    for key, value in kwargs.items():
        assert config[key] == value
    for rebuilt in (cls.from_config(json.loads(json.dumps(config))), init.clone(),
                    I.deserialize(json.loads(json.dumps(I.serialize(init))))):
        assert type(rebuilt) is cls and rebuilt is not init
        assert rebuilt.get_config() == config
        np.testing.assert_array_equal(rebuilt(shape_for(cls)), init(shape_for(cls)))


def test_config_values_are_plain():
    init = I.VarianceScaling(scale=np.float32(2.0), seed=np.int64(3))
    config = init.get_config()
    assert type(config["scale"]) is float and type(config["seed"]) is int
    assert I.RandomNormal(mean=np.float64(0.5)).get_config()["mean"] == 0.5


def test_named_variance_scaling_configs():
    for name, (cls, scale, mode, distribution) in NAMED.items():
        init = cls(seed=4)
        assert init.get_config() == {"seed": 4}
        assert isinstance(init, I.VarianceScaling)
        assert (init.scale, init.mode, init.distribution) == (scale, mode, distribution)
        # The same as the general mechanism with those arguments.
        np.testing.assert_array_equal(
            init((300, 100)), I.VarianceScaling(scale, mode, distribution, seed=4)((300, 100)))


def test_repr():
    assert repr(I.HeNormal(seed=3)) == "HeNormal(seed=3)"
    assert repr(I.Zeros()) == "Zeros()"


# ---------------------------------------------------------------------------------------------
# Registry


@pytest.mark.parametrize("name", list(NAMES))
def test_get_by_name(name):
    init = I.get(name)
    assert type(init) is NAMES[name]
    assert init.get_config() == DEFAULT_CONFIGS[NAMES[name]]


def test_lowercase_aliases_are_the_classes():
    # Keras 3: keras.initializers.he_normal is the class HeNormal.
    for name, cls in NAMES.items():
        if name[0].islower() and name not in ("normal", "uniform", "one", "zero"):
            assert getattr(I, name) is cls, name
    assert I.IdentityInitializer is I.Identity and I.OrthogonalInitializer is I.Orthogonal
    assert isinstance(I.glorot_uniform(seed=1), I.GlorotUniform)


def test_get_other_forms():
    assert I.get(None) is None
    init = I.HeUniform(seed=1)
    assert I.get(init) is init
    assert type(I.get(I.LecunNormal)) is I.LecunNormal

    def custom(shape, dtype=None):
        return np.full(shape, 7.0, dtype or "float32")

    assert I.get(custom) is custom
    lam = lambda shape, dtype=None: np.zeros(shape)  # noqa: E731
    assert I.get(lam) is lam
    # Keras 2 and Keras 3 dicts (the latter with "module" and "registered_name").
    vs = I.get({"class_name": "VarianceScaling",
                "config": {"scale": 2.0, "mode": "fan_avg", "distribution": "normal",
                           "seed": None}})
    assert (vs.scale, vs.mode, vs.distribution) == (2.0, "fan_avg", "truncated_normal")
    k3 = I.get({"module": "keras.initializers", "class_name": "GlorotUniform",
                "config": {"seed": 5}, "registered_name": None})
    assert type(k3) is I.GlorotUniform and k3.seed == 5
    assert type(I.get({"class_name": "zeros"})) is I.Zeros
    assert type(I.get({"class_name": "Ones", "config": {}})) is I.Ones


def test_get_errors():
    for bad in ("he_normall", "HE_NORMAL", "xavier", ""):
        with pytest.raises(ValueError, match="Unknown initializer.*'glorot_uniform'"):
            I.get(bad)
    with pytest.raises(ValueError, match="Unknown initializer"):
        I.get({"class_name": "Nope", "config": {}})
    for bad in (3, 0.5, [1, 2]):
        with pytest.raises(ValueError, match="Could not interpret initializer identifier"):
            I.get(bad)
    with pytest.raises(ValueError, match="class_name"):
        I.deserialize({"config": {}})


def test_serialize():
    assert I.serialize(I.HeNormal(seed=3)) == {"class_name": "HeNormal", "config": {"seed": 3}}
    assert I.serialize(None) is None

    def my_init(shape, dtype=None):
        return np.ones(shape, dtype or "float32")

    config = I.serialize(my_init)
    assert config == {"class_name": "function", "config": "my_init"}
    assert I.deserialize(config, custom_objects={"my_init": my_init}) is my_init
    with pytest.raises(ValueError, match="Unknown initializer 'my_init'"):
        I.deserialize(config)
    with pytest.raises(ValueError, match="expected an Initializer"):
        I.serialize(3)

    class Custom(I.Initializer):
        def __init__(self, value=1.0):
            self.value = value

        def __call__(self, shape, dtype=None):
            return np.full(shape, self.value, dtype or "float32")

        def get_config(self):
            return {"value": self.value}

    rebuilt = I.deserialize(I.serialize(Custom(2.0)), custom_objects={"Custom": Custom})
    assert type(rebuilt) is Custom and rebuilt.value == 2.0


def test_base_initializer():
    with pytest.raises(NotImplementedError):
        I.Initializer()((2,))
    assert I.Initializer().get_config() == {}


# ---------------------------------------------------------------------------------------------
# Argument errors


def test_variance_scaling_errors():
    with pytest.raises(ValueError) as info:
        I.VarianceScaling(scale=-1)
    assert str(info.value) == ("Received an invalid value for `scale`, expected a positive "
                               "float. Received: scale=-1")
    for scale in (0, 0.0, float("nan"), float("inf"), "a", None):
        with pytest.raises(ValueError, match="`scale`"):
            I.VarianceScaling(scale=scale)
    for mode in ("fan", "FAN_IN", None):
        with pytest.raises(ValueError, match="`mode`.*fan_avg"):
            I.VarianceScaling(mode=mode)
    for distribution in ("gauss", "normal_", None):
        with pytest.raises(ValueError, match="`distribution`.*untruncated_normal"):
            I.VarianceScaling(distribution=distribution)
    # Keras lower-cases the distribution and reads "normal" as "truncated_normal".
    assert I.VarianceScaling(distribution="Normal").distribution == "truncated_normal"
    assert I.VarianceScaling(distribution="UNIFORM").distribution == "uniform"


@pytest.mark.parametrize("cls", RANDOM_CLASSES, ids=lambda c: c.__name__)
def test_seed_errors(cls):
    for seed in (-1, 1.5, "3", True, [1]):
        with pytest.raises(ValueError, match="Received an invalid value for `seed`"):
            cls(seed=seed)


def test_parameter_errors():
    with pytest.raises(ValueError, match="`stddev`, expected a non-negative float"):
        I.RandomNormal(stddev=-0.1)
    with pytest.raises(ValueError, match="`stddev`"):
        I.TruncatedNormal(stddev=float("nan"))
    with pytest.raises(ValueError, match="`mean`"):
        I.RandomNormal(mean="x")
    with pytest.raises(ValueError, match="`maxval`, expected a float >= minval=1.0"):
        I.RandomUniform(minval=1.0, maxval=0.0)
    with pytest.raises(ValueError, match="`minval`"):
        I.RandomUniform(minval=[0.0, 1.0])
    with pytest.raises(ValueError, match="`gain`"):
        I.Orthogonal(gain=None)
    with pytest.raises(ValueError, match="`value`"):
        I.Constant("abc")
    with pytest.raises(ValueError, match="shape"):
        I.HeNormal()((-3, 4))
    with pytest.raises(ValueError, match="shape"):
        I.Zeros()((2.5,))


# ---------------------------------------------------------------------------------------------
# Keras, where installed


def test_configs_match_keras():
    keras = pytest.importorskip("keras")
    for name, cls in NAMES.items():
        try:
            theirs = keras.initializers.get(name)
        except (ValueError, KeyError):
            continue  # a name only one of the two versions knows (Keras 3.15: "constant")
        assert type(theirs).__name__ in (cls.__name__, cls.__name__ + "Initializer"), name
        kwargs = dict(EXAMPLES.get(cls, {}))
        if cls in RANDOM_CLASSES:
            kwargs["seed"] = 17
        theirs = type(theirs)(**kwargs).get_config()
        ours = cls(**kwargs).get_config()
        # newer Keras adds keys fastdnn lacks (input_axes, output_axes), all off by default
        assert all(theirs[k] is None for k in set(theirs) - set(ours)), (name, theirs)
        # Keras 3.15's Identity.get_config() leaves out its own `gain`
        missing = {k for k in set(ours) - set(theirs) if not (cls is I.Identity and k == "gain")}
        assert not missing, (name, missing)
        assert {k: theirs[k] for k in ours if k in theirs} == {k: ours[k] for k in ours if k in theirs}, name
    from keras.src.initializers.random_initializers import compute_fans
    for shape, fans in FANS.items():
        assert compute_fans(shape) == fans
