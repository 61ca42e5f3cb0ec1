"""Runtime controls and the thread pool: build_info, kernel path and thread settings, calls from
several Python threads, fork(), and the CUDA queries on a machine without a usable GPU."""

import multiprocessing
import os
import platform
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import fastdnn
from fastdnn import _C, ops

from _tolerances import gemm_atol
from conftest import assert_close
from reference import dense_ref, gemm_ref, gemm_scale

KNOWN_ISAS = ["avx512", "avx2", "portable", "reference"]  # fastest first


def run_python(code, **env):
    """Runs `code` in a fresh interpreter with extra environment variables; returns stdout."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("FASTDNN_")}
    full_env.update(env)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env=full_env)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


# ---- build_info and kernel paths -----------------------------------------------------------------

def test_build_info_keys_and_types():
    info = fastdnn.build_info()
    expected = {
        "version": str, "isa_compiled": list, "isa_available": list, "isa_active": str,
        "cpu": str, "logical_cpus": int, "num_threads": int, "parallel_threshold_flops": int,
        "cuda_built": bool, "cuda_runtime": str, "cuda_devices": list, "cuda_status": str,
    }
    assert set(expected) <= set(info), set(expected) - set(info)
    for key, typ in expected.items():
        assert isinstance(info[key], typ), (key, type(info[key]))
    assert info["version"] == fastdnn.__version__
    assert info["logical_cpus"] >= 1
    assert info["num_threads"] == fastdnn.get_num_threads()
    assert info["parallel_threshold_flops"] == _C.gemm_parallel_threshold()
    assert all(isinstance(i, str) for i in info["isa_compiled"] + info["isa_available"])


def test_isa_lists_are_consistent():
    info = fastdnn.build_info()
    assert info["isa_active"] in info["isa_available"]
    assert set(info["isa_available"]) <= set(info["isa_compiled"])
    assert info["isa_available"] == fastdnn.available_isas()
    assert fastdnn.available_isas() == [i for i in KNOWN_ISAS if i in fastdnn.available_isas()]
    assert fastdnn.available_isas()[-2:] == ["portable", "reference"]  # run on any CPU


def test_available_isas_follow_cpu_features():
    cpu = _C.cpu_info()
    compiled = fastdnn.build_info()["isa_compiled"]
    if "avx512" in compiled:
        assert ("avx512" in fastdnn.available_isas()) == bool(cpu["avx512"])
    if "avx2" in compiled:
        assert ("avx2" in fastdnn.available_isas()) == bool(cpu["avx2_fma"])


def test_set_isa_round_trip(isa):
    assert fastdnn.get_isa() == isa
    assert fastdnn.build_info()["isa_active"] == isa


def test_default_isa_is_the_fastest():
    out = run_python("import fastdnn; print(fastdnn.get_isa(), fastdnn.available_isas()[0])")
    active, fastest = out.split()
    assert active == fastest


def test_fastdnn_isa_environment_variable():
    assert run_python("import fastdnn; print(fastdnn.get_isa())", FASTDNN_ISA="portable") == "portable"
    # An unknown name is ignored, not fatal at import.
    out = run_python("import fastdnn; print(fastdnn.get_isa(), fastdnn.available_isas()[0])",
                     FASTDNN_ISA="bogus")
    active, fastest = out.split()
    assert active == fastest


# ---- threads -------------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_num_threads_round_trip(n):
    before = fastdnn.get_num_threads()
    try:
        fastdnn.set_num_threads(n)
        assert fastdnn.get_num_threads() == n
        assert fastdnn.build_info()["num_threads"] == n
        fastdnn.set_num_threads(np.int64(n))  # any integer type
        assert fastdnn.get_num_threads() == n
    finally:
        fastdnn.set_num_threads(before)
    assert fastdnn.get_num_threads() == before


def test_default_num_threads_from_environment():
    assert run_python("import fastdnn; print(fastdnn.get_num_threads())",
                      FASTDNN_NUM_THREADS="3") == "3"


def test_parallel_threshold_round_trip():
    before = _C.gemm_parallel_threshold()
    try:
        _C.set_gemm_parallel_threshold(12345)
        assert _C.gemm_parallel_threshold() == 12345
        _C.set_gemm_parallel_threshold(-5)  # clamps to 0
        assert _C.gemm_parallel_threshold() == 0
    finally:
        _C.set_gemm_parallel_threshold(before)


@pytest.mark.parametrize("n", [3, 5])
def test_more_threads_than_cpus_still_correct(n, rng):
    a = rng.uniform(-1, 1, (130, 70)).astype(np.float32)
    b = rng.uniform(-1, 1, (70, 210)).astype(np.float32)
    before, threshold = fastdnn.get_num_threads(), _C.gemm_parallel_threshold()
    try:
        fastdnn.set_num_threads(n)
        _C.set_gemm_parallel_threshold(0)
        assert_close(ops.matmul(a, b), gemm_ref(a, b), gemm_atol(70, gemm_scale(a, b)))
    finally:
        _C.set_gemm_parallel_threshold(threshold)
        fastdnn.set_num_threads(before)


def _worker_problems(rng, count):
    probs = []
    for i in range(count):
        m, n, k = rng.integers(20, 120, 3)
        a = rng.uniform(-1, 1, (m, k)).astype(np.float32)
        b = rng.uniform(-1, 1, (k, n)).astype(np.float32)
        bias = rng.uniform(-1, 1, n).astype(np.float32)
        probs.append((a, b, bias, gemm_ref(a, b), dense_ref(a, b, bias, "elu")[0],
                      gemm_atol(k + 1, gemm_scale(a, b, c0=bias))))
    return probs


def test_concurrent_calls_from_python_threads(isa, rng):
    """4 Python threads share the pool: one gets it, the others run inline; all must be right."""
    problems = [_worker_problems(rng, 4) for _ in range(4)]
    before, threshold = fastdnn.get_num_threads(), _C.gemm_parallel_threshold()
    start = threading.Barrier(4)

    def work(probs):
        start.wait()
        for _ in range(10 if isa != "reference" else 2):
            for a, b, bias, c_ref, y_ref, atol in probs:
                assert_close(ops.matmul(a, b), c_ref, atol)
                out = np.empty_like(c_ref, dtype=np.float32)
                ops.matmul(a, b, out=out)
                assert_close(out, c_ref, atol)
                assert_close(ops.dense(a, b, bias, "elu"), y_ref, atol, 1e-5)
        return True

    try:
        fastdnn.set_num_threads(2)
        _C.set_gemm_parallel_threshold(0)
        with ThreadPoolExecutor(4) as ex:
            results = [f.result(timeout=120) for f in [ex.submit(work, p) for p in problems]]
    finally:
        _C.set_gemm_parallel_threshold(threshold)
        fastdnn.set_num_threads(before)
    assert results == [True] * 4


def test_resizing_the_pool_while_other_threads_compute():
    """set_num_threads from one thread while others run products: no deadlock, right results.
    In a child process, so that a hang fails after the timeout instead of hanging the suite."""
    out = run_python("""
