"""The chapter's code for initializers, nonsaturating activations and transfer learning,
verbatim after `import fastdnn as keras`, builds and trains."""

import os
from pathlib import Path

import numpy as np
import pytest

import fastdnn as keras


def test_initialization_snippets():
    # By default, Keras uses Glorot initialization with a uniform distribution
    # For He initialization with ReLU:
    keras.layers.Dense(10, activation="relu", kernel_initializer="he_normal")

    # For He initialization with uniform distribution based on fan_avg:
    he_avg_init = keras.initializers.VarianceScaling(scale=2., mode='fan_avg',
                                                     distribution='uniform')
    layer = keras.layers.Dense(10, activation="sigmoid", kernel_initializer=he_avg_init)
    layer.build((None, 30))
    limit = np.sqrt(3 * 2.0 / ((30 + 10) / 2))
    assert np.abs(layer.kernel.numpy()).max() <= limit


def test_nonsaturating_activation_snippets_train():
    # Leaky ReLU
    model = keras.models.Sequential([
        keras.layers.Dense(10, kernel_initializer="he_normal"),
        keras.layers.LeakyReLU(alpha=0.2),
    ])

    # PReLU
    keras.layers.PReLU()

    # SELU (requires LeCun normal initialization and standardized inputs)
    layer = keras.layers.Dense(10, activation="selu",
                               kernel_initializer="lecun_normal")

    r = np.random.default_rng(0)
    x = r.normal(size=(64, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model.add(layer)
    model.add(keras.layers.PReLU())
    model.add(keras.layers.Dense(2, activation="softmax"))
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(lr=0.05),
                  metrics=["accuracy"])
    history = model.fit(x, y, epochs=5, verbose=0)
    assert model.layers[1].negative_slope == 0.2
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.layers[3].alpha.shape == (10,)  # one learned slope per unit, as Keras


DATA = Path(os.environ.get("FASTDNN_DATA")
            or Path(__file__).resolve().parents[2] / "shared" / "datasets" / "fashion-mnist")


def split_dataset(X, y):
    """The book's split: task A without sandals (5) and shirts (6), task B "is it a shirt?"."""
    y_5_or_6 = (y == 5) | (y == 6)  # sandals or shirts
    y_A = y[~y_5_or_6]
    y_A[y_A > 6] -= 2  # class indices 7, 8, 9 should be moved to 5, 6, 7
    y_B = (y[y_5_or_6] == 6).astype(np.float32)  # binary classification task: is it a shirt?
    return ((X[~y_5_or_6], y_A), (X[y_5_or_6], y_B))


def test_transfer_learning_snippet(tmp_path, monkeypatch):
    pytest.importorskip("h5py", reason="the chapter's model A is an .h5 file, which needs h5py")
    monkeypatch.chdir(tmp_path)
    path = DATA if (DATA / "train-images-idx3-ubyte.gz").exists() else None
    ((X_train_full, y_train_full), _), _ = keras.datasets.fashion_mnist.load_data_or_sample(path)
    X_train_full = X_train_full[:6000] / 255.0
    (X_train_A, y_train_A), (X_train_B, y_train_B) = split_dataset(X_train_full[1000:],
                                                                   y_train_full[1000:6000].copy())
    _, (X_valid_B, y_valid_B) = split_dataset(X_train_full[:1000], y_train_full[:1000].copy())
    X_train_B, y_train_B = X_train_B[:200], y_train_B[:200]
    # model A, trained and saved here as the chapter's "my_model_A.h5"
    model_A = keras.models.Sequential()
    model_A.add(keras.layers.Flatten(input_shape=[28, 28]))
    for n_hidden in (300, 100, 50, 50, 50):
        model_A.add(keras.layers.Dense(n_hidden, activation="selu"))
    model_A.add(keras.layers.Dense(8, activation="softmax"))
    model_A.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(lr=1e-3),
                    metrics=["accuracy"])
    model_A.fit(X_train_A, y_train_A, epochs=2, verbose=0)
    model_A.save("my_model_A.h5")
    original = model_A.get_weights()
    del model_A

    # the chapter's code, verbatim
    model_A = keras.models.load_model("my_model_A.h5")
    model_B_on_A = keras.models.Sequential(model_A.layers[:-1])
    model_B_on_A.add(keras.layers.Dense(1, activation="sigmoid"))

    # If you want to keep model A intact, clone it
    model_A_clone = keras.models.clone_model(model_A)
    model_A_clone.set_weights(model_A.get_weights())

    # Freeze reused layers
    for layer in model_B_on_A.layers[:-1]:
        layer.trainable = False

    model_B_on_A.compile(loss="binary_crossentropy", optimizer="sgd",
                         metrics=["accuracy"])

    new_output = model_B_on_A.layers[-1].get_weights()
    # Train, then unfreeze and fine-tune
    history = model_B_on_A.fit(X_train_B, y_train_B, epochs=4,
                               validation_data=(X_valid_B, y_valid_B))
    frozen_phase = model_B_on_A.get_weights()

    for layer in model_B_on_A.layers[:-1]:
        layer.trainable = True

    optimizer = keras.optimizers.SGD(lr=1e-4)  # Lower LR
    model_B_on_A.compile(loss="binary_crossentropy", optimizer=optimizer,
                         metrics=["accuracy"])
    history = model_B_on_A.fit(X_train_B, y_train_B, epochs=16,
                               validation_data=(X_valid_B, y_valid_B))

    # the frozen phase trained the new output layer only
    for got, want in zip(frozen_phase[:-2], original[:-2]):
        np.testing.assert_array_equal(got, want)
    assert not np.array_equal(frozen_phase[-2], new_output[0])
    # fine-tuning moved the reused layers, which model A shares (the chapter's warning) ...
    for i, layer in enumerate(model_B_on_A.layers[1:-1], start=1):
        assert not np.array_equal(layer.get_weights()[0], original[2 * (i - 1)])
        assert layer is model_A.layers[i]
    # ... while the clone kept model A's weights
    for got, want in zip(model_A_clone.get_weights(), original):
        np.testing.assert_array_equal(got, want)
    assert optimizer.current_learning_rate == 1e-4
    assert len(history.history["val_accuracy"]) == 16
    assert history.history["val_accuracy"][-1] > 0.8  # sandals and shirts are easy to tell apart
