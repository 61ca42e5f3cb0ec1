"""OneCycleScheduler: the chapter's 1cycle schedule of the learning rate and the momentum."""

import numbers

from ._helpers import optimizer_of, set_learning_rate, is_number
from .callback import Callback


class OneCycleScheduler(Callback):
    """The book's 1cycle schedule, set at each training batch, with cyclical momentum.

    Over `iterations` batches, with `half = (iterations - last_iterations) // 2`, the rate rises
    linearly from `start_rate` to `max_rate` over the first `half` batches, falls back linearly
    to `start_rate` over the next `half`, then falls linearly to `last_rate` over the remaining
    ones (and stays there if training goes on). When the optimizer has a nonzero `momentum`
    (SGD) or a `beta_1` (Adam family), that goes the other way: from `max_momentum` down to
    `min_momentum` while the rate rises, back up while it falls, then `max_momentum`.

    Args:
        iterations: total number of training batches, usually
            `math.ceil(len(X_train) / batch_size) * epochs`.
        max_rate: the peak learning rate (`max_lr` is accepted too, as in the book's 3rd
            edition).
        start_rate: the first and middle rate; default `max_rate / 10`.
        last_iterations: length of the final phase; default `iterations // 10 + 1`.
        last_rate: the final rate; default `start_rate / 1000`.
        max_momentum, min_momentum: the momentum's range; None for either leaves the momentum
            alone.

    Attributes:
        iteration: the number of batches seen so far (kept across `fit` calls, as in the book).

    Raises:
        ValueError: for a non-positive `iterations` or `max_rate`, or `last_iterations` outside
            [1, iterations].

    Example:
        >>> from fastdnn.callbacks import OneCycleScheduler
        >>> onecycle = OneCycleScheduler(iterations=100, max_rate=0.1)
        >>> onecycle.rate_at(0), onecycle.rate_at(44), onecycle.rate_at(88)
        (0.01, 0.1, 0.01)
        >>> onecycle.momentum_at(44)
        0.85
    """

    def __init__(self, iterations, max_rate=None, start_rate=None, last_iterations=None,
                 last_rate=None, max_momentum=0.95, min_momentum=0.85, *, max_lr=None,
                 start_lr=None, last_lr=None):
        super().__init__()
        max_rate = max_rate if max_rate is not None else max_lr if max_lr is not None else 1e-3
        start_rate = start_rate if start_rate is not None else start_lr
        last_rate = last_rate if last_rate is not None else last_lr
        if not (isinstance(iterations, numbers.Integral) and iterations > 0):
            raise ValueError("Received an invalid value for `iterations`, expected a positive "
                             f"integer. Received: iterations={iterations!r}")
        if not (is_number(max_rate) and max_rate > 0):
            raise ValueError("Received an invalid value for `max_rate`, expected a positive "
                             f"float. Received: max_rate={max_rate!r}")
        self.iterations = int(iterations)
        self.max_rate = float(max_rate)
        self.start_rate = float(start_rate) if start_rate else self.max_rate / 10
        self.last_iterations = int(last_iterations or self.iterations // 10 + 1)
        if not 1 <= self.last_iterations <= self.iterations:
            raise ValueError("Received an invalid value for `last_iterations`, expected an "
                             f"integer in [1, iterations={self.iterations}]. Received: "
                             f"last_iterations={last_iterations!r}")
        self.half_iteration = (self.iterations - self.last_iterations) // 2
        self.last_rate = float(last_rate) if last_rate else self.start_rate / 1000
        self.max_momentum = max_momentum
        self.min_momentum = min_momentum
        self.iteration = 0
        self._momentum_name = None

    @staticmethod
    def _interpolate(iteration, iter1, iter2, value1, value2):
        return (value2 - value1) * (iteration - iter1) / (iter2 - iter1) + value1

    def rate_at(self, iteration):
        """The learning rate of batch `iteration` (0-based, counted over the whole training)."""
        half = self.half_iteration
        if iteration < half:
            return self._interpolate(iteration, 0, half, self.start_rate, self.max_rate)
        if iteration < 2 * half:
            return self._interpolate(iteration, half, 2 * half, self.max_rate, self.start_rate)
        iteration = min(iteration, self.iterations)
        return self._interpolate(iteration, 2 * half, self.iterations, self.start_rate,
                                 self.last_rate)

    def momentum_at(self, iteration):
        """The momentum of batch `iteration`: the mirror image of the rate's cycle."""
        half = self.half_iteration
        if iteration < half:
            return self._interpolate(iteration, 0, half, self.max_momentum, self.min_momentum)
        if iteration < 2 * half:
            return self._interpolate(iteration, half, 2 * half, self.min_momentum,
                                     self.max_momentum)
        return self.max_momentum

    def on_train_begin(self, logs=None):
        optimizer = optimizer_of(self)
        self._momentum_name = None
        if self.max_momentum is not None and self.min_momentum is not None:
            if getattr(optimizer, "momentum", 0):  # plain SGD (momentum 0) stays plain
                self._momentum_name = "momentum"
            elif hasattr(optimizer, "beta_1"):
                self._momentum_name = "beta_1"

    def on_train_batch_begin(self, batch, logs=None):
        optimizer = optimizer_of(self)
        set_learning_rate(optimizer, self.rate_at(self.iteration))
        if self._momentum_name is not None:
            setattr(optimizer, self._momentum_name, float(self.momentum_at(self.iteration)))
        self.iteration += 1
