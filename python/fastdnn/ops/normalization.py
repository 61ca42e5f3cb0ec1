"""The batch-normalization ops on native kernels (the BatchNormalization layer:
fastdnn/layers/normalization.py).

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

from .._dispatch import kernels, on_device
from ..autodiff import record, recording
from ._inputs import _x


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
