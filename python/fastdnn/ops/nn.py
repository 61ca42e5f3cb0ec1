"""The neural-network ops: products, the fused dense layer, activations, softmax and the fused
cross-entropies, each differentiable on a GradientTape (its backward below its forward, over the
calls of the backend `kernels(...)` picks for its arrays)."""

import math

import numpy as np

from .._arrays import as_float32
from .._codes import ACTIVATION, BINARY, UNARY
from .._dispatch import kernels, on_device
from ..autodiff import lookup, note, record, recording
from ._inputs import _x

_MULTIPLY, _GELU, _GELU_GRAD = BINARY["multiply"], UNARY["gelu"], UNARY["gelu_grad"]
_FLOAT32_MAX = float(np.finfo(np.float32).max)

# Activation codes of the native kernels (csrc/core/codes.h, through fastdnn._C.Activation).
_ACTIVATION_CODES = {None: ACTIVATION["identity"], "linear": ACTIVATION["identity"], **ACTIVATION}

# (code, alpha) of activations called without arguments.
_PLAIN_CODES = {name: (code, {"leaky_relu": 0.2, "elu": 1.0}.get(name, 0.0))
                for name, code in _ACTIVATION_CODES.items()}

# Keyword arguments each activation accepts, with defaults. leaky_relu takes Keras 3's
# `negative_slope` and the book's `alpha`; elu takes `alpha`.
_ACTIVATION_PARAMS = {
    "leaky_relu": {"negative_slope": 0.2, "alpha": None},
    "elu": {"alpha": 1.0},
}


def _activation(activation, kwargs):
    """Maps an activation name and its keyword arguments to (code, alpha)."""
    if not kwargs and (activation is None or type(activation) is str) and activation in _PLAIN_CODES:
        return _PLAIN_CODES[activation]  # the common case, without the checks below
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
    alpha = 0.0
    if activation == "leaky_relu":
        alpha = kwargs.get("alpha")
        if alpha is None:
            alpha = kwargs.get("negative_slope", params["negative_slope"])
        alpha = _slope("leaky_relu", "negative_slope", alpha)
        if not alpha >= 0:
            raise ValueError(f"leaky_relu expects negative_slope >= 0. Received: negative_slope={alpha}")
    elif activation == "elu":
        alpha = _slope("elu", "alpha", kwargs.get("alpha", params["alpha"]))
        if not alpha > 0:
            raise ValueError(f"elu expects alpha > 0. Received: alpha={alpha}")
    return _ACTIVATION_CODES[activation], alpha


def _slope(activation, name, value):
    """An activation's scalar argument as a float the float32 kernels can hold."""
    if isinstance(value, (str, bytes)) or np.ndim(value) != 0:
        raise TypeError(f"{activation} expects `{name}` to be a real number. Received: {name}={value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{activation} expects `{name}` to be a real number. "
                        f"Received: {name}={value!r}") from None
    if not abs(number) <= _FLOAT32_MAX:  # also NaN and values the float32 kernels would see as inf
        raise ValueError(f"{activation} expects a finite `{name}` (float32 range). Received: {name}={value!r}")
    return number


# ---- products ----------------------------------------------------------------------------------

