"""Training callbacks: LearningRateScheduler, ReduceLROnPlateau, EarlyStopping, OneCycleScheduler,
ModelCheckpoint, TerminateOnNaN, CSVLogger, and the learning rate that History records.

Each is driven directly with crafted logs (exact expectations), and once through a real `fit` of
a small softmax classifier on separable blobs.
"""

import csv
import math
import os

import numpy as np
import pytest

import fastdnn as keras
from fastdnn.callbacks import (CSVLogger, EarlyStopping, History, LambdaCallback,
                               LearningRateScheduler, ModelCheckpoint, OneCycleScheduler,
                               ReduceLROnPlateau, TerminateOnNaN)
from fastdnn.schedules import ExponentialDecay

N, BATCH = 256, 32
STEPS = N // BATCH


def blobs(seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, N)
    x = rng.normal(size=(N, 8)) + 4 * np.eye(3, 8)[y]
    return x.astype(np.float32), y


def small_model(learning_rate=0.01, momentum=0.9):
    model = keras.Sequential([keras.Input(shape=[8]),
                              keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  optimizer=keras.optimizers.SGD(learning_rate=learning_rate, momentum=momentum))
    return model


class FakeOptimizer:
    def __init__(self, learning_rate=0.01, **attributes):
        self.learning_rate = learning_rate
        self.iterations = 0
        vars(self).update(attributes)


class FakeModel:
    """What the callbacks may rely on: an optimizer, stop_training and the weights."""

    def __init__(self, optimizer=None):
        self.optimizer = optimizer or FakeOptimizer()
        self.stop_training = False
        self.weights = [np.zeros(3)]

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.array(w) for w in weights]


def attach(callback, model):
    callback.set_model(model)
    callback.set_params({"verbose": 0, "epochs": 10, "steps": STEPS})
    return callback


# ---- History and the learning rate --------------------------------------------------------------

def test_history_records_the_learning_rate_of_a_plain_fit():
    x, y = blobs()
    history = small_model(learning_rate=0.02).fit(x, y, epochs=2, batch_size=BATCH, verbose=0)
    assert history.history["learning_rate"] == [0.02, 0.02]
    assert set(history.history) == {"loss", "accuracy", "learning_rate"}


def test_history_evaluates_a_schedule_at_the_step_count_and_keeps_logged_rates():
    schedule = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    model = FakeModel(FakeOptimizer(schedule))
    history = attach(History(), model)
    history.on_train_begin()
    model.optimizer.iterations = 10
    history.on_epoch_end(0, {"loss": 1.0})
    model.optimizer.iterations = 20
    history.on_epoch_end(1, {"loss": 0.5, "learning_rate": 0.3})  # logged by a callback: kept
    assert history.history == {"loss": [1.0, 0.5], "learning_rate": [0.05, 0.3]}
    no_optimizer = History()
    no_optimizer.on_epoch_end(0, {"loss": 1.0})
    assert no_optimizer.history == {"loss": [1.0]}


# ---- LearningRateScheduler ----------------------------------------------------------------------

def exponential_decay_fn(epoch):  # the book's
    return 0.01 * 0.1 ** (epoch / 20)


def test_learning_rate_scheduler_with_epoch_only_schedule():
    x, y = blobs()
    model = small_model()
    history = model.fit(x, y, epochs=3, batch_size=BATCH, verbose=0,
                        callbacks=[LearningRateScheduler(exponential_decay_fn)])
    expected = [exponential_decay_fn(e) for e in range(3)]
    assert history.history["learning_rate"] == expected
    assert model.optimizer.learning_rate == expected[-1]
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_learning_rate_scheduler_with_epoch_and_lr_schedule(capsys):
    x, y = blobs()
    model = small_model(learning_rate=0.04)
    seen = []

    def halve(epoch, lr):
        seen.append((epoch, lr))
        return lr * 0.5

    history = model.fit(x, y, epochs=3, batch_size=BATCH, verbose=0,
                        callbacks=[LearningRateScheduler(halve, verbose=1)])
    assert seen == [(0, 0.04), (1, 0.02), (2, 0.01)]
    assert history.history["learning_rate"] == [0.02, 0.01, 0.005]
    assert model.optimizer.learning_rate == 0.005
    assert "Epoch 3: LearningRateScheduler setting learning rate to 0.005." in capsys.readouterr().out


