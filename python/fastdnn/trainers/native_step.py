"""The native training step: the built-in `train_step` of a model compiled once into a plan of
native kernel calls (fastdnn._C.TrainPlan, csrc/plan/train_plan.h) and replayed each batch.

The first step of `fit` runs on the GradientTape, as every step did before; it builds the model,
the loss and the metrics. After it, where the whole graph is native, each step is:

    plan.forward_backward(x, labels)     forward, loss, backward: one native call, no GIL
    penalties.add_gradients(...)         L1/L2 gradients into the plan's gradient buffers
    plan.update(optimizer hyperparameters)   the optimizer step: one native call
    penalties.constrain(...)             the built-in constraints: one native call
    loss tracker and metrics             as on the tape path; the plan counts the rows
                                         its output classifies right, for the accuracy

The plan makes the tape path's kernel calls with the same arguments, so the weights after N
steps are the tape's bit for bit on one thread (tests/test_native_step.py).

What the plan covers: `Sequential` and functional models that are a chain (nested ones too) of
InputLayer, Flatten, Identity, Dense (any built-in activation), BatchNormalization, Activation,
ReLU, LeakyReLU, ELU, Softmax, and the dropout family (Dropout, AlphaDropout, GaussianDropout,
GaussianNoise: the same Philox draws as the tape, from the layer's own stream); the sparse
categorical cross-entropy (from logits, or after a final softmax); every built-in optimizer with
its clipping and weight decay; the L1/L2 regularizers and the constraints; TerminateOnNaN.
Anything else (another layer, a custom layer, `add_loss`, an activity regularizer, a
noise_shape, another loss, sample weights, a hook that observes the step, data parallelism,
weights on a GPU) trains on the tape: the NotNative the model keeps says which.

`compile(jit_compile=...)` chooses: False, the tape always; "auto" (the default), the plan where
the graph is native; True, the plan, split around layers without a native form (split_step.py),
or a ValueError naming what keeps the graph off the plans.
"""

import math
import operator

import numpy as np

from .. import _C, noise, penalties
from .._codes import ACTIVATION, OPTIMIZER
from ..activations import FUSED
from ..backend.cpu import CPU
from ..layers.activation_layers import ELU, LeakyReLU, ReLU, Softmax
from ..layers.core import Activation, Dense, Flatten, Identity
from ..layers.input_layer import InputLayer
from ..layers.normalization import BatchNormalization
from ..layers.regularization import AlphaDropout, Dropout, GaussianDropout, GaussianNoise
from ..losses import LossFunctionWrapper, sparse_categorical_crossentropy
from ..metrics.accuracy_metrics import sparse_categorical_accuracy
from ..metrics.reduction_metrics import MeanMetricWrapper

# Activation names as the dense kernel's epilogue knows them, with the default slope the op
# takes when called without arguments (fastdnn/ops/nn.py's `_activation`).
_DEFAULT_ALPHA = {"leaky_relu": 0.2, "elu": 1.0}


class NotNative(Exception):
    """Why a model's step cannot run as a plan (the message says what to change)."""


def _activation_spec(name, alpha=None):
    if name is None:
        return None
    if name == "softmax":
        return {"kind": "softmax"}
    return {"kind": "activation", "activation": ACTIVATION[name],
            "alpha": float(_DEFAULT_ALPHA.get(name, 0.0) if alpha is None else alpha)}


def _chain(model):
    """The layers a model applies one after the other (`Model._chain_layers`), nested chains
    flattened.

    Raises:
        NotNative: for a model that is not such a chain.
    """
    layers = model._chain_layers()
    if layers is None:
        raise NotNative(f"model '{model.name}' is not a chain of single-input layers run by the "
                        "built-in `call` (a subclassed model, or a graph with branches)")
    out = []
    for layer in layers:
        out += _chain(layer) if hasattr(layer, "_chain_layers") else [layer]
    return out


