"""Training faults: a process killed while writing a checkpoint leaves the previous file whole."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import fastdnn

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

# A child that trains a model with 3M weights and checkpoints every epoch; a callback placed
# before ModelCheckpoint sets every weight to the epoch number, so each complete file holds one
# constant and a torn one would mix values or miss arrays.
CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    import fastdnn as keras

    path = sys.argv[1]
    model = keras.models.Sequential([keras.layers.Input(shape=(1000,)),
                                     keras.layers.Dense(3000), keras.layers.Dense(10)])
    model.compile(loss="mse", optimizer="sgd")

    def stamp(epoch, logs):
        model.set_weights([np.full(w.shape, epoch, np.float32) for w in model.get_weights()])
        if epoch == 1:
            print("first file written", flush=True)

    x, y = np.zeros((1, 1000), np.float32), np.zeros((1, 10), np.float32)
    model.fit(x, y, epochs=100000, verbose=0, callbacks=[
        keras.callbacks.LambdaCallback(on_epoch_end=stamp),
        keras.callbacks.ModelCheckpoint(path, save_weights_only=True)])
""")


def test_sigkill_while_checkpointing_leaves_a_whole_file(tmp_path):
    path = tmp_path / "weights.fdnn"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    leftovers = 0
    delays = np.random.default_rng(0).uniform(0.02, 0.3, 30)
    for trial, delay in enumerate(delays):
        child = subprocess.Popen([sys.executable, str(script), str(path)], stdout=subprocess.PIPE,
                                 text=True, env=os.environ.copy())
        try:
            assert child.stdout.readline().strip() == "first file written"
            time.sleep(delay)
        finally:
            child.kill()
            child.wait(timeout=60)
        assert child.returncode == -signal.SIGKILL
        model = fastdnn.Sequential([fastdnn.Input(shape=(1000,)), fastdnn.layers.Dense(3000),
                                    fastdnn.layers.Dense(10)])
        model.load_weights(path)
        arrays = model.get_weights()
        assert [a.shape for a in arrays] == [(1000, 3000), (3000,), (3000, 10), (10,)]
        values = {float(v) for a in arrays for v in np.unique(a)}
        assert len(values) == 1, f"trial {trial}: torn checkpoint"
        temporaries = [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
        leftovers += len(temporaries)
        for name in temporaries:  # what a kill mid-write leaves: never the file itself
            os.unlink(tmp_path / name)
        path.unlink()
        if leftovers and trial >= 2:
            break
    # The child spends much of its time writing, so within a few trials a kill lands mid-write
    # (it leaves a temporary file); without one the test would have proved nothing.
    assert leftovers >= 1, "no kill landed during a write; make the model larger"


def _bn_model(keras):
    keras.utils.set_random_seed(7)
    model = keras.models.Sequential([
        keras.layers.Input(shape=(8,)),
        keras.layers.Dense(16, activation="elu", kernel_initializer="he_normal"),
        keras.layers.BatchNormalization(),
        keras.layers.Dense(3, activation="softmax"),
    ])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="nadam")
    return model


def test_terminate_on_nan_stops_and_keeps_the_last_good_weights(rng):
    import fastdnn as keras

    x = rng.standard_normal((320, 8)).astype(np.float32)
    y = rng.integers(0, 3, 320)
    x[5 * 32 + 3, 2] = np.nan  # batch 5 (of 32) produces a NaN loss
    good = _bn_model(keras)
    good.fit(x[:5 * 32], y[:5 * 32], batch_size=32, epochs=1, shuffle=False, verbose=0)

    model = _bn_model(keras)
    history = model.fit(x, y, batch_size=32, epochs=3, shuffle=False, verbose=0,
                        callbacks=[keras.callbacks.TerminateOnNaN()])
    assert len(history.history["loss"]) == 1 and not np.isfinite(history.history["loss"][0])
    assert model.optimizer.iterations == 5
    for got, want in zip(model.get_weights(), good.get_weights()):
        np.testing.assert_array_equal(got, want)  # moving statistics included
    assert np.isfinite(model.predict(x[:32], verbose=0)).all()


def test_without_terminate_on_nan_the_bad_step_is_applied(rng):
    import fastdnn as keras

    x = rng.standard_normal((64, 8)).astype(np.float32)
    x[40, 0] = np.nan
    model = _bn_model(keras)
    model.fit(x, rng.integers(0, 3, 64), batch_size=32, epochs=1, shuffle=False, verbose=0)
    assert not all(np.isfinite(w).all() for w in model.get_weights())  # as Keras does


@pytest.mark.parametrize("delay", [0.05, 0.13, 0.29])
def test_ctrl_c_during_fit_stops_between_steps(rng, delay):
    import threading

    import fastdnn as keras

    x = rng.standard_normal((4096, 8)).astype(np.float32)
    y = rng.integers(0, 3, 4096)
    model = _bn_model(keras)
    ended = []
    counter = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: ended.append(batch))
    timer = threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            model.fit(x, y, batch_size=32, epochs=1000, shuffle=False, verbose=0, callbacks=[counter])
    finally:
        timer.cancel()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    # Every step that began also finished: the model is exactly the one k whole steps give
    # (moving statistics included), and the callbacks saw those k steps.
    k = model.optimizer.iterations
    assert k > 0 and len(ended) == k
    replay = _bn_model(keras)
    for step in range(k):
        lo = (step % 128) * 32
        replay.train_step((x[lo:lo + 32], y[lo:lo + 32]))
    for got, want in zip(model.get_weights(), replay.get_weights()):
        np.testing.assert_array_equal(got, want)
    history = model.fit(x, y, batch_size=256, epochs=2, verbose=0)  # training goes on
    assert np.isfinite(history.history["loss"]).all()
