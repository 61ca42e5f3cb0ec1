"""Keras 3 `.keras` and legacy `.h5` files: fastdnn reads what Keras 3 writes and Keras 3 reads
what fastdnn writes (same predictions, configs and optimizer state), and fastdnn's own round trip
is bit for bit. Tests that need real Keras skip where it is not installed; it runs on its NumPy
backend (KERAS_BACKEND=numpy unless set), which loads models and predicts."""

import json
import os
import sys
import zipfile

import numpy as np
import pytest

import fastdnn
from _tolerances import KERAS_PREDICT_ATOL, KERAS_STEP_ATOL
from chapter_models import bn_after_activation
from fastdnn.saving import FileFormatError, keras_config, keras_training

FORMATS = [".keras", ".h5"]
# Keras's NumPy backend converts its own variables through a NumPy 1 style __array__.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")


@pytest.fixture(scope="module")
def h5py():
    """h5py, which every Keras file needs; tests that write or read one skip without it."""
    return pytest.importorskip("h5py")


@pytest.fixture(scope="module")
def keras(h5py):
    os.environ.setdefault("KERAS_BACKEND", "numpy")
    return pytest.importorskip("keras", minversion="3.0")


# ---- models built by the same code in both libraries -------------------------------------------

def _layers(k, case):
    """The layers of one test case, from `k` = fastdnn or keras (their APIs are the same)."""
    L, I, R, C = k.layers, k.initializers, k.regularizers, k.constraints
    return {
        "dense": lambda: [L.Dense(5, activation="tanh", kernel_initializer="he_normal",
                                  bias_initializer=I.Constant(0.1),
                                  kernel_regularizer=R.l1_l2(l1=0.01, l2=0.02),
                                  bias_regularizer=R.l2(0.03), kernel_constraint=C.max_norm(2.0),
                                  bias_constraint=C.non_neg())],
        "dense_no_bias": lambda: [L.Dense(5, use_bias=False, activation="swish",
                                          kernel_initializer=I.VarianceScaling(2.0, "fan_out",
                                                                               "uniform"),
                                          kernel_constraint=C.min_max_norm(0.5, 1.5, 0.8))],
        "activation": lambda: [L.Activation("selu")],
        "gelu": lambda: [L.Dense(5, activation="gelu"), L.Activation("gelu")],
        "batch_normalization": lambda: [L.BatchNormalization(
            momentum=0.9, epsilon=0.01, gamma_regularizer=R.l2(0.01), beta_constraint=C.unit_norm(),
            gamma_initializer=I.RandomNormal(1.0, 0.1, seed=3))],
        "batch_normalization_plain": lambda: [L.BatchNormalization(center=False, scale=False)],
        "dropout": lambda: [L.Dropout(0.3, seed=7)],
        "alpha_dropout": lambda: [L.AlphaDropout(0.2)],
        "gaussian_dropout": lambda: [L.GaussianDropout(0.2, seed=1)],
        "gaussian_noise": lambda: [L.GaussianNoise(0.1)],
        "relu": lambda: [L.ReLU(max_value=1.5, negative_slope=0.1, threshold=0.2)],
        "leaky_relu": lambda: [L.LeakyReLU(negative_slope=0.25)],
        "prelu": lambda: [L.PReLU(alpha_initializer=I.Constant(0.2), alpha_regularizer=R.l1(0.01),
                                  alpha_constraint=C.non_neg())],
        "elu": lambda: [L.ELU(alpha=0.7)],
        "softmax": lambda: [L.Softmax()],
        "nested": lambda: [k.Sequential([L.Dense(4, activation="relu"), L.BatchNormalization(),
                                         L.Dense(4, activation="sigmoid")])],
    }[case]()


CASES = ["dense", "dense_no_bias", "activation", "gelu", "batch_normalization", "batch_normalization_plain",
         "dropout", "alpha_dropout", "gaussian_dropout", "gaussian_noise", "relu", "leaky_relu",
         "prelu", "elu", "softmax", "nested"]


def _model(k, case):
    """Input (2, 3) -> Flatten -> Dense 6 -> the case's layers -> Dense 3."""
    return k.Sequential([k.Input(shape=(2, 3)), k.layers.Flatten(), k.layers.Dense(6)]
                        + _layers(k, case) + [k.layers.Dense(3)])


