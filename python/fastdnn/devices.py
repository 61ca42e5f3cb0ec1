"""Devices: where arrays live and ops run (`fastdnn.device("cuda")`, `"cpu"`), and DLPack.

A `Device` moves arrays (`put`), places a model (`model.to(device)`), and, as a context manager
(Keras 3's `keras.device`), makes the layers built inside it create their weights there.
GPU arrays exchange memory with PyTorch, CuPy and JAX through DLPack without a copy:
`torch.from_dlpack(a)` reads a fastdnn array, `fastdnn.from_dlpack(t)` reads theirs.

    >>> import fastdnn
    >>> fastdnn.device("cpu")
    device('cpu')
"""

import threading

import numpy as np

from . import _dispatch
from . import cuda as cuda_module

_state = threading.local()


class Device:
    """A place for arrays and ops: "cpu", or "cuda" / "cuda:N" (GPU N).

    Args:
        name: "cpu", "cuda", "gpu", "cuda:N" or "gpu:N".

    Example:
        >>> import fastdnn, numpy as np
        >>> cpu = fastdnn.device("cpu")
        >>> cpu.put([1, 2]).dtype
        dtype('float32')

    Raises:
        TypeError: if `name` is not a string.
        ValueError: for an unknown device name.
        RuntimeError: for "cuda" where no GPU can be used, saying why.
    """

    def __init__(self, name="cpu"):
        if isinstance(name, Device):
            name = str(name)
        if not isinstance(name, str):
            raise TypeError(f"A device is named by a string such as 'cpu' or 'cuda'. Received: {name!r}")
        kind, _, index = name.strip().lower().partition(":")
        if kind == "gpu":
            kind = "cuda"
        if kind not in ("cpu", "cuda") or (index and not index.isdigit()) or (kind == "cpu" and index not in ("", "0")):
            raise ValueError(f"Unknown device {name!r}. Expected 'cpu', 'cuda' or 'cuda:N' (N a GPU index).")
        self.type = kind
        self.index = int(index or 0)
        self._kernels = cuda_module._load(self.index) if kind == "cuda" else None

    def put(self, x):
        """`x` (array-like, or a GPU array) as an array on this device: float32, or int64 for an
        int64 NumPy array (class labels). Arrays already there are returned as they are."""
        if self.type == "cpu":
            if _dispatch.on_device(x):
                return x.numpy()
            keep = isinstance(x, np.ndarray) and x.dtype == np.int64
            return np.asarray(x, dtype=np.int64 if keep else np.float32, order="C")  # 0-d stays 0-d
        return self._kernels.put(x)

    def __enter__(self):
        stack = getattr(_state, "stack", None)
        if stack is None:
            stack = _state.stack = []
        stack.append(self)
        return self

    def __exit__(self, *exc):
        _state.stack.pop()
        return False

    def __eq__(self, other):
        return isinstance(other, Device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def __str__(self):
        return "cpu" if self.type == "cpu" else f"cuda:{self.index}"

    def __repr__(self):
        return f"device('{self}')"


def device(name="cpu"):
    """The device `name` ("cpu", "cuda", "cuda:N"); also a context manager, as keras.device.

    Example:
        >>> import fastdnn
        >>> str(fastdnn.device("cpu"))
        'cpu'

    Raises:
        ValueError: for an unknown name. RuntimeError: for "cuda" without a usable GPU.
    """
    return Device(name)


def current():
    """The device of the innermost `with fastdnn.device(...)` block, else None."""
    stack = getattr(_state, "stack", None)
    return stack[-1] if stack else None


def device_of(x):
    """The Device holding array `x`."""
    return Device(f"cuda:{x.device_index}") if _dispatch.on_device(x) else Device("cpu")


def from_dlpack(x):
    """An array sharing the memory of `x`, any object with `__dlpack__` (a PyTorch, CuPy or JAX
    array): a fastdnn GPU array for GPU memory, a NumPy array for host memory. No copy is made.

    Args:
        x: a float32 or int64, C-contiguous array supporting the DLPack protocol.

    Example:
        >>> import numpy as np, fastdnn
        >>> fastdnn.from_dlpack(np.arange(3.0, dtype=np.float32))
        array([0., 1., 2.], dtype=float32)

    Raises:
        TypeError: if `x` does not support DLPack.
        ValueError: for another dtype, a non-contiguous array, or memory on an unsupported device.
        RuntimeError: for GPU memory where the CUDA backend cannot run.
    """
    if not hasattr(x, "__dlpack__") or not hasattr(x, "__dlpack_device__"):
        raise TypeError("from_dlpack needs an object with __dlpack__ and __dlpack_device__ (a PyTorch, "
                        f"CuPy, JAX or NumPy array). Received an object of type {type(x).__name__}.")
    kind, index = (int(v) for v in x.__dlpack_device__())
    if kind == 1:  # kDLCPU
        return np.from_dlpack(x)
    if kind != 2:  # kDLCUDA
        raise ValueError(f"from_dlpack reads host (1) or CUDA (2) memory. Received DLPack device type {kind}.")
    return cuda_module.from_dlpack_capsule(x, index)