def test_learning_rate_scheduler_arity_and_errors():
    model = FakeModel(FakeOptimizer(0.1))
    attach(LearningRateScheduler(lambda epoch, lr=None: 0.5 if lr is None else lr / 2),
           model).on_epoch_begin(0)
    assert model.optimizer.learning_rate == 0.05  # a defaulted second parameter gets lr

    def broken(epoch, lr):  # a TypeError inside the schedule is not mistaken for arity
        raise TypeError("bug inside the schedule")

    with pytest.raises(TypeError, match="bug inside"):
        attach(LearningRateScheduler(broken), model).on_epoch_begin(0)
    with pytest.raises(ValueError, match="should be a float"):
        attach(LearningRateScheduler(lambda epoch: "0.1"), model).on_epoch_begin(0)
    with pytest.raises(ValueError, match="expected a function"):
        LearningRateScheduler(0.1)
    scheduled = FakeModel(FakeOptimizer(ExponentialDecay(0.1, 10, 0.5)))
    with pytest.raises(TypeError, match="not settable"):
        attach(LearningRateScheduler(exponential_decay_fn), scheduled).on_epoch_begin(0)
    with pytest.raises(ValueError, match='"learning_rate" attribute'):
        attach(LearningRateScheduler(exponential_decay_fn), object()).on_epoch_begin(0)


# ---- ReduceLROnPlateau --------------------------------------------------------------------------

def drive(callback, model, monitor_values, monitor="val_loss"):
    """Calls on_train_begin, then on_epoch_end with each value; returns the logs."""
    attach(callback, model).on_train_begin()
    all_logs = []
    for epoch, value in enumerate(monitor_values):
        logs = {"loss": 1.0, monitor: value}
        callback.on_epoch_end(epoch, logs)
        all_logs.append(logs)
    return all_logs


def test_reduce_lr_on_plateau_after_patience():
    model = FakeModel(FakeOptimizer(0.01))
    callback = ReduceLROnPlateau(factor=0.5, patience=2)
    logs = drive(callback, model, [1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.8])
    # Improvements at epochs 0, 1 and 7; waits 1, 2 (reduce), 1, 2 (reduce), 1 in between.
    assert [entry["learning_rate"] for entry in logs] == \
        [0.01, 0.01, 0.01, 0.01, 0.005, 0.005, 0.0025, 0.0025]
    assert model.optimizer.learning_rate == 0.0025 and callback.best == 0.8


def test_reduce_lr_on_plateau_min_delta_cooldown_min_lr_and_mode():
    model = FakeModel(FakeOptimizer(1.0))
    # min_delta: 0.95 is not an improvement on 1.0 with min_delta=0.1.
    drive(ReduceLROnPlateau(factor=0.1, patience=1, min_delta=0.1), model, [1.0, 0.95])
    assert model.optimizer.learning_rate == pytest.approx(0.1)

    model = FakeModel(FakeOptimizer(1.0))
    logs = drive(ReduceLROnPlateau(factor=0.5, patience=1, cooldown=2, min_lr=0.2), model,
                 [1.0] * 8)
    # As Keras: reduce at epoch 1; the cooldown counts down at epochs 2 and 3, and the wait
    # starts again within epoch 3, so the next reductions are at epochs 3 and 5 (to min_lr).
    assert [entry["learning_rate"] for entry in logs] == \
        [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.2, 0.2]
    assert model.optimizer.learning_rate == 0.2

    model = FakeModel(FakeOptimizer(1.0))  # "acc" in the name: maximized in auto mode
    drive(ReduceLROnPlateau(monitor="val_accuracy", factor=0.5, patience=1), model,
          [0.5, 0.6, 0.7, 0.7], monitor="val_accuracy")
    assert model.optimizer.learning_rate == 0.5

    with pytest.raises(ValueError, match="factor >= 1.0"):
        ReduceLROnPlateau(factor=1.0)
    with pytest.warns(UserWarning, match="`val_loss` which is not available"):
        attach(ReduceLROnPlateau(), model).on_epoch_end(0, {"loss": 1.0})
    with pytest.warns(UserWarning, match="mode sideways is unknown"):
        assert ReduceLROnPlateau(mode="sideways").mode == "auto"


