"""The element-wise, reduction and shape ops, each differentiable on a GradientTape; every
backward is written once over the calls of the backend `kernels(...)` picks (fastdnn/backend/),
so one formula serves the CPU and the GPU."""

import math

import numpy as np

from .._codes import BINARY, UNARY
from .._dispatch import CPU, host_only, kernels, on_device
from ..autodiff import record
from ._inputs import _x

# ---- element-wise arithmetic (the backend's binary/unary codes; gradients summed down to broadcast inputs)

def _operands(a, b):
    """(backend, a, b) for a binary op: a scalar from host memory joins a GPU array (as in
    PyTorch); otherwise both must be on one device."""
    if on_device(a) != on_device(b) and np.size(b if on_device(a) else a) <= 1:
        k = kernels(a if on_device(a) else b)
        return k, k.put(a), k.put(b)
    return kernels(a, b), a, b


def _binary(a, b, code):
    a, b = _x(a, "a"), _x(b, "b")
    k, a, b = _operands(a, b)
    y = k.binary(code, a, b)
    record(y, (a, b), lambda g, needs: _binary_backward(k, code, g, a, b, y, needs))
    return y


def _binary_backward(k, code, g, a, b, y, needs):
    """The gradients of a binary op over backend calls, summed down to broadcast inputs."""
    mul = lambda u, v: k.binary(_MULTIPLY, u, v)
    if code == _ADD:
        ga, gb = g, g
    elif code == _SUBTRACT:
        ga, gb = g, k.unary(_NEGATIVE, g)
    elif code == _MULTIPLY:
        ga, gb = mul(g, b), mul(g, a)
    elif code == _DIVIDE:  # d(a/b)/db = -y/b
        ga, gb = k.binary(_DIVIDE, g, b), k.binary(_DIVIDE, mul(k.unary(_NEGATIVE, g), y), b)
    elif code == _MAXIMUM:  # to a on ties
        ga, gb = mul(g, k.binary(_GE, a, b)), mul(g, k.binary(_GT, b, a))
    else:  # minimum: to a on ties
        ga, gb = mul(g, k.binary(_GE, b, a)), mul(g, k.binary(_GT, a, b))
    return (k.unbroadcast(ga, a.shape) if needs[0] else None,
            k.unbroadcast(gb, b.shape) if needs[1] else None)


def add(a, b):
    """a + b with NumPy broadcasting."""
    return _binary(a, b, _ADD)


def subtract(a, b):
    """a - b with NumPy broadcasting."""
    return _binary(a, b, _SUBTRACT)


def multiply(a, b):
    """a · b element-wise with NumPy broadcasting."""
    return _binary(a, b, _MULTIPLY)


def divide(a, b):
    """a / b element-wise with NumPy broadcasting."""
    return _binary(a, b, _DIVIDE)


def maximum(a, b):
    """Element-wise maximum; the gradient goes to the larger input (to `a` on ties)."""
    return _binary(a, b, _MAXIMUM)


def minimum(a, b):
    """Element-wise minimum; the gradient goes to the smaller input (to `a` on ties)."""
    return _binary(a, b, _MINIMUM)


def _unary(x, code, p0=0.0, p1=0.0):
    x = _x(x, "x")
    k = kernels(x)
    y = k.unary(code, x, p0, p1)
    record(y, (x,), lambda g, needs: (_unary_backward(k, code, g, x, y, p0, p1),))
    return y


def _unary_backward(k, code, g, x, y, p0, p1):
    """The gradient of a unary op over backend calls."""
    if code == _NEGATIVE:
        return k.unary(_NEGATIVE, g)
    if code == _SQUARE:  # 2g·x
        return k.binary(_MULTIPLY, k.unary(_SCALE, g, 2.0), x)
    if code == _ABS:  # sign(x), 0 at 0
        return k.binary(_MULTIPLY, g, k.unary(_SIGN, x))
    if code == _EXP:
        return k.binary(_MULTIPLY, g, y)
    if code == _LOG:
        return k.binary(_DIVIDE, g, x)
    if code == _SQRT:  # g·0.5 / y
        return k.binary(_DIVIDE, k.unary(_SCALE, g, 0.5), y)
    # clip: the gradient passes where x lies inside
    return k.binary(_MULTIPLY, g, k.unary(_INSIDE, x, p0, p1))


# The element-wise op codes (csrc/core/codes.h, through fastdnn._codes).
_ADD, _SUBTRACT, _MULTIPLY, _DIVIDE = BINARY["add"], BINARY["subtract"], BINARY["multiply"], BINARY["divide"]
_MAXIMUM, _MINIMUM, _GE, _GT = BINARY["maximum"], BINARY["minimum"], BINARY["greater_equal"], BINARY["greater"]
_NEGATIVE, _SQUARE, _ABS, _EXP, _LOG, _SQRT = (UNARY[k] for k in ("negative", "square", "abs", "exp", "log", "sqrt"))
_CLIP, _SCALE, _SIGN, _INSIDE, _GELU, _GELU_GRAD = (
    UNARY[k] for k in ("clip", "scale", "sign", "inside", "gelu", "gelu_grad"))


def negative(x):
    """-x."""
    return _unary(x, _NEGATIVE)


def square(x):
    """x², element-wise."""
    return _unary(x, _SQUARE)


def abs(x):
    """|x|, element-wise (gradient sign(x), 0 at 0)."""
    return _unary(x, _ABS)


def exp(x):
    """exp(x), element-wise."""
    return _unary(x, _EXP)


def log(x):
    """Natural logarithm, element-wise."""
    return _unary(x, _LOG)


def sqrt(x):
    """Square root, element-wise."""
    return _unary(x, _SQRT)


