"""Collectives over MPI on NumPy buffers, under a watchdog.

Every collective is one blocking MPI call (on this machine a blocking all-reduce of 1 MiB takes
about half the time of a non-blocking one polled to completion). A watchdog thread bounds the
wait: when a collective has not completed `collective_timeout()` seconds after it started (a rank
died, hung, or went on after an exception), it prints which collective on which rank and ends
the job, so that no rank ever hangs. Files written before (checkpoints are atomic) stay whole.

Gradients travel in one flat float32 buffer, reused from step to step, cut into buckets of
`BUCKET_BYTES`: a step makes a handful of MPI calls whatever its number of tensors.
"""

import os
import pickle
import sys
import threading
import time

import numpy as np

# Gradients are all-reduced in buckets of this size: large enough that the per-call cost (a
# few µs) is noise, small enough to bound MPI's temporary buffers.
BUCKET_BYTES = 16 << 20
DEFAULT_TIMEOUT_S = 300.0
_EXIT_CODE = 70  # the watchdog's exit status (EX_SOFTWARE)


def collective_timeout():
    """Seconds a rank waits for the others in one collective: $FASTDNN_COLLECTIVE_TIMEOUT, or 300.

    Raises:
        ValueError: for a value that is not a positive number.
    """
    raw = os.environ.get("FASTDNN_COLLECTIVE_TIMEOUT")
    if raw is None:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise ValueError(f"FASTDNN_COLLECTIVE_TIMEOUT must be a number of seconds > 0. Received: {raw!r}")
    return value


class _Watchdog:
    """Ends the process when a collective outlives its deadline (see the module docstring)."""

    def __init__(self, rank, timeout):
        self.rank, self.timeout = rank, timeout
        self._deadline, self._what = None, None
        self._thread = threading.Thread(target=self._watch, name="fastdnn-collective-watchdog", daemon=True)
        self._thread.start()

    def arm(self, what):
        self._what = what
        self._deadline = time.monotonic() + self.timeout

    def disarm(self):
        self._deadline = None

    def _watch(self):
        period = min(0.25, self.timeout / 4)
        while True:
            time.sleep(period)
            deadline = self._deadline
            if deadline is not None and time.monotonic() > deadline:
                message = (f"fastdnn.distribution: rank {self.rank}: the other ranks did not join the "
                           f"{self._what} within {self.timeout:g} s (FASTDNN_COLLECTIVE_TIMEOUT): a rank died, "
                           "hung or raised. Ending the job.\n")
                try:
                    sys.stderr.flush()
                    os.write(2, message.encode())
                finally:
                    os._exit(_EXIT_CODE)


