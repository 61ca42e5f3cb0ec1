"""Presets after Tables 11-3 and 11-4: structure, compilation, a few training steps on a
Fashion-MNIST slice, and the standardization check."""

import math
import os
import warnings
from pathlib import Path

import numpy as np
import pytest

import fastdnn as keras
from fastdnn import presets

DATA = Path(os.environ.get("FASTDNN_DATA") or Path(__file__).resolve().parents[2] / "shared" / "datasets" / "fashion-mnist")


@pytest.fixture(scope="module")
def fashion_slice():
    if not (DATA / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"Fashion-MNIST not at {DATA}")
    (x, y), _ = keras.datasets.fashion_mnist.load_data(DATA)
    return x[:2000], y[:2000]


def _types(model):
    return [type(layer).__name__ for layer in model.layers]


def test_default_dnn_shallow_structure():
    model, cbs = presets.default_dnn([28, 28], n_classes=10, n_hidden=2, n_units=50, l2=1e-4,
                                     n_train=1000, epochs=3, batch_size=50)
    assert _types(model) == ["Flatten", "Dense", "Dense", "Dense"]
    hidden = model.layers[1]
    assert hidden.activation.__name__ == "elu" and type(hidden.kernel_initializer).__name__ == "HeNormal"
    assert hidden.kernel_regularizer.get_config() == {"l2": 1e-4}
    assert isinstance(model.optimizer, keras.optimizers.SGD) and model.optimizer.momentum == 0.9
    early, onecycle = cbs
    assert isinstance(early, keras.callbacks.EarlyStopping) and early.restore_best_weights
    assert isinstance(onecycle, keras.callbacks.OneCycleScheduler)
    assert onecycle.iterations == math.ceil(1000 / 50) * 3
    assert onecycle.rate_at(onecycle.iterations // 2 - 1) == pytest.approx(1e-2, rel=0.2)


def test_default_dnn_deep_uses_batch_norm_and_nadam():
    n = presets.DEEP_NET_HIDDEN_LAYERS + 1
    model, cbs = presets.default_dnn([8], n_classes=3, n_hidden=n, optimizer="nadam", one_cycle=False)
    types = _types(model)
    assert types.count("BatchNormalization") == n + 1 and types.count("Activation") == n
    assert not model.layers[2].use_bias  # BN's shift replaces the bias
    assert isinstance(model.optimizer, keras.optimizers.Nadam) and len(cbs) == 1
    shallow, _ = presets.default_dnn([8], n_hidden=presets.DEEP_NET_HIDDEN_LAYERS)
    assert "BatchNormalization" not in _types(shallow)


def test_default_dnn_regression_head():
    model, _ = presets.default_dnn([5], n_classes=None, n_hidden=1)
    assert model.layers[-1].units == 1 and model.compiled_metrics == []


@pytest.mark.parametrize("kwargs", [{"n_hidden": -1}, {"n_units": 0}, {"n_classes": 1}, {"optimizer": "adamw2"},
                                    {"l2": -1.0}, {"n_train": 0}])
def test_default_dnn_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        presets.default_dnn([4], **kwargs)


def test_presets_train_on_fashion_mnist(fashion_slice):
    x, y = fashion_slice
    x = x / 255.0
    keras.utils.set_random_seed(0)
    model, cbs = presets.default_dnn([28, 28], n_hidden=2, n_units=64, l2=1e-4, x=x[:1500], epochs=2, batch_size=64)
    history = model.fit(x[:1500], y[:1500], epochs=2, batch_size=64, validation_data=(x[1500:], y[1500:]),
                        callbacks=cbs, verbose=0)
    assert history.history["val_accuracy"][-1] > 0.6
    assert history.history["loss"][-1] < history.history["loss"][0]

    mean, std = x[:1500].mean(0), x[:1500].std(0) + 1e-7
    xs = (x - mean) / std
    model, cbs = presets.self_normalizing_dnn([28, 28], n_hidden=6, n_units=64, x=xs[:1500], epochs=2,
                                              batch_size=64, optimizer="nadam")
    history = model.fit(xs[:1500], y[:1500], epochs=2, batch_size=64, validation_data=(xs[1500:], y[1500:]),
                        callbacks=cbs, verbose=0)
    assert history.history["val_accuracy"][-1] > 0.6


def test_self_normalizing_structure():
    model, cbs = presets.self_normalizing_dnn([8], n_classes=4, n_hidden=5, n_train=100, epochs=1)
    hidden = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)][:-1]
    assert len(hidden) == 5 and "BatchNormalization" not in _types(model)
    for layer in hidden:
        assert layer.activation.__name__ == "selu"
        assert type(layer.kernel_initializer).__name__ == "LecunNormal"
    assert len(cbs) == 2


def test_self_normalizing_alpha_dropout():
    if getattr(keras.layers, "AlphaDropout", None) is None:
        with pytest.raises(ValueError, match="AlphaDropout"):
            presets.self_normalizing_dnn([8], alpha_dropout=0.1)
        pytest.skip("fastdnn.layers.AlphaDropout is not available")
    model, _ = presets.self_normalizing_dnn([8], n_hidden=3, alpha_dropout=0.1)
    assert _types(model).count("AlphaDropout") == 3


def test_standardization_warning_for_raw_pixels(fashion_slice):
    x, _ = fashion_slice
    with pytest.warns(UserWarning, match=r"\(x - mean\) / std"):
        assert not presets.check_standardized(x)
    with pytest.warns(UserWarning, match="standardized"):
        presets.self_normalizing_dnn([28, 28], n_hidden=2, x=x)
    with pytest.warns(UserWarning):  # scaled to [0, 1] is not standardized either
        presets.check_standardized(x / 255.0)
    xf = x.reshape(len(x), -1).astype(np.float64)
    std = xf.std(0)
    xs = (xf - xf.mean(0)) / np.where(std > 0, std, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert presets.check_standardized(xs)
        presets.self_normalizing_dnn([784], n_hidden=2, x=xs)


def test_check_standardized_rejects_bad_input():
    with pytest.raises(ValueError):
        presets.check_standardized(np.ones((1, 3)))
    with pytest.raises(ValueError):
        presets.check_standardized(np.array([["a"], ["b"]]))