def matmul(a, b, *, transpose_a=False, transpose_b=False, out=None, accumulate=False):
    """Matrix product op(a) · op(b) of 2-D arrays, in float32.

    Args:
        a: array of shape (M, K), or (K, M) with `transpose_a=True`.
        b: array of shape (K, N), or (N, K) with `transpose_b=True`.
        transpose_a: use aᵀ in the product.
        transpose_b: use bᵀ in the product.
        out: optional writable C-contiguous float32 array of shape (M, N) to write into.
        accumulate: add the product into `out` (out += op(a)·op(b)) instead of overwriting it,
            as gradient accumulation needs. Requires `out`. Not differentiable.

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
    a = _x(a, "a")
    b = _x(b, "b")
    ta, tb = bool(transpose_a), bool(transpose_b)
    k = kernels(a, b, out)
    c, _ = k.gemm(a, b, ta, tb, out, bool(accumulate), None, 0, 0.0, False)
    if not accumulate and recording() is not None:
        record(c, (a, b), lambda g, needs: _matmul_backward(k, k.contiguous(g), a, b, ta, tb, needs))
    return c


def _matmul_backward(k, g, a, b, ta, tb, needs):
    """C = op(a)·op(b): dop(a) = G·op(b)ᵀ and dop(b) = op(a)ᵀ·G, stored the way a and b are."""
    da = db = None
    if needs[0]:
        da = k.gemm(b, g, tb, True, None, False, None, 0, 0.0, False)[0] if ta else \
            k.gemm(g, b, False, not tb, None, False, None, 0, 0.0, False)[0]
    if needs[1]:
        db = k.gemm(g, a, True, ta, None, False, None, 0, 0.0, False)[0] if tb else \
            k.gemm(a, g, not ta, False, None, False, None, 0, 0.0, False)[0]
    return da, db


def dense(x, kernel, bias=None, activation=None, *, out=None, return_preactivation=False,
          **activation_args):
    """Fused dense layer: activation(x · kernel + bias) in one pass over the output.

    The bias and activation are applied to each output tile while it is still in cache. On a
    GradientTape the backward is native too: the activation's derivative is taken from the
    output, fused with the bias gradient, then two products give the kernel and input gradients.

    Args:
        x: inputs of shape (..., K); leading dimensions are kept.
        kernel: weights of shape (K, N).
        bias: optional bias of shape (N,).
        activation: None/"linear", "relu", "leaky_relu", "elu", "selu", "sigmoid", "tanh" or
            "softmax".
        out: optional writable C-contiguous float32 array of shape (..., N).
        return_preactivation: also return z = x · kernel + bias (not differentiable).
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
    if activation == "softmax":
        if activation_args:
            raise TypeError(f"Activation 'softmax' got unexpected arguments {sorted(activation_args)}.")
        z = dense(x, kernel, bias, None, return_preactivation=False)
        y = softmax(z, out=out)
        return (y, z) if return_preactivation else y
    code, alpha = _activation(activation, activation_args)
    x = _x(x, "x")
    kernel = _x(kernel, "kernel")
    if bias is not None:
        bias = _x(bias, "bias")
    if x.ndim < 2:
        raise ValueError(f"`x` must have at least 2 dimensions (batch, features). Received shape {x.shape}.")
    if kernel.ndim != 2 or kernel.shape[0] != x.shape[-1]:
        raise ValueError(
            f"`kernel` must have shape ({x.shape[-1]}, units) to match `x` of shape {x.shape}. "
            f"Received kernel shape {kernel.shape}."
        )
    want_z = bool(return_preactivation)
    if x.ndim == 2:
        x2, out2, shape = x, out, None
    else:
        # (..., K) inputs run as one (rows, K) product over a view; the result gets the leading
        # dims back.
        lead = x.shape[:-1]
        rows = math.prod(lead)
        shape = lead + (kernel.shape[1],)
        out2 = None
        if out is not None:
            if not isinstance(out, np.ndarray) and not on_device(out):
                raise TypeError(f"`out` must be a NumPy array. Received an object of type {type(out).__name__}.")
            if out.shape != shape:
                raise ValueError(f"`out` has shape {out.shape} but the result has shape {shape}.")
            if not out.flags.c_contiguous:
                raise ValueError("`out` must be C-contiguous; pass a contiguous array.")
            out2 = out.reshape(rows, kernel.shape[1])
        x2 = x.reshape(rows, x.shape[-1])
    k = kernels(x2, kernel, bias, out2)
    y2, z2 = k.gemm(x2, kernel, False, False, out2, False, bias, code, alpha, want_z)
    y = y2 if shape is None else (out if out is not None else y2.reshape(shape))
    if recording() is not None:
        inputs = (x, kernel) if bias is None else (x, kernel, bias)
        record(y, inputs, lambda g, needs: _dense_backward(k, g, x2, kernel, y2, code, alpha, needs))
    if want_z:
        return y, (z2 if shape is None else z2.reshape(shape))
    return y


def _dense_backward(k, g, x2, kernel, y2, code, alpha, needs):
    g2 = k.contiguous(as_float32(g, "grad")).reshape(y2.shape)
    dx, dk, db = k.dense_backward(g2, x2, kernel, y2, code, alpha, needs)
    if dx is not None:
        dx = dx.reshape(g.shape[:-1] + (kernel.shape[0],))
    return (dx, dk) if len(needs) == 2 else (dx, dk, db)


# ---- activations -------------------------------------------------------------------------------

def _native_activation(x, name, **kwargs):
    code, alpha = _activation(name, kwargs)
    x = _x(x, "x")
    k = kernels(x)
    y = k.act_forward(x, code, alpha)
    record(y, (x,), lambda g, needs: (k.act_backward(y, k.contiguous(as_float32(g, "grad")), code, alpha, False)[0],))
    return y


def relu(x):
    """max(x, 0), element-wise (native forward and backward)."""
    return _native_activation(x, "relu")


def leaky_relu(x, negative_slope=0.2):
    """x if x > 0 else negative_slope·x (negative_slope >= 0)."""
    return _native_activation(x, "leaky_relu", negative_slope=negative_slope)


def elu(x, alpha=1.0):
    """x if x > 0 else alpha·(exp(x) - 1) (alpha > 0)."""
    return _native_activation(x, "elu", alpha=alpha)


def selu(x):
    """scale·elu(x, alpha) with the self-normalizing constants of Klambauer et al. (2017)."""
    return _native_activation(x, "selu")


def sigmoid(x):
    """1 / (1 + exp(-x)), element-wise."""
    return _native_activation(x, "sigmoid")


def tanh(x):
    """Hyperbolic tangent, element-wise."""
    return _native_activation(x, "tanh")


