"""LambdaCallback: a callback made of plain functions."""

from .callback import _HOOKS, Callback


class LambdaCallback(Callback):
    """A callback made of plain functions, for simple hooks without a subclass.

    `on_epoch_begin`/`on_epoch_end` are called as `f(epoch, logs)`, `on_train_begin`/
    `on_train_end` as `f(logs)`, and the batch hooks as `f(batch, logs=logs)`.

    Args:
        on_epoch_begin, on_epoch_end, on_train_begin, on_train_end, on_train_batch_begin,
        on_train_batch_end: functions for those hooks, or None.
        **kwargs: functions for any other hook of `Callback`, by its name, e.g.
            `on_test_end=f`.

    Raises:
        ValueError: if a keyword argument is not the name of a hook.

    Example:
        >>> from fastdnn.callbacks import LambdaCallback
        >>> losses = []
        >>> cb = LambdaCallback(on_epoch_end=lambda epoch, logs: losses.append(logs["loss"]))
        >>> cb.on_epoch_end(0, {"loss": 0.3}); losses
        [0.3]
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None,
                 **kwargs):
        super().__init__()
        for name in kwargs:
            if name not in _HOOKS:
                raise ValueError(f"LambdaCallback received an unknown hook `{name}`, expected "
                                 f"one of {', '.join(_HOOKS)}. Received: {name}={kwargs[name]!r}")
        kwargs.update(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                      on_train_begin=on_train_begin, on_train_end=on_train_end,
                      on_train_batch_begin=on_train_batch_begin,
                      on_train_batch_end=on_train_batch_end)
        for name, function in kwargs.items():
            if function is not None:
                setattr(self, name, function)  # an instance attribute hides the method
