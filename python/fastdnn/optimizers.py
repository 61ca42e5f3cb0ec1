"""The fast optimizers of the chapter, with Keras 3's update rules, as one native call per step.

The base class owns what every optimizer shares: the step count, the learning rate (a float, a
schedule, or the book-era `decay=` power scheduling), gradient clipping, weight decay and the
optimizer state. A subclass names its native rule, its state and its step-dependent
coefficients. `apply_gradients` updates every variable in one multi-tensor native call
(csrc/optim/optim_op.cpp), clipping included; no Python loop runs over the parameters.

    >>> import fastdnn
    >>> opt = fastdnn.optimizers.Nadam(learning_rate=1e-3)
"""

import math

import numpy as np

from . import schedules  # noqa: F401  (keras.optimizers.schedules)
from ._codes import OPTIMIZER
from ._dispatch import host, kernels, like, on_device
from ._registry import Registry
from .distribution.data_parallel import active_communicator
from .variables import Variable

_KIND = OPTIMIZER  # csrc/core/codes.h, through fastdnn._C.OptimizerKind


def _check(name, value, low=None, high=None, low_open=False):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        bounds = f"in [{low}, {high}]" if high is not None else f"{'>' if low_open else '>='} {low}"
        raise ValueError(f"Received an invalid value for `{name}`, expected a number {bounds}. "
                         f"Received: {name}={value!r}")
    return float(value)


