"""Normalization, Rescaling and UnitNormalization: statistics and outputs against float64 NumPy,
streaming `adapt` against the statistics of all the data at once, gradients, configs, files,
training, and Keras 3 (same statistics, outputs, configs, parameter counts, and `.keras`/`.h5`
files both ways) where Keras is installed."""

import math
import os
import sys
from pathlib import Path

import fastdnn
import numpy as np
import pytest
from _tolerances import EPS32, FD_STEP, KERAS_PREDICT_ATOL, grad_atol

L = fastdnn.layers

# adapt() sums in float64 (Chan's combination of per-batch means and centred sums of squares), so
# the stored float32 statistics are the float64 ones rounded once: within one ulp, which still
# fails a lost batch, a sample variance (n − 1) or a float32 accumulation by far.
STAT_RTOL = EPS32
# Outputs: (x − mean)/max(sqrt(var), 1e-7) in float32 from the float32 statistics: the subtraction,
# sqrt and division round by half an ulp each, and the statistics' own rounding adds one ulp of
# mean/std, so 4 ulp of |x − mean|/std + |mean|/std bounds the error elementwise.
OUTPUT_ULPS = 4
# Keras computes adapt's statistics in float32 (NumPy's float32 mean/var for an array, its own
# float32 combination over batches): relative errors of a few 1e-7 on the values used here.
KERAS_STAT_RTOL = 2e-6


def _rng(seed):
    return np.random.default_rng(seed)


def _normalized64(x, mean, var, axes_kept, invert=False):
    """(x − mean)/max(sqrt(var), 1e-7) in float64 (or its inverse), with mean and var given over
    the kept axes."""
    x = np.asarray(x, np.float64)
    shape = [x.shape[d] if d in axes_kept else 1 for d in range(x.ndim)]
    mean, var = np.asarray(mean, np.float64).reshape(shape), np.asarray(var, np.float64).reshape(shape)
    denominator = np.maximum(np.sqrt(var), 1e-7)
    return mean + x * denominator if invert else (x - mean) / denominator


def _output_atol(x, mean, var, kept):
    x = np.asarray(x, np.float64)
    shape = [x.shape[d] if d in kept else 1 for d in range(x.ndim)]
    m = np.asarray(mean, np.float64).reshape(shape)
    std = np.maximum(np.sqrt(np.asarray(var, np.float64).reshape(shape)), 1e-7)
    return OUTPUT_ULPS * EPS32 * (np.abs(x - m) + np.abs(m)) / std


# ---- Normalization: adapt ------------------------------------------------------------------------

@pytest.mark.parametrize("axis, shape, kept", [(-1, (50, 7), (1,)), (-1, (20, 4, 6), (2,)),
                                               ((1, 2), (20, 4, 6), (1, 2)), (None, (30, 5), ()),
                                               ([0], (9, 3), (0,))])
def test_adapt_on_an_array_and_the_output(axis, shape, kept):
    x = (_rng(1).standard_normal(shape) * 3 + 5).astype(np.float32)
    layer = L.Normalization(axis=axis)
    layer.adapt(x)
    reduce = tuple(d for d in range(len(shape)) if d not in kept)
    mean64 = x.astype(np.float64).mean(axis=reduce)
    var64 = x.astype(np.float64).var(axis=reduce)  # the population variance, as Keras's
    np.testing.assert_allclose(layer.adapt_mean.numpy(), mean64, rtol=STAT_RTOL)
    np.testing.assert_allclose(layer.adapt_variance.numpy(), var64, rtol=STAT_RTOL)
    assert layer.adapt_mean.shape == tuple(shape[d] for d in kept) and layer.count.shape == ()
    stored_mean, stored_var = layer.adapt_mean.numpy(), layer.adapt_variance.numpy()
    y = layer(x)
    assert y.dtype == np.float32 and y.shape == x.shape
    assert np.all(np.abs(y - _normalized64(x, stored_mean, stored_var, kept)) <=
                  _output_atol(x, stored_mean, stored_var, kept) + 1e-30)
    inverse = L.Normalization(axis=axis, invert=True)
    inverse.adapt(x)
    np.testing.assert_allclose(inverse(y), x, rtol=1e-5, atol=1e-5)  # two float32 maps of O(5) values


