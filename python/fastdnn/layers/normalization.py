"""BatchNormalization (Keras 3 semantics) and its differentiable ops on native kernels.

The ops normalise over the last axis; every leading axis is a batch axis:

* `batch_norm_train(x, gamma, beta, epsilon)`: batch statistics (float64 accumulation in the
  native kernel), returns (y, mean, variance); on a GradientTape its backward gives dx, dgamma and
  dbeta in two passes.
* `batch_norm_inference(x, mean, variance, gamma, beta, epsilon)`: fixed statistics, an affine
  map; differentiable wrt x, gamma and beta.
* `synchronized_batch_norm_train(x, gamma, beta, epsilon, comm)`: the statistics of the global
  batch, every rank's rows, under data parallelism (fastdnn.distribution): two all-reduces
  forward (the sum, then the squared deviations from the global mean, in float64), one backward
  (the sums of g and g·x̂), so that dx is the gradient of the global batch's loss.
"""

import numpy as np

from .. import constraints, initializers, regularizers
from .._dispatch import kernels, on_device
from ..autodiff import record, recording
from ..distribution.data_parallel import active_communicator
from ..ops import _x
from .base import Layer, serialize_object


def _vec(v, name):
    if v is None:
        return None
    v = getattr(v, "value", v)  # a Variable: read through .value so the tape watches it
    if not (isinstance(v, np.ndarray) and v.dtype == np.float32 and v.flags.c_contiguous) and not on_device(v):
        v = np.ascontiguousarray(v, dtype=np.float32)
    return v


def _grad(g):
    return kernels(g).contiguous(g)


def _record(y, x, gamma, beta, mean, inv_std, training):
    inputs = [x] + [a for a in (gamma, beta) if a is not None]

    def backward(g, needs):
        dx, dgamma, dbeta = kernels(x).batchnorm_backward(_grad(g).reshape(x.shape), x, mean, inv_std, gamma,
                                                  training)
        grads = [dx if needs[0] else None]
        k = 1
        if gamma is not None:
            grads.append(dgamma if needs[k] else None)
            k += 1
        if beta is not None:
            grads.append(dbeta if needs[k] else None)
        return tuple(grads)

    record(y, tuple(inputs), backward)


def batch_norm_train(x, gamma=None, beta=None, epsilon=1e-3):
    """Normalises `x` over its batch (every axis but the last): gamma·(x − mean)/sqrt(var + eps) + beta.

    Args:
        x: array of shape (..., features).
        gamma, beta: optional arrays or Variables of shape (features,) (None: 1 and 0).
        epsilon: added to the variance.

    Returns:
        (y, mean, variance): y float32 like x; mean and the biased variance float32 (features,).
    """
    x = _x(x, "x")
    gamma, beta = _vec(gamma, "gamma"), _vec(beta, "beta")
    y, mean, var, inv_std = kernels(x, gamma, beta).batchnorm_forward_train(x, gamma, beta, float(epsilon))
    if recording() is not None:
        _record(y, x, gamma, beta, mean, inv_std, True)
    return y, mean, var


def batch_norm_inference(x, mean, variance, gamma=None, beta=None, epsilon=1e-3):
    """gamma·(x − mean)/sqrt(variance + eps) + beta with fixed statistics (differentiable wrt x,
    gamma and beta; the statistics are constants)."""
    x = _x(x, "x")
    mean, variance = getattr(mean, "_value", mean), getattr(variance, "_value", variance)
    if not on_device(mean):
        mean = np.ascontiguousarray(mean, dtype=np.float32)
        variance = np.ascontiguousarray(variance, dtype=np.float32)
    gamma, beta = _vec(gamma, "gamma"), _vec(beta, "beta")
    k = kernels(x, mean, variance, gamma, beta)
    y = k.batchnorm_forward_infer(x, mean, variance, gamma, beta, float(epsilon))
    if recording() is not None:
        inv_std = k.inv_std(variance, epsilon)
        _record(y, x, gamma, beta, mean, inv_std, False)
    return y


def synchronized_batch_norm_train(x, gamma, beta, epsilon, comm):
    """`batch_norm_train` over the global batch: every rank's rows of `x` (see the module's
    docstring). Returns (y, mean, variance) of the global batch."""
    x = _x(x, "x")
    gamma, beta = _vec(gamma, "gamma"), _vec(beta, "beta")
    features = x.shape[-1]
    rows = x.reshape(-1, features)
    stats = np.empty(features + 1)
    stats[:features] = rows.sum(axis=0, dtype=np.float64)
    stats[features] = rows.shape[0]
    comm.allreduce_sum(stats, "synchronized BatchNormalization's mean")
    count = stats[features]
    mean64 = stats[:features] / count
    centred = rows - mean64
    var64 = comm.allreduce_sum(np.einsum("ij,ij->j", centred, centred), "synchronized BatchNormalization's "
                               "variance") / count
    mean, var = mean64.astype(np.float32), var64.astype(np.float32)
    k = kernels(x)
    y = k.batchnorm_forward_infer(x, mean, var, gamma, beta, float(epsilon))
    if recording() is not None:
        inv_std = 1.0 / np.sqrt(var64 + epsilon)
        inputs = [x] + [a for a in (gamma, beta) if a is not None]

        def backward(g, needs):
            g = np.asarray(_grad(g), np.float64).reshape(-1, features)
            xhat = centred * inv_std
            sums = np.concatenate([g.sum(axis=0), np.einsum("ij,ij->j", g, xhat)])
            local = sums.copy()  # this rank's share of dbeta and dgamma (averaged over the ranks later)
            comm.allreduce_sum(sums, "synchronized BatchNormalization's gradient")
            scale = inv_std if gamma is None else inv_std * gamma
            dx = scale * (g - sums[:features] / count - xhat * (sums[features:] / count))
            grads = [dx.astype(np.float32).reshape(x.shape) if needs[0] else None]
            if gamma is not None:
                grads.append(local[features:].astype(np.float32) if needs[1] else None)
            if beta is not None:
                grads.append(local[:features].astype(np.float32) if needs[-1] else None)
            return tuple(grads)

        record(y, tuple(inputs), backward)
    return y, mean, var


