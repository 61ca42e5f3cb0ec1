"""Threads: predict from several Python threads at once, and the GIL released by native work."""

import threading
import time

import numpy as np
import pytest

import fastdnn as keras
from chapter_models import bn_after_activation


def chapter_bn_model():
    keras.utils.set_random_seed(3)
    model = bn_after_activation()
    model.compile(loss="sparse_categorical_crossentropy", optimizer="nadam")
    return model


def test_predict_from_four_threads_at_once_matches_one_thread(rng):
    model = chapter_bn_model()
    x = rng.random((300, 28, 28), dtype=np.float32)
    model.fit(x, rng.integers(0, 10, 300), epochs=1, verbose=0)  # non-trivial moving statistics
    inputs = [rng.random((257, 28, 28), dtype=np.float32) for _ in range(4)]
    expected = [model.predict(xi, batch_size=64, verbose=0) for xi in inputs]
    errors, calls = [], [0] * 4
    barrier = threading.Barrier(4)

    def work(i):
        try:
            barrier.wait()
            for _ in range(20):
                np.testing.assert_array_equal(model.predict(inputs[i], batch_size=64, verbose=0),
                                              expected[i])
                calls[i] += 1
        except BaseException as e:  # reported in the main thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "predict hung when called from 4 threads"
    assert not errors, errors[0]
    assert calls == [20] * 4


class Ticker:
    """A Python thread that notes the time at every loop turn, to see when it held the GIL."""

    def __init__(self):
        self.stamps, self._stop = [], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.stamps.append(time.perf_counter())
            time.sleep(0)  # offer the GIL at every turn

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def ticks_between(self, start, end):
        return sum(start <= s <= end for s in self.stamps)


def _inside_native_call(call, min_seconds=0.15):
    """Runs `call` (one long native call) beside a Ticker; returns the ticks seen during its
    middle part, where only a released GIL lets the ticker run."""
    call()  # warm-up
    with Ticker() as ticker:
        time.sleep(0.01)
        start = time.perf_counter()
        call()
        end = time.perf_counter()
    assert end - start > min_seconds, "the call is too short to tell; make the problem larger"
    margin = 0.02
    return ticker.ticks_between(start + margin, end - margin)


def test_native_matmul_releases_the_gil(rng):
    a = rng.random((1500, 1500), dtype=np.float32)
    ticks = _inside_native_call(lambda: [keras.ops.matmul(a, a) for _ in range(3)][-1], 0.05)
    assert ticks > 10, f"another Python thread ran only {ticks} times during native matmuls"


def test_predict_releases_the_gil(rng):
    model = chapter_bn_model()
    model.build((None, 28, 28))
    x = rng.random((60_000, 28, 28), dtype=np.float32)
    ticks = _inside_native_call(lambda: model.predict(x, batch_size=60_000, verbose=0), 0.05)
    assert ticks > 10, f"another Python thread ran only {ticks} times during predict"


def test_fit_in_a_thread_lets_the_main_thread_run(rng):
    model = chapter_bn_model()
    x = rng.random((4096, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, 4096)
    done = threading.Event()
    history = {}

    def train():
        history["h"] = model.fit(x, y, epochs=3, batch_size=1024, verbose=0)
        done.set()

    trainer = threading.Thread(target=train)
    turns = 0
    trainer.start()
    while not done.is_set():
        turns += 1
        time.sleep(0.001)
    trainer.join()
    assert turns > 20, f"the main thread ran only {turns} times while fit trained"
    assert len(history["h"].history["loss"]) == 3
    assert np.isfinite(history["h"].history["loss"]).all()


@pytest.mark.parametrize("n_threads", [1, 2])
def test_thread_count_does_not_change_predictions(rng, n_threads):
    model = chapter_bn_model()
    x = rng.random((512, 28, 28), dtype=np.float32)
    previous = keras.get_num_threads()
    try:
        keras.set_num_threads(1)
        one = model.predict(x, batch_size=512, verbose=0)
        keras.set_num_threads(n_threads)
        many = model.predict(x, batch_size=512, verbose=0)
    finally:
        keras.set_num_threads(previous)
    np.testing.assert_allclose(many, one, rtol=1e-6, atol=1e-7)
