"""The Layer base class: argument checks in __init__, weights in build, math in call.

A layer called on arrays computes (eagerly, through `fastdnn.ops`, which a GradientTape
differentiates); called on symbolic tensors (`KerasTensor`, from `Input`) it builds itself for
their shapes and records the call as a graph node (keras_tensor.py), which is how functional
models are made. Layers assigned as attributes of a layer are tracked as its sublayers: their
weights are part of its weights, and `trainable` reaches them.
"""

import collections
import functools
import inspect
import re

import numpy as np

from .. import constraints, devices, initializers, penalties, regularizers
from .. import _load_budget
from .._arrays import as_float32
from .. import _global_state
from .._dispatch import on_device
from ..variables import Variable
from . import call_context
from .keras_tensor import KerasTensor, Node, any_symbolic, is_shape, map_shapes, map_structure

_name_counts = collections.Counter()
_global_state.on_clear_session(_name_counts.clear)
_state = call_context.state


def _snake(name):
    """Keras's to_snake_case: 'Dense' -> 'dense', 'PReLU' -> 'p_re_lu'."""
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_name(base):
    """'dense', 'dense_1', 'dense_2', ... as Keras names layers."""
    n = _name_counts[base]
    _name_counts[base] += 1
    return base if n == 0 else f"{base}_{n}"


def serialize_object(obj):
    """JSON-safe config of a regularizer/constraint/initializer argument (None stays None)."""
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    if hasattr(obj, "get_config"):
        return {"class_name": type(obj).__name__, "config": obj.get_config()}
    return getattr(obj, "__name__", repr(obj))


def _is_tensor(x):
    return isinstance(x, (np.ndarray, Variable, KerasTensor)) or on_device(x)


def _sublayers_of(value):
    """The layers an attribute value holds: a layer, or a list/tuple/dict of them."""
    if isinstance(value, Layer):
        return [value]
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, Layer)]
    if isinstance(value, dict):
        return [v for v in value.values() if isinstance(v, Layer)]
    return []


