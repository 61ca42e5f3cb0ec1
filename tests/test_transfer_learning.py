"""The chapter's transfer-learning experiment (examples/transfer_learning.py) on real
Fashion-MNIST: B on A beats B from scratch.

Small scale: model A trained 1 epoch on 10,000 task-A images, seeds 0-2, averages compared (no
seed picked). With the learning rates chosen on the validation set ("tuned"), B on A's mean test
error was below scratch's on every one of seeds 0-15 at this scale and the full one (0.42%
against 0.83% over seeds 10-15 here); the chapter's own rates give no reliable gain (see the
example's docstring for why), so that recipe is only checked to run.
"""

import os
import sys
from pathlib import Path

import numpy as np
import pytest


ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FASTDNN_DATA") or ROOT.parent / "shared" / "datasets" / "fashion-mnist")
sys.path.insert(0, str(ROOT / "examples"))
import transfer_learning as tl  # noqa: E402

needs_data = pytest.mark.skipif(not (DATA / "train-images-idx3-ubyte.gz").exists(),
                                reason=f"Fashion-MNIST not found in {DATA} (set FASTDNN_DATA)")


@pytest.fixture(scope="module")
def data():
    return tl.load(DATA, n_train_A=10_000)


def test_split_dataset_is_the_books():
    y = np.array([0, 5, 6, 7, 9, 8, 6, 1])
    x = np.arange(8 * 4, dtype=np.float32).reshape(8, 2, 2)
    (x_A, y_A), (x_B, y_B) = tl.split_dataset(x, y)
    np.testing.assert_array_equal(y_A, [0, 5, 7, 6, 1])
    np.testing.assert_array_equal(y_B, [0.0, 1.0, 1.0])
    np.testing.assert_array_equal(x_B, x[[1, 2, 6]])
    assert len(x_A) == 5


@needs_data
def test_data_is_the_books_split(data):
    assert len(data["x_train_B"]) == 200 and len(data["x_test_B"]) == 2000
    assert set(np.unique(data["y_train_A"])) == set(range(8))
    assert 0.3 < data["y_train_B"].mean() < 0.7  # both sandals and shirts
    assert len(data["x_valid_A"]) + len(data["x_valid_B"]) == 5000


@needs_data
def test_b_on_a_reuses_a_clone_of_model_a(data):
    model_A = tl.train_model_A(data, seed=0)
    snapshot = model_A.get_weights()
    model_B_on_A = tl.reuse(model_A)
    assert all(a is not b for a, b in zip(model_B_on_A.layers, model_A.layers))
    for got, want in zip(model_B_on_A.get_weights()[:-2], snapshot[:-2]):  # the handover
        np.testing.assert_array_equal(got, want)
    tl.train_on_A(model_A, data, seed=0, frozen=0.1, fine_tune=0.01)
    for got, want in zip(model_A.get_weights(), snapshot):  # model A stays intact
        np.testing.assert_array_equal(got, want)


@needs_data
def test_b_on_a_beats_b_from_scratch(data):
    results = tl.run_experiment(data, seeds=(0, 1, 2))
    assert results["model_A_accuracy"] > 0.8
    tuned = results["tuned"]
    assert tuned["on_A_mean"] < tuned["scratch_mean"], tuned
    assert tuned["factor"] == pytest.approx(tuned["scratch_mean"] / tuned["on_A_mean"])
    chapter = results["chapter"]
    assert len(chapter["on_A"]) == 3 and all(0 <= e < 0.2 for e in chapter["on_A"] + chapter["scratch"])
    # the diagnosis: 28 steps at 0.01 leave the new output layer far less trained than at 0.1
    assert np.mean(chapter["on_A_frozen_valid"]) > np.mean(tuned["on_A_frozen_valid"])


def test_example_runs_and_prints_both_recipes(tmp_path, capsys, monkeypatch):
    """One seed end to end, on the shipped sample unless a copy sits in a default place."""
    monkeypatch.delenv("FASTDNN_DATA", raising=False)
    results = tl.main(["--seeds", "0", "--data", str(tmp_path)])
    out = capsys.readouterr().out
    assert "== chapter recipe" in out and "== tuned recipe" in out and "reduction factor" in out
    for name in tl.RECIPES:
        assert 0 <= results[name]["on_A_mean"] <= 1 and 0 <= results[name]["scratch_mean"] <= 1
