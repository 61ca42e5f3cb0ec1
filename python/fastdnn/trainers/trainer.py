"""The trainer: compile, fit, evaluate and predict, over the steps a model may override
(train_step, test_step, predict_step) and the loss and metrics they compute, as Keras 3's
`Trainer`.

One built-in training step, for every kind of model:

    y_pred = model(x, training=True)                  on a GradientTape; each layer's fused
    loss = compute_loss(x, y, y_pred, sample_weight)  native kernels, add_loss values, penalties
    grads = tape.gradient(loss, trainable_weights)    (L1/L2 gradients added natively after)
    optimizer.apply_gradients(...); constraints       one native call each
    return compute_metrics(...)                       the logs: {"loss": ..., "accuracy": ...}

Callbacks act inside it through their step hooks (callbacks/step_hook.py). A model placed on a
GPU keeps its weights there; each batch is copied up, and only the loss (and the predictions,
for metrics) come back.
"""

import math

import numpy as np

from .. import losses as losses_module
from .. import metrics as metrics_module
from .. import optimizers as optimizers_module
from .. import ops, penalties
from .._dispatch import host, on_device
from .._interrupt import deferred_interrupt
from ..autodiff import GradientTape
from ..callbacks.callback_list import CallbackList
from ..layers import call_context
from ..layers.keras_tensor import flatten, map_structure, pack_like
from . import data as data_utils
from .compile_utils import CompileLoss, CompileMetrics

_FIT_EXTRAS = {"validation_steps", "validation_batch_size", "validation_freq"}


def _serialize_entry(entry, family):
    """A loss or metric argument as JSON-safe config: names stay, objects become configs,
    structures keep their shape."""
    if entry is None or isinstance(entry, str):
        return entry
    if isinstance(entry, dict):
        return {k: _serialize_entry(v, family) for k, v in entry.items()}
    if isinstance(entry, (list, tuple)):
        return [_serialize_entry(v, family) for v in entry]
    return family.serialize(entry)


def _deserialize_entry(entry, family):
    if entry is None or isinstance(entry, str):
        return entry
    if isinstance(entry, dict) and "class_name" in entry:
        return family.deserialize(entry)
    if isinstance(entry, dict):
        return {k: _deserialize_entry(v, family) for k, v in entry.items()}
    return [_deserialize_entry(v, family) for v in entry]


def _batch_size(value, name):
    if value is None:
        return 32
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"The `{name}` argument must be a positive integer. Received: {name}={value!r}")
    return int(value)


def _prepare(where, x, y, sample_weight, batch_size):
    """(x, y, sample_weight, samples, batch size) of a loop, checked and standardized.

    Raises:
        ValueError: for missing, empty or mismatched data, or a bad batch size.
    """
    if x is None or y is None:
        raise ValueError(f"{where}() needs both x and y.")
    x, y = data_utils.standardize(x, "x"), data_utils.standardize(y, "y", inputs=False)
    sample_weight = data_utils.standardize(sample_weight, "sample_weight")
    n = data_utils.num_samples(where, x=x, y=y, sample_weight=sample_weight)
    return x, y, sample_weight, n, _batch_size(batch_size, "batch_size")