def _layer_specs(layer, trainable_ids):
    """The plan's layer dicts for one Keras layer ([] for a layer that changes nothing).

    Raises:
        NotNative: for a layer, or a setting, the plan does not run.
    """
    kind = type(layer)
    if kind in (InputLayer, Identity, Flatten):
        return []
    if getattr(layer, "activity_regularizer", None) is not None:
        raise NotNative(f"layer '{layer.name}' has an activity regularizer")
    if kind is Dense:
        name = FUSED.get(layer.activation, False)
        if name is False:
            raise NotNative(f"layer '{layer.name}' has an activation written in Python")
        spec = {"kind": "dense", "units": layer.units, "kernel": layer.kernel._value,
                "bias": layer.bias._value if layer.bias is not None else None,
                "train_kernel": id(layer.kernel) in trainable_ids,
                "train_bias": layer.bias is not None and id(layer.bias) in trainable_ids}
        if name is not None and name != "softmax":
            spec.update(activation=ACTIVATION[name], alpha=float(_DEFAULT_ALPHA.get(name, 0.0)))
        return [spec] + ([{"kind": "softmax"}] if name == "softmax" else [])
    if kind is BatchNormalization:
        if layer.synchronized:
            raise NotNative(f"layer '{layer.name}' is a synchronized BatchNormalization")
        weights = [w for w in (layer.gamma, layer.beta) if w is not None]
        return [{"kind": "batchnorm", "gamma": layer.gamma._value if layer.gamma is not None else None,
                 "beta": layer.beta._value if layer.beta is not None else None,
                 "moving_mean": layer.moving_mean._value, "moving_variance": layer.moving_variance._value,
                 "epsilon": layer.epsilon, "momentum": layer.momentum, "training": bool(layer.trainable),
                 "train_gamma_beta": any(id(w) in trainable_ids for w in weights)}]
    if kind in (Dropout, AlphaDropout, GaussianDropout, GaussianNoise):
        return _noise_specs(layer)
    if kind is Activation:
        name = FUSED.get(layer.activation, False)
        if name is False:
            raise NotNative(f"layer '{layer.name}' has an activation written in Python")
        return [spec for spec in [_activation_spec(name)] if spec is not None]
    if kind is ReLU and layer.max_value is None and layer.threshold == 0.0:
        return [_activation_spec("relu") if layer.negative_slope == 0.0
                else _activation_spec("leaky_relu", layer.negative_slope)]
    if kind is LeakyReLU:
        return [_activation_spec("leaky_relu", layer.negative_slope)]
    if kind is ELU:
        return [_activation_spec("elu", layer.alpha)]
    if kind is Softmax and layer.axis in (-1,):
        return [{"kind": "softmax"}]
    raise NotNative(f"layer '{layer.name}' ({kind.__name__}) has no native form in the plan")


def _noise_specs(layer):
    """A dropout-family layer as the plan's noise dict: the arguments fastdnn/ops/noise.py gives
    the Philox kernels, forward and backward ([] for a rate of 0, which draws nothing)."""
    if not layer._active():
        return []
    if getattr(layer, "noise_shape", None) is not None:
        raise NotNative(f"layer '{layer.name}' has a noise_shape (a broadcast mask)")
    spec = {"kind": "noise", "layer": layer}
    if type(layer) is Dropout:
        scale = 1.0 / (1.0 - layer.rate)
        spec.update(noise="bernoulli", rate=layer.rate, scale=scale, grad_scale=scale)
    elif type(layer) is AlphaDropout:
        alpha_p, a, b = noise.alpha_dropout_coefficients(layer.rate)
        spec.update(noise="bernoulli", rate=layer.rate, scale=a, c_keep=b, c_drop=a * alpha_p + b, grad_scale=a)
    elif type(layer) is GaussianDropout:
        spec.update(noise="normal", m0=1.0, m1=math.sqrt(layer.rate / (1.0 - layer.rate)))
    else:
        spec.update(noise="normal", m0=1.0, c1=float(layer.stddev), grad="identity")
    return [spec]


def loss_from_logits(model):
    """Whether the compiled loss takes logits (True) or probabilities (False).

    Raises:
        NotNative: for a loss other than one sparse categorical cross-entropy.
    """
    compiled = model._compile_loss
    if compiled is None or len(compiled.output_names) != 1 or compiled.weights[0] is not None:
        raise NotNative("the model has several outputs or weighted losses")
    loss = compiled.losses[0]
    if not (isinstance(loss, LossFunctionWrapper) and loss.fn is sparse_categorical_crossentropy
            and loss.reduction in ("sum_over_batch_size", "mean")):
        raise NotNative("the loss is not sparse_categorical_crossentropy")
    extra = set(loss._fn_kwargs) - {"from_logits"}
    if extra:
        raise NotNative(f"the loss has arguments {sorted(extra)}")
    return bool(loss._fn_kwargs.get("from_logits", False))


