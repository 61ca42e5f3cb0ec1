"""Functional models built by the same code in fastdnn and in Keras 3 (their APIs are the same),
with a float64 NumPy transcription of each, for test_functional.py and its Keras reference.

    siamese(k):   two inputs through one shared Dense (its weights used twice), joined by
                  Subtract, Multiply, Concatenate and a cosine Dot, then two outputs: a sigmoid
                  "same" head and a linear "aux" head.
    merges(k):    one input, three branches merged by Add, Average, Maximum and Minimum, a
                  Reshape round trip and an Identity.
"""

import numpy as np


def siamese(k, features=5, hidden=4):
    left = k.Input(shape=(features,), name="left")
    right = k.Input(shape=(features,), name="right")
    shared = k.layers.Dense(hidden, activation="tanh", name="shared")
    a, b = shared(left), shared(right)
    diff = k.layers.Subtract(name="diff")([a, b])
    prod = k.layers.Multiply(name="prod")([a, b])
    cos = k.layers.Dot(axes=1, normalize=True, name="cos")([a, b])
    joined = k.layers.Concatenate(name="joined")([diff, prod, cos])
    same = k.layers.Dense(1, activation="sigmoid", name="same")(joined)
    aux = k.layers.Dense(2, name="aux")(a)
    return k.Model(inputs=[left, right], outputs=[same, aux], name="siamese")


def siamese64(weights, left, right):
    """The siamese model in float64: weights in model.get_weights() order."""
    ks, bs, kj, bj, ka, ba = [np.asarray(w, np.float64) for w in weights]
    a = np.tanh(np.asarray(left, np.float64) @ ks + bs)
    b = np.tanh(np.asarray(right, np.float64) @ ks + bs)
    na = a / np.sqrt(np.maximum((a * a).sum(1, keepdims=True), 1e-14))
    nb = b / np.sqrt(np.maximum((b * b).sum(1, keepdims=True), 1e-14))
    cos = (na * nb).sum(1, keepdims=True)
    joined = np.concatenate([a - b, a * b, cos], axis=1)
    same = 1 / (1 + np.exp(-(joined @ kj + bj)))
    aux = a @ ka + ba
    return same, aux


def merges(k, features=6):
    x = k.Input(shape=(features,), name="x")
    p = k.layers.Dense(features, activation="relu", name="p")(x)
    q = k.layers.Dense(features, activation="elu", name="q")(x)
    r = k.layers.Dense(features, name="r")(x)
    added = k.layers.Add(name="added")([p, q, r])
    mean = k.layers.Average(name="mean")([p, q])
    high = k.layers.Maximum(name="high")([added, mean])
    low = k.layers.Minimum(name="low")([added, r])
    grid = k.layers.Reshape((2, features // 2), name="grid")(k.layers.Add(name="sum")([high, low]))
    flat = k.layers.Reshape((features,), name="flat")(k.layers.Identity(name="same_grid")(grid))
    out = k.layers.Dense(3, activation="softmax", name="out")(flat)
    return k.Model(x, out, name="merges")


def merges64(weights, x):
    kp, bp, kq, bq, kr, br, ko, bo = [np.asarray(w, np.float64) for w in weights]
    x = np.asarray(x, np.float64)
    p = np.maximum(x @ kp + bp, 0)
    zq = x @ kq + bq
    q = np.where(zq > 0, zq, np.expm1(np.minimum(zq, 0)))
    r = x @ kr + br
    added = p + q + r
    high = np.maximum(added, (p + q) / 2)
    low = np.minimum(added, r)
    z = (high + low) @ ko + bo
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def pair_data(n=48, features=5, seed=0):
    """Inputs (left, right) and targets (same: 0/1, aux: 2 values) for the siamese model."""
    r = np.random.default_rng(seed)
    left = r.normal(size=(n, features)).astype(np.float32)
    right = r.normal(size=(n, features)).astype(np.float32)
    same = (r.random((n, 1)) < 0.5).astype(np.float32)
    aux = r.normal(size=(n, 2)).astype(np.float32)
    return left, right, same, aux
