"""fastdnn.callbacks: the order hooks are called in, History, ProgbarLogger and LambdaCallback.

`fit`, `evaluate` and `predict` below are tiny stand-ins for the model's loops: they follow the
calling sequence that fastdnn's Model must follow (the one of Keras 3), on a fake model that has
only what callbacks may rely on: `stop_training`, `get_weights` and `set_weights`.
"""

import io
import re
import sys

import numpy as np
import pytest

from fastdnn.callbacks import Callback, CallbackList, History, LambdaCallback, ProgbarLogger
from fastdnn.utils import progbar as progbar_module


class FakeModel:
    def __init__(self):
        self.stop_training = False
        self._weights = [np.zeros(2)]

    def get_weights(self):
        return [w.copy() for w in self._weights]

    def set_weights(self, weights):
        self._weights = [np.array(w) for w in weights]


def batch_loss(epoch, step):
    """Losses 1, 0.5 in epoch 0; 0.5, 0.25 in epoch 1; ...: exact in binary."""
    return 2.0 ** -(epoch + step)


def evaluate(model, callbacks=None, steps=1, verbose=0, loss=0.25):
    """Evaluate's loop; inside fit it gets fit's CallbackList, so ProgbarLogger stays silent."""
    if not isinstance(callbacks, CallbackList):
        callbacks = CallbackList(callbacks, add_progbar=verbose != 0, model=model,
                                 verbose=verbose, epochs=1, steps=steps)
    callbacks.on_test_begin()
    for step in range(steps):
        callbacks.on_test_batch_begin(step)
        callbacks.on_test_batch_end(step, {"loss": np.float32(loss)})  # running average
    logs = {"loss": loss}
    callbacks.on_test_end(logs)
    return logs


def predict(model, callbacks=None, steps=2, verbose=0):
    callbacks = CallbackList(callbacks, add_progbar=verbose != 0, model=model,
                             verbose=verbose, epochs=1, steps=steps)
    callbacks.on_predict_begin()
    outputs = []
    for step in range(steps):
        callbacks.on_predict_batch_begin(step)
        outputs.append(np.full((3, 1), step))
        callbacks.on_predict_batch_end(step, {"outputs": outputs[-1]})
    callbacks.on_predict_end()
    return np.concatenate(outputs)


def fit(model, callbacks=None, epochs=3, steps=2, verbose=0, validation_steps=0):
    callbacks = CallbackList(callbacks, add_history=True, add_progbar=verbose != 0,
                             model=model, verbose=verbose, epochs=epochs, steps=steps)
    model.stop_training = False
    callbacks.on_train_begin()
    training_logs = None
    for epoch in range(epochs):
        callbacks.on_epoch_begin(epoch)
        total = 0.0
        for step in range(steps):
            callbacks.on_train_batch_begin(step)
            total += batch_loss(epoch, step)
            # Batch logs hold running averages over the epoch, as NumPy scalars here.
            callbacks.on_train_batch_end(step, {"loss": np.float32(total / (step + 1))})
            if model.stop_training:
                break
        epoch_logs = {"loss": total / (step + 1)}
        if validation_steps:
            val_logs = evaluate(model, callbacks, steps=validation_steps)
            epoch_logs.update({"val_" + name: value for name, value in val_logs.items()})
        callbacks.on_epoch_end(epoch, epoch_logs)
        training_logs = epoch_logs
        if model.stop_training:
            break
    callbacks.on_train_end(training_logs)
    return model.history


HOOKS = ["on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
         "on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end",
         "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
         "on_predict_begin", "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end"]


class Recorder(Callback):
    """Records (tag, hook, args) for every hook, then runs the base class's hook (so the train
    batch hooks still call their Keras 2 aliases)."""

    def __init__(self, log, tag):
        super().__init__()
        self.log, self.tag = log, tag


def _recording(name):
    def hook(self, *args, **kwargs):
        self.log.append((self.tag, name, args, kwargs))
        getattr(Callback, name)(self, *args, **kwargs)
    return hook


for _name in HOOKS:
    setattr(Recorder, _name, _recording(_name))


