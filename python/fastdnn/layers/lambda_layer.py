"""Lambda: a layer made of a Python function of its inputs, as keras.layers.Lambda.

Its config holds the function: a named function by name (found again through custom_objects or
the registry, never by importing a module named in the file), a `lambda` as its bytecode, in
Keras's format. Rebuilding a lambda runs code from the config, so it is refused unless the
config is read with `safe_mode=False` (`load_model(path, safe_mode=False)`), as in Keras; its
bytecode only loads in the Python version that wrote it.
"""

import base64
import binascii
import inspect
import marshal
import types

from .. import _registry
from .base import Layer


def _lambda_globals():
    """What a rebuilt lambda may name: fastdnn's ops (also as `keras.ops`) and NumPy."""
    import builtins

    import numpy as np

    from .. import ops
    namespace = types.SimpleNamespace(ops=ops)
    return {"__builtins__": builtins, "ops": ops, "np": np, "keras": namespace, "fastdnn": namespace}


def _function_config(fn):
    if isinstance(fn, types.LambdaType) and fn.__name__ == "<lambda>":
        closure = tuple(c.cell_contents for c in fn.__closure__) if fn.__closure__ else None
        return {"class_name": "__lambda__",
                "config": {"code": base64.encodebytes(marshal.dumps(fn.__code__)).decode("ascii"),
                           "defaults": fn.__defaults__, "closure": closure}}
    if callable(fn) and hasattr(fn, "__name__"):
        return {"module": getattr(fn, "__module__", None), "class_name": "function",
                "config": _registry.get_registered_name(fn), "registered_name": "function"}
    raise ValueError(f"A Lambda layer's function must be a Python function. Received: {fn!r}")


def _function_from_config(config, custom_objects, what):
    if callable(config):
        return config
    if not isinstance(config, dict) or config.get("class_name") not in ("__lambda__", "function"):
        raise ValueError(f"The {what} of a Lambda layer's config must be a function entry. Received: {config!r:.200}")
    if config["class_name"] == "__lambda__":
        if _registry.in_safe_mode():
            raise ValueError(
                "Requested the deserialization of a `Lambda` layer whose function is a Python lambda. "
                "This runs code from the config and is refused by default; if you trust the file, pass "
                "`safe_mode=False` to `load_model` (or read the config inside "
                "`fastdnn.saving.safe_mode_scope(False)`).")
        inner = config.get("config") or {}
        try:
            code = marshal.loads(base64.decodebytes(str(inner.get("code", "")).encode("ascii")))
            closure = inner.get("closure")
            cells = tuple(types.CellType(v) for v in closure) if closure else None
            return types.FunctionType(code, _lambda_globals(), code.co_name,
                                      tuple(inner["defaults"]) if inner.get("defaults") else None, cells)
        except (EOFError, TypeError, ValueError, binascii.Error) as e:
            raise ValueError(f"The Lambda layer's bytecode cannot be loaded ({type(e).__name__}: {e}); it "
                             "loads only in the Python version that wrote it.") from None
    name = config.get("config")
    fn = _registry.get_registered_object(name, custom_objects)
    if fn is None:
        raise ValueError(f"The Lambda layer's function {name!r} is unknown: pass it in custom_objects, or "
                         "register it with @keras.saving.register_keras_serializable().")
    return fn


class Lambda(Layer):
    """Wraps a function of the inputs as a layer: `Lambda(lambda t: ops.abs(ops.subtract(*t)))`.

    Args:
        function: the function, called as function(inputs, **arguments) (and with `training=`
            when it takes that argument). Build it from `fastdnn.ops` to be trainable.
        output_shape: the output shape without the batch dimension (or a function of the input
            shape); by default found by running the function on zeros.
        mask: must be None (fastdnn has no masking).
        arguments: extra keyword arguments for the function.

    Example:
        >>> import numpy as np, fastdnn
        >>> fastdnn.layers.Lambda(lambda t: fastdnn.ops.multiply(t, 3.0))(np.ones((1, 2)))
        array([[3., 3.]], dtype=float32)

    Raises:
        ValueError: for a function that is not callable or a mask.
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise ValueError(f"Lambda needs a callable `function`. Received: function={function!r}")
        if mask is not None:
            raise ValueError(f"fastdnn has no masking: Lambda takes mask=None. Received: mask={mask!r}")
        self.function = function
        self.arguments = dict(arguments or {})
        self._output_shape = tuple(output_shape) if isinstance(output_shape, (list, tuple)) else output_shape
        try:
            self._takes_training_arg = "training" in inspect.signature(function).parameters
        except (TypeError, ValueError):
            self._takes_training_arg = False

    def call(self, inputs, training=None):
        kwargs = dict(self.arguments)
        if self._takes_training_arg:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_output_shape(self, input_shape):
        if self._output_shape is None:
            return self._probe_output_shape(input_shape)
        if callable(self._output_shape):
            return tuple(self._output_shape(input_shape))
        batch = input_shape[0] if input_shape and not isinstance(input_shape[0], (list, tuple)) else None
        return (batch,) + tuple(self._output_shape)

    def get_config(self):
        config = {**super().get_config(), "function": _function_config(self.function), "arguments": self.arguments}
        if self._output_shape is not None:
            config["output_shape"] = _function_config(self._output_shape) if callable(self._output_shape) \
                else list(self._output_shape)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["function"] = _function_from_config(config.get("function"), custom_objects, "function")
        shape = config.get("output_shape")
        if isinstance(shape, dict):
            config["output_shape"] = _function_from_config(shape, custom_objects, "output_shape")
        config.pop("mask", None)
        return cls(**config)