def test_reduce_lr_on_plateau_through_fit():
    x, y = blobs()
    model = small_model(learning_rate=0.01)
    # No change in the loss is big enough to count: the rate halves every epoch after the first.
    callback = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=1e9)
    history = model.fit(x, y, epochs=4, batch_size=BATCH, verbose=0, callbacks=[callback])
    assert history.history["learning_rate"] == [0.01, 0.01, 0.005, 0.0025]
    assert model.optimizer.learning_rate == 0.00125


# ---- EarlyStopping ------------------------------------------------------------------------------

def run_epochs(callback, model, monitor_values, monitor="val_loss"):
    """Sets the model's weights to a value per epoch, then ends the epoch with the monitor value;
    stops like fit when the callback asks. Returns the weights of every epoch and the number run."""
    attach(callback, model)
    model.stop_training = False
    callback.on_train_begin()
    weights_per_epoch = []
    for epoch, value in enumerate(monitor_values):
        weights = [np.full_like(w, epoch + 1.0) for w in model.get_weights()]
        model.set_weights(weights)
        weights_per_epoch.append(weights)
        callback.on_epoch_end(epoch, {"loss": 1.0, monitor: value})
        if model.stop_training:
            break
    callback.on_train_end()
    return weights_per_epoch, epoch + 1


def assert_weights_equal(actual, expected):
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        np.testing.assert_array_equal(a, e)


def test_early_stopping_restores_the_best_weights_of_a_real_model():
    model = small_model()
    callback = EarlyStopping(patience=2, restore_best_weights=True)
    weights, epochs_run = run_epochs(callback, model, [1.0, 0.5, 0.7, 0.8, 0.9, 0.1])
    assert epochs_run == 4 and model.stop_training and callback.stopped_epoch == 3
    assert callback.best == 0.5 and callback.best_epoch == 1
    assert_weights_equal(model.get_weights(), weights[1])


def test_early_stopping_without_restore_keeps_the_last_weights(capsys):
    model = small_model()
    callback = EarlyStopping(patience=1, verbose=1)
    weights, epochs_run = run_epochs(callback, model, [1.0, 1.0, 1.0])
    assert epochs_run == 2
    assert_weights_equal(model.get_weights(), weights[-1])
    assert "Epoch 2: early stopping" in capsys.readouterr().out


def test_early_stopping_min_delta_baseline_start_and_mode():
    # min_delta: 0.95 does not improve on 1.0 by 0.1.
    _, epochs_run = run_epochs(EarlyStopping(min_delta=0.1, patience=1), FakeModel(),
                               [1.0, 0.95, 0.0])
    assert epochs_run == 2
    # baseline: improving on the best but not on the baseline does not reset the wait, so the
    # first epoch without improvement stops (as Keras 3: an improving epoch never stops).
    values = [1.0, 0.9, 0.8, 0.7, 0.7, 0.7]
    callback = EarlyStopping(patience=3, baseline=0.5)
    _, epochs_run = run_epochs(callback, FakeModel(), values)
    assert epochs_run == 5 and callback.stopped_epoch == 4
    callback = EarlyStopping(patience=3)
    _, epochs_run = run_epochs(callback, FakeModel(), values)
    assert epochs_run == 6 and callback.stopped_epoch == 0
    # start_from_epoch: the first epochs are not watched.
    callback = EarlyStopping(patience=1, start_from_epoch=2)
    _, epochs_run = run_epochs(callback, FakeModel(), [0.1, 0.2, 0.3, 0.4, 0.5])
    assert epochs_run == 4 and callback.best == 0.3
    # auto mode maximizes accuracies.
    callback = EarlyStopping(monitor="val_accuracy", patience=1)
    _, epochs_run = run_epochs(callback, FakeModel(), [0.5, 0.6, 0.7, 0.6, 0.9],
                               monitor="val_accuracy")
    assert epochs_run == 4 and callback.best == 0.7
    # An explicit mode beats the name.
    _, epochs_run = run_epochs(EarlyStopping(monitor="val_loss", mode="max", patience=1),
                               FakeModel(), [1.0, 2.0, 3.0, 1.0])
    assert epochs_run == 4
    with pytest.raises(ValueError, match="mode='max'"):
        run_epochs(EarlyStopping(monitor="val_widgets"), FakeModel(), [1.0],
                   monitor="val_widgets")
    with pytest.warns(UserWarning, match="`val_loss` which is not available"):
        attach(EarlyStopping(), FakeModel()).on_epoch_end(0, {"loss": 1.0})


