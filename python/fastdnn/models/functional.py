"""The functional model: `Model(inputs, outputs)` on symbolic tensors, as Keras 3's Functional.

Inputs and outputs may be one tensor, a list or a dict; a layer called twice shares its weights
(a Siamese network); a model called on tensors is a layer of the new one; and intermediate
tensors may serve as inputs or outputs (`Model(model.inputs, model.layers[2].output)` reuses
pretrained lower layers). The graph is resolved once, here, into a plan (graph.py) that each
call runs.

Config (Keras 3's format, which `.keras` and `.h5` files hold):

    {"name", "trainable",
     "layers": [{"class_name", "config", "name",
                 "inbound_nodes": [{"args": [<tensor ref>...], "kwargs": {...}}, ...]}, ...],
     "input_layers": [[layer name, node index, tensor index], ...], "output_layers": [...]}
    tensor ref: {"class_name": "__keras_tensor__",
                 "config": {"shape", "dtype", "keras_history": [layer name, node index, tensor index]}}
"""

from .. import layers as layers_module
from .._registry import register_builtin
from ..layers.keras_tensor import KerasTensor, flatten, is_shape, map_structure, pack_like
from . import graph
from .model import Model


@register_builtin
class Functional(Model):
    """A model defined as a graph of layers from `inputs` to `outputs` (what `Model(inputs,
    outputs)` makes).

    Args:
        inputs: the input tensor(s) (`keras.Input(...)`, or tensors computed from them): one, a
            list or a dict.
        outputs: the output tensor(s): one, a list or a dict.
        name: the model's name.
        trainable: whether its layers are trained.

    Example:
        >>> import fastdnn as keras
        >>> left, right = keras.Input(shape=[4], name="left"), keras.Input(shape=[4], name="right")
        >>> shared = keras.layers.Dense(3, activation="relu", name="shared")
        >>> joined = keras.layers.concatenate([shared(left), shared(right)])
        >>> model = keras.Model([left, right], keras.layers.Dense(1, name="same")(joined))
        >>> [layer.name for layer in model.layers][-1], model.count_params()
        ('same', 22)

    Raises:
        ValueError: for inputs or outputs that are not symbolic tensors, a graph disconnected
            from the inputs, or repeated layer names; TypeError for other arguments.
    """

    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        Model.__init__(self, name=name, **kwargs)
        for what, value in (("inputs", inputs), ("outputs", outputs)):
            flat = flatten(value)
            if not flat:
                raise ValueError(f"`{what}` of a functional model cannot be empty. Received: {what}={value!r}")
            for x in flat:
                if not isinstance(x, KerasTensor):
                    raise ValueError(f"All `{what}` of a functional model must be symbolic tensors (from "
                                     f"keras.Input(...) or layers called on them). Received {x!r} of type "
                                     f"{type(x).__name__} in {what}.")
        if isinstance(inputs, dict):
            for key, tensor in inputs.items():
                if key != tensor.name:
                    raise ValueError(f"The keys of a dict of inputs must be the inputs' names: key '{key}' "
                                     f"maps to an input named '{tensor.name}'. Name it Input(..., name='{key}').")
        if not all(graph.is_input_tensor(t) for t in flatten(inputs)):
            inputs, outputs = graph.clone_graph_nodes(inputs, outputs)
        self._inputs_struct, self._outputs_struct = inputs, outputs
        self._inputs, self._outputs = flatten(inputs), flatten(outputs)
        nodes, self._nodes_by_depth, layers = graph.map_graph(self._inputs, self._outputs)
        self._graph_nodes = nodes
        self._node_ids = {id(n) for n in nodes}
        self._graph_layers = layers
        for layer in layers:
            self._track(layer)
        self._plan = graph.Plan(self._inputs, self._outputs, nodes)
        self.output_names = sorted(outputs) if isinstance(outputs, dict) else \
            [t._keras_history.operation.name for t in self._outputs]
        self._input_names = [t._keras_history.operation.name for t in self._inputs]
        self.built = True
        self._build_input_shape = None
        if not trainable:
            self.trainable = False

    # ---- structure ----------------------------------------------------------------------------

    @property
    def layers(self):
        """Every layer of the graph, InputLayers included, inputs first (Keras's order)."""
        return list(self._graph_layers)

    @property
    def inputs(self):
        """The flat list of the model's symbolic inputs."""
        return list(self._inputs)

    @property
    def outputs(self):
        """The flat list of the model's symbolic outputs."""
        return list(self._outputs)

    @property
    def input(self):
        """The inputs as given to the model (one tensor, a list or a dict)."""
        return self._inputs_struct[0] if isinstance(self._inputs_struct, list) and len(self._inputs_struct) == 1 \
            else self._inputs_struct

    @property
    def output(self):
        return self._outputs_struct[0] if isinstance(self._outputs_struct, list) and len(self._outputs_struct) == 1 \
            else self._outputs_struct

    @property
    def input_shape(self):
        shapes = [t.shape for t in self._inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        shapes = [t.shape for t in self._outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    def _known_output_names(self):
        return self.output_names

    def _chain_layers(self):
        if type(self).call is not Functional.call:
            return None
        graph = self._plan
        if len(graph.input_slots) != 1 or len(graph.output_slots) != 1:
            return None
        layers, slot = [], graph.input_slots[0]
        for layer, source, template, kwargs, fixed, targets in graph.steps:
            if template is not None or kwargs or fixed is not None or source != slot or len(targets) != 1:
                return None
            layers.append(layer)
            slot = targets[0]
        return layers if slot == graph.output_slots[0] else None

    def build(self, input_shape=None):
        self.built = True  # the graph was built when the model was made

    def get_build_config(self):
        return None  # the config holds the graph, shapes included

    def _maybe_build(self, inputs):
        self.built = True

    # ---- calling ------------------------------------------------------------------------------

    def call(self, inputs, training=None):
        outputs = self._plan.run(self._standardize_inputs(inputs), training)
        if isinstance(self._outputs_struct, (list, tuple, dict)):
            packed = pack_like(self._outputs_struct, outputs)
            return packed[0] if isinstance(packed, list) and len(packed) == 1 else packed
        return outputs[0]

    def _standardize_inputs(self, inputs):
        """`inputs` as a flat list in the order of `self.inputs`, checked against their shapes.

        Raises:
            ValueError: for a structure, key or shape that does not match the model's inputs.
        """
        expected = self._inputs
        names = self._input_names
        if isinstance(inputs, dict):
            missing = [n for n in names if n not in inputs]
            if missing:
                raise ValueError(f"Model '{self.name}' has inputs {names}; the dict of inputs lacks "
                                 f"{missing}. Received keys: {sorted(inputs)}")
            unknown = sorted(set(inputs) - set(names))
            if unknown:
                raise ValueError(f"{unknown} are not inputs of model '{self.name}' (its inputs are "
                                 f"{names}).")
            flat = [inputs[n] for n in names]
        elif isinstance(inputs, (list, tuple)):
            flat = list(inputs)
        else:
            flat = [inputs]
        if len(flat) != len(expected):
            raise ValueError(f"Model '{self.name}' expects {len(expected)} input(s) {names}, but it "
                             f"received {len(flat)}.")
        return [self._adjust_rank(x, ref, name) for x, ref, name in zip(flat, expected, names)]

    def _adjust_rank(self, x, ref, name):
        """x with the rank of input `ref` (a trailing axis of 1 dropped or added, as Keras), its
        sizes checked against the declared ones."""
        shape = ref.shape
        if x.ndim != len(shape):
            if x.ndim == len(shape) + 1 and x.shape[-1] == 1:
                x = x.reshape(x.shape[:-1])
            elif x.ndim == len(shape) - 1 and shape[-1] == 1:
                x = x.reshape(x.shape + (1,))
        if x.ndim != len(shape) or any(d is not None and d != n for d, n in zip(shape[1:], x.shape[1:])):
            raise ValueError(f"Input '{name}' of model '{self.name}' expects shape {shape}, but it received "
                             f"an array of shape {tuple(x.shape)}.")
        return x

    def compute_output_shape(self, input_shape):
        given = [input_shape] if is_shape(input_shape) else flatten_shapes(input_shape)
        if len(given) == len(self._inputs) and all(
                len(g) == len(t.shape) and all(a is None or b is None or a == b for a, b in zip(g[1:], t.shape[1:]))
                for g, t in zip(given, self._inputs)):
            batch = given[0][0] if given else None
            shapes = [(batch,) + tuple(t.shape[1:]) for t in self._outputs]
            if isinstance(self._outputs_struct, (list, tuple, dict)):
                packed = pack_like(self._outputs_struct, shapes)
                return packed[0] if isinstance(packed, list) and len(packed) == 1 else packed
            return shapes[0]
        return self._probe_output_shape(input_shape)

    # ---- config -------------------------------------------------------------------------------

    def get_config(self):
        """Keras 3's functional config (see the module docstring)."""
        if not _functional_like_constructor(type(self)):
            return Model.get_config(self)
        kept = {}  # (id(layer), node index) -> its index among the layer's nodes in this graph
        for layer in self._graph_layers:
            count = 1 if isinstance(layer, Functional) else 0  # Keras counts a model's own node
            for i, node in enumerate(layer._inbound_nodes):
                if id(node) in self._node_ids:
                    kept[(id(layer), i)] = count
                    count += 1
        entries = []
        for layer in self._graph_layers:
            inbound = [self._serialize_node(node) for node in layer._inbound_nodes
                       if id(node) in self._node_ids and not node.is_input]
            entry = layers_module.serialize(layer)
            entry["name"] = layer.name
            entry["inbound_nodes"] = inbound
            entries.append(entry)

        def ref(tensor):
            layer, index, tensor_index = tensor._keras_history
            return [layer.name, kept[(id(layer), index)], tensor_index]

        return {"name": self.name, "trainable": self.trainable, "layers": entries,
                "input_layers": _refs(self._inputs_struct, ref),
                "output_layers": _refs(self._outputs_struct, ref)}

    def _serialize_node(self, node):
        def tensor_config(x):
            if not isinstance(x, KerasTensor):
                return x
            layer, index, tensor_index = x._keras_history
            skipped = sum(1 for n in layer._inbound_nodes[:index] if id(n) not in self._node_ids)
            return {"class_name": "__keras_tensor__",
                    "config": {"shape": list(x.shape), "dtype": x.dtype,
                               "keras_history": [layer.name, index - skipped, tensor_index]}}

        args = _to_lists(map_structure(tensor_config, node.call_args))
        kwargs = map_structure(tensor_config, node.call_kwargs)
        return {"args": args, "kwargs": kwargs}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Rebuilds the model from `get_config()`'s output (or a Keras 3 or Keras 2 functional
        config), calling each layer on its inbound tensors again.

        Raises:
            ValueError: for a malformed config or a graph that cannot be rebuilt.
        """
        return functional_from_config(cls, config, custom_objects)

    @staticmethod
    def rebuild(cls, config, custom_objects=None):
        """A model of class `cls` from a functional config (what `Model.from_config` uses)."""
        return functional_from_config(cls, config, custom_objects)


def _functional_like_constructor(cls):
    """Whether `cls` is made from (inputs, outputs), so its config is the graph (Keras's rule)."""
    import inspect
    if cls is Functional:
        return True
    params = [p for p in inspect.signature(cls.__init__).parameters.values()][1:]
    names = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.POSITIONAL_ONLY)]
    if names[:2] == ["inputs", "outputs"]:
        return True
    kinds = {p.kind for p in params}
    return inspect.Parameter.VAR_POSITIONAL in kinds and inspect.Parameter.VAR_KEYWORD in kinds


