"""Reverse-mode autodiff over fastdnn's ops: a gradient tape.

Every op in `fastdnn.ops` computes its forward result natively and, when a tape is recording and
one of its inputs needs a gradient, records a node: its output, its inputs and a backward
function that maps the output's gradient to the inputs' gradients (each op's backward sits next
to its forward in fastdnn/ops/). `GradientTape.gradient` walks the nodes in reverse, summing the
gradients that reach each array. Arrays are identified by object identity; the tape keeps every
recorded array alive, so no identity is reused while it runs.

An input needs a gradient when it is watched (a trainable `Variable` is watched as soon as an op
reads it, as in Keras/TensorFlow) or when it was produced by a recorded node. Nodes whose inputs
need nothing are never recorded, so inference-time code and data-only branches cost nothing.

    >>> import numpy as np, fastdnn
    >>> w = fastdnn.Variable(np.ones((3, 2), np.float32))
    >>> with fastdnn.GradientTape() as tape:
    ...     loss = fastdnn.ops.sum(fastdnn.ops.matmul(np.ones((4, 3), np.float32), w))
    >>> tape.gradient(loss, [w])[0].shape
    (3, 2)
"""

import threading

import numpy as np

from ._dispatch import kernels, on_device

_state = threading.local()


def _tapes():
    stack = getattr(_state, "tapes", None)
    if stack is None:
        stack = _state.tapes = []
    return stack


def recording():
    """The innermost recording tape of this thread, or None."""
    stack = getattr(_state, "tapes", None)
    return stack[-1] if stack else None


def record(output, inputs, backward):
    """Records `output = op(*inputs)` on the active tapes where an input needs a gradient.

    Args:
        output: the op's result (an ndarray).
        inputs: the op's array inputs (ndarrays; Variables are passed as their `.value`).
        backward: fn(grad_output, needs) -> tuple with one gradient (or None) per input, where
            `needs[i]` says whether input i wants one.
    """
    stack = getattr(_state, "tapes", None)
    if not stack:
        return
    for tape in stack:  # every active tape records, as in TensorFlow
        watched, produced = tape._watched, tape._produced
        needs = tuple(id(x) in watched or id(x) in produced for x in inputs)
        if True in needs:
            tape._nodes.append((output, inputs, needs, backward))
            produced.add(id(output))


def note(output, key, value):
    """Attaches a fact about `output` to the active tape (e.g. the logits a softmax came from)."""
    tape = recording()
    if tape is not None and id(output) in tape._produced:
        tape._notes[(id(output), key)] = value


def lookup(output, key):
    """A fact attached to `output` with `note` on the active tape, or None."""
    tape = recording()
    return None if tape is None else tape._notes.get((id(output), key))


def _array_of(x):
    """A Variable's array (Variables mark themselves `_is_variable`), or `x` itself."""
    return x._value if getattr(type(x), "_is_variable", False) else x


class GradientTape:
    """Records fastdnn ops and computes gradients of a result with respect to chosen inputs.

    Args:
        persistent: allow more than one `gradient` call.
        watch_accessed_variables: watch every trainable Variable an op reads (default True).

    Example:
        >>> import numpy as np, fastdnn
        >>> x = np.array([1.0, 2.0], np.float32)
        >>> with fastdnn.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = fastdnn.ops.sum(fastdnn.ops.multiply(x, x))
        >>> tape.gradient(y, x)
        array([2., 4.], dtype=float32)
    """

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self.persistent = persistent
        self.watch_accessed_variables = watch_accessed_variables
        self._nodes = []
        self._produced = set()
        self._watched = set()
        self._keep = []
        self._notes = {}
        self._used = False

    def __enter__(self):
        _tapes().append(self)
        return self

    def __exit__(self, *exc):
        _tapes().remove(self)
        return False

    def watch(self, x):
        """Marks arrays or Variables (or a list of them) as sources to differentiate against."""
        for item in x if isinstance(x, (list, tuple)) else [x]:
            arr = _array_of(item)
            if not isinstance(arr, np.ndarray) and not on_device(arr):
                raise TypeError(f"GradientTape.watch expects arrays or Variables. Received: {type(item).__name__}")
            self._watched.add(id(arr))
            self._keep.append(arr)

    def _needs(self, x):
        key = id(x)
        return key in self._watched or key in self._produced

    def _watch_variables(self, variables):
        """watch() for a list of Variables, which keep their arrays alive themselves."""
        self._watched.update(id(v._value) for v in variables)

    def _watch_variable(self, var):
        if self.watch_accessed_variables and var.trainable:
            self._watched.add(id(var._value))

    def gradient(self, target, sources, output_gradients=None):
        """Gradients of `target` (summed over its elements) with respect to `sources`.

        Args:
            target: an array produced by recorded ops, or a list of them (their sum).
            sources: an array/Variable or a list of them.
            output_gradients: the gradient of each target (a list matching `target`, an entry
                None for ones), as TensorFlow's tape takes it: the gradients are then those of
                sum(target * output_gradient).

        Returns:
            One float32 array per source (None where the source does not affect the target),
            in the structure of `sources`.

        Raises:
            RuntimeError: if a non-persistent tape is asked twice.
            ValueError: for output gradients that do not match the targets.
        """
        if self._used and not self.persistent:
            raise RuntimeError("A non-persistent GradientTape can only compute gradients once; "
                               "use GradientTape(persistent=True) for more.")
        self._used = True
        single = not isinstance(sources, (list, tuple))
        keys = [id(_array_of(s)) for s in ([sources] if single else sources)]
        targets = list(target) if isinstance(target, (list, tuple)) else [target]
        seeds = [None] * len(targets) if output_gradients is None else \
            list(output_gradients) if isinstance(output_gradients, (list, tuple)) else [output_gradients]
        if len(seeds) != len(targets):
            raise ValueError(f"`output_gradients` needs one entry per target: {len(targets)} targets, "
                             f"{len(seeds)} output gradients.")
        grads = {}
        for t, seed in zip(targets, seeds):
            if not on_device(t):
                t = np.asarray(t)
            if seed is None:
                seed = kernels(t).ones(t.shape)
            elif not on_device(seed):
                seed = np.asarray(seed, np.float32)
                if seed.shape != t.shape:
                    raise ValueError(f"An output gradient of shape {seed.shape} for a target of shape {t.shape}; "
                                     "they must match.")
            prev = grads.get(id(t))
            grads[id(t)] = seed if prev is None else prev + seed
        for output, inputs, needs, backward in reversed(self._nodes):
            g = grads.get(id(output))
            if g is None:
                continue
            for x, need, gx in zip(inputs, needs, backward(g, needs)):
                if need and gx is not None:
                    key = id(x)
                    prev = grads.get(key)
                    grads[key] = gx if prev is None else prev + gx
        if not self.persistent:
            self._nodes, self._notes = [], {}
        out = [None if grads.get(k) is None else np.asarray(grads[k], np.float32)
               if type(grads[k]) is np.ndarray or not on_device(grads[k]) else grads[k] for k in keys]
        return out[0] if single else out
