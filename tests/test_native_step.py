"""The native training step (fastdnn/trainers/native_step.py, csrc/plan/train_plan.h) against
the GradientTape path it replaces, and against float64 NumPy.

The plan makes the tape's kernel calls with the same arguments, so the weights, the moving
statistics, the optimizer state and the logs after N steps are the tape's bit for bit (compared
with `np.array_equal`, no tolerance), on one thread and on two.
"""

import os
from pathlib import Path

import numpy as np
import pytest

import fastdnn
import fastdnn as keras
from fastdnn import _C
from fastdnn.trainers import trainer as trainer_module
from fastdnn.trainers.native_step import NativeStep, NotNative

from chapter_models import bn_after_activation, bn_before_activation

DATA = Path(os.environ.get("FASTDNN_DATA") or Path(__file__).resolve().parents[2] / "shared" / "datasets" / "fashion-mnist")


@pytest.fixture(scope="module")
def fashion():
    """600 Fashion-MNIST training images (real data), or seeded noise of the same shape where
    the dataset is not on this machine."""
    if (DATA / "train-images-idx3-ubyte.gz").exists():
        (x, y), _ = keras.datasets.fashion_mnist.load_data(DATA)
        return x[:600].astype(np.float32) / np.float32(255), y[:600].astype(np.int64)
    rng = np.random.default_rng(0)
    return rng.random((600, 28, 28), dtype=np.float32), rng.integers(0, 10, 600)


def _train(make, jit, data, compile_kwargs=None, epochs=2, batch_size=32, callbacks=None, seed=7):
    keras.utils.set_random_seed(seed)
    model = make()
    kwargs = {"loss": "sparse_categorical_crossentropy", "optimizer": "nadam", "metrics": ["accuracy"]}
    kwargs.update(compile_kwargs() if callable(compile_kwargs) else compile_kwargs or {})
    model.compile(jit_compile=jit, **kwargs)
    history = model.fit(*data, epochs=epochs, batch_size=batch_size, verbose=0, callbacks=callbacks)
    return model, history.history


def _state(model):
    opt = model.optimizer
    return model.get_weights() + [s for name in opt.slot_names()
                                  for s in opt.get_state(model.trainable_weights)["slots"][name]]


def assert_same_training(make, data, compile_kwargs=None, jit="auto", step=NativeStep, **kwargs):
    """Trains `make()` on the tape and with `jit_compile=jit`; asserts identical weights,
    optimizer state and logs, and that the compiled `step` ran. `compile_kwargs` holding
    objects (an optimizer) is a function that makes them anew for each run."""
    tape, tape_logs = _train(make, False, data, compile_kwargs, **kwargs)
    plan, plan_logs = _train(make, jit, data, compile_kwargs, **kwargs)
    assert type(plan._native) is step, plan._native
    assert plan_logs == tape_logs
    a, b = _state(tape), _state(plan)
    assert len(a) == len(b)
    for i, (x, y) in enumerate(zip(a, b)):
        assert np.array_equal(x, y), f"array {i}: max difference {np.abs(x - y).max()}"
    assert plan.optimizer.iterations == tape.optimizer.iterations
    return tape, plan


