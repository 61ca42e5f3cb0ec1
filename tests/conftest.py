"""Shared fixtures (kernel path, thread count, seeded RNG) and the comparison helper."""

import zlib

import numpy as np
import pytest

import fastdnn
from fastdnn import _C

ISAS = fastdnn.available_isas()
# 'reference' is a naive triple loop: fine for small problems, far too slow for 1000^3.
FAST_ISAS = [i for i in ISAS if i != "reference"]


def _use_isa(name):
    previous = fastdnn.get_isa()
    fastdnn.set_isa(name)
    try:
        yield name
    finally:
        fastdnn.set_isa(previous)


@pytest.fixture(params=ISAS)
def isa(request):
    """Runs the test once per kernel path this build and CPU offer, restoring the previous one."""
    yield from _use_isa(request.param)


@pytest.fixture(params=FAST_ISAS)
def fast_isa(request):
    """Like `isa` without the slow 'reference' path, for large problems."""
    yield from _use_isa(request.param)


@pytest.fixture(params=[1, 2], ids=["1thread", "2threads"])
def threads(request):
    """Runs the test on 1 and on 2 threads. For 2 threads the parallel threshold is set to 0 so
    that even small products are split; both settings are restored afterwards."""
    n = request.param
    prev_n = fastdnn.get_num_threads()
    prev_threshold = _C.gemm_parallel_threshold()
    fastdnn.set_num_threads(n)
    if n > 1:
        _C.set_gemm_parallel_threshold(0)
    try:
        yield n
    finally:
        _C.set_gemm_parallel_threshold(prev_threshold)
        fastdnn.set_num_threads(prev_n)


@pytest.fixture
def rng(request):
    """A generator seeded from the test's id: reproducible, yet different data per test."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


def assert_close(actual, ref64, atol, rtol=0.0, what="result"):
    """Asserts |actual - ref64| <= atol + rtol * |ref64| elementwise.

    NaN must sit exactly where the reference has NaN, and infinities must match exactly. On
    failure the message gives the worst absolute and relative errors, where they are, and how
    many elements fail.
    """
    actual = np.asarray(actual)
    ref = np.asarray(ref64, dtype=np.float64)
    assert actual.shape == ref.shape, f"{what}: shape {actual.shape}, expected {ref.shape}"
    act = actual.astype(np.float64)

    nan_a, nan_r = np.isnan(act), np.isnan(ref)
    if not np.array_equal(nan_a, nan_r):
        bad = np.argwhere(nan_a != nan_r)
        i = tuple(bad[0])
        raise AssertionError(
            f"{what}: NaN pattern differs at {len(bad)} elements; first at {i}: "
            f"actual={act[i]!r}, expected={ref[i]!r}")
    inf_r = np.isinf(ref)
    inf_mismatch = (np.isinf(act) | inf_r) & ~(act == ref)
    if inf_mismatch.any():
        bad = np.argwhere(inf_mismatch)
        i = tuple(bad[0])
        raise AssertionError(
            f"{what}: infinities differ at {len(bad)} elements; first at {i}: "
            f"actual={act[i]!r}, expected={ref[i]!r}")

    finite = np.isfinite(ref)
    if not finite.any():
        return
    with np.errstate(invalid="ignore"):
        err = np.where(finite, np.abs(act - ref), 0.0)
    allowed = atol + rtol * np.abs(np.where(finite, ref, 0.0))
    fail = err > allowed
    if fail.any():
        worst = np.unravel_index(np.argmax(np.where(fail, err - allowed, -np.inf)), err.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(finite & (ref != 0), err / np.abs(ref), np.where(err > 0, np.inf, 0.0))
        raise AssertionError(
            f"{what}: {int(fail.sum())} of {err.size} elements out of tolerance "
            f"(atol={np.max(atol):.3g}, rtol={rtol:.3g}); max abs error {err.max():.3g}, "
            f"max rel error {rel.max():.3g}; worst at {worst}: actual={act[worst]!r}, "
            f"expected={ref[worst]!r}")
