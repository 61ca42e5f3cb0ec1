"""fastdnn.ops.matmul against a float64 NumPy reference: sizes, transposes, kernel paths,
threads, empty dimensions and accumulate."""

import functools
import itertools

import numpy as np
import pytest

import fastdnn
from fastdnn import _C, ops

from _tolerances import gemm_atol
from conftest import assert_close
from reference import gemm_ref, gemm_scale

TRANSPOSES = list(itertools.product([False, True], repeat=2))
TRANSPOSE_IDS = ["NN", "NT", "TN", "TT"]

# (M, N, K), each drawn from {1, 3, 17, 33, 257, 1000}, each value in each position at least once.
# 257 and 1000 cross the fast kernels' K blocks (128 or 256 deep) and 1000 their N blocks (480 to
# 960 wide); 17, 33 and 257 leave partial register tiles (4-8 rows, 16-48 columns).
SMALL_SHAPES = [
    (1, 1, 1), (3, 17, 33), (17, 33, 3), (33, 3, 17), (1, 257, 3), (257, 1, 17),
    (17, 3, 257), (33, 33, 33), (257, 257, 257),
    # K a multiple of 256: rows of A 1 KiB apart, which the kernels copy to a contiguous sliver.
    (17, 33, 256), (9, 50, 512),
]
LARGE_SHAPES = [
    (1000, 17, 33), (33, 1000, 17), (17, 33, 1000), (257, 1000, 1000), (1000, 1000, 257),
]
EMPTY_SHAPES = [(0, 17, 33), (17, 0, 33), (17, 33, 0), (0, 0, 0), (0, 3, 0), (1, 1, 0)]


def stored(m, n, k, ta, tb, seed):
    """Random float32 operands stored so that op(a) is (m, k) and op(b) is (k, n)."""
    r = np.random.default_rng(seed)
    a = r.uniform(-1, 1, (k, m) if ta else (m, k)).astype(np.float32)
    b = r.uniform(-1, 1, (n, k) if tb else (k, n)).astype(np.float32)
    return a, b


@functools.lru_cache(maxsize=None)
def problem(m, n, k, ta, tb):
    """Operands, float64 reference and tolerance, shared by every isa/thread variant. The operands
    are read-only, which also checks that matmul accepts read-only inputs and never writes them."""
    a, b = stored(m, n, k, ta, tb, seed=hash((m, n, k, ta, tb)) & 0xFFFFFFFF)
    a.setflags(write=False)
    b.setflags(write=False)
    ref = gemm_ref(a, b, ta, tb)
    return a, b, ref, gemm_atol(k, gemm_scale(a, b, ta, tb))


def check_product(m, n, k, ta, tb):
    a, b, ref, atol = problem(m, n, k, ta, tb)
    c = ops.matmul(a, b, transpose_a=ta, transpose_b=tb)
    assert c.dtype == np.float32 and c.flags.c_contiguous and c.shape == (m, n)
    assert_close(c, ref, atol, what=f"matmul {m}x{n}x{k} ta={ta} tb={tb}")