import threading, numpy as np, fastdnn
from fastdnn import _C, ops
_C.set_gemm_parallel_threshold(0)
r = np.random.default_rng(0)
a = r.uniform(-1, 1, (150, 90)).astype(np.float32)
b = r.uniform(-1, 1, (90, 110)).astype(np.float32)
ref = a.astype(np.float64) @ b
errors = []
def compute():
    for _ in range(200):
        if np.abs(ops.matmul(a, b) - ref).max() > 1e-4:
            errors.append("wrong")
ts = [threading.Thread(target=compute) for _ in range(3)]
for t in ts: t.start()
for i in range(200):
    fastdnn.set_num_threads(1 + i % 3)
for t in ts: t.join()
print("errors", len(errors))
""")
    assert out == "errors 0"


def _child_matmul(a, b, ref, atol, report):
    """In a forked child: the pool must come back and give right answers on 2 threads."""
    try:
        ok = (np.abs(ops.matmul(a, b) - ref) <= atol).all()  # pool restarted with defaults
        fastdnn.set_num_threads(2)
        _C.set_gemm_parallel_threshold(0)
        ok = ok and (np.abs(ops.matmul(a, b) - ref) <= atol).all()
        ok = ok and fastdnn.get_num_threads() == 2
        report.put(bool(ok))
    except BaseException as e:  # noqa: BLE001 - anything reported back beats a silent exit
        report.put(repr(e))


@pytest.mark.skipif(sys.platform == "win32", reason="no fork on Windows")
@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")
def test_forked_child_runs_multithreaded_matmul(rng):
    ctx = multiprocessing.get_context("fork")
    a = rng.uniform(-1, 1, (200, 150)).astype(np.float32)
    b = rng.uniform(-1, 1, (150, 170)).astype(np.float32)
    ref = gemm_ref(a, b)
    atol = gemm_atol(150, gemm_scale(a, b))
    before, threshold = fastdnn.get_num_threads(), _C.gemm_parallel_threshold()
    try:
        fastdnn.set_num_threads(2)
        _C.set_gemm_parallel_threshold(0)
        for _ in range(3):
            assert_close(ops.matmul(a, b), ref, atol)  # the parent's workers are busy/spinning
            report = ctx.Queue()
            p = ctx.Process(target=_child_matmul, args=(a, b, ref, atol, report))
            p.start()
            p.join(timeout=60)
            if p.is_alive():
                p.kill()
                p.join()
                pytest.fail("forked child hung in matmul (thread pool not reset after fork)")
            assert p.exitcode == 0
            assert report.get(timeout=5) is True
        assert_close(ops.matmul(a, b), ref, atol)  # the parent's pool still works
    finally:
        _C.set_gemm_parallel_threshold(threshold)
        fastdnn.set_num_threads(before)


@pytest.mark.skipif(sys.platform == "win32", reason="no fork on Windows")
def test_forked_child_keeps_thread_setting():
    code = """
