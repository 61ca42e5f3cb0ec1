"""`clone_model`: a new model of the same architecture, with new layers and fresh weights.

Each layer is rebuilt from its config (`type(layer).from_config(layer.get_config())`), so the
clone shares nothing with the original: its weights are drawn anew by the layers' initializers,
as Keras does. Copy the weights over with `clone.set_weights(model.get_weights())`.
"""

from .layers.core import KerasTensor


def clone_model(model, input_tensors=None, clone_function=None, call_function=None, recursive=False):
    """A copy of a Sequential model's architecture, with new layers and freshly initialised weights.

    Args:
        model: a `Sequential` model.
        input_tensors: optional `Input(...)` (or a one-element list of it) giving the clone's
            input shape; by default the clone takes the original's.
        clone_function: optional callable `fn(layer) -> layer` making each new layer (default:
            `type(layer).from_config(layer.get_config())`; return `layer` itself to share it).
        call_function: not supported for Sequential models (as in Keras).
        recursive: clone nested Sequential models with `clone_model` and the same
            `clone_function` (by default a nested model is passed to `clone_function`, or, when
            there is none, cloned like the rest).

    Returns:
        A new, uncompiled `Sequential`, built when the original's input shape is known.

    Example:
        >>> import fastdnn as keras
        >>> model_A = keras.Sequential([keras.Input(shape=[4]), keras.layers.Dense(3)])
        >>> clone = keras.models.clone_model(model_A)
        >>> clone.set_weights(model_A.get_weights())
        >>> clone.layers[0] is model_A.layers[0]
        False

    Raises:
        TypeError: if `model` is not a Sequential model, or `clone_function` returns something
            that is not a layer.
        ValueError: for `call_function`, or `input_tensors` that are not one `Input(...)`.
    """
    from .models import Sequential

    if not isinstance(model, Sequential):
        raise TypeError("clone_model supports Sequential models (fastdnn has no functional or "
                        f"subclassed models). Received: {model!r}")
    if call_function is not None:
        raise ValueError("`call_function` is not supported with Sequential models: their layers "
                         "are listed, not called, when the model is made. Use `clone_function`. "
                         f"Received: call_function={call_function!r}")
    input_shape = _input_shape(input_tensors, model)
    cache = {}  # one clone per original layer, so a layer used twice stays shared in the clone

    def clone(layer):
        if id(layer) not in cache:
            if isinstance(layer, Sequential) and (recursive or clone_function is None):
                new = clone_model(layer, clone_function=clone_function, recursive=recursive)
            elif clone_function is not None:
                new = clone_function(layer)
            else:
                new = type(layer).from_config(layer.get_config())
            cache[id(layer)] = new
        return cache[id(layer)]

    copy = Sequential(name=model.name, trainable=True)
    if input_shape is not None:
        copy.add(KerasTensor(input_shape))
    for layer in model.layers:
        new = clone(layer)
        if not hasattr(new, "build") or not hasattr(new, "trainable"):
            raise TypeError(f"clone_function must return a layer. For layer '{layer.name}' it "
                            f"returned: {new!r}")
        copy.add(new)
    copy._trainable = model.trainable  # the flag only: each layer keeps the one in its config
    return copy


def _input_shape(input_tensors, model):
    """The clone's input shape: that of `input_tensors` when given, else the original's."""
    if input_tensors is None:
        return model._input_shape
    tensors = input_tensors if isinstance(input_tensors, (list, tuple)) else [input_tensors]
    if len(tensors) != 1 or not isinstance(tensors[0], KerasTensor):
        raise ValueError("input_tensors must be one `Input(shape=...)` (a Sequential model has one "
                         f"input). Received: {input_tensors!r}")
    return tensors[0].shape