class Layer:
    """Base class of fastdnn layers, shaped like keras.layers.Layer.

    Subclasses validate and store their arguments in `__init__`, create weights in
    `build(input_shape)` with `add_weight`, and compute outputs in `call(inputs, training=None)`
    from `fastdnn.ops` functions, which the gradient tape differentiates. Layers assigned as
    attributes become sublayers (their weights are this layer's too). `add_loss(value)` in
    `call` adds a term to the training loss.

    Args:
        trainable: whether the layer's weights are trained.
        name: the layer's name (default: its class in snake_case, numbered).
        dtype: only "float32" is supported.
        input_shape, input_dim, batch_input_shape, batch_size: the book-era way to give the
            first layer of a Sequential model its input shape (without the batch dimension).

    Example:
        >>> import fastdnn
        >>> class Double(fastdnn.layers.Layer):
        ...     def call(self, x):
        ...         return fastdnn.ops.multiply(x, 2.0)
        >>> Double()([[1.0]])
        array([[2.]], dtype=float32)
    """

    activity_regularizer = None  # a regularizer of the outputs, set by layers that take one
    _build_input_shape = None  # the input shape the layer was built for (batch dimension None)
    _sublayers = ()  # class default until __init__ (a subclass may set attributes before it)
    _weights = ()
    _trainable = True
    _inbound_nodes = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        build = cls.__dict__.get("build")
        if build is not None and not getattr(build, "_records_shape", False):
            cls.build = _recording_shape(build)

    def __init__(self, trainable=True, name=None, dtype=None, input_shape=None, input_dim=None,
                 batch_input_shape=None, batch_size=None, **kwargs):
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}")
        if dtype not in (None, "float32", np.float32) and not _is_float32_policy(dtype):
            raise ValueError(f"fastdnn layers compute in float32. Received: dtype={dtype!r}")
        if not isinstance(self.__dict__.get("_sublayers"), list):
            self._sublayers = []
        self.name = name or unique_name(_snake(type(self).__name__))
        self.trainable = bool(trainable)
        self.built = False
        self._weights = []
        self._inbound_nodes = []
        self._added = (None, [])  # (generation, losses added during that outermost call)
        self.dtype = "float32"
        if batch_input_shape is not None:
            self._batch_input_shape = tuple(batch_input_shape)
        elif input_shape is not None:
            self._batch_input_shape = (batch_size,) + tuple(input_shape)
        elif input_dim is not None:
            self._batch_input_shape = (batch_size, int(input_dim))
        else:
            self._batch_input_shape = None

    # ---- sublayers ----------------------------------------------------------------------------

    def __setattr__(self, name, value):
        if name[:2] != "__" and not isinstance(value, (np.ndarray, int, float, str, type(None))):
            for layer in _sublayers_of(value):
                self._track(layer)
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        value = self.__dict__.get(name)
        object.__delattr__(self, name)
        for layer in _sublayers_of(value):
            if layer in self._sublayers:
                self._sublayers.remove(layer)

    def _track(self, layer):
        """Makes `layer` a sublayer (once), so its weights count as this layer's."""
        sublayers = self.__dict__.get("_sublayers")
        if not isinstance(sublayers, list):
            sublayers = []
            object.__setattr__(self, "_sublayers", sublayers)
        if layer is not self and not any(layer is s for s in sublayers):
            sublayers.append(layer)

    def _flatten_layers(self, include_self=True, recursive=True):
        """This layer (optionally) and its sublayers, depth first, each once."""
        seen, out = set(), []

        def visit(layer, depth):
            if id(layer) in seen:
                return
            seen.add(id(layer))
            if depth or include_self:
                out.append(layer)
            if depth == 0 or recursive:
                for sub in layer._sublayers:
                    visit(sub, depth + 1)

        visit(self, 0)
        return out

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        """Freezes (False) or unfreezes (True) the layer and every sublayer, as Keras does."""
        self._trainable = bool(value)
        for layer in self._sublayers:
            layer.trainable = self._trainable

    # ---- weights ----------------------------------------------------------------------------

    def add_weight(self, shape=None, initializer="glorot_uniform", dtype=None, trainable=True,
                   name=None, regularizer=None, constraint=None):
        """Creates a Variable owned by this layer.

        Args:
            shape: the weight's shape.
            initializer: an initializer or its name.
            dtype: only float32.
            trainable: whether optimizers update it.
            name: its name within the layer ("kernel"); its path is "<layer name>/<name>".
            regularizer, constraint: a penalty and a projection for it, applied in training.
        """
        init = initializers.get(initializer)
        shape = tuple(int(d) for d in (shape or ()))
        short = name or "weight"
        path = f"{self.name}/{short}"
        if _load_budget.loading():  # built from a model file: bounded, and overwritten from the file
            _load_budget.claim(shape, path)
            value = np.zeros(shape, np.float32)
        else:
            value = init(shape, dtype="float32")
        var = Variable(value, trainable=trainable, name=short)
        var.path = path
        var.regularizer, var.constraint = regularizers.get(regularizer), constraints.get(constraint)
        place = devices.current()  # inside `with fastdnn.device("cuda"):` the weight lives there
        if place is not None and place.type != "cpu":
            var._value = place.put(var._value)
        self._weights.append(var)
        return var

    add_variable = add_weight

    def _own_weights(self):
        own = self._weights
        if all(w.trainable for w in own) or not any(w.trainable for w in own):
            return list(own)
        return [w for w in own if w.trainable] + [w for w in own if not w.trainable]

    @property
    def weights(self):
        """Every weight: the layer's own (trainable ones first), then its sublayers', each once."""
        if not self._sublayers:
            return self._own_weights()
        out, seen = [], set()
        for w in self._own_weights() + [w for layer in self._sublayers for w in layer.weights]:
            if id(w) not in seen:
                seen.add(id(w))
                out.append(w)
        return out

    @property
    def trainable_weights(self):
        if not self._trainable:
            return []
        out = [w for w in self._weights if w.trainable]
        if self._sublayers:
            for layer in self._sublayers:
                out += layer.trainable_weights
            # Layers are tracked once each, so only nested containers can repeat a weight.
            if any(layer._sublayers for layer in self._sublayers) and len({id(w) for w in out}) != len(out):
                seen = set()
                out = [w for w in out if not (id(w) in seen or seen.add(id(w)))]
        return out

    @property
    def non_trainable_weights(self):
        trainable = {id(w) for w in self.trainable_weights}
        return [w for w in self.weights if id(w) not in trainable]

    # Keras 3's names for the same lists.
    variables = weights
    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    @property
    def losses(self):
        """Current penalties as floats: per layer (this one, then its sublayers), the latest
        activity penalty and the values `add_loss` received in the latest call, then one per
        regularized weight."""
        return penalties.model_losses(self)

    def add_loss(self, loss):
        """Adds `loss` (a scalar, or an array that is summed) to the training loss of the
        current call; call it from `call`. `layer.losses` lists the values of the latest call.

        Example:
            >>> import fastdnn
            >>> class Sparse(fastdnn.layers.Layer):
            ...     def call(self, x):
            ...         self.add_loss(fastdnn.ops.multiply(fastdnn.ops.mean(fastdnn.ops.abs(x)), 0.1))
            ...         return x
            >>> layer = Sparse(); _ = layer([[1.0, -3.0]]); layer.losses
            [0.20000000298023224]
        """
        if _state.probing:
            return
        if self._added[0] != _state.generation:
            self._added = (_state.generation, [])
        self._added[1].append(loss)
        if _state.added is not None:
            _state.added.append(loss)

    def _current_added_losses(self):
        """The values `add_loss` received during the latest outermost call."""
        generation, losses = self._added
        return losses if generation == _state.generation else []

    def get_weights(self):
        """The weights' values as a list of NumPy arrays (copies)."""
        return [w.numpy() for w in self.weights]

    def set_weights(self, weights):
        """Sets the weights from a list of arrays matching `get_weights()`."""
        weights, variables = list(weights), self.weights
        if len(weights) != len(variables):
            raise ValueError(f"Layer '{self.name}' expects {len(variables)} weight arrays, "
                             f"received {len(weights)}.")
        for var, value in zip(variables, weights):
            var.assign(value)

    def count_params(self):
        if not self.built:
            raise ValueError(f"Layer '{self.name}' has no weights yet: build it (call it on data or "
                             "on an Input) before counting them.")
        return int(sum(w.size for w in self.weights))

    # ---- calling ----------------------------------------------------------------------------

    def build(self, input_shape):
        """Creates the layer's weights for inputs of `input_shape` (batch dimension first).

        Every subclass's `build` also records that shape (as `_build_input_shape`), so a model
        made of already-built layers, such as `Sequential(model_A.layers[:-1])`, knows its input.
        """
        self._build_input_shape = _as_shape(input_shape)
        self.built = True

    def call(self, inputs, training=None):
        raise NotImplementedError(f"{type(self).__name__} must implement call().")

    def compute_output_shape(self, input_shape):
        """Output shape for `input_shape`; by default found by running the layer on zeros."""
        return self._probe_output_shape(input_shape)

    def _probe_output_shape(self, input_shape):
        """The output shape(s) of one call on zeros of `input_shape` (unknown sizes taken as 1)."""
        weights = self.weights
        place = devices.device_of(weights[0]._value) if weights else None

        def zeros(shape):
            z = np.zeros((1,) + tuple(1 if d is None else d for d in shape[1:]), np.float32)
            return place.put(z) if place is not None and place.type != "cpu" else z

        probe = map_shapes(zeros, input_shape)
        with call_context.probing():
            out = self(probe, training=False)
        batch = input_shape[0] if is_shape(input_shape) else None
        return map_structure(lambda y: (batch,) + tuple(y.shape[1:]), out)

    def _convert_inputs(self, inputs):
        """Call inputs as float32 arrays: one array, or a list/tuple/dict of them."""
        if isinstance(inputs, dict):
            return {k: v if on_device(v) else as_float32(v, f"inputs[{k!r}]") for k, v in inputs.items()}
        if isinstance(inputs, (list, tuple)) and inputs and all(_is_tensor(v) for v in inputs):
            return [getattr(v, "value", v) if isinstance(v, Variable) else as_float32(v, f"inputs[{i}]")
                    for i, v in enumerate(inputs)]
        return as_float32(inputs, "inputs")

    def __call__(self, inputs, *args, training=None, **kwargs):
        if type(inputs) is not np.ndarray:
            if any_symbolic(inputs):
                return self._symbolic_call(inputs, args, training, kwargs)
            inputs = self._convert_inputs(inputs)
        elif inputs.dtype != np.float32:
            inputs = as_float32(inputs, "inputs")
        if not self.built:
            self._maybe_build(inputs)
        state = _state
        outer = state.training
        if training is None:
            training = outer  # inherited from the call this one runs inside
        flag = _TAKES_TRAINING.get(type(self))
        if flag is None:
            flag = _takes_training(type(self))
        if flag:
            kwargs["training"] = training
        depth = state.depth
        if not depth:  # an outermost call: the losses it adds replace the last ones
            state.generation += 1
            if not state.collecting:
                state.added = []
        state.depth = depth + 1
        if training is not outer:
            state.training = training
        try:
            outputs = self.call(inputs, *args, **kwargs)
        finally:
            state.depth = depth
            if training is not outer:
                state.training = outer
        if self.activity_regularizer is not None and not state.probing:
            self._activity_losses = [self.activity_regularizer(outputs)]  # Keras 3: unscaled
        if state.capture is not None:
            state.capture[id(self)] = (self, outputs)
        return outputs

    def _maybe_build(self, inputs):
        """Builds the layer for the shapes of `inputs` before its first call."""
        shapes = map_structure(lambda x: tuple(x.shape), inputs)
        if type(self).build is not Layer.build:
            self.build(shapes)
        else:
            self._build_input_shape = _as_shape(shapes)
        self.built = True

    def _symbolic_call(self, inputs, args, training, kwargs):
        """A call on KerasTensors: build for their shapes, record the node, return the outputs'
        KerasTensors."""
        for x in [inputs, *args, *kwargs.values()]:
            if any_symbolic(x):
                _check_from_graph(x, self)
        shapes = map_structure(lambda t: t.shape, inputs)
        if not self.built:
            if type(self).build is not Layer.build:
                self.build(shapes)
            else:
                self._build_input_shape = _as_shape(shapes)
            self.built = True
        elif is_shape(shapes):
            check_built_for(self, shapes, None)
        out_shape = self.compute_output_shape(shapes)
        outputs = map_shapes(lambda s: KerasTensor(s), out_shape)
        call_kwargs = dict(kwargs)
        if training is not None:
            call_kwargs["training"] = training
        Node(self, (inputs,) + tuple(args), call_kwargs, outputs)
        for tensor in _flat_tensors(outputs):
            tensor.name = self.name
        return outputs

    # ---- the graph this layer was called in -----------------------------------------------------

    def _node_attribute(self, attribute, what):
        nodes = self._inbound_nodes
        if not nodes:
            raise AttributeError(f"Layer '{self.name}' has never been called on symbolic inputs "
                                 f"(an Input or a model's tensors), so it has no `{what}`.")
        values = getattr(nodes[0], attribute)
        return values[0] if len(values) == 1 else values

    @property
    def input(self):
        """The symbolic input of the layer's first call in a graph."""
        node = self._inbound_nodes[0] if self._inbound_nodes else None
        if node is not None and not node.input_tensors and node.outputs:
            return node.outputs[0]  # an InputLayer: its own tensor
        return self._node_attribute("input_tensors", "input")

    @property
    def output(self):
        """The symbolic output of the layer's first call in a graph."""
        return self._node_attribute("outputs", "output")

    # ---- config -----------------------------------------------------------------------------

    def get_build_config(self):
        """{"input_shape": ...} the layer was built for (what a file needs to build it before
        loading its weights), or None."""
        shape = self._build_input_shape
        if shape is None:
            shape = getattr(self, "_build_shapes", None)  # a merging layer's list of shapes
        return None if shape is None else {"input_shape": _as_lists(shape)}

    def build_from_config(self, config):
        """Builds the layer from `get_build_config()`'s output (nothing when already built)."""
        if not self.built and config and config.get("input_shape") is not None:
            self.build(tuple(config["input_shape"]))

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        if self._batch_input_shape is not None:
            config["batch_input_shape"] = list(self._batch_input_shape)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _as_lists(shape):
    return [_as_lists(s) if isinstance(s, (list, tuple)) else s for s in shape]


