"""fastdnn's own model file format (any suffix but .keras/.h5): exact round trips, resumed
training, atomic writes, and clear errors with bounded memory for corrupt or hostile files."""

import json
import os
import pickle
import struct
import tracemalloc

import numpy as np
import pytest

import fastdnn as keras
from fastdnn.saving import FileFormatError, native
from chapter_models import bn_after_activation, bn_before_activation


def _data(rng, n=96):
    return rng.random((n, 28, 28), dtype=np.float32), rng.integers(0, 10, n)


def _trained(factory, rng, optimizer=None):
    keras.utils.set_random_seed(3)
    model = factory()
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  optimizer=optimizer or keras.optimizers.Nadam(learning_rate=1e-3))
    x, y = _data(rng)
    model.fit(x, y, epochs=1, batch_size=32, verbose=0, shuffle=False)
    return model, x, y


def _same_weights(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    assert len(wa) == len(wb)
    for u, v in zip(wa, wb):
        assert u.dtype == v.dtype and u.shape == v.shape
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("factory", [bn_after_activation, bn_before_activation])
def test_chapter_bn_model_round_trip_is_bit_identical(factory, rng, tmp_path):
    model, x, _ = _trained(factory, rng)
    path = tmp_path / "model.fdnn"
    model.save(path)
    loaded = keras.models.load_model(path)
    _same_weights(model, loaded)
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))
    assert [type(l).__name__ for l in loaded.layers] == [type(l).__name__ for l in model.layers]
    assert loaded.get_config() == model.get_config()
    assert type(loaded.optimizer) is keras.optimizers.Nadam
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert [m.name for m in loaded.compiled_metrics] == ["accuracy"]


OPTIMIZERS = [
    lambda: keras.optimizers.SGD(learning_rate=0.01, momentum=0.9, nesterov=True),
    lambda: keras.optimizers.Adagrad(learning_rate=0.05),
    lambda: keras.optimizers.RMSprop(learning_rate=1e-3, momentum=0.5, centered=True),
    lambda: keras.optimizers.Adam(learning_rate=1e-3, amsgrad=True),
    lambda: keras.optimizers.Adamax(learning_rate=1e-3),
    lambda: keras.optimizers.Nadam(learning_rate=1e-3),
]


@pytest.mark.parametrize("make_optimizer", OPTIMIZERS,
                         ids=["sgd", "adagrad", "rmsprop", "adam", "adamax", "nadam"])
def test_training_resumes_exactly_where_it_stopped(make_optimizer, rng, tmp_path):
    """Saving after one epoch and training the loaded copy for another gives bit for bit what
    the original gives: the optimizer's slots, step count and Nadam's u_product were restored."""
    model, x, y = _trained(bn_after_activation, rng, make_optimizer())
    model.save(tmp_path / "ckpt.bin")
    resumed = keras.models.load_model(tmp_path / "ckpt.bin")
    assert resumed.optimizer.iterations == model.optimizer.iterations == 3
    for m in (model, resumed):
        m.fit(x, y, epochs=1, batch_size=32, verbose=0, shuffle=False)
    _same_weights(model, resumed)

    fresh = keras.models.load_model(tmp_path / "ckpt.bin", compile=False)
    assert fresh.optimizer is None
    fresh.compile(loss="sparse_categorical_crossentropy", optimizer=make_optimizer())
    fresh.fit(x, y, epochs=1, batch_size=32, verbose=0, shuffle=False)  # state starts over
    assert any(not np.array_equal(a, b) for a, b in zip(fresh.get_weights(), model.get_weights()))


def test_frozen_layers_and_nested_models_round_trip(rng, tmp_path):
    inner = keras.models.Sequential([keras.layers.Dense(8, activation="selu",
                                                        kernel_initializer="lecun_normal")])
    model = keras.models.Sequential([keras.Input(shape=[5]), inner,
                                     keras.layers.Dense(3, activation="softmax")])
    inner.layers[0].trainable = False
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    x, y = rng.random((40, 5), dtype=np.float32), rng.integers(0, 3, 40)
    model.fit(x, y, epochs=2, verbose=0)
    model.save(tmp_path / "nested.model")
    loaded = keras.models.load_model(tmp_path / "nested.model")
    assert not loaded.layers[0].layers[0].trainable
    assert len(loaded.trainable_weights) == 2
    _same_weights(model, loaded)
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))