def _randomize(variables, seed):
    """Random values for every variable (positive for variances), so that no weight is at a
    value a wrong mapping could also produce."""
    rng = np.random.default_rng(seed)
    for var in variables:
        path = getattr(var, "path", var.name)
        shape = tuple(var.shape)
        value = rng.uniform(0.5, 2.0, shape) if "variance" in path else 0.5 * rng.standard_normal(shape)
        var.assign(value.astype(np.float32))


def _data(seed=1, n=17):
    return np.random.default_rng(seed).standard_normal((n, 2, 3)).astype(np.float32)


def _normalized(config):
    """A config without the names both libraries number on their own, floats to 6 digits."""
    if isinstance(config, dict):
        return {k: _normalized(v) for k, v in config.items()
                if k not in ("name", "shared_object_id", "registered_name", "module", "build_config")}
    if isinstance(config, (list, tuple)):
        return [_normalized(v) for v in config]
    if isinstance(config, float):
        return float(f"{config:.6g}")
    return config


def _layer_configs(model):
    return [_normalized(layer.get_config()) for layer in model.layers]


# ---- Keras -> fastdnn and fastdnn -> Keras, layer by layer --------------------------------------

@pytest.mark.parametrize("suffix", FORMATS)
@pytest.mark.parametrize("case", CASES)
def test_keras_file_loads_in_fastdnn(keras, tmp_path, case, suffix):
    theirs = _model(keras, case)
    _randomize(theirs.weights, 0)
    path = tmp_path / f"model{suffix}"
    theirs.save(path)
    x = _data()
    ours = fastdnn.models.load_model(path)
    np.testing.assert_allclose(ours.predict(x, verbose=0), np.asarray(theirs.predict(x, verbose=0)),
                               rtol=0, atol=KERAS_PREDICT_ATOL)
    for mine, their in zip(ours.weights, theirs.weights):  # the very same bits, variable by variable
        assert np.array_equal(mine.numpy(), np.asarray(their.numpy())), their.path
    # Every argument (initializers, regularizers, constraints, activations, rates) came through:
    # the loaded model's config is the config of the same model built in fastdnn.
    assert _layer_configs(ours) == _layer_configs(_model(fastdnn, case))


@pytest.mark.parametrize("suffix", FORMATS)
@pytest.mark.parametrize("case", CASES)
def test_fastdnn_file_loads_in_keras(keras, tmp_path, case, suffix):
    ours = _model(fastdnn, case)
    _randomize(ours.weights, 0)
    path = tmp_path / f"model{suffix}"
    ours.save(path)
    theirs = keras.models.load_model(path)
    x = _data()
    np.testing.assert_allclose(np.asarray(theirs.predict(x, verbose=0)), ours.predict(x, verbose=0),
                               rtol=0, atol=KERAS_PREDICT_ATOL)
    for mine, their in zip(ours.weights, theirs.weights):
        assert np.array_equal(mine.numpy(), np.asarray(their.numpy())), their.path
    assert _layer_configs(theirs) == _layer_configs(_model(keras, case))


def test_layer_keys_follow_keras_naming(keras, h5py, tmp_path):
    """Keras names a weights file's groups by class and position, not by the layers' names."""
    model = fastdnn.Sequential([fastdnn.Input(shape=[3]), fastdnn.layers.Dense(2, name="first"),
                                fastdnn.layers.PReLU(name="p"), fastdnn.layers.Dense(2, name="x"),
                                fastdnn.Sequential([fastdnn.layers.Dense(2)], name="inner")])
    path = tmp_path / "model.weights.h5"
    model.save_weights(path)
    with h5py.File(path, "r") as f:
        found = set()
        f.visititems(lambda name, obj: found.add(name) if isinstance(obj, h5py.Dataset) else None)
    assert found == {"layers/dense/vars/0", "layers/dense/vars/1", "layers/p_re_lu/vars/0",
                     "layers/dense_1/vars/0", "layers/dense_1/vars/1",
                     "layers/sequential/layers/dense/vars/0", "layers/sequential/layers/dense/vars/1"}
    theirs = keras.Sequential([keras.Input(shape=[3]), keras.layers.Dense(2), keras.layers.PReLU(),
                               keras.layers.Dense(2), keras.Sequential([keras.layers.Dense(2)])])
    theirs.load_weights(path)
    for mine, their in zip(model.weights, theirs.weights):
        assert np.array_equal(mine.numpy(), np.asarray(their.numpy()))