OPTIMIZERS = {
    "sgd": lambda: keras.optimizers.SGD(learning_rate=0.05),
    "momentum": lambda: keras.optimizers.SGD(learning_rate=0.02, momentum=0.9),
    "nesterov": lambda: keras.optimizers.SGD(learning_rate=0.02, momentum=0.9, nesterov=True),
    "adagrad": lambda: keras.optimizers.Adagrad(learning_rate=0.05),
    "rmsprop": lambda: keras.optimizers.RMSprop(learning_rate=1e-3, rho=0.9),
    "rmsprop_centered_momentum": lambda: keras.optimizers.RMSprop(learning_rate=1e-3, momentum=0.5, centered=True),
    "adam": lambda: keras.optimizers.Adam(learning_rate=1e-3),
    "amsgrad": lambda: keras.optimizers.Adam(learning_rate=1e-3, amsgrad=True),
    "adamw": lambda: keras.optimizers.AdamW(learning_rate=1e-3, weight_decay=0.01),
    "adamax": lambda: keras.optimizers.Adamax(learning_rate=2e-3),
    "nadam": lambda: keras.optimizers.Nadam(learning_rate=1e-3),
    "book_era_decay": lambda: keras.optimizers.SGD(lr=0.05, decay=1e-3),
    "schedule": lambda: keras.optimizers.SGD(
        learning_rate=keras.optimizers.schedules.ExponentialDecay(0.05, 10, 0.5)),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_trains_the_bn_model_as_the_tape_does(name, fashion):
    assert_same_training(bn_after_activation, fashion, lambda: {"optimizer": OPTIMIZERS[name]()})


@pytest.mark.parametrize("clip", [{"clipnorm": 0.5}, {"clipvalue": 0.01}, {"global_clipnorm": 0.5},
                                  {"weight_decay": 0.05}], ids=lambda c: next(iter(c)))
def test_clipping_and_weight_decay(clip, fashion):
    assert_same_training(bn_before_activation, fashion, lambda: {"optimizer": keras.optimizers.Adam(1e-3, **clip)})


@pytest.mark.parametrize("n", [1, 2])
def test_one_and_two_threads(n, fashion):
    previous = fastdnn.get_num_threads()
    threshold = _C.gemm_parallel_threshold()
    fastdnn.set_num_threads(n)
    if n > 1:
        _C.set_gemm_parallel_threshold(0)  # split even these small products across the threads
    try:
        assert_same_training(bn_after_activation, fashion, batch_size=64)
    finally:
        _C.set_gemm_parallel_threshold(threshold)
        fastdnn.set_num_threads(previous)


def test_regularizers_and_constraints(fashion):
    def make():
        return keras.Sequential([
            keras.layers.Flatten(input_shape=[28, 28]),
            keras.layers.Dense(64, activation="relu", kernel_regularizer=keras.regularizers.l2(1e-3),
                               kernel_constraint=keras.constraints.max_norm(1.0)),
            keras.layers.Dense(32, activation="tanh", kernel_regularizer=keras.regularizers.l1_l2(1e-4, 1e-3),
                               bias_constraint=keras.constraints.NonNeg()),
            keras.layers.Dense(10, activation="softmax", kernel_regularizer="l1")])
    tape, _ = assert_same_training(make, fashion, {"optimizer": "sgd"})
    assert np.linalg.norm(tape.layers[1].kernel.numpy(), axis=0).max() <= 1.0 + 1e-6


def test_frozen_layers_and_a_frozen_batchnorm(fashion):
    """Transfer learning: frozen layers below the trainable ones are not differentiated, and a
    frozen BatchNormalization normalises with its moving statistics (Keras 3)."""
    def make():
        model = bn_after_activation()
        model.layers[1].trainable = False  # the first BN: inference mode, below every trainable weight
        model.layers[2].trainable = False  # Dense 300
        model.layers[3].trainable = False  # a BN in the middle: inference mode, differentiated through
        return model
    _, plan = assert_same_training(make, fashion)
    frozen_bn = plan.layers[1]  # inference mode: its moving statistics stay at their initial values
    assert np.array_equal(frozen_bn.moving_mean.numpy(), np.zeros(784)) and np.array_equal(
        frozen_bn.moving_variance.numpy(), np.ones(784))


@pytest.mark.filterwarnings("ignore:Argument `alpha` is deprecated")  # the book's LeakyReLU(alpha=...)
def test_activation_layers_and_logits(fashion):
    def make():
        return keras.Sequential([
            keras.Input(shape=(28, 28)), keras.layers.Flatten(),
            keras.layers.Dense(64), keras.layers.LeakyReLU(alpha=0.2),
            keras.layers.Dense(48), keras.layers.ELU(alpha=0.5),
            keras.layers.Dense(40), keras.layers.ReLU(),
            keras.layers.Dense(32), keras.layers.Activation("selu"),
            keras.layers.Dense(24, activation="sigmoid"), keras.layers.Identity(),
            keras.layers.Dense(10)])
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    assert_same_training(make, fashion, {"loss": loss})


def test_a_final_softmax_layer(fashion):
    def make():
        return keras.Sequential([keras.layers.Flatten(input_shape=[28, 28]), keras.layers.Dense(32, activation="elu"),
                                 keras.layers.BatchNormalization(), keras.layers.Dense(10), keras.layers.Softmax()])
    assert_same_training(make, fashion)


def test_functional_and_nested_models(fashion):
    def make():
        inputs = keras.Input(shape=(28, 28))
        x = keras.layers.Flatten()(inputs)
        x = keras.layers.Dense(50, activation="relu")(x)
        inner = keras.Sequential([keras.layers.BatchNormalization(), keras.layers.Dense(30, activation="tanh")])
        x = inner(x)
        outputs = keras.layers.Dense(10, activation="softmax")(x)
        return keras.Model(inputs, outputs)
    assert_same_training(make, fashion)


def test_the_tape_runs_only_the_first_step(fashion, monkeypatch):
    """No step records a tape: a Sequential model that knows its input shape has its loss
    built by `compile`, so even the first step runs as a plan."""
    count = []
    real = trainer_module.GradientTape

    def counting(*args, **kwargs):
        count.append(1)
        return real(*args, **kwargs)
    monkeypatch.setattr(trainer_module, "GradientTape", counting)
    model, _ = _train(bn_after_activation, "auto", fashion, epochs=1)
    assert len(count) == 0
    assert model.optimizer.iterations == 19  # 600 images in batches of 32
    assert model._native.arena_bytes > 0


def test_callbacks_behave_as_on_the_tape(fashion):
    def callbacks():
        return [keras.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=10.0),
                keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5)]
    tape, tape_logs = _train(bn_after_activation, False, fashion, epochs=5, callbacks=callbacks())
    plan, plan_logs = _train(bn_after_activation, "auto", fashion, epochs=5, callbacks=callbacks())
    assert plan_logs == tape_logs
    assert len(plan_logs["loss"]) == 2  # EarlyStopping stopped both after the same epoch
    for a, b in zip(tape.get_weights(), plan.get_weights()):
        assert np.array_equal(a, b)


