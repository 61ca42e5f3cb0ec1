"""`model.summary()`: Keras 3's table of layers, output shapes and parameter counts.

A model whose graph is a plain chain gets three columns; any other graph (several inputs or
outputs, merges, shared layers) also gets Keras's "Connected to" column, which names each
layer's inbound tensors as `layer[node][tensor]`. Cells too long for their column wrap.
"""

import textwrap

_CHAIN_WIDTHS = (33, 26, 15)
_GRAPH_WIDTHS = (21, 19, 12, 19)


def _size(n):
    return f"{n * 4 / 1024:.2f} KB" if n * 4 < 1024 ** 2 else f"{n * 4 / 1024 ** 2:.2f} MB"


def _format_shape(shape):
    if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple)):
        return "[" + ", ".join(_format_shape(s) for s in shape) + "]"
    return str(tuple(shape))


def _wrap(text, width):
    return textwrap.wrap(text, width=width, break_long_words=True, break_on_hyphens=False) or [""]


def _rows(cells, widths, sep="│"):
    """The lines of one table row, each cell wrapped to its column (the third right-aligned)."""
    wrapped = [_wrap(str(c), w - 2) for c, w in zip(cells, widths)]
    height = max(len(w) for w in wrapped)
    lines = []
    for k in range(height):
        parts = []
        for i, (lines_i, w) in enumerate(zip(wrapped, widths)):
            text = lines_i[k] if k < len(lines_i) else ""
            parts.append(f" {text:>{w - 2}} " if i == 2 else f" {text:<{w - 2}} ")
        lines.append(sep + sep.join(parts) + sep)
    return lines


def _graph_nodes(model):
    """The nodes of a functional model's graph (empty for other models)."""
    return getattr(model, "_graph_nodes", None) or []


def _is_chain(model):
    """Keras's "sequential-like" test: one node per depth with at most one input, and no layer
    called twice in the graph."""
    nodes = _graph_nodes(model)
    if not nodes:
        return True
    for depth_nodes in model._nodes_by_depth.values():
        if len(depth_nodes) > 1 or len(depth_nodes[0].input_tensors) > 1:
            return False
    owners = [id(node.operation) for node in nodes]
    return len(owners) == len(set(owners))


def _output_shape(model, layer, index):
    shapes = getattr(model, "_output_shapes", None)
    if shapes is not None and hasattr(model, "_input_tensor"):  # a Sequential
        return _format_shape(shapes[index]) if model.built and index < len(shapes) else "?"
    own = [n for n in layer._inbound_nodes if id(n) in getattr(model, "_node_ids", ())]
    if own:
        outputs = [t.shape for t in own[-1].outputs]
        return _format_shape(outputs[0] if len(outputs) == 1 else outputs)
    built_for = getattr(layer, "_build_input_shape", None)
    if built_for is not None and not layer._sublayers:
        try:
            return _format_shape(layer.compute_output_shape(built_for))
        except Exception:  # noqa: BLE001 - a summary shows "?" where a layer cannot say
            return "?"
    return "?"


def _connections(model, layer):
    refs = []
    for node in layer._inbound_nodes:
        if id(node) not in model._node_ids:
            continue
        for tensor in node.input_tensors:
            source, node_index, tensor_index = tensor._keras_history
            refs.append(f"{source.name}[{node_index}][{tensor_index}]")
    return ", ".join(refs) or "-"


def print_summary(model, line_length=None, print_fn=None):
    """Prints the summary of `model` (see the module docstring) through `print_fn` (print)."""
    print_fn = print_fn or print
    if not model.built and getattr(model, "_input_shape", None) is not None:
        model.build(model._input_shape)
    chain = _is_chain(model)
    widths = _CHAIN_WIDTHS if chain else _GRAPH_WIDTHS
    if line_length and line_length > sum(widths) + len(widths) + 1:
        extra = line_length - (sum(widths) + len(widths) + 1)
        widths = tuple(w + extra * w // sum(widths) for w in widths)
    line = lambda left, mid, right, fill: left + mid.join(fill * w for w in widths) + right  # noqa: E731
    header = ["Layer (type)", "Output Shape", "Param #"] + ([] if chain else ["Connected to"])
    print_fn(f'Model: "{model.name}"')
    print_fn(line("┏", "┳", "┓", "━"))
    for text in _rows(header, widths, "┃"):
        print_fn(text)
    print_fn(line("┡", "╇", "┩", "━"))
    layers = model.layers
    for i, layer in enumerate(layers):
        params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
        cells = [f"{layer.name} ({type(layer).__name__})", _output_shape(model, layer, i), params]
        if not chain:
            cells.append(_connections(model, layer))
        for text in _rows(cells, widths):
            print_fn(text)
        if i < len(layers) - 1:
            print_fn(line("├", "┼", "┤", "─"))
    print_fn(line("└", "┴", "┘", "─"))
    total = sum(w.size for w in model.weights)
    trainable = sum(w.size for w in model.trainable_weights)
    print_fn(f" Total params: {total:,} ({_size(total)})")
    print_fn(f" Trainable params: {trainable:,} ({_size(trainable)})")
    print_fn(f" Non-trainable params: {total - trainable:,} ({_size(total - trainable)})")
