"""`Sequential`: a linear stack of layers, each fed the previous one's output.

Once its input shape is known (an `Input` first, a first layer's `input_shape=`, a first layer
already built, or the first batch), the model builds every layer by calling it on a symbolic
input, as Keras 3 does: each layer then has an `input` and an `output` in that graph, so that
`keras.Model(model.inputs, model.layers[2].output)` cuts a sub-model from it. Training runs the
layers in order, without the graph.
"""

from .. import layers as layers_module
from .._registry import register_builtin
from ..layers.base import Layer, check_built_for
from ..layers.input_layer import Input, InputLayer
from ..layers.keras_tensor import KerasTensor
from .model import Model


@register_builtin
class Sequential(Model):
    """A linear stack of layers, as keras.Sequential.

    Args:
        layers: optional list of layers (an `Input(...)` first gives the input shape).
        name: the model's name.
        trainable: whether its layers are trained.

    Example:
        >>> import fastdnn as keras
        >>> model = keras.models.Sequential([
        ...     keras.layers.Flatten(input_shape=[28, 28]),
        ...     keras.layers.Dense(300, activation="elu", kernel_initializer="he_normal"),
        ...     keras.layers.Dense(10, activation="softmax")])
        >>> model.count_params()
        238510
    """

    def __init__(self, layers=None, name=None, trainable=True, **kwargs):
        super().__init__(name=name, trainable=trainable, **kwargs)
        self._layers = []
        self._input_shape = None
        self._input_tensor = None  # the symbolic input the layers were built on
        self._output_shapes = []
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._maybe_rebuild()

    # ---- structure ----------------------------------------------------------------------------

    @property
    def layers(self):
        return list(self._layers)

    def add(self, layer, rebuild=True):
        """Appends a layer (or an `Input(...)`, which sets the input shape).

        Layers are shared, not copied: `Sequential(model_A.layers[:-1])` reuses model_A's layer
        objects and weights (training one model changes the other). When the first layer
        already knows its input (an `input_shape=` argument, or it was built) the model builds
        at once.

        Raises:
            TypeError: if `layer` is not a layer, a model or an `Input(...)`.
        """
        if isinstance(layer, KerasTensor):
            self._set_input(layer)
        elif isinstance(layer, InputLayer):
            self._set_input(layer._inbound_nodes[0].outputs[0] if layer._inbound_nodes else None,
                            layer._batch_input_shape)
        elif isinstance(layer, Layer):
            if not self._layers and self._input_shape is None:
                self._input_shape = _known_input_shape(layer)
            self._layers.append(layer)
            self._track(layer)
        else:
            raise TypeError(f"Only layers can be added to a Sequential model. Received: {layer!r}")
        self.built = False
        self.__dict__["_probe_var"] = None
        if rebuild:
            self._maybe_rebuild()

    def _set_input(self, tensor, shape=None):
        history = getattr(tensor, "_keras_history", None)
        if tensor is not None and (history is None or not isinstance(history.operation, InputLayer)):
            raise ValueError("A Sequential model takes `keras.Input(...)` as its first entry, not an "
                             f"intermediate tensor. Received: {tensor!r}")
        self._input_shape = tuple(tensor.shape if tensor is not None else shape)
        self._input_tensor = tensor

    def _maybe_rebuild(self):
        if self._input_shape is not None and self._layers:
            self.build(self._input_shape)

    def pop(self, rebuild=True):
        """Removes and returns the last layer."""
        if not self._layers:
            raise TypeError("There are no layers in the model.")
        layer = self._layers.pop()
        if not any(layer is other for other in self._layers):
            self._sublayers.remove(layer)
        self.built = False
        self.__dict__["_probe_var"] = None
        if rebuild:
            self._maybe_rebuild()
        return layer

    def build(self, input_shape=None):
        """Builds every layer for `input_shape` (batch dimension first), creating the weights."""
        shape = tuple(input_shape or self._input_shape)
        if self._input_tensor is None or tuple(self._input_tensor.shape) != shape:
            self._input_tensor = Input(batch_shape=shape)
        self._input_shape = shape
        x = self._input_tensor
        self._output_shapes = []
        for layer in self._layers:
            check_built_for(layer, tuple(x.shape), self.name)
            x = layer(x)
            self._output_shapes.append(tuple(x.shape))
        self._output_tensor = x
        self._build_input_shape = (None,) + shape[1:]
        self.built = True

    def get_build_config(self):
        return None  # the config's InputLayer holds the shape

    @property
    def input_shape(self):
        """The input shape the model takes (batch dimension first), or None while unknown."""
        return self._input_shape

    @property
    def inputs(self):
        """The symbolic input the layers were built on (a one-element list)."""
        self._require_graph("inputs")
        return [self._input_tensor]

    @property
    def outputs(self):
        self._require_graph("outputs")
        return [self._output_tensor]

    @property
    def input(self):
        self._require_graph("input")
        return self._input_tensor

    @property
    def output(self):
        self._require_graph("output")
        return self._output_tensor

    def _require_graph(self, what):
        if not self.built or self._input_tensor is None or not self._layers:
            raise AttributeError(f"Sequential model '{self.name}' has no `{what}` yet: give it an input "
                                 "shape (an Input first, or input_shape= on the first layer) or build it.")

    @property
    def output_names(self):
        return [self._layers[-1].name] if self._layers else []

    def _chain_layers(self):
        return self.layers if type(self).call is Sequential.call else None

    def _known_output_names(self):
        return self.output_names or ["output"]

    def compute_output_shape(self, input_shape):
        """The output shape for `input_shape` (so that a Sequential can be a layer of another)."""
        shape = tuple(input_shape)
        for layer in self._layers:
            shape = tuple(layer.compute_output_shape(shape))
        return shape

    def call(self, inputs, training=None):
        x = inputs
        for layer in self._layers:
            x = layer(x, training=training)
        return x

    # ---- config -------------------------------------------------------------------------------

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
            model.add(layers_module.deserialize(entry, custom_objects), rebuild=False)
        model._maybe_rebuild()
        return model


def _known_input_shape(layer):
    """The input shape a layer declares (`input_shape=`) or was built for, or None."""
    if isinstance(layer, Sequential):
        return layer._input_shape
    return getattr(layer, "_batch_input_shape", None) or getattr(layer, "_build_input_shape", None)
