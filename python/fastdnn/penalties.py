"""Regularization penalties and weight constraints in training, as Keras applies them.

The training loss is the data loss plus every penalty: the weight regularizers of the model's
variables (`Variable.regularizer`) and the activity regularizers of its layers (the penalty of
each layer's latest output). A training step then runs, around the optimizer update:

    p = plan(model, variables)                     # built once per variable list
    loss = on_tape(p, data_loss)                   # on the tape: activity penalties and
                                                   # regularizers other than L1/L2/L1L2
    penalty = add_gradients(p, grads)              # one native call: grads += l1·sign(w)
                                                   # + 2·l2·w, returns Σ penalties
    optimizer.apply_gradients(...)
    constrain(p)                                   # one native call: every constraint

A model without regularizers or constraints gets a plan whose `active` is False, and its
training step skips the three calls.

`model_losses(model)` lists the current penalties, one per regularizer (`model.losses`).
Natively: csrc/penalties/ (fast float32 kernels beside a float64 reference), and
csrc/cuda/penalty.cu for a model on the GPU (`kernels` picks one, by where the weights are).
"""

import operator

import numpy as np

from . import ops
from ._dispatch import kernels, on_device


def _sublayers(model):
    """Every layer inside a model or layer (itself included), nested ones flattened, each once."""
    flatten = getattr(model, "_flatten_layers", None)
    return flatten() if flatten is not None else []


class _Plan:
    """What a model's penalties and constraints need each step, built once per variable list."""

    def __init__(self, model, variables):
        self.variables = list(variables)
        self.activity_layers = [layer for layer in _sublayers(model)
                                if getattr(layer, "activity_regularizer", None) is not None]
        trainable = {id(v) for v in variables}
        self.native_index, self.native_params, self.l1, self.l2 = [], [], [], []
        self.tape = []  # (variable, regularizer) differentiated on the tape
        self.frozen = []  # (variable, regularizer) of weights no gradient reaches
        self.constrained, self.specs, self.python_constraints = [], [], []
        for i, var in enumerate(variables):
            reg = getattr(var, "regularizer", None)
            factors = _native_factors(reg)
            if factors is not None:
                self.native_index.append(i)
                self.native_params.append(var._value)
                self.l1.append(factors[0])
                self.l2.append(factors[1])
            elif reg is not None:
                self.tape.append((var, reg))
            constraint = getattr(var, "constraint", None)
            spec = constraint.native_spec(var.shape) if hasattr(constraint, "native_spec") else None
            if spec is not None:
                self.constrained.append(var._value)
                self.specs.append(spec)
            elif constraint is not None:
                self.python_constraints.append((var, constraint))
        for var in getattr(model, "weights", ()):
            if id(var) not in trainable and getattr(var, "regularizer", None) is not None:
                self.frozen.append((var, var.regularizer))
        self.active = bool(self.activity_layers or self.native_index or self.tape or self.frozen
                           or self.constrained or self.python_constraints)


def _native_factors(reg):
    method = getattr(reg, "native_factors", None)
    return method() if method is not None else None


def plan(model, variables):
    """The model's plan for this list of trainable variables (rebuilt when the list changes)."""
    p = getattr(model, "_penalty_plan", None)
    if p is None or len(p.variables) != len(variables) or not all(
            map(operator.is_, p.variables, variables)):
        p = model._penalty_plan = _Plan(model, variables)
    return p


def on_tape(plan, loss, every=False):
    """`loss` plus the penalties differentiated on the tape: the activity regularizers' (of the
    forward pass just recorded) and those of weight regularizers without a native form; with
    `every`, the L1/L2 ones and the frozen weights' too (for a training step written by the
    user, which adds no native gradients)."""
    for layer in plan.activity_layers:
        for penalty in getattr(layer, "_activity_losses", ()):
            loss = ops.add(loss, penalty)
    for var, reg in plan.tape:
        loss = ops.add(loss, reg(var.value))
    if every:
        for i in plan.native_index:
            var = plan.variables[i]
            loss = ops.add(loss, var.regularizer(var.value))
        if plan.frozen:
            loss = ops.add(loss, np.array(_value(plan.frozen), np.float32))
    return loss


