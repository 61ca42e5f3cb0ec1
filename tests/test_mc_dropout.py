"""Monte Carlo Dropout, the chapter's two ways (`model(X, training=True)` stacked, and the
`MCDropout` subclass) and `fastdnn.mc_dropout_predict` (tiled batches, dropout on, everything
else in inference mode)."""

import os
from pathlib import Path

import numpy as np
import pytest

import fastdnn as keras
from fastdnn import layers

DATA = Path(os.environ.get("FASTDNN_DATA") or Path(__file__).resolve().parents[2] / "shared" / "datasets" / "fashion-mnist")


class MCDropout(keras.layers.Dropout):  # the chapter's code, verbatim
    def call(self, inputs):
        return super().call(inputs, training=True)


def chapter_dropout_model(dropout=keras.layers.Dropout):
    return keras.models.Sequential([
        keras.layers.Flatten(input_shape=[28, 28]),
        dropout(rate=0.2),
        keras.layers.Dense(300, activation="elu", kernel_initializer="he_normal"),
        dropout(rate=0.2),
        keras.layers.Dense(100, activation="elu", kernel_initializer="he_normal"),
        dropout(rate=0.2),
        keras.layers.Dense(10, activation="softmax")])


@pytest.fixture(scope="module")
def fashion():
    if not (DATA / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"Fashion-MNIST not at {DATA}")
    (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data(DATA)
    return x_train[:6000] / 255.0, y_train[:6000], x_test[:1000] / 255.0, y_test[:1000]


@pytest.fixture(scope="module")
def trained(fashion):
    x_train, y_train, _, _ = fashion
    keras.utils.set_random_seed(42)
    model = chapter_dropout_model()
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(learning_rate=0.01),
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=2, verbose=0)
    return model


def test_chapter_mc_dropout_with_training_true(fashion, trained):
    _, _, x_test, y_test = fashion
    y_probas = np.stack([trained(x_test, training=True) for sample in range(100)])
    y_proba = y_probas.mean(axis=0)
    y_std = y_probas.std(axis=0)
    assert y_probas.shape == (100, 1000, 10)
    assert not np.array_equal(y_probas[0], y_probas[1])
    assert (y_std.max(axis=1) > 0).all()
    np.testing.assert_allclose(y_proba.sum(axis=1), 1, atol=1e-5)
    deterministic = trained.predict(x_test, verbose=0)
    assert np.mean(y_proba.argmax(1) == deterministic.argmax(1)) > 0.9
    assert np.mean(y_proba.argmax(1) == y_test) > 0.7


def test_chapter_mc_dropout_subclass(fashion, trained):
    _, _, x_test, _ = fashion
    model = chapter_dropout_model(MCDropout)
    model.set_weights(trained.get_weights())
    a, b = model.predict(x_test[:50], verbose=0), model.predict(x_test[:50], verbose=0)
    assert not np.array_equal(a, b)  # dropout stays on at inference
    mean, std = keras.mc_dropout_predict(model, x_test[:50], samples=50)
    np.testing.assert_allclose(mean.sum(axis=1), 1, atol=1e-5)
    assert (std.max(axis=1) > 0).all()


def test_helper_agrees_with_the_chapter_loop(fashion, trained):
    _, _, x_test, _ = fashion
    x = x_test[:200]
    mean, std = keras.mc_dropout_predict(trained, x, samples=400)
    loop = np.stack([trained(x, training=True) for _ in range(400)]).astype(np.float64)
    # two independent 400-sample estimates of the same mean differ by ~σ·√(2/400)
    bound = 6 * np.sqrt(2 / 400) * np.maximum(std, loop.std(axis=0)) + 1e-6
    assert (np.abs(mean - loop.mean(axis=0)) <= bound).mean() > 0.999
    # per element a heavy-tailed estimate; over 2000 elements the average spread agrees closely
    assert abs(std.mean() / loop.std(axis=0).mean() - 1) < 0.05


def _linear_model():
    return keras.Sequential([keras.Input(shape=[6]), layers.Dropout(0.3), layers.Dense(4),
                             layers.GaussianDropout(0.2), layers.Dense(3)])