class Optimizer:
    """Base optimizer.

    Args:
        learning_rate: a positive float or a `LearningRateSchedule` (the book's `lr=` works too).
        weight_decay: decoupled weight decay: each step first does w -= lr·weight_decay·w.
        clipnorm: clip each gradient tensor to this L2 norm.
        clipvalue: clip each gradient element to [-clipvalue, clipvalue].
        global_clipnorm: clip all gradients together to this global L2 norm.
        decay: the book-era power scheduling, lr / (1 + decay·step) (Keras 3 ignores it).
        name: a name for the config.

    Raises:
        ValueError: for invalid values, or more than one clipping option.
    """

    _kind = None
    _slots = ()

    def __init__(self, learning_rate=0.001, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, decay=0.0, name=None, **kwargs):
        if "lr" in kwargs:
            learning_rate = kwargs.pop("lr")
        if isinstance(learning_rate, dict):  # a serialized schedule, from get_config
            learning_rate = schedules.deserialize(learning_rate)
        kwargs.pop("use_ema", None)
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}")
        if not callable(learning_rate):  # a float, or a schedule: step -> rate
            _check("learning_rate", learning_rate, 0, low_open=True)
        clips = [n for n, v in (("clipnorm", clipnorm), ("clipvalue", clipvalue),
                                ("global_clipnorm", global_clipnorm)) if v is not None]
        if len(clips) > 1:
            raise ValueError(f"Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. Received: {clips}")
        for n, v in (("clipnorm", clipnorm), ("clipvalue", clipvalue), ("global_clipnorm", global_clipnorm),
                     ("weight_decay", weight_decay)):
            if v is not None:
                _check(n, v, 0)
        self._learning_rate = learning_rate if callable(learning_rate) else \
            Variable(learning_rate, dtype="float64", trainable=False, name="learning_rate")
        self._last_rate = None
        self.weight_decay, self.decay = weight_decay, _check("decay", decay, 0)
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.name = name or type(self).__name__.lower()
        self.iterations = 0
        self._state = {}  # id(variable._value) -> (that array, its state arrays)
        self._lists = None  # (last variable list, their arrays, their state lists)

    @property
    def learning_rate(self):
        """The learning rate, as Keras 3's: a fixed rate is a Variable (`.numpy()`, `float()`,
        arithmetic, `.assign()`); with a schedule, a read-only Variable holding the rate of the
        next step. `decay=` is not applied here (see `current_learning_rate`). It is held in
        float64 (Keras: float32), so that the rate given is the rate used, to the last bit."""
        lr = self._learning_rate
        if callable(lr):
            return _ScheduledRate(float(lr(self.iterations)))
        return lr

    @learning_rate.setter
    def learning_rate(self, value):
        if callable(value):  # a schedule replaces the rate
            self._learning_rate = value
            return
        if callable(self._learning_rate):
            raise TypeError("This optimizer was created with a `LearningRateSchedule` object as its "
                            "`learning_rate` constructor argument, hence its learning rate is not settable. "
                            "If you need the learning rate to be settable, you should instantiate the "
                            "optimizer with a float `learning_rate` argument.")
        value = float(value.numpy() if hasattr(value, "numpy") else value)
        _check("learning_rate", value, 0, low_open=True)
        self._learning_rate.assign(value)

    lr = learning_rate  # the book's era: `optimizer.lr`

    @property
    def schedule(self):
        """The learning-rate schedule (a callable of the step count), or None for a fixed rate."""
        lr = self._learning_rate
        return lr if callable(lr) else None

    @property
    def current_learning_rate(self):
        """The learning rate of the next step (schedule and `decay=` applied), a float."""
        lr = self._learning_rate
        lr = float(lr(self.iterations)) if callable(lr) else float(lr._value)
        return lr / (1.0 + self.decay * self.iterations) if self.decay else lr

    @property
    def last_learning_rate(self):
        """The learning rate the latest step used (schedule and `decay=` applied), or the next
        step's before any step."""
        return self.current_learning_rate if self._last_rate is None else self._last_rate

    def apply_gradients(self, grads_and_vars, skip_gradients_aggregation=False):
        """Applies one step to every (gradient, variable) pair; None gradients are skipped.

        Under a DataParallel distribution the gradients are first averaged over the ranks (one
        bucketed all-reduce), as Horovod's DistributedOptimizer does, unless
        `skip_gradients_aggregation` says the caller already did (the built-in step does).
        """
        pairs = [(g, v) for g, v in grads_and_vars if g is not None]
        comm = None if skip_gradients_aggregation else active_communicator()
        if comm is not None and pairs:
            averaged, _ = comm.average_gradients([host(g) for g, _ in pairs])
            pairs = [(g, v) for g, (_, v) in zip(averaged, pairs)]
        if not pairs:
            self._last_rate = self.current_learning_rate
        else:
            hyper = self._next_hyper()
            variables = [v for _, v in pairs]
            cached = self._lists
            if cached is None or len(cached[0]) != len(variables) or any(
                    a is not b for a, b in zip(cached[0], variables)):
                # The same variables come back every step: build their lists once.
                params = [v._value for v in variables]
                cached = self._lists = (variables, params, [self._slots_of(w) for w in params])
            k = kernels(*cached[1])  # the parameters' device runs the step
            grads = [g if type(g) is np.ndarray and g.dtype == np.float32 and g.flags.c_contiguous
                     else k.contiguous(g) for g, _ in pairs]
            k.optimizer_update(_KIND[self._kind], cached[1], grads, cached[2], hyper)
        self.iterations += 1

    def _next_hyper(self):
        """The native step's settings for the coming step: the learning rate (recorded as the
        last one used), weight decay, clipping and the rule's own values. Advances the state
        the rule carries between steps (Nadam's), so it is called once per step; the caller
        then counts the step in `iterations`."""
        rate = self._last_rate = self.current_learning_rate
        hyper = {"learning_rate": rate, "weight_decay": self.weight_decay or 0.0,
                 "clipnorm": self.clipnorm or 0.0, "clipvalue": self.clipvalue or 0.0,
                 "global_clipnorm": self.global_clipnorm or 0.0}
        hyper.update(self._hyper())
        return hyper

    def apply(self, grads, trainable_variables):
        """Keras 3 spelling: apply(grads, variables)."""
        self.apply_gradients(zip(grads, trainable_variables))

    def _slots_of(self, w):
        entry = self._state.get(id(w))
        if entry is None:  # the entry keeps w alive, so its id is never reused by another array
            entry = self._state[id(w)] = (w, [like(w, self._init_slot(name, w)) for name in self.slot_names()])
        return entry[1]

    def slot_names(self):
        """The names of the state arrays the optimizer keeps per variable, in order (as
        `get_state` and the model files hold them)."""
        return self._slots

    # ---- state, for saving and resuming -------------------------------------------------------

    def get_state(self, variables):
        """The optimizer's state for `variables` (a model's trainable weights, in order).

        Returns:
            {"iterations": int, "extra": {name: float}, "slots": {slot name: [array per
            variable]}}: copies; a variable this optimizer has not updated yet has zero slots
            (its initial value).
        """
        names = self.slot_names()
        slots = {name: [] for name in names}
        for var in variables:
            entry = self._state.get(id(var._value))
            values = entry[1] if entry is not None else [self._init_slot(n, var._value) for n in names]
            for name, value in zip(names, values):
                slots[name].append(np.array(host(value), copy=True))
        return {"iterations": int(self.iterations), "extra": self._extra_state(), "slots": slots}

    def set_state(self, variables, state):
        """Restores `get_state`'s output for `variables` (same order and shapes), so that
        training resumes where it stopped.

        Raises:
            ValueError: if the state does not match this optimizer or these variables.
        """
        names = self.slot_names()
        slots = state.get("slots", {})
        if sorted(slots) != sorted(names):
            raise ValueError(f"The saved state of optimizer '{self.name}' holds slots "
                             f"{sorted(slots)}; this {type(self).__name__} needs {sorted(names)}.")
        variables = list(variables)
        for name in names:
            if len(slots[name]) != len(variables):
                raise ValueError(f"The saved optimizer state has {len(slots[name])} '{name}' "
                                 f"arrays for {len(variables)} trainable variables.")
        iterations = state.get("iterations", 0)
        if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) or iterations < 0:
            raise ValueError(f"The saved optimizer step count must be an integer >= 0. "
                             f"Received: iterations={iterations!r}")
        for i, var in enumerate(variables):
            current = self._slots_of(var._value)
            for k, name in enumerate(names):
                value = np.asarray(slots[name][i])
                if value.shape != current[k].shape:
                    raise ValueError(f"The saved '{name}' of variable '{var.path}' has shape "
                                     f"{value.shape}; the variable has shape {current[k].shape}.")
                if on_device(current[k]):
                    current[k].upload(np.ascontiguousarray(value, dtype=np.float32))
                else:
                    current[k][...] = value
        self.iterations = int(iterations)
        self._set_extra_state(state.get("extra") or {})

    def _extra_state(self):
        """Scalars besides the slots that the update rule carries from step to step."""
        return {}

    def _set_extra_state(self, extra):
        pass

    def _init_slot(self, name, w):
        return np.zeros(w.shape, np.float32)

    def _hyper(self):
        """Rule-specific hyperparameters and this step's coefficients (coef0..coef2)."""
        return {}

    def get_config(self):
        lr = self._learning_rate
        config = {"name": self.name,
                  "learning_rate": {"class_name": type(lr).__name__, "config": lr.get_config()}
                  if hasattr(lr, "get_config") else lr if callable(lr) else float(lr),
                  "weight_decay": self.weight_decay, "clipnorm": self.clipnorm,
                  "clipvalue": self.clipvalue, "global_clipnorm": self.global_clipnorm}
        if self.decay:  # the book's power scheduling; Keras 3 has no such key
            config["decay"] = self.decay
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class _ScheduledRate(Variable):
    """The rate a schedule gives for the next step: read it, but set the schedule instead."""

    def __init__(self, value):
        super().__init__(value, dtype="float64", trainable=False, name="learning_rate")

    def assign(self, value):
        raise TypeError("This optimizer's learning rate comes from a `LearningRateSchedule`, hence it is "
                        "not settable. Instantiate the optimizer with a float `learning_rate` to set it.")

    assign_add = assign_sub = assign


