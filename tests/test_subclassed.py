"""Subclassed models (`class M(keras.Model)`) and custom layers with sublayers: compile, fit,
evaluate, predict and summary; Keras 3's `train_step`/`test_step` overrides and `compute_loss`;
`add_loss`; the variable API; weights files; whole-model files through `get_config` and
`register_keras_serializable` (fastdnn's own and Keras's `.keras`, read by real Keras too)."""

import os

import numpy as np
import pytest

import fastdnn as keras
from _tolerances import EPS32, KERAS_PREDICT_ATOL, MODEL_FWD_RTOL, grad_atol
from conftest import assert_close
from fastdnn import ops
from test_ops_grad import numeric_grad


@keras.saving.register_keras_serializable(package="tests")
class Block(keras.layers.Layer):
    """A custom layer holding a sublayer."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.inner = keras.layers.Dense(units, activation="tanh")

    def call(self, x):
        return self.inner(x)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="tests")
class Regressor(keras.Model):
    """hidden (relu) -> dropout -> Block (tanh) -> out, with an activity penalty via add_loss."""

    def __init__(self, units=6, penalty=0.0, rate=0.0, **kwargs):
        super().__init__(**kwargs)
        self.units, self.penalty, self.rate = units, penalty, rate
        self.hidden = keras.layers.Dense(units, activation="relu")
        self.drop = keras.layers.Dropout(rate, seed=3)
        self.block = Block(4)
        self.out = keras.layers.Dense(1)
        self.seen_training = []

    def call(self, inputs, training=None):
        self.seen_training.append(training)
        h = self.block(self.drop(self.hidden(inputs)))
        if self.penalty:
            self.add_loss(ops.multiply(ops.mean(ops.square(h)), self.penalty))
        return self.out(h)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "penalty": self.penalty, "rate": self.rate}


def forward64(weights, x):
    kh, bh, kb, bb, ko, bo = [np.asarray(w, np.float64) for w in weights]
    h = np.tanh(np.maximum(np.asarray(x, np.float64) @ kh + bh, 0) @ kb + bb)
    return h, h @ ko + bo


def data(n=32, seed=0):
    r = np.random.default_rng(seed)
    x = r.normal(size=(n, 5)).astype(np.float32)
    return x, (x[:, :1] * 2 - x[:, 1:2]).astype(np.float32)


def built(seed=1, **kwargs):
    keras.utils.set_random_seed(seed)
    model = Regressor(**kwargs)
    model(np.zeros((1, 5), np.float32))
    return model


def test_weights_are_tracked_from_attributes_in_order():
    model = built()
    assert [layer.name for layer in model.layers] == [model.hidden.name, model.drop.name, model.block.name,
                                                      model.out.name]
    assert [v.path for v in model.weights] == [
        f"{model.hidden.name}/kernel", f"{model.hidden.name}/bias", f"{model.block.inner.name}/kernel",
        f"{model.block.inner.name}/bias", f"{model.out.name}/kernel", f"{model.out.name}/bias"]
    assert model.block.weights == model.block.inner.weights  # a sublayer's weights are its owner's
    x, _ = data()
    assert_close(model(x), forward64(model.get_weights(), x)[1], 1e-6, MODEL_FWD_RTOL, what="subclassed model")
    model.block.trainable = False
    assert len(model.trainable_weights) == 4 and model.block.inner.trainable is False
    assert model.count_params() == 5 * 6 + 6 + 6 * 4 + 4 + 4 + 1


def test_variables_have_keras_3s_api():
    bn = keras.layers.BatchNormalization()
    bn(np.zeros((2, 3), np.float32))
    assert [(var.name, var.trainable) for var in bn.variables] == [
        ("gamma", True), ("beta", True), ("moving_mean", False), ("moving_variance", False)]
    assert bn.trainable_variables == bn.variables[:2] and bn.non_trainable_variables == bn.variables[2:]
    gamma = bn.variables[0]
    assert gamma.path == f"{bn.name}/gamma" and gamma.shape == (3,) and gamma.dtype == np.float32
    gamma.assign(np.arange(3))
    np.testing.assert_array_equal(gamma.numpy(), [0, 1, 2])


def test_fit_evaluate_predict_and_the_training_flag_reaches_sublayers():
    x, y = data(64)
    model = built(rate=0.5)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="mse", metrics=["mae"])
    model.seen_training.clear()
    history = model.fit(x, y, batch_size=16, epochs=3, verbose=0)
    assert set(model.seen_training) == {True}  # fit calls the model in training mode
    assert history.history["loss"][-1] < history.history["loss"][0]
    with keras.GradientTape():
        dropped = model.drop(np.ones((100, 10), np.float32))  # no flag given, none inherited: off
    assert np.array_equal(dropped, np.ones((100, 10)))
    model.seen_training.clear()
    loss, mae = model.evaluate(x, y, verbose=0)
    _, pred = forward64(model.get_weights(), x)
    assert set(model.seen_training) == {False}
    assert loss == pytest.approx(((pred - y) ** 2).mean(), rel=1e-5)
    assert mae == pytest.approx(np.abs(pred - y).mean(), rel=1e-5)
    assert_close(model.predict(x, verbose=0), pred, 1e-6, MODEL_FWD_RTOL, what="predict")
    lines = []
    model.summary(print_fn=lines.append)
    assert f"{model.block.name} (Block)" in "\n".join(lines) and "Total params: 69" in "\n".join(lines)


def test_add_loss_joins_the_training_loss_and_its_gradient():
    x, y = data(8)
    model = built(penalty=0.3)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    start = [w.numpy() for w in model.weights]

    def loss64(*weights):
        h, pred = forward64(weights, x)
        return float(((pred - y) ** 2).mean() + 0.3 * (h ** 2).mean())

    logs = model.train_step((x, y))
    assert float(logs["loss"]) == pytest.approx(loss64(*start), rel=1e-5)
    for i, (before, after) in enumerate(zip(start, model.get_weights())):
        grad = numeric_grad(loss64, start, i)
        # SGD: w - 0.1·g, with g's float32 error and one rounding of the updated weight.
        assert_close(after, before.astype(np.float64) - 0.1 * grad,
                     0.1 * grad_atol(grad, depth=8) + EPS32 * float(np.abs(before).max()), what=f"weight {i}")
    assert model.losses == pytest.approx([0.3 * (forward64(start, x)[0] ** 2).mean()], rel=1e-5)
    model(x[:2])
    h, _ = forward64(model.get_weights(), x[:2])
    assert model.losses == pytest.approx([0.3 * (h ** 2).mean()], rel=1e-5)  # only the latest call's


def test_a_keras_3_train_step_and_test_step_override():
    class Custom(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = keras.layers.Dense(1)
            self.loss_tracker = keras.metrics.Mean(name="loss")
            self.mae = keras.metrics.MeanAbsoluteError(name="mae")

        def call(self, inputs):
            return self.dense(inputs)

        def train_step(self, data):
            x, y = data
            with keras.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compute_loss(y=y, y_pred=y_pred)
            grads = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
            self.loss_tracker.update_state(float(loss), sample_weight=len(x))
            self.mae.update_state(y, y_pred)
            return {"loss": self.loss_tracker.result(), "mae": self.mae.result()}

        def test_step(self, data):
            x, y = data
            y_pred = self(x, training=False)
            self.loss_tracker.update_state(float(self.compute_loss(y=y, y_pred=y_pred, training=False)),
                                           sample_weight=len(x))
            self.mae.update_state(y, y_pred)
            return {"loss": self.loss_tracker.result(), "mae": self.mae.result()}

        @property
        def metrics(self):
            return [self.loss_tracker, self.mae]

    x, y = data(64)
    results = []
    for kind in ("custom", "built-in"):
        keras.utils.set_random_seed(2)
        if kind == "custom":
            model = Custom()
        else:
            inputs = keras.Input(shape=(5,))
            model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="mse", metrics=["mae"])
        history = model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        results.append((model.get_weights(), history.history, model.evaluate(x, y, verbose=0)))
    (w1, h1, e1), (w2, h2, e2) = results
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)  # the same steps as the built-in one
    assert h1["loss"] == pytest.approx(h2["loss"]) and h1["mae"] == pytest.approx(h2["mae"])
    assert e1 == pytest.approx(e2)


def test_weights_files_and_whole_model_files(tmp_path):
    x, y = data()
    model = built(seed=5, penalty=0.1)
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=1, verbose=0)
    pytest.importorskip("h5py")
    for name in ("w.weights.h5", "w.fdnn"):
        model.save_weights(tmp_path / name)
        other = built(seed=9, penalty=0.1)
        other.load_weights(tmp_path / name)
        for a, b in zip(other.get_weights(), model.get_weights()):
            np.testing.assert_array_equal(a, b)
    for name in ("m.fdnn", "m.keras"):
        model.save(tmp_path / name)
        loaded = keras.models.load_model(tmp_path / name)
        assert type(loaded) is Regressor and loaded.penalty == 0.1 and isinstance(loaded.block, Block)
        np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
        state, saved = (m.optimizer.get_state(m.trainable_weights) for m in (loaded, model))
        assert state["iterations"] == saved["iterations"] == 1
    with pytest.raises(ValueError, match="subclassed model"):
        model.save(tmp_path / "m.h5")


def test_an_unregistered_class_loads_through_custom_objects(tmp_path):
    class Plain(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = keras.layers.Dense(2)

        def call(self, inputs):
            return self.dense(inputs)

    model = Plain()
    model(np.ones((1, 3), np.float32))
    model.save(tmp_path / "p.fdnn")
    with pytest.raises(keras.saving.FileFormatError, match="unknown model class 'Plain'"):
        keras.models.load_model(tmp_path / "p.fdnn")
    loaded = keras.models.load_model(tmp_path / "p.fdnn", custom_objects={"Plain": Plain})
    np.testing.assert_array_equal(loaded(np.ones((2, 3), np.float32)), model(np.ones((2, 3), np.float32)))


# ---- real Keras 3 ------------------------------------------------------------------------------

def _keras_classes(k):
    """The same two classes, registered under the same names, on Keras's side."""
    @k.saving.register_keras_serializable(package="tests")
    class Block(k.layers.Layer):  # noqa: F811 - Keras's twin of the class above
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.inner = k.layers.Dense(units, activation="tanh")

        def call(self, x):
            return self.inner(x)

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    @k.saving.register_keras_serializable(package="tests")
    class Regressor(k.Model):  # noqa: F811
        def __init__(self, units=6, penalty=0.0, rate=0.0, **kwargs):
            super().__init__(**kwargs)
            self.units, self.penalty, self.rate = units, penalty, rate
            self.hidden = k.layers.Dense(units, activation="relu")
            self.drop = k.layers.Dropout(rate, seed=3)
            self.block = Block(4)
            self.out = k.layers.Dense(1)

        def call(self, inputs, training=None):
            return self.out(self.block(self.drop(self.hidden(inputs))))

        def get_config(self):
            return {**super().get_config(), "units": self.units, "penalty": self.penalty, "rate": self.rate}

    return Regressor


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_subclassed_model_registered_on_both_sides_loads_across(tmp_path):
    pytest.importorskip("h5py")
    os.environ.setdefault("KERAS_BACKEND", "numpy")
    real = pytest.importorskip("keras", minversion="3.0")
    theirs_cls = _keras_classes(real)
    x, _ = data(8)
    model = built(seed=6)
    model.compile(optimizer="sgd", loss="mse")
    model.save(tmp_path / "ours.keras")
    theirs = real.models.load_model(tmp_path / "ours.keras")
    assert type(theirs).__name__ == "Regressor"
    np.testing.assert_allclose(theirs.predict(x, verbose=0), model.predict(x, verbose=0), atol=KERAS_PREDICT_ATOL)
    made = theirs_cls(units=7)
    made(x)
    made.compile(optimizer="sgd", loss="mse")
    made.save(tmp_path / "theirs.keras")
    loaded = keras.models.load_model(tmp_path / "theirs.keras")
    assert type(loaded) is Regressor and loaded.units == 7
    np.testing.assert_allclose(loaded.predict(x, verbose=0), made.predict(x, verbose=0), atol=KERAS_PREDICT_ATOL)
