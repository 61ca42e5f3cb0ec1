"""fastdnn.distribution: data-parallel training under `mpiexec -n 2` (and 4), checked against
single-process training on the same global batches.

tests/distributed_worker.py holds the scenarios: every rank runs one under mpiexec and writes
what it saw; the same functions run here, in one process, as the reference. The MPI tests skip
without mpi4py and an `mpiexec` (pip install "fastdnn[mpi]").
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import fastdnn as keras
from fastdnn.distribution import collective_timeout
from fastdnn.distribution.data_parallel import shard_bounds
from fastdnn.distribution.launch import mpiexec_command

import distributed_worker as worker

WORKER = Path(__file__).with_name("distributed_worker.py")
try:
    import mpi4py  # noqa: F401
    HAVE_MPI = mpiexec_command(2) is not None
except ImportError:
    HAVE_MPI = False
# Under tools/sanitize.sh, ASan's runtime is preloaded into every child, MPI's launcher included,
# which is not built for it; these tests exercise Python code over MPI, not fastdnn's kernels.
needs_mpi = pytest.mark.skipif(not HAVE_MPI or bool(os.environ.get("FASTDNN_SANITIZED")),
                               reason="needs mpi4py and mpiexec: pip install 'fastdnn[mpi]' (and no ASan preload)")

# Data parallelism changes only the order of float32 sums (the gradient's over the ranks, the
# batch statistics' in float64 then rounded): after 20 SGD steps the weights agree to a few
# ulps (measured 1e-7 absolute); Nadam divides by sqrt(v) and the dropout/BN model amplifies
# that to 4e-5 of the largest weight on 4 processes (measured), hence 5e-4 relative.
PLAIN_ATOL = 2e-6
BN_RTOL = 5e-4


def launch(n, scenario, out, timeout=180, env=None):
    """Runs `scenario` on n ranks; returns (exit code, output, seconds)."""
    start = time.monotonic()
    proc = subprocess.run(mpiexec_command(n) + [sys.executable, str(WORKER), scenario, str(out)],
                          capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - start


def results(out, scenario, n):
    return [dict(np.load(out / f"{scenario}_rank{r}.npz")) for r in range(n)]


def _relative(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - b)) / max(np.max(np.abs(b)), 1e-30))


@pytest.fixture(scope="module")
def reference():
    return worker.train(parallel=False)


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    out = tmp_path_factory.mktemp("two")
    rc, log, _ = launch(2, "train", out)
    assert rc == 0, log
    return out, results(out, "train", 2)


# ---- without MPI -------------------------------------------------------------------------------

@pytest.mark.parametrize("rows,size", [(66, 4), (6, 4), (7, 2), (5, 5), (1000, 3)])
def test_shard_bounds_is_array_split(rows, size):
    pieces = np.array_split(np.arange(rows), size)
    for rank, piece in enumerate(pieces):
        lo, hi = shard_bounds(rows, rank, size)
        assert list(range(lo, hi)) == piece.tolist()


def test_import_does_not_load_mpi():
    code = "import sys, fastdnn; print('mpi4py' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_collective_timeout_reads_the_environment(monkeypatch):
    monkeypatch.setenv("FASTDNN_COLLECTIVE_TIMEOUT", "2.5")
    assert collective_timeout() == 2.5
    for bad in ("0", "-1", "soon", "nan"):
        monkeypatch.setenv("FASTDNN_COLLECTIVE_TIMEOUT", bad)
        with pytest.raises(ValueError, match="FASTDNN_COLLECTIVE_TIMEOUT"):
            collective_timeout()


def test_set_distribution_rejects_other_objects():
    with pytest.raises(TypeError, match="DataParallel or None"):
        keras.distribution.set_distribution("data parallel")
    keras.distribution.set_distribution(None)
    assert keras.distribution.distribution() is None


# ---- under mpiexec -----------------------------------------------------------------------------

@needs_mpi
def test_plain_model_with_sgd_matches_one_process(two, reference):
    _, ranks = two
    for rank in ranks:
        for key in [k for k in reference if k.startswith("plain_")]:
            np.testing.assert_allclose(rank[key], reference[key], rtol=0, atol=PLAIN_ATOL, err_msg=key)


@needs_mpi
def test_bn_nadam_dropout_synchronized_bn_matches_one_process(two, reference):
    _, ranks = two
    for rank in ranks:
        for key in [k for k in reference if k.startswith("bn_w")]:
            assert _relative(rank[key], reference[key]) < BN_RTOL, key


@needs_mpi
def test_every_rank_logs_the_global_metrics(two, reference):
    _, ranks = two
    for key in [k for k in reference if "_h_" in k or k.endswith("evaluate")]:
        for rank in ranks:  # the loss and accuracy of the global batches, as one process logs them
            np.testing.assert_allclose(rank[key], reference[key], rtol=1e-5, atol=1e-6, err_msg=key)


@needs_mpi
def test_predict_gathers_every_rank_rows_in_order(two, reference):
    _, ranks = two
    for rank in ranks:
        assert rank["plain_predict"].shape == reference["plain_predict"].shape
        np.testing.assert_allclose(rank["plain_predict"], reference["plain_predict"], atol=1e-5)


@needs_mpi
def test_only_rank_zero_writes_files(two):
    out, _ = two
    assert sorted(os.listdir(out / "files_rank0")) == ["log.csv", "model.keras"]
    assert os.listdir(out / "files_rank1") == []
    model = keras.models.load_model(out / "files_rank0" / "model.keras")
    assert model.count_params() > 0


@needs_mpi
def test_same_weights_on_one_two_and_four_processes(two, reference, tmp_path):
    rc, log, _ = launch(4, "train", tmp_path)
    assert rc == 0, log
    four = results(tmp_path, "train", 4)
    _, pair = two
    for key in [k for k in reference if k.startswith(("plain_w", "bn_w"))]:
        for got in four:
            assert _relative(got[key], reference[key]) < BN_RTOL, key
            assert _relative(got[key], pair[0][key]) < BN_RTOL, key


@needs_mpi
def test_batchnorm_stays_per_replica_by_default(tmp_path):
    rc, log, _ = launch(2, "per_replica", tmp_path)
    assert rc == 0, log
    a, b = results(tmp_path, "per_replica", 2)
    model = worker.bn_dropout_model(synchronized=False)
    names = [w.name for w in model.weights]
    for i, name in enumerate(names):
        if "moving" in name:  # each rank's statistics of its own share
            assert not np.allclose(a[f"w{i}"], b[f"w{i}"]), name
        else:  # the averaged gradients keep the trained weights equal
            np.testing.assert_array_equal(a[f"w{i}"], b[f"w{i}"], err_msg=name)


@needs_mpi
def test_a_mismatch_between_ranks_fails_before_the_first_step(tmp_path):
    rc, log, _ = launch(2, "mismatch", tmp_path)
    assert rc == 0, log
    for rank in results(tmp_path, "mismatch", 2):
        model_error, data_error = rank["errors"]
        assert "units: rank 0: 300, rank 1: 301" in model_error
        assert "samples: rank 0: 600, rank 1: 534" in data_error
        assert int(rank["iterations"]) == 0


@needs_mpi
def test_ctrl_c_on_one_rank_stops_every_rank_after_the_same_step(tmp_path):
    rc, log, _ = launch(2, "interrupt", tmp_path)
    assert rc == 0, log
    a, b = results(tmp_path, "interrupt", 2)
    assert bool(a["stopped"]) and bool(b["stopped"])
    assert int(a["iterations"]) == int(b["iterations"]) == 13  # the interrupted step was not taken
    for key in [k for k in a if k.startswith("w")]:
        np.testing.assert_array_equal(a[key], b[key])


def _one_epoch_of_fault_model():
    x, y, _, _ = worker.data()
    keras.utils.set_random_seed(4)
    model = worker.plain_model()
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    model.fit(x, y, batch_size=worker.BATCH, epochs=1, verbose=0)
    return model.get_weights()


@needs_mpi
def test_a_killed_rank_ends_the_job_and_the_checkpoint_stays_whole(tmp_path):
    rc, log, seconds = launch(2, "kill", tmp_path, timeout=120)
    assert rc != 0 and seconds < 60, log
    restored = keras.models.load_model(tmp_path / "checkpoint.keras")  # written after epoch 1
    for got, want in zip(restored.get_weights(), _one_epoch_of_fault_model()):
        np.testing.assert_allclose(got, want, rtol=0, atol=PLAIN_ATOL)


@needs_mpi
def test_a_rank_that_raises_ends_the_job_with_its_error(tmp_path):
    rc, log, seconds = launch(2, "raises", tmp_path, timeout=120)
    assert rc != 0 and seconds < 60, log
    assert "RuntimeError: rank 1 failed on purpose" in log


@needs_mpi
def test_a_stalled_rank_ends_the_job_within_the_timeout(tmp_path):
    rc, log, seconds = launch(2, "stall", tmp_path, timeout=120, env={"FASTDNN_COLLECTIVE_TIMEOUT": "2"})
    assert rc != 0 and seconds < 20, log  # rank 1 sleeps 30 s: the job ended long before
    assert "rank 0: the other ranks did not join the gradient all-reduce within 2 s" in log
