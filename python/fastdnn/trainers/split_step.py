"""A training step split around layers that have no native form: native plans run the layers
that have one, and the others run on the GradientTape between them.

With `compile(jit_compile=True)`, a chain whose layers are not all native (a custom layer, one
that calls `add_loss`, a layer or setting the plan does not run) trains this way. Each step:

    plan.forward(x)                      a run of native layers below a Python part
    layer(h) on a GradientTape           each run of layers without a native form
    last plan.forward_backward(h, y)     the top native layers, the loss and their backward,
                                         down to the gradient of their input
    tape.gradient(out, ..., output_gradients=dh)   back through each Python part, its add_loss
                                                    terms included
    plan.backward(h, dh)                 back through each lower native run
    optimizer.apply_gradients(...)       every gradient, in the model's order, as on the tape

Every kernel is the one the tape path calls, so the weights, optimizer state and logs after N
steps are the tape's bit for bit (tests/test_split_step.py). The top layer must be native (its
plan computes the loss); `jit_compile="auto"` keeps such graphs on the tape.
"""

import math

import numpy as np

from .. import _C, ops, penalties
from ..autodiff import GradientTape
from ..backend.cpu import CPU
from ..layers import call_context
from ..layers.core import Dense, Flatten
from ..layers.normalization import BatchNormalization
from .native_step import CompiledStep, NativeStep, NotNative, check_loss_input, layer_specs, model_chain


class _NativeRun:
    """Consecutive layers with a native form: their plan (built at the first step, when the
    width of its input is known), its noise streams, and whether its input needs a gradient."""

    def __init__(self, layers, specs, loss, input_grad, max_rows):
        self.layers, self.specs, self.loss, self.input_grad = layers, specs, loss, input_grad
        self.trains = any(spec.get(flag) for spec in specs for flag in ("train_kernel", "train_bias", "train_gamma_beta"))
        self.max_rows = max_rows
        self.noise = [spec.pop("layer")._stream for spec in specs if spec["kind"] == "noise"]
        self.flattens = any(type(layer) is Flatten for layer in layers)
        first = next((layer for layer in layers if type(layer) in (Dense, BatchNormalization)), None)
        self.in_features = None if first is None else int(
            (first.kernel if type(first) is Dense else first.moving_mean).shape[0])
        self.plan = None

    def takes(self, h):
        """h as this run's input: rows × features, float32, C-contiguous.

        Raises:
            ValueError: for an input the run's layers cannot take as a matrix.
        """
        if h.ndim != 2:
            if not self.flattens or h.ndim < 2:
                raise ValueError(f"jit_compile=True: layer '{self.layers[0].name}' receives inputs of shape "
                                 f"{h.shape}; the native step takes matrices (rows x features). Compile with "
                                 "jit_compile=\"auto\" to train this model on the GradientTape.")
            h = h.reshape(h.shape[0], -1)
        h = np.ascontiguousarray(h, dtype=np.float32)
        if self.plan is None:
            self.in_features = h.shape[1]
            self.plan = _C.TrainPlan(self.specs, self.in_features, self.max_rows, loss=self.loss,
                                     input_grad=self.input_grad)
        return h

    def draws(self):
        return [stream.next() for stream in self.noise] if self.noise else []


class _TapeRun:
    """Consecutive layers without a native form, called on a GradientTape each step."""

    def __init__(self, layers, variables, input_grad):
        self.layers, self.variables, self.input_grad = layers, variables, input_grad


