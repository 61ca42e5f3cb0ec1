"""History: records the logs of every epoch; `fit` returns it."""

from ._helpers import used_learning_rate_of
from .callback import Callback


class History(Callback):
    """Records the `logs` of every epoch; `fit` returns it (and sets it as `model.history`).

    When the logs have no "learning_rate" (no scheduler callback logged it) and the model has an
    optimizer with a learning rate, the rate the epoch's last step used is recorded under that
    name too (its schedule and `decay=` applied).

    Attributes:
        history: dict from metric name to the list of its values, one per epoch.
        epoch: the indices of the epochs recorded by the latest `fit`.

    Example:
        >>> from fastdnn.callbacks import History
        >>> h = History()
        >>> h.on_train_begin()
        >>> for epoch, loss in enumerate([0.9, 0.5]):
        ...     h.on_epoch_end(epoch, {"loss": loss})
        >>> h.epoch, h.history
        ([0, 1], {'loss': [0.9, 0.5]})
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []  # `history` is kept: a History passed to two fits appends to it

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        logs = logs or {}
        for name, value in logs.items():
            self.history.setdefault(name, []).append(value)
        if "learning_rate" not in logs:  # unless a scheduler callback already logged it
            learning_rate = used_learning_rate_of(self.model)
            if learning_rate is not None:
                self.history.setdefault("learning_rate", []).append(learning_rate)
        if self.model is not None:
            self.model.history = self
