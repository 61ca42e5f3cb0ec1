"""Run by test_sample_weights.py in a subprocess under real Keras 3 (KERAS_BACKEND=jax): one
epoch of SGD (two steps of 16) of small Dense models, from given weights, with per-sample or
per-class weights and weighted metrics, then a weighted evaluation.

    python keras_weights_reference.py IN.npz OUT.npz
"""

import json
import sys

import keras
import numpy as np


def build(case, d):
    model = keras.Sequential([keras.layers.Input((d["x"].shape[1],)),
                              keras.layers.Dense(6, activation="tanh"),
                              keras.layers.Dense(int(case["units"]), activation=case["activation"])])
    model.set_weights([d[f"{case['name']}_w{i}"] for i in range(4)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss=case["loss"],
                  weighted_metrics=case["weighted_metrics"])
    return model


def main(source, target):
    d = np.load(source)
    out = {}
    for case in json.loads(str(d["cases"])):
        name = case["name"]
        model = build(case, d)
        y = d[f"{name}_y"]
        weights = {"class_weight": {int(k): v for k, v in case["class_weight"].items()}} if case["class_weight"] \
            else {"sample_weight": d["sw"]}
        history = model.fit(d["x"], y, batch_size=16, epochs=1, shuffle=False, verbose=0, **weights)
        for i, w in enumerate(model.get_weights()):
            out[f"{name}_w{i}"] = w
        for key, values in history.history.items():
            out[f"{name}_h_{key}"] = np.array(values)
        logs = model.evaluate(d["x"], y, sample_weight=d["sw"], batch_size=16, verbose=0, return_dict=True)
        for key, value in logs.items():
            out[f"{name}_e_{key}"] = np.array(value)
    np.savez(target, **out)


if __name__ == "__main__":
    main(*sys.argv[1:3])