class SGD(Optimizer):
    """Gradient descent with optional momentum and Nesterov momentum (Keras 3's rule).

    Example:
        >>> import fastdnn
        >>> opt = fastdnn.optimizers.SGD(learning_rate=0.01, momentum=0.9, nesterov=True)
    """

    _kind = "sgd"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        if not 0 <= momentum <= 1:
            raise ValueError(f"`momentum` must be a float between [0, 1]. Received: momentum={momentum}")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def slot_names(self):
        return ("momentum",) if self.momentum else ()

    def _hyper(self):
        return {"momentum": self.momentum, "nesterov": self.nesterov}

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adagrad(Optimizer):
    """AdaGrad: per-parameter rates scaled by the accumulated squared gradients."""

    _kind = "adagrad"
    _slots = ("accumulator",)

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value = _check("initial_accumulator_value", initial_accumulator_value, 0)
        self.epsilon = _check("epsilon", epsilon, 0)

    def _init_slot(self, name, w):
        return np.full(w.shape, self.initial_accumulator_value, np.float32)

    def _hyper(self):
        return {"epsilon": self.epsilon}

    def get_config(self):
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


class RMSprop(Optimizer):
    """RMSProp: rates scaled by a moving average of squared gradients; optional momentum and
    centering."""

    _kind = "rmsprop"

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho = _check("rho", rho, 0, 1)
        self.momentum = _check("momentum", momentum, 0, 1)
        self.epsilon, self.centered = _check("epsilon", epsilon, 0), bool(centered)

    def slot_names(self):
        return ("velocity",) + (("momentum",) if self.momentum else ()) + (("average_gradient",) if self.centered else ())

    def _hyper(self):
        return {"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon, "centered": self.centered}

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}


