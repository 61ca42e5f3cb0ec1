"""What `fit`, `evaluate` and `predict` do differently under a DataParallel distribution
(fastdnn.distribution): one `Replica` per loop, the trainer's single point of contact with the
other processes.

    start        every rank checks that the others run the same model, optimizer, data and
                 settings (an error at the first step, not silent divergence), then takes rank
                 0's weights, optimizer state, dropout streams and resumed epoch;
    loss_scale   the built-in step scales this rank's loss by rows·ranks/global rows, so that
                 the averaged gradient is the gradient of the global batch's mean loss even when
                 the shares differ by a row;
    reduce       averages the gradients in one bucketed all-reduce that also carries each
                 rank's status (non-finite loss, stop requested, Ctrl-C), so that every rank
                 takes the same decision after the same step;
    metrics      while the loop runs, the metrics' results are those of their state summed
                 over the ranks: every rank logs the global values.
"""

import hashlib
import json
import signal

import numpy as np

from .. import random as frandom
from .._dispatch import host
from ..distribution.data_parallel import active_communicator
from ..noise import NoiseStream

_NONFINITE, _STOP, _INTERRUPT = range(3)


def _strip_names(value):
    if isinstance(value, dict):
        return {k: _strip_names(v) for k, v in value.items() if k != "name"}
    if isinstance(value, (list, tuple)):
        return [_strip_names(v) for v in value]
    return value


def _digest(value):
    return hashlib.sha1(json.dumps(value, sort_keys=True, default=repr).encode()).hexdigest()[:12]


def _layer_configs(model):
    out = []
    for layer in model._flatten_layers(include_self=False):
        try:
            config = _strip_names(layer.get_config())
        except Exception:  # noqa: BLE001 (a custom layer without get_config: its class and weights)
            config = None
        out.append([type(layer).__name__, config])
    return out


def _short(value, limit=120):
    text = value if isinstance(value, str) else json.dumps(value, default=repr)
    return text if len(text) <= limit else text[:limit] + "..."


def _first_layer_difference(per_rank):
    """The first layer whose class or config differs between the ranks, in words."""
    if len({len(layers) for layers in per_rank}) > 1:
        return "number of layers: " + ", ".join(f"rank {i}: {len(layers)}" for i, layers in enumerate(per_rank))
    for index, entries in enumerate(zip(*per_rank)):
        if len({json.dumps(e, sort_keys=True, default=repr) for e in entries}) == 1:
            continue
        kinds = {e[0] for e in entries}
        if len(kinds) > 1:
            return f"layer {index}: " + ", ".join(f"rank {i}: {e[0]}" for i, e in enumerate(entries))
        configs = [e[1] or {} for e in entries]
        keys = sorted({k for c in configs for k in c if len({json.dumps(d.get(k), default=repr)
                                                             for d in configs}) > 1})
        return f"layer {index} ({entries[0][0]}) " + "; ".join(
            f"{k}: " + ", ".join(f"rank {i}: {_short(c.get(k), 60)}" for i, c in enumerate(configs)) for k in keys)
    return "layers"


def _metric_variables(metrics):
    out = []
    for metric in metrics:
        if hasattr(metric, "variables") and not hasattr(metric, "metrics"):
            out += list(metric.variables)
        elif hasattr(metric, "metrics"):
            out += _metric_variables(metric.metrics)
    return out


def _noise_streams(model):
    return [value for layer in model._flatten_layers() for value in vars(layer).values()
            if isinstance(value, NoiseStream)]


