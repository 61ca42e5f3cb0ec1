"""Folding Batch Normalization into neighbouring Dense layers, for low-latency inference.

At inference a BatchNormalization layer is an affine map per feature, y = s·x + t with
s = γ / √(σ² + ε) and t = β − μ·s (moving statistics μ, σ²). The chapter advises removing it:

    Dense(activation=None) → BN   folds backwards:  W' = W·diag(s),  b' = b·s + t
    BN → Dense                   folds forwards:   W' = diag(s)·W,  b' = t·W + b

`fold_batchnorm` returns a new model with every BN folded where one of these applies (others
are kept); its predictions equal the original model's at inference.
"""

import numpy as np

from . import activations
from . import layers as layers_module
from .layers.core import Dense
from .layers.normalization import BatchNormalization


def _affine(bn):
    """(s, t) of a BN layer at inference, in float64."""
    mean = bn.moving_mean.numpy().astype(np.float64)
    var = bn.moving_variance.numpy().astype(np.float64)
    gamma = bn.gamma.numpy().astype(np.float64) if bn.gamma is not None else 1.0
    beta = bn.beta.numpy().astype(np.float64) if bn.beta is not None else 0.0
    s = gamma / np.sqrt(var + bn.epsilon)
    return s * np.ones_like(mean), beta - mean * s


def _is_linear_dense(layer):
    return isinstance(layer, Dense) and layer.activation is activations.linear


def fold_batchnorm(model):
    """A new Sequential model in which each BatchNormalization is folded into a Dense.

    A BN right after a Dense without activation folds into that Dense (the chapter's "BN before
    the activation" placement); otherwise a BN right before a Dense folds into the next one. A
    BN with neither neighbour stays as it is.

    Args:
        model: a built `fastdnn.models.Sequential`.

    Returns:
        A new Sequential for inference; the original is left untouched.

    Raises:
        TypeError: for a model that is not a Sequential.
        ValueError: if the model is not built.

    Example:
        >>> fast = fastdnn.fold_batchnorm(model)  # doctest: +SKIP
    """
    from .models import Sequential

    if type(model) is not Sequential:
        raise TypeError("fold_batchnorm folds the layers of a Sequential model; for a functional or "
                        f"subclassed model, fold its Sequential parts. Received: {model!r}")
    if not model.built:
        raise ValueError("fold_batchnorm needs a built model: call it on data or give it an input shape.")
    # Each entry: [source layer, weights (float64 for a Dense being folded), is a folded Dense]
    plan = []
    source = model.layers
    i = 0
    while i < len(source):
        layer = source[i]
        nxt = source[i + 1] if i + 1 < len(source) else None
        if isinstance(layer, BatchNormalization) and plan and plan[-1][2] is not None:
            s, t = _affine(layer)  # backwards into the linear Dense before it
            kernel, bias = plan[-1][1]
            plan[-1][1] = [kernel * s, bias * s + t]
            plan[-1][2] = None  # a Dense takes at most one BN from behind
        elif isinstance(layer, BatchNormalization) and isinstance(nxt, Dense):
            s, t = _affine(layer)  # forwards into the Dense after it
            kernel, bias = _dense_weights(nxt)
            plan.append([nxt, [kernel * s[:, None], t @ kernel + bias],
                         True if _is_linear_dense(nxt) else None])
            i += 1
        elif isinstance(layer, Dense):
            plan.append([layer, list(_dense_weights(layer)), True if _is_linear_dense(layer) else None])
        else:
            plan.append([layer, layer.get_weights(), None])
        i += 1
    folded = Sequential(name=model.name + "_folded")
    if model.input_shape is not None:
        folded.add(layers_module.Input(batch_shape=model.input_shape))
    made = []
    for layer, weights, _ in plan:
        if isinstance(layer, Dense):
            config = {**layer.get_config(), "use_bias": True}
            config.pop("name")
            clone = type(layer).from_config(config)
        else:
            clone = layers_module.deserialize(layers_module.serialize(layer))
        folded.add(clone)
        made.append((clone, weights))
    if not folded.built:
        folded.build(model.input_shape)
    for clone, weights in made:
        clone.set_weights([np.asarray(w, np.float32) for w in weights])
    return folded


def _dense_weights(dense):
    """(kernel, bias) of a Dense in float64; a zero bias when it has none."""
    kernel = dense.kernel.numpy().astype(np.float64)
    bias = dense.bias.numpy().astype(np.float64) if dense.bias is not None else np.zeros(kernel.shape[1])
    return kernel, bias
