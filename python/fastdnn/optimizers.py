"""Optimizers. The base class owns the step count, the learning rate and the loop over
variables; a subclass writes only its update rule and its config.

SGD is here; the other fast optimizers, clipping and schedules build on the same base.
"""

import numpy as np


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
        for grad, var in grads_and_vars:
            if grad is not None:
                self.update_step(np.asarray(grad, np.float32), var, self.learning_rate)
        self.iterations += 1

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

    def update_step(self, gradient, variable, learning_rate):
        w = variable._value
        if self.momentum == 0:
            gradient *= learning_rate
            w -= gradient
            return
        m = self.slot(variable, "momentum")
        m *= self.momentum
        gradient *= learning_rate
        m -= gradient
        if self.nesterov:
            w += self.momentum * m - gradient
        else:
            w += m

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