class SplitStep(CompiledStep):
    """A model's training step as native plans around tape-run layers (see the module
    docstring). Build it with `build`."""

    def __init__(self, model, layers, variables, max_rows, runs):
        super().__init__(model, layers, variables, max_rows)
        self.runs = runs
        self._sources = None  # per variable: a view of its plan's gradient buffer, or None (a tape run's)
        self._index = {id(v): i for i, v in enumerate(variables)}

    @staticmethod
    def _trainable_flags(model, layers):
        # The tape-run layers may hold sublayers: every weight's flag counts.
        return CompiledStep._trainable_flags(model, layers) + (tuple(w.trainable for w in model.weights),)

    @classmethod
    def build(cls, model, rows):
        """The model's split step for batches of up to `rows` rows, or None for a model whose
        layers are all native (NativeStep runs it whole).

        Raises:
            NotNative: when some part of the step cannot run this way.
        """
        layers, variables = model_chain(model)
        trainable_ids = {id(v) for v in variables}
        groups = []  # [native?, layers, specs]
        for layer in layers:
            specs = layer_specs(layer, trainable_ids)
            native = bool(specs)  # a layer that makes no kernel call goes with its neighbours
            if specs == [] and groups:
                native = groups[-1][0]
            if groups and groups[-1][0] == native:
                groups[-1][1].append(layer)
                groups[-1][2] += specs or []
            else:
                groups.append([native, [layer], list(specs or [])])
        if len(groups) == 1 and groups[0][0] or not any(g[0] for g in groups):
            return None
        if not groups[-1][0]:
            raise NotNative(f"the top layer '{layers[-1].name}' has no native form (the plan computes the loss "
                            "after it)")
        check_loss_input(model, [spec for native, _, specs in groups if native for spec in specs])
        runs, below, owned = [], False, set()
        for native, group_layers, specs in groups:
            if native:
                runs.append(_NativeRun(group_layers, specs, group_layers is groups[-1][1], below, rows))
                own = {id(spec[key]) for spec in specs for key in ("kernel", "bias", "gamma", "beta")
                       if spec.get(key) is not None}
                trains = runs[-1].trains
            else:
                ids = {id(w) for layer in group_layers for w in layer.weights}
                run_vars = [v for v in variables if id(v) in ids]
                runs.append(_TapeRun(group_layers, run_vars, below))
                own = {id(v._value) for v in run_vars}
                trains = bool(run_vars)
            owned |= own
            below = below or trains
        for var in variables:
            if id(var._value) not in owned:
                raise NotNative(f"the trainable weight '{var.path}' is not one the step's layers use")
        return cls(model, layers, variables, rows, runs)

    def inputs(self, x, y):
        """(x as float32, labels as int64) for the step, or None when this batch must take the
        tape (another shape or dtype, or too many rows)."""
        if type(x) is not np.ndarray or type(y) is not np.ndarray or y.dtype.kind not in "iu" or x.ndim < 2:
            return None
        rows = x.shape[0]
        if not 1 <= rows <= self.max_rows or y.shape != (rows,) and y.shape != (rows, 1):
            return None
        first = self.runs[0]
        if type(first) is _NativeRun and (x.ndim != 2 and not first.flattens or first.in_features is not None
                                          and math.prod(x.shape[1:]) != first.in_features):
            return None
        if x.dtype != np.float32 or not x.flags.c_contiguous:
            x = np.ascontiguousarray(x, dtype=np.float32)
        return x, np.ascontiguousarray(y.reshape(rows), dtype=np.int64)

    def _gradient_sources(self):
        plans = {}
        for run in self.runs:
            if type(run) is _NativeRun:
                for spec in run.specs:
                    for key in ("kernel", "bias", "gamma", "beta"):
                        if spec.get(key) is not None:
                            plans[id(spec[key])] = run.plan
        return [plans[id(v._value)].gradient_of(v._value) if id(v._value) in plans else None
                for v in self.variables]

    def train(self, model, x, labels, keep):
        """One training step on a batch from `inputs`. Returns (the loss, penalties included,
        as a float; the output view, valid until the next step; how many rows the output
        classifies right). With `keep`, a step whose loss is not finite changes nothing."""
        rows = x.shape[0]
        saved = [v.numpy() for v in model.non_trainable_weights] if keep else None
        h, done, top = x, [], self.runs[-1]
        with call_context.collect_losses() as added, call_context.one_call():
            for run in self.runs[:-1]:
                if type(run) is _NativeRun:
                    h = run.takes(h)
                    run.plan.forward(h, run.draws())
                    done.append((run, h, None, None))
                    h = run.plan.output(rows)
                else:
                    first_added = len(added)
                    with GradientTape(watch_accessed_variables=False) as tape:
                        tape._watch_variables(run.variables)
                        if run.input_grad:
                            tape.watch(h)
                        out = h
                        for layer in run.layers:
                            out = layer(out, training=True)
                    done.append((run, h, tape, (out, added[first_added:])))
                    h = out
            h = top.takes(h)
            correct = top.plan.forward_backward(h, labels, top.draws())
        if self._sources is None:
            self._sources = self._gradient_sources()
        grads = list(self._sources)
        index = self._index
        dh = np.array(top.plan.input_gradient(rows)) if top.input_grad else None
        for run, h_in, tape, record in reversed(done):
            if type(run) is _NativeRun:
                if not (run.trains or run.input_grad):
                    continue  # nothing at or below this run trains
                run.plan.backward(h_in, np.ascontiguousarray(dh, dtype=np.float32).reshape(rows, -1))
                dh = np.array(run.plan.input_gradient(rows)) if run.input_grad else None
                continue
            out, extra = record
            sources = ([h_in] if run.input_grad else []) + run.variables
            if not sources:
                continue
            got = tape.gradient([out] + extra, sources, output_gradients=[dh.reshape(out.shape)] + [None] * len(extra))
            if run.input_grad:
                dh = got.pop(0)
                if dh is None:
                    dh = np.zeros(h_in.shape, np.float32)
            for var, g in zip(run.variables, got):
                grads[index[id(var)]] = g
        total = CPU.mean_all(top.plan.losses(rows), rows)
        for value in added:
            total = ops.add(total, ops.sum(value) if np.ndim(value) else value)
        loss_value = float(total)
        rules = self.penalties
        if rules.active:
            loss_value += penalties.add_gradients(rules, grads)
        if keep and not math.isfinite(loss_value):
            for var, value in zip(model.non_trainable_weights, saved):
                var.assign(value)
            return loss_value, top.plan.output(rows), correct
        self.optimizer.apply_gradients(zip(grads, self.variables))
        if rules.active:
            penalties.constrain(rules)
        return loss_value, top.plan.output(rows), correct

    @property
    def arena_bytes(self):
        return sum(run.plan.arena_bytes for run in self.runs if type(run) is _NativeRun and run.plan is not None)


def compile_step(model, rows, split):
    """The compiled step for `model`: NativeStep where every layer is native, else (with
    `split`) a SplitStep.

    Raises:
        NotNative: saying what keeps the model's step off the plans.
    """
    try:
        return NativeStep.build(model, rows)
    except NotNative:
        step = SplitStep.build(model, rows) if split else None
        if step is None:
            raise
        return step