@pytest.mark.parametrize("name", ["model.weights.h5", "model.h5"])
def test_weights_files_both_ways(keras, tmp_path, name):
    theirs = _model(keras, "batch_normalization")
    _randomize(theirs.weights, 3)
    ours = _model(fastdnn, "batch_normalization")
    path = tmp_path / name
    if name.endswith(".weights.h5"):  # Keras 3 writes only `.weights.h5` weights files
        theirs.save_weights(path)
        ours.load_weights(path)
        for mine, their in zip(ours.weights, theirs.weights):
            assert np.array_equal(mine.numpy(), np.asarray(their.numpy()))
    _randomize(ours.weights, 4)
    ours.save_weights(path)
    theirs.load_weights(path)
    for mine, their in zip(ours.weights, theirs.weights):
        assert np.array_equal(mine.numpy(), np.asarray(their.numpy()))
    again = _model(fastdnn, "batch_normalization")
    again.load_weights(path)
    assert all(np.array_equal(a, b) for a, b in zip(again.get_weights(), ours.get_weights()))


def test_keras_file_weights_load_into_a_built_model(keras, tmp_path):
    theirs = _model(keras, "prelu")
    _randomize(theirs.weights, 5)
    for suffix in FORMATS:
        theirs.save(tmp_path / f"m{suffix}")
        ours = _model(fastdnn, "prelu")
        ours.load_weights(tmp_path / f"m{suffix}")
        for mine, their in zip(ours.weights, theirs.weights):
            assert np.array_equal(mine.numpy(), np.asarray(their.numpy()))


# ---- optimizer state ------------------------------------------------------------------------

OPTIMIZERS = {
    "sgd": lambda k: k.optimizers.SGD(0.05),
    "sgd_nesterov": lambda k: k.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    "adagrad": lambda k: k.optimizers.Adagrad(0.05),
    "rmsprop": lambda k: k.optimizers.RMSprop(0.01),
    "rmsprop_centered": lambda k: k.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
    "adam": lambda k: k.optimizers.Adam(0.01),
    "adam_amsgrad": lambda k: k.optimizers.Adam(0.01, amsgrad=True),
    "adamw": lambda k: k.optimizers.AdamW(0.01, weight_decay=0.05),
    "adamax": lambda k: k.optimizers.Adamax(0.01),
    "nadam": lambda k: k.optimizers.Nadam(0.01),
    "adam_schedule": lambda k: k.optimizers.Adam(
        k.optimizers.schedules.ExponentialDecay(0.01, decay_steps=2, decay_rate=0.5)),
}


def _optimizer_model(k, optimizer):
    model = k.Sequential([k.Input(shape=(4,)), k.layers.Dense(5), k.layers.BatchNormalization(),
                          k.layers.Dense(3)])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    _randomize(model.weights, 8)
    return model


def _gradients(model, step):
    rng = np.random.default_rng(100 + step)
    return [rng.standard_normal(tuple(v.shape)).astype(np.float32) for v in model.trainable_weights]


def _keras_optimizer_of_h5(model, path):
    """Keras 3.15's legacy loader builds the optimizer over no variables (`model._trainable_variables`
    of a Sequential is empty), so it cannot resume from any `.h5` file, its own included. This does
    what that loader means to do: build over the model's variables, then set the saved values in
    the file's order."""
    import h5py

    optimizer = type(model.optimizer).from_config(model.optimizer.get_config())
    optimizer.build(model.trainable_variables)
    with h5py.File(path, "r") as f:
        group = f["optimizer_weights"]
        names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]]
        optimizer.set_weights([group[n][()] for n in names])
    return optimizer


def _keras_optimizer(keras, model, path):
    return _keras_optimizer_of_h5(model, path) if str(path).endswith(".h5") else model.optimizer


def _assert_same_state(ours, optimizer):
    """fastdnn's optimizer state, in Keras's order, equals Keras's optimizer variables one by one
    (every slot holds different values, so a misplaced one fails)."""
    arrays = keras_training.optimizer_arrays(ours.optimizer, ours.trainable_weights)
    theirs = [np.asarray(v.numpy()) for v in optimizer.variables]
    assert len(arrays) == len(theirs)
    for (entry, mine), their in zip(arrays, theirs):
        np.testing.assert_allclose(mine, their, rtol=1e-6, atol=0, err_msg=str(entry))