def clip(x, x_min, x_max):
    """x clipped to [x_min, x_max] (None: unbounded); the gradient passes where x lies inside."""
    lo = -math.inf if x_min is None else float(x_min)
    hi = math.inf if x_max is None else float(x_max)
    return _unary(x, _CLIP, lo, hi)


def where(condition, a, b):
    """a where condition holds, else b (the condition is not differentiated; CPU arrays only)."""
    a, b = _x(a, "a"), _x(b, "b")
    host_only("where", a, b)
    cond = np.asarray(condition, dtype=bool)
    y = np.asarray(np.where(cond, a, b), dtype=np.float32)
    record(y, (a, b), lambda g, needs: tuple(
        CPU.unbroadcast(np.where(cond, g, 0) if i == 0 else np.where(cond, 0, g), x.shape) if need else None
        for i, (x, need) in enumerate(zip((a, b), needs))))
    return y


# ---- reductions and shapes ---------------------------------------------------------------------

def sum(x, axis=None, keepdims=False):
    """Sum over `axis` (all axes by default)."""
    return _reduce(x, axis, keepdims, 1.0)


def mean(x, axis=None, keepdims=False):
    """Mean over `axis` (all axes by default)."""
    return _reduce(x, axis, keepdims, None)


def _reduce(x, axis, keepdims, scale):
    """Sum (scale 1) or mean (scale None: 1/count) over `axis`; the backward spreads the gradient."""
    x = _x(x, "x")
    axes = _axes(axis, x.ndim)
    if scale is None:  # the mean of nothing is NaN, as in NumPy and Keras
        count = math.prod(x.shape if axes is None else [x.shape[i] for i in axes])
        scale = 1.0 / count if count else float("nan")
    k = kernels(x)
    y = k.sum_axes(x, axes, keepdims, scale)
    record(y, (x,), lambda g, needs: (k.spread(g, x.shape, axes, keepdims, scale),))
    return y


def _axes(axis, ndim):
    """`axis` (None, an int or a sequence) as None or a sorted tuple of axes, checked as NumPy
    checks them (a 0-d array takes a plain axis 0 or -1, which sums nothing)."""
    if axis is None:
        return None
    if type(axis) is int and -ndim <= axis < ndim:  # the common case, without the checks below
        return (axis % ndim,)
    if ndim == 0 and np.isscalar(axis) and int(axis) in (0, -1):
        return ()
    axes = (axis,) if np.isscalar(axis) else tuple(axis)
    if any(not -ndim <= int(a) < ndim for a in axes):
        raise np.exceptions.AxisError(f"axis {axis} is out of bounds for an array of dimension {ndim}.")
    normalized = [int(a) % ndim for a in axes]
    if len(set(normalized)) != len(normalized):
        raise ValueError(f"duplicate value in 'axis': {axis}")
    return tuple(sorted(normalized))


def reshape(x, shape):
    """x viewed with a new shape (copying only when x is not contiguous)."""
    x = _x(x, "x")
    y = x.reshape(shape)
    if on_device(x):  # a new view object of the same memory: its own identity on the tape
        pass
    elif y is x or np.shares_memory(y, x) is False and y.base is None:
        y = y.copy()
    record(y, (x,), lambda g, needs: ((g if on_device(g) else np.asarray(g, np.float32)).reshape(x.shape),))
    return y


def flatten(x):
    """(batch, ...) -> (batch, features)."""
    x = _x(x, "x")
    # Spelled out rather than -1, which NumPy cannot resolve for an empty batch.
    return reshape(x, (x.shape[0], math.prod(x.shape[1:])) if x.ndim else (1, 1))


def concatenate(arrays, axis=-1):
    """Joins arrays along `axis` (all other sizes equal); the gradient is split back.

    Example:
        >>> import numpy as np, fastdnn
        >>> fastdnn.ops.concatenate([np.ones((2, 3)), np.zeros((2, 1))]).shape
        (2, 4)

    Raises:
        ValueError: for no arrays, or shapes that differ off `axis`.
        NotImplementedError: for GPU arrays.
    """
    xs = [_x(a, f"arrays[{i}]") for i, a in enumerate(arrays)]
    if not xs:
        raise ValueError("concatenate needs at least one array.")
    host_only("concatenate", *xs)
    ndim = xs[0].ndim
    if any(x.ndim != ndim for x in xs) or not -ndim <= axis < ndim:
        raise ValueError(f"concatenate needs arrays of the same rank with axis in [-{ndim}, {ndim}). "
                         f"Received shapes {[x.shape for x in xs]} and axis={axis}.")
    axis %= ndim
    try:
        y = np.concatenate(xs, axis=axis)
    except ValueError:
        raise ValueError("concatenate needs the same sizes on every axis but the joined one "
                         f"(axis {axis}). Received shapes {[x.shape for x in xs]}.") from None
    bounds = np.cumsum([0] + [x.shape[axis] for x in xs])

    def backward(g, needs):
        g = np.asarray(g, np.float32)
        index = [slice(None)] * ndim
        out = []
        for i, need in enumerate(needs):
            index[axis] = slice(bounds[i], bounds[i + 1])
            out.append(np.ascontiguousarray(g[tuple(index)]) if need else None)
        return tuple(out)

    record(y, tuple(xs), backward)
    return y


def l2_normalize(x, axis=-1, epsilon=1e-14):
    """x / sqrt(max(Σ x² over `axis`, epsilon)): with the default epsilon, Keras 3's
    `ops.normalize` (x / max(‖x‖, 1e-7)), without its infinite gradient at x = 0."""
    x = _x(x, "x")
    norm = sqrt(maximum(sum(square(x), axis=axis, keepdims=True), np.array(epsilon, np.float32)))
    return divide(x, norm)