class Communicator:
    """One process's view of the MPI world.

    Attributes:
        rank, size: this process's rank and the world's size.
        local_rank, local_size: the same among the processes of this machine.
        reduce_seconds, reduce_calls: time in, and number of, gradient all-reduces (benchmarks).
    """

    def __init__(self, mpi, comm, local_rank=0, local_size=1):
        self._mpi = mpi
        self._comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self.local_rank, self.local_size = local_rank, local_size
        self._watchdog = _Watchdog(self.rank, collective_timeout())
        self._buffer = np.empty(0, np.float32)
        self.reduce_seconds = 0.0
        self.reduce_calls = 0

    @property
    def is_chief(self):
        return self.rank == 0

    def __repr__(self):
        return f"Communicator(rank={self.rank}, size={self.size}, local_rank={self.local_rank})"

    def _run(self, what, call, *args, **kwargs):
        watchdog = self._watchdog
        watchdog.arm(what)
        try:
            return call(*args, **kwargs)
        finally:
            watchdog.disarm()

    # ---- arrays ------------------------------------------------------------------------------

    def allreduce_sum(self, array, what="all-reduce"):
        """Sums a contiguous float32 or float64 array over the ranks, in place; returns it."""
        flat = array.reshape(-1)
        step = max(1, BUCKET_BYTES // flat.itemsize)
        for lo in range(0, flat.size, step):
            self._run(what, self._comm.Allreduce, self._mpi.IN_PLACE, flat[lo:lo + step], op=self._mpi.SUM)
        return array

    def average_gradients(self, grads, flags=()):
        """The mean over the ranks of each gradient, and the sums of `flags` (small counts).

        Args:
            grads: float32 arrays (None entries stay None).
            flags: numbers summed over the ranks in the same call (status bits).

        Returns:
            (list of averaged arrays, views of one reused buffer valid until the next call;
            list of summed flags as ints).
        """
        present = [g for g in grads if g is not None]
        total = sum(g.size for g in present) + len(flags)
        if self._buffer.size != total:
            self._buffer = np.empty(total, np.float32)
        buf = self._buffer
        lo = 0
        for g in present:
            buf[lo:lo + g.size] = g.reshape(-1)
            lo += g.size
        buf[lo:] = flags
        start = time.perf_counter()
        self.allreduce_sum(buf, "gradient all-reduce")
        self.reduce_seconds += time.perf_counter() - start
        self.reduce_calls += 1
        summed = [int(round(float(v))) for v in buf[lo:]]
        buf[:lo] *= np.float32(1.0 / self.size)
        out, lo = [], 0
        for g in grads:
            if g is None:
                out.append(None)
                continue
            out.append(buf[lo:lo + g.size].reshape(g.shape))
            lo += g.size
        return out, summed

    def broadcast_array(self, array, root=0, what="broadcast"):
        """Overwrites a contiguous array with root's, in place; returns it."""
        self._run(what, self._comm.Bcast, array.reshape(-1), root=root)
        return array

    # ---- Python objects (small: configs, fingerprints, epoch numbers) ------------------------

    def broadcast_object(self, obj, root=0, what="broadcast"):
        """root's `obj` on every rank (pickled; for small values)."""
        data = np.frombuffer(pickle.dumps(obj), np.uint8) if self.rank == root else None
        n = np.array([0 if data is None else data.size], np.int64)
        self.broadcast_array(n, root, what)
        buf = data.copy() if data is not None else np.empty(int(n[0]), np.uint8)
        self.broadcast_array(buf, root, what)
        return obj if self.rank == root else pickle.loads(buf.tobytes())

    def allgather_object(self, obj, what="all-gather"):
        """[every rank's `obj`], in rank order (pickled; for small values)."""
        data = np.frombuffer(pickle.dumps(obj), np.uint8)
        sizes = np.zeros(self.size, np.int64)
        self._run(what, self._comm.Allgather, np.array([data.size], np.int64), sizes)
        out = np.empty(int(sizes.sum()), np.uint8)
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        self._run(what, self._comm.Allgatherv, data, [out, sizes, offsets, self._mpi.BYTE])
        return [pickle.loads(out[o:o + s].tobytes()) for o, s in zip(offsets, sizes)]

    def allgather_rows(self, array, what="all-gather"):
        """Every rank's rows of `array` (same trailing shape and dtype), stacked in rank order."""
        array = np.ascontiguousarray(array)
        counts = np.zeros(self.size, np.int64)
        self._run(what, self._comm.Allgather, np.array([array.shape[0]], np.int64), counts)
        row = int(np.prod(array.shape[1:], dtype=np.int64))
        out = np.empty((int(counts.sum()),) + array.shape[1:], array.dtype)
        sizes = counts * row
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        mpi_type = self._mpi._typedict[array.dtype.char]
        self._run(what, self._comm.Allgatherv, array.reshape(-1), [out.reshape(-1), sizes, offsets, mpi_type])
        return out

    def any(self, flag, what="vote"):
        """Whether `flag` is true on any rank."""
        return bool(self.allreduce_sum(np.array([1.0 if flag else 0.0]), what)[0] > 0)

    def abort(self, code=1):
        """Ends every rank of the job (MPI_Abort)."""
        self._comm.Abort(code)
