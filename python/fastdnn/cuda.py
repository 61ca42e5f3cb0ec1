"""The CUDA backend's state: whether this build has it and whether a GPU can be used."""

from . import _C


def is_built():
    """True when this build of fastdnn includes the CUDA backend."""
    return bool(_C.cuda_built())


def device_count():
    """Number of CUDA devices usable now (0 without CUDA, driver or device)."""
    return int(_C.cuda_device_count())


def is_available():
    """True when fastdnn can run on a GPU here: CUDA built, a driver and a device present.

    Example:
        >>> import fastdnn
        >>> isinstance(fastdnn.cuda.is_available(), bool)
        True
    """
    return is_built() and device_count() > 0


def devices():
    """A list of dicts (index, name, compute_capability, total_memory, multiprocessors)."""
    return list(_C.cuda_devices())


def status():
    """"ok" when a GPU can be used, else the reason it cannot."""
    return str(_C.cuda_status())


def self_test(n=1 << 20):
    """Runs a small kernel on device 0 and returns its largest error against the CPU.

    Raises:
        RuntimeError: if no GPU can be used.
    """
    return float(_C.cuda_selftest(int(n)))
