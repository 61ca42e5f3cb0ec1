"""What a layer call knows about the call it runs inside, per thread.

* `training` is inherited: a layer called without `training=` inside another layer's or a
  model's call takes the outer call's value, as in Keras 3, so a subclassed model's
  `self.dropout(x)` drops during `fit`.
* Losses that layers add with `add_loss` during one outermost call are collected here, so that
  the training step can add them to the loss on its tape, and each layer keeps those of the
  latest outermost call (`layer.losses`).
* `capture_outputs()` records every layer's output of one forward pass (for a GradientMonitor).
* `probing()` marks a call made only to learn an output shape: it adds no loss and records
  nothing.
"""

import contextlib
import threading


class _NoiseOnly:
    """A `training` value under which the dropout family trains and every other layer infers
    (Monte Carlo Dropout, fastdnn.mc_dropout_predict): false to any layer that tests
    `if training:`, recognised by the noise layers."""

    def __bool__(self):
        return False

    def __repr__(self):
        return "NOISE_ONLY"


NOISE_ONLY = _NoiseOnly()


class _State(threading.local):
    depth = 0  # layer calls in progress
    generation = 0  # outermost calls so far: tells which added losses are current
    training = None  # the training flag of the innermost call in progress
    added = None  # losses added during the current (or latest) outermost call
    collecting = False  # a training step collects `added` itself
    capture = None  # dict id(layer) -> (layer, output) while outputs are captured
    probing = False


state = _State()


def added_losses():
    """The losses added with `add_loss` during the latest outermost call."""
    return list(state.added or ())


class collect_losses:  # noqa: N801 - a context manager, named as the others; a class: cheap per step
    """Within the block, every `add_loss` lands in the list this yields (one training step)."""

    __slots__ = ("saved",)

    def __enter__(self):
        self.saved = state.added, state.collecting
        state.added, state.collecting = [], True
        return state.added

    def __exit__(self, *exc):
        state.added, state.collecting = self.saved
        return False


class one_call:  # noqa: N801 - a context manager, as collect_losses
    """Within the block, the layer calls made one after another run as parts of one outermost
    call (a training step that runs a model's layers itself, trainers/split_step.py): the
    losses they add are all current, as after one call of the model."""

    __slots__ = ("saved",)

    def __enter__(self):
        self.saved = state.depth
        if not self.saved:
            state.generation += 1
        state.depth = self.saved + 1

    def __exit__(self, *exc):
        state.depth = self.saved
        return False


@contextlib.contextmanager
def capture_outputs():
    """Within the block, each layer's latest output lands in the dict this yields, keyed by
    id(layer), as (layer, output)."""
    saved = state.capture
    state.capture = {}
    try:
        yield state.capture
    finally:
        state.capture = saved


@contextlib.contextmanager
def probing():
    """A call made to learn shapes only: no added losses, no captured outputs."""
    saved = state.probing, state.capture
    state.probing, state.capture = True, None
    try:
        yield
    finally:
        state.probing, state.capture = saved
