"""The split training step (fastdnn/trainers/split_step.py): native plans around layers written
in Python, against the GradientTape path, bit for bit (weights, optimizer state, logs), and the
tape's output_gradients it relies on against float64 NumPy."""

import numpy as np
import pytest

import fastdnn as keras
from fastdnn import _C
from fastdnn.trainers.native_step import NativeStep, NotNative
from fastdnn.trainers.split_step import SplitStep

from test_native_step import _train, assert_same_training, fashion  # noqa: F401 - the fixture, shared


class Gate(keras.layers.Layer):
    """A layer written in Python with a trainable weight of its own and an add_loss term."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

    def call(self, inputs):
        self.add_loss(keras.ops.multiply(keras.ops.sum(keras.ops.square(self.w)), np.float32(1e-3)))
        return keras.ops.multiply(inputs, keras.ops.tanh(self.w))


class Halve(keras.layers.Layer):
    """A layer written in Python without weights."""

    def call(self, inputs):
        return keras.ops.multiply(inputs, np.float32(0.5))


def gate_in_the_middle():
    return keras.Sequential([
        keras.layers.Flatten(input_shape=[28, 28]), keras.layers.BatchNormalization(),
        keras.layers.Dense(48, activation="elu", kernel_initializer="he_normal"), keras.layers.Dropout(0.2),
        Gate(name="gate"), keras.layers.BatchNormalization(),
        keras.layers.Dense(24, activation="elu", kernel_initializer="he_normal"),
        Halve(), keras.layers.LayerNormalization(),  # two Python parts in a row: one tape run
        keras.layers.Dropout(0.1), keras.layers.Dense(10, activation="softmax")])


def python_first():
    return keras.Sequential([keras.layers.Input((28, 28)), Halve(), keras.layers.Flatten(),
                             keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10)])


def functional_with_gate():
    inputs = keras.Input((28, 28))
    h = keras.layers.Flatten()(inputs)
    h = keras.layers.Dense(32, activation="relu", kernel_regularizer=keras.regularizers.l2(1e-3))(h)
    h = Gate()(h)
    outputs = keras.layers.Dense(10, activation="softmax", kernel_constraint=keras.constraints.max_norm(1.0))(h)
    return keras.Model(inputs, outputs)


def frozen_below_the_gate():
    model = gate_in_the_middle()
    model.layers[2].trainable = False  # the first Dense: the plan below the gate needs no backward
    model.layers[1].trainable = False
    return model


def assert_same_as_tape(make, data, compile_kwargs=None, **kwargs):
    return assert_same_training(make, data, compile_kwargs, jit=True, step=SplitStep, **kwargs)


@pytest.mark.parametrize("make", [gate_in_the_middle, python_first, functional_with_gate, frozen_below_the_gate],
                         ids=lambda f: f.__name__)
def test_python_layers_between_plans_train_as_the_tape_does(make, fashion):
    kwargs = {"loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True)} if make is python_first else None
    assert_same_as_tape(make, fashion, kwargs)


@pytest.mark.parametrize("optimizer", [lambda: keras.optimizers.SGD(0.02, momentum=0.9, nesterov=True),
                                       lambda: keras.optimizers.Adam(1e-3, global_clipnorm=0.5),
                                       lambda: keras.optimizers.RMSprop(1e-3, clipvalue=0.01)],
                         ids=["nesterov", "adam_global_clipnorm", "rmsprop_clipvalue"])
def test_optimizers_and_clipping(optimizer, fashion):
    assert_same_as_tape(gate_in_the_middle, fashion, lambda: {"optimizer": optimizer()})


def test_the_python_layers_losses_are_current_after_a_step(fashion):
    """layer.losses after fit hold the last step's add_loss terms, as after a tape step."""
    tape, split = assert_same_as_tape(gate_in_the_middle, fashion, epochs=1)
    x, y = fashion
    tape.train_on_batch(x[:32], y[:32])
    want = tape.get_layer("gate").losses  # `losses` are those of the latest outermost call anywhere
    split.train_on_batch(x[:32], y[:32])
    got = split.get_layer("gate").losses
    assert len(got) == len(want) == 1 and np.array_equal(got[0], want[0])


def test_auto_keeps_such_graphs_on_the_tape(fashion):
    model, _ = _train(gate_in_the_middle, "auto", fashion, epochs=1)
    assert isinstance(model._native, NotNative) and "gate" in str(model._native)
    model, _ = _train(lambda: keras.Sequential([keras.layers.Flatten(input_shape=[28, 28]),
                                                keras.layers.Dense(10, activation="softmax")]), True, fashion, epochs=1)
    assert type(model._native) is NativeStep  # no Python layer: one plan, not a split


