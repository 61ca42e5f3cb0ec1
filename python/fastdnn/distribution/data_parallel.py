"""The distribution in effect: `DataParallel` (one replica per MPI process), set with
`set_distribution` or `with DataParallel().scope():`, as in `keras.distribution`.

It also says which rows of a global batch are this rank's (`shard_bounds`), and, while a step
runs, where this rank's rows sit in the global batch (`current_window`): dropout keys its masks
by the global row, and synchronized BatchNormalization counts the global batch.
"""

import contextlib

from .world import initialize

_STATE = {"distribution": None, "window": None}


def shard_bounds(rows, rank, size):
    """[lo, hi) of rank's share of `rows` rows: np.array_split's split (the first rows % size
    ranks take one row more)."""
    base, extra = divmod(rows, size)
    lo = rank * base + min(rank, extra)
    return lo, lo + base + (1 if rank < extra else 0)


class DataParallel:
    """Data parallelism over the processes `mpiexec` started: every process holds the whole
    model, takes its slice of each global batch, and the gradients are averaged.

    Args:
        devices: None (one replica per process), or a list with one entry per process (as
            `list_devices()` gives).
        auto_shard_dataset: True: `fit`, `evaluate` and `predict` cut array data by rank.

    Raises:
        ImportError: without mpi4py.
        ValueError: for a device list that does not name one device per process.
        NotImplementedError: for `device_mesh` (model parallelism is not implemented).
    """

    def __init__(self, device_mesh=None, devices=None, auto_shard_dataset=True, **kwargs):
        if kwargs:
            raise TypeError(f"DataParallel() got unexpected keyword arguments {sorted(kwargs)}")
        if device_mesh is not None:
            raise NotImplementedError("DataParallel(device_mesh=...) is not implemented: fastdnn's data "
                                      "parallelism runs one replica per MPI process; pass devices=None.")
        if auto_shard_dataset is not True:
            raise NotImplementedError("DataParallel(auto_shard_dataset=False) is not implemented: array "
                                      "data are always cut by rank; pass each rank's own batches through a "
                                      "generator if you shard them yourself.")
        self.communicator = initialize()
        if devices is not None and len(devices) != self.communicator.size:
            raise ValueError(f"DataParallel(devices=...) needs one device per process: mpiexec started "
                             f"{self.communicator.size} processes, and {len(devices)} devices were given.")
        self.devices = list(devices) if devices is not None else list_devices()
        self.auto_shard_dataset = True

    @property
    def num_replicas(self):
        return self.communicator.size

    @property
    def rank(self):
        return self.communicator.rank

    @property
    def is_chief(self):
        return self.communicator.is_chief

    @contextlib.contextmanager
    def scope(self):
        """Makes this the distribution in effect inside the block."""
        previous = _STATE["distribution"]
        _STATE["distribution"] = self
        try:
            yield self
        finally:
            _STATE["distribution"] = previous

    def __repr__(self):
        return f"DataParallel(num_replicas={self.num_replicas}, rank={self.rank})"


def set_distribution(value):
    """Sets the distribution in effect (a DataParallel, or None for one process).

    Raises:
        TypeError: for anything else.
    """
    if value is not None and not isinstance(value, DataParallel):
        raise TypeError(f"set_distribution takes a DataParallel or None. Received: {type(value).__name__}")
    _STATE["distribution"] = value


def distribution():
    """The distribution in effect, or None."""
    return _STATE["distribution"]


def active_communicator():
    """The Communicator of the distribution in effect when it has more than one process, else None."""
    dist = _STATE["distribution"]
    return dist.communicator if dist is not None and dist.communicator.size > 1 else None


def list_devices(device_type=None):
    """The devices of the world, one per process: "cpu:<rank>" (MPI's processes run on the CPU).

    Raises:
        ValueError: for a device type other than "cpu" (the GPU path over NCCL is not built).
    """
    if device_type not in (None, "cpu", "CPU"):
        raise ValueError(f"list_devices({device_type!r}): fastdnn's distribution runs on the CPU over MPI; "
                         "pass device_type=None or 'cpu'.")
    comm = initialize()
    return [f"cpu:{rank}" for rank in range(comm.size)]


@contextlib.contextmanager
def batch_window(window):
    """While a step runs: (first global row of this rank's rows, their number, rows in the
    global batch)."""
    previous = _STATE["window"]
    _STATE["window"] = window
    try:
        yield
    finally:
        _STATE["window"] = previous


def current_window():
    """(row offset, rows, global rows) of the share being trained under a distribution, else None."""
    return _STATE["window"]