def test_hooks_cover_the_whole_callback_api():
    assert sorted(HOOKS) == sorted(n for n in vars(Callback) if n.startswith("on_"))


def test_every_hook_reaches_every_callback_in_order():
    log = []
    model = FakeModel()
    fit(model, [Recorder(log, "a"), Recorder(log, "b")], epochs=2, steps=2, validation_steps=1)
    evaluate(model, [Recorder(log, "a"), Recorder(log, "b")], steps=1)
    predict(model, [Recorder(log, "a"), Recorder(log, "b")], steps=1)

    batch = [("on_train_batch_begin", "on_batch_begin"), ("on_train_batch_end", "on_batch_end")]
    test = [("on_test_begin",), ("on_test_batch_begin",), ("on_test_batch_end",),
            ("on_test_end",)]
    epoch = [("on_epoch_begin",)] + batch * 2 + test + [("on_epoch_end",)]
    events = ([("on_train_begin",)] + epoch * 2 + [("on_train_end",)] + test
              + [("on_predict_begin",), ("on_predict_batch_begin",), ("on_predict_batch_end",),
                 ("on_predict_end",)])
    # Each event reaches a first, then b; an alias runs within its callback's own hook.
    expected = [(tag, name) for event in events for tag in "ab" for name in event]
    assert [(tag, name) for tag, name, _, _ in log] == expected


def test_hook_arguments():
    log = []
    fit(FakeModel(), [Recorder(log, "a")], epochs=2, steps=2, validation_steps=1)
    calls = [(name, args, kwargs) for _, name, args, kwargs in log]
    assert calls[0] == ("on_train_begin", ({},), {})
    assert [args for name, args, _ in calls if name == "on_epoch_begin"] == [(0, {}), (1, {})]
    ends = [(args, kwargs) for name, args, kwargs in calls if name == "on_train_batch_end"]
    # Batch logs arrive as Python floats, not NumPy scalars; batch is passed by position and
    # logs by keyword, as Keras does.
    assert ends[1] == ((1,), {"logs": {"loss": 0.75}})
    assert type(ends[1][1]["logs"]["loss"]) is float
    epoch_end = [args for name, args, _ in calls if name == "on_epoch_end"]
    assert epoch_end == [(0, {"loss": 0.75, "val_loss": 0.25}),
                         (1, {"loss": 0.375, "val_loss": 0.25})]
    assert calls[-1] == ("on_train_end", ({"loss": 0.375, "val_loss": 0.25},), {})


def test_batch_logs_are_sorted_by_name():
    seen = []
    cb = LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(list(logs)))
    CallbackList([cb]).on_train_batch_end(0, {"loss": 1.0, "accuracy": np.float64(0.5)})
    assert seen == [["accuracy", "loss"]]


def test_on_batch_aliases_are_called_by_the_train_batch_hooks():
    class Keras2Style(Callback):
        def __init__(self):
            super().__init__()
            self.begins, self.ends = [], []

        def on_batch_begin(self, batch, logs=None):
            self.begins.append(batch)

        def on_batch_end(self, batch, logs=None):
            self.ends.append((batch, logs["loss"]))

    cb = Keras2Style()
    fit(FakeModel(), [cb], epochs=1, steps=3)
    assert cb.begins == [0, 1, 2]
    assert cb.ends == [(0, 1.0), (1, 0.75), (2, float(np.float32(1.75 / 3)))]


def test_model_and_params_reach_every_callback():
    model = FakeModel()
    a, b = Callback(), History()
    cbs = CallbackList([a, b], add_history=True, model=model, verbose=2, epochs=4, steps=5)
    assert a.model is model and b.model is model
    assert a.params == b.params == {"verbose": 2, "epochs": 4, "steps": 5}
    assert cbs.callbacks == [a, b]  # the History given is used, not a second one
    assert model.history is b


def test_history_collects_three_epochs():
    model = FakeModel()
    history = fit(model, epochs=3, steps=2, validation_steps=1)
    assert isinstance(history, History) and model.history is history
    assert history.epoch == [0, 1, 2]
    assert history.history == {"loss": [0.75, 0.375, 0.1875], "val_loss": [0.25] * 3}


