"""BatchNormalization (Keras 3 semantics), on the ops of fastdnn/ops/normalization.py."""

import numpy as np

from .. import constraints, initializers, regularizers
from .._dispatch import kernels
from ..distribution.data_parallel import active_communicator
from ..ops.normalization import (
    batch_norm_inference,
    batch_norm_train,
    synchronized_batch_norm_train,
)
from .base import Layer, serialize_object

__all__ = ["BatchNormalization", "batch_norm_inference", "batch_norm_train", "synchronized_batch_norm_train"]


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
