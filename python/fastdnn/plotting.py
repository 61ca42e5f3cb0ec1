"""Plots of training: learning curves, the learning rate, per-layer gradient norms, activations.

Needs matplotlib (`pip install fastdnn[plot]`), imported only when a plot is drawn. Figures are
built with matplotlib's object API on the Agg canvas, so they render without a display and leave
pyplot's global state alone. Each function returns the `matplotlib.figure.Figure` and, given a
`path`, saves it there (PNG unless the extension names another format).

    >>> import fastdnn
    >>> fig = fastdnn.plotting.plot_activations("activations.png")  # doctest: +SKIP
"""

import csv
import json
import math
import os

import numpy as np

from . import _C
from ._codes import ACTIVATION

# The activations a plot draws: name -> (alpha, title); each native code comes from codes.h's
# table (fastdnn._codes.ACTIVATION).
_ACTIVATIONS = {
    "sigmoid": (0.0, "sigmoid"),
    "tanh": (0.0, "tanh"),
    "relu": (0.0, "ReLU"),
    "leaky_relu": (0.2, "leaky ReLU (α = 0.2)"),
    "elu": (1.0, "ELU (α = 1)"),
    "selu": (0.0, "SELU"),
}


def _figure(nrows=1, ncols=1, figsize=(8, 5)):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("fastdnn's plots need matplotlib, which is not installed. Install it with "
                          "`pip install fastdnn[plot]` (or `pip install matplotlib`).") from None
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _save(fig, path):
    if path is not None:
        path = os.fspath(path)
        ext = os.path.splitext(path)[1].lstrip(".").lower()
        fig.savefig(path, format=ext if ext in fig.canvas.get_supported_filetypes() else "png", dpi=100)
    return fig


# ---- reading histories ------------------------------------------------------------------------

def load_history(source):
    """Training history as a dict from metric name to a list of per-epoch values.

    Args:
        source: a `History` (what `fit` returns), a dict of lists, or the path of a JSON file
            holding such a dict (or `{"history": {...}}`) or of a CSVLogger file (its `epoch`
            column is dropped; "NA" reads as NaN).

    Raises:
        FileNotFoundError: if the file does not exist.
        ValueError: if the file or object is not a training history.
    """
    if hasattr(source, "history") and isinstance(source.history, dict):
        source = source.history
    if isinstance(source, dict):
        data, where = source.get("history", source), "the history"
    elif isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        where = repr(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"No history file at {path!r}: pass a JSON dump of history.history "
                                    "or a CSVLogger file.")
        data = _read_history_file(path)
    else:
        raise TypeError("Expected a History, a dict of per-epoch lists, or a path to a JSON/CSV history. "
                        f"Received: {type(source).__name__}")
    if isinstance(data, dict) and data.get("format") == "fastdnn.GradientMonitor":
        raise ValueError(f"{where} is a GradientMonitor record, not a training history: plot it with "
                         "plot_gradient_norms (`python -m fastdnn plot gradients FILE`).")
    if not isinstance(data, dict) or not data:
        raise ValueError(f"{where} holds no metrics: expected a mapping from metric names to lists of values.")
    result = {}
    for name, values in data.items():
        try:
            result[str(name)] = [float(v) for v in values]
        except (TypeError, ValueError):
            raise ValueError(f"{where}: the values of {name!r} are not a list of numbers.") from None
    return result


def _read_history_file(path):
    with open(path, newline="") as f:
        text = f.read()
    if path.lower().endswith(".json") or text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path!r} is not valid JSON ({e}).") from None
    rows = list(csv.reader(text.splitlines()))
    if len(rows) < 2 or len(rows[0]) < 2:
        raise ValueError(f"{path!r} is neither a JSON history nor a CSVLogger file with a header and rows.")
    header, data = rows[0], {}
    for row in rows[1:]:
        if len(row) != len(header):
            raise ValueError(f"{path!r}: a row has {len(row)} fields, the header {len(header)}.")
        for name, value in zip(header, row):
            data.setdefault(name, []).append(float("nan") if value == "NA" else value)
    data.pop("epoch", None)
    return data


# ---- the plots ---------------------------------------------------------------------------------

