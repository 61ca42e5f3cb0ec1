"""Integration: the chapter's plain model (Flatten -> Dense 300 ELU -> Dense 100 ELU -> Dense 10
softmax, He initialization, SGD 0.01) trained with `import fastdnn as keras` on the real
Fashion-MNIST reaches at least 85% test accuracy."""

import os
from pathlib import Path

import numpy as np
import pytest

import fastdnn as keras

DATA = Path(os.environ.get("FASTDNN_DATA") or Path(__file__).resolve().parents[2] / "shared" / "datasets" / "fashion-mnist")


@pytest.mark.skipif(not (DATA / "train-images-idx3-ubyte.gz").exists(), reason=f"Fashion-MNIST not at {DATA}")
def test_chapter_model_reaches_85_percent():
    (X_train_full, y_train_full), (X_test, y_test) = keras.datasets.fashion_mnist.load_data(DATA)
    X_train_full = X_train_full / 255.0
    X_test = X_test / 255.0
    X_valid, X_train = X_train_full[:5000], X_train_full[5000:]
    y_valid, y_train = y_train_full[:5000], y_train_full[5000:]

    keras.utils.set_random_seed(42)
    model = keras.models.Sequential([
        keras.layers.Flatten(input_shape=[28, 28]),
        keras.layers.Dense(300, activation="elu", kernel_initializer="he_normal"),
        keras.layers.Dense(100, activation="elu", kernel_initializer="he_normal"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(loss="sparse_categorical_crossentropy",
                  optimizer=keras.optimizers.SGD(learning_rate=1e-2), metrics=["accuracy"])
    history = model.fit(X_train, y_train, epochs=8, validation_data=(X_valid, y_valid), verbose=0)
    loss, accuracy = model.evaluate(X_test, y_test, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert accuracy >= 0.85, f"test accuracy {accuracy:.4f} after 8 epochs"
    # predictions agree with evaluate's accuracy
    assert np.mean(model.predict(X_test, verbose=0).argmax(1) == y_test) == pytest.approx(accuracy)