@pytest.mark.parametrize("suffix", FORMATS)
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_keras_resumes_fastdnn_optimizer(keras, tmp_path, name, suffix):
    ours = _optimizer_model(fastdnn, OPTIMIZERS[name](fastdnn))
    for step in range(3):
        ours.optimizer.apply_gradients(zip(_gradients(ours, step), ours.trainable_weights))
    path = tmp_path / f"model{suffix}"
    ours.save(path)
    theirs = keras.models.load_model(path)
    optimizer = _keras_optimizer(keras, theirs, path)
    assert int(optimizer.iterations.numpy()) == 3
    _assert_same_state(ours, optimizer)
    ours.optimizer.apply_gradients(zip(_gradients(ours, 3), ours.trainable_weights))
    optimizer.apply(_gradients(ours, 3), theirs.trainable_variables)
    for mine, their in zip(ours.weights, theirs.weights):
        np.testing.assert_allclose(mine.numpy(), np.asarray(their.numpy()), rtol=0,
                                   atol=KERAS_STEP_ATOL, err_msg=their.path)


@pytest.mark.parametrize("suffix", FORMATS)
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_fastdnn_resumes_keras_optimizer(keras, tmp_path, name, suffix):
    theirs = _optimizer_model(keras, OPTIMIZERS[name](keras))
    for step in range(3):
        theirs.optimizer.apply(_gradients(theirs, step), theirs.trainable_variables)
    path = tmp_path / f"model{suffix}"
    theirs.save(path)
    ours = fastdnn.models.load_model(path)
    assert type(ours.optimizer).__name__ == type(theirs.optimizer).__name__
    assert ours.optimizer.iterations == 3
    _assert_same_state(ours, theirs.optimizer)
    ours.optimizer.apply_gradients(zip(_gradients(ours, 3), ours.trainable_weights))
    theirs.optimizer.apply(_gradients(ours, 3), theirs.trainable_variables)
    for mine, their in zip(ours.weights, theirs.weights):
        np.testing.assert_allclose(mine.numpy(), np.asarray(their.numpy()), rtol=0,
                                   atol=KERAS_STEP_ATOL, err_msg=their.path)


def test_unbuilt_keras_optimizer_restores_the_step_count(keras, tmp_path):
    """Keras saves only iteration and learning_rate before the first step; fastdnn starts fresh
    slots from them."""
    theirs = _optimizer_model(keras, keras.optimizers.Adam(0.02))
    path = tmp_path / "fresh.keras"
    theirs.save(path)
    ours = fastdnn.models.load_model(path)
    assert ours.optimizer.iterations == 0
    assert ours.optimizer.learning_rate == pytest.approx(0.02, rel=1e-7)
    slots = ours.optimizer.get_state(ours.trainable_weights)["slots"]
    assert all(not s.any() for s in slots["momentum"] + slots["velocity"])


def test_compile_settings_both_ways(keras, tmp_path):
    ours = _optimizer_model(fastdnn, fastdnn.optimizers.RMSprop(0.003, rho=0.8, clipnorm=1.5))
    ours.compile(optimizer=ours.optimizer,
                 loss=fastdnn.losses.SparseCategoricalCrossentropy(from_logits=True),
                 metrics=["accuracy", fastdnn.metrics.SparseCategoricalAccuracy(name="acc2")])
    for suffix in FORMATS:
        path = tmp_path / f"model{suffix}"
        ours.save(path)
        theirs = keras.models.load_model(path)
        config = theirs.optimizer.get_config()
        assert type(theirs.optimizer).__name__ == "RMSprop"
        assert (config["rho"], config["clipnorm"]) == (pytest.approx(0.8), 1.5)
        back = fastdnn.models.load_model(path)
        assert back.optimizer.get_config() == ours.optimizer.get_config()
        assert back.loss.get_config() == ours.loss.get_config()
        assert [m.name for m in back.compiled_metrics] == ["accuracy", "acc2"]