def flatten_shapes(shapes):
    if is_shape(shapes):
        return [tuple(shapes)]
    if isinstance(shapes, dict):
        return [s for k in sorted(shapes) for s in flatten_shapes(shapes[k])]
    return [s for item in shapes for s in flatten_shapes(item)]


def _refs(structure, ref):
    if isinstance(structure, dict):
        return {k: _refs(v, ref) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        return [_refs(v, ref) for v in structure]
    return ref(structure)


def _to_lists(value):
    """Tuples as lists (JSON has no tuples)."""
    if isinstance(value, (list, tuple)):
        return [_to_lists(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_lists(v) for k, v in value.items()}
    return value


def functional_from_config(cls, config, custom_objects=None):
    """A functional model (of class `cls`) from its config, as Keras's functional_from_config:
    make every layer, then call each on its inbound tensors, in rounds, until every node exists.

    Raises:
        ValueError: for a malformed config, an unknown layer, or nodes that can never be made.
    """
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise ValueError(f"A functional model config needs a list of 'layers'. Received: {config!r:.200}")
    config = dict(config)
    created, pending, order = {}, {}, []
    for entry in config.pop("layers"):
        if not isinstance(entry, dict):
            raise ValueError(f"A layer entry of a functional config must be a dict. Received: {entry!r:.200}")
        name = entry.get("name") or (entry.get("config") or {}).get("name")
        layer = layers_module.deserialize({k: v for k, v in entry.items() if k != "inbound_nodes"},
                                          custom_objects)
        if name in created:
            raise ValueError(f"The functional config names two layers '{name}'.")
        created[name] = layer
        order.append(name)
        nodes = entry.get("inbound_nodes") or []
        if not isinstance(nodes, list):
            raise ValueError(f"The inbound nodes of layer '{name}' must be a list. Received: {nodes!r:.200}")
        pending[name] = list(nodes)
    while any(pending.values()):
        progress = False
        for name in order:
            layer, queue = created[name], pending[name]
            while queue:
                try:
                    args, kwargs = _deserialize_node(queue[0], created)
                except IndexError:
                    break
                layer(*args, **kwargs)
                queue.pop(0)
                progress = True
        if not progress:
            stuck = {name: len(q) for name, q in pending.items() if q}
            raise ValueError("Invalid functional model config: its graph has loops or nodes that refer to "
                             f"layers or calls that do not exist (unresolved calls per layer: {stuck}).")

    def tensor(ref):
        if not (isinstance(ref, (list, tuple)) and len(ref) >= 3 and isinstance(ref[0], str)):
            raise ValueError(f"A tensor reference of a functional config is [layer, node, tensor]. Received: {ref!r}")
        layer_name, node_index, tensor_index = ref[0], int(ref[1]), int(ref[2])
        if layer_name not in created:
            raise ValueError(f"The functional config refers to an unknown layer '{layer_name}'.")
        layer = created[layer_name]
        if isinstance(layer, Functional):
            node_index -= 1  # Keras counts a functional model's own node first
        nodes = layer._inbound_nodes
        if not 0 <= node_index < len(nodes) or not 0 <= tensor_index < len(nodes[node_index].outputs):
            raise ValueError(f"The functional config refers to call {node_index} of layer '{layer_name}', "
                             "which does not exist.")
        return nodes[node_index].outputs[tensor_index]

    def tensors(refs):
        if isinstance(refs, dict):
            return {k: tensors(v) for k, v in refs.items()}
        if isinstance(refs, (list, tuple)) and refs and isinstance(refs[0], str):
            return tensor(refs)
        return [tensors(v) for v in refs]

    inputs, outputs = tensors(config.pop("input_layers")), tensors(config.pop("output_layers"))
    name, trainable = config.pop("name", None), config.pop("trainable", True)
    return cls(inputs=inputs, outputs=outputs, name=name, trainable=trainable)


def _deserialize_node(data, created):
    """(args, kwargs) of one inbound call; IndexError while a tensor it takes does not exist yet."""
    if not data:
        return [], {}
    if isinstance(data, list):  # Keras 2 (legacy .h5): [[layer, node, tensor, kwargs], ...]
        tensors, kwargs = [], {}
        for item in data:
            if not isinstance(item, list) or len(item) not in (3, 4) or item[0] not in created:
                raise ValueError(f"Invalid inbound node in a functional config: {item!r:.200}")
            nodes = created[item[0]]._inbound_nodes
            if len(nodes) <= item[1]:
                raise IndexError(item[1])
            tensors.append(nodes[item[1]].outputs[item[2]])
            if len(item) == 4:
                kwargs = dict(item[3] or {})
        return [tensors[0] if len(tensors) == 1 else tensors], _clean_kwargs(kwargs)
    if not isinstance(data, dict):
        raise ValueError(f"Invalid inbound node in a functional config: {data!r:.200}")

    def revive(value):
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            history = (value.get("config") or {}).get("keras_history")
            if not (isinstance(history, list) and len(history) == 3 and history[0] in created):
                raise ValueError(f"Invalid tensor reference in a functional config: {value!r:.200}")
            nodes = created[history[0]]._inbound_nodes
            if len(nodes) <= history[1]:
                raise IndexError(history[1])
            return nodes[history[1]].outputs[history[2]]
        if isinstance(value, dict):
            return {k: revive(v) for k, v in value.items()}
        if isinstance(value, list):
            return [revive(v) for v in value]
        return value

    args = revive(data.get("args") or [])
    kwargs = revive(data.get("kwargs") or {})
    return list(args), _clean_kwargs(kwargs)


def _clean_kwargs(kwargs):
    """Call arguments Keras records that fastdnn's layers do not take (a None mask)."""
    return {k: v for k, v in kwargs.items() if not (k == "mask" and v is None)}


Model._functional_class = Functional
