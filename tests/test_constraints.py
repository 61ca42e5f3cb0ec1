"""Weight constraints: each formula (Keras 3's, ε = 1e-7) against float64 NumPy, natively and
through `__call__`; max-norm holds after every training step; configs, names and errors."""

import numpy as np
import pytest

import fastdnn as keras
from fastdnn import _C
from _tolerances import CONSTRAINT_ULPS, EPS32

C = keras.constraints
EPS = 1e-7


def reference(constraint, w):
    """Keras 3's formulas in float64."""
    w = np.asarray(w, np.float64)
    if isinstance(constraint, C.NonNeg):
        return w * (w >= 0)
    axis = tuple(constraint.axis) if isinstance(constraint.axis, list) else constraint.axis
    norms = np.sqrt(np.sum(w * w, axis=axis, keepdims=True))
    if isinstance(constraint, C.MaxNorm):
        desired = np.clip(norms, 0, constraint.max_value)
    elif isinstance(constraint, C.UnitNorm):
        desired = 1.0
    else:
        desired = (constraint.rate * np.clip(norms, constraint.min_value, constraint.max_value)
                   + (1 - constraint.rate) * norms)
    return w * (desired / (EPS + norms))


CASES = [(C.MaxNorm(1.0), (784, 300)), (C.max_norm(2.0, axis=1), (17, 33)), (C.MaxNorm(0.5, axis=-1), (3, 4, 5)),
         (C.MaxNorm(1.0, axis=[1, 2]), (3, 4, 5)), (C.MaxNorm(3.0), (300,)), (C.UnitNorm(), (33, 17)),
         (C.unit_norm(axis=1), (1, 1)), (C.MinMaxNorm(0.5, 1.0, 1.0), (100, 7)),
         (C.min_max_norm(1.5, 3.0, rate=0.3, axis=1), (9, 300)), (C.NonNeg(), (257, 3)), (C.non_neg(), (400_000,)),
         (C.MaxNorm(1.0), (1000, 300))]  # the last two run on the thread pool


def _weights(rng, shape):
    w = (rng.normal(size=shape) * rng.choice([0.01, 0.3, 3.0], size=shape[-1:])).astype(np.float32)
    w.reshape(-1)[::11] = 0.0
    return w


@pytest.mark.parametrize("constraint,shape", CASES, ids=lambda c: repr(c))
def test_native_matches_reference(isa, rng, constraint, shape):
    w = _weights(rng, shape)
    expected = reference(constraint, w)
    spec = constraint.native_spec(w.shape)
    assert spec is not None
    _C.apply_constraints([w], [spec])
    assert np.all(np.abs(w - expected) <= CONSTRAINT_ULPS * EPS32 * np.abs(expected) + 1e-30)


@pytest.mark.parametrize("constraint,shape", CASES[:10], ids=lambda c: repr(c))
def test_call_matches_reference(rng, constraint, shape):
    w = _weights(rng, shape)
    out = constraint(w)
    assert out.dtype == np.float32 and out.shape == w.shape
    np.testing.assert_allclose(out, reference(constraint, w), rtol=CONSTRAINT_ULPS * EPS32, atol=1e-30)


def test_epsilon_at_small_norms():
    """Keras divides by ε + ‖w‖, so a column of norm 1e-6 keeps 1e-6/(1e-6 + 1e-7) of itself."""
    w = np.array([[1e-6]], np.float32)
    for constraint, factor in ((C.MaxNorm(1.0), 1 / 1.1), (C.UnitNorm(), 1 / (1e-6 + 1e-7))):
        got = w.copy()
        _C.apply_constraints([got], [constraint.native_spec(got.shape)])
        assert got[0, 0] == pytest.approx(1e-6 * factor, rel=1e-6)
        assert constraint(w)[0, 0] == pytest.approx(1e-6 * factor, rel=1e-6)


def test_non_contiguous_axes_fall_back_to_python():
    assert C.MaxNorm(1.0, axis=[0, 2]).native_spec((3, 4, 5)) is None


def test_max_norm_holds_after_every_step(rng):
    """The chapter's Dense(..., kernel_constraint=max_norm(1.)), trained with a large rate that
    pushes the weights out: every unit's incoming norm is <= 1 after every batch."""
    keras.utils.set_random_seed(7)
    model = keras.models.Sequential([
        keras.layers.Flatten(input_shape=[8, 8]),
        keras.layers.Dense(100, activation="elu", kernel_initializer="he_normal",
                           kernel_constraint=keras.constraints.max_norm(1.)),
        keras.layers.Dense(10, activation="softmax", bias_constraint=keras.constraints.non_neg())])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(learning_rate=0.5))
    x, y = rng.normal(size=(256, 8, 8)) * 3, rng.integers(0, 10, 256)
    norms, biases = [], []

    def check(batch, logs):
        norms.append(np.linalg.norm(model.layers[1].kernel.numpy().astype(np.float64), axis=0).max())
        biases.append(model.layers[2].bias.numpy().min())

    model.fit(x, y, batch_size=16, epochs=2, verbose=0,
              callbacks=[keras.callbacks.LambdaCallback(on_train_batch_end=check)])
    assert len(norms) == 32
    assert max(norms) <= 1.0 + 4 * EPS32
    assert min(norms) > 0.99  # the constraint was active: the norms were pushed to the bound
    assert min(biases) >= 0


