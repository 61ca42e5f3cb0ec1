"""SGD against a float64 NumPy transcription of Keras 3's update rule."""

import numpy as np
import pytest

import fastdnn
from fastdnn import _C, optimizers


def keras_sgd_reference(w, grads, lr, momentum, nesterov):
    """Keras 3 SGD, step by step, in float64."""
    w = w.astype(np.float64)
    m = np.zeros_like(w)
    for g in grads:
        g = g.astype(np.float64)
        if momentum == 0:
            w = w - lr * g
        else:
            m = momentum * m - lr * g
            w = w + (momentum * m - lr * g if nesterov else m)
    return w


@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True)])
@pytest.mark.parametrize("shape", [(3,), (70, 130), (300, 400)])  # 120k floats spans chunks
def test_sgd_matches_keras_rule(shape, momentum, nesterov, rng):
    w0 = rng.standard_normal(shape).astype(np.float32)
    grads = [rng.standard_normal(shape).astype(np.float32) for _ in range(4)]
    var = fastdnn.Variable(w0)
    opt = optimizers.SGD(learning_rate=0.05, momentum=momentum, nesterov=nesterov)
    for g in grads:
        opt.apply_gradients([(g.copy(), var)])
    ref = keras_sgd_reference(w0, grads, 0.05, momentum, nesterov)
    np.testing.assert_allclose(var.numpy(), ref, rtol=1e-5, atol=1e-6)
    assert opt.iterations == 4


def test_sgd_book_spelling_and_config_round_trip():
    opt = optimizers.SGD(lr=0.001, momentum=0.9, nesterov=True)
    assert opt.learning_rate == 0.001
    clone = optimizers.SGD.from_config(opt.get_config())
    assert clone.get_config() == opt.get_config()
    assert isinstance(optimizers.get("sgd"), optimizers.SGD)
    assert optimizers.get("sgd").learning_rate == 0.01


def test_sgd_rejects_bad_arguments():
    with pytest.raises(ValueError, match="learning_rate"):
        optimizers.SGD(learning_rate=-1)
    with pytest.raises(ValueError, match="momentum"):
        optimizers.SGD(momentum=1.5)
    with pytest.raises(TypeError, match="Unrecognized"):
        optimizers.SGD(foo=1)
    with pytest.raises(ValueError, match="Unknown optimizer"):
        optimizers.get("nope")


def test_native_update_rejects_mismatched_gradients():
    w = np.zeros((3, 2), np.float32)
    with pytest.raises(ValueError, match="does not match"):
        _C.sgd_update([w], [np.zeros((2, 3), np.float32)], None, 0.1, 0.0, False)
    with pytest.raises(ValueError, match="one gradient per parameter"):
        _C.sgd_update([w], [], None, 0.1, 0.0, False)
    ro = np.zeros(3, np.float32)
    ro.setflags(write=False)
    with pytest.raises(ValueError, match="read-only"):
        _C.sgd_update([ro], [np.zeros(3, np.float32)], None, 0.1, 0.0, False)


def test_none_gradients_are_skipped():
    var = fastdnn.Variable(np.ones(3, np.float32))
    optimizers.SGD(0.1).apply_gradients([(None, var)])
    np.testing.assert_array_equal(var.numpy(), np.ones(3, np.float32))
