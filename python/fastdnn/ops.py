"""Native array ops: matrix products and the fused dense layer.

Each function converts its inputs once (see `fastdnn._arrays`) and calls the op's single
native entry point, which checks shapes, allocates the output and runs the best kernel for the
machine with the GIL released.
"""

import math

import numpy as np

from . import _C
from ._arrays import as_float32

# Activation codes of the native epilogue (csrc/core/activation.h).
_ACTIVATION_CODES = {
    None: 0,
    "linear": 0,
    "identity": 0,
    "relu": 1,
    "leaky_relu": 2,
    "elu": 3,
    "selu": 4,
    "sigmoid": 5,
    "tanh": 6,
}

# Keyword arguments each activation accepts, with defaults. leaky_relu takes Keras 3's
# `negative_slope` and the book's `alpha`; elu takes `alpha`.
_ACTIVATION_PARAMS = {
    "leaky_relu": {"negative_slope": 0.2, "alpha": None},
    "elu": {"alpha": 1.0},
}


def _activation(activation, kwargs):
    """Maps an activation name and its keyword arguments to (code, alpha)."""
    if activation is not None and not isinstance(activation, str):
        raise TypeError(
            "`activation` must be one of "
            f"{sorted(k for k in _ACTIVATION_CODES if k)} or None. Received: {activation!r}"
        )
    if activation not in _ACTIVATION_CODES:
        raise ValueError(
            f"Unknown activation {activation!r}. Expected one of "
            f"{sorted(k for k in _ACTIVATION_CODES if k)} or None."
        )
    params = _ACTIVATION_PARAMS.get(activation, {})
    unknown = set(kwargs) - set(params)
    if unknown:
        accepted = ", ".join(sorted(params)) or "no arguments"
        raise TypeError(
            f"Activation {activation!r} got unexpected arguments {sorted(unknown)}; it accepts {accepted}."
        )
    if activation == "leaky_relu":
        alpha = kwargs.get("alpha")
        if alpha is None:
            alpha = kwargs.get("negative_slope", params["negative_slope"])
    elif activation == "elu":
        alpha = kwargs.get("alpha", params["alpha"])
    else:
        alpha = 0.0
    return _ACTIVATION_CODES[activation], float(alpha)


def matmul(a, b, *, transpose_a=False, transpose_b=False, out=None, accumulate=False):
    """Matrix product op(a) · op(b) of 2-D arrays, in float32.

    Args:
        a: array of shape (M, K), or (K, M) with `transpose_a=True`.
        b: array of shape (K, N), or (N, K) with `transpose_b=True`.
        transpose_a: use aᵀ in the product.
        transpose_b: use bᵀ in the product.
        out: optional writable C-contiguous float32 array of shape (M, N) to write into.
        accumulate: add the product into `out` (out += op(a)·op(b)) instead of overwriting it,
            as gradient accumulation needs. Requires `out`.

    Returns:
        The (M, N) float32 product (`out` itself when given).

    Raises:
        TypeError: if an input does not hold real numbers, or `out` is not float32.
        ValueError: on mismatched shapes, or an `out` that is read-only, non-contiguous,
            wrongly shaped or overlapping an input.

    Example:
        >>> import numpy as np, fastdnn
        >>> fastdnn.ops.matmul(np.ones((2, 3)), np.ones((3, 4))).shape
        (2, 4)
    """
    a = as_float32(a, "a")
    b = as_float32(b, "b")
    c, _ = _C.gemm(a, b, bool(transpose_a), bool(transpose_b), out, bool(accumulate), None, 0, 0.0, False)
    return c


def dense(x, kernel, bias=None, activation=None, *, out=None, return_preactivation=False,
          **activation_args):
    """Fused dense layer: activation(x · kernel + bias) in one pass over the output.

    The bias and activation are applied to each output tile while it is still in cache.

    Args:
        x: inputs of shape (..., K); leading dimensions are kept.
        kernel: weights of shape (K, N).
        bias: optional bias of shape (N,).
        activation: None/"linear", "relu", "leaky_relu", "elu", "selu", "sigmoid" or "tanh".
        out: optional writable C-contiguous float32 array of shape (..., N).
        return_preactivation: also return z = x · kernel + bias, as the backward pass needs.
        **activation_args: `negative_slope` (or `alpha`) for leaky_relu, default 0.2;
            `alpha` for elu, default 1.0.

    Returns:
        The activations, shape (..., N); or (activations, preactivation) with
        `return_preactivation=True`.

    Raises:
        TypeError: for inputs that are not real numbers, or unknown activation arguments.
        ValueError: for mismatched shapes, an unknown activation or a bad `out`.

    Example:
        >>> import numpy as np, fastdnn
        >>> y = fastdnn.ops.dense(np.ones((32, 784)), np.ones((784, 300)) / 784,
        ...                       np.zeros(300), activation="elu")
        >>> y.shape
        (32, 300)
    """
    code, alpha = _activation(activation, activation_args)
    x = as_float32(x, "x")
    kernel = as_float32(kernel, "kernel")
    if bias is not None:
        bias = as_float32(bias, "bias")
    if x.ndim < 2:
        raise ValueError(f"`x` must have at least 2 dimensions (batch, features). Received shape {x.shape}.")
    if kernel.ndim != 2 or kernel.shape[0] != x.shape[-1]:
        raise ValueError(
            f"`kernel` must have shape ({x.shape[-1]}, units) to match `x` of shape {x.shape}. "
            f"Received kernel shape {kernel.shape}."
        )
    if x.ndim == 2:
        y, z = _C.gemm(x, kernel, False, False, out, False, bias, code, alpha, bool(return_preactivation))
        return (y, z) if return_preactivation else y
    # (..., K) inputs run as one (rows, K) product over a view; the result gets the leading dims back.
    lead = x.shape[:-1]
    rows = math.prod(lead)
    shape = lead + (kernel.shape[1],)
    out2 = None
    if out is not None:
        if not isinstance(out, np.ndarray):
            raise TypeError(f"`out` must be a NumPy array. Received an object of type {type(out).__name__}.")
        if out.shape != shape:
            raise ValueError(f"`out` has shape {out.shape} but the result has shape {shape}.")
        if not out.flags.c_contiguous:
            raise ValueError("`out` must be C-contiguous; pass a contiguous array.")
        out2 = out.reshape(rows, kernel.shape[1])
    y, z = _C.gemm(x.reshape(rows, x.shape[-1]), kernel, False, False, out2, False, bias, code, alpha,
                   bool(return_preactivation))
    y = out if out is not None else y.reshape(shape)
    z = None if z is None else z.reshape(shape)
    return (y, z) if return_preactivation else y
