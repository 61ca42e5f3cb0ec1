"""Symbolic tensors and the call records that link them: the functional API's graph.

`Input(shape=...)` returns a `KerasTensor`: a shape and a dtype, no data. Calling a layer on
KerasTensors builds the layer for their shapes and returns new KerasTensors of its output
shape; the call is recorded as a `Node` (the layer, its arguments, its outputs). Each tensor's
`_keras_history` names the node that made it, so the graph from any output back to the inputs
can be walked, as in Keras 3:

    tensor._keras_history = (layer, node_index, tensor_index)
        layer._inbound_nodes[node_index].outputs[tensor_index] is tensor

Nested structures (a tensor, a list, a tuple or a dict of them) are handled by `flatten` and
`pack_like`, in Keras's order (dicts by sorted key).
"""

import collections


class KerasHistory(collections.namedtuple("KerasHistory", ["operation", "node_index", "tensor_index"])):
    """The layer call that produced a KerasTensor: `operation._inbound_nodes[node_index]`,
    output number `tensor_index`."""

    __slots__ = ()

    @property
    def layer(self):
        return self.operation


class KerasTensor:
    """A symbolic tensor: a shape (batch dimension first, None where unknown) and a dtype.

    Example:
        >>> import fastdnn
        >>> x = fastdnn.Input(shape=[28, 28])
        >>> x.shape, x.dtype
        ((None, 28, 28), 'float32')
    """

    def __init__(self, shape, dtype="float32", name=None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = dtype
        self.name = name

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        source = getattr(self, "_keras_history", None)
        made_by = f", made by layer '{source.operation.name}'" if source else ""
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}{made_by}>"

    def _no_math(self, *args):
        raise TypeError(
            f"{self!r} is symbolic: it has a shape but no values, so it cannot be used in "
            "arithmetic or passed to NumPy or fastdnn.ops directly. Combine symbolic tensors with "
            "layers: keras.layers.Add, Subtract, Multiply, Concatenate, Dot (or their functional "
            "forms keras.layers.add, ...), or wrap the computation in a custom Layer.")

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _no_math
    __truediv__ = __rtruediv__ = __matmul__ = __rmatmul__ = __neg__ = __pow__ = _no_math
    __array__ = __float__ = __bool__ = _no_math
    __hash__ = object.__hash__


class Node:
    """One call of a layer on symbolic tensors: `outputs = operation(*call_args, **call_kwargs)`.

    Creating a Node appends it to `operation._inbound_nodes` and sets `_keras_history` on the
    outputs.

    Args:
        operation: the layer that was called.
        call_args: the positional arguments (structures holding KerasTensors).
        call_kwargs: the keyword arguments.
        outputs: the output KerasTensors (a structure).
    """

    def __init__(self, operation, call_args=(), call_kwargs=None, outputs=None):
        self.operation = operation
        self.call_args = tuple(call_args)
        self.call_kwargs = dict(call_kwargs or {})
        self.outputs = flatten(outputs) if outputs is not None else []
        self.input_tensors = [x for x in flatten((self.call_args, self.call_kwargs))
                              if isinstance(x, KerasTensor)]
        operation._inbound_nodes.append(self)
        index = len(operation._inbound_nodes) - 1
        for i, tensor in enumerate(self.outputs):
            tensor._keras_history = KerasHistory(operation, index, i)
        self.is_input = not self.input_tensors

    @property
    def output_tensors(self):
        return self.outputs

    @property
    def parent_nodes(self):
        """The nodes whose outputs this one takes."""
        return [t._keras_history.operation._inbound_nodes[t._keras_history.node_index]
                for t in self.input_tensors]

    def __repr__(self):
        return f"<Node operation={self.operation.name}, inputs={len(self.input_tensors)}>"


# ---- nested structures ---------------------------------------------------------------------------

def is_nested(x):
    return isinstance(x, (list, tuple, dict))


def flatten(structure):
    """The leaves of a nested list/tuple/dict structure, dicts in sorted-key order."""
    if isinstance(structure, dict):
        return [leaf for key in sorted(structure) for leaf in flatten(structure[key])]
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    return [structure]


def pack_like(structure, flat):
    """`flat` (a list of leaves) arranged as `structure`."""
    leaves = iter(flat)

    def pack(s):
        if isinstance(s, dict):
            packed = {key: pack(s[key]) for key in sorted(s)}
            return {key: packed[key] for key in s}  # the structure's own key order
        if isinstance(s, (list, tuple)):
            return type(s)(pack(item) for item in s) if type(s) in (list, tuple) else \
                type(s)(*[pack(item) for item in s])
        return next(leaves)

    return pack(structure)


def map_structure(fn, structure):
    """`structure` with `fn` applied to every leaf."""
    return pack_like(structure, [fn(leaf) for leaf in flatten(structure)])


def any_symbolic(x):
    """Whether `x` is a KerasTensor or a list/tuple/dict holding one."""
    if isinstance(x, KerasTensor):
        return True
    if isinstance(x, dict):
        return any(any_symbolic(v) for v in x.values())
    if isinstance(x, (list, tuple)):
        return any(any_symbolic(v) for v in x)
    return False


def is_shape(x):
    """Whether `x` is one shape (a tuple/list of ints and None) rather than a structure of them."""
    return isinstance(x, (tuple, list)) and all(d is None or isinstance(d, int) and not isinstance(d, bool)
                                                for d in x)


def map_shapes(fn, shapes):
    """`fn` applied to each shape of a structure of shapes."""
    if is_shape(shapes):
        return fn(tuple(shapes))
    if isinstance(shapes, dict):
        return {k: map_shapes(fn, v) for k, v in shapes.items()}
    return type(shapes)(map_shapes(fn, s) for s in shapes)