def test_save_weights_and_load_weights(rng, tmp_path):
    model, x, _ = _trained(bn_after_activation, rng)
    model.save_weights(tmp_path / "w.bin")
    other = bn_after_activation()
    other.load_weights(tmp_path / "w.bin")
    _same_weights(model, other)
    with pytest.raises(FileFormatError, match="holds weights only"):
        keras.models.load_model(tmp_path / "w.bin")
    with pytest.raises(FileFormatError, match="the model has 2"):
        keras.Sequential([keras.Input(shape=[3]), keras.layers.Dense(2)]).load_weights(tmp_path / "w.bin")
    small = keras.Sequential([keras.layers.Flatten(input_shape=[28, 28]), keras.layers.Dense(2)])
    small.save_weights(tmp_path / "small.bin")
    wide = keras.Sequential([keras.layers.Flatten(input_shape=[28, 28]), keras.layers.Dense(3)])
    with pytest.raises(FileFormatError, match=r"shape \(784, 2\); the model expects \(784, 3\)"):
        wide.load_weights(tmp_path / "small.bin")


def test_custom_layers_need_custom_objects(tmp_path):
    class Double(keras.layers.Layer):
        def call(self, x):
            return keras.ops.multiply(x, 2.0)

    model = keras.Sequential([keras.Input(shape=[2]), Double(), keras.layers.Dense(1)])
    model.save(tmp_path / "custom.fdnn")
    with pytest.raises(FileFormatError, match="Unknown layer class 'Double'"):
        keras.models.load_model(tmp_path / "custom.fdnn")
    loaded = keras.models.load_model(tmp_path / "custom.fdnn", custom_objects={"Double": Double})
    x = np.ones((1, 2), np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_writes_are_atomic(rng, tmp_path, monkeypatch):
    model, _, _ = _trained(bn_after_activation, rng)
    path = tmp_path / "model.fdnn"
    model.save(path)
    before = path.read_bytes()
    monkeypatch.setattr(os, "replace", lambda src, dst: (_ for _ in ()).throw(OSError("disk full")))
    model.layers[2].kernel.assign(model.layers[2].kernel.numpy() + 1)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["model.fdnn"]
    monkeypatch.undo()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        model.save(path, overwrite=False)


def test_missing_file_and_bad_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="No model file"):
        keras.models.load_model(tmp_path / "nothing.fdnn")
    with pytest.raises(TypeError, match="file path"):
        keras.models.load_model(42)


# ---- corrupt and hostile files ------------------------------------------------------------------

def _small_model_file(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=[4]), keras.layers.Dense(3, activation="relu"),
                              keras.layers.Dense(2)])
    model.compile(loss="mse", optimizer="adam")
    path = tmp_path / "good.fdnn"
    model.save(path)
    return path


def _split(path):
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[8:16])
    return json.loads(data[16:16 + length]), data[16 + length:]


def _rewrite(path, header, payload, name="bad.fdnn"):
    blob = json.dumps(header).encode()
    out = path.parent / name
    out.write_bytes(native.MAGIC + struct.pack("<Q", len(blob)) + blob + payload)
    return out


def _load_bounded(path, limit=32 << 20):
    """load_model(path) must raise FileFormatError while allocating less than `limit` bytes."""
    tracemalloc.start()
    try:
        with pytest.raises(FileFormatError) as info:
            keras.models.load_model(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < limit, f"loading a bad file allocated {peak / 2**20:.0f} MB"
    return str(info.value)


def test_truncated_files_are_refused_at_every_cut(tmp_path):
    path = _small_model_file(tmp_path)
    data = path.read_bytes()
    for cut in sorted({0, 3, 8, 12, 16, 40, len(data) // 2, len(data) - 64, len(data) - 1}):
        bad = tmp_path / f"cut{cut}.fdnn"
        bad.write_bytes(data[:cut])
        message = _load_bounded(bad)
        assert "truncated" in message or "not a fastdnn model file" in message or "JSON" in message, message


def test_other_files_are_not_unpickled(tmp_path):
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"weights": [np.ones(3)]}))
    assert "not a fastdnn model file" in _load_bounded(evil)
    npz = tmp_path / "weights.npz"
    np.savez(npz, np.ones(3))
    assert "not a fastdnn model file" in _load_bounded(npz)


