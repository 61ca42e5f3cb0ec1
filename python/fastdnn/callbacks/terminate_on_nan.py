"""TerminateOnNaN: stops at the first non-finite loss, keeping the last good weights."""

import math

from ._helpers import print_text
from .callback import Callback
from .step_hook import KeepLastGood


class TerminateOnNaN(Callback):
    """Stops training as soon as a batch's loss is NaN or infinite.

    Unlike Keras, the model keeps its last good weights: through its step hook
    (`KeepLastGood`), a step whose loss is not finite updates nothing (the built-in
    `train_step` skips the optimizer and puts back the BatchNormalization statistics that step's
    forward pass moved).

    Example:
        >>> from fastdnn.callbacks import TerminateOnNaN
        >>> class Model:
        ...     stop_training = False
        >>> cb = TerminateOnNaN(); cb.set_model(Model())
        >>> cb.on_batch_end(3, {"loss": float("nan")})
        Batch 3: Invalid loss, terminating training
        >>> cb.model.stop_training
        True
    """

    _hook = KeepLastGood()

    def step_hook(self):
        return self._hook

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            print_text(f"Batch {batch}: Invalid loss, terminating training\n")
            self.model.stop_training = True
