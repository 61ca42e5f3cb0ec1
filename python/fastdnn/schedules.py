"""Learning-rate schedules: the learning rate as a function of the optimizer's step count, with
the formulas and configs of Keras 3 (keras/src/optimizers/schedules/learning_rate_schedule.py).

An optimizer given a schedule as its `learning_rate` uses `schedule(optimizer.iterations)` at each
step. Every schedule returns a Python float, computed in float64:

    ExponentialDecay        lr0 · rate^(t/s)                 (t/s floored when staircase)
    InverseTimeDecay        lr0 / (1 + rate·t/s)             (the book's power scheduling, c=1)
    PiecewiseConstantDecay  values[i] for boundaries[i-1] < t <= boundaries[i]
    PolynomialDecay         (lr0 - end)·(1 - t/s)^power + end, t capped at s (or s grown, cycle)
    CosineDecay             optional linear warmup to warmup_target, then
                            lr · ((1 - alpha)·½(1 + cos(π·t/s)) + alpha), t capped at s
"""

import math
import numbers

from ._registry import Registry


def _check_positive(value, name, integer=False):
    kind = "integer" if integer else "number"
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and value > 0
    if ok and integer:
        ok = float(value).is_integer()
    if not ok:
        raise ValueError(f"Received an invalid value for `{name}`, expected a positive {kind}. "
                         f"Received: {name}={value!r}")


def _check_number(value, name):
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"Received an invalid value for `{name}`, expected a finite number. "
                         f"Received: {name}={value!r}")


def _step(step):
    """The step as a float64 (ints, NumPy scalars and 0-d arrays alike)."""
    return float(step)


class LearningRateSchedule:
    """Base class of learning-rate schedules: `__call__(step)` gives the rate at that step.

    A subclass implements `__call__` and `get_config`; `from_config` calls the constructor with
    the config's entries.

    Example:
        >>> from fastdnn.schedules import LearningRateSchedule
        >>> class Halving(LearningRateSchedule):
        ...     def __init__(self, initial_learning_rate):
        ...         self.initial_learning_rate = initial_learning_rate
        ...     def __call__(self, step):
        ...         return self.initial_learning_rate * 0.5 ** step
        ...     def get_config(self):
        ...         return {"initial_learning_rate": self.initial_learning_rate}
        >>> Halving(1.0)(3)
        0.125
    """

    def __call__(self, step):
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override "
                                  "`__call__(self, step)`.")

    def get_config(self):
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override "
                                  "`get_config()` in order to be serializable.")

    @classmethod
    def from_config(cls, config):
        """Instantiates a schedule from the output of `get_config`."""
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


