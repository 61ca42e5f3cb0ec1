"""The differentiable ops gather in one package, fastdnn/ops/ (nn, math, normalization, noise);
`fastdnn.ops` keeps its public names, `fastdnn.noise` and `fastdnn.layers.normalization` keep
theirs as re-exports of the same functions."""

import fastdnn
from fastdnn.layers import normalization as bn_layer
from fastdnn.ops import math as ops_math
from fastdnn.ops import nn, noise, normalization

# fastdnn.ops's public names before the package (fastdnn/ops.py)
OPS = {"abs", "add", "clip", "concatenate", "dense", "divide", "elu", "exp", "flatten", "gelu", "l2_normalize",
       "leaky_relu", "log", "matmul", "maximum", "mean", "minimum", "multiply", "negative", "relu", "reshape", "selu",
       "sigmoid", "softmax", "softmax_cross_entropy", "softmax_logits", "sparse_crossentropy_from_probabilities",
       "sparse_softmax_cross_entropy", "sparse_softmax_cross_entropy_mean", "sqrt", "square", "subtract", "sum",
       "tanh", "where"}
NOISE = {"SELU_ALPHA", "SELU_SCALE", "NoiseStream", "alpha_dropout", "alpha_dropout_coefficients", "check_rate",
         "dropout", "gaussian_dropout", "gaussian_noise", "resolve_noise_shape"}


def test_fastdnn_ops_keeps_every_public_name():
    assert OPS <= set(fastdnn.ops.__all__)
    for name in OPS:
        fn = getattr(fastdnn.ops, name)
        assert fn is getattr(nn, name, None) or fn is getattr(ops_math, name, None), name


def test_noise_and_batchnorm_ops_live_in_the_package():
    for name in NOISE:
        assert getattr(fastdnn.noise, name) is getattr(noise, name), name
    for name in ("batch_norm_train", "batch_norm_inference", "synchronized_batch_norm_train"):
        assert getattr(bn_layer, name) is getattr(normalization, name), name
    assert fastdnn.ops._x is fastdnn.ops.nn._x  # the one input conversion
