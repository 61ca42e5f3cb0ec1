"""The dropout family's differentiable ops, on native Philox kernels (csrc/dropout/).

Every draw is a pure function of its coordinates (seed, stream, step, element index): a
`NoiseStream` holds a layer's seed and stream and counts its calls (the step). The forward
writes its output in one native pass and records a backward that regenerates the same draws
from the coordinates, so no mask is ever stored:

* `dropout`:          y = x·keep/(1 - rate)                     dx = g·keep/(1 - rate)
* `alpha_dropout`:    y = a·(x·keep + α'·(1 - keep)) + b         dx = g·a·keep
* `gaussian_dropout`: y = x·(1 + σz), σ = √(rate/(1 - rate))      dx = g·(1 + σz)
* `gaussian_noise`:   y = x + stddev·z                           dx = g

with keep ~ Bernoulli(1 - rate) and z ~ N(0, 1). Results are identical for any thread count and
kernel path (the normal draws up to float rounding of log/sin/cos).

Under data parallelism each rank holds a share of the global batch (its rows `window`, see
fastdnn.distribution): the draws are those of the global batch's rows, so the masks, and the
weights they train, are the same on 1, 2 or 4 processes.

    >>> import numpy as np
    >>> from fastdnn import noise
    >>> stream = noise.NoiseStream(seed=7)
    >>> y = noise.dropout(np.ones((2, 4), np.float32), 0.5, stream.next())
    >>> sorted(set(y.ravel().tolist())) in ([0.0, 2.0], [0.0], [2.0])
    True
"""

import math
import operator

import numpy as np

from .. import _codes
from .. import random as frandom
from .._codes import BINARY
from .._dispatch import kernels, on_device
from ..autodiff import record, recording
from ..distribution.data_parallel import current_window
from ._inputs import _x

_MULTIPLY = BINARY["multiply"]

# SELU's constants (Klambauer et al., 2017), the kernels' own (activations/act_rule.h); alpha
# dropout sets dropped units to SELU's negative saturation value α' = -scale·alpha.
SELU_ALPHA = _codes.SELU_ALPHA
SELU_SCALE = _codes.SELU_SCALE
_SEEDED_STREAM = 2**31  # seeded layers' stream; unseeded layers take ids below it


class NoiseStream:
    """The coordinates of one layer's random draws: a fixed (seed, stream) and a step counter.

    With `seed=None` the key is the global seed (`fastdnn.utils.set_random_seed`) and the stream
    a fresh id, so every unseeded layer draws differently and a run repeats after the same
    global seed. With an integer seed (or a `fastdnn.random.SeedGenerator`) the key is that seed
    and the stream fixed, so equally seeded layers draw equal sequences, as in Keras.

    Args:
        seed: None, a non-negative integer, or a `fastdnn.random.SeedGenerator`.

    Example:
        >>> from fastdnn.noise import NoiseStream
        >>> s = NoiseStream(seed=5)
        >>> s.next(), s.next()
        ((5, 2147483648, 0), (5, 2147483648, 1))

    Raises:
        ValueError: for any other seed.
    """

    def __init__(self, seed=None):
        seed = frandom.check_seed_argument(seed)
        if seed is None:
            self.seed, self.stream = frandom.philox_stream()
        else:
            self.seed = (seed.seed if isinstance(seed, frandom.SeedGenerator) else seed) % 2**64
            self.stream = _SEEDED_STREAM
        self.step = 0

    def next(self):
        """(seed, stream, step) for the next call; advances the step."""
        step = self.step
        self.step += 1
        return self.seed, self.stream, step


def _grad(g, shape):
    return kernels(g).contiguous(g).reshape(shape)


