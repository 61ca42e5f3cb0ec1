"""Models: `Sequential`, with Keras's compile / fit / evaluate / predict / summary, and
`clone_model` (cloning.py).

Training runs each batch's forward pass on a GradientTape, so built-in layers use their fused
native kernels and user layers written from `fastdnn.ops` train without a hand-written backward.
A model placed on a GPU (`model.to("cuda")`, or built inside `with fastdnn.device("cuda"):`)
keeps its weights, activations and optimizer state there; each batch is copied up
asynchronously, and only the loss (and the predictions, for metrics) come back.
"""

import math

import numpy as np

from . import callbacks as callbacks_module
from . import devices
from . import layers as layers_module
from . import losses as losses_module
from . import metrics as metrics_module
from . import optimizers as optimizers_module
from . import penalties, saving
from ._arrays import as_float32
from ._dispatch import host, on_device
from ._interrupt import deferred_interrupt
from .autodiff import GradientTape
from .cloning import clone_model  # noqa: F401  (keras.models.clone_model)
from .layers.base import unique_name
from .layers.core import InputLayer, KerasTensor


class Sequential:
    """A linear stack of layers, as keras.Sequential.

    Args:
        layers: optional list of layers (an `Input(...)` first gives the input shape).
        name: the model's name.

    Example:
        >>> import fastdnn as keras
        >>> model = keras.models.Sequential([
        ...     keras.layers.Flatten(input_shape=[28, 28]),
        ...     keras.layers.Dense(300, activation="elu", kernel_initializer="he_normal"),
        ...     keras.layers.Dense(10, activation="softmax")])
        >>> model.count_params()
        238510
    """

    _keep_last_good = False  # set by TerminateOnNaN during fit (see train_step)
    _train_monitor = None  # set by a GradientMonitor during fit; train_step consults it

    def __init__(self, layers=None, name=None, trainable=True):
        self.name = name or unique_name("sequential")
        self._layers = []
        self.trainable = trainable
        self._input_shape = None
        self.built = False
        self.stop_training = False
        self.history = None
        self.optimizer = self.loss = None
        self.compiled_metrics = []
        for layer in layers or []:
            self.add(layer)

    # ---- structure ----------------------------------------------------------------------------

    @property
    def layers(self):
        return list(self._layers)

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        """Freezes (False) or unfreezes (True) the model and every layer in it, as Keras does."""
        self._trainable = bool(value)
        for layer in self._layers:
            layer.trainable = self._trainable

    def add(self, layer):
        """Appends a layer (or an `Input(...)`, which sets the input shape).

        Layers are shared, not copied: `Sequential(model_A.layers[:-1])` reuses model_A's layer
        objects and weights (training one model changes the other). When the first layer
        already knows its input (an `input_shape=` argument, or it was built) the model builds
        at once.

        Raises:
            TypeError: if `layer` is not a layer, a Sequential model or an `Input(...)`.
        """
        if isinstance(layer, KerasTensor):
            self._input_shape = layer.shape
        elif isinstance(layer, InputLayer):
            self._input_shape = layer._batch_input_shape
        elif isinstance(layer, (layers_module.Layer, Sequential)):
            if not self._layers and self._input_shape is None:
                self._input_shape = _known_input_shape(layer)
            self._layers.append(layer)
        else:
            raise TypeError(f"Only layers can be added to a Sequential model. Received: {layer!r}")
        self.built = False
        if self._input_shape is not None and self._layers:
            self.build(self._input_shape)

    def pop(self):
        """Removes and returns the last layer."""
        if not self._layers:
            raise TypeError("There are no layers in the model.")
        self.built = False
        return self._layers.pop()

    def build(self, input_shape=None):
        """Builds every layer for `input_shape` (batch dimension first), creating the weights."""
        shape = tuple(input_shape or self._input_shape)
        self._input_shape = shape
        self._output_shapes = []
        for layer in self._layers:
            if not layer.built:
                layer.build(shape)
                layer.built = True
            else:
                _check_built_for(layer, shape, self.name)
            shape = tuple(layer.compute_output_shape(shape))
            self._output_shapes.append(shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        """The output shape for `input_shape` (so that a Sequential can be a layer of another)."""
        shape = tuple(input_shape)
        for layer in self._layers:
            shape = tuple(layer.compute_output_shape(shape))
        return shape

    @property
    def _build_input_shape(self):
        """The input shape the model was built for, as layers record theirs."""
        return self._input_shape if self.built else None

    # ---- weights ------------------------------------------------------------------------------

    @property
    def weights(self):
        return [w for layer in self._layers for w in layer.weights]

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        return [w for layer in self._layers for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self):
        trainable = {id(w) for w in self.trainable_weights}
        return [w for w in self.weights if id(w) not in trainable]

    def get_weights(self):
        return [w.numpy() for w in self.weights]

    @property
    def losses(self):
        """Current penalties (regularizers), as a list of floats, as Keras's `model.losses`."""
        return penalties.model_losses(self)

    def set_weights(self, weights):
        weights = list(weights)
        if len(weights) != len(self.weights):
            raise ValueError(f"Model '{self.name}' expects {len(self.weights)} weight arrays, "
                             f"received {len(weights)}.")
        for var, value in zip(self.weights, weights):
            var.assign(value)

    @property
    def device(self):
        """The device holding the model's weights (cpu for a model without weights)."""
        weights = self.weights
        return devices.device_of(weights[0]._value) if weights else devices.Device("cpu")

    def _on_gpu(self):
        for layer in self._layers:  # the first weight says (called on every batch: no full list)
            weights = layer.weights
            if weights:
                return on_device(weights[0]._value)
        return False

    def to(self, device):
        """Moves the weights and the optimizer's state to `device`; returns the model.

        fit, evaluate and predict then run there: the batches are copied to the device, the
        predictions returned by `predict` come back as NumPy arrays.

        Args:
            device: a `fastdnn.device(...)` or its name ("cpu", "cuda", "cuda:N").

        Example:
            >>> import fastdnn
            >>> model = fastdnn.Sequential([fastdnn.layers.Dense(2, input_shape=[3])])
            >>> model.to("cpu").device
            device('cpu')

        Raises:
            ValueError: if the model has no weights yet (build it first), or for a bad name.
            RuntimeError: for "cuda" where no GPU can be used, saying why.
        """
        target = device if isinstance(device, devices.Device) else devices.Device(device)
        if not self.built:
            raise ValueError("The model has no weights yet: build it (give the first layer an input_shape, "
                             "add an Input, or call it on data) before moving it to a device.")
        moved = {}
        for var in self.weights:
            old = var._value
            var._value = target.put(old)
            moved[id(old)] = var._value
        opt = self.optimizer
        if opt is not None and opt._state:  # the optimizer's slots follow their weights
            opt._state = {id(moved[key]): (moved[key], [target.put(s) for s in slots])
                          for key, (_, slots) in opt._state.items() if key in moved}
            opt._lists = None
        return self

    def count_params(self):
        if not self.built:
            raise ValueError("The model has no weights yet: build it (give the first layer an "
                             "input_shape, add an Input, or call it on data) before counting them.")
        return int(sum(w.size for w in self.weights))

    # ---- forward ------------------------------------------------------------------------------

    def call(self, inputs, training=None, _outputs=None):
        x = inputs
        if not on_device(x) and self._on_gpu():  # the batch goes where the weights are
            x = self.device.put(x)
        for layer in self._layers:
            x = layer(x, training=training)
            if _outputs is not None:  # each layer's output, for a GradientMonitor
                _outputs.append(x)
        return x

    def __call__(self, inputs, training=False):
        x = as_float32(inputs, "inputs")
        if not self.built:
            self.build((None,) + x.shape[1:])
        return self.call(x, training=training)

    # ---- training -----------------------------------------------------------------------------

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, **kwargs):
        """Configures training: an optimizer (instance or name), a loss and metrics."""
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = losses_module.resolve(loss)
        self.compiled_metrics = [metrics_module.resolve(m, loss) for m in (metrics or [])]
        self._compile_kwargs = kwargs
        self._compile_args = {"loss": loss, "metrics": list(metrics or [])}  # for saving

    def _check_compiled(self):
        if self.optimizer is None or self.loss is None:
            raise RuntimeError("You must call compile(optimizer, loss) before training or evaluating.")

    def train_step(self, x, y):
        """One optimizer step on a batch; returns the batch predictions and the loss value."""
        variables = self.trainable_weights
        # With TerminateOnNaN attached, a step whose loss is not finite changes nothing: the
        # statistics its forward pass updated are put back and the optimizer is not run.
        saved = [v.numpy() for v in self.non_trainable_weights] if self._keep_last_good else None
        plan = penalties.plan(self, variables)  # regularizers and constraints (penalties.py)
        cpu_only = plan.activity_layers or plan.tape or plan.python_constraints
        if plan.active and cpu_only and self._on_gpu():
            raise NotImplementedError(
                "On the GPU, fastdnn applies the l1/l2/l1_l2 weight regularizers and the built-in "
                "constraints (MaxNorm, NonNeg, UnitNorm, MinMaxNorm); activity regularizers, other "
                "regularizers and custom constraints run on the CPU only: train this model there.")
        monitor = self._train_monitor  # a GradientMonitor (monitoring.py) while fit runs with one
        if monitor is not None and not monitor.begin_step():
            monitor = None
        # Only the trainable weights are watched: frozen layers below the lowest trainable
        # weight are not recorded, and no gradient is computed for any frozen weight.
        with GradientTape(watch_accessed_variables=False) as tape:
            tape._watch_variables(variables)
            if monitor is None:
                y_pred = self.call(x, training=True)
            else:
                y_pred = self.call(x, training=True, _outputs=monitor.outputs)
            loss = self.loss(y, y_pred)
            if plan.active:
                loss = penalties.on_tape(plan, loss)
        grads = tape.gradient(loss, variables)
        penalty = penalties.add_gradients(plan, grads) if plan.active else 0.0  # L1/L2 natively
        loss_value = float(loss) + penalty
        if saved is not None and not math.isfinite(loss_value):
            for var, value in zip(self.non_trainable_weights, saved):
                var.assign(value)
            return y_pred, loss_value
        if monitor is not None:
            monitor.before_update(variables, grads)
        self.optimizer.apply_gradients(zip(grads, variables))
        if plan.active:
            penalties.constrain(plan)
        if monitor is not None:
            monitor.after_update(loss_value)
        return y_pred, loss_value

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, initial_epoch=0,
            steps_per_epoch=None, **kwargs):
        """Trains the model; returns a History whose `.history` maps metric names to lists.

        Args:
            x, y: training inputs and targets (NumPy arrays).
            batch_size: samples per step (default 32).
            epochs: index of the last epoch (training runs epochs initial_epoch..epochs-1).
            verbose: 0 silent, 1 (or "auto") progress bar, 2 one line per epoch.
            callbacks: list of Callback instances.
            validation_split: fraction of the data (taken from the end, before shuffling)
                held out for validation.
            validation_data: (x_val, y_val) evaluated at the end of each epoch.
            shuffle: reshuffle the training data every epoch.
            initial_epoch: epoch to start at (to resume training).

        Raises:
            RuntimeError: if the model is not compiled.
            ValueError: for empty, mismatched or malformed data.
        """
        self._check_compiled()
        unknown = set(kwargs) - {"class_weight", "sample_weight", "validation_steps",
                                 "validation_batch_size", "validation_freq"}
        if unknown:
            raise TypeError(f"fit() got unexpected keyword arguments {sorted(unknown)}")
        x, y = self._check_data(x, y, "fit")
        if not self.built:  # as Keras: a trained model knows its input shape (and can be saved)
            self.build((None,) + x.shape[1:])
        if validation_data is None and validation_split:
            if not 0 < validation_split < 1:
                raise ValueError(f"validation_split must be in (0, 1). Received: {validation_split}")
            split = int(len(x) * (1 - validation_split))
            x, y, validation_data = x[:split], y[:split], (x[split:], y[split:])
        batch_size = batch_size or 32
        n = len(x)
        steps = steps_per_epoch or math.ceil(n / batch_size)
        verbose = 1 if verbose == "auto" else verbose
        cbs = callbacks_module.CallbackList(callbacks, add_history=True, add_progbar=verbose != 0,
                                            model=self, verbose=verbose, epochs=epochs, steps=steps)
        batch_hooks = cbs.wants_train_batches
        self.stop_training = False
        cbs.on_train_begin()
        epoch_logs = None
        # Ctrl-C stops between steps, never inside one: the model stays consistent.
        with deferred_interrupt() as interrupt:
            for epoch in range(initial_epoch, epochs):
                cbs.on_epoch_begin(epoch)
                order = np.random.permutation(n) if shuffle else None
                loss_sum, seen = 0.0, 0
                for metric in self.compiled_metrics:
                    metric.reset_state()
                for step in range(steps):
                    lo = (step * batch_size) % n
                    idx = slice(lo, min(lo + batch_size, n)) if order is None else order[lo:lo + batch_size]
                    xb, yb = x[idx], y[idx]
                    if batch_hooks:
                        cbs.on_train_batch_begin(step)
                    y_pred, batch_loss = self.train_step(xb, yb)
                    loss_sum += batch_loss * len(xb)
                    seen += len(xb)
                    if self.compiled_metrics:
                        y_pred = host(y_pred)  # metrics count on the host
                    for metric in self.compiled_metrics:
                        metric.update_state(yb, y_pred)
                    if batch_hooks:
                        cbs.on_train_batch_end(step, self._logs(loss_sum / seen))
                    interrupt.check()
                    if self.stop_training:
                        break
                epoch_logs = self._logs(loss_sum / max(seen, 1))
                if validation_data is not None:
                    val = self.evaluate(*validation_data, batch_size=batch_size, verbose=0,
                                        return_dict=True, _callbacks=cbs)
                    epoch_logs.update({"val_" + k: v for k, v in val.items()})
                cbs.on_epoch_end(epoch, epoch_logs)
                if self.stop_training:
                    break
        cbs.on_train_end(epoch_logs)
        return self.history

    def _logs(self, loss):
        logs = {"loss": float(loss)}
        for metric in self.compiled_metrics:
            logs[metric.name] = float(metric.result())
        return logs

    def _check_data(self, x, y, where):
        if x is None or y is None:
            raise ValueError(f"{where}() needs both x and y.")
        x = as_float32(x, "x")
        y = np.asarray(y)
        if len(x) == 0:
            raise ValueError(f"{where}() received an empty dataset (x has no samples).")
        if len(x) != len(y):
            raise ValueError(f"x and y must have the same number of samples. Received {len(x)} and {len(y)}.")
        return x, y

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", return_dict=False,
                 callbacks=None, _callbacks=None, **kwargs):
        """Loss (and metrics) on (x, y): a float, or [loss, metric, ...] when metrics are compiled."""
        self._check_compiled()
        x, y = self._check_data(x, y, "evaluate")
        batch_size = batch_size or 32
        steps = math.ceil(len(x) / batch_size)
        verbose = 1 if verbose == "auto" else verbose
        cbs = _callbacks or callbacks_module.CallbackList(
            callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1, steps=steps)
        metrics = [type(m).from_config(m.get_config()) for m in self.compiled_metrics]  # fresh states
        cbs.on_test_begin()
        loss_sum, seen = 0.0, 0
        for step in range(steps):
            xb, yb = x[step * batch_size:(step + 1) * batch_size], y[step * batch_size:(step + 1) * batch_size]
            cbs.on_test_batch_begin(step)
            y_pred = self.call(xb, training=False)
            loss_sum += (float(self.loss(yb, y_pred)) + penalties.current(self)) * len(xb)
            seen += len(xb)
            if metrics:
                y_pred = host(y_pred)
            for metric in metrics:
                metric.update_state(yb, y_pred)
            logs = {"loss": loss_sum / seen, **{m.name: float(m.result()) for m in metrics}}
            cbs.on_test_batch_end(step, logs)
        cbs.on_test_end(logs)
        if return_dict:
            return logs
        return logs["loss"] if not metrics else [logs["loss"]] + [logs[m.name] for m in metrics]

    def predict(self, x, batch_size=None, verbose="auto", callbacks=None, **kwargs):
        """Model outputs for x, computed in batches (default 32), as one NumPy array."""
        x = as_float32(x, "x")
        batch_size = batch_size or 32
        steps = math.ceil(len(x) / batch_size)
        verbose = 1 if verbose == "auto" else verbose
        cbs = callbacks_module.CallbackList(callbacks, add_progbar=verbose != 0, model=self,
                                            verbose=verbose, epochs=1, steps=steps)
        cbs.on_predict_begin()
        outputs = []
        for step in range(steps):
            cbs.on_predict_batch_begin(step)
            out = host(self(x[step * batch_size:(step + 1) * batch_size], training=False))
            outputs.append(out)
            cbs.on_predict_batch_end(step, {"outputs": out})
        cbs.on_predict_end()
        if not outputs:
            return host(self(np.zeros((0,) + x.shape[1:], np.float32)))
        return np.concatenate(outputs)

    # ---- files --------------------------------------------------------------------------------

    def save(self, filepath, overwrite=True, include_optimizer=True, **kwargs):
        """Saves the whole model: `.keras` (Keras 3), `.h5` (legacy Keras) or any other name
        (fastdnn's format); see `fastdnn.saving.save_model`."""
        saving.save_model(self, filepath, overwrite=overwrite, include_optimizer=include_optimizer)

    def save_weights(self, filepath, overwrite=True, **kwargs):
        """Saves the weights alone; see `fastdnn.saving.save_weights`."""
        saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, **kwargs):
        """Loads weights saved by `save_weights` or `save` into this model."""
        saving.load_weights(self, filepath)

    # ---- summary and config -------------------------------------------------------------------

    def summary(self, line_length=None, print_fn=None, **kwargs):
        """Prints a Keras-style table of layers, output shapes and parameter counts."""
        print_fn = print_fn or print
        if not self.built and self._input_shape is not None:
            self.build(self._input_shape)
        widths = (33, 26, 15)
        line = lambda l, m, r, h: l + m.join(h * w for w in widths) + r  # noqa: E731
        row = lambda cells, sep="│": sep + sep.join(  # noqa: E731
            f" {c:<{w - 2}} " if i < 2 else f" {c:>{w - 2}} " for i, (c, w) in enumerate(zip(cells, widths))) + sep
        print_fn(f'Model: "{self.name}"')
        print_fn(line("┏", "┳", "┓", "━"))
        print_fn(row(("Layer (type)", "Output Shape", "Param #"), "┃"))
        print_fn(line("┡", "╇", "┩", "━"))
        shapes = getattr(self, "_output_shapes", [None] * len(self._layers)) if self.built else [None] * len(self._layers)
        for i, (layer, shape) in enumerate(zip(self._layers, shapes)):
            params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
            print_fn(row((f"{layer.name} ({type(layer).__name__})", "?" if shape is None else str(shape), params)))
            if i < len(self._layers) - 1:
                print_fn(line("├", "┼", "┤", "─"))
        print_fn(line("└", "┴", "┘", "─"))
        total = sum(w.size for w in self.weights)
        trainable = sum(w.size for w in self.trainable_weights)
        size = lambda n: f"{n * 4 / 1024:.2f} KB" if n * 4 < 1024 ** 2 else f"{n * 4 / 1024 ** 2:.2f} MB"  # noqa: E731
        print_fn(f" Total params: {total:,} ({size(total)})")
        print_fn(f" Trainable params: {trainable:,} ({size(trainable)})")
        print_fn(f" Non-trainable params: {total - trainable:,} ({size(total - trainable)})")

    def get_config(self):
        layers = [layers_module.serialize(layer) for layer in self._layers]
        if self._input_shape is not None:
            layers.insert(0, {"class_name": "InputLayer",
                              "config": {"batch_shape": list(self._input_shape), "name": "input_layer"}})
        return {"name": self.name, "trainable": self.trainable, "layers": layers}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for entry in config["layers"]:
            model.add(layers_module.deserialize(entry, {"Sequential": Sequential, **(custom_objects or {})}))
        return model


def _known_input_shape(layer):
    """The input shape a layer declares (`input_shape=`) or was built for, or None."""
    if isinstance(layer, Sequential):
        return layer._input_shape
    return getattr(layer, "_batch_input_shape", None) or getattr(layer, "_build_input_shape", None)


def _check_built_for(layer, shape, model_name):
    """Raises ValueError when an already-built layer with weights would receive inputs whose
    last axis (the one its weights are sized by, as Keras's input specs check) differs from the
    one it was built for."""
    built_for = layer._build_input_shape
    if built_for is None or not layer.weights or not built_for or not shape:
        return
    if built_for[-1] is not None and shape[-1] is not None and built_for[-1] != shape[-1]:
        raise ValueError(f"Layer '{layer.name}' was built for inputs of shape {tuple(built_for)}, but in "
                         f"model '{model_name}' it receives inputs of shape {tuple(shape)}. Reuse it "
                         "where its input has the shape it was built for, or use a new layer.")


save_model = saving.save_model
load_model = saving.load_model
