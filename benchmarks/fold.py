"""Latency of the chapter's BN model before and after `fastdnn.fold_batchnorm`.

Builds Flatten -> BN -> Dense 300 ELU -> BN -> Dense 100 ELU -> BN -> Dense 10 softmax, trains it
for one short epoch on random images (so the moving statistics are not the defaults), folds the
BN layers into the Dense layers, checks the predictions agree, and times inference on one
sample and on 10,000. Reports the speed-up (> 1: folding helps).

    python benchmarks/fold.py
"""

import time

import numpy as np

import fastdnn as keras


def best(fn, reps, rounds=5):
    fn()
    t = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(reps):
            fn()
        t = min(t, (time.perf_counter() - start) / reps)
    return t


def main():
    keras.utils.set_random_seed(0)
    model = keras.models.Sequential([
        keras.layers.Flatten(input_shape=[28, 28]),
        keras.layers.BatchNormalization(),
        keras.layers.Dense(300, activation="elu", kernel_initializer="he_normal"),
        keras.layers.BatchNormalization(),
        keras.layers.Dense(100, activation="elu", kernel_initializer="he_normal"),
        keras.layers.BatchNormalization(),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="nadam")
    rng = np.random.default_rng(0)
    x = rng.random((10_000, 28, 28)).astype(np.float32)
    model.fit(x[:2000], rng.integers(0, 10, 2000), epochs=1, verbose=0)
    folded = keras.fold_batchnorm(model)
    ref = model.predict(x, batch_size=10_000, verbose=0)
    err = np.max(np.abs(folded.predict(x, batch_size=10_000, verbose=0) - ref) / np.abs(ref))
    print(f"max relative difference folded vs original: {err:.2e}")
    for label, batch, reps in (("1 sample", x[:1], 2000), ("10,000 samples", x, 5)):
        t0 = best(lambda: model(batch), reps)
        t1 = best(lambda: folded(batch), reps)
        print(f"{label:15s} original {t0 * 1e6:10.1f} us  folded {t1 * 1e6:10.1f} us  speed-up {t0 / t1:.2f}")


if __name__ == "__main__":
    main()