def test_early_stopping_through_fit():
    x, y = blobs()
    model = small_model()
    saved = []
    record = LambdaCallback(on_epoch_end=lambda epoch, logs: saved.append(model.get_weights()))
    stopper = EarlyStopping(monitor="loss", min_delta=1e9, patience=2, restore_best_weights=True)
    history = model.fit(x, y, epochs=10, batch_size=BATCH, verbose=0, callbacks=[record, stopper])
    assert history.epoch == [0, 1, 2] and stopper.stopped_epoch == 2
    assert_weights_equal(model.get_weights(), saved[0])


# ---- OneCycleScheduler --------------------------------------------------------------------------

def one_cycle_reference(iterations, max_rate, start_rate, last_iterations, last_rate,
                        max_momentum=0.95, min_momentum=0.85):
    """The 1cycle schedule as straight lines between its corners, through np.interp."""
    half = (iterations - last_iterations) // 2
    t = np.arange(iterations + 5, dtype=np.float64)
    if half > 0:
        rates = np.interp(t, [0, half, 2 * half, iterations],
                          [start_rate, max_rate, start_rate, last_rate])
        momenta = np.interp(t, [0, half, 2 * half], [max_momentum, min_momentum, max_momentum])
    else:
        rates = np.interp(t, [0, iterations], [start_rate, last_rate])
        momenta = np.full_like(t, max_momentum)
    return rates, momenta


@pytest.mark.parametrize("iterations, kwargs, corners", [
    (100, {}, (0.01, 11, 0.00001)),
    (37, {"start_rate": 0.02, "last_iterations": 5, "last_rate": 0.001}, (0.02, 5, 0.001)),
    (1, {}, (0.01, 1, 0.00001)),
])
def test_one_cycle_trajectory_matches_the_closed_form(iterations, kwargs, corners):
    start_rate, last_iterations, last_rate = corners
    model = FakeModel(FakeOptimizer(0.5, momentum=0.9))
    callback = attach(OneCycleScheduler(iterations, max_rate=0.1, **kwargs), model)
    callback.on_train_begin()
    rates, momenta = [], []
    for batch in range(iterations + 5):
        callback.on_train_batch_begin(batch)
        rates.append(model.optimizer.learning_rate)
        momenta.append(model.optimizer.momentum)
    expected_rates, expected_momenta = one_cycle_reference(iterations, 0.1, start_rate,
                                                           last_iterations, last_rate)
    np.testing.assert_allclose(rates, expected_rates, rtol=1e-12)
    np.testing.assert_allclose(momenta, expected_momenta, rtol=1e-12)
    assert callback.iteration == iterations + 5
    if iterations == 100:
        assert max(rates) == pytest.approx(0.1) and min(momenta) == pytest.approx(0.85)


