"""Functional models in model files: fastdnn's own format, and Keras 3's `.keras` and legacy
`.h5` both ways (Keras's "Functional" config with its inbound nodes, its weight layout and its
optimizer order), with a shared layer and a nested model; Keras 2's inbound-node lists; and
graph configs that cannot be rebuilt, refused as FileFormatError without hanging."""

import json
import os
import zipfile

import numpy as np
import pytest

import fastdnn
from fastdnn import ops  # noqa: F401 - the lambda below names it
from _tolerances import KERAS_PREDICT_ATOL, KERAS_STEP_ATOL
from fastdnn.saving import FileFormatError
from test_saving_keras import _assert_same_state, _gradients, _keras_optimizer

FORMATS = [".keras", ".h5"]
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")


@pytest.fixture(scope="module")
def keras():
    pytest.importorskip("h5py")
    os.environ.setdefault("KERAS_BACKEND", "numpy")
    return pytest.importorskip("keras", minversion="3.0")


def graph(k):
    """Two inputs, one shared Dense, a nested Sequential with BatchNormalization, three outputs."""
    a, b = k.Input(shape=(4,), name="a"), k.Input(shape=(4,), name="b")
    shared = k.layers.Dense(3, activation="relu", name="shared")
    joined = k.layers.Concatenate(name="joined")([shared(a), shared(b)])
    inner = k.Sequential([k.Input(shape=(6,)), k.layers.Dense(5, name="inner_dense"),
                          k.layers.BatchNormalization(name="inner_bn")], name="inner")
    head = k.layers.Dense(2, activation="softmax", name="head")(inner(joined))
    aux = k.layers.Dense(1, name="aux")(k.layers.Add(name="sum")([shared(a), shared(b)]))
    cos = k.layers.Dot(axes=1, normalize=True, name="cos")([shared(a), shared(b)])
    model = k.Model(inputs=[a, b], outputs=[head, aux, cos], name="graph")
    model.compile(optimizer=k.optimizers.Adam(0.01), loss=["sparse_categorical_crossentropy", "mse", "mse"],
                  loss_weights=[1.0, 0.5, 0.25])
    rng = np.random.default_rng(7)
    for var in model.weights:
        var.assign(rng.uniform(0.5, 1.5, tuple(var.shape)).astype(np.float32))
    return model


def inputs(n=6):
    rng = np.random.default_rng(1)
    return [rng.normal(size=(n, 4)).astype(np.float32) for _ in range(2)]


def _same_outputs(got, want, atol):
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=0, atol=atol)


def test_fastdnn_format_round_trip_is_bit_for_bit(tmp_path):
    model = graph(fastdnn)
    for step in range(2):
        model.optimizer.apply_gradients(zip(_gradients(model, step), model.trainable_weights))
    model.save(tmp_path / "g.fdnn")
    loaded = fastdnn.models.load_model(tmp_path / "g.fdnn")
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    _same_outputs(loaded.predict(inputs(), verbose=0), model.predict(inputs(), verbose=0), 0)
    for m in (model, loaded):
        m.optimizer.apply_gradients(zip(_gradients(m, 2), m.trainable_weights))
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert loaded.get_compile_config()["loss_weights"] == [1.0, 0.5, 0.25]


@pytest.mark.parametrize("suffix", FORMATS)
def test_keras_reads_fastdnn_functional_files_and_resumes(keras, tmp_path, suffix):
    ours = graph(fastdnn)
    for step in range(3):
        ours.optimizer.apply_gradients(zip(_gradients(ours, step), ours.trainable_weights))
    ours.save(tmp_path / f"g{suffix}")
    theirs = keras.models.load_model(tmp_path / f"g{suffix}", compile=suffix == ".keras")
    assert [layer.name for layer in theirs.layers] == [layer.name for layer in ours.layers]
    _same_outputs(theirs.predict(inputs(), verbose=0), ours.predict(inputs(), verbose=0), KERAS_PREDICT_ATOL)
    if suffix == ".h5":  # Keras 3.15 cannot read a list of loss names back from a legacy file
        theirs.compile(optimizer=keras.optimizers.Adam(0.01), loss=["sparse_categorical_crossentropy", "mse", "mse"])
    optimizer = _keras_optimizer(keras, theirs, tmp_path / f"g{suffix}")
    assert int(optimizer.iterations.numpy()) == 3
    _assert_same_state(ours, optimizer)
    ours.optimizer.apply_gradients(zip(_gradients(ours, 3), ours.trainable_weights))
    optimizer.apply(_gradients(ours, 3), theirs.trainable_variables)
    for mine, their in zip(ours.weights, theirs.weights):
        np.testing.assert_allclose(mine.numpy(), np.asarray(their.numpy()), rtol=0, atol=KERAS_STEP_ATOL,
                                   err_msg=their.path)