def add_gradients(plan, grads):
    """Adds l1·sign(w) + 2·l2·w of every L1/L2/L1L2-regularized variable into its gradient in
    `grads` (in place; a missing or shared gradient is replaced by a fresh array) with one native
    call, and returns the sum of those penalties and of the frozen weights' penalties."""
    total = 0.0
    if plan.native_index:
        k = kernels(*plan.native_params)
        seen = set()
        for i in plan.native_index:
            g = grads[i]
            if g is None:
                g = k.contiguous(np.zeros(plan.variables[i].shape, np.float32))
            elif on_device(g):
                if id(g) in seen:
                    g = g.copy()
            elif (type(g) is not np.ndarray or g.dtype != np.float32 or not g.flags.c_contiguous
                  or not g.flags.writeable or id(g) in seen):
                g = np.array(g, dtype=np.float32, order="C")
            seen.add(id(g))
            grads[i] = g
        total = k.weight_penalty(plan.native_params, [grads[i] for i in plan.native_index],
                                 plan.l1, plan.l2)
    if plan.frozen:
        total += _value(plan.frozen)
    return total


def constrain(plan):
    """Applies every variable's constraint in place: the native ones in one call, then any
    other callable constraint in Python."""
    if plan.constrained:
        kernels(*plan.constrained).apply_constraints(plan.constrained, plan.specs)
    for var, constraint in plan.python_constraints:
        var.assign(constraint(var._value))


def _value(pairs):
    """The summed penalty of (variable, regularizer) pairs, the L1/L2 ones in one native call."""
    native = [(v._value, _native_factors(r)) for v, r in pairs if _native_factors(r) is not None]
    total = 0.0
    if native:
        weights = [w for w, _ in native]
        total = kernels(*weights).weight_penalty(weights, None, [f[0] for _, f in native],
                                                 [f[1] for _, f in native])
    return total + sum(float(r(v._value)) for v, r in pairs if _native_factors(r) is None)


def current(model):
    """The current total penalty (weights now, activity of the latest forward pass): what
    `evaluate` adds to the data loss."""
    pairs = [(v, v.regularizer) for v in model.weights if getattr(v, "regularizer", None) is not None]
    total = _value(pairs) if pairs else 0.0
    for layer in _sublayers(model):
        if getattr(layer, "activity_regularizer", None) is not None:
            total += sum(float(p) for p in getattr(layer, "_activity_losses", ()))
    return total


def _latest(layer):
    """A layer's own penalties of its latest forward pass: the activity penalty, then what
    `add_loss` received."""
    added = layer._current_added_losses() if hasattr(layer, "_current_added_losses") else []
    return [float(np.sum(p)) for p in list(getattr(layer, "_activity_losses", ())) + list(added)]


def layer_losses(layer):
    """A layer's own penalties as floats: those of its latest forward pass, then one per
    regularized weight of its own (the order of Keras's `layer.losses`)."""
    losses = _latest(layer)
    for var in layer._weights:
        reg = getattr(var, "regularizer", None)
        if reg is not None:
            factors = _native_factors(reg)
            losses.append(float(kernels(var._value).weight_penalty([var._value], None, [factors[0]],
                                                                   [factors[1]]))
                          if factors is not None else float(reg(var._value)))
    return losses


def model_losses(model):
    """The penalties of a model or layer and everything inside it, as Keras's `model.losses`:
    those of the latest forward pass first (activity penalties and `add_loss` values), then one
    per regularized weight."""
    layers = _sublayers(model)
    latest = [loss for layer in layers for loss in _latest(layer)]
    weights = [loss for layer in layers for loss in layer_losses(layer)[len(_latest(layer)):]]
    return latest + weights