def test_one_cycle_momentum_attribute_choice():
    adam_like = FakeModel(FakeOptimizer(0.001, beta_1=0.9))
    callback = attach(OneCycleScheduler(20, max_rate=0.01), adam_like)
    callback.on_train_begin()
    callback.on_train_batch_begin(0)
    assert adam_like.optimizer.beta_1 == 0.95 and adam_like.optimizer.learning_rate == 0.001
    plain_sgd = FakeModel(FakeOptimizer(0.001, momentum=0.0))
    callback = attach(OneCycleScheduler(20, max_rate=0.01), plain_sgd)
    callback.on_train_begin()
    callback.on_train_batch_begin(0)
    assert plain_sgd.optimizer.momentum == 0.0  # plain SGD stays plain
    fixed = FakeModel(FakeOptimizer(0.001, momentum=0.9))
    callback = attach(OneCycleScheduler(20, max_rate=0.01, max_momentum=None), fixed)
    callback.on_train_begin()
    callback.on_train_batch_begin(0)
    assert fixed.optimizer.momentum == 0.9
    # The book's 3rd-edition names.
    assert OneCycleScheduler(20, max_lr=0.3).max_rate == 0.3


def test_one_cycle_argument_errors():
    with pytest.raises(ValueError, match="iterations=0"):
        OneCycleScheduler(0, max_rate=0.1)
    with pytest.raises(ValueError, match="max_rate=-0.1"):
        OneCycleScheduler(10, max_rate=-0.1)
    with pytest.raises(ValueError, match="last_iterations=11"):
        OneCycleScheduler(10, max_rate=0.1, last_iterations=11)


def test_one_cycle_through_fit():
    x, y = blobs()
    model = small_model(learning_rate=0.5, momentum=0.9)
    epochs = 3
    iterations = math.ceil(N / BATCH) * epochs
    onecycle = OneCycleScheduler(iterations, max_rate=0.05)
    seen = []
    record = LambdaCallback(on_train_batch_begin=lambda batch, logs: seen.append(
        (float(model.optimizer.learning_rate), model.optimizer.momentum)))
    history = model.fit(x, y, epochs=epochs, batch_size=BATCH, verbose=0,
                        callbacks=[onecycle, record])
    rates, momenta = one_cycle_reference(iterations, 0.05, 0.005, iterations // 10 + 1,
                                         0.000005)
    np.testing.assert_allclose([r for r, _ in seen], rates[:iterations], rtol=1e-12)
    np.testing.assert_allclose([m for _, m in seen], momenta[:iterations], rtol=1e-12)
    assert history.history["learning_rate"][-1] == pytest.approx(rates[iterations - 1])
    assert history.history["loss"][-1] < history.history["loss"][0]


# ---- ModelCheckpoint ----------------------------------------------------------------------------

def load(path):
    return keras.models.load_model(path).get_weights()


def test_model_checkpoint_every_epoch_with_formatted_names(tmp_path):
    x, y = blobs()
    model = small_model()
    saved = []
    record = LambdaCallback(on_epoch_end=lambda epoch, logs: saved.append(model.get_weights()))
    checkpoint = ModelCheckpoint(str(tmp_path / "ckpt_{epoch:02d}_{loss:.2f}.weights.npz"))
    history = model.fit(x, y, epochs=3, batch_size=BATCH, verbose=0,
                        callbacks=[record, checkpoint])
    names = [f"ckpt_{e + 1:02d}_{history.history['loss'][e]:.2f}.weights.npz" for e in range(3)]
    assert sorted(os.listdir(tmp_path)) == sorted(names)
    for name, weights in zip(names, saved):
        assert_weights_equal(load(tmp_path / name), weights)
    assert_weights_equal(load(tmp_path / names[-1]), model.get_weights())