def test_terminate_on_nan_keeps_the_last_good_weights(fashion):
    """A learning rate that overflows the loss: TerminateOnNaN stops, and the step whose loss
    was not finite changed nothing, on the plan as on the tape (the weights it leaves are
    those of the last step with a finite loss, bit for bit)."""
    compile_kwargs = lambda: {"optimizer": keras.optimizers.SGD(learning_rate=1e6)}  # noqa: E731
    runs = [_train(bn_after_activation, jit, fashion, compile_kwargs, epochs=3,
                   callbacks=[keras.callbacks.TerminateOnNaN()]) for jit in (False, "auto")]
    (tape, tape_logs), (plan, plan_logs) = runs
    assert not np.isfinite(tape_logs["loss"][-1])
    assert str(plan_logs) == str(tape_logs)  # NaN != NaN, so compared as text
    for a, b in zip(tape.get_weights(), plan.get_weights()):
        assert np.array_equal(a, b, equal_nan=True)


def test_an_observing_hook_takes_the_tape_for_its_steps(fashion):
    """GradientMonitor observes every 5th step: those steps run on the tape, the others on the
    plan, and the result is the all-tape one."""
    runs = [_train(bn_after_activation, jit, fashion, callbacks=[fastdnn.monitoring.GradientMonitor(every_n_steps=5)])
            for jit in (False, "auto")]
    (tape, tape_logs), (plan, plan_logs) = runs
    assert plan_logs == tape_logs
    for a, b in zip(tape.get_weights(), plan.get_weights()):
        assert np.array_equal(a, b)


class Scale(keras.layers.Layer):
    """A layer written in Python."""

    def call(self, inputs):
        return keras.ops.multiply(inputs, np.float32(0.5))


def _with_custom_layer():
    return keras.Sequential([keras.layers.Flatten(input_shape=[28, 28]), keras.layers.Dense(20, activation="relu"),
                             Scale(name="scale"), keras.layers.Dense(10, activation="softmax")])


def test_a_python_layer_keeps_the_tape(fashion):
    tape, tape_logs = _train(_with_custom_layer, False, fashion)
    plan, plan_logs = _train(_with_custom_layer, "auto", fashion)
    assert isinstance(plan._native, NotNative) and "scale" in str(plan._native)
    assert plan_logs == tape_logs


