"""The interface through which callbacks act inside the training step (callbacks/step_hook.py):
CallbackList gathers each callback's StepHook, the built-in train_step runs them around the
update, for Sequential, functional and subclassed models alike; TerminateOnNaN and the
GradientMonitor use it, and nothing stays attached after fit."""

import numpy as np
import pytest

import fastdnn as keras
from fastdnn.callbacks import CallbackList, StepHook


class Recorder(keras.callbacks.Callback, StepHook):
    def __init__(self, every=2):
        super().__init__()
        self.every, self.calls, self.seen = every, [], []

    def step_hook(self):
        return self

    def begin_step(self):
        self.calls.append("begin")
        return self.model.optimizer.iterations % self.every == 0

    def before_update(self, variables, grads, outputs):
        self.calls.append("before")
        self.seen.append(sorted(layer.name for layer, _ in outputs.values()))
        self.weights = [v.numpy() for v in variables]
        assert len(grads) == len(variables)

    def after_update(self, loss):
        self.calls.append("after")
        assert np.isfinite(loss)
        assert any(not np.array_equal(a, v.numpy()) for a, v in zip(self.weights, self.model.trainable_weights))


def _functional():
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(4,), name="x")
    h = keras.layers.Dense(5, activation="relu", name="h")(inputs)
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="y")(h))


def test_callback_list_gathers_the_hooks_in_order():
    first, second = Recorder(), Recorder()
    hooks = CallbackList([keras.callbacks.History(), first, keras.callbacks.TerminateOnNaN(), second]).step_hooks
    assert hooks[0] is first and hooks[1].keep_last_good and hooks[2] is second


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_hooks_run_around_the_update_of_the_steps_they_observe(kind):
    model = _functional() if kind == "functional" else keras.Sequential(
        [keras.Input(shape=(4,)), keras.layers.Dense(5, activation="relu", name="h"),
         keras.layers.Dense(2, activation="softmax", name="y")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    x, y = np.random.default_rng(1).normal(size=(16, 4)).astype(np.float32), np.arange(16) % 2
    recorder = Recorder(every=2)
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[recorder])
    assert recorder.calls == ["begin", "before", "after", "begin"] * 2
    assert {"h", "y"} <= set(recorder.seen[0])  # every layer's output of the forward pass
    assert model._step_hooks == ()  # detached after fit


def test_terminate_on_nan_keeps_the_last_good_weights_of_a_functional_model():
    model = _functional()
    bn_in = keras.Input(shape=(4,))
    bn = keras.layers.BatchNormalization()
    model = keras.Model(bn_in, model(bn(bn_in)))
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    x = np.ones((8, 4), np.float32)
    y = np.zeros(8, np.int64)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    good = model.get_weights()
    bad = x.copy()
    bad[0, 0] = np.nan
    history = model.fit(bad, y, batch_size=8, epochs=3, verbose=0, callbacks=[keras.callbacks.TerminateOnNaN()])
    assert np.isnan(history.history["loss"][0]) and len(history.history["loss"]) == 1
    for a, b in zip(model.get_weights(), good):  # moving statistics included
        np.testing.assert_array_equal(a, b)


def test_gradient_monitor_records_a_functional_model():
    model = _functional()
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    monitor = keras.callbacks.GradientMonitor(every_n_steps=1)
    x, y = np.random.default_rng(2).normal(size=(12, 4)).astype(np.float32), np.arange(12) % 2
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[monitor])
    assert monitor.steps == [0, 1, 2] and monitor.layer_names() == ["h", "y"]
    assert all(np.isfinite(monitor.history["h"]["grad_norm"]))
