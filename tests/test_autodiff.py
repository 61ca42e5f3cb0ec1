"""GradientTape semantics: accumulation, unconnected sources, persistence, automatic watching of
Variables, recording only inside a tape, chains and reuse of results, non-scalar targets and the
argument checks of `watch`."""

import gc
import threading
import weakref

import numpy as np
import pytest

import fastdnn
from fastdnn import autodiff, ops

from _tolerances import ELEMENTWISE_RTOL, grad_atol
from conftest import assert_close
from reference import f64
from test_ops_grad import check_gradients, loss_weights, numeric_grad


def _x(rng, shape=(3, 4), low=-2.0, high=2.0):
    return rng.uniform(low, high, shape).astype(np.float32)


# ---- accumulation --------------------------------------------------------------------------

def test_gradient_accumulates_over_uses(rng):
    """y = x*x + x uses x three times: dy/dx = 2x + 1."""
    x = _x(rng)
    with fastdnn.GradientTape() as tape:
        tape.watch(x)
        y = ops.add(ops.multiply(x, x), x)
    g = tape.gradient(y, x)
    assert g.dtype == np.float32 and g.shape == x.shape
    assert_close(g, 2 * f64(x) + 1, 0.0, ELEMENTWISE_RTOL)


def test_gradient_accumulates_across_branches(rng):
    """h = tanh(x) feeds two branches that meet again: both paths' gradients add up."""
    x = _x(rng)

    def op(x):
        h = ops.tanh(x)
        return ops.add(ops.multiply(h, h), ops.sigmoid(ops.multiply(h, x)))

    def ref(x):
        h = np.tanh(f64(x))
        return h * h + 1 / (1 + np.exp(-h * f64(x)))

    check_gradients(op, ref, [x], rng, fwd_rtol=1e-5, what="branches")


def test_long_chain_of_results(rng):
    """Results feed further ops many times over: the chain rule through 8 ops."""
    x = _x(rng, (4, 3), -1, 1)
    w = _x(rng, (3, 3), -1, 1)

    def op(x, w):
        h = ops.matmul(x, w)
        h = ops.elu(ops.add(h, 0.1))
        h = ops.multiply(ops.exp(ops.negative(ops.square(h))), h)
        return ops.mean(ops.reshape(h, (2, 6)), axis=0)

    def ref(x, w):
        h = f64(x) @ f64(w) + 0.1
        h = np.where(h > 0, h, np.expm1(np.minimum(h, 0)))
        h = np.exp(-h * h) * h
        return h.reshape(2, 6).mean(axis=0)

    check_gradients(op, ref, [x, w], rng, depth=4, fwd_atol=1e-6, fwd_rtol=1e-5, what="chain")


def test_several_sources_at_once(rng):
    a, b, c = _x(rng), _x(rng), _x(rng, (4,))
    with fastdnn.GradientTape() as tape:
        tape.watch([a, b, c])
        y = ops.sum(ops.multiply(ops.add(a, c), b))
    ga, gb, gc_ = tape.gradient(y, [a, b, c])
    assert_close(ga, f64(b), 0.0)
    assert_close(gb, f64(a) + f64(c), 0.0, ELEMENTWISE_RTOL)
    assert_close(gc_, f64(b).sum(axis=0), 1e-6)


# ---- sources that do not reach the target --------------------------------------------------

def test_unconnected_source_gives_none(rng):
    x, z = _x(rng), _x(rng)
    with fastdnn.GradientTape() as tape:
        tape.watch([x, z])
        y = ops.sum(ops.square(x))
        ops.exp(z)  # recorded, but does not feed y
    gx, gz = tape.gradient(y, [x, z])
    assert gx is not None and gz is None


def test_unwatched_input_gives_none(rng):
    x, z = _x(rng), _x(rng)
    with fastdnn.GradientTape() as tape:
        tape.watch(x)
        y = ops.sum(ops.multiply(x, z))
    gx, gz = tape.gradient(y, [x, z])
    assert_close(gx, f64(z), 0.0)
    assert gz is None


def test_target_not_from_the_tape_gives_none(rng):
    x = _x(rng)
    with fastdnn.GradientTape() as tape:
        tape.watch(x)
        ops.square(x)
    assert tape.gradient(np.ones(3, np.float32), x) is None


def test_gradient_of_source_itself_is_ones(rng):
    x = _x(rng)
    with fastdnn.GradientTape() as tape:
        tape.watch(x)
    np.testing.assert_array_equal(tape.gradient(x, x), np.ones_like(x))


# ---- persistence ---------------------------------------------------------------------------

def test_non_persistent_tape_raises_on_second_call(rng):
    x = _x(rng)
    with fastdnn.GradientTape() as tape:
        tape.watch(x)
        y = ops.sum(ops.square(x))
    tape.gradient(y, x)
    with pytest.raises(RuntimeError, match="persistent"):
        tape.gradient(y, x)


