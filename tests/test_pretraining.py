"""The pretraining examples at small scale: examples/unsupervised_pretraining.py (a stacked
autoencoder's encoder reused by a classifier), examples/auxiliary_task_pretraining.py (the
lower layers of a coarse 4-way classifier reused for the 10 classes) and
examples/siamese_pretraining.py (the chapter's own auxiliary task: a siamese network that tells
whether two images show the same class, whose shared encoder the classifier reuses).

Each hands over its pretrained layers as they are (the same objects and weights) and trains.
On real Fashion-MNIST at this scale (10,000 pretraining images, 1 epoch, 100 labels, 2,000 test
images) the auxiliary task helped on every one of seeds 0-5 (+1.3 to +10 points), so its gain is
asserted, as a mean over seeds 0-2. The autoencoder's did not: +1.9 points on average but worse
on 2 of those 6 seeds, so only that it learnt to reconstruct is asserted here (at full scale
it helped on all of seeds 0-5, see the example).
"""

import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FASTDNN_DATA") or ROOT.parent / "shared" / "datasets" / "fashion-mnist")
REAL = (DATA / "train-images-idx3-ubyte.gz").exists()
sys.path.insert(0, str(ROOT / "examples"))
import auxiliary_task_pretraining as aux  # noqa: E402
import siamese_pretraining as siamese  # noqa: E402
import unsupervised_pretraining as unsup  # noqa: E402


@pytest.fixture(scope="module")
def data():
    """100 labelled images, 10,000 unlabelled ones (the sample's 5,000 without the full set) and
    2,000 test images."""
    d = unsup.load(DATA if REAL else None, n_labelled=100, n_unlabelled=10_000)
    d["x_test"], d["y_test"] = d["x_test"][:2000], d["y_test"][:2000]
    return d


def test_autoencoder_learns_and_hands_over_its_encoder(data):
    x = data["x_unlabelled"]
    autoencoder, encoder = unsup.pretrain_autoencoder(x, seed=0, epochs=1)
    assert autoencoder.layers[0] is encoder
    flat = x.reshape(len(x), -1)
    mse = float(np.mean((autoencoder.predict(x, batch_size=500, verbose=0) - flat) ** 2))
    assert mse < 0.5 * float(np.mean((flat - flat.mean(axis=0)) ** 2))  # far better than the mean image
    pretrained = encoder.get_weights()
    model = unsup.classifier_on(encoder)
    assert model.layers[0] is encoder and model.count_params() == encoder.count_params() + 101 * 10
    for got, want in zip(model.get_weights(), pretrained):  # the handover
        np.testing.assert_array_equal(got, want)
    unsup.train_classifier(model, data, seed=0)
    assert all(not np.array_equal(a, b) for a, b in zip(encoder.get_weights(), pretrained))  # fine-tuned
    assert unsup.accuracy(model, data) > 0.5  # 10 classes: chance is 0.1


def test_unsupervised_experiment_runs(data):
    results = unsup.run_experiment(data, seeds=(0,), pretrain_epochs=1)
    assert len(results["pretrained"]) == len(results["scratch"]) == 1
    assert results["pretrained_mean"] > 0.5 and results["scratch_mean"] > 0.5
    assert 0 < results["reconstruction_mse"][0] < 0.05


def test_coarse_task_learns_and_hands_over_its_lower_layers(data):
    y_coarse = aux.COARSE[data["y_unlabelled"]]
    assert set(np.unique(y_coarse)) == {0, 1, 2, 3}
    assert list(aux.COARSE[[1, 5, 7, 8, 9]]) == [1, 2, 2, 3, 2]  # trouser, footwear..., bag
    auxiliary = aux.pretrain_coarse(data["x_unlabelled"], y_coarse, seed=0, epochs=1)
    coarse = auxiliary.predict(data["x_test"], verbose=0).argmax(axis=1)
    assert np.mean(coarse == aux.COARSE[data["y_test"]]) > 0.9
    lower = auxiliary.layers[:-1]
    pretrained = [w for layer in lower for w in layer.get_weights()]
    model = unsup.classifier_on(lower)
    assert model.layers[0] is lower[0]
    for got, want in zip(model.get_weights(), pretrained):
        np.testing.assert_array_equal(got, want)
    assert model.layers[-1].units == 10
    unsup.train_classifier(model, data, seed=0)
    assert unsup.accuracy(model, data) > 0.5


@pytest.mark.skipif(not REAL, reason=f"Fashion-MNIST not found in {DATA} (set FASTDNN_DATA)")
def test_auxiliary_task_pretraining_helps(data):
    results = aux.run_experiment(data, seeds=(0, 1, 2), pretrain_epochs=1)
    assert min(results["coarse_accuracy"]) > 0.9
    # by 1.5 points: the least gain of seeds 0-5 was 1.3, their mean 4.2; classifiers from two
    # random initialisations differed by 0.5 points on these seeds
    assert results["pretrained_mean"] > results["scratch_mean"] + 0.015, results


def test_siamese_network_shares_its_encoder_and_hands_it_over(data):
    pairs = siamese.make_pairs(data["x_unlabelled"], data["y_unlabelled"], 2000, seed=0)
    left, right, same = pairs
    assert left.shape == right.shape == (2000, 28, 28) and 0.4 < same.mean() < 0.6
    model, encoder = siamese.pretrain_siamese(data["x_unlabelled"], data["y_unlabelled"], 4000, seed=0)
    assert sum(layer is encoder for layer in model.layers) == 1 and len(encoder._inbound_nodes) >= 2
    assert len(model.weights) == len(encoder.weights) + 2  # both inputs through one encoder
    test_pairs = siamese.make_pairs(data["x_test"], data["y_test"], 1000, seed=1)
    guess = model.predict(list(test_pairs[:2]), verbose=0) > 0.5
    assert np.mean(guess == test_pairs[2].astype(bool)) > 0.7  # same or not: chance is 0.5
    trained = encoder.get_weights()
    classifier = siamese.reuse(encoder, data, seed=0, frozen_epochs=2, tuned_epochs=0)
    assert classifier.layers[0] is encoder
    for got, want in zip(encoder.get_weights(), trained):  # frozen: still the siamese weights
        np.testing.assert_array_equal(got, want)
    siamese.reuse(encoder, data, seed=0, frozen_epochs=0, tuned_epochs=1)
    assert all(not np.array_equal(a, b) for a, b in zip(encoder.get_weights(), trained))  # fine-tuned


@pytest.mark.skipif(not REAL, reason=f"Fashion-MNIST not found in {DATA} (set FASTDNN_DATA)")
def test_siamese_pretraining_helps(data):
    results = siamese.run_experiment(data, seeds=(0, 1, 2), n_pairs=10_000)
    assert min(results["pair_accuracy"]) > 0.75
    # by 3 points: at this scale the least gain of seeds 0-5 was 2.1, their mean 6.0
    assert results["pretrained_mean"] > results["scratch_mean"] + 0.03, results


def test_examples_print_both_accuracies(capsys, tmp_path, monkeypatch):
    """The scripts end to end on one seed (the shipped sample unless a copy sits in a default
    place)."""
    monkeypatch.delenv("FASTDNN_DATA", raising=False)
    for module, extra in ((unsup, []), (aux, []), (siamese, ["--pairs", "3000"])):
        results = module.main(["--seeds", "0", "--pretrain-epochs", "1", "--data", str(tmp_path)] + extra)
        out = capsys.readouterr().out
        assert "from scratch" in out and "pretrained" in out and "mean" in out
        assert 0 < results["scratch_mean"] <= 1 and 0 < results["pretrained_mean"] <= 1
