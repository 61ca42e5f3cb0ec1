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
import warnings

import numpy as np

from .. import losses as losses_module
from .. import metrics as metrics_module
from .. import ops, penalties
from .. import optimizers as optimizers_module
from .._dispatch import host, on_device
from .._interrupt import deferred_interrupt
from ..autodiff import GradientTape
from ..callbacks.callback_list import CallbackList
from ..distribution.data_parallel import batch_window, current_window, shard_bounds
from ..layers import call_context
from ..layers.keras_tensor import flatten, map_structure, pack_like
from . import arguments
from . import data as data_utils
from .compile_utils import CompileLoss, CompileMetrics
from .data_adapters import ArrayDataAdapter, GeneratorDataAdapter, get_data_adapter, is_array_like
from .epoch_iterator import EpochIterator
from .native_step import CompiledStep, NotNative
from .replica import Replica, interrupt_signals
from .split_step import compile_step

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


def _split_for_validation(x, y, sample_weight, split):
    """((x, y, sample_weight) of training, validation data): the last `split` of the samples
    held out, as Keras's train_validation_split.

    Raises:
        ValueError: for data other than arrays, or too few samples to split.
    """
    if not is_array_like((x, y, sample_weight)):
        raise ValueError("`validation_split` is only supported for NumPy arrays (or lists and dicts of them). "
                         f"Received: type(x)={type(x).__name__}; pass validation_data instead.")
    x = data_utils.standardize(x, "x")
    y = data_utils.standardize(y, "y", inputs=False)
    sample_weight = data_utils.standardize(sample_weight, "sample_weight")
    n = data_utils.num_samples("fit", x=x, y=y, sample_weight=sample_weight)
    cut = math.floor(n * (1.0 - split))
    if cut == 0 or cut == n:
        raise ValueError(f"Training data contains {n} samples, which is not sufficient to split it into a "
                         f"validation and training set as specified by `validation_split={split}`. Either "
                         "provide more data, or a different value for the `validation_split` argument.")
    head, tail = slice(0, cut), slice(cut, n)
    train = (data_utils.take(x, head), data_utils.take(y, head), data_utils.take(sample_weight, head))
    held = data_utils.pack_x_y_sample_weight(data_utils.take(x, tail), data_utils.take(y, tail),
                                             data_utils.take(sample_weight, tail))
    return train, held


def _log_value(value):
    """A metric's result in the logs: a float, or an array for metrics with several values
    (Precision with a list of thresholds)."""
    return float(value) if np.ndim(value) == 0 else np.asarray(value, dtype=np.float64)


