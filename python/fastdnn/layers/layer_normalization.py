"""LayerNormalization (Keras 3 semantics) and its differentiable op on native kernels.

* `layer_norm(x, gamma, beta, epsilon)`: every row of `x` (all axes but the last are rows)
  normalised over its last axis, gamma·(x − mean)/sqrt(var + eps) + beta, by the native kernels
  of csrc/layernorm/ (float64 statistics); on a GradientTape its backward gives dx, dgamma and
  dbeta (csrc/layernorm/ln_op.cpp has the formulas).
* `LayerNormalization` runs that op when it normalises over the last axis, and the same formula
  composed of `fastdnn.ops` (differentiated by the tape) over any other axes and for Keras's
  `rms_scaling`.
"""

import warnings

import numpy as np

from .. import _C, constraints, initializers, ops, regularizers
from .._dispatch import host_only
from ..autodiff import record, recording
from ..ops import _x
from ._checks import check_axis, require_host, resolve_axes
from .base import Layer, serialize_object


def _vec(v):
    if v is None:
        return None
    v = getattr(v, "value", v)  # a Variable: read through .value so the tape watches it
    if not (type(v) is np.ndarray and v.dtype == np.float32 and v.flags.c_contiguous):
        v = np.ascontiguousarray(v, dtype=np.float32)
    return v


def layer_norm(x, gamma=None, beta=None, epsilon=1e-3):
    """Normalises every row of `x` over its last axis: gamma·(x − mean)/sqrt(var + eps) + beta,
    with the row's mean and biased variance.

    Args:
        x: array of shape (..., features).
        gamma, beta: optional arrays or Variables of shape (features,) (None: 1 and 0).
        epsilon: added to the variance.

    Returns:
        y, float32 like x.

    Example:
        >>> import numpy as np
        >>> layer_norm(np.array([[1.0, 3.0]]), epsilon=0.0)
        array([[-1.,  1.]], dtype=float32)

    Raises:
        ValueError: for a gamma or beta of another size, or a negative or non-finite epsilon.
        NotImplementedError: for GPU arrays (the kernels run on the CPU).
    """
    x = _x(x, "x")
    gamma, beta = _vec(gamma), _vec(beta)
    host_only("layer_norm", x, gamma, beta)
    y, mean, inv_std = _C.layernorm_forward(x, gamma, beta, float(epsilon))
    if recording() is not None:
        inputs = [x] + [a for a in (gamma, beta) if a is not None]

        def backward(g, needs):
            g = np.ascontiguousarray(g, dtype=np.float32).reshape(x.shape)
            dx, dgamma, dbeta = _C.layernorm_backward(g, x, mean, inv_std, gamma)
            grads = [dx if needs[0] else None]
            if gamma is not None:
                grads.append(dgamma if needs[len(grads)] else None)
            if beta is not None:
                grads.append(dbeta if needs[len(grads)] else None)
            return tuple(grads)

        record(y, tuple(inputs), backward)
    return y


