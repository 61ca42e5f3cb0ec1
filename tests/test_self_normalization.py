"""Self-normalization (the chapter's SELU section): through 20 Dense(100) layers with SELU and
LeCun normal initialization, standardized inputs keep each layer's activations at mean ≈ 0 and
standard deviation ≈ 1, while with sigmoid the signal's spread collapses."""

import numpy as np

import fastdnn as keras


def _layer_outputs(activation, initializer, x):
    keras.utils.set_random_seed(42)
    model = keras.Sequential([keras.layers.Dense(100, activation=activation, kernel_initializer=initializer)
                              for _ in range(20)])
    model.build((None, x.shape[1]))
    outputs = []
    for layer in model.layers:  # inference mode, layer by layer
        x = layer(x, training=False)
        outputs.append(x.astype(np.float64))
    return outputs


def test_selu_keeps_mean_0_std_1():
    x = np.random.default_rng(0).standard_normal((1000, 100)).astype(np.float32)
    outputs = _layer_outputs("selu", "lecun_normal", x)
    for depth, out in enumerate(outputs, 1):
        assert abs(out.mean()) < 0.2, f"layer {depth}: mean {out.mean():.3f}"
        assert abs(out.std() - 1) < 0.2, f"layer {depth}: std {out.std():.3f}"


def test_sigmoid_signal_collapses():
    x = np.random.default_rng(0).standard_normal((1000, 100)).astype(np.float32)
    outputs = _layer_outputs("sigmoid", "lecun_normal", x)
    spread = [out.std(axis=0).mean() for out in outputs]  # how much each unit varies across inputs
    assert spread[0] > 0.1
    assert spread[-1] < 1e-4, f"per-unit std after 20 sigmoid layers: {spread[-1]:.3g}"
    # each sigmoid layer (slope <= 1/4) shrinks the spread; past ~10 layers it sits at float32's floor
    assert all(b < a / 2 for a, b in zip(spread[:10], spread[1:10]))