def check_rate(rate, name="rate"):
    """Returns `rate` as a float in [0, 1), or raises TypeError/ValueError naming it."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)):
        raise TypeError(f"Received an invalid value for `{name}`, expected a float in [0, 1). "
                        f"Received: {name}={rate!r} (of type {type(rate).__name__})")
    if not 0 <= rate < 1:
        raise ValueError(f"Received an invalid value for `{name}`, expected a float in [0, 1). "
                         f"Received: {name}={rate!r}")
    return float(rate)


def resolve_noise_shape(noise_shape, shape):
    """The mask shape for inputs of `shape`: None entries take the input's size.

    Raises:
        ValueError: if `noise_shape` has another rank, or a size that is neither the input's
            nor 1.
    """
    if noise_shape is None:
        return tuple(shape)
    if len(noise_shape) != len(shape):
        raise ValueError(f"`noise_shape` must have one entry per input dimension ({len(shape)}). "
                         f"Received: noise_shape={tuple(noise_shape)} for inputs of shape {tuple(shape)}")
    out = tuple(s if d is None else operator.index(d) for d, s in zip(noise_shape, shape))
    if any(d not in (s, 1) for d, s in zip(out, shape)):
        raise ValueError("Each `noise_shape` entry must be None, 1 or the input's size, to broadcast. "
                         f"Received: noise_shape={tuple(noise_shape)} for inputs of shape {tuple(shape)}")
    return out


def _rows_vary(noise_shape):
    """Whether a mask of `noise_shape` draws per row (not one row broadcast over the batch)."""
    return noise_shape is None or noise_shape[0] is None or noise_shape[0] != 1


def _global_rows(x, per_row=True):
    """(offset, global rows) when `x` is this rank's share of a global batch and the mask
    draws per row, else None."""
    window = current_window()
    if window is None or not per_row or on_device(x) or not x.ndim:
        return None
    offset, rows, total = window
    return (offset, total) if x.shape[0] == rows else None


def _draws(x, mask_shape, draw, per_row=True):
    """`draw(ones of a shape)` for `mask_shape`, keyed by the global rows under data parallelism."""
    rows = _global_rows(x, per_row)
    if rows is None:
        return draw(np.ones(mask_shape, np.float32))
    offset, total = rows
    full = draw(np.ones((total,) + tuple(mask_shape[1:]), np.float32))
    return full[offset:offset + mask_shape[0]]


def _broadcast_mask(x, mask_shape, coords, rate, scale, c_keep, c_drop, grad_scale, per_row=True):
    """The Bernoulli rule with one draw per element of `mask_shape`, broadcast over `x` (and
    the rule itself under data parallelism, with the draws of the global rows). The backward
    multiplies g by the mask (grad_scale where kept, 0 where dropped), regenerated from the
    coordinates."""
    k = kernels(x)
    if _global_rows(x, per_row) is None:
        y = k.noise_bernoulli(x, rate, *coords, scale, c_keep, c_drop, mask_shape=mask_shape)
        mask = lambda: k.noise_bernoulli(k.ones(mask_shape), rate, *coords, grad_scale)
    else:  # host arrays: this rank's rows of the global batch's draws
        keep = _draws(x, mask_shape, lambda ones: k.noise_bernoulli(ones, rate, *coords, 1.0), per_row)
        y = np.asarray(np.where(keep != 0, x * np.float32(scale) + np.float32(c_keep), np.float32(c_drop)),
                       np.float32)
        mask = lambda: keep * np.float32(grad_scale)
    if recording() is not None:
        record(y, (x,), lambda g, needs: (k.binary(_MULTIPLY, _grad(g, x.shape), mask()),))
    return y


def dropout(x, rate, coords, noise_shape=None):
    """Inverted dropout: each element kept with probability 1 - rate and scaled by 1/(1 - rate).

    Args:
        x: inputs (float32 array of any shape).
        rate: fraction to drop, in [0, 1).
        coords: (seed, stream, step), from `NoiseStream.next()`.
        noise_shape: optional mask shape broadcast over `x` (None entries: `x`'s sizes).

    Raises:
        ValueError: for a bad rate or noise shape.
    """
    x = _x(x, "x")
    rate = check_rate(rate)
    scale = 1.0 / (1.0 - rate)
    mask_shape, per_row = resolve_noise_shape(noise_shape, x.shape), _rows_vary(noise_shape)
    if mask_shape != x.shape or _global_rows(x, per_row) is not None:
        return _broadcast_mask(x, mask_shape, coords, rate, scale, 0.0, 0.0, scale, per_row)
    k = kernels(x)
    y = k.noise_bernoulli(x, rate, *coords, scale)
    if recording() is not None:
        record(y, (x,), lambda g, needs: (k.noise_bernoulli(_grad(g, x.shape), rate, *coords, scale),))
    return y


def alpha_dropout_coefficients(rate):
    """(α', a, b) of alpha dropout: y = a·(x·keep + α'·(1 - keep)) + b keeps mean 0, variance 1."""
    alpha_p = -SELU_ALPHA * SELU_SCALE
    a = ((1.0 - rate) * (1.0 + rate * alpha_p ** 2)) ** -0.5
    return alpha_p, a, -a * alpha_p * rate


def alpha_dropout(x, rate, coords, noise_shape=None):
    """Alpha dropout (Klambauer et al., 2017): dropped units take SELU's saturation value, then an
    affine map restores the mean and variance of standardized inputs.

    Args: as `dropout`.
    """
    x = _x(x, "x")
    rate = check_rate(rate)
    alpha_p, a, b = alpha_dropout_coefficients(rate)
    mask_shape, per_row = resolve_noise_shape(noise_shape, x.shape), _rows_vary(noise_shape)
    if mask_shape != x.shape or _global_rows(x, per_row) is not None:
        return _broadcast_mask(x, mask_shape, coords, rate, a, b, a * alpha_p + b, a, per_row)
    k = kernels(x)
    y = k.noise_bernoulli(x, rate, *coords, a, b, a * alpha_p + b)
    if recording() is not None:
        record(y, (x,), lambda g, needs: (k.noise_bernoulli(_grad(g, x.shape), rate, *coords, a),))
    return y


def gaussian_dropout(x, rate, coords):
    """Multiplicative Gaussian noise: y = x·(1 + σz), σ = √(rate/(1 - rate)) (mean 1).

    Args:
        x: inputs. rate: in [0, 1). coords: (seed, stream, step).
    """
    x = _x(x, "x")
    sigma = math.sqrt(check_rate(rate) / (1.0 - rate))
    k = kernels(x)
    if _global_rows(x) is not None:  # a share of a global batch: its rows' draws
        factor = _draws(x, x.shape, lambda ones: k.noise_normal(ones, *coords, 1.0, sigma, 0.0, 0.0))
        y = np.asarray(x * factor, np.float32)
        if recording() is not None:
            record(y, (x,), lambda g, needs: (_grad(g, x.shape) * factor,))
        return y
    y = k.noise_normal(x, *coords, 1.0, sigma, 0.0, 0.0)
    if recording() is not None:
        record(y, (x,), lambda g, needs: (k.noise_normal(_grad(g, x.shape), *coords, 1.0, sigma, 0.0, 0.0),))
    return y


def gaussian_noise(x, stddev, coords):
    """Additive Gaussian noise: y = x + stddev·z (gradient 1).

    Args:
        x: inputs. stddev: a finite number >= 0. coords: (seed, stream, step).
    """
    x = _x(x, "x")
    if _global_rows(x) is not None:  # a share of a global batch: its rows' draws
        noise = _draws(x, x.shape, lambda ones: kernels(x).noise_normal(ones, *coords, 0.0, 0.0, 0.0,
                                                                           float(stddev)))
        y = np.asarray(x + noise, np.float32)
    else:
        y = kernels(x).noise_normal(x, *coords, 1.0, 0.0, 0.0, float(stddev))
    if recording() is not None:
        record(y, (x,), lambda g, needs: (_grad(g, x.shape),))
    return y
