"""The CUDA simulator (csrc/cuda/sim) itself: barriers and shuffles give a GPU's results, and the
faults a GPU leaves undefined are reported. Runs only against the simulator's build
(tools/cuda_sim.sh sets FASTDNN_CUDA_SIM)."""

import os
import subprocess
import sys

import numpy as np
import pytest

import fastdnn

pytestmark = pytest.mark.skipif(not os.environ.get("FASTDNN_CUDA_SIM"),
                                reason="FASTDNN_CUDA_SIM is not set (tools/cuda_sim.sh sets it)")


@pytest.fixture(scope="module")
def sim():
    return fastdnn.device("cuda")._kernels.native.sim


def test_barrier_orders_shared_memory(sim):
    x = np.arange(3 * 256, dtype=np.float32)
    want = x.reshape(3, 256)[:, ::-1].reshape(-1)
    np.testing.assert_array_equal(sim.reverse(x.tolist()), want)


@pytest.mark.parametrize("warps", [1, 3, 32])
def test_warp_butterfly_sums(sim, warps):
    x = np.random.default_rng(warps).integers(-50, 50, 32 * warps).astype(np.float32)
    np.testing.assert_array_equal(sim.warp_sums(x.tolist()), x.reshape(warps, 32).sum(axis=1))


@pytest.mark.parametrize("fault,message", [
    ("divergent barrier", "divergent barrier"),
    ("exited lane", "lane 5 of warp 0, which has exited"),
    ("deadlock", "deadlock: 16 thread\\(s\\) wait at __syncthreads while 16"),
    ("host pointer", "argument 0 points outside device memory"),
    ("block too large", "invalid configuration argument"),
    ("copy past the end", "outside any allocation"),
])
def test_faults_are_reported(sim, fault, message):
    with pytest.raises(RuntimeError, match=message):
        sim.fault(fault)
    sim.reverse([0.0] * 256)  # the error is not sticky: the next launch runs


def test_reverse_order_exposes_a_missing_barrier(sim):
    code = "import fastdnn; print(sum(v == 42.0 for v in fastdnn.device('cuda')._kernels.native.sim.missing_barrier()))"
    counts = {}
    for o in ("forward", "reverse"):
        env = dict(os.environ, FASTDNN_CUDA_SIM_ORDER=o)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        counts[o] = int(out.stdout.strip())
    assert counts == {"forward": 64, "reverse": 1}  # only thread 0 saw its own write


@pytest.mark.skipif(not os.environ.get("FASTDNN_SANITIZED"), reason="needs tools/cuda_sim.sh --sanitize")
def test_sanitized_simulator_catches_an_out_of_bounds_read(sim):
    code = "import fastdnn; fastdnn.device('cuda')._kernels.native.sim.read_past_the_end()"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode != 0
    assert "heap-buffer-overflow" in out.stderr and "READ of size 4" in out.stderr