@pytest.mark.parametrize("suffix", FORMATS)
def test_fastdnn_reads_keras_functional_files_and_resumes(keras, tmp_path, suffix):
    theirs = graph(keras)
    for step in range(3):
        theirs.optimizer.apply(_gradients(theirs, step), theirs.trainable_variables)
    theirs.save(tmp_path / f"g{suffix}")
    ours = fastdnn.models.load_model(tmp_path / f"g{suffix}", compile=suffix == ".keras")
    assert type(ours).__name__ == "Functional" and ours.output_names == ["head", "aux", "cos"]
    assert len(ours.get_layer("shared")._inbound_nodes) == 6  # one layer, six calls in the graph
    _same_outputs(ours.predict(inputs(), verbose=0), theirs.predict(inputs(), verbose=0), KERAS_PREDICT_ATOL)
    if suffix == ".keras":
        assert ours.optimizer.iterations == 3
        _assert_same_state(ours, theirs.optimizer)
        ours.optimizer.apply_gradients(zip(_gradients(ours, 3), ours.trainable_weights))
        theirs.optimizer.apply(_gradients(ours, 3), theirs.trainable_variables)
        for mine, their in zip(ours.weights, theirs.weights):
            np.testing.assert_allclose(mine.numpy(), np.asarray(their.numpy()), rtol=0, atol=KERAS_STEP_ATOL,
                                       err_msg=their.path)


def test_json_both_ways(keras):
    ours = graph(fastdnn)
    rebuilt = keras.models.model_from_json(ours.to_json())
    assert [layer.name for layer in rebuilt.layers] == [layer.name for layer in ours.layers]
    back = fastdnn.models.model_from_json(graph(keras).to_json())
    assert [layer.name for layer in back.layers] == [layer.name for layer in ours.layers]
    back.set_weights(ours.get_weights())
    _same_outputs(back(inputs()), ours(inputs()), 0)


def test_keras_2_inbound_node_lists_are_read():
    """Legacy `.h5` files from Keras 2 list each inbound tensor as [layer, node, tensor, kwargs]."""
    config = {"class_name": "Functional", "config": {
        "name": "old", "layers": [
            {"class_name": "InputLayer", "name": "x", "config": {"batch_input_shape": [None, 3], "name": "x"},
             "inbound_nodes": []},
            {"class_name": "Dense", "name": "d", "config": {"name": "d", "units": 2}, "inbound_nodes": [[["x", 0, 0, {}]]]},
            {"class_name": "Dense", "name": "e", "config": {"name": "e", "units": 2},
             "inbound_nodes": [[["d", 0, 0, {}]]]},
            {"class_name": "Add", "name": "s", "config": {"name": "s"},
             "inbound_nodes": [[["d", 0, 0, {}], ["e", 0, 0, {}]]]}],
        "input_layers": [["x", 0, 0]], "output_layers": [["s", 0, 0]]}}
    model = fastdnn.models.model_from_json(json.dumps(config))
    assert [layer.name for layer in model.layers] == ["x", "d", "e", "s"]
    x = np.ones((2, 3), np.float32)
    kd, bd, ke, be = model.get_weights()
    np.testing.assert_allclose(model(x), (x @ kd + bd) + ((x @ kd + bd) @ ke + be), rtol=1e-6)


