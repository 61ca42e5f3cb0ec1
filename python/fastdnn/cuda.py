"""The CUDA backend: whether it is built and usable, and its kernels once a GPU is asked for.

The backend is the separate extension `fastdnn._cuda`, imported on the first use of a GPU
(`fastdnn.device("cuda")`, `model.to("cuda")`, `fastdnn.from_dlpack` of a GPU array), never by
`import fastdnn`: a CPU user needs neither a driver nor cuBLAS. The GEMMs run on cuBLASLt when
its library is found (the `nvidia-cublas` wheel: `pip install fastdnn[cuda]`), else on
fastdnn's own tiled kernel; `gemm_backend()` says which.

    >>> import fastdnn
    >>> isinstance(fastdnn.cuda.is_available(), bool)
    True
"""

import importlib.util
import os

from . import _C
from .backend.cuda import CUDABackend

_backend = None  # the CUDABackend, once loaded
_cublaslt_error = ""
_simulator = None  # fastdnn._cuda_sim, once loaded


def _sim():
    """The CUDA simulator's build of the backend when $FASTDNN_CUDA_SIM names its file, else None.

    `tools/cuda_sim.sh` builds it (csrc/cuda/sim: the same kernels run on the CPU) and runs the
    CUDA tests against it, so they run where no GPU exists. Nothing else uses it.
    """
    global _simulator
    path = os.environ.get("FASTDNN_CUDA_SIM")
    if not path:
        return None
    if _simulator is None:
        if not os.path.isfile(path):
            raise RuntimeError(f"FASTDNN_CUDA_SIM names {path!r}, which is not a file. Build the "
                               "simulator's module with tools/cuda_sim.sh, or unset the variable.")
        spec = importlib.util.spec_from_file_location("fastdnn._cuda_sim", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _simulator = module
    return _simulator


def is_built():
    """True when this build of fastdnn includes the CUDA backend."""
    return bool(_C.cuda_built()) or _sim() is not None


def device_count():
    """Number of CUDA devices usable now (0 without CUDA, driver or device)."""
    sim = _sim()
    return int(sim.device_count() if sim else _C.cuda_device_count())


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
    sim = _sim()
    return list(sim.devices() if sim else _C.cuda_devices())


def status():
    """"ok" when a GPU can be used, else the reason it cannot."""
    sim = _sim()
    return str(sim.status() if sim else _C.cuda_status())


def self_test(n=1 << 20):
    """Runs a small kernel on device 0 and returns its largest error against the CPU.

    Raises:
        RuntimeError: if no GPU can be used.
    """
    sim = _sim()
    return float(sim.selftest(int(n)) if sim else _C.cuda_selftest(int(n)))


def _cublaslt_candidates():
    """Where libcublasLt may be: $FASTDNN_CUBLASLT, the nvidia-cublas wheels (CUDA 13, then
    12), then the system's library path."""
    env = os.environ.get("FASTDNN_CUBLASLT")
    if env:
        return [] if env == "0" else [env]
    found = []
    spec = importlib.util.find_spec("nvidia")
    for root in (spec.submodule_search_locations or []) if spec else []:
        for sub, name in (("cu13/lib", "libcublasLt.so.13"), ("cublas/lib", "libcublasLt.so.12")):
            path = os.path.join(root, sub, name)
            if os.path.exists(path):
                found.append(path)
    return found + ["libcublasLt.so.13", "libcublasLt.so.12"]


def _load(index=0):
    """Imports fastdnn._cuda, takes GPU `index` and opens cuBLASLt; returns the CUDABackend.

    Raises:
        RuntimeError: without a CUDA build, a driver or a device, saying which is missing.
    """
    global _backend, _cublaslt_error
    if _backend is not None:
        if index != _backend.device_index:
            _backend.native.init(index)  # raises: one GPU per process
        return _backend
    if not is_built():
        raise RuntimeError("This build of fastdnn has no CUDA backend (it was built where nvcc was "
                           "not found). Rebuild it with the CUDA toolkit installed: "
                           "CMAKE_ARGS=-DFASTDNN_CUDA=ON pip install fastdnn[cuda].")
    if device_count() == 0:
        raise RuntimeError(f"No CUDA device can be used: {status()}. Check the NVIDIA driver "
                           "(nvidia-smi), or use fastdnn.device('cpu').")
    native = _sim()
    if native is None:
        from . import _cuda as native

    native.init(int(index))
    errors = []
    for path in _cublaslt_candidates() if native is not _simulator else [""]:
        err = native.cublaslt_load(path)
        if not err:
            break
        errors.append(err)
    _cublaslt_error = "; ".join(errors) if not native.cublaslt_loaded() else ""
    _backend = CUDABackend(native, int(index))
    return _backend


def kernels():
    """The CUDA backend (loading the backend on device 0 if no GPU was taken yet)."""
    return _backend if _backend is not None else _load(0)


def gemm_backend():
    """"cublasLt <version>" or "tiled" (fastdnn's own kernel, when cuBLASLt was not found), or
    "not loaded" before a GPU is used."""
    if _backend is None:
        return "not loaded"
    native = _backend.native
    return f"cublasLt {native.cublaslt_version()}" if native.cublaslt_loaded() else "tiled"


def cublaslt_error():
    """Why cuBLASLt could not be opened ("" when it was, or when no GPU was used yet)."""
    return _cublaslt_error


def synchronize():
    """Waits until the GPU has finished the work fastdnn queued."""
    if _backend is not None:
        _backend.native.synchronize()



def from_dlpack_capsule(x, index):
    """A GPU array sharing the memory of DLPack producer `x` on GPU `index`, after the
    producer's queued work (the backend loaded on that GPU first)."""
    native = _load(index).native
    return native.from_dlpack_capsule(x.__dlpack__(stream=native.stream_handle()))