def plot_learning_curves(history, path=None, metrics=None):
    """Training and validation curves per epoch (the book's learning-curve figures).

    Args:
        history: a `History`, a dict of per-epoch lists, or a JSON/CSVLogger file (see
            `load_history`).
        path: where to save the figure (None: do not save).
        metrics: names to draw (default: every metric but the learning rate, each with its
            `val_` counterpart dashed in the same color).

    Returns:
        The matplotlib Figure.

    Raises:
        ImportError: without matplotlib.
        ValueError: for an empty history or an unknown metric.
    """
    data = load_history(history)
    names = metrics or [n for n in data if not n.startswith("val_") and n not in ("learning_rate", "lr")]
    missing = [n for n in names if n not in data]
    if missing or not names:
        raise ValueError(f"Metrics {missing or names} are not in the history; it holds {sorted(data)}.")
    fig, axes = _figure()
    ax = axes[0][0]
    for i, name in enumerate(names):
        color = f"C{i}"
        ax.plot(range(1, len(data[name]) + 1), data[name], "-", color=color, marker=".", label=f"training {name}")
        if "val_" + name in data:
            v = data["val_" + name]
            ax.plot(range(1, len(v) + 1), v, "--", color=color, marker=".", label=f"validation {name}")
    ax.set_xlabel("Epoch")
    ax.set_title("Learning curves")
    ax.grid(True)
    ax.legend()
    return _save(fig, path)


def plot_learning_rate(source, path=None, steps=None):
    """The learning rate over training.

    Args:
        source: a `History`, dict or history file with a "learning_rate" entry (one value per
            epoch); a `GradientMonitor` or its JSON file (one value per recorded step); or a
            schedule (a `LearningRateSchedule` or any callable step -> rate) with `steps`.
        path: where to save the figure.
        steps: the number of steps to evaluate a schedule over.

    Returns:
        The matplotlib Figure.

    Raises:
        ValueError: when the source holds no learning rate, or a schedule comes without `steps`.
    """
    from .monitoring import GradientMonitor

    if isinstance(source, (str, os.PathLike)) and _is_monitor_file(source):
        source = GradientMonitor.load(source)
    if isinstance(source, GradientMonitor):
        x, y, xlabel = source.steps, source.global_history["learning_rate"], "Step"
    elif callable(source) and not hasattr(source, "history"):
        if not isinstance(steps, int) or steps < 1:
            raise ValueError(f"Plotting a schedule needs `steps`, a positive integer. Received: steps={steps!r}")
        x = np.arange(steps)
        y, xlabel = [float(source(int(s))) for s in x], "Step"
    else:
        data = load_history(source)
        key = "learning_rate" if "learning_rate" in data else "lr" if "lr" in data else None
        if key is None:
            raise ValueError(f"The history has no learning rate (no 'learning_rate' entry); it holds {sorted(data)}.")
        y = data[key]
        x, xlabel = range(1, len(y) + 1), "Epoch"
    fig, axes = _figure()
    ax = axes[0][0]
    ax.plot(x, y, "b-", marker="." if len(y) < 100 else None)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Learning rate")
    ax.set_title("Learning rate")
    ax.grid(True)
    return _save(fig, path)


def _is_monitor_file(path):
    path = os.fspath(path)
    if not os.path.isfile(path):
        return False
    with open(path, "rb") as f:
        head = f.read(200)
    return b'"format": "fastdnn.GradientMonitor"' in head


