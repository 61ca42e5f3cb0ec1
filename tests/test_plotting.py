"""fastdnn.plotting and `python -m fastdnn plot`: figures render to PNG files without a display,
the activation curves come from the native kernels and match float64 NumPy, and bad inputs give
clear errors. Skipped where matplotlib is missing, except the test of that error itself."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastdnn as keras
from fastdnn import plotting
from fastdnn.__main__ import main
from fastdnn.monitoring import GradientMonitor

from _tolerances import ACT_RTOL

PNG = b"\x89PNG\r\n\x1a\n"


def test_missing_matplotlib_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    with pytest.raises(ImportError, match=r"pip install fastdnn\[plot\]"):
        plotting.plot_activations()


matplotlib = pytest.importorskip("matplotlib")


def assert_png(path):
    data = Path(path).read_bytes()
    assert data[:8] == PNG and len(data) > 5000, f"{path} is not a drawn PNG"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A short real fit with a History, a CSVLogger file and a saved GradientMonitor."""
    folder = tmp_path_factory.mktemp("plots")
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input(shape=[5]), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(16, activation="sigmoid"), keras.layers.Dense(3, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  optimizer=keras.optimizers.SGD(keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5),
                                                 global_clipnorm=0.5))
    monitor = GradientMonitor(every_n_steps=2)
    x, y = rng.random((96, 5)), rng.integers(0, 3, 96)
    history = model.fit(x, y, batch_size=16, epochs=4, validation_split=0.25, verbose=0,
                        callbacks=[monitor, keras.callbacks.CSVLogger(folder / "log.csv")])
    monitor.save(folder / "monitor.json")
    (folder / "history.json").write_text(json.dumps(history.history))
    return folder, history, monitor, model


def test_activation_curves_match_float64_numpy():
    z = np.linspace(-6, 6, 1001).astype(np.float32)
    z64 = z.astype(np.float64)
    sig = 1 / (1 + np.exp(-z64))
    elu = np.where(z64 > 0, z64, np.expm1(z64))
    a, s = 1.6732632423543772, 1.0507009873554805
    refs = {"sigmoid": (sig, sig * (1 - sig)), "tanh": (np.tanh(z64), 1 - np.tanh(z64) ** 2),
            "relu": (np.maximum(z64, 0), (z64 > 0) * 1.0),
            "leaky_relu": (np.where(z64 > 0, z64, 0.2 * z64), np.where(z64 > 0, 1, 0.2)),
            "elu": (elu, np.where(z64 > 0, 1, np.exp(z64))),
            "selu": (s * np.where(z64 > 0, z64, a * np.expm1(z64)), s * np.where(z64 > 0, 1, a * np.exp(z64)))}
    for name, (f, df) in refs.items():
        y, dy = plotting.activation_curves(name, z)
        np.testing.assert_allclose(y, f, rtol=ACT_RTOL, atol=1e-6, err_msg=name)
        # the derivative is computed from the float32 output, so it carries that output's rounding
        np.testing.assert_allclose(dy, df, rtol=1e-4, atol=1e-6, err_msg=name)
    with pytest.raises(ValueError, match="Unknown activation"):
        plotting.activation_curves("softplus", z)


def test_plot_activations_png(tmp_path):
    fig = plotting.plot_activations(tmp_path / "act.png")
    assert_png(tmp_path / "act.png")
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 6
    fig = plotting.plot_activations(tmp_path / "two.png", names=["sigmoid", "elu"], z_range=(-3, 3))
    assert len(fig.axes) == 2
    with pytest.raises(ValueError, match="z_range"):
        plotting.plot_activations(None, z_range=(1, 1))
    with pytest.raises(ValueError, match="Unknown activation"):
        plotting.plot_activations(None, names=["nope"])


def test_learning_curves_from_history_json_and_csv(trained, tmp_path):
    folder, history, _, _ = trained
    for i, source in enumerate((history, history.history, folder / "history.json", folder / "log.csv")):
        fig = plotting.plot_learning_curves(source, tmp_path / f"curves{i}.png")
        assert_png(tmp_path / f"curves{i}.png")
        lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
        assert set(lines) == {"training loss", "validation loss", "training accuracy", "validation accuracy"}
        np.testing.assert_allclose(lines["validation loss"].get_ydata(), history.history["val_loss"], rtol=1e-12)
    with pytest.raises(ValueError, match="not in the history"):
        plotting.plot_learning_curves(history, metrics=["mae"])