class ExponentialDecay(LearningRateSchedule):
    """`initial_learning_rate · decay_rate^(step / decay_steps)`; with `staircase` the exponent
    is floored, so the rate drops by `decay_rate` every `decay_steps` steps.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: positive number of steps over which the rate is multiplied by
            `decay_rate`.
        decay_rate: the factor per `decay_steps` steps (0.1 for the book's η₀·0.1^(t/s)).
        staircase: decay in discrete jumps rather than smoothly.
        name: a name for the schedule.

    Raises:
        ValueError: if `decay_steps` is not positive or a rate is not a finite number.

    Example:
        >>> from fastdnn.schedules import ExponentialDecay
        >>> schedule = ExponentialDecay(0.01, decay_steps=20, decay_rate=0.1)
        >>> round(schedule(20), 10), round(schedule(40), 10)
        (0.001, 0.0001)
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        _check_number(initial_learning_rate, "initial_learning_rate")
        _check_positive(decay_steps, "decay_steps")
        _check_number(decay_rate, "decay_rate")
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = bool(staircase)
        self.name = name

    def __call__(self, step):
        p = _step(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return float(self.initial_learning_rate * float(self.decay_rate) ** p)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class PiecewiseConstantDecay(LearningRateSchedule):
    """A constant rate per interval of steps: `values[0]` up to and including `boundaries[0]`,
    `values[1]` after it up to and including `boundaries[1]`, ..., `values[-1]` after the last
    boundary.

    Args:
        boundaries: increasing step counts.
        values: the rates, one more than `boundaries`.
        name: a name for the schedule.

    Raises:
        ValueError: if `len(values) != len(boundaries) + 1`, the boundaries are not increasing,
            or a value is not a finite number.

    Example:
        >>> from fastdnn.schedules import PiecewiseConstantDecay
        >>> schedule = PiecewiseConstantDecay([100, 200], [1.0, 0.5, 0.1])
        >>> schedule(100), schedule(101), schedule(1000)
        (1.0, 0.5, 0.1)
    """

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        boundaries, values = list(boundaries), list(values)
        if len(boundaries) != len(values) - 1:
            raise ValueError("The length of boundaries should be 1 less than the length of "
                             f"values. Received: boundaries={boundaries} of length "
                             f"{len(boundaries)}, and values={values} of length {len(values)}.")
        for i, boundary in enumerate(boundaries):
            _check_number(boundary, f"boundaries[{i}]")
        if any(b >= a for b, a in zip(boundaries, boundaries[1:])):
            raise ValueError("Received an invalid value for `boundaries`, expected strictly "
                             f"increasing step counts. Received: boundaries={boundaries}")
        for i, value in enumerate(values):
            _check_number(value, f"values[{i}]")
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step):
        step = _step(step)
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return float(value)
        return float(self.values[-1])

    def get_config(self):
        return {"boundaries": list(self.boundaries), "values": list(self.values),
                "name": self.name}


class InverseTimeDecay(LearningRateSchedule):
    """`initial_learning_rate / (1 + decay_rate · step / decay_steps)`: the book's power
    scheduling with c = 1 (the ratio is floored with `staircase`).

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: positive number of steps, the unit of the decay.
        decay_rate: how fast the rate falls: halved after `decay_steps / decay_rate` steps.
        staircase: decay in discrete jumps rather than smoothly.
        name: a name for the schedule.

    Raises:
        ValueError: if `decay_steps` is not positive or a rate is not a finite number.

    Example:
        >>> from fastdnn.schedules import InverseTimeDecay
        >>> schedule = InverseTimeDecay(0.1, decay_steps=1.0, decay_rate=0.5)
        >>> schedule(0), schedule(2)
        (0.1, 0.05)
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="InverseTimeDecay"):
        _check_number(initial_learning_rate, "initial_learning_rate")
        _check_positive(decay_steps, "decay_steps")
        _check_number(decay_rate, "decay_rate")
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = bool(staircase)
        self.name = name

    def __call__(self, step):
        p = _step(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return float(self.initial_learning_rate / (1.0 + self.decay_rate * p))

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """From `initial_learning_rate` to `end_learning_rate` over `decay_steps` steps along
    `(1 - step/decay_steps)^power`, then constant; with `cycle`, `decay_steps` grows to the first
    multiple of itself at or above the step, so the rate jumps back up and decays again.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: positive number of steps to reach `end_learning_rate`.
        end_learning_rate: the final rate.
        power: the polynomial's power (1.0: linear).
        cycle: restart the decay every `decay_steps` steps (from a lower peak).
        name: a name for the schedule.

    Raises:
        ValueError: if `decay_steps` is not positive or a rate is not a finite number.

    Example:
        >>> from fastdnn.schedules import PolynomialDecay
        >>> schedule = PolynomialDecay(1.0, decay_steps=10, end_learning_rate=0.0)
        >>> schedule(5), schedule(20)
        (0.5, 0.0)
    """

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0,
                 cycle=False, name="PolynomialDecay"):
        _check_number(initial_learning_rate, "initial_learning_rate")
        _check_positive(decay_steps, "decay_steps")
        _check_number(end_learning_rate, "end_learning_rate")
        _check_number(power, "power")
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = bool(cycle)
        self.name = name

    def __call__(self, step):
        step = _step(step)
        decay_steps = float(self.decay_steps)
        if self.cycle:
            # The first multiple of decay_steps at or above the step (1 at step 0).
            decay_steps *= 1.0 if step == 0 else math.ceil(step / decay_steps)
        else:
            step = min(step, decay_steps)
        p = step / decay_steps
        return float((self.initial_learning_rate - self.end_learning_rate)
                     * (1.0 - p) ** self.power + self.end_learning_rate)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "end_learning_rate": self.end_learning_rate,
                "power": self.power, "cycle": self.cycle, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Cosine decay (SGDR without restarts), after an optional linear warmup.

    Without `warmup_target`: `initial_learning_rate · ((1 - alpha)·½(1 + cos(π·t/decay_steps))
    + alpha)` with t capped at `decay_steps`. With it: a linear rise from `initial_learning_rate`
    to `warmup_target` over `warmup_steps`, then the same cosine from `warmup_target` over the
    next `decay_steps` steps.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: positive number of steps of the decay.
        alpha: the final rate as a fraction of the decay's starting rate.
        warmup_target: the rate reached at the end of the warmup; None for no warmup.
        warmup_steps: number of warmup steps.
        name: a name for the schedule.

    Raises:
        ValueError: if `decay_steps` is not positive, `warmup_steps` is negative, or a rate is
            not a finite number.

    Example:
        >>> from fastdnn.schedules import CosineDecay
        >>> schedule = CosineDecay(1.0, decay_steps=10, alpha=0.1)
        >>> round(schedule(5), 10), round(schedule(10), 10)
        (0.55, 0.1)
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        _check_number(initial_learning_rate, "initial_learning_rate")
        _check_positive(decay_steps, "decay_steps")
        _check_number(alpha, "alpha")
        if warmup_target is not None:
            _check_number(warmup_target, "warmup_target")
        if not isinstance(warmup_steps, numbers.Real) or isinstance(warmup_steps, bool) \
                or not warmup_steps >= 0:
            raise ValueError("Received an invalid value for `warmup_steps`, expected a "
                             f"non-negative number. Received: warmup_steps={warmup_steps!r}")
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_target = warmup_target
        self.warmup_steps = warmup_steps

    def _decay(self, step, decay_from):
        cosine = 0.5 * (1.0 + math.cos(math.pi * step / self.decay_steps))
        return float(decay_from * ((1.0 - self.alpha) * cosine + self.alpha))

    def __call__(self, step):
        step = _step(step)
        if self.warmup_target is None:
            return self._decay(min(step, self.decay_steps), self.initial_learning_rate)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            fraction = step / self.warmup_steps
            return float((self.warmup_target - self.initial_learning_rate) * fraction
                         + self.initial_learning_rate)
        return self._decay(step - self.warmup_steps, self.warmup_target)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


