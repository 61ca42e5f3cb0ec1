"""What `compile` turns its `loss`, `loss_weights`, `metrics` and `weighted_metrics` into, for
models with one output or several, as Keras 3's trainers/compile_utils.py.

With several outputs (named by their layers, or by the keys of a dict of outputs):

* `loss` is one loss for every output, a list with one per output (None: no loss there), or a
  dict keyed by output name; `loss_weights` a list or dict likewise. The total loss is the
  weighted sum; each output's unweighted loss is logged as "<output>_loss".
* `metrics` is a list with one entry (a metric or a list of them) per output, or a dict keyed by
  output name; results are logged as "<output>_<metric>" ("val_" prefixed in validation).
* `y` (and `sample_weight`) is a list in the outputs' order, or a dict keyed by output name.

    CompileLoss(loss, loss_weights, output_names)(y_true, y_pred, sample_weight) -> 0-d array
    CompileMetrics(metrics, weighted_metrics, output_names, loss).update_state(y, y_pred, sw)
"""

import numbers

import numpy as np

from .. import losses as losses_module
from .. import metrics as metrics_module
from .. import ops
from ..layers.keras_tensor import flatten


def _per_output(value, names, what, leaf=lambda v: not isinstance(v, (list, tuple, dict))):
    """`value` as one entry per output (in `names` order): a single entry is repeated for each
    output only when `leaf(value)`; a list must have one entry per output; a dict is keyed by
    output name.

    Raises:
        ValueError: for a list of the wrong length or a dict with unknown keys.
    """
    n = len(names)
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ValueError(f"`{what}` has keys {unknown} that are not outputs of the model; its outputs "
                             f"are {names}. Received: {what}={value!r}")
        return [value.get(name) for name in names]
    if isinstance(value, (list, tuple)) and not leaf(value):
        if len(value) != n:
            raise ValueError(f"`{what}` has {len(value)} entries but the model has {n} outputs {names}: "
                             f"give one per output (None for none), or a dict keyed by output name. "
                             f"Received: {what}={value!r}")
        return list(value)
    return [value] * n


def align(value, names, what):
    """y or sample_weight of a model with several outputs as a list in output order (a list, a
    tuple or a dict keyed by output name), or [value] for one output.

    Raises:
        ValueError: for a structure that does not match the outputs.
    """
    if len(names) == 1:
        if isinstance(value, dict) and len(value) == 1:
            return list(value.values())
        if isinstance(value, (list, tuple)) and len(value) == 1 and isinstance(value[0], np.ndarray):
            return [value[0]]
        return [value]
    if isinstance(value, dict):
        missing = [n for n in names if n not in value]
        if missing:
            raise ValueError(f"`{what}` is a dict without the outputs {missing}; the model's outputs are "
                             f"{names}. Received keys: {sorted(value)}")
        return [value[n] for n in names]
    if isinstance(value, (list, tuple)) and len(value) == len(names):
        return list(value)
    if what == "sample_weight" and not isinstance(value, (list, tuple)):
        return [value] * len(names)  # the same weights for every output, as Keras
    count = len(value) if isinstance(value, (list, tuple)) else 1
    raise ValueError(f"The model has {len(names)} outputs {names} but `{what}` holds {count}: pass a list "
                     "with one array per output, or a dict keyed by output name.")