class Trainer:
    """compile / fit / evaluate / predict, and the steps they run. Mixed into `Model`."""

    def __init__(self):
        self.optimizer = None
        self.loss = None
        self.stop_training = False
        self.history = None
        self._compile_loss = None
        self._compile_metrics = None
        self._loss_tracker = None
        self._compile_config = None
        self._step_hooks = ()
        self._step_penalties = None  # what the running built-in step adds to the loss itself

    # ---- compile ------------------------------------------------------------------------------

    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1, jit_compile="auto",
                auto_scale_loss=True, **kwargs):
        """Configures training: an optimizer (instance or name), a loss and metrics, one per
        output or for all (see trainers/compile_utils.py).

        Args:
            optimizer: an optimizer or its name.
            loss: a loss (name, function or `Loss`); for several outputs a list or a dict keyed
                by output name.
            loss_weights: weights of the outputs' losses in the total (list or dict).
            metrics: metrics to report; for several outputs one entry per output (list) or a
                dict keyed by output name.
            weighted_metrics: metrics weighted by the sample weights.
            run_eagerly, steps_per_execution, jit_compile, auto_scale_loss: Keras's settings,
                accepted for compatibility; fastdnn always runs its native kernels eagerly.

        Raises:
            ValueError: for an unknown optimizer, loss or metric, or losses and metrics that do
                not match the model's outputs.
        """
        if kwargs.pop("sample_weight_mode", None) is not None:  # Keras 2's; only its default is known
            raise ValueError("`sample_weight_mode` is not supported (Keras 3 removed it): pass per-sample "
                             "weights to fit(sample_weight=...).")
        if kwargs:
            raise TypeError(f"compile() got unexpected keyword arguments {sorted(kwargs)}")
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = loss
        self._compile_config = {"loss": loss, "loss_weights": loss_weights, "metrics": metrics,
                                "weighted_metrics": weighted_metrics, "run_eagerly": run_eagerly,
                                "steps_per_execution": steps_per_execution, "jit_compile": jit_compile}
        self._loss_tracker = metrics_module.Mean(name="loss")
        self._compile_loss = self._compile_metrics = None
        names = self._known_output_names()
        if names is not None:
            self._build_compiled(names)

    def _known_output_names(self):
        """The output names, when known before the first call (None: learnt from it)."""
        return None

    def _build_compiled(self, names):
        config = self._compile_config
        self._compile_loss = None if self.loss is None else CompileLoss(self.loss, config["loss_weights"], names)
        losses = self._compile_loss.losses if self._compile_loss is not None else [None] * len(names)
        self._compile_metrics = CompileMetrics(config["metrics"], config["weighted_metrics"], names, losses)

    @property
    def compiled(self):
        return self.optimizer is not None

    @property
    def compiled_metrics(self):
        """The metric objects `compile` made (per output, metrics then weighted metrics)."""
        return self._compile_metrics.metrics if self._compile_metrics is not None else []

    @property
    def metrics(self):
        """Every metric the model tracks, in Keras's order: the loss, the compiled metrics (one
        entry whose result is a dict), the per-output losses, then metrics assigned as
        attributes of the model. Override it in a custom training step to choose what `fit`
        resets at each epoch and logs."""
        out = []
        if self._loss_tracker is not None:
            out.append(self._loss_tracker)
        if self._compile_metrics is not None:
            out.append(self._compile_metrics)
        if self._compile_loss is not None:
            out += self._compile_loss.metrics
        out += [m for m in self.__dict__.get("_tracked_metrics", ()) if all(m is not o for o in out)]
        return out

    @property
    def metrics_names(self):
        return [m.name for m in self.metrics]

    def reset_metrics(self):
        for metric in self.metrics:
            metric.reset_state()

    def get_metrics_result(self):
        """{name: value} of every metric in `self.metrics` (a dict result is merged in)."""
        results = {}
        for metric in self.metrics:
            value = metric.result()
            if isinstance(value, dict):
                results.update(value)
            else:
                results[metric.name] = value
        return results

    def get_compile_config(self):
        """The settings `compile` received, serialized (None before `compile`)."""
        if self._compile_config is None:
            return None
        config = dict(self._compile_config)
        config["optimizer"] = optimizers_module.serialize(self.optimizer)
        config["loss"] = _serialize_entry(config["loss"], losses_module)
        for key in ("metrics", "weighted_metrics"):
            config[key] = _serialize_entry(config[key], metrics_module)
        return config

    def compile_from_config(self, config):
        """Compiles the model with `get_compile_config()`'s output."""
        config = dict(config)
        self.compile(optimizer=config.pop("optimizer", "rmsprop"),
                     loss=_deserialize_entry(config.pop("loss", None), losses_module),
                     metrics=_deserialize_entry(config.pop("metrics", None), metrics_module),
                     weighted_metrics=_deserialize_entry(config.pop("weighted_metrics", None), metrics_module),
                     loss_weights=config.pop("loss_weights", None),
                     **{k: v for k, v in config.items() if k in ("run_eagerly", "steps_per_execution",
                                                                 "jit_compile")})

    def _assert_compiled(self, what):
        if self.optimizer is None:
            raise RuntimeError(f"You must call compile() before {what}: model.compile(optimizer, loss).")

    def _ensure_compiled_for(self, y_pred):
        """Builds the compiled loss and metrics once the outputs are known (subclassed models)."""
        if self._compile_metrics is None and self.optimizer is not None:
            names = getattr(self, "output_names", None)
            flat = flatten(y_pred)
            if not names or len(names) != len(flat):
                names = sorted(y_pred) if isinstance(y_pred, dict) else \
                    ["output"] if len(flat) == 1 else [f"output_{i + 1}" for i in range(len(flat))]
            self._build_compiled(list(names))

    # ---- the steps ------------------------------------------------------------------------------

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The total loss of a batch: the compiled loss, the values layers passed to `add_loss`
        in the latest forward pass, and the regularization penalties. Override it for a custom
        loss; on a GradientTape the result is differentiable.

        Returns:
            A 0-d float32 array.

        Raises:
            ValueError: when there is no loss at all.
        """
        del x
        self._ensure_compiled_for(y_pred)
        total = None
        if self._compile_loss is not None:
            total = self._compile_loss(y, y_pred, sample_weight)
        for extra in self._step_added if self._step_penalties is not None else call_context.added_losses():
            extra = ops.sum(extra) if np.ndim(extra) else extra
            total = extra if total is None else ops.add(total, extra)
        if total is None:
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`.")
        step = self._step_penalties
        if step is None:  # called from user code: every penalty on the tape (or, evaluating, now)
            if training:
                total = penalties.on_tape(penalties.plan(self, self.trainable_weights), total, every=True)
            else:
                total = ops.add(total, np.array(penalties.current(self), np.float32))
        elif step != "test" and step.active:  # the built-in step adds native L1/L2 gradients itself
            total = penalties.on_tape(step, total)
        return total

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Updates the compiled metrics with a batch and returns every metric's result (the logs
        of the step)."""
        del x
        compiled = self._compile_metrics
        if compiled is not None and compiled._names:
            if type(y_pred) is not np.ndarray:  # metrics count on the host
                y_pred = map_structure(host, y_pred)
            compiled.update_state(y, y_pred, sample_weight)
        return self.get_metrics_result()

    def train_step(self, data):
        """One optimizer step on a batch `data` = (x, y) or (x, y, sample_weight); returns the
        logs (the metrics' running results). Override it for a custom training step, with a
        `GradientTape`, `self.compute_loss` and `self.optimizer.apply_gradients`."""
        x, y, sample_weight = data_utils.unpack_x_y_sample_weight(data)
        hooks = self._step_hooks
        variables = self.trainable_weights
        # With TerminateOnNaN attached, a step whose loss is not finite changes nothing: the
        # statistics its forward pass updated are put back and the optimizer is not run.
        keep = any(hook.keep_last_good for hook in hooks) if hooks else False
        saved = [v.numpy() for v in self.non_trainable_weights] if keep else None
        plan = penalties.plan(self, variables)  # regularizers and constraints (penalties.py)
        cpu_only = plan.activity_layers or plan.tape or plan.python_constraints
        if plan.active and cpu_only and self._on_gpu():
            raise NotImplementedError(
                "On the GPU, fastdnn applies the l1/l2/l1_l2 weight regularizers and the built-in "
                "constraints (MaxNorm, NonNeg, UnitNorm, MinMaxNorm); activity regularizers, other "
                "regularizers and custom constraints run on the CPU only: train this model there.")
        observers = [hook for hook in hooks if hook.begin_step()] if hooks else ()
        # Only the trainable weights are watched: frozen layers below the lowest trainable
        # weight are not recorded, and no gradient is computed for any frozen weight.
        with GradientTape(watch_accessed_variables=False) as tape, call_context.collect_losses() as added:
            tape._watch_variables(variables)
            if observers:
                with call_context.capture_outputs() as outputs:
                    y_pred = self(x, training=True)
            else:
                y_pred = self(x, training=True)
            state = self.__dict__  # plain entries: this runs every step
            state["_step_penalties"], state["_step_added"] = plan, added
            try:
                loss = self.compute_loss(x, y, y_pred, sample_weight, training=True)
            finally:
                state["_step_penalties"], state["_step_added"] = None, ()
        grads = tape.gradient(loss, variables)
        penalty = penalties.add_gradients(plan, grads) if plan.active else 0.0  # L1/L2 natively
        loss_value = float(loss) + penalty
        if saved is not None and not math.isfinite(loss_value):
            for var, value in zip(self.non_trainable_weights, saved):
                var.assign(value)
        else:
            for hook in observers:
                hook.before_update(variables, grads, outputs)
            self.optimizer.apply_gradients(zip(grads, variables))
            if plan.active:
                penalties.constrain(plan)
            for hook in observers:
                hook.after_update(loss_value)
        self._loss_tracker.update_state(loss_value, sample_weight=int(data_utils.first_array(y_pred).shape[0]))
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def test_step(self, data):
        """The loss and metrics of one batch, without training; returns the logs."""
        x, y, sample_weight = data_utils.unpack_x_y_sample_weight(data)
        with call_context.collect_losses() as added:
            y_pred = self(x, training=False)
            state = self.__dict__
            state["_step_penalties"], state["_step_added"] = "test", added
            try:
                loss = self.compute_loss(x, y, y_pred, sample_weight, training=False)
            finally:
                state["_step_penalties"], state["_step_added"] = None, ()
        value = float(loss) + penalties.current(self)
        self._loss_tracker.update_state(value, sample_weight=int(data_utils.first_array(y_pred).shape[0]))
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def predict_step(self, data):
        """The model's outputs for one batch."""
        x, _, _ = data_utils.unpack_x_y_sample_weight(data)
        return self(x, training=False)

    # ---- the loops ------------------------------------------------------------------------------

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, **kwargs):
        """Trains the model; returns a History whose `.history` maps metric names to lists.

        Args:
            x, y: training inputs and targets: NumPy arrays, or for several inputs or outputs
                lists of arrays or dicts keyed by input/output name.
            batch_size: samples per step (default 32).
            epochs: index of the last epoch (training runs epochs initial_epoch..epochs-1).
            verbose: 0 silent, 1 (or "auto") progress bar, 2 one line per epoch.
            callbacks: list of Callback instances.
            validation_split: fraction of the data (taken from the end, before shuffling)
                held out for validation.
            validation_data: (x_val, y_val) or (x_val, y_val, sample_weight_val), evaluated at
                the end of each epoch.
            shuffle: reshuffle the training data every epoch.
            sample_weight: per-sample weights of the loss (and of `weighted_metrics`).
            initial_epoch: epoch to start at (to resume training).
            steps_per_epoch: batches per epoch (default: the whole data).

        Raises:
            RuntimeError: if the model is not compiled.
            ValueError: for empty, mismatched or malformed data.
        """
        self._assert_compiled("training the model")
        unknown = set(kwargs) - _FIT_EXTRAS
        if unknown:
            raise TypeError(f"fit() got unexpected keyword arguments {sorted(unknown)}")
        x, y, sample_weight, n, batch_size = _prepare("fit", x, y, sample_weight, batch_size)
        if not self.built:  # as Keras: a trained model knows its input shape (and can be saved)
            self._build_from_data(x)
        if validation_data is None and validation_split:
            if not 0 < validation_split < 1:
                raise ValueError(f"validation_split must be in (0, 1). Received: {validation_split}")
            split = int(n * (1 - validation_split))
            head, tail = slice(0, split), slice(split, n)
            validation_data = (data_utils.take(x, tail), data_utils.take(y, tail))
            if sample_weight is not None:
                validation_data += (data_utils.take(sample_weight, tail),)
            x, y = data_utils.take(x, head), data_utils.take(y, head)
            sample_weight = data_utils.take(sample_weight, head)
            n = split
        steps = steps_per_epoch or math.ceil(n / batch_size)
        verbose = 1 if verbose == "auto" else verbose
        cbs = CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=self,
                           verbose=verbose, epochs=epochs, steps=steps)
        batch_hooks = cbs.wants_train_batches
        single = type(x) is np.ndarray and type(y) is np.ndarray and sample_weight is None
        self.stop_training = False
        self._step_hooks = tuple(cbs.step_hooks)
        cbs.on_train_begin()
        epoch_logs = None
        try:
            # Ctrl-C stops between steps, never inside one: the model stays consistent.
            with deferred_interrupt() as interrupt:
                for epoch in range(initial_epoch, epochs):
                    self.reset_metrics()
                    cbs.on_epoch_begin(epoch)
                    order = np.random.permutation(n) if shuffle else None
                    logs = None
                    for step in range(steps):
                        lo = (step * batch_size) % n
                        idx = slice(lo, min(lo + batch_size, n)) if order is None else order[lo:lo + batch_size]
                        if single:
                            batch = (x[idx], y[idx])
                        else:
                            batch = data_utils.pack_x_y_sample_weight(
                                data_utils.take(x, idx), data_utils.take(y, idx),
                                data_utils.take(sample_weight, idx))
                        if batch_hooks:
                            cbs.on_train_batch_begin(step)
                        logs = self.train_step(batch)
                        if batch_hooks:
                            cbs.on_train_batch_end(step, logs)
                        interrupt.check()
                        if self.stop_training:
                            break
                    epoch_logs = {k: float(v) for k, v in (logs or self.get_metrics_result()).items()}
                    if validation_data is not None:
                        val_x, val_y, val_sw = data_utils.unpack_x_y_sample_weight(validation_data)
                        val = self.evaluate(val_x, val_y, batch_size=batch_size, verbose=0, sample_weight=val_sw,
                                            return_dict=True, _callbacks=cbs)
                        epoch_logs.update({"val_" + k: v for k, v in val.items()})
                    cbs.on_epoch_end(epoch, epoch_logs)
                    if self.stop_training:
                        break
        finally:
            self._step_hooks = ()
        cbs.on_train_end(epoch_logs)
        return self.history

    def _build_from_data(self, x):
        """Builds an unbuilt model for the per-sample shape of `x`."""
        self.build(map_structure(lambda a: (None,) + tuple(a.shape[1:]), x))

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False, _callbacks=None, **kwargs):
        """Loss (and metrics) on (x, y): a float, or [loss, metric, ...] when there are more, or a
        dict with `return_dict=True`.

        Raises:
            RuntimeError: if the model is not compiled.
            ValueError: for empty, mismatched or malformed data.
        """
        self._assert_compiled("evaluating the model")
        x, y, sample_weight, n, batch_size = _prepare("evaluate", x, y, sample_weight, batch_size)
        steps = min(steps, math.ceil(n / batch_size)) if steps else math.ceil(n / batch_size)
        verbose = 1 if verbose == "auto" else verbose
        cbs = _callbacks or CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose,
                                         epochs=1, steps=steps)
        self.reset_metrics()
        cbs.on_test_begin()
        logs = {}
        for step in range(steps):
            idx = slice(step * batch_size, (step + 1) * batch_size)
            batch = data_utils.pack_x_y_sample_weight(data_utils.take(x, idx), data_utils.take(y, idx),
                                                      data_utils.take(sample_weight, idx))
            cbs.on_test_batch_begin(step)
            logs = {k: float(v) for k, v in self.test_step(batch).items()}
            cbs.on_test_batch_end(step, logs)
        cbs.on_test_end(logs)
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None, **kwargs):
        """Model outputs for x, computed in batches (default 32): NumPy arrays, in the structure
        of the model's outputs."""
        x = data_utils.standardize(x, "x")
        n = data_utils.num_samples("predict", x=x) if data_utils.first_array(x).shape[0] else 0
        batch_size = _batch_size(batch_size, "batch_size")
        count = math.ceil(n / batch_size)
        steps = min(steps, count) if steps else count
        verbose = 1 if verbose == "auto" else verbose
        cbs = CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1,
                           steps=steps)
        cbs.on_predict_begin()
        outputs = []
        for step in range(steps):
            cbs.on_predict_batch_begin(step)
            batch = data_utils.take(x, slice(step * batch_size, (step + 1) * batch_size))
            out = map_structure(host, self.predict_step((batch,)))
            outputs.append(out)
            cbs.on_predict_batch_end(step, {"outputs": out})
        cbs.on_predict_end()
        if not outputs:
            empty = data_utils.take(x, slice(0, 0))
            return map_structure(host, self(empty, training=False))
        flat = [flatten(o) for o in outputs]
        return pack_like(outputs[0], [np.concatenate(parts) for parts in zip(*flat)])

    def train_on_batch(self, x, y=None, sample_weight=None, return_dict=False, **kwargs):
        """One training step on one batch; returns its loss (and metrics)."""
        self._assert_compiled("training the model")
        return self._on_batch(self.train_step, x, y, sample_weight, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False, **kwargs):
        """The loss (and metrics) of one batch."""
        self._assert_compiled("evaluating the model")
        return self._on_batch(self.test_step, x, y, sample_weight, return_dict)

    def _on_batch(self, step, x, y, sample_weight, return_dict):
        x, y, sample_weight, _, _ = _prepare(step.__name__, x, y, sample_weight, None)
        if not self.built:
            self._build_from_data(x)
        self.reset_metrics()
        logs = {k: float(v) for k, v in step(data_utils.pack_x_y_sample_weight(x, y, sample_weight)).items()}
        return logs if return_dict else (list(logs.values()) if len(logs) > 1 else logs["loss"])

    def predict_on_batch(self, x):
        """The model's outputs for one batch, as NumPy arrays."""
        return map_structure(host, self.predict_step((data_utils.standardize(x, "x"),)))

    def _on_gpu(self):
        """Whether the model's weights live on a GPU."""
        var = self._device_probe()
        return var is not None and on_device(var._value)