def test_header_lies_are_refused_before_allocating(tmp_path):
    path = _small_model_file(tmp_path)
    header, payload = _split(path)
    tensors = header["tensors"]

    def variant(**change):
        h = json.loads(json.dumps(header))
        h["tensors"][0].update(change)
        return _rewrite(path, h, payload)

    # a huge declared shape, consistent in size: the data would lie far beyond the file's end
    assert "truncated" in _load_bounded(variant(shape=[1 << 20, 1 << 20], nbytes=4 << 40))
    # a shape that does not match the declared byte count
    assert "declares shape" in _load_bounded(variant(shape=[1 << 30, 3]))
    assert "non-negative integers" in _load_bounded(variant(shape=[-4, 3]))
    assert "non-negative integers" in _load_bounded(variant(offset=-64))
    assert "non-negative integers" in _load_bounded(variant(shape=[4.0, 3]))
    # dtypes that are not numbers, or numbers that are not weights
    assert "expected one of" in _load_bounded(variant(dtype="object"))
    assert "expected one of" in _load_bounded(variant(dtype="<U10"))
    ints = variant(dtype="int64", nbytes=tensors[0]["nbytes"] * 2)
    assert "has dtype int64; weights are floating-point" in _load_bounded(ints)
    # a header length past the end of the file, and one far beyond any config
    data = path.read_bytes()
    (path.parent / "len.fdnn").write_bytes(data[:8] + struct.pack("<Q", 1 << 62) + data[16:])
    assert "truncated or corrupt" in _load_bounded(path.parent / "len.fdnn")
    h = dict(header, format_version=99)
    assert "format version 99" in _load_bounded(_rewrite(path, h, payload))


def test_config_declaring_huge_layers_is_refused_before_allocating(tmp_path):
    path = _small_model_file(tmp_path)
    header, payload = _split(path)
    h = json.loads(json.dumps(header))
    h["config"]["config"]["layers"][1]["config"]["units"] = 10 ** 9  # a 4e9-element kernel
    message = _load_bounded(_rewrite(path, h, payload))
    assert "declares weight" in message and "holds only" in message
    h = json.loads(json.dumps(header))
    h["config"]["config"]["layers"][0]["config"]["batch_shape"] = [None, 10 ** 6, 10 ** 6]
    assert "declared input shape" in _load_bounded(_rewrite(path, h, payload))


def test_malformed_headers(tmp_path):
    path = _small_model_file(tmp_path)
    header, payload = _split(path)
    deep = "[" * 100_000 + "]" * 100_000
    out = tmp_path / "deep.fdnn"
    out.write_bytes(native.MAGIC + struct.pack("<Q", len(deep)) + deep.encode() + payload)
    assert "not valid JSON" in _load_bounded(out)
    out.write_bytes(native.MAGIC + struct.pack("<Q", 4) + b"\xff\xfe{}" + payload)
    assert "not valid JSON" in _load_bounded(out)
    assert "no tensor list" in _load_bounded(_rewrite(path, {"kind": "model"}, payload))
    for config, match in [({"class_name": "NoSuchModel", "config": {}}, "unknown model class"),
                          ({"class_name": "Functional", "config": {}}, "cannot be rebuilt"),
                          ("Sequential", "not a {'class_name', 'config'} dict"),
                          ({"class_name": "Sequential", "config": {"layers": [{"class_name": "Lambda",
                            "config": {"function": "os.system('x')"}}]}}, "must be a function entry"),
                          ({"class_name": "Sequential", "config": {"layers": [{"class_name": "Lambda",
                            "config": {"function": {"class_name": "__lambda__", "config": {"code": "AA=="}}}}]}},
                           "Requested the deserialization of a `Lambda` layer"),
                          ({"class_name": "Sequential", "config": {"layers": [
                              {"class_name": "Dense", "config": {"units": "many"}}]}}, "cannot be rebuilt")]:
        message = _load_bounded(_rewrite(path, dict(header, config=config), payload))
        assert match in message, message
    missing = dict(header, tensors=header["tensors"][:-1])
    assert "lacks tensor" in _load_bounded(_rewrite(path, missing, payload))
    bad_opt = dict(header, optimizer={"iterations": -1, "extra": {}})
    assert "integer >= 0" in _load_bounded(_rewrite(path, bad_opt, payload))
