"""`clone_model`: a new model of the same architecture, with new layers and fresh weights.

Each layer is rebuilt from its config (`type(layer).from_config(layer.get_config())`), so the
clone shares nothing with the original: its weights are drawn anew by the layers' initializers,
as Keras does. Copy the weights over with `clone.set_weights(model.get_weights())`. A functional
model's graph is called again on new inputs with the new layers, so a layer shared in the
original is one shared layer in the clone.
"""

from ..layers.input_layer import Input
from ..layers.keras_tensor import KerasTensor, flatten, pack_like
from .functional import Functional
from .model import Model
from .sequential import Sequential


def clone_model(model, input_tensors=None, clone_function=None, call_function=None, recursive=False):
    """A copy of a model's architecture, with new layers and freshly initialised weights.

    Args:
        model: a `Sequential`, functional or subclassed model (the last through its config).
        input_tensors: optional `Input(...)` tensors for the clone's inputs (one, or a list in
            the model's input order); by default the clone takes inputs like the original's.
        clone_function: optional callable `fn(layer) -> layer` making each new layer (default:
            `type(layer).from_config(layer.get_config())`; return `layer` itself to share it).
        call_function: for functional models, `fn(layer, *args, **kwargs)` replacing each call
            of a layer on its inputs; not supported for Sequential models (as in Keras).
        recursive: clone nested models with `clone_model` and the same `clone_function` (by
            default a nested model is passed to `clone_function`, or, when there is none,
            cloned like the rest).

    Returns:
        A new, uncompiled model, built when the original's input shape is known.

    Example:
        >>> import fastdnn as keras
        >>> model_A = keras.Sequential([keras.Input(shape=[4]), keras.layers.Dense(3)])
        >>> clone = keras.models.clone_model(model_A)
        >>> clone.set_weights(model_A.get_weights())
        >>> clone.layers[0] is model_A.layers[0]
        False

    Raises:
        TypeError: if `model` is not a model, or `clone_function` returns something that is not
            a layer.
        ValueError: for `call_function` with a Sequential model, or `input_tensors` that do not
            match the model's inputs.
    """
    if not isinstance(model, Model):
        raise TypeError(f"clone_model expects a fastdnn model (Sequential, functional or subclassed). "
                        f"Received: {model!r}")
    cache = {}  # one clone per original layer, so a layer used twice stays shared in the clone

    def clone(layer):
        if id(layer) not in cache:
            if isinstance(layer, Model) and (recursive or clone_function is None):
                new = clone_model(layer, clone_function=clone_function, recursive=recursive)
            elif clone_function is not None:
                new = clone_function(layer)
            else:
                new = type(layer).from_config(layer.get_config())
            if not hasattr(new, "build") or not hasattr(new, "trainable"):
                raise TypeError(f"clone_function must return a layer. For layer '{layer.name}' it "
                                f"returned: {new!r}")
            cache[id(layer)] = new
        return cache[id(layer)]

    if isinstance(model, Sequential):
        return _clone_sequential(model, input_tensors, call_function, clone)
    if isinstance(model, Functional):
        return _clone_functional(model, input_tensors, call_function, clone)
    if input_tensors is not None or call_function is not None:
        raise ValueError("input_tensors and call_function apply to Sequential and functional models; a "
                         f"subclassed model ('{model.name}') is cloned from its config.")
    return type(model).from_config(model.get_config())


def _clone_sequential(model, input_tensors, call_function, clone):
    if call_function is not None:
        raise ValueError("`call_function` is not supported with Sequential models: their layers "
                         "are listed, not called, when the model is made. Use `clone_function`. "
                         f"Received: call_function={call_function!r}")
    copy = Sequential(name=model.name, trainable=True)
    if input_tensors is not None:
        tensors = input_tensors if isinstance(input_tensors, (list, tuple)) else [input_tensors]
        if len(tensors) != 1 or not isinstance(tensors[0], KerasTensor):
            raise ValueError("input_tensors must be one `Input(shape=...)` (a Sequential model has one "
                             f"input). Received: {input_tensors!r}")
        copy.add(tensors[0], rebuild=False)
    elif model._input_shape is not None:
        copy.add(Input(batch_shape=model._input_shape), rebuild=False)
    for layer in model.layers:
        copy.add(clone(layer), rebuild=False)
    copy._maybe_rebuild()
    copy._trainable = model.trainable  # the flag only: each layer keeps the one in its config
    return copy


def _clone_functional(model, input_tensors, call_function, clone):
    if input_tensors is None:
        new_inputs = [Input(batch_shape=t.shape, name=t._keras_history.operation.name) for t in model.inputs]
    else:
        new_inputs = flatten(input_tensors)
        if len(new_inputs) != len(model.inputs) or not all(isinstance(t, KerasTensor) for t in new_inputs):
            raise ValueError(f"input_tensors must be {len(model.inputs)} `Input(...)` tensor(s), one per input "
                             f"of model '{model.name}'. Received: {input_tensors!r}")

    def layer_fn(layer):
        new = clone(layer)
        if call_function is None:
            return new
        return lambda *args, **kwargs: call_function(new, *args, **kwargs)

    outputs = model._plan.run(new_inputs, layer_fn=layer_fn)
    inputs = pack_like(model._inputs_struct, new_inputs) if isinstance(model._inputs_struct, (list, tuple, dict)) \
        else new_inputs[0]
    outputs = pack_like(model._outputs_struct, outputs) if isinstance(model._outputs_struct, (list, tuple, dict)) \
        else outputs[0]
    copy = Functional(inputs, outputs, name=model.name)
    copy._trainable = model.trainable
    return copy