@pytest.mark.parametrize("batch_size", [None, 7, 100, 10**6])
def test_mean_matches_deterministic_output_of_a_linear_model(batch_size, rng):
    keras.utils.set_random_seed(1)
    model = _linear_model()
    x = rng.standard_normal((23, 6)).astype(np.float32)
    samples = 300
    mean, std = keras.mc_dropout_predict(model, x, samples=samples, batch_size=batch_size)
    exact = model(x)  # the expectation of each dropout is the identity, so E[y] = y_deterministic
    assert mean.shape == std.shape == (23, 3) and mean.dtype == np.float32
    assert (std > 0).all()
    assert np.all(np.abs(mean - exact) <= 6 * std / np.sqrt(samples) + 1e-5)


def test_batchnorm_stays_in_inference_mode(rng):
    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input(shape=[5]), layers.BatchNormalization(), layers.Dropout(0.25),
                              layers.Dense(2)])
    bn = model.layers[0]
    bn.moving_mean.assign(np.full(5, 3.0, np.float32))
    bn.moving_variance.assign(np.full(5, 4.0, np.float32))
    before = [w.copy() for w in model.get_weights()]
    x = rng.standard_normal((64, 5)).astype(np.float32)
    mean, std = keras.mc_dropout_predict(model, x, samples=400)
    for b, a in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)  # moving statistics unchanged
    inference = model(x)  # moving statistics: (x - 3) / 2, far from the batch statistics
    with_batch_stats = model(x, training=True)
    assert np.all(np.abs(mean - inference) <= 6 * std / np.sqrt(400) + 1e-5)
    assert np.abs(with_batch_stats - inference).mean() > 10 * np.abs(mean - inference).mean()


def test_equal_seeds_give_equal_results(rng):
    x = rng.standard_normal((10, 6)).astype(np.float32)
    runs = []
    for seed in (5, 5, 6):
        keras.utils.set_random_seed(seed)
        model = keras.Sequential([keras.Input(shape=[6]), layers.Dense(4, activation="selu"),
                                  layers.AlphaDropout(0.2), layers.Dense(3, activation="softmax")])
        fixed = np.random.default_rng(0)  # the same weights every run
        model.set_weights([fixed.standard_normal(w.shape).astype(np.float32) for w in model.get_weights()])
        runs.append(keras.mc_dropout_predict(model, x, samples=20))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert not np.array_equal(runs[0][1], runs[2][1])  # same weights, another global seed
    assert (runs[0][1].max(axis=1) > 0).all()  # AlphaDropout is on


def test_rows_of_one_pass_draw_different_masks():
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input(shape=[50]), layers.Dropout(0.5)])
    x = np.ones((1, 50), np.float32)
    mean, std = keras.mc_dropout_predict(model, x, samples=1000)  # one pass of 1000 copies
    assert np.all(np.abs(mean - 1) < 6 * 1 / np.sqrt(1000))
    assert np.all(np.abs(std - 1) < 0.1)  # each copy a fresh mask: std of {0, 2} w.p. 1/2 is 1


@pytest.mark.parametrize("kwargs,error", [({"samples": 0}, ValueError), ({"samples": 2.5}, ValueError),
                                          ({"batch_size": -1}, ValueError)])
def test_bad_arguments(kwargs, error):
    model = keras.Sequential([keras.Input(shape=[2]), layers.Dropout(0.5)])
    with pytest.raises(error, match=next(iter(kwargs))):
        keras.mc_dropout_predict(model, np.ones((3, 2)), **kwargs)


def test_bad_model_and_inputs():
    with pytest.raises(TypeError, match="model"):
        keras.mc_dropout_predict(object(), np.ones((3, 2)))
    model = keras.Sequential([keras.Input(shape=[2]), layers.Dropout(0.5)])
    with pytest.raises(ValueError, match="at least one sample"):
        keras.mc_dropout_predict(model, np.ones((0, 2)))
    with pytest.raises(TypeError, match="real numbers"):
        keras.mc_dropout_predict(model, np.array([["a", "b"]]))
