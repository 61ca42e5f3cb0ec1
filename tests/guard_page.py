"""Arrays that end right before an unreadable page, so that a kernel reading even one float past
an operand's end dies with SIGSEGV instead of silently reading a neighbour's memory (Linux only).

Run as a script (tests/test_bounds.py does, in a child process):
    python guard_page.py ISA OPERAND
checks matmul/dense with OPERAND (a, b, bias or out) guarded, over transposes and edge shapes,
and prints 'ok' when every result is right.
"""

import ctypes
import itertools
import mmap
import sys

import numpy as np

PAGE = mmap.PAGESIZE
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
_keep = []  # the mappings must outlive the arrays that view them


def guarded(values):
    """A writable, C-contiguous float32 copy of `values` whose last byte is followed by a
    PROT_NONE page."""
    values = np.asarray(values, np.float32)
    n = values.nbytes
    pages = (n + PAGE - 1) // PAGE + 1
    buf = mmap.mmap(-1, pages * PAGE)
    addr = ctypes.addressof(ctypes.c_char.from_buffer(buf))
    if _libc.mprotect(addr + (pages - 1) * PAGE, PAGE, 0) != 0:
        raise OSError(ctypes.get_errno(), "mprotect failed")
    _keep.append(buf)
    arr = np.frombuffer(buf, np.float32, count=values.size, offset=(pages - 1) * PAGE - n)
    arr = arr.reshape(values.shape)
    arr[...] = values
    return arr


def main(isa, operand):
    import fastdnn
    from fastdnn import ops

    fastdnn.set_isa(isa)
    rng = np.random.default_rng(0)
    for (m, n, k), ta, tb in itertools.product(
            [(1, 1, 1), (5, 17, 9), (3, 33, 130), (9, 7, 1)], [False, True], [False, True]):
        a = rng.uniform(-1, 1, (k, m) if ta else (m, k)).astype(np.float32)
        b = rng.uniform(-1, 1, (n, k) if tb else (k, n)).astype(np.float32)
        bias = rng.uniform(-1, 1, n).astype(np.float32)
        out = np.zeros((m, n), np.float32)
        if operand == "a":
            a = guarded(a)
        elif operand == "b":
            b = guarded(b)
        elif operand == "bias":
            bias = guarded(bias)
        elif operand == "out":
            out = guarded(out)
        ref = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b)
        tol = 1e-5 * max(k, 1)
        c = ops.matmul(a, b, transpose_a=ta, transpose_b=tb, out=out)
        assert np.abs(c - ref).max() <= tol, (m, n, k, ta, tb)
        ops.matmul(a, b, transpose_a=ta, transpose_b=tb, out=out, accumulate=True)
        assert np.abs(out - 2 * ref).max() <= 2 * tol, (m, n, k, ta, tb, "accumulate")
        if not ta and not tb:
            y = ops.dense(a, b, bias, "tanh", out=out)
            assert np.abs(y - np.tanh(ref + bias)).max() <= tol, (m, n, k, "dense")
    print("ok")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