class _Batches(fastdnn.utils.py_dataset.PyDataset):
    def __init__(self, x, y, size):
        super().__init__()
        self.x, self.y, self.size = x, y, size

    def __len__(self):
        return math.ceil(len(self.x) / self.size)

    def __getitem__(self, i):
        return self.x[i * self.size:(i + 1) * self.size], self.y[i * self.size:(i + 1) * self.size]


def test_streaming_adapt_matches_all_the_data_at_once():
    """Uneven batches (one empty), as a list, a generator, (x, y) tuples and a PyDataset, give the
    statistics of the concatenated data; Chan's combination keeps float64 accuracy even when the
    mean is 1e6 times the spread."""
    r = _rng(2)
    x = r.standard_normal((1003, 3)) * [1.0, 1e-3, 50.0] + [0.0, 1e3, -7.0]
    big = r.standard_normal((500, 2)) + 1e6
    cuts = [0, 1, 1, 17, 400, 1003]
    batches = [x[a:b] for a, b in zip(cuts[:-1], cuts[1:])]
    for data in (batches, (b for b in batches), [(b, np.zeros(len(b))) for b in batches],
                 _Batches(x, np.zeros(len(x)), 64)):
        layer = L.Normalization()
        layer.adapt(data)
        np.testing.assert_allclose(layer.adapt_mean.numpy(), x.mean(axis=0), rtol=STAT_RTOL)
        np.testing.assert_allclose(layer.adapt_variance.numpy(), x.var(axis=0), rtol=STAT_RTOL)
    # E[x²] − E[x]² would lose 12 digits here even in float64: Chan's formula loses none
    layer = L.Normalization()
    layer.adapt([big[:7], big[7:300], big[300:]])
    np.testing.assert_allclose(layer.adapt_mean.numpy(), big.mean(axis=0), rtol=STAT_RTOL)
    np.testing.assert_allclose(layer.adapt_variance.numpy(), big.var(axis=0), rtol=STAT_RTOL)


def test_adapt_replaces_the_statistics_and_checks_shapes():
    layer = L.Normalization()
    layer.adapt(np.array([[1.0, 2.0], [3.0, 6.0]]))
    layer.adapt(np.array([[10.0, 0.0], [14.0, 0.0]]))
    np.testing.assert_array_equal(layer.adapt_mean.numpy(), [12.0, 0.0])
    np.testing.assert_array_equal(layer.adapt_variance.numpy(), [4.0, 0.0])
    np.testing.assert_array_equal(layer(np.array([[12.0, 1e-7]])), [[0.0, 1.0]])  # std floored at 1e-7
    with pytest.raises(ValueError, match="built for inputs"):
        layer.adapt(np.ones((4, 3)))
    with pytest.raises(ValueError, match="built for inputs"):
        layer.adapt([np.ones((4, 2)), np.ones((4, 5))])
    with pytest.raises(ValueError, match="built for inputs"):
        layer(np.ones((4, 3)))


def test_bad_arguments_and_data_raise_clear_errors():
    with pytest.raises(ValueError, match="both `mean` and `variance`"):
        L.Normalization(mean=1.0)
    with pytest.raises(ValueError, match="same shape"):
        L.Normalization(mean=[1.0, 2.0], variance=[1.0])
    with pytest.raises(ValueError, match="rank of `mean`"):
        L.Normalization(mean=np.ones((2, 3)), variance=np.ones((2, 3)))
    with pytest.raises(ValueError, match="must be >= 0"):
        L.Normalization(mean=[0.0], variance=[-1.0])
    with pytest.raises(ValueError, match="finite"):
        L.Normalization(mean=[np.nan], variance=[1.0])
    with pytest.raises(TypeError, match="axis"):
        L.Normalization(axis="last")
    with pytest.raises(TypeError, match="axis"):
        L.Normalization(axis=(1, True))
    with pytest.raises(ValueError, match=r"range \[-ndim, ndim\)"):
        L.Normalization(axis=2).adapt(np.ones((3, 2)))
    with pytest.raises(ValueError, match="known shape"):
        fastdnn.Sequential([fastdnn.Input((None,)), L.Normalization()])
    with pytest.raises(ValueError, match="empty iterable"):
        L.Normalization().adapt([])
    with pytest.raises(ValueError, match="no values"):
        L.Normalization().adapt(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="NaN or infinite"):
        L.Normalization().adapt(np.array([[1.0], [np.inf]]))
    with pytest.raises(TypeError, match="Unsupported data type"):
        L.Normalization().adapt(3)
    with pytest.raises(TypeError, match="real numbers"):
        L.Normalization().adapt([np.array(["a", "b"])])
    with pytest.raises(ValueError, match="given `mean` and `variance`"):
        L.Normalization(mean=0.0, variance=1.0).adapt(np.ones((2, 1)))
    with pytest.raises(ValueError, match="has no statistics yet"):
        L.Normalization()(np.ones((2, 3)))
    with pytest.raises(ValueError, match="does not broadcast"):
        L.Normalization(mean=[1.0, 2.0], variance=[1.0, 1.0])(np.ones((2, 3)))