def test_decay_becomes_keras_inverse_time_decay(keras, tmp_path):
    ours = _optimizer_model(fastdnn, fastdnn.optimizers.SGD(0.1, decay=0.5))
    for step in range(3):
        ours.optimizer.apply_gradients(zip(_gradients(ours, step), ours.trainable_weights))
    path = tmp_path / "decay.keras"
    ours.save(path)
    expected = ours.optimizer.current_learning_rate  # 0.1 / (1 + 0.5 · 3)
    assert expected == pytest.approx(0.04)
    theirs = keras.models.load_model(path)
    assert float(np.asarray(theirs.optimizer.learning_rate)) == pytest.approx(expected, rel=1e-6)
    back = fastdnn.models.load_model(path)
    assert back.optimizer.iterations == 3
    assert back.optimizer.current_learning_rate == pytest.approx(expected, rel=1e-12)


# ---- fastdnn's own round trip ------------------------------------------------------------------

@pytest.mark.parametrize("suffix", FORMATS)
def test_chapter_bn_model_round_trip_is_bit_identical(h5py, tmp_path, suffix):
    fastdnn.utils.set_random_seed(42)
    model = bn_after_activation()
    model.compile(loss="sparse_categorical_crossentropy", optimizer=fastdnn.optimizers.Nadam(1e-3),
                  metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x, y = rng.random((96, 28, 28), dtype=np.float32), rng.integers(0, 10, 96)
    model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    path = tmp_path / f"chapter{suffix}"
    model.save(path)
    loaded = fastdnn.models.load_model(path)
    assert [w.path for w in loaded.weights] == [w.path for w in model.weights]
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        assert a.dtype == np.float32 and np.array_equal(a, b)
    assert np.array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    mine, theirs = (m.optimizer.get_state(m.trainable_weights) for m in (loaded, model))
    assert mine["iterations"] == theirs["iterations"] == 6 and mine["extra"] == theirs["extra"]
    for slot in theirs["slots"]:
        assert all(np.array_equal(a, b) for a, b in zip(mine["slots"][slot], theirs["slots"][slot]))
    # Training resumes where it stopped: one more step gives the very same weights.
    for m in (model, loaded):
        m.train_step((x[:32], y[:32]))
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("suffix", FORMATS)
def test_chapter_bn_model_loads_in_keras(keras, tmp_path, suffix):
    model = bn_after_activation()  # Flatten(input_shape=[28, 28]) first, as the book writes it
    model.compile(loss="sparse_categorical_crossentropy", optimizer="nadam")
    rng = np.random.default_rng(1)
    x, y = rng.random((64, 28, 28), dtype=np.float32), rng.integers(0, 10, 64)
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / f"chapter{suffix}")
    theirs = keras.models.load_model(tmp_path / f"chapter{suffix}")
    np.testing.assert_allclose(np.asarray(theirs.predict(x, verbose=0)), model.predict(x, verbose=0),
                               rtol=0, atol=KERAS_PREDICT_ATOL)
    _assert_same_state(model, _keras_optimizer(keras, theirs, tmp_path / f"chapter{suffix}"))


def test_include_optimizer_false_saves_an_uncompiled_model(h5py, tmp_path):
    model = _optimizer_model(fastdnn, "adam")
    for suffix in FORMATS:
        model.save(tmp_path / f"m{suffix}", include_optimizer=False)
        loaded = fastdnn.models.load_model(tmp_path / f"m{suffix}")
        assert loaded.optimizer is None
        assert all(np.array_equal(a, b) for a, b in zip(loaded.get_weights(), model.get_weights()))


def test_compile_false_skips_the_optimizer(h5py, tmp_path):
    model = _optimizer_model(fastdnn, "nadam")
    for suffix in FORMATS:
        model.save(tmp_path / f"m{suffix}")
        assert fastdnn.models.load_model(tmp_path / f"m{suffix}", compile=False).optimizer is None


# ---- what Keras files cannot hold -------------------------------------------------------------

def _assert_nothing_written(tmp_path, before):
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no file, no temporary left