def check_loss_input(model, specs):
    """Checks that the plan's layer dicts `specs` (every native layer, in order) end as the
    compiled loss takes its input: a final softmax for probabilities, none for logits, and no
    softmax below the top.

    Raises:
        NotNative: saying which does not hold (or that the loss has no native form).
    """
    from_logits = loss_from_logits(model)
    if (specs[-1]["kind"] == "softmax") == from_logits:
        raise NotNative("the loss takes logits after a softmax, or probabilities without one"
                        if from_logits else "the loss takes probabilities but the model ends without a softmax")
    if any(spec["kind"] == "softmax" for spec in specs[:-1]):
        raise NotNative("a softmax comes before the last layer")


def accuracy_metrics(model):
    """The compiled metrics when each is a sparse categorical accuracy, whose batch value the
    plan counts (`forward_backward`'s count of rows classified right); else None (the metrics
    update from the output, as on the tape path)."""
    compiled = model._compile_metrics
    if compiled is None:
        return []
    metrics = [m for ms in compiled._metrics + compiled._weighted for m in ms]
    if all(isinstance(m, MeanMetricWrapper) and type(m).update_state is MeanMetricWrapper.update_state
           and m._fn is sparse_categorical_accuracy and not m._fn_kwargs for m in metrics):
        return metrics
    return None


def model_chain(model):
    """(the model's chain of layers, its trainable weights), for a model whose step can run
    as plans: on the CPU, with a built-in optimizer and native regularizers.

    Raises:
        NotNative: saying what keeps the model off the plan.
    """
    if model._on_gpu():
        raise NotNative("the model's weights are on a GPU (the plan runs on the CPU)")
    if model.optimizer is None or model.optimizer._kind is None:
        raise NotNative("the optimizer is not a built-in one")
    layers = _chain(model)
    if len({id(layer) for layer in layers}) != len(layers):
        raise NotNative("a layer appears more than once in the graph")
    variables = model.trainable_weights
    rules = penalties.plan(model, variables)
    if rules.activity_layers or rules.tape:
        raise NotNative("a regularizer has no native form (only l1, l2 and l1_l2 do)")
    return layers, variables


def layer_specs(layer, trainable_ids):
    """The plan's layer dicts for one layer, or None for a layer with no native form (it runs
    on the GradientTape between plans, trainers/split_step.py)."""
    try:
        return _layer_specs(layer, trainable_ids)
    except NotNative:
        return None


class CompiledStep:
    """What a compiled training step keeps of the model it was built for (NativeStep here, and
    SplitStep in split_step.py): which batches it takes, and whether it still describes the
    model."""

    def __init__(self, model, layers, variables, max_rows):
        self.layers = layers
        self.variables = variables
        self.max_rows = max_rows
        self._all = model.weights
        self._weights = [v._value for v in self._all]  # the plans point into these
        self._trainable = self._trainable_flags(model, layers)
        self.optimizer = model.optimizer
        self.penalties = penalties.plan(model, variables)
        self.accuracy = accuracy_metrics(model)  # the metrics the plan's count updates, or None

    @staticmethod
    def _trainable_flags(model, layers):
        return (model._trainable, tuple(layer._trainable for layer in layers),
                tuple(w.trainable for layer in layers for w in layer._weights))

    def valid_for(self, model):
        """Whether the plan still describes `model`: the same optimizer, trainable flags, and
        weight arrays (a model moved to a GPU gets new ones; `set_weights` writes in place)."""
        return (model.optimizer is self.optimizer
                and self._trainable_flags(model, self.layers) == self._trainable
                and all(map(operator.is_, (v._value for v in self._all), self._weights)))

    @staticmethod
    def rows_of(x):
        """The number of rows of a batch's inputs (1 for anything without a leading axis)."""
        shape = getattr(x, "shape", ())
        return int(shape[0]) if len(shape) and shape[0] else 1

    def larger(self, x):
        """Whether batch `x` has more rows than the plan holds (then it is built again)."""
        return type(x) is np.ndarray and self.rows_of(x) > self.max_rows