# ---- Normalization: given statistics, gradients, models ------------------------------------------

@pytest.mark.parametrize("axis, mean, shape", [(-1, 2.0, (4, 3)), (-1, [1.0, -2.0, 3.0], (4, 3)),
                                               ((1, 2), [1.0, 2.0, 3.0], (4, 2, 3)),
                                               ((1, 2), [[1.0, 2.0, 3.0], [0.0, 0.5, 1.0]], (4, 2, 3)),
                                               (None, 1.5, (4, 2, 3))])
def test_given_statistics_broadcast_from_the_right(axis, mean, shape):
    variance = np.square(np.asarray(mean, np.float64)) + 0.5
    x = _rng(3).standard_normal(shape).astype(np.float32)
    layer = L.Normalization(axis=axis, mean=mean, variance=variance)
    y = layer(x)
    kept_shape = [1] * len(shape)
    m = np.asarray(mean, np.float64)
    for i in range(1, m.ndim + 1):
        kept_shape[len(shape) - i] = m.shape[-i]
    expected = (x - m.reshape(kept_shape)) / np.sqrt(variance.reshape(kept_shape))
    np.testing.assert_allclose(y, expected, rtol=OUTPUT_ULPS * EPS32, atol=OUTPUT_ULPS * EPS32 * 4)
    assert layer.weights == [] and layer.count_params() == 0
    np.testing.assert_allclose(layer.mean, np.broadcast_to(m.reshape(kept_shape), layer.mean.shape), rtol=0)


@pytest.mark.parametrize("invert", [False, True])
def test_gradient_flows_through_the_affine_map(invert):
    """dL/dx of Σ w·y is w/max(std, eps) (w·max(std, eps) for invert), checked against central
    differences of the float64 map."""
    r = _rng(4)
    x = r.standard_normal((5, 3)).astype(np.float32)
    weights = r.standard_normal((5, 3))
    layer = L.Normalization(invert=invert)
    layer.adapt(r.standard_normal((40, 3)) * [0.5, 2.0, 0.0] + [1.0, -1.0, 4.0])
    mean, var = layer.adapt_mean.numpy(), layer.adapt_variance.numpy()
    with fastdnn.GradientTape() as tape:
        tape.watch(x)
        loss = fastdnn.ops.sum(fastdnn.ops.multiply(layer(x), weights.astype(np.float32)))
    grad = tape.gradient(loss, x)
    x64 = x.astype(np.float64)
    fd = np.zeros_like(x64)
    for index in np.ndindex(x.shape):
        up, down = x64.copy(), x64.copy()
        up[index] += FD_STEP
        down[index] -= FD_STEP
        fd[index] = ((weights * _normalized64(up, mean, var, (1,), invert)).sum()
                     - (weights * _normalized64(down, mean, var, (1,), invert)).sum()) / (2 * FD_STEP)
    # the third feature has variance 0: its gradient is w/1e-7, ~1e7, which FD resolves to 1e-9
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=grad_atol(fd))
    assert layer.trainable_weights == []


def _fashion_like(n, seed):
    """Fashion-MNIST-shaped data: 28×28 uint8 images, 10 classes, each a fixed random pattern
    (with its own brightness) plus noise."""
    r = _rng(seed)
    prototypes = r.integers(0, 256, (10, 28, 28)) * r.uniform(0.3, 1.0, (10, 1, 1))
    y = r.integers(0, 10, n)
    x = np.clip(prototypes[y] + r.normal(0, 60, (n, 28, 28)), 0, 255).astype(np.uint8)
    return x, y


