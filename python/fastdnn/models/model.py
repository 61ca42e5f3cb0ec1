"""`Model`: a Layer plus a trainer (trainers/trainer.py), as keras.Model.

Three kinds, as in Keras 3:

* functional: `Model(inputs, outputs)` on symbolic tensors from `Input` (functional.py);
* subclassed: `class M(Model)` with layers assigned in `__init__` and a `call` method;
* `Sequential` (sequential.py), a linear stack.

Every kind compiles, fits, evaluates, predicts, summarizes, moves to a device and saves the same
way; what differs is how `call` runs the layers.
"""

import json

import numpy as np

from .. import devices, saving
from .._arrays import as_float32
from .._dispatch import on_device
from ..distribution.data_parallel import active_communicator
from .._registry import register_builtin
from ..layers.base import Layer, _as_shape
from ..layers.keras_tensor import any_symbolic, map_structure
from ..metrics import Metric
from ..trainers.trainer import Trainer
from . import summary as summary_module


def _functional_arguments(args, kwargs):
    return (len(args) == 2 or (len(args) == 1 and "outputs" in kwargs)
            or ("inputs" in kwargs and "outputs" in kwargs))


@register_builtin
class Model(Trainer, Layer):
    """A model: layers, and the loops that train and run them.

    `Model(inputs=..., outputs=...)` makes a functional model from symbolic tensors. A subclass
    assigns its layers in `__init__` and computes in `call(self, inputs, training=None)`.

    Example:
        >>> import numpy as np, fastdnn as keras
        >>> class TwoLayers(keras.Model):
        ...     def __init__(self, **kwargs):
        ...         super().__init__(**kwargs)
        ...         self.hidden = keras.layers.Dense(8, activation="relu")
        ...         self.out = keras.layers.Dense(1)
        ...     def call(self, inputs, training=None):
        ...         return self.out(self.hidden(inputs))
        >>> model = TwoLayers()
        >>> model(np.zeros((2, 3))).shape
        (2, 1)
    """

    _functional_class = None  # set by functional.py: the class `Model(inputs, outputs)` makes

    def __new__(cls, *args, **kwargs):
        if cls is Model and _functional_arguments(args, kwargs):
            return object.__new__(cls._functional_class)
        return object.__new__(cls)

    def __init__(self, *args, **kwargs):
        Trainer.__init__(self)
        functional = self._functional_class
        if _functional_arguments(args, kwargs) and not isinstance(self, functional):
            # A subclass that calls super().__init__(inputs, outputs) becomes functional, as in
            # Keras: Functional is put above Model in its bases.
            cls = type(self)
            cls.__bases__ = tuple(functional if base is Model else base for base in cls.__bases__)
            functional.__init__(self, *args, **kwargs)
            return
        if args:
            raise TypeError(f"{type(self).__name__}() takes keyword arguments only (name=, trainable=, "
                            f"dtype=), or inputs and outputs for a functional model. Received {len(args)} "
                            "positional arguments.")
        Layer.__init__(self, **kwargs)

    def __setattr__(self, name, value):
        if isinstance(value, Metric) and name != "_loss_tracker":  # tracked, as Keras: model.metrics
            tracked = self.__dict__.setdefault("_tracked_metrics", [])
            if all(value is not m for m in tracked):
                tracked.append(value)
        Layer.__setattr__(self, name, value)

    # ---- structure ----------------------------------------------------------------------------

    @property
    def layers(self):
        """The model's layers: for a subclassed model, those assigned as its attributes."""
        return list(self._sublayers)

    def get_layer(self, name=None, index=None):
        """A layer of the model, by name or by index in `layers`.

        Raises:
            ValueError: for no such layer, or for neither or both of name and index.
        """
        if (name is None) == (index is None):
            raise ValueError("Provide either a layer name or a layer index: get_layer(name=...) or "
                             f"get_layer(index=...). Received: name={name!r}, index={index!r}")
        layers = self.layers
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"Was asked to retrieve layer at index {index} but model '{self.name}' "
                                 f"only has {len(layers)} layers.")
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}. Existing layers are: {[layer.name for layer in layers]}.")

    def build(self, input_shape=None):
        """Builds the model's layers for inputs of `input_shape` (batch dimension first, None
        for any size), by running it once on zeros."""
        if input_shape is None:
            raise ValueError(f"Model '{self.name}' needs an input shape to build: model.build((None, features)).")
        self.built = True
        self._build_input_shape = _as_shape(input_shape)
        self._probe_output_shape(input_shape)

    def _maybe_build(self, inputs):
        if type(self).build is Model.build:  # a subclassed model builds its layers as it calls them
            shapes = map_structure(lambda x: tuple(x.shape), inputs)
            self._build_input_shape = _as_shape(shapes)
            self.built = True
        else:
            Layer._maybe_build(self, inputs)

    def compute_output_shape(self, input_shape):
        return self._probe_output_shape(input_shape)

    def __call__(self, inputs, *args, training=None, **kwargs):
        if self._on_gpu() and not any_symbolic(inputs):  # the batch goes where the weights are
            place = self.device
            inputs = map_structure(lambda x: x if on_device(x) else place.put(as_float32(x, "inputs")),
                                   inputs if type(inputs) is np.ndarray else self._convert_inputs(inputs))
        return Layer.__call__(self, inputs, *args, training=training, **kwargs)

    # ---- weights and devices --------------------------------------------------------------------

    def _device_probe(self):
        """A weight of the model (cached), whose place tells where the model lives."""
        var = self.__dict__.get("_probe_var")
        if var is None:
            weights = self.weights
            var = weights[0] if weights else None
            if var is not None:
                object.__setattr__(self, "_probe_var", var)
        return var

    @property
    def device(self):
        """The device holding the model's weights (cpu for a model without weights)."""
        var = self._device_probe()
        return devices.device_of(var._value) if var is not None else devices.Device("cpu")

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

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        """Prints a Keras-style table of layers, output shapes and parameter counts (and, for a
        graph that is not a plain chain, what each layer is connected to). Under a
        DataParallel distribution, rank 0 alone prints it."""
        comm = active_communicator()
        if comm is not None and not comm.is_chief:
            return
        summary_module.print_summary(self, line_length=line_length, print_fn=print_fn)

    def get_config(self):
        """A subclassed model's config: its Layer config (override it to add `__init__`'s
        arguments, as in Keras)."""
        return Layer.get_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """The model `config` describes: a functional config (layers, input_layers,
        output_layers) rebuilds the graph; any other is passed to `__init__`, as in Keras."""
        if isinstance(config, dict) and {"layers", "input_layers", "output_layers"} <= set(config):
            functional = cls._functional_class
            return functional.rebuild(functional if cls is Model else cls, config, custom_objects)
        return cls(**config)

    def to_json(self, **kwargs):
        """The model's architecture as a JSON string in Keras 3's format (`model_from_json`
        reads it back, and so does Keras)."""
        return json.dumps(saving.model_to_keras_config(self), **kwargs)

    @property
    def output_names(self):
        return self.__dict__.get("_output_names") or []

    @output_names.setter
    def output_names(self, value):
        object.__setattr__(self, "_output_names", list(value))