def test_jit_compile_true_says_what_keeps_the_graph_off_the_plan(fashion):
    def custom_top():  # a Python layer in the middle splits the plan (test_split_step.py); on top, nothing runs it
        return keras.Sequential([keras.layers.Flatten(input_shape=[28, 28]), keras.layers.Dense(10, activation="softmax"),
                                 Scale(name="scale")])
    with pytest.raises(ValueError, match=r"jit_compile=True.*top layer 'scale' has no native form"):
        _train(custom_top, True, fashion)
    with pytest.raises(ValueError, match=r"jit_compile=True.*not sparse_categorical_crossentropy"):
        _train(bn_after_activation, True, (fashion[0], np.eye(10, dtype=np.float32)[fashion[1]]),
               {"loss": "categorical_crossentropy"})
    model, _ = _train(bn_after_activation, True, fashion, epochs=1)
    assert type(model._native) is NativeStep


def test_jit_compile_takes_only_its_three_values():
    model = keras.Sequential([keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="jit_compile"):
        model.compile(loss="mse", jit_compile="yes")


@pytest.mark.parametrize("what", ["sample_weight", "float_labels"])
def test_batches_the_plan_does_not_take_run_on_the_tape(what, fashion):
    x, y = fashion
    extra = {}
    if what == "sample_weight":
        extra["sample_weight"] = np.linspace(0.5, 1.5, len(y)).astype(np.float32)
    else:
        y = y.astype(np.float32)
    results = []
    for jit in (False, "auto"):
        keras.utils.set_random_seed(3)
        model = bn_after_activation()
        model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", jit_compile=jit)
        model.fit(x, y, epochs=1, batch_size=50, verbose=0, **extra)
        results.append(model.get_weights())
    for a, b in zip(*results):
        assert np.array_equal(a, b)


def test_weights_set_between_fits_are_used(fashion):
    """set_weights writes in place: the plan keeps pointing at the live weights."""
    runs = []
    for jit in (False, "auto"):
        keras.utils.set_random_seed(5)
        model = bn_after_activation()
        model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", jit_compile=jit)
        model.fit(*fashion, epochs=1, verbose=0)
        model.set_weights([w * np.float32(0.5) for w in model.get_weights()])
        model.fit(*fashion, epochs=1, batch_size=100, verbose=0)
        runs.append(model.get_weights())
    for a, b in zip(*runs):
        assert np.array_equal(a, b)


def test_a_larger_batch_rebuilds_the_plan(fashion):
    x, y = fashion
    keras.utils.set_random_seed(1)
    model = bn_after_activation()
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    for rows in (8, 8, 16, 64):
        model.train_on_batch(x[:rows], y[:rows])
    assert type(model._native) is NativeStep and model._native.plan.max_rows == 64


def test_bad_labels_raise_as_on_the_tape(fashion):
    x, y = fashion
    model = bn_after_activation()
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    model.train_on_batch(x[:32], y[:32])  # the tape step
    model.train_on_batch(x[:32], y[:32])  # builds the plan
    bad = y[:32].copy()
    bad[3] = 10
    with pytest.raises(ValueError, match=r"Labels must be class indices in \[0, 10\)\. Received 10 at index 3"):
        model.train_on_batch(x[:32], bad)


def test_the_plan_object_checks_its_arguments():
    w = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match="unknown layer kind"):
        _C.TrainPlan([{"kind": "conv"}], 4, 8)
    with pytest.raises(ValueError, match="shape"):
        _C.TrainPlan([{"kind": "dense", "units": 3, "kernel": np.zeros((5, 3), np.float32)}], 4, 8)
    with pytest.raises(ValueError, match="units >= 1"):
        _C.TrainPlan([{"kind": "dense", "units": 0, "kernel": np.zeros((4, 0), np.float32)}], 4, 8)
    with pytest.raises(ValueError, match="softmax layer must come last"):
        _C.TrainPlan([{"kind": "softmax"}, {"kind": "dense", "units": 3, "kernel": w}], 4, 8)
    plan = _C.TrainPlan([{"kind": "dense", "units": 3, "kernel": w, "train_kernel": True}], 4, 8)
    with pytest.raises(TypeError, match="float32"):
        plan.forward_backward(np.zeros((2, 4)), np.zeros(2, np.int64))
    with pytest.raises(ValueError, match="1 to 8"):
        plan.forward_backward(np.zeros((9, 4), np.float32), np.zeros(9, np.int64))
    with pytest.raises(TypeError, match="int64"):
        plan.forward_backward(np.zeros((2, 4), np.float32), np.zeros(2, np.int32))
    with pytest.raises(ValueError, match="bind_optimizer"):
        plan.update({})
    with pytest.raises(ValueError, match="not a trainable weight"):
        plan.bind_optimizer(0, [np.zeros((4, 3), np.float32)], [[]])
    plan.bind_optimizer(0, [w], [[]])
    with pytest.raises(ValueError, match="state arrays"):
        plan.update({"momentum": 0.9})  # SGD with momentum needs one slot


