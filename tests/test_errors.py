"""Bad inputs raise the documented exception type, with a message that names the problem."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastdnn
from fastdnn import ops

F32 = np.float32


def a23():
    return np.ones((2, 3), F32)


def b34():
    return np.ones((3, 4), F32)


# ---- matmul inputs -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "bad,word",
    [
        (np.ones((2, 3), np.complex64), "real"),
        (np.array([["a", "b", "c"], ["d", "e", "f"]]), "real"),
        (np.array([[object()] * 3] * 2, dtype=object), "real"),
        ([[1j, 2, 3], [4, 5, 6]], "real"),
    ],
    ids=["complex", "str", "object", "complex-list"],
)
@pytest.mark.parametrize("arg", ["a", "b"])
def test_non_real_input_raises_type_error(bad, word, arg):
    bad_t = np.asarray(bad).T if arg == "b" else bad
    args = (bad, b34()) if arg == "a" else (np.ones((4, 2), F32), bad_t)
    with pytest.raises(TypeError, match=word) as e:
        ops.matmul(*args)
    assert f"`{arg}`" in str(e.value)


@pytest.mark.parametrize(
    "a,b,kw",
    [
        (np.ones((2, 3)), np.ones((4, 2)), {}),
        (np.ones((2, 3)), np.ones((3, 4)), {"transpose_a": True}),
        (np.ones((2, 3)), np.ones((3, 4)), {"transpose_b": True}),
        (np.ones((2, 0)), np.ones((3, 4)), {}),
    ],
    ids=["NN", "TN", "NT", "K0-vs-3"],
)
def test_inner_dimension_mismatch(a, b, kw):
    with pytest.raises(ValueError, match="shape") as e:
        ops.matmul(a, b, **kw)
    msg = str(e.value)
    assert str(a.shape) in msg and str(b.shape) in msg, msg


@pytest.mark.parametrize("shape", [(3,), (1, 2, 3), ()], ids=["1d", "3d", "0d"])
@pytest.mark.parametrize("arg", ["a", "b"])
def test_input_must_be_2d(shape, arg):
    bad = np.ones(shape, F32)
    with pytest.raises(ValueError, match="dimensions") as e:
        ops.matmul(bad, b34()) if arg == "a" else ops.matmul(a23(), bad)
    assert f"`{arg}`" in str(e.value)


# ---- out= ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.int32, np.complex64])
def test_out_of_wrong_dtype_is_type_error(dtype):
    with pytest.raises(TypeError, match="float32") as e:
        ops.matmul(a23(), b34(), out=np.zeros((2, 4), dtype))
    assert "`out`" in str(e.value)


def test_out_big_endian_float32_is_type_error():
    with pytest.raises(TypeError, match="float32"):
        ops.matmul(a23(), b34(), out=np.zeros((2, 4), ">f4"))


@pytest.mark.parametrize("shape", [(2, 3), (4, 2), (8,), (2, 4, 1), (1, 4)])
def test_out_of_wrong_shape(shape):
    with pytest.raises(ValueError, match="shape|dimensions") as e:
        ops.matmul(a23(), b34(), out=np.zeros(shape, F32))
    assert "`out`" in str(e.value)


def test_out_read_only():
    out = np.zeros((2, 4), F32)
    out.setflags(write=False)
    with pytest.raises(ValueError, match="read-only"):
        ops.matmul(a23(), b34(), out=out)
    with pytest.raises(ValueError, match="read-only"):
        ops.matmul(a23(), b34(), out=out, accumulate=True)


@pytest.mark.parametrize(
    "make",
    [lambda: np.zeros((2, 8), F32)[:, ::2], lambda: np.zeros((4, 2), F32).T,
     lambda: np.asfortranarray(np.zeros((2, 4), F32))],
    ids=["strided", "transposed", "fortran"],
)
def test_out_not_contiguous(make):
    out = make()
    assert out.shape == (2, 4) and not out.flags.c_contiguous
    with pytest.raises(ValueError, match="contiguous"):
        ops.matmul(a23(), b34(), out=out)


def test_out_overlapping_an_input():
    buf = np.zeros(64, F32)
    a = buf[:6].reshape(2, 3)
    out = buf[4:12].reshape(2, 4)  # overlaps the tail of a
    with pytest.raises(ValueError, match="shares memory"):
        ops.matmul(a, b34(), out=out)
    b = buf[20:32].reshape(3, 4)
    with pytest.raises(ValueError, match="shares memory"):
        ops.matmul(a23(), b, out=buf[30:38].reshape(2, 4))
    sq = np.zeros((3, 3), F32)
    with pytest.raises(ValueError, match="shares memory"):
        ops.matmul(sq, sq.copy(), out=sq, accumulate=True)


def test_out_next_to_an_input_is_fine():
    buf = np.zeros(64, F32)
    a = buf[:6].reshape(2, 3)
    a[...] = 1
    out = buf[6:14].reshape(2, 4)  # adjacent, not overlapping
    ops.matmul(a, b34(), out=out)
    np.testing.assert_array_equal(out, np.full((2, 4), 3, F32))


def test_accumulate_needs_out():
    with pytest.raises(ValueError, match="out"):
        ops.matmul(a23(), b34(), accumulate=True)


def _crashes_or_raises(snippet):
    """Runs `snippet` in a child interpreter (a segfault must not take the suite down); returns
    (returncode, stdout+stderr)."""
    code = "import numpy as np, fastdnn\nfrom fastdnn import ops\n" + textwrap.dedent(snippet)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


@pytest.mark.parametrize("out", ["[[0.0] * 4] * 2", "{'a': 1}", "memoryview(bytearray(32))",
                                 "type('X', (), {})()", "(1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0)"],
                         ids=["list", "dict", "memoryview", "object", "tuple"])
def test_out_that_is_not_an_ndarray_is_type_error(out):
    rc, output = _crashes_or_raises(f"""
        try:
            ops.matmul(np.ones((2, 3)), np.ones((3, 4)), out={out})
        except TypeError as e:
            print("TypeError:", e)
            garbage = any(s in str(e) for s in ("<NULL>", "<class", "b'", "=5.0"))
            raise SystemExit(3 if garbage or "`out`" not in str(e) else 0)
        raise SystemExit(4)
    """)
    assert rc == 0, f"exit code {rc} (negative: killed by that signal): {output[-500:]}"


# ---- dense ---------------------------------------------------------------------------------------

def test_unknown_activation():
    with pytest.raises(ValueError, match="swish") as e:
        ops.dense(a23(), b34(), activation="swish")
    assert "relu" in str(e.value)  # lists what is accepted
    with pytest.raises(ValueError, match="Unknown activation"):
        ops.dense(a23(), b34(), activation="RELU")


@pytest.mark.parametrize("activation", [3, np.tanh, ["relu"]], ids=["int", "callable", "list"])
def test_activation_of_wrong_type(activation):
    with pytest.raises(TypeError, match="activation"):
        ops.dense(a23(), b34(), activation=activation)


@pytest.mark.parametrize(
    "activation,kwargs,word",
    [
        ("relu", {"alpha": 0.1}, "alpha"),
        ("elu", {"negative_slope": 0.1}, "negative_slope"),
        ("leaky_relu", {"slope": 0.1}, "slope"),
        (None, {"alpha": 1.0}, "alpha"),
        ("selu", {"scale": 1.0}, "scale"),
        ("sigmoid", {"alpha": 1.0}, "alpha"),
    ],
)
def test_unknown_activation_argument(activation, kwargs, word):
    with pytest.raises(TypeError, match=word):
        ops.dense(a23(), b34(), activation=activation, **kwargs)


def test_dense_kernel_mismatch():
    with pytest.raises(ValueError, match="shape") as e:
        ops.dense(a23(), np.ones((4, 5), F32))
    assert "(2, 3)" in str(e.value) and "(4, 5)" in str(e.value)


@pytest.mark.parametrize("bias", [np.ones(3, F32), np.ones(5, F32), np.ones((1, 4), F32),
                                  np.float32(1.0)], ids=["short", "long", "2d", "scalar"])
def test_dense_bias_shape(bias):
    with pytest.raises(ValueError, match="bias") as e:
        ops.dense(a23(), b34(), bias)
    assert "shape" in str(e.value) or "dimensions" in str(e.value)


@pytest.mark.parametrize("shape", [(3,), ()], ids=["1d", "0d"])
def test_dense_x_needs_2_dims(shape):
    with pytest.raises(ValueError, match="`x`"):
        ops.dense(np.ones(shape, F32), b34())


@pytest.mark.parametrize("arg", ["x", "kernel", "bias"])
def test_dense_non_real_inputs(arg):
    args = {"x": a23(), "kernel": b34(), "bias": np.ones(4, F32)}
    args[arg] = args[arg].astype(np.complex64)
    with pytest.raises(TypeError, match=f"`{arg}`"):
        ops.dense(**args)


def test_dense_out_errors():
    x, k = np.ones((2, 3, 5), F32), np.ones((5, 4), F32)
    with pytest.raises(TypeError, match="float32"):
        ops.dense(x, k, out=np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="shape"):
        ops.dense(x, k, out=np.zeros((3, 2, 4), F32))
    with pytest.raises(ValueError, match="shape"):
        ops.dense(x, k, out=np.zeros((2, 3, 5), F32))
    with pytest.raises(ValueError, match="contiguous"):
        ops.dense(x, k, out=np.zeros((2, 3, 8), F32)[..., ::2])
    with pytest.raises(ValueError, match="contiguous"):
        ops.dense(x, k, out=np.zeros((4, 3, 2), F32).T)
    ro = np.zeros((2, 3, 4), F32)
    ro.setflags(write=False)
    with pytest.raises(ValueError, match="read-only"):
        ops.dense(x, k, out=ro)
    with pytest.raises(ValueError, match="shares memory"):
        b = np.zeros(4, F32)
        ops.dense(np.ones((1, 5), F32), k, b, out=b.reshape(1, 4))
    with pytest.raises(ValueError, match="shares memory"):
        sq = np.ones((4, 4), F32)
        ops.dense(sq, np.eye(4, dtype=F32), out=sq)


def test_dense_out_must_keep_leading_dims():
    with pytest.raises(ValueError, match="shape"):
        ops.dense(np.ones((2, 3, 5), F32), np.ones((5, 4), F32), out=np.zeros((6, 4), F32))


# ---- runtime controls ----------------------------------------------------------------------------

@pytest.mark.parametrize("n,exc", [(0, ValueError), (-1, ValueError), (1.5, TypeError),
                                   (True, TypeError), (False, TypeError), ("2", TypeError),
                                   (None, TypeError), (2.0, TypeError)])
def test_set_num_threads_rejects(n, exc):
    before = fastdnn.get_num_threads()
    with pytest.raises(exc, match="positive integer"):
        fastdnn.set_num_threads(n)
    assert fastdnn.get_num_threads() == before


def test_native_set_num_threads_rejects_zero():
    with pytest.raises(ValueError, match="positive integer"):
        fastdnn._C.set_num_threads(0)


@pytest.mark.parametrize("name", ["nope", "", "AVX2", "avx1024"])
def test_set_isa_unknown(name):
    before = fastdnn.get_isa()
    with pytest.raises(ValueError) as e:
        fastdnn.set_isa(name)
    msg = str(e.value)
    assert repr(name) in msg or f"'{name}'" in msg
    for available in fastdnn.available_isas():
        assert available in msg, msg
    assert fastdnn.get_isa() == before


def test_set_isa_compiled_but_unavailable():
    missing = [i for i in fastdnn.build_info()["isa_compiled"] if i not in fastdnn.available_isas()]
    if not missing:
        pytest.skip("this CPU runs every compiled kernel path")
    with pytest.raises(ValueError):
        fastdnn.set_isa(missing[0])


# ---- activation arguments and codes (found by tests/fuzz) ----------------------------------------

@pytest.mark.parametrize("kwargs,exc,word", [
    ({"alpha": "x"}, TypeError, "real number"),
    ({"alpha": np.ones(2)}, TypeError, "real number"),
    ({"alpha": float("inf")}, ValueError, "finite"),
    ({"alpha": 1e40}, ValueError, "finite"),  # beyond float32: the kernel would see inf
])
@pytest.mark.parametrize("activation", ["elu", "leaky_relu"])
def test_activation_argument_of_wrong_type_or_range(activation, kwargs, exc, word):
    with pytest.raises(exc, match=word):
        ops.dense(a23(), b34(), activation=activation, **kwargs)
    with pytest.raises(exc, match=word):
        getattr(ops, activation)(a23(), *kwargs.values())


@pytest.mark.parametrize("code", [-1, 7, 100])
def test_native_unknown_activation_code_lists_the_codes(code):
    from fastdnn import _C
    with pytest.raises(ValueError, match=r"expected an integer in \[0, 7\).*tanh"):
        _C.gemm(a23(), b34(), False, False, None, False, None, code, 0.0, False)
    with pytest.raises(ValueError, match=r"expected an integer in \[0, 7\)"):
        _C.act_forward(a23(), code, 0.0)
    with pytest.raises(ValueError, match=r"expected an integer in \[0, 7\)"):
        _C.act_backward(a23(), a23(), code, 0.0, False)


@pytest.mark.parametrize("labels,word", [
    (np.array([0.5, 1.0]), r"whole numbers.*0\.5"),
    (np.array([np.nan, 1.0]), r"whole numbers.*nan"),
    (np.array([1e30, 1.0]), r"whole numbers.*1e\+30"),  # once wrapped to a negative int64
])
def test_float_labels_that_are_not_class_indices(labels, word):
    logits = np.zeros((2, 3), F32)
    with pytest.raises(ValueError, match=word):
        ops.sparse_softmax_cross_entropy(logits, labels)
    with pytest.raises(ValueError, match="Class labels must be integers"):
        fastdnn.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