class LayerNormalization(Layer):
    """Normalises each sample over `axis`, as keras.layers.LayerNormalization (Keras 3):
    gamma·(x − mean)/sqrt(var + epsilon) + beta, with the mean and biased variance of that
    sample's values on `axis`; the same in training and inference.

    Args:
        axis: the axis (an int) or axes (a list or tuple of ints) to normalise over; default -1.
        epsilon: small float added to the variance.
        center: learn an offset `beta`.
        scale: learn a scale `gamma`.
        beta_initializer, gamma_initializer: initializers or their names.
        beta_regularizer, gamma_regularizer: penalties on the weights, added to the training loss.
        beta_constraint, gamma_constraint: projections applied after each optimizer step.
        rms_scaling: Keras's deprecated option, kept for its files: no beta, and
            y = gamma·x/sqrt(var + epsilon) (the variance, not the mean square, as Keras
            computes it; Keras warns about it, and so does fastdnn).

    Example:
        >>> import numpy as np, fastdnn
        >>> layer = fastdnn.layers.LayerNormalization(epsilon=0.0)
        >>> layer(np.array([[1.0, 3.0], [2.0, 2.5]]))
        array([[-1.,  1.],
               [-1.,  1.]], dtype=float32)

    Raises:
        TypeError: for an `axis` that is not an int or a list/tuple of ints.
        ValueError: for a negative or non-finite epsilon, an axis outside the inputs' rank or
            of unknown size.
        NotImplementedError: on a model placed on the GPU (the layer runs on the CPU only).
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None,
                 beta_constraint=None, gamma_constraint=None, rms_scaling=False, **kwargs):
        super().__init__(**kwargs)
        self.axis = check_axis(axis)
        try:
            epsilon = float(epsilon)
        except (TypeError, ValueError):
            epsilon = float("nan")
        if not (epsilon >= 0.0 and np.isfinite(epsilon)):
            raise ValueError(f"The `epsilon` argument must be a finite number >= 0. Received: epsilon={epsilon!r}")
        self.epsilon = epsilon
        self.center, self.scale, self.rms_scaling = bool(center), bool(scale), bool(rms_scaling)
        if self.rms_scaling:
            warnings.warn("You passed `rms_scaling=True`, which Keras deprecates: it scales the inputs by "
                          "their variance, not by their root mean square. fastdnn computes what Keras does.",
                          stacklevel=2)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.gamma = self.beta = None

    def build(self, input_shape):
        shape = tuple(input_shape)
        resolve_axes(self.axis, len(shape), self)
        # Keras keeps the axes sorted as given (negative ones too) and sizes the weights by them.
        self.axis = sorted(self.axis) if isinstance(self.axis, list) else [self.axis]
        sizes = tuple(shape[a] for a in self.axis)
        if None in sizes:
            raise ValueError(f"Layer '{self.name}' (LayerNormalization) needs the sizes of the normalised "
                             f"axes {self.axis} to be known. Received input shape {shape}.")
        if self.scale or self.rms_scaling:
            self.gamma = self.add_weight(sizes, self.gamma_initializer, name="gamma",
                                         regularizer=self.gamma_regularizer, constraint=self.gamma_constraint)
        if self.center and not self.rms_scaling:
            self.beta = self.add_weight(sizes, self.beta_initializer, name="beta",
                                        regularizer=self.beta_regularizer, constraint=self.beta_constraint)
        self._sizes = sizes
        self.built = True

    def call(self, inputs):
        gamma = self.gamma.value if self.gamma is not None else None
        beta = self.beta.value if self.beta is not None else None
        require_host(self, inputs, gamma, beta)
        ndim = inputs.ndim
        axes = resolve_axes(self.axis, ndim, self)
        if tuple(inputs.shape[a] for a in self.axis) != self._sizes:
            raise ValueError(f"Layer '{self.name}' (LayerNormalization) was built for sizes {self._sizes} on "
                             f"axes {self.axis}. Received inputs of shape {inputs.shape}.")
        if axes == [ndim - 1] and not self.rms_scaling:
            return layer_norm(inputs, gamma, beta, self.epsilon)
        return self._composed(inputs, axes, gamma, beta)

    def _composed(self, x, axes, gamma, beta):
        """The formula of `call` from fastdnn.ops, over any axes (Keras's for rms_scaling)."""
        axes = tuple(axes)
        broadcast = [1] * x.ndim
        for a in axes:
            broadcast[a] = x.shape[a]
        mean = ops.mean(x, axis=axes, keepdims=True)
        centred = ops.subtract(x, mean)
        variance = ops.mean(ops.square(centred), axis=axes, keepdims=True)
        inv_std = ops.divide(np.float32(1.0), ops.sqrt(ops.add(variance, np.float32(self.epsilon))))
        y = ops.multiply(x if self.rms_scaling else centred, inv_std)
        if gamma is not None:
            y = ops.multiply(y, ops.reshape(gamma, tuple(broadcast)))
        if beta is not None:
            y = ops.add(y, ops.reshape(beta, tuple(broadcast)))
        return y

    def compute_output_shape(self, input_shape):
        resolve_axes(self.axis, len(input_shape), self)
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "rms_scaling": self.rms_scaling,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "beta_regularizer": serialize_object(self.beta_regularizer),
            "gamma_regularizer": serialize_object(self.gamma_regularizer),
            "beta_constraint": serialize_object(self.beta_constraint),
            "gamma_constraint": serialize_object(self.gamma_constraint),
        })
        return config
