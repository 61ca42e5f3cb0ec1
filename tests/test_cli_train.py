"""`python -m fastdnn train --save PATH` writes a model that loads and scores as printed."""

import re

import numpy as np

import fastdnn
from fastdnn.__main__ import main
from fastdnn.datasets import fashion_mnist


def test_train_saves_a_loadable_model(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("FASTDNN_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no Keras cache: the shipped sample is used
    path = tmp_path / "trained.fdnn"
    assert main(["train", "--epochs", "1", "--verbose", "0", "--data", str(tmp_path / "none"),
                 "--save", str(path)]) == 0
    out = capsys.readouterr().out
    printed = float(re.search(r"test accuracy: ([0-9.]+)", out).group(1))
    model = fastdnn.models.load_model(path)
    (_, _), (x_test, y_test) = fashion_mnist.load_sample()
    predicted = model.predict(x_test / np.float32(255), verbose=0).argmax(axis=1)
    assert abs(float(np.mean(predicted == y_test)) - printed) < 1e-4
    assert model.optimizer.iterations > 0
