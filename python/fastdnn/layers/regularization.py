"""The dropout family: Dropout, AlphaDropout, GaussianDropout and GaussianNoise.

Each is active in training only (`layer(x, training=True)`; inference returns the inputs) and
draws from the native Philox kernels through `fastdnn.noise`: every call takes the next step of
the layer's `NoiseStream`, and the backward regenerates its draws instead of storing a mask.
Unseeded layers key on the global seed (`fastdnn.utils.set_random_seed`), seeded ones on their
own seed.
"""

import math

from .. import noise
from .. import random as frandom
from . import call_context
from .base import Layer


class NoiseLayer(Layer):
    """Base of the dropout family: the seed, its `NoiseStream`, and identity outside training.

    `fastdnn.mc_dropout_predict` keeps every `NoiseLayer` in training mode and every other layer
    in inference mode (training=call_context.NOISE_ONLY). Subclasses implement `noise(inputs, coords)`.

    Args:
        seed: None, a non-negative integer or a `fastdnn.random.SeedGenerator`.
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = frandom.check_seed_argument(seed)
        self._stream = noise.NoiseStream(self.seed)

    def call(self, inputs, training=False):
        if not (training or training is call_context.NOISE_ONLY) or not self._active():
            return inputs
        return self.noise(inputs, self._stream.next())

    def _active(self):
        return True

    def noise(self, inputs, coords):
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "seed": frandom.serialize_seed(self.seed)}


class _MaskLayer(NoiseLayer):
    """A noise layer with a drop `rate` and a broadcast `noise_shape` (Dropout, AlphaDropout)."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = noise.check_rate(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)

    def _active(self):
        return self.rate > 0

    def get_config(self):
        return {**super().get_config(), "rate": self.rate,
                "noise_shape": None if self.noise_shape is None else list(self.noise_shape)}


class Dropout(_MaskLayer):
    """Zeroes a fraction `rate` of the inputs during training and scales the rest by 1/(1-rate).

    The mask comes from the native Philox kernel, fused with the scaling in one pass; the
    backward regenerates it from (seed, stream, step).

    Args:
        rate: fraction of the inputs to drop, a float in [0, 1).
        noise_shape: shape of the binary mask, broadcast over the inputs (None entries: the
            inputs' sizes), e.g. (None, 1) drops whole samples.
        seed: integer seed for reproducible masks (None: the global seed).

    Example:
        >>> import numpy as np, fastdnn
        >>> layer = fastdnn.layers.Dropout(0.5, seed=1)
        >>> y = layer(np.ones((1000, 10)), training=True)
        >>> 0.45 < float((y == 0).mean()) < 0.55, float(y.max())
        (True, 2.0)

    Raises:
        TypeError: if `rate` is not a number.
        ValueError: if `rate` is outside [0, 1), or for a bad seed.
    """

    def noise(self, inputs, coords):
        return noise.dropout(inputs, self.rate, coords, self.noise_shape)


class AlphaDropout(_MaskLayer):
    """Dropout for self-normalizing (SELU) networks: keeps the inputs' mean and variance.

    Dropped units are set to SELU's negative saturation value α' = -1.7581, then an affine map
    a·x + b restores a mean of 0 and a variance of 1 (Klambauer et al., 2017):
    a = ((1 - rate)(1 + rate·α'²))^-1/2, b = -a·α'·rate.

    Args:
        rate: fraction of the inputs to drop, a float in [0, 1).
        noise_shape: shape of the binary mask, broadcast over the inputs.
        seed: integer seed (None: the global seed).

    Example:
        >>> import numpy as np, fastdnn
        >>> x = np.random.default_rng(0).standard_normal((1000, 100)).astype("float32")
        >>> y = fastdnn.layers.AlphaDropout(0.2, seed=1)(x, training=True)
        >>> abs(float(y.mean())) < 0.02, abs(float(y.std()) - 1) < 0.02
        (True, True)

    Raises:
        TypeError: if `rate` is not a number.
        ValueError: if `rate` is outside [0, 1).
    """

    def noise(self, inputs, coords):
        return noise.alpha_dropout(inputs, self.rate, coords, self.noise_shape)


class GaussianDropout(NoiseLayer):
    """Multiplies the inputs by 1-centred Gaussian noise of variance rate/(1 - rate) in training.

    Args:
        rate: drop probability of the equivalent dropout, a float in [0, 1).
        seed: integer seed (None: the global seed).

    Example:
        >>> import numpy as np, fastdnn
        >>> y = fastdnn.layers.GaussianDropout(0.5, seed=1)(np.ones((100, 100)), training=True)
        >>> abs(float(y.mean()) - 1) < 0.05, abs(float(y.std()) - 1) < 0.05
        (True, True)

    Raises:
        TypeError: if `rate` is not a number.
        ValueError: if `rate` is outside [0, 1).
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = noise.check_rate(rate)

    def _active(self):
        return self.rate > 0

    def noise(self, inputs, coords):
        return noise.gaussian_dropout(inputs, self.rate, coords)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


class GaussianNoise(NoiseLayer):
    """Adds zero-centred Gaussian noise of standard deviation `stddev` in training.

    Args:
        stddev: the noise's standard deviation, a finite number >= 0.
        seed: integer seed (None: the global seed).

    Example:
        >>> import numpy as np, fastdnn
        >>> y = fastdnn.layers.GaussianNoise(0.1, seed=1)(np.zeros((100, 100)), training=True)
        >>> abs(float(y.std()) - 0.1) < 0.005
        True

    Raises:
        TypeError: if `stddev` is not a number.
        ValueError: if `stddev` is negative or not finite.
    """

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if isinstance(stddev, bool) or not isinstance(stddev, (int, float)) and not hasattr(stddev, "__float__"):
            raise TypeError("Received an invalid value for `stddev`, expected a number >= 0. "
                            f"Received: stddev={stddev!r} (of type {type(stddev).__name__})")
        if not (math.isfinite(float(stddev)) and stddev >= 0):
            raise ValueError("Received an invalid value for `stddev`, expected a finite number >= 0. "
                             f"Received: stddev={stddev!r}")
        self.stddev = float(stddev)

    def _active(self):
        return self.stddev > 0

    def noise(self, inputs, coords):
        return noise.gaussian_noise(inputs, self.stddev, coords)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev}