def test_python_constraint_applied_each_step(rng):
    model = keras.Sequential([keras.layers.Dense(4, input_shape=[3], kernel_constraint=lambda w: np.clip(w, -0.1, 0.1))])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0), loss="mse")
    model.fit(rng.normal(size=(32, 3)), rng.normal(size=(32, 4)) * 10, epochs=1, verbose=0)
    w = model.layers[0].kernel.numpy()
    assert np.abs(w).max() == pytest.approx(0.1) and np.abs(w).max() <= 0.1


@pytest.mark.parametrize("constraint", [C.MaxNorm(1.5, axis=1), C.NonNeg(), C.UnitNorm(axis=[0, 1]),
                                        C.MinMaxNorm(0.1, 2.0, 0.5, axis=0)], ids=repr)
def test_config_round_trip(constraint):
    again = C.deserialize(C.serialize(constraint))
    assert type(again) is type(constraint) and again.get_config() == constraint.get_config()
    layer = keras.layers.Dense(3, kernel_constraint=constraint, bias_constraint="non_neg")
    assert keras.layers.Dense.from_config(layer.get_config()).get_config() == layer.get_config()


def test_keras_defaults_and_names():
    assert C.MaxNorm().get_config() == {"max_value": 2.0, "axis": 0}
    assert C.MinMaxNorm().get_config() == {"min_value": 0.0, "max_value": 1.0, "rate": 1.0, "axis": 0}
    assert C.UnitNorm().get_config() == {"axis": 0} and C.NonNeg().get_config() == {}
    for name, cls in (("max_norm", C.MaxNorm), ("MaxNorm", C.MaxNorm), ("non_neg", C.NonNeg),
                      ("unit_norm", C.UnitNorm), ("min_max_norm", C.MinMaxNorm)):
        assert type(C.get(name)) is cls


@pytest.mark.parametrize("make", [lambda: C.MaxNorm(-1.0), lambda: C.MaxNorm(axis="rows"),
                                  lambda: C.MinMaxNorm(2.0, 1.0), lambda: C.MinMaxNorm(rate=1.5),
                                  lambda: C.get("max_nrom"), lambda: keras.layers.Dense(2, kernel_constraint="x"),
                                  lambda: C.MaxNorm(float("inf"))])
def test_bad_arguments(make):
    with pytest.raises(ValueError):
        make()


def test_native_call_rejects_bad_input():
    w = np.ones((3, 4), np.float32)
    with pytest.raises(ValueError, match="layout"):
        _C.apply_constraints([w], [(0, 0.0, 1.0, 1.0, 1, 3, 5)])
    with pytest.raises(ValueError, match="kind"):
        _C.apply_constraints([w], [(9, 0.0, 1.0, 1.0, 1, 3, 4)])
    with pytest.raises(ValueError, match="read-only"):
        ro = np.ones((3, 4), np.float32)
        ro.flags.writeable = False
        _C.apply_constraints([ro], [(0, 0.0, 1.0, 1.0, 1, 3, 4)])
    with pytest.raises(TypeError):
        _C.apply_constraints([np.ones((3, 4))], [(0, 0.0, 1.0, 1.0, 1, 3, 4)])


def test_torch_max_norm_renorm_matches(rng):
    torch = pytest.importorskip("torch")
    w = _weights(rng, (50, 20))
    ours = w.copy()
    _C.apply_constraints([ours], [C.MaxNorm(1.0).native_spec(w.shape)])
    # torch.renorm caps each sub-tensor along dim 1 (each column) at maxnorm, scaling by
    # maxnorm / (norm + 1e-7) only where norm > maxnorm; Keras also scales the others by
    # norm / (norm + 1e-7), a relative change under 1e-7/norm.
    theirs = torch.renorm(torch.tensor(w), p=2, dim=1, maxnorm=1.0).numpy()
    big = np.linalg.norm(w, axis=0) > 1
    np.testing.assert_allclose(ours[:, big], theirs[:, big], rtol=1e-6)
    np.testing.assert_allclose(ours[:, ~big], theirs[:, ~big], rtol=1e-7 / np.linalg.norm(w[:, ~big], axis=0).min() + 1e-6)
