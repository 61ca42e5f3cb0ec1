"""The graph of a functional model: found once, when the model is made, and run as a flat plan.

`map_graph(inputs, outputs)` walks back from the outputs through the tensors' histories
(layers/keras_tensor.py) to the inputs, sorting the calls (nodes) so that each comes after the
ones it takes from, and checks that every output is computed from the given inputs alone.
`Plan` turns the sorted nodes into a list of steps over numbered slots; running the model is a
loop over those steps, with no graph walked per batch:

    values[input slots] = inputs
    for layer, source, template, kwargs, training, targets in steps:
        values[targets] = layer(values[source] or template filled in, training=..., **kwargs)
"""

import collections

from ..layers.input_layer import Input, InputLayer
from ..layers.keras_tensor import KerasTensor, Node, flatten, is_nested, map_structure, pack_like


def is_input_tensor(tensor):
    """Whether `tensor` is the output of an InputLayer (made by `Input`)."""
    history = getattr(tensor, "_keras_history", None)
    return history is not None and isinstance(history.operation, InputLayer)


def node_of(tensor):
    history = tensor._keras_history
    return history.operation._inbound_nodes[history.node_index]


def build_map(inputs, outputs):
    """The nodes between `inputs` and `outputs`, each after the nodes it takes from, and the
    order in which each layer was first reached (walking back from the outputs).

    Raises:
        ValueError: for a cycle, or a tensor with no history.
    """
    declared = {id(t) for t in inputs}
    finished, in_progress, ordered, first_seen = set(), set(), [], {}

    def visit(tensor):
        history = getattr(tensor, "_keras_history", None)
        if history is None:
            raise ValueError(f"{tensor!r} was not made by a layer: a model's tensors come from "
                             "`keras.Input(...)` and from layers called on them.")
        node = node_of(tensor)
        if id(node) in finished:
            return
        if id(tensor) in declared and not node.is_input:  # an intermediate tensor given as an input
            finished.add(id(node))
            return
        if id(node) in in_progress:
            raise ValueError(f"Tensor {tensor!r} from layer '{history.operation.name}' is part of a cycle.")
        first_seen.setdefault(id(history.operation), len(first_seen))
        in_progress.add(id(node))
        for parent in node.input_tensors:
            visit(parent)
        in_progress.discard(id(node))
        finished.add(id(node))
        ordered.append(node)

    for output in outputs:
        visit(output)
    return ordered, first_seen


def map_graph(inputs, outputs):
    """The graph from `inputs` to `outputs`: (nodes in run order, nodes by depth, layers).

    Layers are ordered as Keras orders `model.layers`: by depth (inputs first), then by when the
    walk from the outputs first reached them. Inputs that no output uses are kept, as in Keras.

    Raises:
        ValueError: naming the layer and tensor at fault, for an output that needs an input not
            in `inputs`, or repeated layer names.
    """
    nodes, first_seen = build_map(inputs, outputs)
    member = {id(n) for n in nodes}
    depth_of, layer_depth = {}, {}
    for node in reversed(nodes):
        depth = max(depth_of.get(id(node), 0), layer_depth.get(id(node.operation), 0))
        depth_of[id(node)] = layer_depth[id(node.operation)] = depth
        for parent in node.parent_nodes:
            if id(parent) in member:
                depth_of[id(parent)] = max(depth + 1, depth_of.get(id(parent), 0))
    for tensor in inputs:  # unused inputs
        node = node_of(tensor)
        if node.is_input and id(node) not in member:
            member.add(id(node))
            nodes.insert(0, node)
            depth_of[id(node)] = layer_depth[id(node.operation)] = 0
            first_seen.setdefault(id(node.operation), -1)
    by_depth = collections.defaultdict(list)
    for node in nodes:
        by_depth[depth_of[id(node)]].append(node)
    layers_by_depth = collections.defaultdict(list)
    seen = set()
    for node in nodes:
        if id(node.operation) not in seen:
            seen.add(id(node.operation))
            layers_by_depth[layer_depth[id(node.operation)]].append(node.operation)
    layers = []
    for depth in sorted(layers_by_depth, reverse=True):
        layers += sorted(layers_by_depth[depth], key=lambda layer: first_seen[id(layer)])
    _check_computable(inputs, outputs, nodes)
    names = [layer.name for layer in layers]
    for name in names:
        if names.count(name) > 1:
            raise ValueError(f'The name "{name}" is used {names.count(name)} times in the model. All '
                             "layer names should be unique.")
    return nodes, dict(by_depth), layers