def test_a_python_top_layer_cannot_split(fashion):
    def make():
        return keras.Sequential([keras.layers.Flatten(input_shape=[28, 28]), keras.layers.Dense(10), Halve(name="top"),
                                 keras.layers.Softmax()])
    model, _ = _train(make, "auto", fashion, epochs=1)
    assert SplitStep.build(model, 32) is not None  # the softmax on top is native
    model = keras.Sequential([keras.layers.Flatten(input_shape=[28, 28]), keras.layers.Dense(10, activation="softmax"),
                              Halve(), keras.layers.Dense(10, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    with pytest.raises(NotNative, match="softmax comes before"):
        SplitStep.build(model, 32)


def test_a_plan_segment_without_the_loss_against_float64_numpy():
    """forward, then backward from a given output gradient, with the input's gradient: a
    Dense(ELU) segment against the float64 formulas. Bound: one float32 product of depth 6 and
    an ELU, rounded at each step, stays within 1e-5 of values of order 1."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((8, 6)).astype(np.float32)
    w = (rng.standard_normal((6, 16)) * 0.4).astype(np.float32)
    b = (rng.standard_normal(16) * 0.1).astype(np.float32)
    dy = rng.standard_normal((8, 16)).astype(np.float32)
    plan = _C.TrainPlan([{"kind": "dense", "units": 16, "kernel": w, "bias": b, "train_kernel": True,
                          "train_bias": True, "activation": int(_C.Activation.elu), "alpha": 1.0}], 6, 8,
                        loss=False, input_grad=True)
    plan.forward(x)
    z = x.astype(np.float64) @ w + b
    np.testing.assert_allclose(plan.output(8), np.where(z > 0, z, np.expm1(z)), atol=1e-5, rtol=0)
    plan.backward(x, dy)
    dz = dy * np.where(z > 0, 1.0, np.exp(z))
    np.testing.assert_allclose(plan.gradient_of(w), x.T.astype(np.float64) @ dz, atol=1e-5, rtol=0)
    np.testing.assert_allclose(plan.gradient_of(b), dz.sum(0), atol=1e-5, rtol=0)
    np.testing.assert_allclose(plan.input_gradient(8), dz @ w.T.astype(np.float64), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="no loss"):
        plan.forward_backward(x, np.zeros(8, np.int64))
    with pytest.raises(ValueError, match="output's shape"):
        plan.backward(x, np.ascontiguousarray(dy[:, :4]))
    with pytest.raises(ValueError, match="input_grad=True"):
        _C.TrainPlan([{"kind": "dense", "units": 2, "kernel": np.ascontiguousarray(w[:, :2])}], 6, 8).input_gradient(8)
    with pytest.raises(ValueError, match="softmax layer must come last"):
        _C.TrainPlan([{"kind": "softmax"}], 6, 8, loss=False)


def test_tape_output_gradients_against_numpy():
    x = np.array([1.0, -2.0, 3.0], np.float32)
    seed = np.array([0.5, 2.0, -1.0], np.float32)
    with keras.GradientTape() as tape:
        tape.watch(x)
        y = keras.ops.multiply(x, x)
        z = keras.ops.sum(x)
    gx = tape.gradient([y, z], x, output_gradients=[seed, None])
    np.testing.assert_array_equal(gx, 2 * x * seed + 1)  # exact: small integers and halves
    with keras.GradientTape() as tape:
        tape.watch(x)
        y = keras.ops.multiply(x, x)
    with pytest.raises(ValueError, match="one entry per target"):
        tape.gradient([y], x, output_gradients=[seed, seed])
    with keras.GradientTape() as tape:
        tape.watch(x)
        y = keras.ops.multiply(x, x)
    with pytest.raises(ValueError, match="must match"):
        tape.gradient(y, x, output_gradients=seed[:2])


def test_terminate_on_nan_and_callbacks(fashion):
    """A learning rate that overflows: TerminateOnNaN stops both runs after the same step, and
    the step whose loss was not finite changed nothing (the same weights, NaN where the tape
    has NaN); a LearningRateScheduler changes both alike."""
    def callbacks():
        return [keras.callbacks.TerminateOnNaN(), keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 10.0)]
    runs = [_train(gate_in_the_middle, jit, fashion, lambda: {"optimizer": keras.optimizers.SGD(learning_rate=1e3)},
                   epochs=3, callbacks=callbacks()) for jit in (False, True)]
    (tape, tape_logs), (split, split_logs) = runs
    assert type(split._native) is SplitStep
    assert not np.isfinite(tape_logs["loss"][-1])
    assert str(split_logs) == str(tape_logs)  # NaN != NaN, so compared as text
    for a, b in zip(tape.get_weights(), split.get_weights()):
        assert np.array_equal(a, b, equal_nan=True)