@pytest.mark.parametrize("change, message", [
    (lambda c: c["layers"][1].update(inbound_nodes=[[["nowhere", 0, 0, {}]]]), "Invalid inbound node"),
    (lambda c: c["layers"][1].update(inbound_nodes=[[["d", 0, 0, {}]]]), "loops or nodes that refer"),
    (lambda c: c.update(output_layers=[["d", 5, 0]]), "call 5 of layer 'd'"),
    (lambda c: c.update(output_layers=[["ghost", 0, 0]]), "unknown layer 'ghost'"),
    (lambda c: c["layers"].append(dict(c["layers"][1])), "two layers 'd'"),
    (lambda c: c.update(layers="many"), "lacks its layers"),
])
def test_graph_configs_that_cannot_be_rebuilt_are_refused(change, message):
    x = fastdnn.Input(shape=(3,), name="x")
    config = json.loads(fastdnn.Model(x, fastdnn.layers.Dense(2, name="d")(x)).to_json())
    change(config["config"])
    with pytest.raises(FileFormatError, match=message):
        fastdnn.models.model_from_json(json.dumps(config))


def test_a_keras_file_whose_graph_loops_fails_cleanly(tmp_path):
    pytest.importorskip("h5py")
    x = fastdnn.Input(shape=(3,), name="x")
    model = fastdnn.Model(x, fastdnn.layers.Dense(2, name="d")(x))
    model.save(tmp_path / "g.keras")
    with zipfile.ZipFile(tmp_path / "g.keras") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    node = config["config"]["layers"][1]["inbound_nodes"][0]
    node["args"][0]["config"]["keras_history"] = ["d", 0, 0]  # d takes its own output
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(tmp_path / "bad.keras", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(FileFormatError, match="loops or nodes that refer"):
        fastdnn.models.load_model(tmp_path / "bad.keras")


@fastdnn.saving.register_keras_serializable(package="tests_files")
class Scale(fastdnn.layers.Layer):
    """A custom layer with a weight and a config, registered under the same name on both sides."""

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

    def call(self, x):
        return fastdnn.ops.multiply(fastdnn.ops.multiply(x, self.w.value), self.factor)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def _keras_scale(keras):
    """Keras's twin of Scale: the same class name (Keras names weight groups by it) and the same
    registered name."""
    @keras.saving.register_keras_serializable(package="tests_files")
    class Scale(keras.layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

        def call(self, x):
            return x * self.w * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    return Scale


def test_a_registered_custom_layer_round_trips_through_keras_files(keras, tmp_path):
    _keras_scale(keras)
    x = fastdnn.Input(shape=(3,), name="x")
    model = fastdnn.Model(x, fastdnn.layers.Dense(2, name="d")(Scale(factor=3.0, name="scale")(x)))
    model.get_layer("scale").w.assign([1.0, 2.0, 3.0])
    data = np.ones((2, 3), np.float32)
    model.save(tmp_path / "s.keras")
    loaded = fastdnn.models.load_model(tmp_path / "s.keras")
    assert type(loaded.get_layer("scale")).__name__ == "Scale" and loaded.get_layer("scale").factor == 3.0
    np.testing.assert_array_equal(loaded(data), model(data))
    theirs = keras.models.load_model(tmp_path / "s.keras")
    np.testing.assert_allclose(theirs.predict(data, verbose=0), model(data), atol=KERAS_PREDICT_ATOL)
    theirs.save(tmp_path / "k.keras")
    back = fastdnn.models.load_model(tmp_path / "k.keras")
    np.testing.assert_allclose(back(data), model(data), atol=KERAS_PREDICT_ATOL)


def test_a_lambda_in_a_keras_file_needs_safe_mode_off(tmp_path):
    pytest.importorskip("h5py")
    x = fastdnn.Input(shape=(3,), name="x")
    lam = fastdnn.layers.Lambda(lambda t: ops.multiply(t, 2.0), name="twice")  # `ops`: what a rebuilt lambda sees
    model = fastdnn.Model(x, fastdnn.layers.Dense(1, name="d")(lam(x)))
    model.save(tmp_path / "l.keras")
    with pytest.raises(FileFormatError, match="Python lambda.*safe_mode=False"):
        fastdnn.models.load_model(tmp_path / "l.keras")
    loaded = fastdnn.models.load_model(tmp_path / "l.keras", safe_mode=False)
    data = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(loaded(data), model(data))
