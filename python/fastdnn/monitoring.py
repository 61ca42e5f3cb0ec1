"""Watching gradients and activations during training: the `GradientMonitor` callback.

Chapter 11 opens with the unstable gradients problem: with sigmoid activations and N(0, 1)
weights the lower layers' gradients vanish, and other setups make them explode, or leave ReLU
units dead. `GradientMonitor` measures these while `fit` runs, every `every_n_steps` steps, from
native one-pass reductions (csrc/stats/), so it is cheap enough to leave on:

    >>> import numpy as np, fastdnn as keras
    >>> model = keras.Sequential([keras.Input(shape=[4]), keras.layers.Dense(8, activation="relu"),
    ...                           keras.layers.Dense(2, activation="softmax")])
    >>> model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    >>> monitor = keras.callbacks.GradientMonitor(every_n_steps=1)
    >>> _ = model.fit(np.ones((8, 4)), np.zeros(8), batch_size=4, verbose=0, callbacks=[monitor])
    >>> monitor.steps, len(monitor.layer_names())
    ([0, 1], 2)

The monitor acts inside the training step through its step hook (callbacks/step_hook.py), only
while `fit` runs with it and only on the steps it records; training without a monitor runs
exactly as before.
"""

import json
import math
import os
import tempfile

import numpy as np

from . import _C
from . import activations as activations_module
from .callbacks.callback import Callback
from .callbacks.step_hook import StepHook

# Activations whose outputs saturate, with the values they saturate at.
SATURATION_BOUNDS = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0), "hard_sigmoid": (0.0, 1.0)}
LAYER_STATS = ("grad_norm", "weight_norm", "update_ratio", "activation_mean", "activation_std", "dead_fraction",
               "saturated_fraction")
GLOBAL_STATS = ("grad_norm", "grad_norm_clipped", "learning_rate", "loss")
FORMAT = "fastdnn.GradientMonitor"

_CURES = {
    "vanishing": "Glorot or He initialization (kernel_initializer=\"he_normal\"), a nonsaturating "
                 "activation (ELU, SELU, leaky ReLU) instead of sigmoid/tanh, or Batch Normalization",
    "exploding": "gradient clipping (clipnorm=, clipvalue= or global_clipnorm= on the optimizer), a "
                 "lower learning rate, Glorot or He initialization, or Batch Normalization",
    "dead": "a leaky ReLU, ELU or SELU instead of ReLU, He initialization, or a lower learning rate",
    "saturated": "a nonsaturating activation (ReLU, leaky ReLU, ELU, SELU), Glorot or He "
                 "initialization, or Batch Normalization",
}


def activation_stats(x, activation=None, tolerance=1e-3):
    """Statistics of a batch of layer outputs (units on the last axis), in one native pass.

    Args:
        x: a float array of shape (batch, ..., units).
        activation: the activation's name; "sigmoid" and "tanh" (and "hard_sigmoid") enable the
            saturation test.
        tolerance: how close to a saturation value (0 or 1 for sigmoid, ±1 for tanh) an output
            must be to count as saturated.

    Returns:
        A dict with `mean` and `std` (population) of all outputs; `dead_fraction`, the fraction
        of units whose output is exactly 0 for every sample of the batch (dead ReLUs);
        `saturated_fraction`, the fraction of units whose output is within `tolerance` of a
        saturation value for every sample (NaN for activations that do not saturate);
        `saturated_value_fraction`, the same per output value; and `nonfinite`, the count of
        NaN/inf outputs. An empty batch gives NaN mean/std and no dead or saturated units.

    Example:
        >>> import numpy as np
        >>> activation_stats(np.array([[0.0, 1.0], [0.0, 3.0]]), "relu")["dead_fraction"]
        0.5

    Raises:
        TypeError: for complex or non-numeric input.
        ValueError: for a scalar, or a negative or non-finite tolerance.
    """
    if not (isinstance(tolerance, (int, float)) and math.isfinite(tolerance) and tolerance >= 0):
        raise ValueError(f"`tolerance` must be a finite number >= 0. Received: tolerance={tolerance!r}")
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"activation_stats expects a real numeric array. Received dtype={arr.dtype}.")
    if arr.ndim == 0:
        raise ValueError("activation_stats expects a batch of outputs (at least 1 dimension). "
                         f"Received a scalar: {x!r}")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    bounds = SATURATION_BOUNDS.get(activation)
    low, high = bounds if bounds else (0.0, 0.0)
    s = _C.activation_stats(arr, low, high, float(tolerance) if bounds else -1.0)
    return _summarize(s, bounds is not None)


