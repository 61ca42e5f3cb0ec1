"""Pretraining on an auxiliary task (Hands-On ML, chapter 11), on Fashion-MNIST.

Main task: the 10 classes, learnt from only the first 100 labelled images. Auxiliary task: a
coarse grouping of the same images into 4 kinds, whose labels are taken to be plentiful (all
60,000 training images):

    tops (T-shirt/top, pullover, dress, coat, shirt) | trousers | footwear (sandal, sneaker,
    ankle boot) | bags

Telling a shoe from a top takes a glance, so such labels are cheap; telling a shirt from a
T-shirt or a coat is the expert work the few fine labels stand for. A network trained on the
coarse task (the same lower layers as the main classifier: Flatten, Dense 300 and 100, SELU, then
a 4-way softmax) hands its lower layers, pretrained, to the main classifier, which adds a 10-way
softmax and is trained whole on the 100 labelled images. The baseline is the same classifier
trained from scratch on them; both report accuracy on the 10,000 test images.

The chapter's own example (are two pictures of the same person?) takes two images through
shared lower layers, a siamese network: siamese_pretraining.py builds it as a functional model.
The coarse task here keeps one image in, so its lower layers are exactly what the main task
reuses. A task with generated labels (which of 4 rotations was applied to the image?) was tried
too and did not help these dense layers (73.7% against 73.5% from scratch with 200 labels,
seeds 0-2).

Measured (full data, 100 labels, coarse task 2 epochs, seeds 0-5): 66.71% test accuracy from
scratch, 70.06% with the pretrained lower layers (better on 5 of 6 seeds, from -0.7 to +6.7
points); the coarse task itself reaches 98.2-98.4%. The autoencoder of
unsupervised_pretraining.py gives 68.75% on the same seeds.

    python examples/auxiliary_task_pretraining.py [--seeds 0 1 2] [--labels 100] [--data DIR]
"""

import argparse

import numpy as np

import fastdnn as keras
from unsupervised_pretraining import accuracy, build_encoder, classifier_on, load, train_classifier

COARSE = np.array([0, 1, 0, 0, 0, 2, 0, 2, 3, 2])  # class -> tops, trousers, footwear, bags
COARSE_NAMES = ("tops", "trousers", "footwear", "bags")


def pretrain_coarse(x, y_coarse, seed, epochs=2):
    """Trains the lower layers and a 4-way softmax on the coarse task; returns the model, whose
    `layers[:-1]` (the lower layers, one nested model) the main task reuses."""
    keras.utils.set_random_seed(seed)
    auxiliary = keras.models.Sequential([build_encoder(),
                                         keras.layers.Dense(len(COARSE_NAMES), activation="softmax")])
    auxiliary.compile(loss="sparse_categorical_crossentropy",
                      optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9), metrics=["accuracy"])
    auxiliary.fit(x, y_coarse, epochs=epochs, verbose=0)
    return auxiliary


def run_experiment(data, seeds=(0, 1, 2), pretrain_epochs=2):
    """For each seed: pretrain on the coarse task, then the main task with its lower layers
    and from scratch.

    Returns:
        {"pretrained": [test accuracy per seed], "scratch": [...], "coarse_accuracy": [the
        auxiliary model's test accuracy on the coarse task], "pretrained_mean", "scratch_mean"}.
    """
    results = {"pretrained": [], "scratch": [], "coarse_accuracy": []}
    for seed in seeds:
        auxiliary = pretrain_coarse(data["x_unlabelled"], COARSE[data["y_unlabelled"]], seed, pretrain_epochs)
        coarse = auxiliary.predict(data["x_test"], batch_size=500, verbose=0).argmax(axis=1)
        results["coarse_accuracy"].append(float(np.mean(coarse == COARSE[data["y_test"]])))
        pretrained = train_classifier(classifier_on(auxiliary.layers[:-1]), data, seed + 1000)
        keras.utils.set_random_seed(seed + 2000)
        scratch = train_classifier(classifier_on(build_encoder()), data, seed + 1000)
        results["pretrained"].append(accuracy(pretrained, data))
        results["scratch"].append(accuracy(scratch, data))
    results["pretrained_mean"] = float(np.mean(results["pretrained"]))
    results["scratch_mean"] = float(np.mean(results["scratch"]))
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--labels", type=int, default=100, help="labelled training images (main task)")
    parser.add_argument("--pretrain-epochs", type=int, default=2)
    parser.add_argument("--data", help="folder holding the Fashion-MNIST files")
    args = parser.parse_args(argv)

    data = load(args.data, n_labelled=args.labels)
    print(f"Fashion-MNIST ({data['source']}): coarse task on {len(data['x_unlabelled']):,} images, "
          f"main task on {len(data['x_labelled'])} labelled ones\n")
    results = run_experiment(data, args.seeds, args.pretrain_epochs)
    print("  seed   from scratch   pretrained on coarse task   (coarse task's test accuracy)")
    for seed, s, p, c in zip(args.seeds, results["scratch"], results["pretrained"], results["coarse_accuracy"]):
        print(f"  {seed:4d}   {100 * s:9.2f}%   {100 * p:21.2f}%       ({100 * c:.2f}%)")
    print(f"  mean   {100 * results['scratch_mean']:9.2f}%   {100 * results['pretrained_mean']:21.2f}%")
    return results


if __name__ == "__main__":
    main()
