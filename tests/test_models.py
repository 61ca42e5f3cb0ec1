"""Sequential: building, summary, compile/fit/evaluate/predict, callbacks, weights and config,
custom layers trained through the tape, and a whole-model gradient check in float64."""

import numpy as np
import pytest

import fastdnn as keras
from fastdnn import ops


def chapter_model(seed=1):
    keras.utils.set_random_seed(seed)
    return keras.models.Sequential([
        keras.layers.Flatten(input_shape=[28, 28]),
        keras.layers.Dense(300, activation="elu", kernel_initializer="he_normal"),
        keras.layers.Dense(100, activation="elu", kernel_initializer="he_normal"),
        keras.layers.Dense(10, activation="softmax"),
    ])


def blobs(n=600, d=8, classes=3, seed=0):
    """Linearly separable clusters: a problem every working trainer solves."""
    r = np.random.default_rng(seed)
    centers = r.normal(0, 4, (classes, d))
    y = r.integers(0, classes, n)
    return (centers[y] + r.normal(0, 1, (n, d))).astype(np.float32), y


def small_model(seed=0, classes=3, d=8):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input(shape=[d]), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(classes, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    return model


def test_chapter_model_builds_from_input_shape_and_summarises(capsys):
    model = chapter_model()
    assert model.built and model.count_params() == 266_610
    assert [layer.name for layer in model.layers][1:] == [
        model.layers[1].name, model.layers[2].name, model.layers[3].name]
    model.summary()
    out = capsys.readouterr().out
    for text in ("(None, 784)", "(None, 300)", "(None, 100)", "(None, 10)", "235,500", "30,100",
                 "1,010", "Total params: 266,610", "Non-trainable params: 0"):
        assert text in out


def test_add_pop_and_layers():
    model = keras.Sequential()
    model.add(keras.layers.Dense(4, input_shape=[3]))
    model.add(keras.layers.Dense(2))
    assert model.count_params() == 3 * 4 + 4 + 4 * 2 + 2
    popped = model.pop()
    assert isinstance(popped, keras.layers.Dense) and len(model.layers) == 1
    with pytest.raises(TypeError):
        model.add("not a layer")


def test_fit_learns_and_history_records(capsys):
    x, y = blobs()
    model = small_model()
    history = model.fit(x, y, epochs=5, verbose=0)
    assert history.epoch == [0, 1, 2, 3, 4]
    assert set(history.history) == {"loss", "accuracy", "learning_rate"}
    assert history.history["learning_rate"] == [0.01] * 5
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    loss, acc = model.evaluate(x, y, verbose=0)
    assert acc > 0.95 and loss < history.history["loss"][0]
    assert capsys.readouterr().out == ""


def test_fit_verbose_modes_print_progress(capsys):
    x, y = blobs(200)
    model = small_model()
    model.fit(x, y, epochs=2, verbose=2)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "loss:" in out and "accuracy:" in out
    model.fit(x, y, epochs=1, verbose=1, batch_size=50)
    assert "4/4" in capsys.readouterr().out


def test_validation_split_and_data():
    x, y = blobs(400)
    model = small_model()
    h = model.fit(x, y, epochs=2, validation_split=0.25, verbose=0)
    assert {"val_loss", "val_accuracy"} <= set(h.history)
    # validation_split holds out the last samples, as Keras does: evaluating them directly agrees.
    val = model.evaluate(x[300:], y[300:], verbose=0)
    np.testing.assert_allclose(h.history["val_loss"][-1], val[0], rtol=1e-5)
    h2 = model.fit(x, y, epochs=1, validation_data=(x[:50], y[:50]), verbose=0)
    assert "val_accuracy" in h2.history


def test_initial_epoch_and_callbacks_and_stop_training():
    x, y = blobs(200)
    model = small_model()
    seen = []

    class Stopper(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append((epoch, sorted(logs)))
            if epoch == 3:
                self.model.stop_training = True

    history = model.fit(x, y, epochs=10, initial_epoch=2, callbacks=[Stopper()], verbose=0)
    assert [e for e, _ in seen] == [2, 3] and history.epoch == [2, 3]
    assert seen[0][1] == ["accuracy", "loss"]


def test_predict_call_and_mc_dropout_stack():
    x, y = blobs(100)
    model = small_model()
    model.fit(x, y, epochs=1, verbose=0)
    probs = model.predict(x, verbose=0)
    assert probs.shape == (100, 3) and np.allclose(probs.sum(1), 1, atol=1e-5)
    np.testing.assert_allclose(model(x), probs, rtol=1e-6)
    assert isinstance(model(x, training=True), np.ndarray)

    class MCDropout(keras.layers.Dropout):
        def call(self, inputs, training=None):
            return super().call(inputs, training=True)

    keras.utils.set_random_seed(3)
    mc = keras.Sequential([keras.Input(shape=[8]), keras.layers.Dense(32, activation="elu"),
                           MCDropout(0.5), keras.layers.Dense(3, activation="softmax")])
    mc.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    h = mc.fit(x, y, epochs=8, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]
    samples = np.stack([mc.predict(x, verbose=0) for _ in range(5)])  # the chapter's MC Dropout
    assert samples.shape == (5, 100, 3) and samples.std(axis=0).mean() > 1e-3


def test_layer_written_from_ops_trains_without_a_backward():
    class Scaled(keras.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight((input_shape[-1], self.units), "glorot_uniform", name="w")
            self.scale = self.add_weight((self.units,), "ones", name="scale")

        def call(self, inputs):
            return ops.multiply(ops.tanh(ops.matmul(inputs, self.w.value)), self.scale.value)

    x, y = blobs(300)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=[8]), Scaled(16), keras.layers.Dense(3, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(0.05),
                  metrics=["accuracy"])
    before = model.layers[0].get_weights()
    h = model.fit(x, y, epochs=6, verbose=0)
    after = model.layers[0].get_weights()
    assert not np.allclose(before[0], after[0]) and not np.allclose(before[1], after[1])
    assert h.history["accuracy"][-1] > 0.9


def test_model_gradient_matches_float64_finite_differences():
    """The tape's gradient of the chapter-shaped model's loss against central differences of a
    float64 NumPy transcription of the same model, on a few weight entries of every layer."""
    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.Input(shape=[6]),
                              keras.layers.Dense(5, activation="elu", kernel_initializer="he_normal"),
                              keras.layers.Dense(4, activation="elu", kernel_initializer="he_normal"),
                              keras.layers.Dense(3, activation="softmax")])
    model.layers[0].bias.assign(np.linspace(-0.5, 0.5, 5))
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    r = np.random.default_rng(0)
    x = r.normal(size=(7, 6)).astype(np.float32)
    y = r.integers(0, 3, 7)
    with keras.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    grads = tape.gradient(loss, model.trainable_weights)

    def loss64(weights):
        h = x.astype(np.float64)
        for i, (k, b) in enumerate(zip(weights[::2], weights[1::2])):
            z = h @ k + b
            h = np.where(z > 0, z, np.expm1(np.minimum(z, 0))) if i < 2 else z
        z = h - h.max(1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(1, keepdims=True))
        return -logp[np.arange(len(y)), y].mean()

    weights = [w.numpy().astype(np.float64) for w in model.trainable_weights]
    np.testing.assert_allclose(float(loss), loss64(weights), rtol=1e-5)
    for wi, g in enumerate(grads):
        for idx in list(np.ndindex(weights[wi].shape))[:6]:
            plus = [w.copy() for w in weights]
            minus = [w.copy() for w in weights]
            plus[wi][idx] += 1e-6
            minus[wi][idx] -= 1e-6
            numeric = (loss64(plus) - loss64(minus)) / 2e-6
            assert abs(g[idx] - numeric) <= 1e-5 + 1e-3 * abs(numeric), (wi, idx, g[idx], numeric)


def test_weights_and_config_round_trip():
    model = chapter_model()
    x = np.random.default_rng(0).random((4, 28, 28)).astype(np.float32)
    clone = keras.models.Sequential.from_config(model.get_config())
    assert clone.count_params() == model.count_params()
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(clone.predict(x, verbose=0), model.predict(x, verbose=0))
    with pytest.raises(ValueError, match="expects"):
        clone.set_weights(model.get_weights()[:-1])


def test_bad_inputs_raise_clear_errors():
    x, y = blobs(50)
    model = keras.Sequential([keras.Input(shape=[8]), keras.layers.Dense(3, activation="softmax")])
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(x, y, verbose=0)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    with pytest.raises(ValueError, match="empty"):
        model.fit(x[:0], y[:0], verbose=0)
    with pytest.raises(ValueError, match="same number of samples"):
        model.fit(x, y[:10], verbose=0)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        model.fit(x, np.full(50, 7), verbose=0)
    with pytest.raises(ValueError, match="shape"):
        model.fit(np.zeros((50, 5), np.float32), y, verbose=0)