def _summarize(s, saturates):
    count, units = s["count"], s["units"]
    batch = count // units if units else 0
    nan = float("nan")
    mean = s["sum"] / count if count else nan
    var = s["sum_squares"] / count - mean * mean if count else nan
    return {
        "mean": mean,
        "std": math.sqrt(max(var, 0.0)) if math.isfinite(var) else nan,
        "dead_fraction": s["dead_units"] / units if units and batch else 0.0,
        "saturated_fraction": (s["saturated_units"] / units if units and batch else 0.0) if saturates else nan,
        "saturated_value_fraction": (s["saturated_values"] / count if count else 0.0) if saturates else nan,
        "nonfinite": s["nonfinite"],
    }


def _nanmax(values):
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[~np.isnan(arr)]
    return float(arr.max()) if arr.size else float("nan")


def _float32_list(arrays, name):
    return [a if type(a) is np.ndarray and a.dtype == np.float32 and a.flags.c_contiguous
            else np.ascontiguousarray(a, dtype=np.float32) for a in arrays]


def global_norms(grads, optimizer=None):
    """The global L2 norm of `grads` before and after the optimizer's gradient clipping.

    "After" follows the optimizer's own rule: `clipnorm` scales each tensor to a norm of at most
    clipnorm, `global_clipnorm` scales all of them by min(1, c / norm), `clipvalue` clamps each
    element to [-c, c]; without clipping both norms are equal.

    Args:
        grads: a list of gradient arrays (None entries are skipped, as the optimizer skips them).
        optimizer: the optimizer whose clipping settings apply (or None).

    Returns:
        (norm_before, norm_after), as floats.

    Example:
        >>> import numpy as np, fastdnn
        >>> opt = fastdnn.optimizers.SGD(global_clipnorm=1.0)
        >>> global_norms([np.array([3.0, 4.0])], opt)
        (5.0, 1.0)
    """
    grads = _float32_list([g for g in grads if g is not None], "grads")
    squares = _C.sum_squares(grads) if grads else np.zeros(0)
    return _clipped_norms(squares, grads, optimizer)


def _clipped_norms(squares, grads, optimizer):
    before = math.sqrt(float(np.sum(squares)))
    clipnorm = getattr(optimizer, "clipnorm", None)
    clipvalue = getattr(optimizer, "clipvalue", None)
    global_clipnorm = getattr(optimizer, "global_clipnorm", None)
    if clipnorm:
        norms = np.sqrt(squares)
        after = math.sqrt(float(np.sum(np.where(norms > clipnorm, clipnorm, norms) ** 2)))
    elif global_clipnorm:
        after = global_clipnorm if before > global_clipnorm else before
    elif clipvalue:
        after = math.sqrt(float(np.sum(_C.sum_squares(grads, None, float(clipvalue))))) if grads else 0.0
    else:
        after = before
    return before, float(after)


def _activation_name(layer):
    """The activation a layer applies, by name ('linear' for layers without one)."""
    from . import layers

    if isinstance(layer, layers.LeakyReLU):
        return "leaky_relu"
    if isinstance(layer, (layers.ReLU, layers.ELU, layers.Softmax, layers.PReLU, layers.RReLU)):
        return {"ReLU": "relu", "ELU": "elu", "Softmax": "softmax", "PReLU": "prelu",
                "RReLU": "rrelu"}[type(layer).__name__]
    act = getattr(layer, "activation", None)
    return activations_module.serialize(act) if act is not None else "linear"


