"""Collectives over MPI on NumPy buffers, each with a deadline.

Every collective is started non-blocking and polled: a rank that stops answering (killed,
stuck, or gone on after an exception) makes the others raise `DistributedError` once
`collective_timeout()` seconds have passed, never hang. After one failure, every later
collective raises at once: the world is no longer consistent.

Gradients travel in one flat float32 buffer, reused from step to step and cut into buckets of
`BUCKET_BYTES` that are all in flight together, so a step makes a handful of MPI calls whatever
its number of tensors.
"""

import atexit
import os
import pickle
import time

import numpy as np

# Buckets of this size are reduced concurrently: large enough that the per-call cost (a few
# µs) is noise, small enough that MPI can pipeline them.
BUCKET_BYTES = 4 << 20
_SPIN = 2000  # polls that only yield the core before the poll starts sleeping
DEFAULT_TIMEOUT_S = 300.0


class DistributedError(RuntimeError):
    """A collective failed or timed out: another rank died, hung or raised."""


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


class Communicator:
    """One process's view of the MPI world.

    Attributes:
        rank, size: this process's rank and the world's size.
        local_rank, local_size: the same among the processes of this machine.
    """

    def __init__(self, mpi, comm, local_rank=0, local_size=1):
        self._mpi = mpi
        self._comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self.local_rank, self.local_size = local_rank, local_size
        self._failed = None
        self._stuck, self._abort_registered = [], False
        self._buffer = np.empty(0, np.float32)
        self.reduce_seconds = 0.0  # time spent in gradient all-reduces (for benchmarks)
        self.reduce_calls = 0

    @property
    def is_chief(self):
        return self.rank == 0

    def __repr__(self):
        return f"Communicator(rank={self.rank}, size={self.size}, local_rank={self.local_rank})"

    # ---- waiting -----------------------------------------------------------------------------

    def _wait(self, requests, what):
        if self._mpi.Request.Testall(requests):
            return
        deadline = time.monotonic() + collective_timeout()
        polls = 0
        while not self._mpi.Request.Testall(requests):
            polls += 1
            if polls < _SPIN:
                os.sched_yield()
            else:
                time.sleep(2e-4)
            if polls % 64 == 0 and time.monotonic() > deadline:
                self._failed = (f"rank {self.rank}: the other ranks did not join the {what} within "
                                f"{collective_timeout():g} s (FASTDNN_COLLECTIVE_TIMEOUT); a rank died, hung "
                                "or raised. The job cannot go on: this process ends the job when it exits.")
                # MPI cannot cancel a collective: its requests (and the buffers they hold) stay
                # alive, and at exit the job is aborted rather than finalized around them.
                self._stuck.append(requests)
                if not self._abort_registered:
                    atexit.register(self.abort, 1)
                    self._abort_registered = True
                raise DistributedError(self._failed)

    def _check(self):
        if self._failed is not None:
            raise DistributedError(self._failed)

    # ---- arrays ------------------------------------------------------------------------------

    def allreduce_sum(self, array, what="all-reduce"):
        """Sums a contiguous float32 or float64 array over the ranks, in place; returns it."""
        self._check()
        flat = array.reshape(-1)
        step = max(1, BUCKET_BYTES // flat.itemsize)
        requests = [self._comm.Iallreduce(self._mpi.IN_PLACE, flat[lo:lo + step], op=self._mpi.SUM)
                    for lo in range(0, flat.size, step)]
        self._wait(requests, what)
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
        self._check()
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
        self._check()
        flat = array.reshape(-1)
        self._wait([self._comm.Ibcast(flat, root=root)], what)
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
        self._check()
        data = np.frombuffer(pickle.dumps(obj), np.uint8)
        sizes = np.zeros(self.size, np.int64)
        self._wait([self._comm.Iallgather(np.array([data.size], np.int64), sizes)], what)
        out = np.empty(int(sizes.sum()), np.uint8)
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        self._wait([self._comm.Iallgatherv(data, [out, sizes, offsets, self._mpi.BYTE])], what)
        return [pickle.loads(out[o:o + s].tobytes()) for o, s in zip(offsets, sizes)]

    def allgather_rows(self, array, what="all-gather"):
        """Every rank's rows of `array` (same trailing shape and dtype), stacked in rank order."""
        self._check()
        array = np.ascontiguousarray(array)
        counts = np.zeros(self.size, np.int64)
        self._wait([self._comm.Iallgather(np.array([array.shape[0]], np.int64), counts)], what)
        row = int(np.prod(array.shape[1:], dtype=np.int64))
        out = np.empty((int(counts.sum()),) + array.shape[1:], array.dtype)
        sizes = counts * row
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        mpi_type = self._mpi._typedict[array.dtype.char]
        self._wait([self._comm.Iallgatherv(array.reshape(-1), [out.reshape(-1), sizes, offsets, mpi_type])], what)
        return out

    def any(self, flag, what="vote"):
        """Whether `flag` is true on any rank."""
        return bool(self.allreduce_sum(np.array([1.0 if flag else 0.0]), what)[0] > 0)

    def barrier(self, what="barrier"):
        self._check()
        self._wait([self._comm.Ibarrier()], what)

    def abort(self, code=1):
        """Ends every rank of the job (MPI_Abort)."""
        self._comm.Abort(code)