def test_model_checkpoint_save_best_only(tmp_path, capsys):
    path = tmp_path / "best.npz"
    model = small_model()
    checkpoint = ModelCheckpoint(path, save_best_only=True, verbose=1)
    weights, _ = run_epochs(checkpoint, model, [1.0, 0.5, 0.7, 0.4, 0.45])
    assert_weights_equal(load(path), weights[3])
    out = capsys.readouterr().out
    assert "val_loss improved from 0.50000 to 0.40000" in out
    assert "Epoch 5: val_loss did not improve from 0.40000" in out
    assert os.listdir(tmp_path) == ["best.npz"]

    path = tmp_path / "best_acc.npz"  # auto mode maximizes accuracy
    weights, _ = run_epochs(ModelCheckpoint(path, monitor="val_accuracy", save_best_only=True),
                            model, [0.5, 0.9, 0.7], monitor="val_accuracy")
    assert_weights_equal(load(path), weights[1])

    path = tmp_path / "threshold.npz"  # nothing beats initial_value_threshold: nothing saved
    run_epochs(ModelCheckpoint(path, save_best_only=True, initial_value_threshold=0.1),
               model, [1.0, 0.5])
    assert not path.exists()

    checkpoint = attach(ModelCheckpoint(tmp_path / "never.npz", save_best_only=True), model)
    with pytest.warns(UserWarning, match="only with val_loss available, skipping"):
        checkpoint.on_epoch_end(0, {"loss": 1.0})
    assert not (tmp_path / "never.npz").exists()


def test_model_checkpoint_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    model = small_model()
    checkpoint = attach(ModelCheckpoint(path), model)
    checkpoint.on_epoch_end(0, {"loss": 1.0})
    before = model.get_weights()
    assert_weights_equal(load(path), before)

    def crash(src, dst):
        assert os.path.dirname(src) == os.path.dirname(dst)  # same directory: rename is atomic
        assert os.path.getsize(src) > 0
        raise OSError("disk unplugged")

    model.set_weights([w + 1 for w in before])
    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk unplugged"):
        checkpoint.on_epoch_end(1, {"loss": 1.0})
    assert os.listdir(tmp_path) == ["model.npz"]  # temporary file removed
    assert_weights_equal(load(path), before)  # the previous checkpoint is intact

    fresh = tmp_path / "sub" / "first.npz"
    with pytest.raises(OSError, match="disk unplugged"):
        attach(ModelCheckpoint(fresh), model).on_epoch_end(0, {"loss": 1.0})
    assert os.listdir(tmp_path / "sub") == []  # no partial target, no temporary file
    monkeypatch.undo()
    attach(ModelCheckpoint(fresh), model).on_epoch_end(0, {"loss": 1.0})
    assert_weights_equal(load(fresh), model.get_weights())


def test_model_checkpoint_save_freq_in_batches_and_errors(tmp_path):
    x, y = blobs()
    model = small_model()
    checkpoint = ModelCheckpoint(str(tmp_path / "e{epoch}_b{batch}.npz"), save_freq=3)
    model.fit(x, y, epochs=2, batch_size=BATCH, verbose=0, callbacks=[checkpoint])
    # 8 batches per epoch; the count runs across epochs: batches 3, 6 | 1, 4, 7.
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["e1_b3.npz", "e1_b6.npz", "e2_b1.npz", "e2_b4.npz", "e2_b7.npz"])
    with pytest.raises(ValueError, match="Unrecognized save_freq"):
        ModelCheckpoint("x.npz", save_freq="batch")
    with pytest.raises(KeyError, match="Failed to format this callback filepath"):
        attach(ModelCheckpoint(str(tmp_path / "{val_auc}.npz")), model).on_epoch_end(0, {})


# ---- TerminateOnNaN -----------------------------------------------------------------------------

def test_terminate_on_nan_stops_a_diverging_fit(capsys):
    x, y = blobs()
    model = small_model(learning_rate=1e30)
    losses = []
    record = LambdaCallback(on_train_batch_end=lambda batch, logs: losses.append(logs["loss"]))
    history = model.fit(x, y, epochs=5, batch_size=BATCH, verbose=0,
                        callbacks=[record, TerminateOnNaN()])
    assert history.epoch == [0]  # stopped within the first epoch
    assert not math.isfinite(losses[-1]) and all(math.isfinite(v) for v in losses[:-1])
    assert len(losses) < STEPS
    assert "Invalid loss, terminating training" in capsys.readouterr().out


@pytest.mark.parametrize("loss, stops", [(float("nan"), True), (float("inf"), True),
                                         (-float("inf"), True), (1e30, False)])