class NativeStep(CompiledStep):
    """A model's training step as a plan (see the module docstring). Build it with `build`."""

    def __init__(self, model, layers, specs, variables, max_rows, in_features):
        super().__init__(model, layers, variables, max_rows)
        self._arrays = [v._value for v in variables]
        self.noise = [spec.pop("layer")._stream for spec in specs if spec["kind"] == "noise"]
        self.plan = _C.TrainPlan(specs, in_features, max_rows)
        self.in_features = in_features
        optimizer = model.optimizer
        slots = [optimizer._slots_of(w) for w in self._arrays]
        self.plan.bind_optimizer(OPTIMIZER[optimizer._kind], self._arrays, slots)
        self.grads = self.plan.gradients()  # views of the gradient buffers, in variables' order
        self._outputs = {}  # rows -> (output view, losses view)

    @classmethod
    def build(cls, model, rows):
        """The model's plan for batches of up to `rows` rows.

        Raises:
            NotNative: when some part of the step has no native form.
        """
        layers, variables = model_chain(model)
        trainable_ids = {id(v) for v in variables}
        specs = [spec for layer in layers for spec in _layer_specs(layer, trainable_ids)]
        if not any(spec["kind"] in ("dense", "batchnorm") for spec in specs):
            raise NotNative("the graph has no Dense or BatchNormalization layer")
        check_loss_input(model, specs)
        # The layers before the first Dense or BatchNormalization keep the number of features.
        first = next(layer for layer in layers if type(layer) in (Dense, BatchNormalization))
        kernel = first.kernel if type(first) is Dense else first.moving_mean
        in_features = int(kernel.shape[0])
        for var in variables:
            if not any(var._value is spec.get(key) for spec in specs
                       for key in ("kernel", "bias", "gamma", "beta")):
                raise NotNative(f"the trainable weight '{var.path}' is not one the plan's layers use")
        step = cls(model, layers, specs, variables, rows, in_features)
        # Inputs of more than two axes are the plan's rows × features only through a Flatten.
        step.flattens = any(type(layer) is Flatten for layer in layers[:layers.index(first)])
        return step

    def inputs(self, x, y):
        """(x as rows × features float32, labels as int64) for the plan, or None when this batch
        must take the tape (another shape or dtype, or too many rows)."""
        if type(x) is not np.ndarray or type(y) is not np.ndarray or y.dtype.kind not in "iu":
            return None
        rows = x.shape[0] if x.ndim else 0
        if not 1 <= rows <= self.plan.max_rows or math.prod(x.shape[1:]) != self.in_features:
            return None
        if y.shape != (rows,) and y.shape != (rows, 1) or x.ndim != 2 and not self.flattens:
            return None
        if x.dtype != np.float32 or not x.flags.c_contiguous:
            x = np.ascontiguousarray(x, dtype=np.float32)
        labels = y.reshape(rows) if y.dtype == np.int64 and y.flags.c_contiguous else \
            np.ascontiguousarray(y.reshape(rows), dtype=np.int64)
        return x.reshape(rows, self.in_features), labels

    def train(self, model, x, labels, keep):
        """One training step on a batch from `inputs`. Returns (the loss, penalties included,
        as a float; the output view, valid until the next step; how many rows the output
        classifies right). With `keep`, a step whose loss is not finite changes nothing
        (TerminateOnNaN)."""
        rows = x.shape[0]
        saved = [v.numpy() for v in model.non_trainable_weights] if keep else None
        plan = self.plan
        correct = plan.forward_backward(x, labels, [stream.next() for stream in self.noise] if self.noise else [])
        views = self._outputs.get(rows)
        if views is None:
            views = self._outputs[rows] = (plan.output(rows), plan.losses(rows))
        loss_value = float(CPU.mean_all(views[1], rows))
        rules = self.penalties
        if rules.active:
            loss_value += penalties.add_gradients(rules, list(self.grads))
        if keep and not math.isfinite(loss_value):
            for var, value in zip(model.non_trainable_weights, saved):
                var.assign(value)
            return loss_value, views[0], correct
        optimizer = self.optimizer
        plan.update(optimizer._next_hyper())
        optimizer.iterations += 1
        if rules.active:
            penalties.constrain(rules)
        return loss_value, views[0], correct

    @property
    def arena_bytes(self):
        return self.plan.arena_bytes