def test_plan_against_float64_numpy():
    """Three SGD steps of Dense(ELU) -> Dense(softmax) with the sparse cross-entropy, written
    in float64 NumPy from the formulas. Bound: float32 kernels over 3 steps of a 16-wide net
    drift by a few float32 ulps of values near 1 (1e-5 absolute covers 100 ulps)."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((8, 6)).astype(np.float32)
    y = rng.integers(0, 4, 8)
    w1 = (rng.standard_normal((6, 16)) * 0.4).astype(np.float32)
    b1 = (rng.standard_normal(16) * 0.1).astype(np.float32)
    w2 = (rng.standard_normal((16, 4)) * 0.4).astype(np.float32)
    b2 = (rng.standard_normal(4) * 0.1).astype(np.float32)
    params = [w1.copy(), b1.copy(), w2.copy(), b2.copy()]
    specs = [{"kind": "dense", "units": 16, "kernel": params[0], "bias": params[1], "train_kernel": True,
              "train_bias": True, "activation": int(_C.Activation.elu), "alpha": 1.0},
             {"kind": "dense", "units": 4, "kernel": params[2], "bias": params[3], "train_kernel": True,
              "train_bias": True}, {"kind": "softmax"}]
    plan = _C.TrainPlan(specs, 6, 8)
    plan.bind_optimizer(int(_C.OptimizerKind.sgd), params, [[], [], [], []])
    ref = [p.astype(np.float64) for p in (w1, b1, w2, b2)]
    lr = 0.1
    for _ in range(3):
        plan.forward_backward(x, y)
        loss = float(plan.losses(8).mean())
        plan.update({"learning_rate": lr})
        a, c, d, e = ref
        z1 = x @ a + c
        h = np.where(z1 > 0, z1, np.expm1(z1))
        z2 = h @ d + e
        p = np.exp(z2 - z2.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        ref_loss = -np.log(p[np.arange(8), y]).mean()
        dz2 = (p - np.eye(4)[y]) / 8
        dh = dz2 @ d.T
        dz1 = dh * np.where(z1 > 0, 1.0, np.exp(z1))
        grads = [x.T @ dz1, dz1.sum(0), h.T @ dz2, dz2.sum(0)]
        assert abs(loss - ref_loss) < 1e-5
        ref = [r - lr * g for r, g in zip(ref, grads)]
    for got, want in zip(params, ref):
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def test_the_dropout_family_draws_the_tapes_masks(fashion):
    """Dropout, AlphaDropout, GaussianDropout and GaussianNoise in the plan: the same Philox
    draws as the tape (each layer's own stream, advanced once per step), forward and backward."""
    def make():
        return keras.Sequential([
            keras.layers.Flatten(input_shape=[28, 28]), keras.layers.Dropout(rate=0.2),
            keras.layers.Dense(64, activation="elu"), keras.layers.Dropout(rate=0.5, seed=3),
            keras.layers.Dense(48, activation="selu", kernel_initializer="lecun_normal"),
            keras.layers.AlphaDropout(rate=0.1),
            keras.layers.Dense(32, activation="relu"), keras.layers.GaussianDropout(0.3),
            keras.layers.Dense(24, activation="tanh"), keras.layers.GaussianNoise(0.1),
            keras.layers.Dropout(rate=0.0), keras.layers.Dense(10, activation="softmax")])
    _, plan = assert_same_training(make, fashion)
    assert plan.layers[1]._stream.step == 2 * 19  # one draw per step: 2 epochs of 19 batches


def test_mc_dropout_after_a_native_fit(fashion):
    """The chapter's MC Dropout on a model trained by the plan: the predictions are the tape-trained
    model's."""
    def make():
        return keras.Sequential([keras.layers.Flatten(input_shape=[28, 28]), keras.layers.Dropout(rate=0.2),
                                 keras.layers.Dense(50, activation="elu"), keras.layers.Dropout(rate=0.2),
                                 keras.layers.Dense(10, activation="softmax")])
    tape, plan = assert_same_training(make, fashion)
    x = fashion[0][:20]
    a = np.stack([tape(x, training=True) for _ in range(5)])
    b = np.stack([plan(x, training=True) for _ in range(5)])
    assert np.array_equal(a, b)


def test_a_noise_shape_keeps_the_tape(fashion):
    def make():
        return keras.Sequential([keras.layers.Flatten(input_shape=[28, 28]),
                                 keras.layers.Dropout(0.2, noise_shape=(None, 1), name="rows"),
                                 keras.layers.Dense(10, activation="softmax")])
    model, _ = _train(make, "auto", fashion, epochs=1)
    assert isinstance(model._native, NotNative) and "rows" in str(model._native)


def test_inputs_of_three_axes_without_a_flatten_keep_the_tape():
    """Dense on (batch, 1, 4) acts on the last axis and keeps the middle one: not the plan's
    rows × features, so those batches train on the tape (and as the tape does)."""
    rng = np.random.default_rng(2)
    x, y = rng.random((64, 1, 4), dtype=np.float32), rng.integers(0, 3, (64, 1))
    runs = []
    for jit in (False, "auto"):
        keras.utils.set_random_seed(4)
        model = keras.Sequential([keras.Input(shape=(1, 4)), keras.layers.Dense(3, activation="softmax")])
        model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", jit_compile=jit)
        runs.append(model.fit(x, y, epochs=2, verbose=0).history)
    assert runs[0] == runs[1]


def test_the_plan_counts_the_rows_its_output_classifies_right():
    """forward_backward's count against NumPy's argmax == label on the output it leaves: ties
    go to the first maximum, and a row holding a NaN to its first NaN, as NumPy's argmax does.
    The layer is an identity kernel, so the output is the chosen input (a NaN spreads over its
    row: NaN·0 is NaN)."""
    rows, classes = 16, 5
    rng = np.random.default_rng(3)
    x = rng.standard_normal((rows, classes)).astype(np.float32)
    x[1] = x[2] = 0.5                       # every class tied
    x[3, [0, 4]] = 9.0                      # two tied maxima
    x[4, 2], x[5, [1, 3]] = np.nan, np.nan  # NaN rows
    y = rng.integers(0, classes, rows)
    y[1], y[2], y[3], y[4], y[5] = 0, 3, 0, 0, 1
    eye = np.eye(classes, dtype=np.float32)
    plan = _C.TrainPlan([{"kind": "dense", "units": classes, "kernel": eye, "train_kernel": True}], classes, rows)
    for n in (rows, 7, 1):
        correct = plan.forward_backward(x[:n], y[:n])
        out = plan.output(n)
        assert np.array_equal(out[6:], x[6:n]) and np.isnan(out[4:6]).all()
        assert correct == int((np.argmax(out, axis=-1) == y[:n]).sum())
    assert plan.forward_backward(x[1:6], y[1:6]) == 3  # rows 1, 3 and 4: the first maximum, or NaN
    bias = np.array([0, 0, np.nan, 0, np.nan], np.float32)  # column 2 holds the first NaN of each row
    plan = _C.TrainPlan([{"kind": "dense", "units": classes, "kernel": eye, "bias": bias}], classes, rows)
    y[6:] = 2
    assert plan.forward_backward(x[6:], y[6:]) == rows - 6


def test_metrics_other_than_accuracy_update_from_the_output(fashion):
    from fastdnn.metrics import SparseTopKCategoricalAccuracy
    tape, plan = assert_same_training(
        bn_after_activation, fashion,
        lambda: {"metrics": ["accuracy", SparseTopKCategoricalAccuracy(k=3)]})
    assert plan._native.accuracy is None
    _, plan = assert_same_training(bn_after_activation, fashion)
    assert [m.name for m in plan._native.accuracy] == ["accuracy"]
