"""NaN and infinity go through matmul as IEEE arithmetic says: no crash, no silent zeroing
(e.g. by skipping zero entries of B), on every kernel path and thread count."""

import itertools

import numpy as np
import pytest

from fastdnn import ops

from _tolerances import gemm_atol
from conftest import assert_close
from reference import gemm_scale

TRANSPOSES = list(itertools.product([False, True], repeat=2))
TRANSPOSE_IDS = ["NN", "NT", "TN", "TT"]

# K = 300 spans two or three K blocks of the fast kernels; the special values sit in the first and
# the last of them.
M, N, K = 37, 53, 300


def exact_ieee_product(a, b):
    """op(a)·op(b) as explicit float64 products and sums (no BLAS, which may skip zeros)."""
    with np.errstate(invalid="ignore", over="ignore"):
        return (a.astype(np.float64)[:, :, None] * b.astype(np.float64)[None, :, :]).sum(axis=1)


def special_operands(rng):
    a = rng.uniform(-1, 1, (M, K)).astype(np.float32)
    b = rng.uniform(-1, 1, (K, N)).astype(np.float32)
    # NaN in row 5 of A (second K block) -> row 5 of C is NaN, even where B is 0 there.
    a[5, 270] = np.nan
    b[270, 11] = 0.0
    # NaN in column 7 of B -> column 7 of C is NaN.
    b[3, 7] = np.nan
    # inf in A meets a positive row of B -> +inf, and a zero -> inf * 0 = NaN.
    a[20, 10] = np.inf
    b[10, :] = np.abs(b[10, :]) + 0.5
    b[10, 30] = 0.0
    # -inf in A: -inf where B > 0.
    a[25, 100] = -np.inf
    b[100, :] = np.abs(b[100, :]) + 0.5
    # inf + (-inf) = NaN: row 30 has +inf at k=0 and k=1; column 40 of B has opposite signs there.
    a[30, 0] = a[30, 1] = np.inf
    b[0, :] = np.abs(b[0, :]) + 0.5
    b[1, :] = np.abs(b[1, :]) + 0.5
    b[1, 40] = -b[0, 40]
    return a, b


@pytest.mark.parametrize("ta,tb", TRANSPOSES, ids=TRANSPOSE_IDS)
def test_nan_and_inf_propagate(ta, tb, isa, threads, rng):
    a, b = special_operands(rng)
    expected = exact_ieee_product(a, b)
    # The pattern the test relies on, spelled out.
    assert np.isnan(expected[5]).all() and np.isnan(expected[:, 7]).all()
    assert np.isnan(expected[20, 30]) and expected[20, 0] == np.inf
    assert expected[25, 0] == -np.inf
    assert np.isnan(expected[30, 40]) and expected[30, 41] == np.inf
    finite_rows = [i for i in range(M) if i not in (5, 20, 25, 30)]
    assert np.isfinite(np.delete(expected[finite_rows], 7, axis=1)).all()

    c = ops.matmul(np.ascontiguousarray(a.T) if ta else a, np.ascontiguousarray(b.T) if tb else b,
                   transpose_a=ta, transpose_b=tb)
    # Error scale of the finite part; where the result is NaN/inf it must match exactly anyway.
    scale = gemm_scale(np.where(np.isfinite(a), a, 0), np.where(np.isfinite(b), b, 0))
    assert_close(c, expected, gemm_atol(K, scale), what="matmul with NaN/inf")


def test_nan_in_out_with_accumulate_propagates(isa, threads, rng):
    a = rng.uniform(-1, 1, (33, 40)).astype(np.float32)
    b = rng.uniform(-1, 1, (40, 50)).astype(np.float32)
    out = np.zeros((33, 50), np.float32)
    out[4, 9] = np.nan
    out[10, 20] = np.inf
    ops.matmul(a, b, out=out, accumulate=True)
    assert np.isnan(out[4, 9]) and out[10, 20] == np.inf
    assert np.isfinite(out).sum() == out.size - 2


def test_nan_operand_with_zero_partner_is_not_zeroed(isa):
    """0 * NaN is NaN: a kernel that skips zero entries would return 0 here."""
    a = np.array([[np.nan, 1.0]], np.float32)
    b = np.array([[0.0], [2.0]], np.float32)
    assert np.isnan(ops.matmul(a, b)).all()
    a = np.array([[np.inf, 1.0]], np.float32)
    assert np.isnan(ops.matmul(a, b)).all()
