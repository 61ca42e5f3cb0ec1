"""Weight initializers with Keras 3's names, formulas and configs.

An initializer is called as `init(shape, dtype=None)` and returns a NumPy array (float32
unless told). Random ones take `seed`: None draws from the global generator (a new draw every
call, reproducible after `fastdnn.random.set_random_seed`), an integer gives the same values
on every call, a `fastdnn.random.SeedGenerator` a reproducible new draw every call.

Fans follow Keras's `compute_fans`: shape () -> (1, 1); (n,) -> (n, n); (a, b) -> (a, b);
(..., a, b) -> (a * r, b * r) with r the product of the leading (receptive-field) dimensions.

    >>> from fastdnn import initializers
    >>> init = initializers.get("he_normal")
    >>> init((784, 300)).shape
    (784, 300)
"""

import math
import re

import numpy as np

from . import random
from ._registry import Registry


def compute_fans(shape):
    """Returns (fan_in, fan_out) of a weight shape, as Keras computes them.

    Args:
        shape: An int or a tuple of ints.

    Example:
        >>> compute_fans((3, 3, 16, 32))
        (144, 288)

    Raises:
        ValueError: if `shape` is not a tuple of non-negative integers.
    """
    shape = random.standardize_shape(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


def _constant_dtype(dtype):
    result = np.dtype(np.float32 if dtype is None else dtype)
    if result.kind not in "biufc":
        raise ValueError(
            "Received an invalid value for `dtype`, expected a numeric or boolean dtype. "
            f"Received: dtype={dtype!r}"
        )
    return result


def _check_number(name, value, expected="a finite number", minimum=None):
    """Validates a real scalar argument and returns it as a Python float."""
    try:
        number = float(value)
        ok = np.ndim(value) == 0 and math.isfinite(number)
    except (TypeError, ValueError):
        ok = False
    if not ok or (minimum is not None and number < minimum):
        raise ValueError(
            f"Received an invalid value for `{name}`, expected {expected}. "
            f"Received: {name}={value!r}"
        )
    return number


class Initializer:
    """Base class of all initializers: `__call__(shape, dtype=None)` plus a config.

    A subclass implements `__call__` and, if its constructor takes arguments, `get_config`
    returning them as plain JSON-safe values; the default `from_config` passes them back to
    the constructor.

    Example:
        >>> class Halves(Initializer):
        ...     def __call__(self, shape, dtype=None):
        ...         return np.full(shape, 0.5, dtype or "float32")
        >>> Halves()((2,))
        array([0.5, 0.5], dtype=float32)
    """

    def __call__(self, shape, dtype=None):
        """Returns an array of `shape` and `dtype` (float32 if None)."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement `__call__(shape, dtype=None)`.")

    def get_config(self):
        """Returns the constructor arguments as a JSON-safe dict."""
        return {}

    @classmethod
    def from_config(cls, config):
        """Builds an initializer from the output of `get_config()`."""
        return cls(**config)

    def clone(self):
        """Returns a new initializer with the same config."""
        return self.__class__.from_config(self.get_config())

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Zeros(Initializer):
    """Fills with 0.

    Example:
        >>> Zeros()((2,))
        array([0., 0.], dtype=float32)

    Raises:
        ValueError: on call, for a non-numeric dtype or a bad shape.
    """

    def __call__(self, shape, dtype=None):
        return np.zeros(random.standardize_shape(shape), _constant_dtype(dtype))


class Ones(Initializer):
    """Fills with 1.

    Example:
        >>> Ones()((2,))
        array([1., 1.], dtype=float32)

    Raises:
        ValueError: on call, for a non-numeric dtype or a bad shape.
    """

    def __call__(self, shape, dtype=None):
        return np.ones(random.standardize_shape(shape), _constant_dtype(dtype))


class Constant(Initializer):
    """Fills with `value`, a scalar or an array that broadcasts to the shape.

    Args:
        value: A number, or an array-like broadcastable to the shapes it is called with.

    Example:
        >>> Constant(0.1)((2,))
        array([0.1, 0.1], dtype=float32)

    Raises:
        ValueError: if `value` is not numeric; on call, if it does not broadcast to `shape`.
    """

    def __init__(self, value=0.0):
        array = np.asarray(value)
        if array.dtype.kind not in "biuf":
            raise ValueError(
                "Received an invalid value for `value`, expected a number or an array of "
                f"numbers. Received: value={value!r}"
            )
        self.value = array.item() if array.ndim == 0 else array.tolist()

    def __call__(self, shape, dtype=None):
        out = np.empty(random.standardize_shape(shape), _constant_dtype(dtype))
        out[...] = self.value
        return out

    def get_config(self):
        return {"value": self.value}


class Identity(Initializer):
    """Fills a 2-D shape with `gain` times the identity matrix (rectangular ones too).

    Args:
        gain: The value on the diagonal.

    Example:
        >>> Identity(2.0)((2, 2))
        array([[2., 0.],
               [0., 2.]], dtype=float32)

    Raises:
        ValueError: if `gain` is not a finite number; on call, if `shape` is not 2-D.
    """

    def __init__(self, gain=1.0):
        self.gain = _check_number("gain", gain)

    def __call__(self, shape, dtype=None):
        shape = random.standardize_shape(shape)
        if len(shape) != 2:
            raise ValueError(
                "Identity can only fill 2-D shapes. "
                f"Received: shape={shape} of rank {len(shape)}."
            )
        return (self.gain * np.eye(*shape)).astype(_constant_dtype(dtype))

    def get_config(self):
        return {"gain": self.gain}


class RandomInitializer(Initializer):
    """Base of the random initializers: stores and serializes `seed`.

    Args:
        seed: None, a non-negative integer or a `fastdnn.random.SeedGenerator`.

    Raises:
        ValueError: for any other `seed`.
    """

    def __init__(self, seed=None):
        self.seed = random.check_seed_argument(seed)

    def get_config(self):
        return {"seed": random.serialize_seed(self.seed)}


class RandomNormal(RandomInitializer):
    """Draws from a normal distribution N(`mean`, `stddev`²).

    Args:
        mean: The mean.
        stddev: The standard deviation (non-negative).
        seed: None, a non-negative integer or a `fastdnn.random.SeedGenerator`.

    Example:
        >>> RandomNormal(stddev=0.01, seed=1)((784, 300)).shape
        (784, 300)

    Raises:
        ValueError: for a non-finite `mean`, a negative `stddev` or a bad `seed`; on call, for
            a non-float dtype.
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = _check_number("mean", mean)
        self.stddev = _check_number("stddev", stddev, "a non-negative float", minimum=0.0)
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        return random.normal(shape, self.mean, self.stddev, dtype=dtype, seed=self.seed)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(RandomInitializer):
    """Draws from N(`mean`, `stddev`²), redrawing values more than 2 `stddev` from `mean`.

    Args:
        mean: The mean.
        stddev: The standard deviation before truncation (non-negative); after it, the
            values' standard deviation is 0.8796 * `stddev`.
        seed: None, a non-negative integer or a `fastdnn.random.SeedGenerator`.

    Example:
        >>> TruncatedNormal(stddev=0.1, seed=1)((3,)).shape
        (3,)

    Raises:
        ValueError: for a non-finite `mean`, a negative `stddev` or a bad `seed`; on call, for
            a non-float dtype.
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = _check_number("mean", mean)
        self.stddev = _check_number("stddev", stddev, "a non-negative float", minimum=0.0)
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        return random.truncated_normal(shape, self.mean, self.stddev, dtype=dtype,
                                       seed=self.seed)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class RandomUniform(RandomInitializer):
    """Draws from a uniform distribution over [`minval`, `maxval`).

    Args:
        minval: The lower bound.
        maxval: The upper bound, not below `minval`.
        seed: None, a non-negative integer or a `fastdnn.random.SeedGenerator`.

    Example:
        >>> RandomUniform(-0.1, 0.1, seed=1)((2, 3)).shape
        (2, 3)

    Raises:
        ValueError: for non-finite bounds, `maxval < minval` or a bad `seed`; on call, for a
            non-float dtype.
    """

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval = _check_number("minval", minval)
        self.maxval = _check_number("maxval", maxval, f"a float >= minval={self.minval}",
                                    minimum=self.minval)
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        return random.uniform(shape, self.minval, self.maxval, dtype=dtype, seed=self.seed)

    def get_config(self):
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")
# Standard deviation of N(0, 1) truncated to [-2, 2]; dividing by it restores sqrt(scale / n).
_TRUNCATED_STDDEV = 0.87962566103423978


class VarianceScaling(RandomInitializer):
    """Draws with variance `scale / n`, where n is the fan the `mode` picks.

    n is fan_in, fan_out or (fan_in + fan_out) / 2 (at least 1; see `compute_fans`).
    "truncated_normal" draws from a normal of stddev sqrt(scale / n) / 0.8796 truncated at 2
    of those stddevs, so that the values' stddev is sqrt(scale / n); "untruncated_normal" from
    a normal of stddev sqrt(scale / n); "uniform" from [-limit, limit) with
    limit = sqrt(3 * scale / n). "normal" (Keras 2's spelling) means "truncated_normal".

    Args:
        scale: The scaling factor, a positive float.
        mode: "fan_in", "fan_out" or "fan_avg".
        distribution: "truncated_normal", "untruncated_normal" or "uniform" (any case).
        seed: None, a non-negative integer or a `fastdnn.random.SeedGenerator`.

    Example:
        >>> init = VarianceScaling(2.0, "fan_in", "uniform", seed=1)  # = HeUniform(seed=1)
        >>> bool(abs(init((300, 100))).max() <= (6 / 300) ** 0.5)
        True

    Raises:
        ValueError: for a non-positive `scale`, an unknown `mode` or `distribution`, or a bad
            `seed`; on call, for a non-float dtype.
    """

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        try:
            positive = float(scale) > 0.0 and math.isfinite(float(scale))
        except (TypeError, ValueError):
            positive = False
        if not positive:
            raise ValueError(
                "Received an invalid value for `scale`, expected a positive float. "
                f"Received: scale={scale!r}"
            )
        if mode not in _MODES:
            raise ValueError(
                f"Received an invalid value for `mode`, expected one of {list(_MODES)}. "
                f"Received: mode={mode!r}"
            )
        dist = distribution.lower() if isinstance(distribution, str) else distribution
        dist = "truncated_normal" if dist == "normal" else dist
        if dist not in _DISTRIBUTIONS:
            raise ValueError(
                "Received an invalid value for `distribution`, expected one of "
                f"{list(_DISTRIBUTIONS)} (or 'normal', meaning 'truncated_normal'). "
                f"Received: distribution={distribution!r}"
            )
        self.scale = float(scale)
        self.mode = mode
        self.distribution = dist
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}
        variance = self.scale / max(1.0, n[self.mode])
        if self.distribution == "truncated_normal":
            return random.truncated_normal(shape, 0.0, math.sqrt(variance) / _TRUNCATED_STDDEV,
                                           dtype=dtype, seed=self.seed)
        if self.distribution == "untruncated_normal":
            return random.normal(shape, 0.0, math.sqrt(variance), dtype=dtype, seed=self.seed)
        limit = math.sqrt(3.0 * variance)
        return random.uniform(shape, -limit, limit, dtype=dtype, seed=self.seed)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "mode": self.mode,
                "distribution": self.distribution}


class _NamedVarianceScaling(VarianceScaling):
    """A fixed VarianceScaling setting; subclasses set the three class attributes."""

    _scale = _mode = _distribution = None

    def __init__(self, seed=None):
        super().__init__(self._scale, self._mode, self._distribution, seed=seed)

    def get_config(self):
        return {"seed": random.serialize_seed(self.seed)}


class GlorotNormal(_NamedVarianceScaling):
    """Glorot (Xavier) normal: truncated normal with stddev sqrt(2 / (fan_in + fan_out)).

    Args:
        seed: None, a non-negative integer or a `fastdnn.random.SeedGenerator`.

    Example:
        >>> GlorotNormal(seed=1)((784, 300)).shape
        (784, 300)

    Raises:
        ValueError: for a bad `seed`; on call, for a non-float dtype.
    """

    _scale, _mode, _distribution = 1.0, "fan_avg", "truncated_normal"


class GlorotUniform(_NamedVarianceScaling):
    """Glorot (Xavier) uniform: U(-limit, limit) with limit = sqrt(6 / (fan_in + fan_out)).

    Args:
        seed: None, a non-negative integer or a `fastdnn.random.SeedGenerator`.

    Example:
        >>> GlorotUniform(seed=1)((784, 300)).shape
        (784, 300)

    Raises:
        ValueError: for a bad `seed`; on call, for a non-float dtype.
    """

    _scale, _mode, _distribution = 1.0, "fan_avg", "uniform"


class HeNormal(_NamedVarianceScaling):
    """He normal: truncated normal with stddev sqrt(2 / fan_in).

    Args:
        seed: None, a non-negative integer or a `fastdnn.random.SeedGenerator`.

    Example:
        >>> HeNormal(seed=1)((784, 300)).shape
        (784, 300)

    Raises:
        ValueError: for a bad `seed`; on call, for a non-float dtype.
    """

    _scale, _mode, _distribution = 2.0, "fan_in", "truncated_normal"


class HeUniform(_NamedVarianceScaling):
    """He uniform: U(-limit, limit) with limit = sqrt(6 / fan_in).

    Args:
        seed: None, a non-negative integer or a `fastdnn.random.SeedGenerator`.

    Example:
        >>> HeUniform(seed=1)((784, 300)).shape
        (784, 300)

    Raises:
        ValueError: for a bad `seed`; on call, for a non-float dtype.
    """

    _scale, _mode, _distribution = 2.0, "fan_in", "uniform"


class LecunNormal(_NamedVarianceScaling):
    """LeCun normal: truncated normal with stddev sqrt(1 / fan_in) (for SELU networks).

    Args:
        seed: None, a non-negative integer or a `fastdnn.random.SeedGenerator`.

    Example:
        >>> LecunNormal(seed=1)((784, 300)).shape
        (784, 300)

    Raises:
        ValueError: for a bad `seed`; on call, for a non-float dtype.
    """

    _scale, _mode, _distribution = 1.0, "fan_in", "truncated_normal"


class LecunUniform(_NamedVarianceScaling):
    """LeCun uniform: U(-limit, limit) with limit = sqrt(3 / fan_in).

    Args:
        seed: None, a non-negative integer or a `fastdnn.random.SeedGenerator`.

    Example:
        >>> LecunUniform(seed=1)((784, 300)).shape
        (784, 300)

    Raises:
        ValueError: for a bad `seed`; on call, for a non-float dtype.
    """

    _scale, _mode, _distribution = 1.0, "fan_in", "uniform"


class Orthogonal(RandomInitializer):
    """A (semi-)orthogonal matrix times `gain`, from the QR decomposition of a normal draw.

    Shapes of rank > 2 are filled as the matrix (prod(shape[:-1]), shape[-1]), reshaped.
    Rows are orthonormal when there are fewer rows than columns, columns otherwise.

    Args:
        gain: The factor applied to the orthogonal matrix.
        seed: None, a non-negative integer or a `fastdnn.random.SeedGenerator`.

    Example:
        >>> q = Orthogonal(seed=1)((4, 4), dtype="float64")
        >>> bool(np.allclose(q.T @ q, np.eye(4)))
        True

    Raises:
        ValueError: for a non-finite `gain` or a bad `seed`; on call, for a shape of rank < 2
            or a non-float dtype.
    """

    def __init__(self, gain=1.0, seed=None):
        self.gain = _check_number("gain", gain)
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        shape, dtype = random.standardize_shape(shape), random.float_dtype(dtype)
        if len(shape) < 2:
            raise ValueError(
                "Orthogonal can only fill shapes of rank 2 or more. "
                f"Received: shape={shape} of rank {len(shape)}."
            )
        rows, cols = math.prod(shape[:-1]), shape[-1]
        work = np.float64 if dtype.itemsize >= 8 else np.float32  # linalg has no float16
        a = random.normal((max(rows, cols), min(rows, cols)), dtype=work, seed=self.seed)
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))  # makes the decomposition unique, so q is Haar-distributed
        if rows < cols:
            q = q.T
        return (self.gain * q).reshape(shape).astype(dtype, copy=False)

    def get_config(self):
        return {**super().get_config(), "gain": self.gain}


# Keras 3 exports each class under its snake_case name too (keras.initializers.he_normal is
# the class HeNormal), plus a few legacy spellings.
constant = Constant
glorot_normal = GlorotNormal
glorot_uniform = GlorotUniform
he_normal = HeNormal
he_uniform = HeUniform
identity = IdentityInitializer = Identity
lecun_normal = LecunNormal
lecun_uniform = LecunUniform
ones = Ones
orthogonal = OrthogonalInitializer = Orthogonal
random_normal = RandomNormal
random_uniform = RandomUniform
truncated_normal = TruncatedNormal
variance_scaling = VarianceScaling
zeros = Zeros

_CLASSES = (Constant, GlorotNormal, GlorotUniform, HeNormal, HeUniform, Identity, LecunNormal,
            LecunUniform, Ones, Orthogonal, RandomNormal, RandomUniform, TruncatedNormal,
            VarianceScaling, Zeros)


def _snake_case(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


_REGISTRY = {cls.__name__: cls for cls in _CLASSES}
_REGISTRY.update({_snake_case(cls.__name__): cls for cls in _CLASSES})
_REGISTRY.update({  # Keras 3's aliases
    "IdentityInitializer": Identity,
    "OrthogonalInitializer": Orthogonal,
    "normal": RandomNormal,
    "one": Ones,
    "uniform": RandomUniform,
    "zero": Zeros,
})


_FAMILY = Registry("initializer", Initializer, _REGISTRY, "an Initializer or a callable(shape, dtype)")
_lookup = _FAMILY.lookup
serialize = _FAMILY.serialize
deserialize = _FAMILY.deserialize


def get(identifier):
    """Returns the initializer an identifier names.

    Args:
        identifier: None (returns None); an `Initializer` or any callable(shape, dtype)
            (returned as is); an initializer class (instantiated with its defaults); a name,
            "he_normal" or "HeNormal" (case matters, as in Keras); or a dict
            {"class_name": ..., "config": {...}}.

    Example:
        >>> get("glorot_uniform")
        GlorotUniform(seed=None)

    Raises:
        ValueError: for an unknown name or anything that is not an initializer.
    """
    return _FAMILY.get(identifier)