def plot_gradient_norms(monitor, path=None):
    """Per-layer gradient norms over training, on a log scale, from a `GradientMonitor`.

    Left: each layer's gradient norm and the global norm before and after clipping. Right: each
    layer's gradient relative to its weights, ‖g‖/‖w‖, where vanishing gradients show as the
    lower layers' curves lying decades below the top layer's.

    Args:
        monitor: a `GradientMonitor` or the path of a file written by its `save`.
        path: where to save the figure.

    Returns:
        The matplotlib Figure.

    Raises:
        ValueError: if the monitor has no records.
    """
    from .monitoring import GradientMonitor

    if not isinstance(monitor, GradientMonitor):
        monitor = GradientMonitor.load(monitor)
    if not monitor.steps:
        raise ValueError("The monitor has no records: train with fit(..., callbacks=[monitor]) first.")
    fig, axes = _figure(1, 2, figsize=(13, 5))
    left, right = axes[0]
    steps = monitor.steps
    for i, name in enumerate(monitor.layer_names()):
        r = monitor.history[name]
        color = f"C{i % 10}"
        left.plot(steps, _positive(r["grad_norm"]), color=color, label=name)
        with np.errstate(divide="ignore", invalid="ignore"):
            right.plot(steps, _positive(np.divide(r["grad_norm"], r["weight_norm"])), color=color, label=name)
    left.plot(steps, _positive(monitor.global_history["grad_norm"]), "k--", label="global")
    if monitor.global_history["grad_norm_clipped"] != monitor.global_history["grad_norm"]:
        left.plot(steps, _positive(monitor.global_history["grad_norm_clipped"]), "k:", label="global, clipped")
    for ax, title in ((left, "Gradient norm ‖g‖"), (right, "Relative gradient ‖g‖ / ‖w‖")):
        ax.set_yscale("log")
        ax.set_xlabel("Step")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.4)
    left.legend(fontsize="small", ncol=2)
    return _save(fig, path)


def _positive(values):
    """Values with non-positive and non-finite entries as NaN (gaps on a log axis)."""
    arr = np.asarray(values, dtype=np.float64)
    return np.where(np.isfinite(arr) & (arr > 0), arr, np.nan)


def activation_curves(name, z):
    """(f(z), f'(z)) of a native activation, from fastdnn's own kernels (float32).

    Args:
        name: one of "sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu".
        z: the points to evaluate at.

    Example:
        >>> import numpy as np
        >>> activation_curves("sigmoid", np.array([0.0]))
        (array([0.5], dtype=float32), array([0.25], dtype=float32))

    Raises:
        ValueError: for another name.
    """
    if name not in _ACTIVATIONS:
        raise ValueError(f"Unknown activation {name!r}; expected one of {sorted(_ACTIVATIONS)}.")
    alpha, _ = _ACTIVATIONS[name]
    code = ACTIVATION[name]
    z = np.ascontiguousarray(z, dtype=np.float32)
    y = _C.act_forward(z, code, alpha)
    dy = _C.act_backward(y.reshape(1, -1), np.ones((1, y.size), np.float32), code, alpha, False)[0]
    return y, dy.reshape(z.shape)


def plot_activations(path=None, names=("sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu"),
                     z_range=(-8.0, 8.0)):
    """Activation functions and their derivatives, as chapter 11's Figures 11-1 to 11-3.

    Values come from fastdnn's native activation kernels. The sigmoid panel shades where it
    saturates (output within 1e-3 of 0 or 1 and a derivative near 0).

    Args:
        path: where to save the figure.
        names: the activations to draw (see `activation_curves`).
        z_range: the (low, high) range of inputs.

    Returns:
        The matplotlib Figure.

    Raises:
        ValueError: for an unknown name or an empty range.
    """
    names = list(names)
    for name in names:
        if name not in _ACTIVATIONS:
            raise ValueError(f"Unknown activation {name!r}; expected one of {sorted(_ACTIVATIONS)}.")
    low, high = (float(v) for v in z_range)
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"`z_range` must be two finite numbers, low < high. Received: {z_range!r}")
    if not names:
        raise ValueError("`names` must name at least one activation.")
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = _figure(rows, cols, figsize=(4.5 * cols, 3.6 * rows))
    z = np.linspace(low, high, 801, dtype=np.float32)
    for k, name in enumerate(names):
        ax = axes[k // cols][k % cols]
        y, dy = activation_curves(name, z)
        ax.plot(z, y, "b-", linewidth=2, label=name)
        ax.plot(z, dy, "g--", linewidth=1.5, label="derivative")
        if name == "sigmoid":
            saturated = (y <= 1e-3) | (y >= 1 - 1e-3)
            ax.fill_between(z, -0.2, 1.2, where=saturated, color="r", alpha=0.15, label="saturating")
        ax.axhline(0, color="k", linewidth=0.5)
        ax.axvline(0, color="k", linewidth=0.5)
        ax.set_title(_ACTIVATIONS[name][1])
        ax.grid(True)
        ax.legend(fontsize="small", loc="upper left")
    for k in range(len(names), rows * cols):
        axes[k // cols][k % cols].set_visible(False)
    fig.tight_layout()
    return _save(fig, path)