class BatchNormalization(Layer):
    """Normalises its inputs over the batch, as keras.layers.BatchNormalization (Keras 3).

    In training (`training=True` on a trainable layer) the output uses the batch mean and
    (biased) variance and the moving statistics are updated:
    moving = moving·momentum + batch·(1 − momentum). Otherwise (inference, or a frozen layer with
    `trainable = False`, which Keras 3 runs in inference mode) the moving statistics are used.

    Args:
        axis: the feature axis; only the last axis (-1) is supported.
        momentum: momentum of the moving averages.
        epsilon: small float added to the variance.
        center: learn an offset `beta`.
        scale: learn a scale `gamma`.
        beta_initializer, gamma_initializer, moving_mean_initializer, moving_variance_initializer:
            initializers or their names.
        beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint: stored on the
            weights and in the config.
        synchronized: under a DataParallel distribution, normalise with the statistics of the
            global batch (all-reduced over the ranks) rather than of each rank's share, as
            Keras's and PyTorch's SyncBatchNorm; one process trains alike either way.

    Example:
        >>> import fastdnn, numpy as np
        >>> bn = fastdnn.layers.BatchNormalization()
        >>> bn(np.ones((4, 3)), training=True).shape
        (4, 3)
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", moving_mean_initializer="zeros",
                 moving_variance_initializer="ones", beta_regularizer=None, gamma_regularizer=None,
                 beta_constraint=None, gamma_constraint=None, synchronized=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)) and len(axis) == 1:
            axis = axis[0]
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or axis < -1:
            raise ValueError("fastdnn's BatchNormalization only supports normalising over the last axis "
                             f"(axis=-1). Received: axis={axis!r}")
        self.axis = int(axis)
        momentum, epsilon = float(momentum), float(epsilon)
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"`momentum` must be in [0, 1]. Received: momentum={momentum}")
        if not (epsilon >= 0.0 and np.isfinite(epsilon)):
            raise ValueError(f"`epsilon` must be a finite number >= 0. Received: epsilon={epsilon}")
        self.momentum, self.epsilon = momentum, epsilon
        self.center, self.scale = bool(center), bool(scale)
        self.synchronized = bool(synchronized)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None

    def build(self, input_shape):
        ndim = len(input_shape)
        if ndim < 1:
            raise ValueError("BatchNormalization needs inputs with at least one axis.")
        if self.axis not in (-1, ndim - 1):
            raise ValueError("fastdnn's BatchNormalization only supports normalising over the last axis "
                             f"(axis=-1 or axis={ndim - 1} for inputs of rank {ndim}). "
                             f"Received: axis={self.axis}")
        features = input_shape[-1]
        if features is None:
            raise ValueError("BatchNormalization needs the size of the last axis to be known.")
        shape = (int(features),)
        if self.scale:
            self.gamma = self.add_weight(shape, self.gamma_initializer, name="gamma",
                                         regularizer=self.gamma_regularizer, constraint=self.gamma_constraint)
        if self.center:
            self.beta = self.add_weight(shape, self.beta_initializer, name="beta",
                                        regularizer=self.beta_regularizer, constraint=self.beta_constraint)
        self.moving_mean = self.add_weight(shape, self.moving_mean_initializer, name="moving_mean",
                                           trainable=False)
        self.moving_variance = self.add_weight(shape, self.moving_variance_initializer,
                                               name="moving_variance", trainable=False)
        self.built = True

    def call(self, inputs, training=None):
        if inputs.shape[-1] != self.moving_mean.shape[0]:
            raise ValueError(f"Layer '{self.name}' expects inputs with {self.moving_mean.shape[0]} features "
                             f"on the last axis. Received shape {inputs.shape}.")
        gamma = self.gamma.value if self.gamma is not None else None
        beta = self.beta.value if self.beta is not None else None
        if training and self.trainable:
            comm = active_communicator() if self.synchronized else None
            if comm is not None:
                y, mean, var = synchronized_batch_norm_train(inputs, gamma, beta, self.epsilon, comm)
            else:
                y, mean, var = batch_norm_train(inputs, gamma, beta, self.epsilon)
            if inputs.size:  # an empty batch has no statistics
                k = kernels(mean)  # moving = moving·momentum + batch·(1 − momentum)
                k.moving_average(self.moving_mean._value, mean, self.momentum)
                k.moving_average(self.moving_variance._value, var, self.momentum)
            return y
        return batch_norm_inference(inputs, self.moving_mean._value, self.moving_variance._value,
                                    gamma, beta, self.epsilon)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
            "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
            "beta_regularizer": serialize_object(self.beta_regularizer),
            "gamma_regularizer": serialize_object(self.gamma_regularizer),
            "beta_constraint": serialize_object(self.beta_constraint),
            "gamma_constraint": serialize_object(self.gamma_constraint),
            "synchronized": self.synchronized,
        })
        return config