class Adam(Optimizer):
    """Adam, with Keras 3's bias correction folded into the step size; optional AMSGrad."""

    _kind = "adam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2 = _check("beta_1", beta_1, 0, 1), _check("beta_2", beta_2, 0, 1)
        self.epsilon, self.amsgrad = _check("epsilon", epsilon, 0), bool(amsgrad)

    def slot_names(self):
        return ("momentum", "velocity") + (("velocity_hat",) if self.amsgrad else ())

    def _hyper(self):
        t = self.iterations + 1
        alpha = self.current_learning_rate * math.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t)
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad, "coef0": alpha}

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay (default 0.004, as Keras 3)."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay=weight_decay, **kwargs)


class Adamax(Optimizer):
    """AdaMax: Adam with the infinity norm."""

    _kind = "adamax"
    _slots = ("momentum", "norm")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2 = _check("beta_1", beta_1, 0, 1), _check("beta_2", beta_2, 0, 1)
        self.epsilon = _check("epsilon", epsilon, 0)

    def _hyper(self):
        t = self.iterations + 1
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "coef0": self.current_learning_rate / (1 - self.beta_1 ** t)}

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class Nadam(Optimizer):
    """Nadam: Adam with Nesterov momentum, with Keras 3's momentum schedule (0.96 decay)."""

    _kind = "nadam"
    _slots = ("momentum", "velocity")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2 = _check("beta_1", beta_1, 0, 1), _check("beta_2", beta_2, 0, 1)
        self.epsilon = _check("epsilon", epsilon, 0)
        self._u_product = 1.0

    def _hyper(self):
        t = self.iterations + 1
        u_t = self.beta_1 * (1.0 - 0.5 * 0.96 ** t)
        u_t1 = self.beta_1 * (1.0 - 0.5 * 0.96 ** (t + 1))
        u_product_t = self._u_product * u_t
        self._u_product = u_product_t  # advanced once per step, as Keras does
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "coef0": u_t1 / (1.0 - u_product_t * u_t1), "coef1": (1.0 - u_t) / (1.0 - u_product_t),
                "coef2": 1.0 / (1.0 - self.beta_2 ** t)}

    def _extra_state(self):
        return {"u_product": float(self._u_product)}

    def _set_extra_state(self, extra):
        value = extra.get("u_product", 1.0)
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"Nadam's saved `u_product` must be a finite number. Received: {value!r}")
        self._u_product = float(value)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


_REGISTRY = {cls.__name__: cls for cls in (SGD, Adagrad, RMSprop, Adam, AdamW, Adamax, Nadam)}
_REGISTRY.update({name.lower(): cls for name, cls in list(_REGISTRY.items())})
_FAMILY = Registry("optimizer", Optimizer, _REGISTRY, "or an Optimizer")
serialize = _FAMILY.serialize
deserialize = _FAMILY.deserialize


def get(identifier):
    """Resolves an optimizer from an instance, a name ("sgd", "adam", "nadam", ...) or a
    {"class_name", "config"} dict.

    Raises:
        ValueError: for an unknown name.
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    raise TypeError(f"Could not interpret optimizer: {identifier!r}")