@pytest.mark.parametrize("name", ["model.keras", "model.h5", "model.weights.h5", "model.hdf5"])
def test_rrelu_is_refused_before_anything_is_written(h5py, tmp_path, name):
    model = fastdnn.Sequential([fastdnn.Input(shape=[4]), fastdnn.layers.Dense(3),
                                fastdnn.layers.RReLU(name="noisy"), fastdnn.layers.Dense(2)])
    before = sorted(p.name for p in tmp_path.iterdir())
    save = model.save_weights if ".weights." in name else model.save
    with pytest.raises(ValueError, match=r"Layer 'noisy' \(RReLU\) has no Keras 3 counterpart"):
        save(tmp_path / name)
    _assert_nothing_written(tmp_path, before)
    (tmp_path / name).write_bytes(b"previous")  # an existing file stays as it was
    with pytest.raises(ValueError, match="RReLU"):
        save(tmp_path / name)
    assert (tmp_path / name).read_bytes() == b"previous"
    model.save(tmp_path / "model.fdnn")  # fastdnn's own format holds it


@pytest.mark.parametrize("make, match", [
    (lambda: fastdnn.layers.Dense(2, activation=lambda x: x), "activation of layer 'bad' .*named"),
    (lambda: fastdnn.layers.Dense(2, kernel_regularizer=lambda w: 0.0),
     "`kernel_regularizer` of layer 'bad'"),
    (lambda: fastdnn.layers.Dense(2, kernel_constraint=lambda w: w),
     "`kernel_constraint` of layer 'bad'"),
    (lambda: fastdnn.layers.Dropout(0.5, seed=fastdnn.random.SeedGenerator(1)), "seed of layer 'bad'"),
])
def test_objects_keras_cannot_rebuild_are_refused(h5py, tmp_path, make, match):
    layer = make()
    layer.name = "bad"
    model = fastdnn.Sequential([fastdnn.Input(shape=[4]), layer])
    for suffix in FORMATS:
        with pytest.raises(ValueError, match=match):
            model.save(tmp_path / f"m{suffix}")
    assert not list(tmp_path.iterdir())


def test_repeated_layer_names_are_refused(h5py, tmp_path):
    model = fastdnn.Sequential([fastdnn.Input(shape=[4]), fastdnn.layers.Dense(3, name="d"),
                                fastdnn.layers.Dense(3, name="d")])
    with pytest.raises(ValueError, match="two layers named 'd'"):
        model.save(tmp_path / "m.h5")


def test_without_h5py_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    model = _optimizer_model(fastdnn, "adam")
    (tmp_path / "m.keras").write_bytes(b"never opened")
    monkeypatch.setitem(sys.modules, "h5py", None)  # `import h5py` now raises ImportError
    for call in (lambda: model.save(tmp_path / "n.keras"), lambda: model.save(tmp_path / "n.h5"),
                 lambda: model.save_weights(tmp_path / "n.weights.h5"),
                 lambda: fastdnn.models.load_model(tmp_path / "m.keras"),
                 lambda: model.load_weights(tmp_path / "m.keras")):
        with pytest.raises(ImportError, match=r"pip install h5py.*fastdnn\[h5\]"):
            call()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.keras"]  # nothing written
    model.save(tmp_path / "m.fdnn")  # fastdnn's own format needs NumPy only
    assert fastdnn.models.load_model(tmp_path / "m.fdnn").count_params() == model.count_params()


# ---- Keras-only settings: accepted when they change nothing, refused by name otherwise ---------

def _keras_dense(**extra):
    config = {"name": "dense", "trainable": True, "dtype": dict(keras_config.POLICY), "units": 2,
              "activation": "relu", "use_bias": True,
              "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform",
                                     "config": {"seed": None, "input_axes": None, "output_axes": None},
                                     "registered_name": None},
              "bias_initializer": "zeros", "kernel_regularizer": None, "bias_regularizer": None,
              "kernel_constraint": None, "bias_constraint": None, "quantization_config": None}
    config.update(extra)
    return {"module": "keras.layers", "class_name": "Dense", "config": config,
            "registered_name": None, "build_config": {"input_shape": [None, 4]}}


def _keras_bn(**extra):
    config = {"name": "bn", "axis": -1, "momentum": 0.99, "epsilon": 0.001, "renorm": False,
              "renorm_clipping": None, "renorm_momentum": 0.99, "synchronized": False}
    config.update(extra)
    return {"class_name": "BatchNormalization", "config": config}