def test_persistent_tape_answers_twice(rng):
    x = _x(rng)
    with fastdnn.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = ops.square(x)
        s = ops.sum(y)
        m = ops.mean(y)
    g1 = tape.gradient(s, x)
    g2 = tape.gradient(s, x)
    g3 = tape.gradient(m, x)
    np.testing.assert_array_equal(g1, g2)
    assert_close(g1, 2 * f64(x), 0.0, ELEMENTWISE_RTOL)
    assert_close(g3, 2 * f64(x) / x.size, 0.0, ELEMENTWISE_RTOL)


def test_gradient_inside_the_with_block(rng):
    x = _x(rng)
    with fastdnn.GradientTape() as tape:
        tape.watch(x)
        y = ops.sum(ops.square(x))
        g = tape.gradient(y, x)
    assert_close(g, 2 * f64(x), 0.0, ELEMENTWISE_RTOL)


# ---- Variables -----------------------------------------------------------------------------

def test_trainable_variable_is_watched_automatically(rng):
    v = fastdnn.Variable(_x(rng), name="w")
    with fastdnn.GradientTape() as tape:
        y = ops.sum(ops.square(v))
    g = tape.gradient(y, v)
    assert_close(g, 2 * f64(v.numpy()), 0.0, ELEMENTWISE_RTOL)
    # asking by the Variable or by its current value is the same
    with fastdnn.GradientTape() as tape:
        y = ops.sum(ops.square(v))
    assert_close(tape.gradient(y, [v])[0], 2 * f64(v.numpy()), 0.0, ELEMENTWISE_RTOL)


def test_non_trainable_variable_is_not_watched(rng):
    v = fastdnn.Variable(_x(rng), trainable=False)
    with fastdnn.GradientTape() as tape:
        y = ops.sum(ops.square(v))
    assert tape.gradient(y, v) is None


def test_non_trainable_variable_can_be_watched_explicitly(rng):
    v = fastdnn.Variable(_x(rng), trainable=False)
    with fastdnn.GradientTape() as tape:
        tape.watch(v)
        y = ops.sum(ops.square(v))
    assert_close(tape.gradient(y, v), 2 * f64(v.numpy()), 0.0, ELEMENTWISE_RTOL)


def test_watch_accessed_variables_false(rng):
    v, u = fastdnn.Variable(_x(rng)), fastdnn.Variable(_x(rng))
    with fastdnn.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(u)
        y = ops.sum(ops.multiply(v, u))
    gv, gu = tape.gradient(y, [v, u])
    assert gv is None
    assert_close(gu, f64(v.numpy()), 0.0)


def test_variable_update_after_tape_leaves_gradient_intact(rng):
    """The optimizer pattern: gradient, then assign_sub into the same Variable."""
    v = fastdnn.Variable(_x(rng))
    before = v.numpy()
    with fastdnn.GradientTape() as tape:
        loss = ops.sum(ops.square(v))
    g = tape.gradient(loss, [v])[0]
    v.assign_sub(0.1 * g)
    assert_close(v.numpy(), f64(before) * 0.8, 1e-6)


# ---- recording -----------------------------------------------------------------------------

def test_ops_outside_a_tape_record_nothing(rng):
    assert autodiff.recording() is None
    x = _x(rng)
    y = ops.exp(ops.dense(x, np.ones((4, 2), np.float32), activation="tanh"))
    assert isinstance(y, np.ndarray) and y.dtype == np.float32
    # nothing keeps the results alive
    ref = weakref.ref(y)
    del y
    gc.collect()
    assert ref() is None
    # a later tape knows nothing of earlier ops
    z = ops.square(x)
    with fastdnn.GradientTape() as tape:
        tape.watch(x)
        s = ops.sum(z)
    assert tape.gradient(s, x) is None


def test_ops_on_unwatched_data_inside_a_tape_keep_nothing(rng):
    x = _x(rng)
    with fastdnn.GradientTape() as tape:
        y = ops.tanh(ops.square(x))
        ref = weakref.ref(y)
        del y
        gc.collect()
        assert ref() is None
    assert tape.gradient(ops.sum(x), x) is None


def test_tape_stops_recording_at_exit(rng):
    x = _x(rng)
    with fastdnn.GradientTape() as tape:
        tape.watch(x)
    y = ops.sum(ops.square(x))  # after the block
    assert autodiff.recording() is None
    assert tape.gradient(y, x) is None


def test_tape_exits_cleanly_on_exception(rng):
    with pytest.raises(ZeroDivisionError):
        with fastdnn.GradientTape():
            1 / 0
    assert autodiff.recording() is None