@pytest.mark.parametrize("ta,tb", TRANSPOSES, ids=TRANSPOSE_IDS)
@pytest.mark.parametrize("shape", SMALL_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_matmul_small(shape, ta, tb, isa, threads):
    check_product(*shape, ta, tb)


@pytest.mark.parametrize("ta,tb", TRANSPOSES, ids=TRANSPOSE_IDS)
@pytest.mark.parametrize("shape", LARGE_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_matmul_large(shape, ta, tb, fast_isa, threads):
    check_product(*shape, ta, tb)


def test_matmul_1000_cubed(fast_isa, threads):
    check_product(1000, 1000, 1000, False, False)


@pytest.mark.parametrize("ta,tb", TRANSPOSES, ids=TRANSPOSE_IDS)
@pytest.mark.parametrize("shape", EMPTY_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_matmul_empty_dimension(shape, ta, tb, isa, threads):
    m, n, k = shape
    a, b = stored(m, n, k, ta, tb, seed=0)
    c = ops.matmul(a, b, transpose_a=ta, transpose_b=tb)
    assert c.shape == (m, n) and c.dtype == np.float32
    np.testing.assert_array_equal(c, np.zeros((m, n), np.float32))
    # With out= holding garbage, K = 0 must still overwrite it with zeros.
    out = np.full((m, n), np.nan, np.float32)
    assert ops.matmul(a, b, transpose_a=ta, transpose_b=tb, out=out) is out
    np.testing.assert_array_equal(out, np.zeros((m, n), np.float32))


@pytest.mark.parametrize("shape", [(33, 33, 33), (257, 257, 257)], ids=["33", "257"])
def test_tolerance_catches_plausible_bugs(shape):
    """The GEMM tolerance is tight enough to fail a wrong result, not just a crash."""
    m, n, k = shape
    a, b, ref, atol = problem(m, n, k, True, False)
    ignored_transpose = gemm_ref(a, b, False, False)
    with pytest.raises(AssertionError):
        assert_close(ignored_transpose, ref, atol)
    dropped_last_k = gemm_ref(a[:-1], b[:-1], True, False)
    with pytest.raises(AssertionError):
        assert_close(dropped_last_k, ref, atol)
    float16_inputs = gemm_ref(a.astype(np.float16), b.astype(np.float16), True, False)
    with pytest.raises(AssertionError):
        assert_close(float16_inputs, ref, atol)
    with pytest.raises(AssertionError):
        assert_close(ref * (1 + 1e-4), ref, atol)  # a 1e-4 relative error


# ---- out= and accumulate ------------------------------------------------------------------------

ACC_SHAPES = [(33, 17, 257), (17, 33, 3), (9, 50, 1), (33, 33, 0), (0, 5, 3), (70, 130, 40)]


@pytest.mark.parametrize("ta,tb", TRANSPOSES, ids=TRANSPOSE_IDS)
@pytest.mark.parametrize("shape", ACC_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_accumulate_adds_into_out(shape, ta, tb, isa, threads, rng):
    m, n, k = shape
    a, b = stored(m, n, k, ta, tb, seed=rng.integers(1 << 31))
    c0 = rng.uniform(-5, 5, (m, n)).astype(np.float32)
    out = c0.copy()
    assert ops.matmul(a, b, transpose_a=ta, transpose_b=tb, out=out, accumulate=True) is out
    ref = gemm_ref(a, b, ta, tb, c0=c0)
    assert_close(out, ref, gemm_atol(k + 1, gemm_scale(a, b, ta, tb, c0)), what="out += a @ b")
    # A second call adds the product again.
    ops.matmul(a, b, transpose_a=ta, transpose_b=tb, out=out, accumulate=True)
    ref2 = gemm_ref(a, b, ta, tb, c0=ref)
    assert_close(out, ref2, gemm_atol(k + 2, gemm_scale(a, b, ta, tb, c0) * 2),
                 what="out += 2 a @ b")


def test_accumulate_with_k0_leaves_out_unchanged(isa, threads, rng):
    c0 = rng.standard_normal((5, 7)).astype(np.float32)
    out = c0.copy()
    ops.matmul(np.zeros((5, 0), np.float32), np.zeros((0, 7), np.float32), out=out, accumulate=True)
    np.testing.assert_array_equal(out, c0)


@pytest.mark.parametrize("shape", [(33, 17, 257), (70, 130, 40), (3, 3, 3)])
def test_out_is_overwritten_not_added(shape, isa, threads, rng):
    """Without accumulate, whatever out holds (NaN here) must not leak into the result."""
    m, n, k = shape
    a, b = stored(m, n, k, False, False, seed=rng.integers(1 << 31))
    out = np.full((m, n), np.nan, np.float32)
    assert ops.matmul(a, b, out=out) is out
    assert_close(out, gemm_ref(a, b), gemm_atol(k, gemm_scale(a, b)))


def test_new_result_is_fresh_float32_array(rng):
    a, b = stored(4, 6, 5, False, False, seed=1)
    c1 = ops.matmul(a, b)
    c2 = ops.matmul(a, b)
    assert c1.dtype == np.float32 and c1.flags.c_contiguous and c1.flags.writeable
    assert not np.shares_memory(c1, c2)
    assert not np.shares_memory(c1, a) and not np.shares_memory(c1, b)


@pytest.mark.parametrize("nthreads", [3, 5, 16])
@pytest.mark.parametrize("ta,tb", TRANSPOSES, ids=TRANSPOSE_IDS)
@pytest.mark.parametrize("shape", [(9, 17, 33), (33, 300, 17), (300, 33, 257)],
                         ids=lambda s: "x".join(map(str, s)))
def test_matmul_more_threads_than_blocks(shape, ta, tb, nthreads):
    """Thread counts that do not factor into the problem (primes, more threads than cores or
    register tiles) still split it into non-empty blocks, or fewer threads, and stay exact."""
    prev_n, prev_threshold = fastdnn.get_num_threads(), _C.gemm_parallel_threshold()
    fastdnn.set_num_threads(nthreads)
    _C.set_gemm_parallel_threshold(0)
    try:
        check_product(*shape, ta, tb)
    finally:
        _C.set_gemm_parallel_threshold(prev_threshold)
        fastdnn.set_num_threads(prev_n)


# A transposed B under few rows of A runs as the transposed problem Cᵀ = B·Aᵀ (gemm.cpp); the
# training shapes of the chapter's model (dX = dZ·Wᵀ at batch 32), one row, a square-ish edge.
TRANSPOSED_B_SHAPES = [(32, 784, 300), (32, 300, 100), (1, 784, 300), (128, 300, 64), (17, 18, 16), (5, 9, 3000)]


@pytest.mark.parametrize("shape", TRANSPOSED_B_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_small_m_transposed_b_is_the_direct_product_bit_for_bit(shape, isa, threads):
    """Against float64 NumPy, and against the direct kernel (a zero bias keeps the product on
    it): the same multiply-adds in the same order, so the same bits."""
    m, n, k = shape
    check_product(m, n, k, False, True)
    a, b, _, _ = problem(m, n, k, False, True)
    fast = _C.gemm(a, b, False, True, None, False, None, 0, 0.0, False)[0]
    direct = _C.gemm(a, b, False, True, None, False, np.zeros(n, np.float32), 0, 0.0, False)[0]
    assert np.array_equal(fast, direct)