_SCHEDULES = Registry(
    "learning rate schedule", LearningRateSchedule,
    {cls.__name__: cls for cls in (ExponentialDecay, PiecewiseConstantDecay, InverseTimeDecay,
                                   PolynomialDecay, CosineDecay)},
    "or a LearningRateSchedule instance")


def serialize(learning_rate_schedule):
    """`{"class_name": ..., "config": ...}` for a schedule.

    Raises:
        ValueError: if the argument is not a `LearningRateSchedule` or a function.

    Example:
        >>> from fastdnn import schedules
        >>> schedules.serialize(schedules.InverseTimeDecay(0.1, 10, 0.5))["class_name"]
        'InverseTimeDecay'
    """
    return _SCHEDULES.serialize(learning_rate_schedule)


def deserialize(config, custom_objects=None):
    """The schedule described by `serialize`'s output (a Keras config works too).

    Args:
        config: a dict `{"class_name": ..., "config": ...}`.
        custom_objects: dict name -> class, for schedules defined outside fastdnn.

    Raises:
        ValueError: for an unknown class name or a malformed config.

    Example:
        >>> from fastdnn import schedules
        >>> s = schedules.deserialize({"class_name": "ExponentialDecay", "config": {
        ...     "initial_learning_rate": 0.01, "decay_steps": 10, "decay_rate": 0.1}})
        >>> round(s(10), 10)
        0.001
    """
    return _SCHEDULES.deserialize(config, custom_objects)


def get(identifier, custom_objects=None):
    """A schedule from a schedule (returned as is), a config dict, or None (None).

    Raises:
        ValueError: for anything else.

    Example:
        >>> from fastdnn import schedules
        >>> s = schedules.PolynomialDecay(1.0, 10)
        >>> schedules.get(s) is s, schedules.get(None)
        (True, None)
    """
    if identifier is None or isinstance(identifier, LearningRateSchedule):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier, custom_objects)
    raise ValueError("Could not interpret learning rate schedule identifier, expected a "
                     "LearningRateSchedule, a dict {'class_name': ..., 'config': ...} or None. "
                     f"Received: identifier={identifier!r}")