def gelu(x, approximate=True):
    """x·Φ(x) (Φ the standard normal CDF), or 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³)))."""
    x = _x(x, "x")
    k = kernels(x)
    p = 1.0 if approximate else 0.0
    y = k.unary(_GELU, x, p)
    record(y, (x,), lambda g, needs: (k.binary(_MULTIPLY, g, k.unary(_GELU_GRAD, x, p)),))
    return y


def softmax(x, axis=-1, *, out=None):
    """exp(x) / Σ exp(x) along the last axis (native, numerically stable).

    On a tape, the result remembers its logits, so a following cross-entropy on probabilities
    runs as one fused softmax-cross-entropy kernel.

    Raises:
        ValueError: for an axis other than the last.
    """
    x = _x(x, "x")
    if axis not in (-1, x.ndim - 1):
        raise ValueError(f"softmax supports the last axis only. Received axis={axis} for shape {x.shape}.")
    k = kernels(x, out)
    y = k.softmax(x, out)
    record(y, (x,), lambda g, needs: (k.softmax_backward(y, k.contiguous(as_float32(g, "grad"))),))
    note(y, "softmax_logits", x)
    return y


def softmax_logits(probabilities):
    """The logits a recorded softmax produced `probabilities` from, or None."""
    return lookup(probabilities, "softmax_logits")


def sparse_softmax_cross_entropy(logits, labels):
    """Per-sample cross-entropy of softmax(logits) against integer class labels (fused, native).

    Args:
        logits: (batch, classes) float array.
        labels: (batch,) integer class indices in [0, classes).

    Returns:
        (batch,) float32 losses.

    Raises:
        ValueError: for labels out of range or a batch-size mismatch.
    """
    logits = _x(logits, "logits")
    labels = _labels(labels, logits)
    need = recording() is not None
    k = kernels(logits)
    loss, dlogits = k.softmax_xent(logits, labels, None, 1.0, need)
    record(loss, (logits,), lambda g, needs: (k.scale_rows(dlogits, g),))
    return loss


def sparse_softmax_cross_entropy_mean(logits, labels):
    """Mean over the batch of `sparse_softmax_cross_entropy`, as one native call and one tape
    node (the kernel scales the gradient by 1/batch itself). Returns a 0-d float32 array."""
    logits = _x(logits, "logits")
    labels = _labels(labels, logits)
    n = logits.shape[0]
    need = recording() is not None
    k = kernels(logits)
    loss, dlogits = k.softmax_xent(logits, labels, None, 1.0 / n if n else 0.0, need)
    y = k.mean_all(loss, n)
    record(y, (logits,), lambda g, needs: (k.scale_by(dlogits, g),))
    return y


def sparse_crossentropy_from_probabilities(probabilities, labels, epsilon=1e-7):
    """−log(clip(p_label / Σp, ε, 1 − ε)) per sample, for GPU probabilities (Keras's formula;
    the CPU computes it from fastdnn.ops in fastdnn.losses). Not differentiable: on a tape,
    predictions come with their logits and the fused kernel runs instead.

    Raises:
        NotImplementedError: when a recording tape needs its gradient.
    """
    tape = recording()
    if tape is not None and tape._needs(probabilities):
        raise NotImplementedError("The cross-entropy of GPU probabilities that were not produced by a "
                                  "softmax on this tape has no gradient kernel; use from_logits=True.")
    return kernels(probabilities).sparse_xent_probs(probabilities, _labels(labels, probabilities), epsilon)


def softmax_cross_entropy(logits, targets):
    """Per-sample cross-entropy of softmax(logits) against target distributions (fused, native)."""
    logits = _x(logits, "logits")
    targets = as_float32(targets, "targets")
    need = recording() is not None
    k = kernels(logits)
    loss, dlogits = k.softmax_xent(logits, None, targets, 1.0, need)
    record(loss, (logits,), lambda g, needs: (k.scale_rows(dlogits, g),))
    return loss


def _labels(labels, logits):
    labels = np.asarray(labels)
    if labels.dtype == np.int64 and labels.ndim == 1 and labels.flags.c_contiguous:
        if logits.ndim != 2:
            raise ValueError(f"Logits must have shape (batch, classes). Received shape {logits.shape}.")
        return labels
    if labels.dtype.kind not in "iub":
        if labels.dtype.kind != "f":
            raise TypeError(f"Class labels must be integers. Received dtype={labels.dtype}.")
        whole = (np.mod(labels, 1) == 0) & (np.abs(labels) < 2.0 ** 63)
        if not np.all(whole):
            bad = labels.reshape(-1)[np.argmin(whole.reshape(-1))]
            raise ValueError("Class labels must be whole numbers (class indices). "
                             f"Received {float(bad)!r} in float labels of dtype {labels.dtype}.")
        labels = labels.astype(np.int64)
    labels = np.ascontiguousarray(labels.reshape(-1), dtype=np.int64)
    if logits.ndim != 2:
        raise ValueError(f"Logits must have shape (batch, classes). Received shape {logits.shape}.")
    return labels


