"""Run by test_transfer.py in a subprocess under real Keras 3 (KERAS_BACKEND=jax): the chapter's
freeze / fine-tune sequence on a small model A with BatchNormalization.

    python keras_transfer_reference.py IN.npz OUT.npz
"""

import sys

import keras
import numpy as np


def main(source, target):
    d = np.load(source)
    x, y = d["x"], d["y"]
    model_A = keras.Sequential([keras.Input(shape=(x.shape[1],)), keras.layers.Dense(5, activation="selu"),
                                keras.layers.BatchNormalization(), keras.layers.Dense(4, activation="selu"),
                                keras.layers.Dense(3, activation="softmax")])
    model_A.set_weights([d[f"a{i}"] for i in range(int(d["n_a"]))])
    model_B_on_A = keras.Sequential(model_A.layers[:-1])
    model_B_on_A.add(keras.layers.Dense(1, activation="sigmoid"))
    model_B_on_A.build((None, x.shape[1]))
    model_B_on_A.layers[-1].set_weights([d["head_kernel"], d["head_bias"]])
    out = {}
    for phase, (trainable, rate) in enumerate(((False, 0.01), (True, 0.05)), start=1):
        for layer in model_B_on_A.layers[:-1]:
            layer.trainable = trainable
        model_B_on_A.compile(loss="binary_crossentropy", optimizer=keras.optimizers.SGD(learning_rate=rate))
        model_B_on_A.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0)
        out.update({f"phase{phase}_{i}": w for i, w in enumerate(model_B_on_A.get_weights())})
    out.update({f"model_A_{i}": w for i, w in enumerate(model_A.get_weights())})
    np.savez(target, **out)


if __name__ == "__main__":
    main(*sys.argv[1:3])