def test_tapes_are_per_thread(rng):
    """Another thread's ops are not recorded on this thread's tape."""
    x = _x(rng)
    out = {}
    with fastdnn.GradientTape() as tape:
        tape.watch(x)
        t = threading.Thread(target=lambda: out.update(rec=autodiff.recording(), y=ops.square(x)))
        t.start()
        t.join()
        theirs = ops.sum(out["y"])
    assert out["rec"] is None
    assert tape.gradient(theirs, x) is None


def test_nested_tapes_both_record(rng):
    x = _x(rng)
    with fastdnn.GradientTape() as outer:
        outer.watch(x)
        with fastdnn.GradientTape() as inner:
            inner.watch(x)
            y = ops.sum(ops.square(x))
        g_inner = inner.gradient(y, x)
    g_outer = outer.gradient(y, x)
    assert_close(g_inner, 2 * f64(x), 0.0, ELEMENTWISE_RTOL)
    assert g_outer is not None
    assert_close(g_outer, 2 * f64(x), 0.0, ELEMENTWISE_RTOL)


def test_sequential_tapes_are_independent(rng):
    x = _x(rng)
    for scale in (1.0, 3.0):
        with fastdnn.GradientTape() as tape:
            tape.watch(x)
            y = ops.sum(ops.multiply(ops.square(x), np.array(scale, np.float32)))
        assert_close(tape.gradient(y, x), 2 * scale * f64(x), 0.0, ELEMENTWISE_RTOL)


# ---- targets -------------------------------------------------------------------------------

def test_non_scalar_target_is_summed(rng):
    """A non-scalar target is seeded with ones: same as differentiating its sum."""
    x = _x(rng)
    with fastdnn.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = ops.tanh(ops.multiply(x, np.array(0.7, np.float32)))
        s = ops.sum(y)
    g_y = tape.gradient(y, x)
    g_s = tape.gradient(s, x)
    np.testing.assert_array_equal(g_y, g_s)
    ref = numeric_grad(lambda x: float(np.sum(np.tanh(0.7 * x))), [x], 0)
    assert_close(g_y, ref, grad_atol(ref))


def test_gradient_returns_float32_in_the_structure_of_sources(rng):
    x, z = _x(rng), _x(rng)
    with fastdnn.GradientTape(persistent=True) as tape:
        tape.watch([x, z])
        y = ops.sum(ops.multiply(x, z))
    single = tape.gradient(y, x)
    listed = tape.gradient(y, [x, z])
    assert isinstance(single, np.ndarray) and single.dtype == np.float32
    assert isinstance(listed, list) and len(listed) == 2
    assert all(g.dtype == np.float32 for g in listed)


def test_weighted_target_matches_finite_differences(rng):
    """The seed reaches every op: sum(f(x) · w) for a nonlinear f of a reused result."""
    x = _x(rng, (5, 3), -1, 1)
    w = loss_weights((5, 3), rng)
    with fastdnn.GradientTape() as tape:
        tape.watch(x)
        h = ops.sigmoid(x)
        loss = ops.sum(ops.multiply(ops.multiply(h, ops.log(ops.add(h, 1.0))), w))
    g = tape.gradient(loss, x)

    def loss64(x):
        h = 1 / (1 + np.exp(-x))
        return float(np.sum(h * np.log(h + 1) * f64(w)))

    ref = numeric_grad(loss64, [x], 0)
    assert_close(g, ref, grad_atol(ref))


# ---- watch ---------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [1.0, "x", None, [1.0, 2.0], {"a": 1}], ids=repr)
def test_watch_rejects_non_arrays(bad):
    with fastdnn.GradientTape() as tape:
        with pytest.raises(TypeError, match="arrays or Variables"):
            tape.watch(bad)


def test_watch_accepts_lists_of_arrays_and_variables(rng):
    x = _x(rng)
    v = fastdnn.Variable(_x(rng), trainable=False)
    with fastdnn.GradientTape() as tape:
        tape.watch([x, v])
        y = ops.sum(ops.multiply(x, v))
    gx, gv = tape.gradient(y, [x, v])
    assert_close(gx, f64(v.numpy()), 0.0)
    assert_close(gv, f64(x), 0.0)


@pytest.mark.parametrize("kind", ["strided_slice", "transpose", "float64"])
def test_watched_array_needing_conversion_gets_a_gradient(kind, rng):
    base = _x(rng, (4, 6))
    x = {"strided_slice": base[:, ::2], "transpose": base.T, "float64": base.astype(np.float64)}[kind]
    with fastdnn.GradientTape() as tape:
        tape.watch(x)
        y = ops.sum(ops.square(x))
    g = tape.gradient(y, x)
    assert g is not None
    assert_close(g, 2 * f64(x), 0.0, ELEMENTWISE_RTOL)