def test_load_history_errors(tmp_path, trained):
    with pytest.raises(FileNotFoundError, match="No history file"):
        plotting.load_history(tmp_path / "none.csv")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        plotting.load_history(tmp_path / "bad.json")
    (tmp_path / "bad.csv").write_text("epoch,loss\n0,1.0,3\n")
    with pytest.raises(ValueError, match="fields"):
        plotting.load_history(tmp_path / "bad.csv")
    (tmp_path / "words.json").write_text('{"loss": ["a"]}')
    with pytest.raises(ValueError, match="not a list of numbers"):
        plotting.load_history(tmp_path / "words.json")
    with pytest.raises(ValueError, match="GradientMonitor record"):
        plotting.load_history(trained[0] / "monitor.json")
    with pytest.raises(TypeError, match="History"):
        plotting.load_history(42)
    (tmp_path / "na.csv").write_text("epoch,loss,val_loss\n0,1.5,NA\n")
    assert math.isnan(plotting.load_history(tmp_path / "na.csv")["val_loss"][0])


def test_learning_rate_from_history_monitor_and_schedule(trained, tmp_path):
    folder, history, monitor, _ = trained
    fig = plotting.plot_learning_rate(history, tmp_path / "lr_epochs.png")
    assert_png(tmp_path / "lr_epochs.png")
    np.testing.assert_allclose(fig.axes[0].get_lines()[0].get_ydata(), history.history["learning_rate"])
    fig = plotting.plot_learning_rate(folder / "monitor.json", tmp_path / "lr_steps.png")
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    np.testing.assert_allclose(fig.axes[0].get_lines()[0].get_ydata(),
                               [0.1 * 0.5 ** (s / 10) for s in monitor.steps], rtol=1e-6)
    fig = plotting.plot_learning_rate(schedule, tmp_path / "lr_schedule.png", steps=50)
    np.testing.assert_allclose(fig.axes[0].get_lines()[0].get_ydata(), [0.1 * 0.5 ** (s / 10) for s in range(50)], rtol=1e-6)
    with pytest.raises(ValueError, match="steps"):
        plotting.plot_learning_rate(schedule)
    with pytest.raises(ValueError, match="no learning rate"):
        plotting.plot_learning_rate({"loss": [1.0]})


def test_gradient_norms_plot(trained, tmp_path):
    folder, _, monitor, _ = trained
    fig = plotting.plot_gradient_norms(monitor, tmp_path / "grads.png")
    assert_png(tmp_path / "grads.png")
    left = fig.axes[0]
    assert left.get_yscale() == "log"
    lines = {line.get_label(): line for line in left.get_lines()}
    for name in monitor.layer_names():
        np.testing.assert_allclose(lines[name].get_ydata(), monitor.history[name]["grad_norm"])
    assert "global, clipped" in lines  # global_clipnorm=0.5 clipped some steps
    plotting.plot_gradient_norms(folder / "monitor.json", tmp_path / "grads2.png")
    assert_png(tmp_path / "grads2.png")
    with pytest.raises(ValueError, match="no records"):
        plotting.plot_gradient_norms(GradientMonitor())


def test_cli_writes_pngs_and_reports_bad_files(trained, tmp_path, capsys):
    folder = trained[0]
    for args in (["activations"], ["history", str(folder / "history.json")], ["history", str(folder / "log.csv")],
                 ["gradients", str(folder / "monitor.json")], ["lr", str(folder / "history.json")],
                 ["lr", str(folder / "monitor.json")]):
        out = tmp_path / f"{args[0]}_{len(args)}_{Path(args[-1]).suffix.strip('.')}.png"
        assert main(["plot", *args, "-o", str(out)]) == 0
        assert_png(out)
    (tmp_path / "corrupt.json").write_text("{")
    for args, message in ((["gradients", str(tmp_path / "missing.json")], "No GradientMonitor file"),
                          (["gradients", str(tmp_path / "corrupt.json")], "not valid JSON"),
                          (["history", str(tmp_path / "missing.csv")], "No history file"),
                          (["lr"], "needs the file")):
        assert main(["plot", *args, "-o", str(tmp_path / "x.png")]) == 1
        assert message in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_cli_as_a_process(tmp_path):
    out = tmp_path / "act.png"
    env_path = str(Path(plotting.__file__).resolve().parents[1])
    result = subprocess.run([sys.executable, "-m", "fastdnn", "plot", "activations", "-o", str(out)],
                            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": env_path}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert_png(out)
