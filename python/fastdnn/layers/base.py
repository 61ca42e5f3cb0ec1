"""The Layer base class: argument checks in __init__, weights in build, math in call."""

import collections
import functools
import inspect
import re

import numpy as np

from .. import constraints, devices, initializers, penalties, regularizers
from .._arrays import as_float32
from ..saving import _guard
from ..variables import Variable

_name_counts = collections.Counter()


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


class Layer:
    """Base class of fastdnn layers, shaped like keras.layers.Layer.

    Subclasses validate and store their arguments in `__init__`, create weights in
    `build(input_shape)` with `add_weight`, and compute outputs in `call(inputs, training=None)`
    from `fastdnn.ops` functions, which the gradient tape differentiates.

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

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        build = cls.__dict__.get("build")
        if build is not None and not getattr(build, "_records_shape", False):
            cls.build = _recording_shape(build)

    def __init__(self, trainable=True, name=None, dtype=None, input_shape=None, input_dim=None,
                 batch_input_shape=None, batch_size=None, **kwargs):
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}")
        if dtype not in (None, "float32", np.float32):
            raise ValueError(f"fastdnn layers compute in float32. Received: dtype={dtype!r}")
        self.name = name or unique_name(_snake(type(self).__name__))
        self.trainable = bool(trainable)
        self.built = False
        self._weights = []
        self.dtype = "float32"
        if batch_input_shape is not None:
            self._batch_input_shape = tuple(batch_input_shape)
        elif input_shape is not None:
            self._batch_input_shape = (batch_size,) + tuple(input_shape)
        elif input_dim is not None:
            self._batch_input_shape = (batch_size, int(input_dim))
        else:
            self._batch_input_shape = None

    # ---- weights ----------------------------------------------------------------------------

    def add_weight(self, shape=None, initializer="glorot_uniform", dtype=None, trainable=True,
                   name=None, regularizer=None, constraint=None):
        """Creates a Variable owned by this layer."""
        init = initializers.get(initializer)
        shape = tuple(int(d) for d in (shape or ()))
        full_name = f"{self.name}/{name or 'weight'}"
        if _guard.loading():  # built from a model file: bounded, and overwritten from the file
            _guard.claim(shape, full_name)
            value = np.zeros(shape, np.float32)
        else:
            value = init(shape, dtype="float32")
        var = Variable(value, trainable=trainable, name=full_name)
        var.regularizer, var.constraint = regularizers.get(regularizer), constraints.get(constraint)
        place = devices.current()  # inside `with fastdnn.device("cuda"):` the weight lives there
        if place is not None and place.type != "cpu":
            var._value = place.put(var._value)
        self._weights.append(var)
        return var

    @property
    def weights(self):
        return list(self._weights)

    @property
    def losses(self):
        """Current penalties: the latest activity penalty, then one per regularized weight."""
        return penalties.layer_losses(self)

    @property
    def trainable_weights(self):
        return [w for w in self._weights if w.trainable] if self.trainable else []

    @property
    def non_trainable_weights(self):
        return [w for w in self._weights if not (w.trainable and self.trainable)]

    def get_weights(self):
        """The weights' values as a list of NumPy arrays (copies)."""
        return [w.numpy() for w in self._weights]

    def set_weights(self, weights):
        """Sets the weights from a list of arrays matching `get_weights()`."""
        weights = list(weights)
        if len(weights) != len(self._weights):
            raise ValueError(f"Layer '{self.name}' expects {len(self._weights)} weight arrays, "
                             f"received {len(weights)}.")
        for var, value in zip(self._weights, weights):
            var.assign(value)

    def count_params(self):
        return int(sum(w.size for w in self._weights))

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
        probe = np.zeros((1,) + tuple(d or 1 for d in input_shape[1:]), np.float32)
        return (input_shape[0],) + self(probe).shape[1:]

    def __call__(self, inputs, training=None, **kwargs):
        if not isinstance(inputs, np.ndarray) or inputs.dtype != np.float32:
            inputs = as_float32(inputs, "inputs")
        if not self.built:
            self.build(inputs.shape)
            self.built = True
        if _takes_training(type(self)):
            kwargs["training"] = training
        outputs = self.call(inputs, **kwargs)
        if self.activity_regularizer is not None:  # the penalty of this output (Keras 3: unscaled)
            self._activity_losses = [self.activity_regularizer(outputs)]
        return outputs

    # ---- config -----------------------------------------------------------------------------

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
    def wrapper(self, input_shape, *args, **kwargs):
        result = build(self, input_shape, *args, **kwargs)
        self._build_input_shape = _as_shape(input_shape)
        return result

    wrapper._records_shape = True
    return wrapper


_TAKES_TRAINING = {}


def _takes_training(cls):
    flag = _TAKES_TRAINING.get(cls)
    if flag is None:
        flag = _TAKES_TRAINING[cls] = "training" in inspect.signature(cls.call).parameters
    return flag