def _check_computable(inputs, outputs, nodes):
    known = {id(t) for t in inputs}
    reached = []
    for node in nodes:
        if node.is_input:
            tensor = node.outputs[0]
            if id(tensor) not in known:
                used_by = [n.operation.name for n in nodes if any(t is tensor for t in n.input_tensors)]
                raise ValueError(
                    f"Graph disconnected: the outputs depend on the input '{node.operation.name}' "
                    f"({tensor!r}, used by layer(s) {used_by}), which is not among the model's "
                    "inputs. Pass it in `inputs`, or compute the outputs from the given inputs.")
            continue
        for tensor in node.input_tensors:
            if id(tensor) not in known:
                raise ValueError(f"Graph disconnected: cannot find parent for tensor {tensor!r} at layer "
                                 f"'{node.operation.name}'. The layers reached before it: {reached}.")
        reached.append(node.operation.name)
        known.update(id(t) for t in node.outputs)
    for tensor in outputs:
        if id(tensor) not in known:
            raise ValueError(f"Output {tensor!r} is not connected to the model's inputs.")


def clone_graph_nodes(inputs, outputs):
    """New inputs and outputs for a model whose `inputs` include intermediate tensors: each
    becomes a new `Input` of its shape, and the calls between them and the outputs are recorded
    again from there (same layers, new nodes), as Keras does."""
    nodes, _ = build_map(flatten(inputs), flatten(outputs))
    mapping = {}
    for tensor in flatten(inputs):
        if is_input_tensor(tensor):
            mapping[id(tensor)] = tensor
        else:
            mapping[id(tensor)] = Input(batch_shape=tensor.shape, name=f"{tensor.name}CLONE")
    for node in nodes:
        if node.is_input or all(id(t) in mapping for t in node.outputs):
            continue
        swap = lambda t: mapping.get(id(t), t) if isinstance(t, KerasTensor) else t  # noqa: E731
        args = map_structure(swap, node.call_args)
        kwargs = map_structure(swap, node.call_kwargs)
        new_outputs = [KerasTensor(t.shape, t.dtype, t.name) for t in node.outputs]
        for old, new in zip(node.outputs, new_outputs):
            mapping[id(old)] = new
        Node(node.operation, args, kwargs, new_outputs)
    return map_structure(lambda t: mapping[id(t)], inputs), map_structure(lambda t: mapping[id(t)], outputs)


class _Slot:
    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index


class Plan:
    """The steps that run a graph: each node's layer, where its inputs are and where its outputs
    go, in run order.

    Args:
        inputs: the graph's flat input tensors.
        outputs: the graph's flat output tensors.
        nodes: the nodes in run order (from `map_graph`).
    """

    def __init__(self, inputs, outputs, nodes):
        slots = {}
        for tensor in inputs:
            slots.setdefault(id(tensor), len(slots))
        self.input_slots = [slots[id(t)] for t in inputs]
        self.steps = []
        for node in nodes:
            if node.is_input or all(id(t) in slots for t in node.outputs):
                continue
            kwargs = dict(node.call_kwargs)
            training = kwargs.pop("training", None)
            args = node.call_args
            if len(args) == 1 and isinstance(args[0], KerasTensor) and not any(
                    isinstance(v, KerasTensor) for v in flatten(kwargs)):
                source, template = slots[id(args[0])], None
            else:
                source = None
                template = map_structure(lambda t: _Slot(slots[id(t)]) if isinstance(t, KerasTensor) else t,
                                         (args, kwargs))
            targets = []
            for tensor in node.outputs:
                slots[id(tensor)] = len(slots)
                targets.append(slots[id(tensor)])
            self.steps.append((node.operation, source, template, kwargs, training, targets))
        self.output_slots = [slots[id(t)] for t in outputs]
        self.size = len(slots)

    def run(self, flat_inputs, training=None, layer_fn=None):
        """The flat outputs for `flat_inputs` (one array, or symbolic tensor, per graph input);
        `layer_fn(layer)` may substitute the layer each step calls (cloning does)."""
        values = [None] * self.size
        for slot, value in zip(self.input_slots, flat_inputs):
            values[slot] = value
        for layer, source, template, kwargs, fixed, targets in self.steps:
            if layer_fn is not None:
                layer = layer_fn(layer)
            flag = training if fixed is None else fixed
            if template is None:
                out = layer(values[source], training=flag, **kwargs)
            else:
                args, extra = _fill(template, values)
                out = layer(*args, training=flag, **{**kwargs, **extra})
            if len(targets) == 1:
                values[targets[0]] = out[0] if is_nested(out) and len(flatten(out)) == 1 else out
            else:
                for slot, value in zip(targets, flatten(out)):
                    values[slot] = value
        return [values[slot] for slot in self.output_slots]


def _fill(template, values):
    flat = [values[leaf.index] if isinstance(leaf, _Slot) else leaf for leaf in flatten(template)]
    return pack_like(template, flat)
