"""The interface through which callbacks reach inside the training step.

`CallbackList.step_hooks` gathers the `StepHook` of each callback (`Callback.step_hook()`), and
the built-in `train_step` runs them, in list order, around the weight update of each batch:

    for each hook: hook.begin_step()          -> whether it observes this step
    forward pass (each layer's output captured when a hook observes), loss, gradients
    if the loss is not finite and a hook has keep_last_good: undo the forward pass's updates
        of non-trainable weights (BatchNormalization statistics) and stop here
    for each observing hook: hook.before_update(variables, gradients, outputs)
    optimizer update, constraints
    for each observing hook: hook.after_update(loss)

A `train_step` written by the user runs no hooks.
"""


class StepHook:
    """What a callback may do inside each step of the built-in training step.

    Attributes:
        keep_last_good: when True, a step whose loss is not finite changes nothing: the
            non-trainable weights its forward pass moved are put back and the optimizer does not
            run (TerminateOnNaN sets it).

    Example:
        >>> class CountSteps(StepHook):
        ...     def __init__(self):
        ...         self.count = 0
        ...     def begin_step(self):
        ...         return True
        ...     def after_update(self, loss):
        ...         self.count += 1
    """

    keep_last_good = False

    def begin_step(self):
        """Whether this hook observes the coming step (its outputs captured, the update hooks
        called)."""
        return False

    def before_update(self, variables, grads, outputs):
        """Called before the weight update of an observed step.

        Args:
            variables: the trainable Variables, in the order of `grads`.
            grads: their gradients (None where a variable gets none).
            outputs: dict id(layer) -> (layer, output) of every layer's output in this forward
                pass.
        """

    def after_update(self, loss):
        """Called after the weight update (and the constraints) of an observed step, with the
        step's loss (penalties included) as a float."""


class KeepLastGood(StepHook):
    """The hook of TerminateOnNaN: a step with a non-finite loss changes nothing."""

    keep_last_good = True
