"""The chapter's code for initializers and nonsaturating activations, verbatim after
`import fastdnn as keras`, builds and trains (BatchNormalization onward belongs to later work)."""

import numpy as np

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
