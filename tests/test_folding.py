"""fold_batchnorm: both of the chapter's BN placements fold into the Dense layers, and the folded
model predicts what the original does (within 1e-5 relative)."""

import numpy as np
import pytest

import fastdnn as keras
from chapter_models import bn_after_activation, bn_before_activation


def trained(model, seed=0):
    r = np.random.default_rng(seed)
    x = r.random((300, 28, 28)).astype(np.float32)
    y = (x.mean(axis=(1, 2)) * 30).astype(np.int64) % 10
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    model.fit(x, y, epochs=2, verbose=0)
    return x


def after_activation():
    keras.utils.set_random_seed(1)
    return bn_after_activation()


def before_activation():
    keras.utils.set_random_seed(2)
    return bn_before_activation()


@pytest.mark.parametrize("make", [after_activation, before_activation], ids=["after", "before"])
def test_folded_model_predicts_the_same(make):
    model = make()
    x = trained(model)
    before = [w.copy() for w in model.get_weights()]
    folded = keras.fold_batchnorm(model)
    assert not any(isinstance(l, keras.layers.BatchNormalization) for l in folded.layers)
    ref = model.predict(x, verbose=0).astype(np.float64)
    np.testing.assert_allclose(folded.predict(x, verbose=0), ref, rtol=1e-5, atol=1e-7)
    for a, b in zip(before, model.get_weights()):  # the original is untouched
        np.testing.assert_array_equal(a, b)
    assert folded.count_params() < model.count_params()


def test_a_batchnorm_without_dense_neighbours_stays():
    keras.utils.set_random_seed(3)
    model = keras.models.Sequential([keras.Input(shape=[4]), keras.layers.Dense(4, activation="relu"),
                                     keras.layers.BatchNormalization(), keras.layers.Activation("tanh")])
    model.build()
    folded = keras.fold_batchnorm(model)
    assert [type(l).__name__ for l in folded.layers] == ["Dense", "BatchNormalization", "Activation"]
    x = np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32)
    np.testing.assert_allclose(folded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_unbuilt_model_is_refused():
    with pytest.raises(ValueError, match="built"):
        keras.fold_batchnorm(keras.models.Sequential([keras.layers.Dense(3)]))