def test_history_passed_to_two_fits_keeps_values_and_restarts_epochs():
    history = History()
    fit(FakeModel(), [history], epochs=2)
    fit(FakeModel(), [history], epochs=1)
    assert history.epoch == [0]
    assert history.history["loss"] == [0.75, 0.375, 0.75]


def test_stop_training_ends_fit_after_the_epoch():
    class StopAfterSecondEpoch(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.model.stop_training = True

    weights = []
    saver = LambdaCallback(on_train_end=lambda logs: weights.append(model.get_weights()))
    model = FakeModel()
    history = fit(model, [StopAfterSecondEpoch(), saver], epochs=5)
    assert history.epoch == [0, 1]
    assert len(weights) == 1 and np.array_equal(weights[0][0], np.zeros(2))


def progbar_output(capsys, monkeypatch, tty, run):
    """What `run()` prints, with stdout a fake terminal (tty=True) or a file/CI log."""
    monkeypatch.delenv("PYCHARM_HOSTED", raising=False)
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    stream = io.StringIO()
    stream.isatty = lambda: tty
    monkeypatch.setattr(sys, "stdout", stream)
    run()
    assert capsys.readouterr().out == ""
    return re.sub(r"\x1b\[[0-9;]*m", "", stream.getvalue())


FINAL = r"2/2 ━+ \d+s \d+[mu]?s/step - loss: {loss} - val_loss: 0\.2500\n"


def test_progbar_logger_verbose_1_not_a_terminal(capsys, monkeypatch):
    out = progbar_output(capsys, monkeypatch, False,
                         lambda: fit(FakeModel(), epochs=3, verbose=1, validation_steps=2))
    # Headers, then one final line per epoch with the epoch logs: no redraws, and no bar for
    # the validation batches.
    pattern = "".join(f"Epoch {i}/3\n" + FINAL.format(loss=loss)
                      for i, loss in [(1, r"0\.7500"), (2, r"0\.3750"), (3, r"0\.1875")])
    assert re.fullmatch(pattern, out), out


def test_progbar_logger_verbose_1_terminal_shows_running_averages(capsys, monkeypatch):
    ticks = iter(range(1, 100))  # a clock that advances 1 s per reading: every update redraws
    monkeypatch.setattr(progbar_module, "_clock", lambda: next(ticks))
    out = progbar_output(capsys, monkeypatch, True,
                         lambda: fit(FakeModel(), epochs=1, steps=2, verbose=1,
                                     validation_steps=1))
    bar = "━" * 30
    # One epoch, so no header. The batch logs are already running averages and are shown as
    # given (0.75 at step 2, not the mean 0.875 of 1 and 0.75); the last frame shows the
    # epoch logs, validation included, and the total time.
    assert out.split("\r") == ["", f"1/2 {bar} 1s 1s/step - loss: 1.0000",
                                f"2/2 {bar} 0s 1s/step - loss: 0.7500",
                                f"2/2 {bar} 3s 2s/step - loss: 0.7500 - val_loss: 0.2500\n"]


def test_progbar_logger_verbose_2_one_line_per_epoch(capsys, monkeypatch):
    out = progbar_output(capsys, monkeypatch, True,
                         lambda: fit(FakeModel(), epochs=3, verbose=2, validation_steps=1))
    lines = out.splitlines()
    assert lines[0::2] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    assert len(lines) == 6 and "\r" not in out
    assert re.fullmatch(r"2/2 - \d+s - \d+[mu]?s/step - loss: 0\.1875 - val_loss: 0\.2500",
                        lines[5])


def test_progbar_logger_verbose_0_prints_nothing(capsys, monkeypatch):
    out = progbar_output(capsys, monkeypatch, True,
                         lambda: fit(FakeModel(), epochs=2, verbose=0, validation_steps=1))
    assert out == ""
    # No ProgbarLogger is added for verbose=0, and one given explicitly stays silent.
    assert not any(isinstance(c, ProgbarLogger)
                   for c in CallbackList(add_progbar=True, verbose=0).callbacks)
    out = progbar_output(capsys, monkeypatch, True,
                         lambda: fit(FakeModel(), [ProgbarLogger()], epochs=2, verbose=0))
    assert out == ""


def test_progbar_logger_evaluate_and_predict_show_their_own_bar(capsys, monkeypatch):
    out = progbar_output(capsys, monkeypatch, False,
                         lambda: evaluate(FakeModel(), steps=3, verbose=1, loss=0.5))
    assert re.fullmatch(r"3/3 ━+ \d+s \d+[mu]?s/step - loss: 0\.5000\n", out), out
    out = progbar_output(capsys, monkeypatch, False,
                         lambda: predict(FakeModel(), steps=2, verbose=2))
    assert re.fullmatch(r"2/2 - \d+s - \d+[mu]?s/step\n", out), out  # no outputs shown


def test_progbar_logger_unknown_steps_learns_them_in_the_first_epoch(capsys, monkeypatch):
    def run():
        logger = ProgbarLogger()
        cbs = CallbackList([logger], verbose=2, epochs=2, steps=None)
        cbs.on_train_begin()
        for epoch in range(2):
            cbs.on_epoch_begin(epoch)
            for step in range(3):
                cbs.on_train_batch_end(step, {"loss": 1.0})
            cbs.on_epoch_end(epoch, {"loss": 1.0})
        cbs.on_train_end()
        assert logger.target == 3

    lines = progbar_output(capsys, monkeypatch, False, run).splitlines()
    assert [line.split(" ")[0] for line in lines[1::2]] == ["3/3", "3/3"]


def test_progbar_logger_reused_after_fit_shows_evaluate(capsys, monkeypatch):
    logger = ProgbarLogger()
    out = progbar_output(capsys, monkeypatch, False, lambda: (
        fit(FakeModel(), [logger], epochs=1, verbose=2, validation_steps=1),
        evaluate(FakeModel(), [logger], steps=1, verbose=2)))
    assert len(out.splitlines()) == 2  # the epoch line, then evaluate's line


def test_lambda_callback():
    calls = []
    cb = LambdaCallback(
        on_train_begin=lambda logs: calls.append("train_begin"),
        on_epoch_begin=lambda epoch, logs: calls.append(("epoch_begin", epoch)),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, logs["loss"])),
        on_train_batch_begin=lambda batch, logs: calls.append(("batch_begin", batch)),
        on_train_batch_end=lambda batch, logs: calls.append(("batch_end", batch)),
        on_train_end=lambda logs: calls.append("train_end"),
        on_test_end=lambda logs: calls.append(("test_end", logs["loss"])),  # any other hook
    )
    fit(FakeModel(), [cb], epochs=1, steps=2, validation_steps=1)
    assert calls == ["train_begin", ("epoch_begin", 0), ("batch_begin", 0), ("batch_end", 0),
                     ("batch_begin", 1), ("batch_end", 1), ("test_end", 0.25),
                     ("epoch_end", 0, 0.75), "train_end"]


def test_errors_say_what_was_received():
    with pytest.raises(ValueError, match=r"unknown hook `on_epoch_ends`"):
        LambdaCallback(on_epoch_ends=print)
    with pytest.raises(TypeError, match=r"Received: <class .*History"):
        CallbackList([History])


def test_fit_calls_batch_hooks_only_when_a_callback_overrides_them():
    import numpy as np

    import fastdnn as keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=[3]), keras.layers.Dense(2, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    x, y = np.random.rand(40, 3).astype(np.float32), np.random.randint(0, 2, 40)
    seen = []

    class LegacyBatchEnd(keras.callbacks.Callback):  # the Keras 2 spelling
        def on_batch_end(self, batch, logs=None):
            seen.append((batch, sorted(logs)))

    assert not keras.callbacks.CallbackList([keras.callbacks.History()]).wants_train_batches
    assert keras.callbacks.CallbackList([LegacyBatchEnd()]).wants_train_batches
    model.fit(x, y, batch_size=10, epochs=1, verbose=0, callbacks=[LegacyBatchEnd()])
    assert seen == [(b, ["accuracy", "loss"]) for b in range(4)]
