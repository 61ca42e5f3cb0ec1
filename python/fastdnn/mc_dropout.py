"""Monte Carlo Dropout (Gal & Ghahramani, 2016): averaged predictions with dropout left on.

`mc_dropout_predict(model, x, samples)` runs the dropout family (`Dropout`, `AlphaDropout`,
`GaussianDropout`, `GaussianNoise` and their subclasses) in training mode and every other layer
(BatchNormalization included) in inference mode, and returns the mean and standard deviation of
the predictions over the samples. Instead of one forward pass per sample, it tiles a chunk of
the inputs k times into one large batch: each Dense layer runs one large product, and the native
dropout kernel draws an independent mask for every row of it.
"""


import numpy as np

from ._arrays import as_float32
from ._checks import check_integer
from ._dispatch import host
from .layers.call_context import NOISE_ONLY

_DEFAULT_ROWS = 8192  # rows per forward pass: large products, a few MB of activations


def _forward(model, x):
    """One forward pass with the dropout family on and every other layer in inference mode, in
    any model (nested ones included)."""
    return host(model(x, training=NOISE_ONLY))


def mc_dropout_predict(model, x, samples=100, batch_size=None):
    """Mean and standard deviation of a model's predictions over `samples` dropout masks.

    Dropout-family layers stay active (each sample, each input a fresh mask) while every other
    layer runs in inference mode, so BatchNormalization uses its moving statistics and leaves them
    unchanged. Equivalent to stacking `samples` calls of the model with only dropout on, but run
    as a few large batches: each pass holds k copies of a chunk of the inputs.

    Args:
        model: a fastdnn model (Sequential, functional or subclassed).
        x: inputs, an array of shape (n, ...).
        samples: number of Monte Carlo samples, a positive integer (the chapter uses 100).
        batch_size: rows per forward pass (copies × inputs); default 8192.

    Returns:
        (mean, std): float32 arrays of the output's shape (n, ...), the mean over samples of the
        predictions (e.g. class probabilities) and their standard deviation (population, ddof=0,
        as `np.std`).

    Example:
        >>> import numpy as np, fastdnn as keras
        >>> model = keras.Sequential([keras.Input(shape=[4]), keras.layers.Dropout(0.5),
        ...                           keras.layers.Dense(3, activation="softmax")])
        >>> mean, std = keras.mc_dropout_predict(model, np.ones((5, 4)), samples=10)
        >>> mean.shape, bool((std > 0).all())
        ((5, 3), True)

    Raises:
        TypeError: if `model` is not a model, or `x` does not hold numbers.
        ValueError: if `samples` or `batch_size` is not a positive integer, or `x` is empty.
    """
    if not callable(model) or not hasattr(model, "layers"):
        raise TypeError(f"`model` must be a fastdnn model (Sequential, functional or subclassed). Received: {model!r}")
    samples = check_integer("samples", samples)
    rows = _DEFAULT_ROWS if batch_size is None else check_integer("batch_size", batch_size)
    x = as_float32(x, "x")
    if x.ndim == 0 or len(x) == 0:
        raise ValueError(f"`x` must hold at least one sample. Received shape {x.shape}.")
    if not getattr(model, "built", True):
        model.build((None,) + x.shape[1:])
    n = len(x)
    chunk = min(n, max(1, rows // samples))  # inputs per pass
    copies = max(1, min(samples, rows // chunk))  # samples per pass
    total = sq = None
    tiled = np.empty((copies * chunk,) + x.shape[1:], np.float32)  # reused: no fresh pages per pass
    for lo in range(0, n, chunk):
        xc = x[lo:lo + chunk]
        done = 0
        while done < samples:
            k = min(copies, samples - done)
            big = tiled[:k * len(xc)]
            big.reshape((k,) + xc.shape)[...] = xc
            out = _forward(model, big)
            out = np.asarray(out, np.float64).reshape((k, len(xc)) + out.shape[1:])
            if total is None:
                total = np.zeros((n,) + out.shape[2:])
                sq = np.zeros_like(total)
            total[lo:lo + len(xc)] += out.sum(axis=0)
            sq[lo:lo + len(xc)] += np.einsum("k...,k...->...", out, out)
            done += k
    mean = total / samples
    var = np.maximum(sq / samples - mean * mean, 0.0)
    return mean.astype(np.float32), np.sqrt(var).astype(np.float32)


__all__ = ["mc_dropout_predict"]