def _warn_batch_size_unused(adapter, batch_size, name):
    if batch_size is not None and not isinstance(adapter, ArrayDataAdapter):
        warnings.warn(f"`{name}={batch_size}` is not used: the data's own batches decide their size. Do not pass "
                      f"`{name}` with a generator, PyDataset, tf.data.Dataset or DataLoader.", stacklevel=3)


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
        self._replica = None  # the link to the other ranks while a loop runs data-parallel
        self._native = None  # NativeStep or SplitStep, NotNative (why not), or None (not tried yet)

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
            run_eagerly: fastdnn always runs its native kernels eagerly, so True and False
                (Keras's default, compile where possible) train alike.
            steps_per_execution: 1 (several steps per call is not implemented).
            jit_compile: whether the built-in training step runs as a native plan
                (trainers/native_step.py): "auto" (the default) where the whole graph has a
                native form, False never (every step on the GradientTape), True always, split
                around layers written in Python (trainers/split_step.py; a ValueError says
                what keeps a graph off the plans). Steps the plan does not cover
                (sample weights, a callback observing the step, data parallelism) run on the
                tape either way, with the same results.
            auto_scale_loss: Keras's loss scaling of mixed precision; fastdnn trains in
                float32, where Keras does not scale either.

        Raises:
            ValueError: for an unknown optimizer, loss or metric, or losses and metrics that do
                not match the model's outputs.
            NotImplementedError: for `steps_per_execution` above 1.
        """
        if jit_compile not in (True, False, "auto"):
            raise ValueError(f'`jit_compile` must be True, False or "auto". Received: jit_compile={jit_compile!r}')
        if steps_per_execution != 1:
            arguments.positive_int(steps_per_execution, "steps_per_execution", optional=False)
            raise NotImplementedError(f"compile(steps_per_execution={steps_per_execution}) is not implemented: "
                                      "fastdnn runs one step per call. Pass steps_per_execution=1.")
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
        self._native = None  # the native step's plan, or the reason there is none
        names = self._known_output_names()
        if names is not None:
            self._build_compiled(names)

    def _known_output_names(self):
        """The output names, when known before the first call (None: learnt from it)."""
        return None

    def _chain_layers(self):
        """The layers the model's `call` applies one after the other to its one input, when
        that is all it does (Sequential, a functional chain); None otherwise (a subclassed
        model's own `call`, a graph with branches). The native step is built from it."""
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
        """{name: value} of every metric in `self.metrics` (a dict result is merged in). Under
        a DataParallel distribution, while fit or evaluate runs, the values of the metrics'
        state summed over every rank."""
        replica = self.__dict__.get("_replica")
        if replica is not None:
            return replica.global_results(self._local_metrics_result)
        return self._local_metrics_result()

    def _local_metrics_result(self):
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
        # With TerminateOnNaN attached, a step whose loss is not finite changes nothing: the
        # statistics its forward pass updated are put back and the optimizer is not run.
        keep = any(hook.keep_last_good for hook in hooks) if hooks else False
        replica = self.__dict__.get("_replica")  # data-parallel: every rank skips a step together
        observers = [hook for hook in hooks if hook.begin_step()] if hooks else ()
        if not observers and sample_weight is None and replica is None:
            native = self._native_batch(x, y)
            if native is not None:  # the compiled step (native_step.py): same results, no tape
                step, xb, labels = native
                loss_value, y_pred, correct = step.train(self, xb, labels, keep)
                rows = int(xb.shape[0])
                self._loss_tracker.update_state(loss_value, sample_weight=rows)
                if step.accuracy is None:
                    return self.compute_metrics(x, y, y_pred, sample_weight)
                for metric in step.accuracy:  # the plan counted the rows it classifies right
                    metric.add_sums(correct, rows)
                return self.get_metrics_result()
        variables = self.trainable_weights
        saved = [v.numpy() for v in self.non_trainable_weights] if keep or replica is not None else None
        plan = penalties.plan(self, variables)  # regularizers and constraints (penalties.py)
        cpu_only = plan.activity_layers or plan.tape or plan.python_constraints
        if plan.active and cpu_only and self._on_gpu():
            raise NotImplementedError(
                "On the GPU, fastdnn applies the l1/l2/l1_l2 weight regularizers and the built-in "
                "constraints (MaxNorm, NonNeg, UnitNorm, MinMaxNorm); activity regularizers, other "
                "regularizers and custom constraints run on the CPU only: train this model there.")
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
            target = loss
            if replica is not None:  # the averaged gradient is that of the global batch's mean loss
                scale = replica.loss_scale(int(data_utils.first_array(y_pred).shape[0]), current_window())
                target = loss if scale == 1.0 else ops.multiply(loss, np.float32(scale))
        grads = tape.gradient(target, variables)
        penalty = penalties.add_gradients(plan, grads) if plan.active else 0.0  # L1/L2 natively
        loss_value = float(loss) + penalty
        nonfinite = not math.isfinite(loss_value)
        if replica is not None:
            grads, agreed = replica.reduce(grads, nonfinite)
            if replica.skips_update(agreed):  # a rank stops before this step: no rank takes it
                for var, value in zip(self.non_trainable_weights, saved):
                    var.assign(value)
                return self.get_metrics_result()
            nonfinite = agreed[0] > 0
        if keep and nonfinite:
            for var, value in zip(self.non_trainable_weights, saved):
                var.assign(value)
        else:
            for hook in observers:
                hook.before_update(variables, grads, outputs)
            self.optimizer.apply_gradients(zip(grads, variables), skip_gradients_aggregation=replica is not None)
            if plan.active:
                penalties.constrain(plan)
            for hook in observers:
                hook.after_update(loss_value)
        self._loss_tracker.update_state(loss_value, sample_weight=int(data_utils.first_array(y_pred).shape[0]))
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def _native_batch(self, x, y):
        """(NativeStep or SplitStep, x, labels) when this batch trains on the native plans, else
        None (the tape). The plan is built at the first step after the one that built the loss, and again
        when the model's weights, trainable flags or optimizer change, or a batch is larger;
        a model found not native is tried again at the next `fit` or `compile`.

        Raises:
            ValueError: with `compile(jit_compile=True)`, for a model whose step has no native
                form.
        """
        jit = self._compile_config["jit_compile"] if self._compile_config else "auto"
        if jit is False or self._compile_loss is None or not self.built:
            return None
        step = self.__dict__.get("_native")
        rows = 1
        if isinstance(step, CompiledStep):
            if step.valid_for(self):
                batch = step.inputs(x, y)
                if batch is not None:
                    return (step,) + batch
                if not step.larger(x):
                    return None  # a batch the plan does not take (another dtype or shape): the tape
                rows = step.max_rows
        elif step is not None:
            return None  # not native (the reason is kept); tried again at the next fit or compile
        try:
            step = self._native = compile_step(self, max(rows, CompiledStep.rows_of(x)), split=jit is True)
        except NotNative as why:
            self._native = why
            if jit is True:
                raise ValueError(f"compile(jit_compile=True): this model's training step cannot run as a native "
                                 f"plan: {why}. Pass jit_compile=\"auto\" to train it on the GradientTape.") from None
            return None
        batch = step.inputs(x, y)
        return None if batch is None else (step,) + batch

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
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1, **kwargs):
        """Trains the model; returns a History whose `.history` maps metric names to lists.

        Args:
            x: training inputs: NumPy arrays (for several inputs, a list or a dict keyed by input
                name), nested lists, a generator or iterator yielding (x, y) or
                (x, y, sample_weight) batches, a `keras.utils.PyDataset`, a `tf.data.Dataset` or
                a `torch.utils.data.DataLoader` (see trainers/data_adapters).
            y: targets, when x holds arrays (the other kinds of data carry their own).
            batch_size: samples per step, for arrays (default 32, or enough for
                `steps_per_epoch` batches).
            epochs: index of the last epoch (training runs epochs initial_epoch..epochs-1).
            verbose: 0 silent, 1 (or "auto") progress bar, 2 one line per epoch.
            callbacks: list of Callback instances.
            validation_split: fraction of array data (taken from the end, before shuffling)
                held out for validation.
            validation_data: (x_val, y_val) or (x_val, y_val, sample_weight_val), or any kind
                of data `x` takes, evaluated at the end of the epochs `validation_freq` picks.
            shuffle: reshuffle array data every epoch (True), within each batch ("batch"), or
                not; for a PyDataset, the order of its batches.
            class_weight: {class index: weight}: each sample's loss weighs its class's weight.
            sample_weight: per-sample weights of the loss (and of `weighted_metrics`).
            initial_epoch: epoch to start at (to resume training).
            steps_per_epoch: batches per epoch (default: one pass over the data); the data
                continue from one epoch to the next.
            validation_steps: batches of each validation (default: all of them).
            validation_batch_size: batch size of the validation (default: `batch_size`).
            validation_freq: validate every N epochs (an int), or at the listed epochs,
                counted from 1.

        Raises:
            RuntimeError: if the model is not compiled.
            ValueError: for empty, mismatched or malformed data, or a bad argument.
            TypeError: for an unknown argument.
        """
        self._assert_compiled("training the model")
        arguments.no_extras("fit", kwargs)
        batch_size = arguments.positive_int(batch_size, "batch_size")
        epochs = arguments.non_negative_int(epochs, "epochs")
        initial_epoch = arguments.non_negative_int(initial_epoch, "initial_epoch")
        steps_per_epoch = arguments.positive_int(steps_per_epoch, "steps_per_epoch")
        validation_steps = arguments.positive_int(validation_steps, "validation_steps")
        validation_batch_size = arguments.positive_int(validation_batch_size, "validation_batch_size")
        validation_freq = arguments.validation_freq(validation_freq)
        split = arguments.validation_split(validation_split)
        verbose = arguments.verbose(verbose)
        if split and validation_data is None:
            (x, y, sample_weight), validation_data = _split_for_validation(x, y, sample_weight, split)
        replica = Replica.current(self)  # a DataParallel distribution (fastdnn.distribution)
        shard = replica.comm if replica is not None else None
        adapter = get_data_adapter(x, y, sample_weight, batch_size, steps_per_epoch, shuffle, class_weight,
                                   shard=shard)
        _warn_batch_size_unused(adapter, batch_size, "batch_size")
        iterator = EpochIterator(adapter, steps_per_epoch)
        validation = None
        if validation_data is not None:
            val_x, val_y, val_sw = data_utils.unpack_x_y_sample_weight(validation_data)
            validation = lambda: EpochIterator(get_data_adapter(  # made at the first validation
                val_x, val_y, val_sw, validation_batch_size or adapter.batch_size or batch_size, validation_steps,
                where="evaluate", shard=shard), validation_steps)
        cbs = CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=self,
                           chief=shard is None or shard.is_chief, verbose=verbose, epochs=epochs,
                           steps=iterator.num_batches)
        batch_hooks = cbs.wants_train_batches
        self.stop_training = False
        self._step_hooks = tuple(cbs.step_hooks)
        if type(self.__dict__.get("_native")) is NotNative:
            self._native = None  # try the native step again: the model may have changed
        if replica is not None:
            self._build_for_replicas(adapter)
            replica.check_same(samples=getattr(adapter, "num_samples", None), batch_size=adapter.batch_size,
                               batches=iterator.num_batches, epochs=epochs, initial_epoch=initial_epoch,
                               shuffle=shuffle, validation=validation_data is not None)
        cbs.on_train_begin()
        resumed = cbs.resume_epoch()  # a restored backup (BackupAndRestore) resumes its run
        if replica is not None:  # every rank starts from rank 0's state (and its restored backup)
            resumed = replica.take_chief_state(resumed)
        initial_epoch = initial_epoch if resumed is None else resumed
        epoch_logs = None
        val_iterator = None
        self._replica = replica
        try:
            # Ctrl-C stops between steps, never inside one: the model stays consistent. Under
            # data parallelism every rank stops after the same step (replica.py).
            with deferred_interrupt(interrupt_signals() if replica is not None else None) as interrupt:
                if replica is not None:
                    replica.interrupt = interrupt
                for epoch in range(initial_epoch, epochs):
                    self.reset_metrics()
                    cbs.on_epoch_begin(epoch)
                    logs = None
                    batches = iterator.enumerate_epoch()
                    try:
                        for step, batch in batches:
                            if not self.built:  # as Keras: a trained model knows its input shape
                                self._build_from_data(batch[0])
                            if batch_hooks:
                                cbs.on_train_batch_begin(step)
                            if replica is None:
                                logs = self.train_step(batch)
                            else:
                                with batch_window(getattr(batch, "window", None)):
                                    step_logs = self.train_step(batch)
                                if replica.halted():
                                    break
                                logs = step_logs
                            if batch_hooks:
                                cbs.on_train_batch_end(step, logs)
                            if replica is None:
                                interrupt.check()
                                if self.stop_training:
                                    break
                    finally:
                        batches.close()
                    if logs is None:
                        if epoch == initial_epoch:
                            raise ValueError("fit() received no batches: x is empty (or its generator is "
                                             "already exhausted).")
                        warnings.warn("Your input ran out of data; interrupting training. Make sure that your "
                                      "dataset or generator can generate at least `steps_per_epoch * epochs` "
                                      "batches.", stacklevel=2)
                        break  # a generator that is used up cannot start over
                    epoch_logs = {k: _log_value(v) for k, v in logs.items()}
                    if validation is not None and arguments.should_validate(epoch, validation_freq):
                        val_iterator = val_iterator or validation()
                        val = self._test_loop(val_iterator, cbs)
                        epoch_logs.update({"val_" + k: v for k, v in val.items()})
                    cbs.on_epoch_end(epoch, epoch_logs)
                    if replica is not None:
                        replica.vote_stop()
                    if self.stop_training or (iterator.exhausted and isinstance(adapter, GeneratorDataAdapter)):
                        break
        finally:
            self._step_hooks = ()
            self._replica = None
            iterator.close()
        cbs.on_train_end(epoch_logs)
        return self.history

    def _build_from_data(self, x):
        """Builds an unbuilt model for the per-sample shape of `x`."""
        self.build(map_structure(lambda a: (None,) + tuple(a.shape[1:]), x))

    def _build_for_replicas(self, adapter):
        """Builds the model before rank 0's weights are broadcast (they must exist)."""
        if self.built:
            return
        if not isinstance(adapter, ArrayDataAdapter):
            raise ValueError("Under DataParallel, build the model before fit() when the data are not arrays "
                             "(an Input layer, or model.build(input_shape)): rank 0's weights are broadcast "
                             "before the first step.")
        self._build_from_data(adapter.data[0])

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False, **kwargs):
        """Loss (and metrics) on x (and y): a float, or [loss, metric, ...] when there are more,
        or a dict with `return_dict=True`. x takes every kind of data `fit` takes.

        Raises:
            RuntimeError: if the model is not compiled.
            ValueError: for empty, mismatched or malformed data, or a bad argument.
            TypeError: for an unknown argument.
        """
        self._assert_compiled("evaluating the model")
        arguments.no_extras("evaluate", kwargs)
        batch_size = arguments.positive_int(batch_size, "batch_size")
        steps = arguments.positive_int(steps, "steps")
        verbose = arguments.verbose(verbose)
        replica = Replica.current(self)  # data-parallel: each rank its share, global metrics
        shard = replica.comm if replica is not None else None
        adapter = get_data_adapter(x, y, sample_weight, batch_size, steps, where="evaluate", shard=shard)
        _warn_batch_size_unused(adapter, batch_size, "batch_size")
        iterator = EpochIterator(adapter, steps)
        cbs = CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1,
                           steps=iterator.num_batches, chief=shard is None or shard.is_chief)
        if replica is not None:
            self._build_for_replicas(adapter)
            replica.check_same(samples=getattr(adapter, "num_samples", None), batch_size=adapter.batch_size,
                               batches=iterator.num_batches)
        outer, self._replica = self._replica, replica
        try:
            logs = self._test_loop(iterator, cbs)
        finally:
            self._replica = outer
            iterator.close()
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def _test_loop(self, iterator, cbs):
        """One pass of `test_step` over `iterator`'s next epoch; returns the logs."""
        self.reset_metrics()
        cbs.on_test_begin()
        logs = {}
        for step, batch in iterator.enumerate_epoch():
            if not self.built:
                self._build_from_data(batch[0])
            cbs.on_test_batch_begin(step)
            window = getattr(batch, "window", None)
            if window is not None and not window[1]:  # a share without rows: only the metrics' all-reduce
                logs = {k: _log_value(v) for k, v in self.get_metrics_result().items()}
            else:
                logs = {k: _log_value(v) for k, v in self.test_step(batch).items()}
            cbs.on_test_batch_end(step, logs)
        cbs.on_test_end(logs)
        return logs

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None, **kwargs):
        """Model outputs for x (every kind of data `fit` takes; targets in it are not used),
        computed in batches (default 32): NumPy arrays, in the structure of the model's outputs.

        Raises:
            ValueError: for malformed data or a bad argument.
            TypeError: for an unknown argument.
        """
        arguments.no_extras("predict", kwargs)
        batch_size = arguments.positive_int(batch_size, "batch_size")
        steps = arguments.positive_int(steps, "steps")
        verbose = arguments.verbose(verbose)
        replica = Replica.current(self) if is_array_like(x) and x is not None and steps is None else None
        if is_array_like(x) and x is not None:
            x = data_utils.standardize(x, "x")
            if not data_utils.first_array(x).shape[0]:  # no samples: an empty output of the right shape
                return map_structure(host, self(data_utils.take(x, slice(0, 0)), training=False))
        if replica is not None:  # each rank its contiguous share, the outputs gathered in order
            comm = replica.comm
            n = int(data_utils.first_array(x).shape[0])
            if n < comm.size:
                raise ValueError(f"predict() under DataParallel needs at least one sample per process: {n} "
                                 f"samples for {comm.size} processes.")
            lo, hi = shard_bounds(n, comm.rank, comm.size)
            x = data_utils.take(x, slice(lo, hi))
            batch_size = max(1, math.ceil((batch_size or 32) / comm.size))
            if verbose != 0 and not comm.is_chief:
                verbose = 0
        adapter = get_data_adapter(x, batch_size=batch_size, steps_per_epoch=steps, where="predict")
        _warn_batch_size_unused(adapter, batch_size, "batch_size")
        iterator = EpochIterator(adapter, steps)
        cbs = CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1,
                           steps=iterator.num_batches)
        cbs.on_predict_begin()
        outputs = []
        try:
            for step, batch in iterator.enumerate_epoch():
                cbs.on_predict_batch_begin(step)
                out = map_structure(host, self.predict_step(batch))
                outputs.append(out)
                cbs.on_predict_batch_end(step, {"outputs": out})
        finally:
            iterator.close()
        cbs.on_predict_end()
        if not outputs:
            raise ValueError("predict() received no batches: x is empty (or its generator is already exhausted).")
        flat = [flatten(o) for o in outputs]
        parts = [np.concatenate(parts) for parts in zip(*flat)]
        if replica is not None:
            parts = [replica.comm.allgather_rows(part, "predictions' all-gather") for part in parts]
        return pack_like(outputs[0], parts)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One training step on one batch; returns its loss (and metrics)."""
        self._assert_compiled("training the model")
        return self._on_batch(self.train_step, x, y, sample_weight, return_dict, class_weight)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """The loss (and metrics) of one batch."""
        self._assert_compiled("evaluating the model")
        return self._on_batch(self.test_step, x, y, sample_weight, return_dict)

    def _on_batch(self, step, x, y, sample_weight, return_dict, class_weight=None):
        where = step.__name__.replace("_step", "_on_batch")
        adapter = ArrayDataAdapter(data_utils.standardize(x, "x"), data_utils.standardize(y, "y", inputs=False),
                                   data_utils.standardize(sample_weight, "sample_weight"),
                                   batch_size=None, steps=1, class_weight=class_weight, where=where)
        batch = adapter.data
        if not self.built:
            self._build_from_data(batch[0])
        self.reset_metrics()
        logs = {k: _log_value(v) for k, v in step(batch).items()}
        return logs if return_dict else (list(logs.values()) if len(logs) > 1 else logs["loss"])

    def predict_on_batch(self, x):
        """The model's outputs for one batch, as NumPy arrays."""
        return map_structure(host, self.predict_step((data_utils.standardize(x, "x"),)))

    def _on_gpu(self):
        """Whether the model's weights live on a GPU."""
        var = self._device_probe()
        return var is not None and on_device(var._value)
