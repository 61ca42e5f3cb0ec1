"""The dropout family's differentiable ops and their random streams: `fastdnn.ops.noise`, under
its older name.

    >>> from fastdnn import noise
    >>> noise.NoiseStream(seed=5).next()
    (5, 2147483648, 0)
"""

from .ops.noise import (
    SELU_ALPHA,
    SELU_SCALE,
    NoiseStream,
    alpha_dropout,
    alpha_dropout_coefficients,
    check_rate,
    dropout,
    gaussian_dropout,
    gaussian_noise,
    resolve_noise_shape,
)

__all__ = ["SELU_ALPHA", "SELU_SCALE", "NoiseStream", "alpha_dropout", "alpha_dropout_coefficients", "check_rate",
           "dropout", "gaussian_dropout", "gaussian_noise", "resolve_noise_shape"]