def test_sequential_with_an_adapted_first_layer_trains_with_fit():
    x, y = _fashion_like(1200, 5)
    x_test, y_test = _fashion_like(300, 5)
    fastdnn.utils.set_random_seed(7)
    norm = L.Normalization(input_shape=[28, 28])
    norm.adapt(x)
    model = fastdnn.Sequential([norm, L.Flatten(), L.Dense(32, activation="relu"),
                                L.Dense(10, activation="softmax")])
    assert norm.count_params() == 28 + 28 + 1 and model.count_params() == 57 + 784 * 32 + 32 + 330
    assert len(model.trainable_weights) == 4
    model.compile(loss="sparse_categorical_crossentropy", optimizer=fastdnn.optimizers.SGD(0.05),
                  metrics=["accuracy"])
    statistics = [w.numpy() for w in norm.weights]
    history = model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert model.evaluate(x_test, y_test, verbose=0)[1] > 0.9
    for before, w in zip(statistics, norm.weights):  # not trained
        np.testing.assert_array_equal(before, w.numpy())


def test_functional_model_and_summary():
    inputs = fastdnn.Input((4,))
    norm = L.Normalization(name="norm")
    norm.adapt(_rng(6).standard_normal((20, 4)))
    x = L.UnitNormalization(name="unit")(L.Rescaling(2.0, 1.0, name="scale")(norm(inputs)))
    model = fastdnn.Model(inputs, L.Dense(3)(x))
    assert model.count_params() == 4 + 4 + 1 + 15
    text = []
    model.summary(print_fn=text.append)
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in "\n".join(text).splitlines()]
    params = {row[0].split()[0]: row[2] for row in cells if len(row) == 3 and row[0]}
    assert (params["norm"], params["scale"], params["unit"]) == ("9", "0", "0")
    data = _rng(7).standard_normal((6, 4)).astype(np.float32)
    expected = L.UnitNormalization()(L.Rescaling(2.0, 1.0)(norm(data)))
    np.testing.assert_allclose(model.layers[-1](expected), model.predict(data, verbose=0), rtol=1e-6, atol=1e-7)


def test_configs_round_trip_and_classes_are_registered():
    layers = [L.Normalization(axis=(1, 2), mean=[[1.0, 2.0]], variance=[[3.0, 4.0]], invert=True),
              L.Normalization(axis=None), L.Rescaling(np.array([1.0, 2.0], np.float32), offset=[0.5, 0.0]),
              L.Rescaling(1 / 255), L.UnitNormalization(axis=[1, 2])]
    for layer in layers:
        entry = L.serialize(layer)
        assert fastdnn._registry.get_registered_object(entry["class_name"]) is type(layer)
        clone = L.deserialize(entry)
        assert type(clone) is type(layer) and clone.get_config() == layer.get_config()
    assert layers[0].get_config()["axis"] == (1, 2) and layers[1].get_config()["axis"] == ()
    assert layers[2].get_config()["scale"] == {"class_name": "__numpy__",
                                               "config": {"value": [1.0, 2.0], "dtype": "float32"}}


def test_native_files_keep_the_statistics(tmp_path):
    x = _rng(8).standard_normal((30, 5)) * 4 + 2
    def build():
        norm = L.Normalization()
        return norm, fastdnn.Sequential([fastdnn.Input((5,)), norm, L.Dense(2), L.Rescaling(0.5)])
    norm, model = build()
    norm.adapt(x)
    model.save(tmp_path / "m.fdnn")
    loaded = fastdnn.models.load_model(tmp_path / "m.fdnn")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    model.save_weights(tmp_path / "m.weights.fdnn")
    _, fresh = build()
    with pytest.raises(ValueError, match="no statistics"):
        fresh.predict(x, verbose=0)
    fresh.load_weights(tmp_path / "m.weights.fdnn")  # statistics written from a file count
    np.testing.assert_array_equal(fresh.predict(x, verbose=0), model.predict(x, verbose=0))


def test_a_model_on_the_gpu_says_the_layers_run_on_the_cpu(monkeypatch):
    sys.path.insert(0, str(Path(__file__).parent / "cuda"))
    try:
        import fake_backend
    finally:
        sys.path.pop(0)
    fake_backend.install(monkeypatch)
    for layer in (L.Normalization(mean=0.0, variance=1.0), L.Rescaling(2.0), L.UnitNormalization()):
        model = fastdnn.Sequential([fastdnn.Input((4,)), layer, L.Dense(2)]).to("cuda")
        with pytest.raises(NotImplementedError, match="CPU only"):
            model.predict(np.ones((2, 4), np.float32), verbose=0)


# ---- Rescaling and UnitNormalization ---------------------------------------------------------