import os, numpy as np, fastdnn
fastdnn.set_num_threads(1)
fastdnn.ops.matmul(np.ones((4, 4)), np.ones((4, 4)))
pid = os.fork()
if pid == 0:
    os._exit(0 if fastdnn.get_num_threads() == 1 else 1)
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status))
"""
    assert run_python(code, FASTDNN_NUM_THREADS="2") == "0"


# ---- CUDA queries --------------------------------------------------------------------------------

def test_cuda_queries_are_consistent():
    available = fastdnn.cuda.is_available()
    assert isinstance(available, bool)
    assert isinstance(fastdnn.cuda.is_built(), bool)
    count = fastdnn.cuda.device_count()
    assert isinstance(count, int) and count >= 0
    assert available == (fastdnn.cuda.is_built() and count > 0)
    devices = fastdnn.cuda.devices()
    assert isinstance(devices, list) and len(devices) == count
    status = fastdnn.cuda.status()
    assert isinstance(status, str) and status
    assert (status == "ok") == available
    info = fastdnn.build_info()
    assert info["cuda_built"] == fastdnn.cuda.is_built()
    assert info["cuda_status"] == status
    assert info["cuda_devices"] == devices
    assert (info["cuda_runtime"] != "") == fastdnn.cuda.is_built()
    if not fastdnn.cuda.is_built():
        assert count == 0 and not available


@pytest.mark.skipif(fastdnn.cuda.is_available(), reason="a GPU is usable here")
def test_self_test_without_gpu_raises():
    with pytest.raises(RuntimeError) as e:
        fastdnn.cuda.self_test()
    assert str(e.value)
    with pytest.raises(RuntimeError):
        fastdnn.cuda.self_test(16)


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                    reason="glibc's mallopt")
@pytest.mark.skipif(bool(os.environ.get("FASTDNN_SANITIZED")), reason="ASan replaces malloc")
@pytest.mark.parametrize("env, expected", [({}, 16 << 20), ({"FASTDNN_MALLOC_TUNING": "0"}, 0),
                                           ({"MALLOC_TOP_PAD_": "4096"}, 0)])
def test_allocator_tuning_and_its_opt_outs(env, expected):
    code = "import fastdnn; print(fastdnn.build_info()['malloc_top_pad'])"
    base = {k: v for k, v in os.environ.items() if k not in ("FASTDNN_MALLOC_TUNING", "MALLOC_TOP_PAD_")}
    out = subprocess.run([sys.executable, "-c", code], env={**base, **env}, capture_output=True,
                         text=True, check=True).stdout
    assert int(out) == expected