def _keras_model(*layers, **extra):
    config = {"name": "sequential", "trainable": True,
              "dtype": dict(keras_config.POLICY, shared_object_id=1),
              "layers": [{"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
                          "config": {"batch_shape": [None, 4], "dtype": "float32", "sparse": False,
                                     "ragged": False, "name": "input_layer", "optional": False}},
                         *layers], "build_input_shape": [None, 4]}
    config.update(extra)
    return {"module": "keras", "class_name": "Sequential", "config": config, "registered_name": None}


def test_no_op_keras_keys_are_accepted():
    config = keras_config.from_keras(_keras_model(
        _keras_dense(lora_rank=None, lora_alpha=None), _keras_bn(renorm_clipping={"rmax": 3}),
        {"class_name": "Flatten", "config": {"data_format": "channels_last"}}), None, "test")
    model = fastdnn.Sequential.from_config(config["config"])
    assert [type(layer).__name__ for layer in model.layers] == ["Dense", "BatchNormalization",
                                                                 "Flatten"]
    assert model.count_params() == 4 * 2 + 2 + 4 * 2


@pytest.mark.parametrize("layer, key", [
    (_keras_dense(quantization_config={"mode": "int8"}), "quantization_config"),
    (_keras_dense(lora_rank=4), "lora_rank"),
    (_keras_dense(dtype="mixed_float16"), "mixed_float16"),
    (_keras_dense(dtype={"class_name": "DTypePolicy", "config": {"name": "bfloat16"}}), "bfloat16"),
    (_keras_dense(activation="mish"), "mish"),
    (_keras_dense(kernel_initializer={"class_name": "GlorotUniform", "config": {"input_axes": [0]}}),
     "input_axes"),
    (_keras_dense(something_new=1), "something_new"),
    (_keras_bn(renorm=True), "renorm"),
    (_keras_bn(activity_regularizer={"class_name": "L2", "config": {"l2": 0.1}}),
     "activity_regularizer"),
    ({"class_name": "Flatten", "config": {"data_format": "channels_first"}}, "channels_first"),
    ({"class_name": "GroupNormalization", "config": {"name": "gn"}}, "gn.*GroupNormalization"),
    ({"class_name": "Conv2D", "config": {"name": "conv"}}, "conv.*Conv2D"),
])
def test_keras_settings_fastdnn_lacks_are_refused_by_name(tmp_path, layer, key):
    with pytest.raises(FileFormatError, match=key):
        config = keras_config.from_keras(_keras_model(layer), None, "test")
        fastdnn.Sequential.from_config(config["config"])


def test_malformed_functional_configs_and_objects_shared_between_models_are_refused():
    with pytest.raises(FileFormatError, match="lacks its layers, input_layers or output_layers"):
        keras_config.from_keras({"class_name": "Functional", "config": {}}, None, "test")
    with pytest.raises(FileFormatError, match="holds a Keras Unknown model"):
        keras_config.from_keras({"class_name": "Unknown", "config": {}}, None, "test")
    shared = dict(_keras_dense(), shared_object_id=7)
    with pytest.raises(FileFormatError, match="appears in two places"):
        keras_config.from_keras(_keras_model(shared, dict(shared)), None, "test")


@pytest.mark.parametrize("change, key", [
    ({"use_ema": True}, "use_ema"), ({"loss_scale_factor": 128.0}, "loss_scale_factor"),
    ({"gradient_accumulation_steps": 4}, "gradient_accumulation_steps"),
])
def test_keras_optimizer_settings_fastdnn_lacks_are_refused(change, key):
    config = {"name": "adam", "learning_rate": 0.001, "use_ema": False, "ema_momentum": 0.99,
              "ema_overwrite_frequency": None, "loss_scale_factor": None,
              "gradient_accumulation_steps": None, "beta_1": 0.9}
    accepted = keras_training.optimizer_from_keras({"class_name": "Adam", "config": config}, "test")
    assert fastdnn.optimizers.deserialize(accepted).beta_1 == 0.9
    with pytest.raises(FileFormatError, match=key):
        keras_training.optimizer_from_keras({"class_name": "Adam", "config": {**config, **change}},
                                            "test")


def test_keras_refusals_reach_load_model(h5py, tmp_path):
    """A real file with a setting fastdnn lacks fails as FileFormatError naming the key."""
    model = _optimizer_model(fastdnn, "adam")
    path = tmp_path / "m.keras"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    config["config"]["layers"][2]["config"]["renorm"] = True
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(FileFormatError, match=r"layer 'batch_normalization.*renorm=True"):
        fastdnn.models.load_model(path)


