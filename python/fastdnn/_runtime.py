"""Runtime controls: threads, the CPU kernel path, and what this build holds."""

import operator

from . import _C, cuda
from ._version import __version__


def get_num_threads():
    """Number of threads the CPU kernels use, the calling thread included."""
    return int(_C.get_num_threads())


def set_num_threads(n):
    """Sets the number of threads the CPU kernels use.

    The default is the number of CPUs this process may use, or $FASTDNN_NUM_THREADS.
    Small problems run on one thread whatever the setting.

    Args:
        n: a positive integer.

    Raises:
        TypeError: if `n` is not an integer.
        ValueError: if `n` < 1.

    Example:
        >>> import fastdnn
        >>> fastdnn.set_num_threads(1); fastdnn.get_num_threads()
        1
    """
    if isinstance(n, bool):
        raise TypeError(f"set_num_threads expects a positive integer. Received: n={n!r}")
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"set_num_threads expects a positive integer. Received: n={n!r}") from None
    if n < 1:
        raise ValueError(f"set_num_threads expects a positive integer. Received: n={n}")
    _C.set_num_threads(n)


def available_isas():
    """CPU kernel paths this build and CPU can run, fastest first, e.g. ['avx512', 'avx2',
    'portable', 'reference']."""
    return list(_C.available_isas())


def get_isa():
    """The CPU kernel path in use."""
    return str(_C.get_isa())


def set_isa(name):
    """Forces a CPU kernel path (one of `available_isas()`); the default is the fastest.

    The environment variable FASTDNN_ISA sets the path at import.

    Raises:
        ValueError: if this build or CPU cannot run `name`.
    """
    _C.set_isa(str(name))


def build_info():
    """What was built and what this machine offers.

    Returns:
        A dict with: version; isa_compiled (kernel paths in the binary); isa_available (those this
        CPU runs); isa_active; cpu; logical_cpus; num_threads; parallel_threshold_flops;
        cuda_built; cuda_runtime; cuda_devices (list of dicts); cuda_status; malloc_top_pad
        (the heap slack fastdnn asked glibc to keep, in bytes; 0 if it did not).

    Example:
        >>> import fastdnn
        >>> fastdnn.build_info()["isa_active"] in fastdnn.build_info()["isa_available"]
        True
    """
    cpu = _C.cpu_info()
    return {
        "version": __version__,
        "isa_compiled": list(_C.compiled_isas()),
        "isa_available": available_isas(),
        "isa_active": get_isa(),
        "cpu": cpu["brand"],
        "logical_cpus": int(cpu["logical_cpus"]),
        "num_threads": get_num_threads(),
        "parallel_threshold_flops": int(_C.gemm_parallel_threshold()),
        "cuda_built": cuda.is_built(),
        "cuda_runtime": str(_C.cuda_runtime_version()),
        "cuda_devices": cuda.devices(),
        "cuda_status": cuda.status(),
        "malloc_top_pad": int(_C.allocator_top_pad()),
    }