def _is_activation_layer(layer):
    from . import layers

    return isinstance(layer, (layers.Activation, layers.ReLU, layers.LeakyReLU, layers.ELU,
                              layers.Softmax, layers.RReLU)) and not layer.trainable_weights


class GradientMonitor(Callback, StepHook):
    """Records per-layer gradient norms, update ratios and activation statistics during `fit`.

    Every `every_n_steps` optimizer steps (counted by `optimizer.iterations`, so step 0 is
    recorded), for each layer with trainable weights it records:

    - `grad_norm`: the L2 norm of the layer's gradients (all its trainable weights, before
      clipping);
    - `weight_norm`: the L2 norm ‖w‖ of those weights before the step;
    - `update_ratio`: ‖Δw‖ / ‖w‖ of that step over the layer's trainable weights (w before the
      step);
    - `activation_mean`, `activation_std`: over every output value of the layer's activation;
    - `dead_fraction`: the fraction of units whose output is exactly zero for the whole batch
      (dead ReLUs);
    - `saturated_fraction`: for sigmoid and tanh, the fraction of units whose output is within
      `saturation_tolerance` of a saturation value (0 or 1 for sigmoid, ±1 for tanh) for the
      whole batch; NaN for other activations.

    A layer's activation is the output of the layer itself or, when activation layers follow it
    (`Dense` → `Activation("relu")`, `Dense` → `LeakyReLU`), of the last of those. It also
    records, per step, the global gradient norm before and after the optimizer's clipping
    (`grad_norm`, `grad_norm_clipped`), the learning rate and the batch loss, in
    `global_history`. Records are plain lists: `monitor.history[layer_name][stat]`,
    `monitor.global_history[stat]`, with `monitor.steps` and `monitor.epochs` giving each
    record's step and epoch. `save(path)` and `GradientMonitor.load(path)` write and read them
    as JSON; `report()` turns them into a diagnosis; `fastdnn.plotting` draws them.

    Args:
        every_n_steps: record every this many steps (a positive integer, default 10).
        saturation_tolerance: distance to 0/1 (sigmoid) or ±1 (tanh) counted as saturated.
        verbose: print `report()` when training ends.
        vanishing_ratio: the report flags vanishing gradients when `gradient_ratio()`, the lowest
            layer's ‖g‖/‖w‖ over the top layer's, is below this (default 1/100).
        exploding_ratio: the report flags exploding gradients when `gradient_ratio()` is above
            this, or the global norm grew by this
            factor over training (default 100); non-finite gradients are always flagged.
        dead_threshold, saturated_threshold: fractions of dead or saturated units the report
            flags (median over the records; default 0.25 each).

    Example:
        >>> monitor = GradientMonitor(every_n_steps=10)
        >>> monitor.get_config()["every_n_steps"]
        10

    Raises:
        ValueError: for invalid arguments.
        TypeError: when attached to a model without fastdnn's training step.
    """

    def __init__(self, every_n_steps=10, saturation_tolerance=1e-3, verbose=0, vanishing_ratio=0.01,
                 exploding_ratio=100.0, dead_threshold=0.25, saturated_threshold=0.25):
        super().__init__()
        if isinstance(every_n_steps, bool) or not isinstance(every_n_steps, (int, np.integer)) or every_n_steps < 1:
            raise ValueError("Received an invalid value for `every_n_steps`, expected a positive integer. "
                             f"Received: every_n_steps={every_n_steps!r}")
        for name, value, low, high in (("saturation_tolerance", saturation_tolerance, 0, math.inf),
                                       ("vanishing_ratio", vanishing_ratio, 0, 1),
                                       ("exploding_ratio", exploding_ratio, 1, math.inf),
                                       ("dead_threshold", dead_threshold, 0, 1),
                                       ("saturated_threshold", saturated_threshold, 0, 1)):
            if not (isinstance(value, (int, float)) and not isinstance(value, bool)
                    and math.isfinite(value) and low <= value <= high):
                raise ValueError(f"Received an invalid value for `{name}`, expected a number in "
                                 f"[{low}, {high}]. Received: {name}={value!r}")
        self.every_n_steps = int(every_n_steps)
        self.saturation_tolerance = float(saturation_tolerance)
        self.verbose = verbose
        self.vanishing_ratio, self.exploding_ratio = float(vanishing_ratio), float(exploding_ratio)
        self.dead_threshold, self.saturated_threshold = float(dead_threshold), float(saturated_threshold)
        self.steps, self.epochs = [], []
        self.history = {}  # layer name -> {stat: list}
        self.layers = {}  # layer name -> {"class_name", "activation"}, bottom to top
        self.global_history = {k: [] for k in GLOBAL_STATS}
        self.outputs = None  # the layer outputs of the step being recorded
        self._epoch = 0
        self._groups = None
        self._plan = None

    # ---- attaching to fit -------------------------------------------------------------------

    def step_hook(self):
        return self

    def on_train_begin(self, logs=None):
        if not callable(getattr(self.model, "train_step", None)) or not hasattr(self.model, "layers"):
            raise TypeError("GradientMonitor works with fastdnn models (Sequential, functional or "
                            f"subclassed), whose training step runs its hooks. Received: "
                            f"{type(self.model).__name__}")
        self._groups = self._plan = None  # found at the first recorded step, once layers are built
        self._pending = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_end(self, logs=None):
        if self.verbose:
            print(self.report())

    @staticmethod
    def _layer_groups(model):
        """[(layer, the layer whose output is its activation, activation name)] for every layer
        with trainable weights, bottom to top (in `model.layers` order)."""
        groups, last = [], None
        for i, layer in enumerate(model.layers):
            if layer.trainable_weights:
                groups.append([layer, layer, _activation_name(layer)])
                last = i
            elif groups and last == i - 1 and _is_activation_layer(layer):
                groups[-1][1], groups[-1][2] = layer, _activation_name(layer)
                last = i
        return [tuple(g) for g in groups]

    # ---- the step hook: what the training step calls ---------------------------------------------

    def begin_step(self):
        """Whether the coming step is recorded (its layer outputs are then captured)."""
        return not self.model.optimizer.iterations % self.every_n_steps

    def _make_plan(self, variables):
        """What the recorded steps reuse while the variable list stays the same: each
        variable's layer, weight snapshot buffers, and each layer's saturation bounds."""
        if self._groups is None:
            self._groups = self._layer_groups(self.model)
        owner = {id(w): k for k, (layer, _, _) in enumerate(self._groups) for w in layer.trainable_weights}
        owners = np.array([owner.get(id(v), len(self._groups)) for v in variables], dtype=np.int64)
        bounds = []
        for _, source, act in self._groups:
            b = SATURATION_BOUNDS.get(act)
            bounds.append((source, b[0], b[1], self.saturation_tolerance) if b else (source, 0.0, 0.0, -1.0))
        return ([id(v) for v in variables], owners, [np.empty_like(v._value) for v in variables], bounds)

    def before_update(self, variables, grads, outputs):
        """Takes the gradients' and weights' norms and a copy of the weights, before the update,
        and keeps the step's layer outputs."""
        self.outputs = outputs
        plan = self._plan
        if plan is None or len(plan[0]) != len(variables) or any(
                a != id(b) for a, b in zip(plan[0], variables)):
            plan = self._plan = self._make_plan(variables)
        _, owners, snapshots, _ = plan
        weights = [v._value for v in variables]
        if any(g is None for g in grads):  # the optimizer skips these; so does the record
            keep = [i for i, g in enumerate(grads) if g is not None]
            grads, weights = [grads[i] for i in keep], [weights[i] for i in keep]
            owners, snapshots = owners[keep], [snapshots[i] for i in keep]
        grads = _float32_list(grads, "grads")
        n = len(grads)
        # One native pass: Σg² per gradient, and Σw² per weight while copying the weights.
        squares = _C.sum_squares(grads + weights, None, 0.0, [None] * n + snapshots) if n else np.zeros(0)
        optimizer = self.model.optimizer
        self._pending = (owners, squares, weights, snapshots, _clipped_norms(squares[:n], grads, optimizer),
                         optimizer.current_learning_rate)

    def after_update(self, loss):
        """Completes the record of this step once the weights are updated."""
        owners, squares, weights, snapshots, (norm, clipped), learning_rate = self._pending
        self._pending = None
        n, groups = len(weights), len(self._groups)
        delta_sq = _C.sum_squares(weights, snapshots) if n else np.zeros(0)
        # grad², w², Δw² summed per layer (the last slot takes weights of no monitored layer)
        per_layer = np.sqrt(np.stack([np.bincount(owners, weights=v, minlength=groups + 1)
                                      for v in (squares[:n], squares[n:], delta_sq)]))
        grad_norm, weight_norm, delta_norm = per_layer.tolist()
        self.steps.append(int(self.model.optimizer.iterations) - 1)
        self.epochs.append(int(self._epoch))
        for key, value in zip(GLOBAL_STATS, (norm, clipped, learning_rate, loss)):
            self.global_history[key].append(float(value))
        outputs = self.outputs
        for k, (layer, _, act) in enumerate(self._groups):
            record = self.history.get(layer.name)
            if record is None:
                record = self.history[layer.name] = {stat: [float("nan")] * (len(self.steps) - 1) for stat in LAYER_STATS}
                self.layers[layer.name] = {"class_name": type(layer).__name__, "activation": act}
            source, low, high, tolerance = self._plan[3][k]
            out = outputs[id(source)][1]
            if not (type(out) is np.ndarray and out.dtype == np.float32 and out.flags.c_contiguous):
                out = np.ascontiguousarray(out, dtype=np.float32)
            stats = _summarize(_C.activation_stats(out, low, high, tolerance), tolerance >= 0)
            w = weight_norm[k]
            record["grad_norm"].append(grad_norm[k])
            record["weight_norm"].append(w)
            record["update_ratio"].append(delta_norm[k] / w if w else (float("nan") if not delta_norm[k] else float("inf")))
            record["activation_mean"].append(stats["mean"])
            record["activation_std"].append(stats["std"])
            record["dead_fraction"].append(stats["dead_fraction"])
            record["saturated_fraction"].append(stats["saturated_fraction"])
        if len(self.history) > groups:  # layers absent from this model get NaN
            for record in self.history.values():
                for values in record.values():
                    if len(values) < len(self.steps):
                        values.append(float("nan"))
        self.outputs = None

    # ---- reading the records --------------------------------------------------------------------

    def layer_names(self):
        """The monitored layers' names, bottom to top."""
        return list(self.layers)

    def _kernel_layers(self):
        names = [n for n in self.layers if self.layers[n]["class_name"] != "BatchNormalization"]
        return names or self.layer_names()

    def gradient_ratio(self):
        """Median over the records of the lowest layer's relative gradient ‖g‖/‖w‖ divided by
        the top layer's.

        Layers differ in size and weight scale (a 784×100 kernel against a 100×10 one), so
        their raw gradient norms are not comparable; ‖g‖/‖w‖ is how fast each layer's weights
        move for a given learning rate (with SGD, update_ratio = lr·‖g‖/‖w‖), whatever the
        optimizer. The lowest and top layers are the first and last monitored layers other than
        BatchNormalization. A ratio far below 1 means vanishing gradients (the lower layers
        barely learn); far above 1, exploding ones.

        Raises:
            ValueError: if fewer than two layers were recorded.
        """
        names = self._kernel_layers()
        if len(names) < 2 or not self.steps:
            raise ValueError("gradient_ratio needs records of at least two layers with weights; "
                             f"this monitor has {len(names)} layer(s) and {len(self.steps)} record(s).")
        low, top = (np.asarray(self.history[n]["grad_norm"]) / np.asarray(self.history[n]["weight_norm"])
                    for n in (names[0], names[-1]))
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(np.nanmedian(low / top)) if np.isfinite(low / top).any() else float("nan")

    def report(self):
        """A text diagnosis of the records: vanishing or exploding gradients, dead or saturated
        units, each with the cure chapter 11 gives.

        Returns:
            A multi-line string (a per-layer table of medians, then the findings).
        """
        if not self.steps:
            return "GradientMonitor: no steps recorded yet (train with fit(..., callbacks=[monitor]))."
        lines = [f"GradientMonitor: {len(self.steps)} records, steps {self.steps[0]}..{self.steps[-1]} "
                 f"(every {self.every_n_steps}); medians over the records, bottom layer first:",
                 f"  {'layer':<22s} {'activation':<11s} {'grad norm':>10s} {'|dw|/|w|':>9s} "
                 f"{'|g|/|w|':>8s} {'act mean':>9s} {'act std':>8s} {'dead':>6s} {'saturated':>9s}"]

        def median(values):
            arr = np.asarray(values, dtype=np.float64)
            arr = arr[~np.isnan(arr)]
            return float(np.median(arr)) if arr.size else float("nan")

        def pct(value):
            return "-" if math.isnan(value) else f"{100 * value:.0f}%"

        for name, info in self.layers.items():
            r = self.history[name]
            lines.append(f"  {name:<22s} {info['activation']:<11s} {median(r['grad_norm']):10.3g} "
                         f"{median(r['update_ratio']):9.2g} "
                         f"{median(np.divide(r['grad_norm'], r['weight_norm'])):8.2g} {median(r['activation_mean']):9.3g} "
                         f"{median(r['activation_std']):8.3g} {pct(median(r['dead_fraction'])):>6s} "
                         f"{pct(median(r['saturated_fraction'])):>9s}")
        g = self.global_history
        lines.append(f"  global gradient norm: last {g['grad_norm'][-1]:.3g} (after clipping "
                     f"{g['grad_norm_clipped'][-1]:.3g}), largest {_nanmax(g['grad_norm']):.3g}")
        findings = self.findings()
        if findings:
            lines += ["Findings:"] + [f"  - {f}" for f in findings]
        else:
            lines.append("No unstable gradients, dead or saturated units detected.")
        return "\n".join(lines)

    def findings(self):
        """The report's findings, as a list of sentences (empty when all looks healthy)."""
        found = []
        names = self._kernel_layers()
        norms = np.array([self.history[n]["grad_norm"] for n in self.layers], dtype=np.float64)
        if not np.isfinite(norms).all() or not np.isfinite(self.global_history["grad_norm"]).all():
            found.append("Exploding gradients: non-finite (NaN or inf) gradient norms were recorded. "
                         f"Cure: {_CURES['exploding']}.")
        elif len(names) >= 2:
            ratio = self.gradient_ratio()
            if ratio < self.vanishing_ratio:
                found.append(f"Vanishing gradients: relative to its weights, the lowest layer "
                             f"'{names[0]}' gets gradients {ratio:.2g}x as large as the top layer "
                             f"'{names[-1]}' (below "
                             f"{self.vanishing_ratio:g}), so it barely learns. Cure: {_CURES['vanishing']}.")
            elif ratio > self.exploding_ratio:
                found.append(f"Exploding gradients: relative to its weights, the lowest layer "
                             f"'{names[0]}' gets gradients {ratio:.3g}x as large as the top layer "
                             f"'{names[-1]}'. Cure: {_CURES['exploding']}.")
        total = np.asarray(self.global_history["grad_norm"], dtype=np.float64)
        if np.isfinite(total).all() and total.size >= 3:
            third = max(1, total.size // 3)
            growth = np.median(total[-third:]) / max(np.median(total[:third]), 1e-300)
            if growth > self.exploding_ratio:
                found.append(f"Exploding gradients: the global gradient norm grew {growth:.3g}x during "
                             f"training. Cure: {_CURES['exploding']}.")
        for name, info in self.layers.items():
            r = self.history[name]
            dead = np.nanmedian(r["dead_fraction"]) if np.isfinite(r["dead_fraction"]).any() else 0.0
            if dead >= self.dead_threshold:
                found.append(f"Dead units: {100 * dead:.0f}% of the units of '{name}' ({info['activation']}) "
                             f"output 0 for whole batches. Cure: {_CURES['dead']}.")
            sat = np.asarray(r["saturated_fraction"], dtype=np.float64)
            if np.isfinite(sat).any() and np.nanmedian(sat) >= self.saturated_threshold:
                found.append(f"Saturated units: {100 * np.nanmedian(sat):.0f}% of the units of '{name}' "
                             f"({info['activation']}) sit at their limits for whole batches, where the "
                             f"gradient is ~0. Cure: {_CURES['saturated']}.")
        return found

    # ---- saving ---------------------------------------------------------------------------------

    def get_config(self):
        return {"every_n_steps": self.every_n_steps, "saturation_tolerance": self.saturation_tolerance,
                "verbose": self.verbose, "vanishing_ratio": self.vanishing_ratio,
                "exploding_ratio": self.exploding_ratio, "dead_threshold": self.dead_threshold,
                "saturated_threshold": self.saturated_threshold}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def to_dict(self):
        """The configuration and every record, as JSON-ready plain values."""
        return {"format": FORMAT, "version": 1, "config": self.get_config(),
                "steps": list(self.steps), "epochs": list(self.epochs),
                "global": {k: list(v) for k, v in self.global_history.items()},
                "layers": [{"name": n, **info, **{s: list(self.history[n][s]) for s in LAYER_STATS}}
                           for n, info in self.layers.items()]}

    @classmethod
    def from_dict(cls, data, source="data"):
        """Rebuilds a monitor (records included, no model) from `to_dict()`'s output.

        Raises:
            ValueError: if `data` is not a monitor record.
        """
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"{source} is not a GradientMonitor record (expected a JSON object with "
                             f"\"format\": \"{FORMAT}\", as GradientMonitor.save writes).")
        try:
            monitor = cls.from_config(data["config"])
            monitor.steps, monitor.epochs = [int(s) for s in data["steps"]], [int(e) for e in data["epochs"]]
            n = len(monitor.steps)
            monitor.global_history = {k: [float(v) for v in data["global"][k]] for k in GLOBAL_STATS}
            for entry in data["layers"]:
                monitor.layers[entry["name"]] = {"class_name": entry["class_name"], "activation": entry["activation"]}
                monitor.history[entry["name"]] = {s: [float(v) for v in entry[s]] for s in LAYER_STATS}
            lengths = {len(v) for v in monitor.global_history.values()} | {
                len(v) for r in monitor.history.values() for v in r.values()} | {len(monitor.epochs)}
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{source} is a damaged GradientMonitor record: {type(e).__name__}: {e}") from None
        if lengths - {n}:
            raise ValueError(f"{source} is a damaged GradientMonitor record: series lengths {sorted(lengths)} "
                             f"differ from the {n} recorded steps.")
        return monitor

    def save(self, path):
        """Writes the records to `path` as JSON (atomically: a complete file or none).

        Non-finite values are written as NaN/Infinity, which Python's json module reads back.
        """
        path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(prefix=".monitor-", suffix=".json", dir=folder)
        umask = os.umask(0)
        os.umask(umask)
        try:
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would hide the file from other users
            with os.fdopen(fd, "w") as f:
                json.dump(self.to_dict(), f)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    @classmethod
    def load(cls, path):
        """Reads a monitor written by `save`.

        Raises:
            FileNotFoundError: if `path` does not exist.
            ValueError: if it is not a valid GradientMonitor JSON file.
        """
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"No GradientMonitor file at {path!r}; write one with monitor.save(path).")
        try:
            with open(path) as f:
                data = json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{path!r} is not valid JSON ({e}); expected a file written by "
                             "GradientMonitor.save.") from None
        return cls.from_dict(data, repr(path))
