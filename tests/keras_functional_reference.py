"""Run by test_functional.py in a subprocess under real Keras 3 (KERAS_BACKEND=jax): the siamese
model of graph_models.py trained with SGD, two losses and loss weights, from given weights.

    python keras_functional_reference.py IN.npz OUT.npz
"""

import sys

import keras
import numpy as np

import graph_models


def main(source, target):
    d = np.load(source)
    model = graph_models.siamese(keras)
    model.set_weights([d[f"w{i}"] for i in range(int(d["n"]))])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1),
                  loss={"same": "binary_crossentropy", "aux": "mse"}, loss_weights={"same": 1.0, "aux": 0.5},
                  metrics={"same": ["accuracy"], "aux": ["mae"]})
    history = model.fit([d["left"], d["right"]], {"same": d["same"], "aux": d["aux"]}, batch_size=16,
                        epochs=2, shuffle=False, verbose=0)
    out = {f"w{i}": w for i, w in enumerate(model.get_weights())}
    out.update({f"h_{k}": np.array(v) for k, v in history.history.items()})
    out["keys"] = np.array(sorted(history.history))
    np.savez(target, **out)


if __name__ == "__main__":
    main(*sys.argv[1:3])
