"""`optimizer.learning_rate` as Keras's variable, keras.backend's get_value/set_value and
clear_session, and the rate History records (schedule and `decay=` applied)."""

import numpy as np
import pytest

import fastdnn as keras
from fastdnn import backend as K


def test_the_rate_is_a_variable_that_reads_assigns_and_computes():
    opt = keras.optimizers.Adam(learning_rate=0.01)
    lr = opt.learning_rate
    assert lr.numpy() == 0.01 and float(lr) == 0.01 and K.get_value(lr) == 0.01
    assert lr * 0.5 == 0.005 and 0.5 * lr == 0.005 and lr / 2 == 0.005 and 1 - lr == 0.99
    assert lr == 0.01 and lr < 1 and f"{lr:.3f}" == "0.010"
    opt.learning_rate = 0.02
    assert opt.learning_rate is lr and float(lr) == 0.02  # assigned in place, as Keras's variable
    lr.assign(0.03)
    assert opt.current_learning_rate == 0.03
    K.set_value(opt.learning_rate, 0.04)
    assert float(opt.lr) == 0.04  # the book's spelling
    opt.lr = 0.05
    assert float(opt.learning_rate) == 0.05
    with pytest.raises(ValueError, match="learning_rate"):
        opt.learning_rate = -1.0


def test_a_schedule_reads_the_current_rate_and_refuses_assignment():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    opt = keras.optimizers.SGD(learning_rate=schedule)
    assert float(opt.learning_rate) == pytest.approx(0.1)
    opt.iterations = 10
    assert float(opt.learning_rate) == pytest.approx(0.05)
    assert opt.schedule is schedule
    with pytest.raises(TypeError, match="not settable"):
        opt.learning_rate = 0.01
    with pytest.raises(TypeError, match="not settable"):
        K.set_value(opt.learning_rate, 0.01)


def test_the_step_uses_the_assigned_rate():
    w = keras.Variable(np.ones(3, np.float32))
    opt = keras.optimizers.SGD(learning_rate=0.1)
    K.set_value(opt.learning_rate, 0.5)
    opt.apply_gradients([(np.ones(3, np.float32), w)])
    np.testing.assert_array_equal(w.numpy(), np.full(3, 0.5, np.float32))
    assert opt.last_learning_rate == 0.5


def _fit(optimizer, callbacks=(), epochs=3):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = rng.normal(size=(64, 1)).astype(np.float32)
    model = keras.Sequential([keras.layers.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=optimizer, loss="mse")
    return model.fit(x, y, batch_size=16, epochs=epochs, verbose=0, callbacks=list(callbacks))


def test_history_records_the_rate_the_last_step_used_with_decay():
    history = _fit(keras.optimizers.SGD(learning_rate=0.1, decay=0.01))
    # 4 steps per epoch: epoch e's last step is step 4e + 3 (from 0), at lr / (1 + decay * step)
    want = [0.1 / (1 + 0.01 * (4 * e + 3)) for e in range(3)]
    np.testing.assert_allclose(history.history["learning_rate"], want, rtol=1e-15)


def test_history_records_a_schedules_rate():
    schedule = keras.optimizers.schedules.InverseTimeDecay(0.1, decay_steps=1, decay_rate=0.5)
    history = _fit(keras.optimizers.SGD(learning_rate=schedule))
    np.testing.assert_allclose(history.history["learning_rate"], [0.1 / (1 + 0.5 * (4 * e + 3)) for e in range(3)],
                               rtol=1e-7)  # the schedule computes in float32, as Keras's


def test_the_books_callbacks_log_lr_too():
    halve = keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5)
    history = _fit(keras.optimizers.SGD(learning_rate=0.1), [halve])
    assert history.history["lr"] == history.history["learning_rate"] == [0.05, 0.025, 0.0125]
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="loss", patience=0, factor=0.5, min_delta=10.0)
    history = _fit(keras.optimizers.SGD(learning_rate=0.1), [plateau])
    assert history.history["lr"] == [0.1, 0.1, 0.05]  # epoch 1 sets the best; later ones do not improve by 10


def test_the_books_exponential_decay_callback_runs():
    """The chapter's ExponentialDecay callback, written with keras.backend as the book does."""
    class ExponentialDecay(keras.callbacks.Callback):
        def __init__(self, s=40000):
            super().__init__()
            self.s = s

        def on_batch_begin(self, batch, logs=None):
            lr = K.get_value(self.model.optimizer.learning_rate)
            K.set_value(self.model.optimizer.learning_rate, lr * 0.1 ** (1 / self.s))

    history = _fit(keras.optimizers.SGD(learning_rate=0.1), [ExponentialDecay(s=4)], epochs=2)
    np.testing.assert_allclose(history.history["learning_rate"], [0.1 * 0.1 ** (4 / 4), 0.1 * 0.1 ** (8 / 4)],
                               rtol=1e-12)


def test_backend_settings_and_clear_session():
    assert K.floatx() == "float32" and K.epsilon() == 1e-7 and K.image_data_format() == "channels_last"
    assert K.backend() == "fastdnn"
    with pytest.raises(ValueError, match="float32"):
        K.set_floatx("float16")
    with pytest.raises(ValueError, match="data_format"):
        K.set_image_data_format("nhwc")
    K.set_epsilon(1e-5)
    try:
        assert K.epsilon() == 1e-5
    finally:
        K.set_epsilon(1e-7)
    keras.layers.Dense(1)
    K.clear_session()
    assert keras.layers.Dense(1).name == "dense" and keras.layers.Dense(1).name == "dense_1"
    keras.utils.set_random_seed(3)
    seeded = keras.random.normal((4,))
    keras.utils.set_random_seed(3)
    K.clear_session()
    assert not np.array_equal(keras.random.normal((4,)), seeded)  # the global seed is forgotten, as Keras


def test_backend_matches_keras():
    import os

    os.environ.setdefault("KERAS_BACKEND", "numpy")
    real = pytest.importorskip("keras", minversion="3.0")
    for name in ("floatx", "epsilon", "image_data_format"):
        assert getattr(K, name)() == getattr(real.backend, name)()
