"""Memory stays flat: many training steps and predict calls, and models created then deleted.

Resident set size is read from /proc/self/statm (Linux). Under the sanitizers (tools/sanitize.sh)
freed memory sits in ASan's quarantine, so these tests are skipped there.
"""

import gc
import os
import sys

import numpy as np
import pytest

import fastdnn as keras

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm"),
    pytest.mark.skipif(bool(os.environ.get("FASTDNN_SANITIZED")), reason="ASan keeps freed memory"),
]

LEAK_LIMIT_MB = 5.0


def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def small_model():
    model = keras.models.Sequential([
        keras.layers.Input(shape=(20,)),
        keras.layers.Dense(64, activation="elu", kernel_initializer="he_normal"),
        keras.layers.BatchNormalization(),
        keras.layers.Dense(5, activation="softmax"),
    ])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="nadam", metrics=["accuracy"])
    return model


def test_ten_thousand_training_steps_and_predicts_keep_memory_flat(rng):
    model = small_model()
    x = rng.standard_normal((32, 20)).astype(np.float32)
    y = rng.integers(0, 5, 32)
    for _ in range(500):  # warm-up: caches, workspaces and allocator pools reach their size
        model.train_step((x, y))
        model.predict(x, verbose=0)
    gc.collect()
    before = rss_mb()
    for _ in range(10_000):
        model.train_step((x, y))
    for _ in range(10_000):
        model.predict(x, verbose=0)
    gc.collect()
    grown = rss_mb() - before
    assert grown < LEAK_LIMIT_MB, f"RSS grew by {grown:.1f} MB over 10,000 steps and predicts"
    assert np.isfinite(model.predict(x, verbose=0)).all()


def test_fit_epochs_keep_memory_flat(rng):
    model = small_model()
    x = rng.standard_normal((2048, 20)).astype(np.float32)
    y = rng.integers(0, 5, 2048)
    model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    gc.collect()
    before = rss_mb()
    model.fit(x, y, epochs=30, batch_size=32, verbose=0, validation_data=(x[:256], y[:256]))
    gc.collect()
    grown = rss_mb() - before
    assert grown < LEAK_LIMIT_MB, f"RSS grew by {grown:.1f} MB over 30 epochs of fit"


def test_native_memory_is_freed_when_models_are_deleted(rng):
    x = rng.standard_normal((64, 1000)).astype(np.float32)
    y = rng.integers(0, 10, 64)

    def build_train_delete():
        model = keras.models.Sequential([
            keras.layers.Input(shape=(1000,)),
            keras.layers.Dense(2000, activation="relu"),  # 8 MB of kernel, 24 MB with Adam's slots
            keras.layers.Dense(10, activation="softmax"),
        ])
        model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
        model.fit(x, y, epochs=1, batch_size=32, verbose=0)
        model.predict(x, verbose=0)
        del model
        gc.collect()

    build_train_delete()
    before = rss_mb()
    for _ in range(10):  # 10 models of ~32 MB each: a leak of any of them shows
        build_train_delete()
    grown = rss_mb() - before
    assert grown < LEAK_LIMIT_MB, f"RSS grew by {grown:.1f} MB after deleting 10 models"