def test_rescaling_outputs_gradient_and_errors():
    x = _rng(9).uniform(0, 255, (6, 3)).astype(np.float32)
    np.testing.assert_allclose(L.Rescaling(1 / 127.5, -1.0)(x), x.astype(np.float64) / 127.5 - 1.0,
                               rtol=2 * EPS32, atol=2 * EPS32)  # a product and a sum, half an ulp each
    scale, offset = np.array([1.0, 0.5, -2.0]), np.array([0.0, 1.0, 2.0])
    layer = L.Rescaling(scale, offset)
    with fastdnn.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        loss = fastdnn.ops.sum(y)
    np.testing.assert_allclose(y, x * scale + offset, rtol=2 * EPS32)
    np.testing.assert_array_equal(tape.gradient(loss, x), np.broadcast_to(scale, x.shape))
    assert layer.compute_output_shape((None, 3)) == (None, 3) and L.Rescaling(2)(np.ones((1, 1))).dtype == np.float32
    with pytest.raises(TypeError, match="`scale`"):
        L.Rescaling("big")
    with pytest.raises(TypeError, match="`offset`"):
        L.Rescaling(1.0, offset=None)
    with pytest.raises(ValueError, match="finite"):
        L.Rescaling(np.inf)
    with pytest.raises(ValueError, match="cannot broadcast"):
        L.Rescaling([1.0, 2.0])(np.ones((2, 3)))


@pytest.mark.parametrize("axis, shape", [(-1, (5, 4)), ([1, 2], (3, 2, 4)), (0, (3, 2))])
def test_unit_normalization_outputs_and_gradient(axis, shape):
    r = _rng(10)
    x = r.standard_normal(shape).astype(np.float32)
    x[0] = 0.0  # a zero vector (over the last axes) stays zero, as Keras's
    axes = tuple(a % len(shape) for a in (axis if isinstance(axis, list) else [axis]))
    layer = L.UnitNormalization(axis=axis)
    assert layer.built and layer.count_params() == 0

    def f(v):
        return v / np.maximum(np.sqrt((v * v).sum(axis=axes, keepdims=True)), 1e-12)

    weights = r.standard_normal(shape)
    with fastdnn.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        loss = fastdnn.ops.sum(fastdnn.ops.multiply(y, weights.astype(np.float32)))
    np.testing.assert_allclose(y, f(x.astype(np.float64)), rtol=4 * EPS32, atol=4 * EPS32)
    grad = tape.gradient(loss, x)
    x64 = x.astype(np.float64)
    mask = np.ones(shape, bool)
    if axes != (0,):
        mask[0] = False  # at 0 the map is x/1e-12: skip the finite difference there
    fd = np.zeros_like(x64)
    for index in zip(*np.nonzero(mask)):
        up, down = x64.copy(), x64.copy()
        up[index] += FD_STEP
        down[index] -= FD_STEP
        fd[index] = ((weights * f(up)).sum() - (weights * f(down)).sum()) / (2 * FD_STEP)
    np.testing.assert_allclose(grad[mask], fd[mask], rtol=0, atol=grad_atol(fd[mask], x.size))
    assert np.all(np.isfinite(grad))


def test_unit_normalization_errors():
    with pytest.raises(TypeError, match="axis"):
        L.UnitNormalization(axis="a")
    with pytest.raises(ValueError, match=r"\[-2, 2\)"):
        L.UnitNormalization(axis=2)(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"\[-2, 2\)"):
        L.UnitNormalization(axis=[-3]).compute_output_shape((None, 3))


# ---- Keras 3 ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "numpy")
    return pytest.importorskip("keras", minversion="3.0")


def _plain(config):
    return {k: v for k, v in config.items() if k not in ("name", "dtype")}