@pytest.mark.parametrize("suffix", FORMATS)
def test_chapter_transfer_learning_through_keras_files(keras, tmp_path, suffix):
    """The chapter's transfer learning: model A comes from a Keras file, its layers are reused
    frozen under a new head, and the result goes back to Keras with its frozen layers and
    optimizer state."""
    model_a = keras.Sequential([keras.Input(shape=(2, 3)), keras.layers.Flatten(),
                                keras.layers.Dense(8, activation="selu"),
                                keras.layers.BatchNormalization(), keras.layers.Dense(4)])
    _randomize(model_a.weights, 11)
    model_a.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    model_a.save(tmp_path / f"my_model_A{suffix}")

    model_a = fastdnn.models.load_model(tmp_path / f"my_model_A{suffix}")
    model_b_on_a = fastdnn.models.Sequential(model_a.layers[:-1])
    model_b_on_a.add(fastdnn.layers.Dense(1, activation="sigmoid", name="head"))  # "dense" is A's
    for layer in model_b_on_a.layers[:-1]:
        layer.trainable = False
    model_b_on_a.compile(loss="binary_crossentropy", optimizer=fastdnn.optimizers.Adam(0.01),
                         metrics=["accuracy"])
    x = _data(n=64)
    y = (x.sum(axis=(1, 2)) > 0).astype(np.float32)
    model_b_on_a.fit(x, y, epochs=2, verbose=0)
    model_b_on_a.save(tmp_path / f"my_model_B_on_A{suffix}")

    theirs = keras.models.load_model(tmp_path / f"my_model_B_on_A{suffix}")
    assert [layer.trainable for layer in theirs.layers] == [False, False, False, True]
    assert len(theirs.trainable_variables) == 2
    np.testing.assert_allclose(np.asarray(theirs.predict(x, verbose=0)),
                               model_b_on_a.predict(x, verbose=0), rtol=0, atol=KERAS_PREDICT_ATOL)
    _assert_same_state(model_b_on_a,
                       _keras_optimizer(keras, theirs, tmp_path / f"my_model_B_on_A{suffix}"))
    back = fastdnn.models.load_model(tmp_path / f"my_model_B_on_A{suffix}")
    assert [layer.trainable for layer in back.layers] == [False, False, False, True]
    assert all(np.array_equal(a, b) for a, b in zip(back.get_weights(), model_b_on_a.get_weights()))


def test_model_without_input_shape_is_refused(h5py, tmp_path):
    model = fastdnn.Sequential([fastdnn.layers.Dense(2)])
    model.layers[0].build((None, 3))
    with pytest.raises(ValueError, match="has weights but no known input shape"):
        model.save(tmp_path / "m.keras")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("name, weights_only", [("ckpt.keras", False), ("ckpt.h5", False),
                                                ("ckpt.weights.h5", True), ("ckpt.h5", True)])
def test_model_checkpoint_writes_keras_files(h5py, tmp_path, name, weights_only):
    model = _optimizer_model(fastdnn, "nadam")
    x = np.random.default_rng(0).standard_normal((40, 4)).astype(np.float32)
    y = np.arange(40) % 3
    model.fit(x, y, epochs=2, verbose=0, validation_data=(x, y), callbacks=[
        fastdnn.callbacks.ModelCheckpoint(str(tmp_path / name), save_weights_only=weights_only)])
    if weights_only:
        loaded = _optimizer_model(fastdnn, "nadam")
        loaded.load_weights(tmp_path / name)
    else:
        loaded = fastdnn.models.load_model(tmp_path / name)
        assert loaded.optimizer.iterations == model.optimizer.iterations == 4
    assert all(np.array_equal(a, b) for a, b in zip(loaded.get_weights(), model.get_weights()))


def test_deeply_nested_config_is_refused():
    config = {"class_name": "Sequential", "config": {"layers": []}}
    for _ in range(5000):
        config = {"class_name": "Sequential", "config": {"layers": [config]}}
    with pytest.raises(FileFormatError, match="nests Sequential models too deeply"):
        keras_config.from_keras(config, None, "test")