class Replica:
    """One loop's link to the other ranks (see the module's docstring).

    Args:
        model: the model being trained, evaluated or run.
        comm: the world's Communicator.
    """

    def __init__(self, model, comm):
        self.model, self.comm = model, comm
        self.interrupt = None  # fit's deferred interrupt, when fit runs
        self._agreed = None  # the flags of this step's reduce, once it ran

    @classmethod
    def current(cls, model):
        """A Replica when a DataParallel distribution with more than one process is in effect."""
        comm = active_communicator()
        if comm is None:
            return None
        if model._on_gpu():
            raise NotImplementedError("Data parallelism over NCCL on GPUs is not implemented: under "
                                      "DataParallel, train the model on the CPU (one process per core "
                                      "group) over MPI.")
        return cls(model, comm)

    # ---- the start of a loop -------------------------------------------------------------------

    def check_same(self, **settings):
        """Raises on every rank when the ranks differ in model, optimizer or `settings`.

        Raises:
            ValueError: naming what differs and on which ranks.
        """
        model = self.model
        mine = {"layers": _layer_configs(model), "weight shapes": [list(v.shape) for v in model.weights]}
        if getattr(model, "optimizer", None) is not None:
            mine["optimizer"] = [type(model.optimizer).__name__, _strip_names(model.optimizer.get_config())]
        mine.update({k: repr(v) for k, v in settings.items()})
        everyone = self.comm.allgather_object({k: (_digest(v), v) for k, v in mine.items()},
                                              "check that the ranks agree")
        problems = []
        for key in mine:
            if len({r[key][0] for r in everyone}) == 1:
                continue
            if key == "layers":
                problems.append(_first_layer_difference([r[key][1] for r in everyone]))
            else:
                problems.append(f"{key}: " + ", ".join(f"rank {i}: {_short(r[key][1])}"
                                                      for i, r in enumerate(everyone)))
        if problems:
            raise ValueError("The processes of this DataParallel run differ, and would train apart: "
                             + "; ".join(problems) + ". Every rank must build the same model and optimizer "
                             "and pass the same data sizes and arguments.")

    def take_chief_state(self, resumed_epoch=None, optimizer=True):
        """Every rank takes rank 0's weights, optimizer state, dropout streams and resumed epoch
        (returned)."""
        comm, model = self.comm, self.model
        for var in model.weights:
            value = np.ascontiguousarray(host(var.numpy()))
            comm.broadcast_array(value, what="weights' broadcast")
            if comm.rank:
                var.assign(value)
        if optimizer and getattr(model, "optimizer", None) is not None:
            variables = model.trainable_weights
            state = comm.broadcast_object(model.optimizer.get_state(variables) if comm.rank == 0 else None,
                                          what="optimizer state's broadcast")
            if comm.rank:
                model.optimizer.set_state(variables, state)
        streams = _noise_streams(model)
        chief = comm.broadcast_object((frandom.philox_state(), [(s.seed, s.stream, s.step) for s in streams],
                                       resumed_epoch), what="random state's broadcast")
        (seed, count), coords, resumed_epoch = chief
        frandom.set_philox_state(seed, count)
        for stream, (s_seed, s_stream, s_step) in zip(streams, coords):
            stream.seed, stream.stream, stream.step = s_seed, s_stream, s_step
        return resumed_epoch

    # ---- each step -----------------------------------------------------------------------------

    def loss_scale(self, rows, window):
        """rows·ranks/global rows, for a share of `rows` rows at `window` = (offset, rows,
        global rows) of a global batch (1 without a window: each rank's batches are its own)."""
        return 1.0 if window is None else rows * self.comm.size / window[2]

    def reduce(self, grads, nonfinite):
        """(averaged gradients, agreed flags) of one training step; see the module docstring."""
        interrupt = self.interrupt
        pending = bool(interrupt is not None and interrupt.pending)
        if pending:
            interrupt.pending = False  # sent now; raised on every rank once agreed
        flags = [float(nonfinite), float(bool(self.model.stop_training)), float(pending)]
        grads, summed = self.comm.average_gradients(grads, flags)
        self._agreed = summed
        return grads, summed

    def halted(self):
        """After a step: whether every rank stops here (a stop asked for before this step, on
        any rank). Raises KeyboardInterrupt on every rank once any rank was interrupted. The
        built-in step agreed in its all-reduce (and skipped its update); after a custom
        train_step the ranks vote here."""
        agreed, self._agreed = self._agreed, None
        if agreed is None:
            interrupt = self.interrupt
            pending = bool(interrupt is not None and interrupt.pending)
            if pending:
                interrupt.pending = False
            votes = np.array([0.0, float(bool(self.model.stop_training)), float(pending)])
            agreed = [int(v) for v in self.comm.allreduce_sum(votes, "stop vote")]
        if agreed[_INTERRUPT]:
            raise KeyboardInterrupt
        if agreed[_STOP]:
            self.model.stop_training = True
            return True
        return False

    @staticmethod
    def skips_update(agreed):
        """Whether the step must leave the weights as they are (a rank stops or was interrupted)."""
        return bool(agreed[_STOP] or agreed[_INTERRUPT])

    def vote_stop(self):
        """At the end of an epoch: stop on every rank if any rank asks to."""
        self.model.stop_training = self.comm.any(self.model.stop_training, "stop vote")

    # ---- metrics -------------------------------------------------------------------------------

    def global_results(self, compute):
        """`compute()` (the metrics' results) with every metric's state summed over the ranks."""
        variables = _metric_variables(self.model.metrics)
        if not variables:
            return compute()
        local = [v.numpy() for v in variables]
        total = np.concatenate([np.asarray(a, np.float64).ravel() for a in local] + [np.zeros(0)])
        self.comm.allreduce_sum(total, "metrics' all-reduce")
        lo = 0
        try:
            for var, value in zip(variables, local):
                var.assign(total[lo:lo + value.size].reshape(value.shape).astype(value.dtype))
                lo += value.size
            return compute()
        finally:
            for var, value in zip(variables, local):
                var.assign(value)


def interrupt_signals():
    """The signals fit defers under distribution: Ctrl-C, and the SIGTERM that MPI's launcher
    sends every rank when it is interrupted itself."""
    return (signal.SIGINT, signal.SIGTERM)
