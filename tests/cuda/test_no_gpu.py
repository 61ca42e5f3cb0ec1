"""What a machine without a usable GPU sees: clear errors, and a fastdnn that never loads CUDA."""

import subprocess
import sys

import numpy as np
import pytest

import fastdnn

no_gpu = pytest.mark.skipif(fastdnn.cuda.is_available(), reason="a GPU is usable here")


@no_gpu
def test_asking_for_cuda_says_why_it_cannot():
    with pytest.raises(RuntimeError) as err:
        fastdnn.device("cuda")
    msg = str(err.value)
    assert ("No CUDA device" in msg and fastdnn.cuda.status() in msg) or "no CUDA backend" in msg


@no_gpu
def test_model_to_cuda_says_why_it_cannot():
    model = fastdnn.Sequential([fastdnn.layers.Dense(2, input_shape=[3])])
    before = model.get_weights()
    with pytest.raises(RuntimeError, match="CUDA"):
        model.to("cuda")
    assert model.device == fastdnn.device("cpu")  # nothing moved
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


@no_gpu
def test_from_dlpack_of_gpu_memory_says_why_it_cannot():
    class GpuLike:
        def __dlpack_device__(self):
            return (2, 0)

        def __dlpack__(self, stream=None):
            raise AssertionError("must not be asked for its memory")

    with pytest.raises(RuntimeError, match="CUDA"):
        fastdnn.from_dlpack(GpuLike())


@pytest.mark.parametrize("name", ["tpu", "cuda:x", "cpu:1", "", "cuda:-1"])
def test_unknown_device_names_are_rejected(name):
    with pytest.raises(ValueError, match="Unknown device"):
        fastdnn.device(name)


@pytest.mark.parametrize("name", [0, None, 1.5])
def test_device_names_must_be_strings(name):
    with pytest.raises(TypeError, match="string"):
        fastdnn.device(name)


def test_cpu_device_puts_float32_and_keeps_int64():
    cpu = fastdnn.device("CPU")
    assert str(cpu) == "cpu" and cpu == fastdnn.device("cpu:0") and repr(cpu) == "device('cpu')"
    a = cpu.put([[1, 2]])
    assert a.dtype == np.float32 and a.flags.c_contiguous
    assert cpu.put(np.arange(3)).dtype == np.int64


def test_from_dlpack_reads_host_memory_without_a_copy():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    y = fastdnn.from_dlpack(x)
    assert np.shares_memory(x, y)
    np.testing.assert_array_equal(x, y)


def test_from_dlpack_rejects_objects_without_the_protocol():
    with pytest.raises(TypeError, match="__dlpack__"):
        fastdnn.from_dlpack([1.0, 2.0])


def test_from_dlpack_rejects_other_devices():
    class Odd:
        def __dlpack_device__(self):
            return (7, 0)

        def __dlpack__(self, stream=None):
            raise AssertionError

    with pytest.raises(ValueError, match="device type 7"):
        fastdnn.from_dlpack(Odd())


def test_cpu_work_never_imports_the_cuda_module():
    code = ("import sys, numpy as np, fastdnn\n"
            "m = fastdnn.Sequential([fastdnn.layers.Dense(3, input_shape=[4]), fastdnn.layers.Dense(2)])\n"
            "m.compile('adam', 'mse'); m.fit(np.ones((8, 4)), np.ones((8, 2)), epochs=1, verbose=0)\n"
            "fastdnn.cuda.is_available(); fastdnn.build_info()\n"
            "print('fastdnn._cuda' in sys.modules, fastdnn.cuda.gemm_backend())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "not", "loaded"]