class CompileLoss:
    """The loss `compile` was given, resolved per output.

    Args:
        loss: a loss (name, function, `Loss`), a list of them or a dict keyed by output name.
        loss_weights: None, a float, a list or a dict keyed by output name.
        output_names: the model's output names, in output order.
    """

    def __init__(self, loss, loss_weights=None, output_names=("output",)):
        self.output_names = list(output_names)
        names = self.output_names
        entries = _per_output(loss, names, "loss")
        if loss_weights is None:
            weights = [None] * len(names)
        elif isinstance(loss_weights, numbers.Real) and not isinstance(loss_weights, bool):
            weights = [float(loss_weights)] * len(names)
        else:
            weights = _per_output(loss_weights, names, "loss_weights")
        for w in weights:
            if w is not None and not (isinstance(w, numbers.Real) and not isinstance(w, bool)):
                raise ValueError(f"Each loss weight must be a number. Received: loss_weights={loss_weights!r}")
        self.losses = [losses_module.resolve(e) for e in entries]
        self.weights = [None if w is None else float(w) for w in weights]
        if all(fn is None for fn in self.losses):
            raise ValueError(f"`loss` gives no loss for any output of the model ({names}). Received: loss={loss!r}")
        self.trackers = []
        if len(names) > 1:
            self.trackers = [metrics_module.Mean(name=f"{name}_loss") if fn is not None else None
                             for name, fn in zip(names, self.losses)]

    @property
    def metrics(self):
        """The per-output loss trackers ("<output>_loss"), for several outputs."""
        return [t for t in self.trackers if t is not None]

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The total loss: a 0-d float32 array on the active tape."""
        names = self.output_names
        if len(names) == 1:
            fn, weight = self.losses[0], self.weights[0]
            if sample_weight is None and weight is None and type(y_pred) is not list and type(y_true) is not list \
                    and type(y_true) is not dict and type(y_pred) is not dict:
                return fn(y_true, y_pred)  # one output: the training step's hot path
            if isinstance(y_pred, (list, tuple)) and len(y_pred) == 1:
                y_pred = y_pred[0]
            if isinstance(y_pred, dict) and len(y_pred) == 1:
                y_pred = next(iter(y_pred.values()))
            y_true = align(y_true, names, "y")[0]
            sw = None if sample_weight is None else align(sample_weight, names, "sample_weight")[0]
            value = fn(y_true, y_pred, sample_weight=sw)
            return value if weight is None else ops.multiply(value, np.array(weight, np.float32))
        preds = align(y_pred, names, "y_pred")
        trues = align(y_true, names, "y")
        sws = [None] * len(names) if sample_weight is None else align(sample_weight, names, "sample_weight")
        total = None
        for fn, weight, tracker, yt, yp, sw in zip(self.losses, self.weights, self.trackers, trues, preds, sws):
            if fn is None:
                continue
            value = fn(yt, yp, sample_weight=sw)
            tracker.update_state(float(value), sample_weight=int(yp.shape[0]))
            if weight is not None:
                value = ops.multiply(value, np.array(weight, np.float32))
            total = value if total is None else ops.add(total, value)
        return total


class CompileMetrics:
    """The metrics `compile` was given, resolved per output.

    Args:
        metrics: a list of metrics (one output), or for several outputs a list with one entry
            (a metric or a list of them) per output, or a dict keyed by output name.
        weighted_metrics: the same, updated with the sample weights.
        output_names: the model's output names.
        losses: the resolved loss of each output (it decides what "accuracy" means).
    """

    name = "compile_metrics"

    def __init__(self, metrics, weighted_metrics, output_names, losses):
        self.output_names = list(output_names)
        self._metrics = self._resolve(metrics, losses, "metrics")
        self._weighted = self._resolve(weighted_metrics, losses, "weighted_metrics")
        self._names = self._result_names()

    def _resolve(self, given, losses, what):
        names = self.output_names
        if not given:
            return [[] for _ in names]
        if len(names) == 1:
            if not isinstance(given, (list, tuple, dict)):
                raise ValueError(f"Expected `{what}` to be a list or a dict. Received: {what}={given!r}")
            entries = [flatten(list(given.values()) if isinstance(given, dict) else given)]
        else:
            entries = _per_output(given, names, what, leaf=lambda v: False)
        out = []
        for entry, loss in zip(entries, losses):
            items = [] if entry is None else entry if isinstance(entry, (list, tuple)) else [entry]
            out.append([metrics_module.resolve(m, loss) for m in items])
        return out

    @property
    def metrics(self):
        """Every compiled metric object, metrics then weighted metrics."""
        return [m for ms in self._metrics + self._weighted for m in ms]

    def reset_state(self):
        for metric in self.metrics:
            metric.reset_state()

    def update_state(self, y_true, y_pred, sample_weight=None):
        names = self.output_names
        if len(names) == 1 and sample_weight is None and type(y_pred) is np.ndarray and type(y_true) is np.ndarray:
            for metric in self._metrics[0]:  # one output: the training step's path
                metric.update_state(y_true, y_pred)
            for metric in self._weighted[0]:
                metric.update_state(y_true, y_pred, sample_weight=None)
            return
        trues, preds = align(y_true, names, "y"), align(y_pred, names, "y_pred")
        for ms, yt, yp in zip(self._metrics, trues, preds):
            for metric in ms:
                metric.update_state(yt, yp)
        if any(self._weighted):
            sws = [None] * len(names) if sample_weight is None else align(sample_weight, names, "sample_weight")
            for ms, yt, yp, sw in zip(self._weighted, trues, preds, sws):
                for metric in ms:
                    metric.update_state(yt, yp, sample_weight=sw)

    def result(self):
        """{name: value} of every metric (names as `_result_names` gives them)."""
        return {name: metric.result() for name, metric in self._names}

    def _result_names(self):
        """[(name, metric)]: metric names, prefixed by the output's name when there are several,
        made unique as Keras does (a weighted metric that repeats a name gets "weighted_")."""
        results, seen = [], {}
        several = len(self.output_names) > 1
        for weighted, groups in ((False, self._metrics), (True, self._weighted)):
            for output, ms in zip(self.output_names, groups):
                for metric in ms:
                    base = f"{output}_{metric.name}" if several else metric.name
                    name = base
                    if name in seen and weighted:
                        name = f"{output}_weighted_{metric.name}" if several else f"weighted_{metric.name}"
                    if name in seen:
                        seen[name] += 1
                        name = f"{name}_{seen[name] - 1}"
                    else:
                        seen[name] = 1
                    results.append((name, metric))
        return results
