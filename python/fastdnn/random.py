"""Seeding and random draws: one global NumPy Generator for unseeded ops, fresh ones for seeds.

    seed=None           -> the global generator (`global_generator()`): a new draw every call,
                           reproducible from the last `set_random_seed(seed)`.
    seed=int            -> `make_generator(seed)`, made anew on every call: the same values
                           every time, as in Keras 3.
    seed=SeedGenerator  -> that object's own stream: a new draw every call, reproducible from
                           its seed.

Shapes: `shape` is an int or a tuple of non-negative ints; results are NumPy arrays of `dtype`
(float32 unless told), drawn in float32 (float64 for float64) and cast.

    >>> import fastdnn.random as fr
    >>> fr.set_random_seed(42)
    >>> a = fr.normal((2, 3))
    >>> fr.set_random_seed(42)
    >>> bool((fr.normal((2, 3)) == a).all())
    True
"""

import operator
import random as _python_random

import numpy as np

from . import _global_state

_GLOBAL = np.random.Generator(np.random.PCG64())  # reseeded in place, never replaced
# The counter-based (Philox) draws of the dropout family (fastdnn.noise): the seed unseeded layers
# key on, and the next stream id a new unseeded layer takes. set_random_seed resets both.
_PHILOX = {"seed": int(np.random.SeedSequence().entropy) % 2**64, "streams": 0}
_TRUNCATION = 2.0  # truncated_normal redraws |z| > 2, as Keras and TensorFlow do


def _check_seed(seed, name="seed"):
    """Returns `seed` as a Python int, or raises if it is not a non-negative integer."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(
            f"Received an invalid value for `{name}`, expected a non-negative integer. "
            f"Received: {name}={seed!r} (of type {type(seed).__name__})"
        )
    return int(seed)


def set_random_seed(seed):
    """Seeds every unseeded random op: fastdnn's global generator, Python's and NumPy's.

    Like `keras.utils.set_random_seed`, it also seeds Python's `random` module and NumPy's
    legacy global state (`np.random.seed`, with the seed taken modulo 2**32), so that code
    shuffling with those is reproducible too.

    Args:
        seed: A non-negative integer.

    Example:
        >>> import fastdnn.random as fr
        >>> fr.set_random_seed(42)

    Raises:
        ValueError: if `seed` is not a non-negative integer.
    """
    seed = _check_seed(seed)
    _GLOBAL.bit_generator.state = np.random.PCG64(seed).state
    _python_random.seed(seed)
    np.random.seed(seed % 2**32)
    _PHILOX["seed"], _PHILOX["streams"] = seed % 2**64, 0


def _clear_session():
    """The global random state as at import: fresh entropy, stream ids from 0 (Keras's
    clear_session forgets the global seed too)."""
    _GLOBAL.bit_generator.state = np.random.PCG64().state
    _PHILOX["seed"], _PHILOX["streams"] = int(np.random.SeedSequence().entropy) % 2**64, 0


_global_state.on_clear_session(_clear_session)


def philox_stream():
    """(key, stream) for a new unseeded random layer: the global seed and a fresh stream id.

    Stream ids count up from 0 after each `set_random_seed`, so a model built after the same
    seed gets the same ids and draws the same masks.

    Example:
        >>> import fastdnn.random as fr
        >>> fr.set_random_seed(3)
        >>> fr.philox_stream(), fr.philox_stream()
        ((3, 0), (3, 1))
    """
    stream = _PHILOX["streams"]
    _PHILOX["streams"] = (stream + 1) % 2**31
    return _PHILOX["seed"], stream


def philox_state():
    """(seed, next stream id) of the unseeded dropout streams, to save and restore a run."""
    return _PHILOX["seed"], _PHILOX["streams"]


def set_philox_state(seed, streams):
    """Restores `philox_state()`'s output."""
    _PHILOX["seed"], _PHILOX["streams"] = int(seed) % 2**64, int(streams) % 2**31


def global_generator():
    """Returns the `numpy.random.Generator` behind every unseeded random op.

    It is always the same object; `set_random_seed` resets its state in place.

    Example:
        >>> import fastdnn.random as fr
        >>> 0 <= int(fr.global_generator().integers(10)) < 10
        True
    """
    return _GLOBAL


def make_generator(seed):
    """Returns a new `numpy.random.Generator` seeded with `seed`.

    Args:
        seed: A non-negative integer. Equal seeds give generators that draw equal values.

    Example:
        >>> import fastdnn.random as fr
        >>> fr.make_generator(7).random() == fr.make_generator(7).random()
        True

    Raises:
        ValueError: if `seed` is not a non-negative integer.
    """
    return np.random.default_rng(_check_seed(seed))


class SeedGenerator:
    """A seeded random stream whose draws differ from call to call (Keras's `SeedGenerator`).

    Pass it as `seed=` where an integer seed would give the same values every call but the
    values should change and stay reproducible. With `seed=None` its seed is drawn from the
    global generator. `from_config(get_config())` restarts the stream from its seed.

    Args:
        seed: A non-negative integer, or None.

    Example:
        >>> import fastdnn.random as fr
        >>> gen = fr.SeedGenerator(1337)
        >>> bool((fr.normal((3,), seed=gen) != fr.normal((3,), seed=gen)).all())
        True

    Raises:
        ValueError: if `seed` is neither None nor a non-negative integer.
    """

    def __init__(self, seed=None):
        if seed is None:
            seed = int(_GLOBAL.integers(1, 10**9))
        self.seed = _check_seed(seed)
        self.generator = make_generator(self.seed)

    def get_config(self):
        return {"seed": self.seed}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"SeedGenerator(seed={self.seed})"