def test_terminate_on_nan_with_crafted_logs(loss, stops):
    model = FakeModel()
    callback = attach(TerminateOnNaN(), model)
    callback.on_train_batch_end(0, {"loss": loss})
    assert model.stop_training is stops
    callback.on_train_batch_end(1, {})  # no loss: nothing happens


# ---- CSVLogger ----------------------------------------------------------------------------------

def read_rows(path, separator=","):
    with open(path, newline="") as f:
        return list(csv.reader(f, delimiter=separator))


def test_csv_logger_writes_sorted_keys_each_epoch(tmp_path):
    x, y = blobs()
    path = tmp_path / "training.log"
    model = small_model()
    flushed = []
    logger = CSVLogger(path)
    peek = LambdaCallback(on_epoch_end=lambda epoch, logs: flushed.append(len(read_rows(path))))
    history = model.fit(x, y, epochs=3, batch_size=BATCH, verbose=0, validation_data=(x, y),
                        callbacks=[logger, peek])
    rows = read_rows(path)
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert flushed == [2, 3, 4]  # header and one row per epoch, on disk at each epoch's end
    for epoch, row in enumerate(rows[1:]):
        assert row[0] == str(epoch)
        for name, value in zip(rows[0][1:], row[1:]):
            assert float(value) == history.history[name][epoch]


def test_csv_logger_append_separator_and_missing_values(tmp_path):
    path = tmp_path / "log.tsv"
    model = FakeModel()
    for run in range(2):
        logger = attach(CSVLogger(path, separator="\t", append=True), model)
        logger.on_train_begin()
        logger.on_epoch_end(0, {"loss": 0.5 / (run + 1), "accuracy": 0.25})
        logger.on_epoch_end(1, {"loss": 0.125})
        logger.on_train_end()
    rows = read_rows(path, "\t")
    # Without val_ entries, val_ columns are added (as in Keras) and missing values are "NA".
    assert rows == [["epoch", "accuracy", "loss", "val_accuracy", "val_loss"],
                    ["0", "0.25", "0.5", "NA", "NA"], ["1", "NA", "0.125", "NA", "NA"],
                    ["0", "0.25", "0.25", "NA", "NA"], ["1", "NA", "0.125", "NA", "NA"]]
    overwrite = attach(CSVLogger(path), model)
    overwrite.on_train_begin()
    overwrite.on_epoch_end(0, {"val_loss": 2.0})
    overwrite.on_train_end()
    assert read_rows(path) == [["epoch", "val_loss"], ["0", "2.0"]]


# ---- the chapter's code -------------------------------------------------------------------------

def test_chapter_11_scheduling_snippets_run():
    x, y = blobs()

    def piecewise_constant_fn(epoch):
        if epoch < 1:
            return 0.01
        elif epoch < 2:
            return 0.005
        else:
            return 0.001

    for callback, expected in [
            (keras.callbacks.LearningRateScheduler(exponential_decay_fn),
             [exponential_decay_fn(e) for e in range(3)]),
            (keras.callbacks.LearningRateScheduler(piecewise_constant_fn), [0.01, 0.005, 0.001]),
            (keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=5), [0.01] * 3)]:
        model = small_model()
        history = model.fit(x, y, epochs=3, batch_size=BATCH, verbose=0, callbacks=[callback],
                            validation_data=(x, y))
        assert history.history["learning_rate"] == expected


def test_epoch_timer_times_training_steps_without_validation():
    import time as _time

    import numpy as np

    import fastdnn as keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=[3]), keras.layers.Dense(2, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    x, y = np.random.rand(40, 3).astype(np.float32), np.random.randint(0, 2, 40)

    class SlowValidation(keras.callbacks.Callback):
        def on_test_end(self, logs=None):
            _time.sleep(0.2)

    timer = keras.callbacks.EpochTimer()
    model.fit(x, y, epochs=2, verbose=0, validation_data=(x, y), callbacks=[timer, SlowValidation()])
    assert len(timer.times) == 2 and all(0 < t < 0.15 for t in timer.times)
    assert not keras.callbacks.CallbackList([timer]).wants_train_batches  # no per-batch cost
