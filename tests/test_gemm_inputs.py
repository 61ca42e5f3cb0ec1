"""How matmul takes its inputs: float32 C-contiguous arrays pass through uncopied; other real
dtypes, lists and non-contiguous views are converted and give the same result."""

import pickle

import numpy as np
import pytest

from fastdnn import ops

from _tolerances import gemm_atol
from conftest import assert_close
from reference import gemm_ref, gemm_scale


@pytest.fixture
def ab(rng):
    a = rng.uniform(-1, 1, (13, 21)).astype(np.float32)
    b = rng.uniform(-1, 1, (21, 9)).astype(np.float32)
    return a, b


def test_float32_input_is_not_copied(ab):
    """`out` aliasing `a` is only detectable if `a` reached the kernel without a copy."""
    a, _ = ab
    sq = np.ascontiguousarray(a[:, :13])
    with pytest.raises(ValueError, match="shares memory"):
        ops.matmul(sq, np.eye(13, dtype=np.float32), out=sq)
    with pytest.raises(ValueError, match="shares memory"):
        ops.matmul(np.eye(13, dtype=np.float32), sq, out=sq)


def test_converted_input_may_share_bytes_with_out(ab):
    """A float64 `a` is converted to a new array first, so an `out` over the same bytes does not
    overlap the array the kernel reads, and the product is still right."""
    a, b = ab
    buf = np.zeros(13 * 21 * 2, np.float32)
    a64 = buf.view(np.float64).reshape(13, 21)
    a64[...] = a
    out = buf[: 13 * 9].reshape(13, 9)
    ops.matmul(a64, b, out=out)
    assert_close(out, gemm_ref(a, b), gemm_atol(21, gemm_scale(a, b)))


@pytest.mark.parametrize(
    "convert",
    [
        lambda x: x.astype(np.float64),
        lambda x: x.astype(np.float16),
        lambda x: np.round(x * 8).astype(np.int32),
        lambda x: np.round(x * 8).astype(np.int8),
        lambda x: (x > 0).astype(np.uint16),
        lambda x: x > 0,
        lambda x: x.tolist(),
        lambda x: x.astype(">f4"),  # big-endian float32 is not the native dtype
        lambda x: np.asfortranarray(x),
    ],
    ids=["float64", "float16", "int32", "int8", "uint16", "bool", "list", "big-endian", "fortran"],
)
def test_other_inputs_are_converted_to_float32(convert, ab, isa):
    a, b = ab
    ca, cb = convert(a), convert(b)
    expected = ops.matmul(np.asarray(ca, dtype=np.float32), np.asarray(cb, dtype=np.float32))
    np.testing.assert_array_equal(ops.matmul(ca, b), ops.matmul(np.asarray(ca, np.float32), b))
    np.testing.assert_array_equal(ops.matmul(a, cb), ops.matmul(a, np.asarray(cb, np.float32)))
    np.testing.assert_array_equal(ops.matmul(ca, cb), expected)


def test_strided_views_are_converted(rng, isa):
    big_a = rng.uniform(-1, 1, (40, 70)).astype(np.float32)
    big_b = rng.uniform(-1, 1, (70, 30)).astype(np.float32)
    a = big_a[::3, 1::2]  # (14, 35), neither C- nor F-contiguous
    b = big_b[::2, ::-1]  # (35, 30), negative stride
    assert not a.flags.c_contiguous and not b.flags.c_contiguous
    c = ops.matmul(a, b)
    np.testing.assert_array_equal(c, ops.matmul(np.ascontiguousarray(a), np.ascontiguousarray(b)))
    assert_close(c, gemm_ref(a, b), gemm_atol(35, gemm_scale(a, b)))


def test_transposed_view_matches_transpose_flag(ab, isa):
    """a.T (a view, converted) and transpose_a=True (no copy) give the same product."""
    a, b = ab
    at = np.ascontiguousarray(a.T)  # stored (21, 13)
    via_view = ops.matmul(at.T, b)
    via_flag = ops.matmul(at, b, transpose_a=True)
    assert_close(via_view, gemm_ref(a, b), gemm_atol(21, gemm_scale(a, b)))
    assert_close(via_flag, gemm_ref(a, b), gemm_atol(21, gemm_scale(a, b)))


def test_zero_strided_broadcast_input(isa):
    a = np.broadcast_to(np.float32(0.5), (4, 6))
    b = np.arange(12, dtype=np.float32).reshape(6, 2)
    np.testing.assert_array_equal(ops.matmul(a, b), np.full((4, 6), 0.5, np.float32) @ b)


def test_inputs_are_not_modified(ab, isa, threads):
    a, b = ab
    a0, b0 = a.copy(), b.copy()
    ops.matmul(a, b, transpose_a=False)
    ops.matmul(b, a, transpose_a=True, transpose_b=True)
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(b, b0)


def test_unpickled_float32_array_is_accepted(ab):
    a, b = ab
    a2 = pickle.loads(pickle.dumps(a))
    assert a2.dtype == np.float32 and a2.flags.c_contiguous
    np.testing.assert_array_equal(ops.matmul(a2, b), ops.matmul(a, b))