def check_seed_argument(seed):
    """Validates a `seed=` argument: None, a non-negative integer or a `SeedGenerator`.

    A serialized `SeedGenerator` ({"class_name": "SeedGenerator", "config": {...}}) is
    rebuilt. Returns the seed to store.

    Raises:
        ValueError: for any other value.
    """
    if seed is None or isinstance(seed, SeedGenerator):
        return seed
    if isinstance(seed, dict) and seed.get("class_name") == "SeedGenerator":
        return SeedGenerator.from_config(seed.get("config", {}))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(
            "Received an invalid value for `seed`, expected None, a non-negative integer or "
            f"a `fastdnn.random.SeedGenerator`. Received: seed={seed!r}"
        )
    return int(seed)


def serialize_seed(seed):
    """The JSON-safe form of a `seed=` argument, which `check_seed_argument` reads back."""
    if isinstance(seed, SeedGenerator):
        return {"class_name": "SeedGenerator", "config": seed.get_config()}
    return seed


def generator_for(seed):
    """The generator a random op with this `seed=` argument draws from (see the module doc).

    Raises:
        ValueError: if `seed` is not None, a non-negative integer or a `SeedGenerator`.
    """
    seed = check_seed_argument(seed)
    if seed is None:
        return _GLOBAL
    if isinstance(seed, SeedGenerator):
        return seed.generator
    return make_generator(seed)


def standardize_shape(shape):
    """Returns `shape` (an int or a sequence of ints) as a tuple of non-negative ints.

    Raises:
        ValueError: if a dimension is negative or not an integer.
    """
    try:
        dims = (operator.index(shape),) if np.ndim(shape) == 0 else tuple(
            operator.index(d) for d in shape)
    except TypeError:
        dims = None
    if dims is None or any(d < 0 for d in dims):
        raise ValueError(
            "Received an invalid value for `shape`, expected a tuple of non-negative "
            f"integers. Received: shape={shape!r}"
        )
    return dims


def float_dtype(dtype):
    """Returns `dtype` as a NumPy floating dtype; None means float32.

    Raises:
        ValueError: if `dtype` is not a floating dtype.
    """
    result = np.dtype(np.float32 if dtype is None else dtype)
    if result.kind != "f":
        raise ValueError(
            "Received an invalid value for `dtype`, expected a floating dtype such as "
            f"'float32'. Received: dtype={dtype!r}"
        )
    return result


def _draw_dtype(dtype):
    # Generator draws float32 or float64 only; float16 and the like are drawn in float32.
    return np.float64 if dtype.itemsize >= 8 else np.float32


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Draws from a normal distribution.

    Args:
        shape: The shape of the result.
        mean: The mean of the distribution.
        stddev: Its standard deviation.
        dtype: A floating dtype; float32 if None.
        seed: None, a non-negative integer or a `SeedGenerator` (see the module doc).

    Example:
        >>> import fastdnn.random as fr
        >>> fr.normal((2, 2), stddev=0.1, seed=1).shape
        (2, 2)

    Raises:
        ValueError: for a bad shape, dtype or seed.
    """
    shape, dtype = standardize_shape(shape), float_dtype(dtype)
    z = generator_for(seed).standard_normal(shape, dtype=_draw_dtype(dtype))
    z *= stddev
    z += mean
    return z.astype(dtype, copy=False)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Draws from a normal distribution, redrawing values more than 2 `stddev` from `mean`.

    The result's standard deviation is about 0.88 * `stddev`, as in Keras.

    Args:
        shape: The shape of the result.
        mean: The mean of the distribution.
        stddev: The standard deviation before truncation.
        dtype: A floating dtype; float32 if None.
        seed: None, a non-negative integer or a `SeedGenerator` (see the module doc).

    Example:
        >>> import fastdnn.random as fr
        >>> bool((abs(fr.truncated_normal((1000,), seed=1)) <= 2).all())
        True

    Raises:
        ValueError: for a bad shape, dtype or seed.
    """
    shape, dtype = standardize_shape(shape), float_dtype(dtype)
    generator, draw = generator_for(seed), _draw_dtype(dtype)
    z = generator.standard_normal(shape, dtype=draw)
    outside = np.abs(z) > _TRUNCATION
    while outside.any():  # each pass keeps 95.4 % of the redraws, so a few passes suffice
        z[outside] = generator.standard_normal(int(outside.sum()), dtype=draw)
        outside = np.abs(z) > _TRUNCATION
    z *= stddev
    z += mean
    return z.astype(dtype, copy=False)


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Draws from a uniform distribution over [`minval`, `maxval`).

    Args:
        shape: The shape of the result.
        minval: The lower bound (inclusive).
        maxval: The upper bound (exclusive, up to rounding to `dtype`).
        dtype: A floating dtype; float32 if None.
        seed: None, a non-negative integer or a `SeedGenerator` (see the module doc).

    Example:
        >>> import fastdnn.random as fr
        >>> bool((fr.uniform((1000,), -1.0, 1.0, seed=1) >= -1).all())
        True

    Raises:
        ValueError: for a bad shape, dtype or seed.
    """
    shape, dtype = standardize_shape(shape), float_dtype(dtype)
    u = generator_for(seed).random(shape, dtype=_draw_dtype(dtype))
    u *= maxval - minval
    u += minval
    return u.astype(dtype, copy=False)