def _is_float32_policy(dtype):
    """A Keras dtype policy object or dict that computes in float32."""
    name = getattr(dtype, "name", None)
    if isinstance(dtype, dict):
        name = (dtype.get("config") or {}).get("name")
    return name == "float32"


def _flat_tensors(structure):
    from .keras_tensor import flatten
    return [t for t in flatten(structure) if isinstance(t, KerasTensor)]


def _check_from_graph(x, layer):
    """Every KerasTensor passed to a layer must come from an Input (have a history)."""
    for tensor in _flat_tensors(x):
        if getattr(tensor, "_keras_history", None) is None:
            raise ValueError(f"Layer '{layer.name}' was called on {tensor!r}, which no layer made: "
                             "symbolic inputs come from `keras.Input(...)` or from calling layers "
                             "on such tensors.")


def check_built_for(layer, shape, model_name):
    """Raises ValueError when an already-built layer with weights would receive inputs whose
    last axis (the one its weights are sized by, as Keras's input specs check) differs from the
    one it was built for."""
    built_for = layer._build_input_shape
    if built_for is None or not layer._weights or not built_for or not shape:
        return
    if built_for[-1] is not None and shape[-1] is not None and built_for[-1] != shape[-1]:
        where = f" in model '{model_name}'" if model_name else ""
        raise ValueError(f"Layer '{layer.name}' was built for inputs of shape {tuple(built_for)}, but{where} "
                         f"it receives inputs of shape {tuple(shape)}. Reuse it where its input has "
                         "the shape it was built for, or use a new layer.")


def _as_shape(input_shape):
    """(None, d1, d2, ...) from a build shape (the batch size is not part of what was built), or
    None when it is not a sequence of sizes."""
    try:
        dims = tuple(None if d is None else int(d) for d in input_shape)
    except (TypeError, ValueError):
        return None
    return (None,) + dims[1:] if dims else None


def _recording_shape(build):
    """Wraps a subclass's `build` so that a successful build records its input shape."""
    @functools.wraps(build)
    def wrapper(self, input_shape=None, *args, **kwargs):
        result = build(self, input_shape, *args, **kwargs)
        self._build_input_shape = _as_shape(input_shape)
        if self._build_input_shape is None and input_shape is not None:
            self._build_shapes = input_shape  # a structure of shapes (a merge layer's)
        return result

    wrapper._records_shape = True
    return wrapper


_TAKES_TRAINING = {}


def _takes_training(cls):
    flag = _TAKES_TRAINING.get(cls)
    if flag is None:
        flag = _TAKES_TRAINING[cls] = "training" in inspect.signature(cls.call).parameters
    return flag




