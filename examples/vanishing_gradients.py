"""Vanishing gradients, seen with fastdnn's GradientMonitor (Hands-On ML, chapter 11).

Trains three 10-hidden-layer networks (100 units each) on Fashion-MNIST for a few hundred steps
and compares how fast their lowest and top layers learn, ‖g‖/‖w‖ of the first hidden layer over
that of the output layer:

- sigmoid activations with N(0, 1) weights: the lowest layer's relative gradient is ~1/1000 of
  the top layer's: vanishing gradients;
- ELU with He initialization: the ratio is close to 1;
- the sigmoid N(0, 1) network with Batch Normalization after each hidden layer: close to 1.

    python examples/vanishing_gradients.py [--steps 200] [--plots DIR]

With --plots it also writes each network's gradient-norm figure and the activation functions
(needs matplotlib: pip install fastdnn[plot]).
"""

import argparse
import os

import numpy as np

import fastdnn as keras


def build(kind, seed=42, depth=10, units=100):
    """The chapter's deep network in one of three flavors: "sigmoid", "he_elu" or "batchnorm"."""
    keras.utils.set_random_seed(seed)
    layers = [keras.layers.Flatten(input_shape=[28, 28])]
    for _ in range(depth):
        if kind == "he_elu":
            layers.append(keras.layers.Dense(units, activation="elu", kernel_initializer="he_normal"))
        else:
            layers.append(keras.layers.Dense(units, activation="sigmoid",
                                             kernel_initializer=keras.initializers.RandomNormal(stddev=1)))
            if kind == "batchnorm":
                layers.append(keras.layers.BatchNormalization())
    layers.append(keras.layers.Dense(10, activation="softmax"))
    model = keras.Sequential(layers)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(learning_rate=0.01),
                  metrics=["accuracy"])
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="training steps per network (batch 32)")
    parser.add_argument("--every", type=int, default=10, help="record every this many steps")
    parser.add_argument("--data", help="folder holding the Fashion-MNIST files")
    parser.add_argument("--plots", help="folder to write PNG figures into")
    args = parser.parse_args(argv)

    ((x_train, y_train), _), source = keras.datasets.fashion_mnist.load_data_or_sample(args.data)
    n = min(len(x_train), args.steps * 32)
    x, y = x_train[:n] / 255.0, y_train[:n]
    print(f"Fashion-MNIST ({source}): {n:,} images, {args.steps} steps of 32 per network\n")
    if args.plots:
        os.makedirs(args.plots, exist_ok=True)
        keras.plotting.plot_activations(os.path.join(args.plots, "activations.png"))

    ratios = {}
    for kind in ("sigmoid", "he_elu", "batchnorm"):
        model = build(kind)
        monitor = keras.callbacks.GradientMonitor(every_n_steps=args.every)
        model.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[monitor])
        ratios[kind] = monitor.gradient_ratio()
        print(f"== {kind} ==")
        print(monitor.report(), "\n")
        if args.plots:
            keras.plotting.plot_gradient_norms(monitor, os.path.join(args.plots, f"gradients_{kind}.png"))
            monitor.save(os.path.join(args.plots, f"monitor_{kind}.json"))
    print("lowest layer's ‖g‖/‖w‖ over the top layer's (median over the records):")
    for kind, ratio in ratios.items():
        verdict = "vanishing" if ratio < 0.01 else "healthy" if 0.1 <= ratio <= 10 else "uneven"
        print(f"  {kind:10s} {ratio:10.3g}   {verdict}")
    return ratios


if __name__ == "__main__":
    main()
