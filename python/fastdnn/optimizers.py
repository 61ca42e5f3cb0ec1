"""Optimizers. The base class owns the step count, the learning rate and the loop over
variables; a subclass writes only its update rule and its config.

SGD is here; the other fast optimizers, clipping and schedules build on the same base.
"""

import numpy as np

from . import _C


class Optimizer:
    """Base optimizer: applies gradients to Variables in place.

    Args:
        learning_rate: a positive float (the book's `lr=` is accepted too).
        name: a name for the config.
    """

    def __init__(self, learning_rate=0.001, name=None, **kwargs):
        if "lr" in kwargs:
            learning_rate = kwargs.pop("lr")
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}")
        if not learning_rate > 0:
            raise ValueError(f"Received an invalid value for `learning_rate`, expected a positive float. "
                             f"Received: learning_rate={learning_rate}")
        self.learning_rate = float(learning_rate)
        self.name = name or type(self).__name__.lower()
        self.iterations = 0
        self._slots = {}

    def apply_gradients(self, grads_and_vars):
        """Updates each variable with its gradient; pairs with a None gradient are skipped."""
        pairs = [(np.asarray(g, np.float32), v) for g, v in grads_and_vars if g is not None]
        if pairs:
            self.update(pairs, self.learning_rate)
        self.iterations += 1

    def update(self, pairs, learning_rate):
        """Applies the rule to every (gradient, variable) pair; by default one at a time."""
        for grad, var in pairs:
            self.update_step(grad, var, learning_rate)

    def apply(self, grads, trainable_variables):
        """Keras 3 spelling: apply(grads, variables)."""
        self.apply_gradients(zip(grads, trainable_variables))

    def slot(self, var, name):
        """A zero-initialised state array of the variable's shape (momentum, ...)."""
        key = (id(var), name)
        if key not in self._slots:
            self._slots[key] = np.zeros(var.shape, np.float32)
        return self._slots[key]

    def update_step(self, gradient, variable, learning_rate):
        raise NotImplementedError

    def get_config(self):
        return {"name": self.name, "learning_rate": self.learning_rate}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class SGD(Optimizer):
    """Gradient descent with optional momentum and Nesterov momentum, as Keras 3:

        m = momentum·m - lr·g;  w += m               (momentum)
        w += momentum·m - lr·g   after updating m    (nesterov)

    Example:
        >>> import fastdnn
        >>> opt = fastdnn.optimizers.SGD(learning_rate=0.01, momentum=0.9)
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name=None, **kwargs):
        super().__init__(learning_rate, name, **kwargs)
        if not 0 <= momentum <= 1:
            raise ValueError(f"`momentum` must be a float between [0, 1]. Received: momentum={momentum}")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def update(self, pairs, learning_rate):
        """All variables in one native multi-tensor call."""
        grads = [np.ascontiguousarray(g) for g, _ in pairs]
        params = [v._value for _, v in pairs]
        velocities = [self.slot(v, "momentum") for _, v in pairs] if self.momentum else None
        _C.sgd_update(params, grads, velocities, learning_rate, self.momentum, self.nesterov)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


_REGISTRY = {"sgd": SGD, "SGD": SGD}


def get(identifier):
    """Resolves an optimizer from an instance, a name ("sgd") or a {"class_name", "config"} dict.

    Raises:
        ValueError: for an unknown name.
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        if identifier not in _REGISTRY:
            raise ValueError(f"Unknown optimizer {identifier!r}. Available: {sorted(set(_REGISTRY) - {'SGD'})}")
        return _REGISTRY[identifier]()
    if isinstance(identifier, dict):
        return _REGISTRY[identifier["class_name"]].from_config(identifier.get("config", {}))
    raise TypeError(f"Could not interpret optimizer: {identifier!r}")


def serialize(optimizer):
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}
