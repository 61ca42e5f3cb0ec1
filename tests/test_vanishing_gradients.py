"""Chapter 11's unstable gradients, measured with GradientMonitor on real Fashion-MNIST.

A 10-hidden-layer network (100 units each) with sigmoid activations and N(0, 1) weights shows
vanishing gradients: relative to its weights, its lowest layer's gradient is below 1/100 of the
top layer's (this test's setting, 10 steps of 64 images, gave 0.00076 to 0.0014 over seeds 0-7).
The same network with He initialization and ELU (0.73 to 1.04), or with Batch Normalization
after each hidden layer (0.65 to 0.82), stays within 10x. The report flags the first and not
the others.

Relative to its weights (‖g‖/‖w‖, see GradientMonitor.gradient_ratio): the raw norms are not
comparable across layers of different sizes and weight scales. Raw, the sigmoid network's ratio
is only ~0.05-0.08 (its 784x100 first kernel has 78,400 entries against the output layer's
1,010), and the Batch Normalization one's is ~50.
"""

import os
import sys
from pathlib import Path

import numpy as np
import pytest

import fastdnn as keras

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FASTDNN_DATA") or ROOT.parent / "shared" / "datasets" / "fashion-mnist")
sys.path.insert(0, str(ROOT / "examples"))
from vanishing_gradients import build  # noqa: E402


@pytest.fixture(scope="module")
def batch():
    """640 real images scaled to [0, 1] (the full dataset when present, else the shipped sample)."""
    path = DATA if (DATA / "train-images-idx3-ubyte.gz").exists() else None
    ((x, y), _), _ = keras.datasets.fashion_mnist.load_data_or_sample(path)
    return x[:640] / 255.0, y[:640]


def monitored(kind, seed, batch):
    model = build(kind, seed=seed)
    monitor = keras.callbacks.GradientMonitor(every_n_steps=1)
    x, y = batch
    model.fit(x, y, batch_size=64, epochs=1, verbose=0, callbacks=[monitor])
    return monitor


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sigmoid_with_normal_weights_vanishes(seed, batch):
    monitor = monitored("sigmoid", seed, batch)
    assert len(monitor.steps) == 10
    ratio = monitor.gradient_ratio()
    assert ratio < 1 / 100, f"lowest/top relative gradient {ratio:.3g}"
    assert any(f.startswith("Vanishing gradients") for f in monitor.findings()), monitor.report()
    assert "He initialization" in monitor.report()


@pytest.mark.parametrize("kind", ["he_elu", "batchnorm"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_he_elu_or_batchnorm_keeps_gradients_within_10x(kind, seed, batch):
    monitor = monitored(kind, seed, batch)
    ratio = monitor.gradient_ratio()
    assert 0.1 <= ratio <= 10, f"{kind}: lowest/top relative gradient {ratio:.3g}"
    assert monitor.findings() == [], monitor.report()
    if kind == "batchnorm":  # BatchNormalization layers are recorded but not compared
        assert any(info["class_name"] == "BatchNormalization" for info in monitor.layers.values())