@pytest.mark.parametrize("axis", [-1, (1, 2), None])
@pytest.mark.parametrize("batched", [False, True])
def test_adapt_and_outputs_match_keras(keras, axis, batched):
    x = (_rng(11).standard_normal((64, 3, 4)) * [1.0, 3.0, 0.1, 10.0] + 2.0).astype(np.float32)
    data = [x[:10], x[10:40], x[40:]] if batched else x
    ours, theirs = L.Normalization(axis=axis), keras.layers.Normalization(axis=axis)
    ours.adapt(data)
    theirs.adapt(x)  # Keras 3.15 reads a list of batches through TensorFlow, which may be absent
    assert [w.name for w in ours.weights] == [w.name for w in theirs.weights] == ["mean", "variance", "count"]
    assert ours.count_params() == theirs.count_params()
    for a, b in zip(ours.get_weights()[:2], theirs.get_weights()[:2]):
        np.testing.assert_allclose(a, b, rtol=KERAS_STAT_RTOL)
    # Keras's float32 statistics move the outputs by their own error over the spread
    mean = ours.adapt_mean.numpy().astype(np.float64)
    std = np.sqrt(ours.adapt_variance.numpy().astype(np.float64))
    kept = [d for d in range(3) if d in ours._keep_axis]
    shape = [x.shape[d] if d in kept else 1 for d in range(3)]
    y = ours(x)
    atol = KERAS_STAT_RTOL * (np.abs(mean).reshape(shape) / std.reshape(shape) + np.abs(y) + 1)
    assert np.all(np.abs(y - np.asarray(theirs(x))) <= atol)
    assert _plain(ours.get_config()) == _plain(theirs.get_config())
    # Keras's own config rebuilds the layer here
    rebuilt = L.Normalization.from_config(theirs.get_config())
    assert _plain(rebuilt.get_config()) == _plain(theirs.get_config())


@pytest.mark.parametrize("make", [
    lambda k: k.layers.Normalization(mean=[1.0, 2.0, 3.0], variance=[4.0, 0.0, 1.0], invert=True),
    lambda k: k.layers.Normalization(axis=(1, 2), mean=2.0, variance=9.0),
    lambda k: k.layers.Rescaling(1 / 255, offset=-0.5),
    lambda k: k.layers.Rescaling(np.array([1.0, -2.0, 0.5], np.float32)),
    lambda k: k.layers.UnitNormalization(),
    lambda k: k.layers.UnitNormalization(axis=[1, 2])])
def test_same_outputs_configs_and_counts_as_keras(keras, make):
    ours, theirs = make(fastdnn), make(keras)
    x = _rng(12).standard_normal((5, 4, 3)).astype(np.float32) * 2
    np.testing.assert_allclose(ours(x), np.asarray(theirs(x)), rtol=2e-6, atol=KERAS_PREDICT_ATOL)
    assert ours.count_params() == theirs.count_params() == 0
    theirs_config = theirs.get_config()
    rebuilt = type(ours).from_config(theirs_config)  # Keras's config, "__tensor__" arrays included
    np.testing.assert_allclose(rebuilt(x), ours(x), rtol=0)
    if not isinstance(theirs_config.get("scale"), dict):
        assert _plain(ours.get_config()) == _plain(theirs_config)


def _keras_file_model(k, x):
    """Normalization (adapted) -> Dense -> LayerNormalization -> UnitNormalization -> Rescaling ->
    Normalization (given, inverted), built alike by fastdnn or Keras."""
    norm = k.layers.Normalization()
    norm.adapt(x)
    return k.Sequential([k.Input((4,)), norm, k.layers.Dense(5), k.layers.LayerNormalization(epsilon=0.01),
                         k.layers.UnitNormalization(), k.layers.Rescaling(np.array([2.0] * 5, np.float32), -1.0),
                         k.layers.Normalization(mean=[1.0, 2.0, 3.0, 4.0, 5.0], variance=[1.0, 2.0, 3.0, 4.0, 5.0],
                                                invert=True)])


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_keras_files_both_ways(keras, tmp_path, suffix):
    pytest.importorskip("h5py")
    x = (_rng(13).standard_normal((20, 4)) * 3 + 1).astype(np.float32)
    ours = _keras_file_model(fastdnn, x)
    ours.save(tmp_path / f"ours{suffix}")
    in_keras = keras.models.load_model(tmp_path / f"ours{suffix}")
    np.testing.assert_allclose(in_keras.predict(x, verbose=0), ours.predict(x, verbose=0), atol=KERAS_PREDICT_ATOL)
    theirs = _keras_file_model(keras, x)
    theirs.save(tmp_path / f"theirs{suffix}")
    in_fastdnn = fastdnn.models.load_model(tmp_path / f"theirs{suffix}")
    np.testing.assert_allclose(in_fastdnn.predict(x, verbose=0), theirs.predict(x, verbose=0),
                               atol=KERAS_PREDICT_ATOL)
    assert [l.count_params() for l in in_fastdnn.layers] == [l.count_params() for l in theirs.layers]
