"""Every kind of data fit, evaluate and predict take (trainers/data_adapters), the epochs they
make (trainers/epoch_iterator.py) and the checks of the loops' arguments. The reference for
each kind is the same model trained on the same batches given as arrays, in the same order."""

import importlib.util
import math
import threading
import warnings

import numpy as np
import pytest

import fastdnn as keras
from fastdnn.trainers.data_adapters import ArrayDataAdapter, get_data_adapter
from fastdnn.trainers.data_adapters.prefetch import Prefetcher
from fastdnn.trainers.epoch_iterator import EpochIterator

N, BATCH = 96, 16


def arrays(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, 4)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    return x, y


def model():
    keras.utils.set_random_seed(1)
    net = keras.Sequential([keras.layers.Input((4,)), keras.layers.Dense(5, activation="relu"),
                            keras.layers.Dense(2, activation="softmax")])
    net.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy",
                metrics=["accuracy"])
    return net


def reference(epochs=2, sample_weight=None):
    """The weights and history of fit on arrays, unshuffled."""
    x, y = arrays()
    net = model()
    history = net.fit(x, y, batch_size=BATCH, epochs=epochs, shuffle=False, verbose=0, sample_weight=sample_weight)
    return net.get_weights(), history.history


def assert_same(net, history, epochs=2, sample_weight=None):
    want_weights, want_history = reference(epochs, sample_weight)
    for got, want in zip(net.get_weights(), want_weights):
        np.testing.assert_array_equal(got, want)  # the same batches in the same order: the same bits
    for key in ("loss", "accuracy"):
        np.testing.assert_array_equal(history.history[key], want_history[key])


class Batches(keras.utils.PyDataset):
    def __init__(self, x, y, sw=None, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.sw = x, y, sw
        self.epochs_ended = 0
        self.fetched = []
        self.lock = threading.Lock()

    def __len__(self):
        return math.ceil(len(self.x) / BATCH)

    def __getitem__(self, i):
        with self.lock:
            self.fetched.append(i)
        s = slice(i * BATCH, (i + 1) * BATCH)
        return (self.x[s], self.y[s]) if self.sw is None else (self.x[s], self.y[s], self.sw[s])

    def on_epoch_end(self):
        self.epochs_ended += 1


# ---- each kind of data ----------------------------------------------------------------------------

def test_a_generator_with_steps_per_epoch_trains_as_the_same_arrays():
    x, y = arrays()

    def forever():
        while True:
            for i in range(0, N, BATCH):
                yield x[i:i + BATCH], y[i:i + BATCH]

    net = model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # shuffle=True is ignored for a generator, as Keras warns
        history = net.fit(forever(), steps_per_epoch=N // BATCH, epochs=2, verbose=0)
    assert_same(net, history)


def test_a_generator_of_sample_weights_and_an_iterator_too():
    x, y = arrays()
    sw = np.linspace(0.1, 2, N).astype(np.float32)
    batches = [(x[i:i + BATCH], y[i:i + BATCH], sw[i:i + BATCH]) for i in range(0, N, BATCH)]
    net = model()
    history = net.fit(iter(batches * 2), steps_per_epoch=N // BATCH, epochs=2, verbose=0, shuffle=False)
    assert_same(net, history, sample_weight=sw)


def test_a_generator_without_steps_runs_until_exhausted():
    x, y = arrays()
    net = model()
    seen = []
    counter = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(batch))
    gen = ((x[i:i + BATCH], y[i:i + BATCH]) for i in range(0, N, BATCH))
    with pytest.warns(UserWarning, match="ran out of data"):
        history = net.fit(gen, epochs=3, verbose=0, shuffle=False, callbacks=[counter])
    assert seen == list(range(N // BATCH))  # one epoch of six batches, then the data ran out
    assert len(history.history["loss"]) == 1
    assert_same(net, history, epochs=1)


@pytest.mark.parametrize("workers", [1, 3])
def test_a_py_dataset_trains_as_the_same_arrays(workers):
    x, y = arrays()
    data = Batches(x, y, workers=workers)
    net = model()
    history = net.fit(data, epochs=2, verbose=0, shuffle=False)
    assert_same(net, history)
    assert data.epochs_ended == 2
    assert data.fetched[:6] == list(range(6)) or workers > 1


def test_a_shuffled_py_dataset_visits_every_batch_once_per_epoch():
    x, y = arrays()
    data = Batches(x, y)
    keras.utils.set_random_seed(0)
    model().fit(data, epochs=3, verbose=0, shuffle=True)
    epochs = [data.fetched[i:i + 6] for i in range(0, 18, 6)]
    assert all(sorted(e) == list(range(6)) for e in epochs)
    assert any(e != list(range(6)) for e in epochs)


def test_sequence_is_the_old_name_and_evaluate_and_predict_take_a_py_dataset():
    assert keras.utils.Sequence is keras.utils.PyDataset
    x, y = arrays()
    net = model()
    data = Batches(x, y)
    np.testing.assert_allclose(net.evaluate(data, verbose=0), net.evaluate(x, y, batch_size=BATCH, verbose=0),
                               rtol=1e-7)
    np.testing.assert_array_equal(net.predict(data, verbose=0), net.predict(x, batch_size=BATCH, verbose=0))


def test_validation_data_of_every_kind():
    x, y = arrays()
    batches = [(x[i:i + BATCH], y[i:i + BATCH]) for i in range(0, N, BATCH)]
    for validation in ((x, y), Batches(x, y), iter(batches)):
        net = model()
        history = net.fit(x, y, epochs=1, verbose=0, shuffle=False, batch_size=BATCH, validation_data=validation)
        direct = net.evaluate(x, y, batch_size=BATCH, verbose=0, return_dict=True)
        for key in ("loss", "accuracy"):  # the same batches evaluated by the same weights
            assert history.history[f"val_{key}"] == [direct[key]]


def test_validation_freq_steps_and_batch_size_act_as_in_keras():
    x, y = arrays()
    sizes = []
    probe = keras.callbacks.LambdaCallback(on_test_batch_begin=lambda batch, logs: sizes.append(batch))
    net = model()
    history = net.fit(x, y, epochs=4, batch_size=BATCH, verbose=0, validation_data=(x, y), validation_freq=2,
                      validation_batch_size=32, callbacks=[probe])
    assert len(history.history["val_loss"]) == 2 and len(history.history["loss"]) == 4
    assert sizes == [0, 1, 2] * 2  # 96 samples in batches of 32, at epochs 2 and 4
    sizes.clear()
    history = net.fit(x, y, epochs=3, batch_size=BATCH, verbose=0, validation_data=(x, y), validation_freq=[1, 3],
                      validation_steps=2, callbacks=[probe])
    assert sizes == [0, 1] * 2 and len(history.history["val_loss"]) == 2
    sizes.clear()
    net.fit(x, y, epochs=1, batch_size=BATCH, verbose=0, validation_data=(x, y), validation_steps=2,
            callbacks=[probe])
    assert sizes == [0, 1]


def test_torch_data_loader():
    torch = pytest.importorskip("torch")
    x, y = arrays()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
                                         batch_size=BATCH, shuffle=False)
    net = model()
    history = net.fit(loader, epochs=2, verbose=0, shuffle=False)
    assert_same(net, history)
    np.testing.assert_array_equal(net.predict(loader, verbose=0), net.predict(x, verbose=0))


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="TensorFlow is not installed")
def test_tf_data_dataset():
    import tensorflow as tf

    x, y = arrays()
    net = model()
    history = net.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH), epochs=2, verbose=0, shuffle=False)
    assert_same(net, history)


def test_nested_lists_and_dicts_of_arrays():
    x, y = arrays()
    net = model()
    history = net.fit(x.tolist(), y.tolist(), batch_size=BATCH, epochs=2, shuffle=False, verbose=0)
    assert_same(net, history)
    inputs = keras.Input((4,), name="features")
    two = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))
    two.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    two.fit({"features": x}, y, epochs=1, verbose=0)


# ---- epochs -------------------------------------------------------------------------------------

def test_steps_per_epoch_continues_the_data_across_epochs():
    x, _ = arrays()
    adapter = ArrayDataAdapter(x, batch_size=BATCH)
    iterator = EpochIterator(adapter, steps_per_epoch=4)
    first = [batch[0][0, 0] for _, batch in iterator.enumerate_epoch()]
    second = [batch[0][0, 0] for _, batch in iterator.enumerate_epoch()]
    starts = x[::BATCH, 0]
    assert first == list(starts[:4])
    assert second == list(starts[4:6])  # the data ran out after two more batches, as in Keras
    assert iterator.exhausted


def test_default_batch_size_follows_steps_as_in_keras():
    x, y = arrays()
    assert ArrayDataAdapter(x, y, steps=4).batch_size == 24
    assert ArrayDataAdapter(x, y).batch_size == 32
    counted = []
    probe = keras.callbacks.LambdaCallback(on_test_batch_begin=lambda batch, logs: counted.append(batch))
    model().evaluate(x, y, steps=3, verbose=0, callbacks=[probe])
    assert counted == [0, 1, 2]


def test_shuffle_batch_permutes_within_each_batch():
    x = np.arange(40, dtype=np.float32)[:, None]
    np.random.seed(0)
    batches = list(ArrayDataAdapter(x, batch_size=16, shuffle="batch").get_numpy_iterator())
    assert [sorted(b[0][:, 0]) for b in batches] == [list(range(0, 16)), list(range(16, 32)), list(range(32, 40))]
    assert any(list(b[0][:, 0]) != sorted(b[0][:, 0]) for b in batches)


def test_prefetched_batches_are_the_inline_ones(monkeypatch):
    from fastdnn.trainers.data_adapters import array_data_adapter

    x, y = arrays()
    np.random.seed(5)
    inline = list(ArrayDataAdapter(x, y, batch_size=BATCH, shuffle=True).get_numpy_iterator())
    monkeypatch.setattr(array_data_adapter, "PREFETCH_MIN_BYTES", 0)
    np.random.seed(5)
    it = ArrayDataAdapter(x, y, batch_size=BATCH, shuffle=True).get_numpy_iterator()
    assert isinstance(it, Prefetcher)
    got = list(it)
    assert len(got) == len(inline)
    for a, b in zip(got, inline):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    # and fit trains the same with and without prefetching
    net = model()
    history = net.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0)
    assert_same(net, history)


def test_a_prefetcher_passes_errors_on_and_stops_when_closed():
    def failing():
        yield 1
        raise RuntimeError("bad batch")

    it = Prefetcher(failing())
    assert next(it) == 1
    with pytest.raises(RuntimeError, match="bad batch"):
        next(it)
    endless = Prefetcher(iter(int, 1))  # never ends
    next(endless)
    endless.close()
    assert not endless._thread.is_alive()


# ---- argument checks ------------------------------------------------------------------------------

@pytest.mark.parametrize("name, value", [("batch_size", 0), ("batch_size", -4), ("batch_size", 2.5),
                                         ("epochs", -1), ("epochs", 1.5), ("steps_per_epoch", 0),
                                         ("validation_split", 1.5), ("validation_split", -0.1),
                                         ("validation_freq", 0), ("validation_steps", -1),
                                         ("validation_batch_size", 0), ("initial_epoch", -2), ("verbose", 3)])
def test_bad_fit_arguments_raise_naming_them(name, value):
    x, y = arrays()
    with pytest.raises(ValueError, match=f"`{name}`"):
        model().fit(x, y, verbose=0, **{name: value}) if name != "verbose" else model().fit(x, y, verbose=value)


def test_unknown_arguments_and_misplaced_targets_raise():
    x, y = arrays()
    net = model()
    for call in (lambda: net.fit(x, y, workers=2), lambda: net.evaluate(x, y, use_multiprocessing=True),
                 lambda: net.predict(x, max_queue_size=3)):
        with pytest.raises(TypeError, match="unexpected keyword"):
            call()
    gen = ((x[i:i + BATCH], y[i:i + BATCH]) for i in range(0, N, BATCH))
    with pytest.raises(ValueError, match="`y` should not be passed"):
        net.fit(gen, y, verbose=0)
    with pytest.raises(ValueError, match="class_weight"):
        net.fit(gen, class_weight={0: 1.0}, verbose=0)
    with pytest.raises(ValueError, match="Unrecognized data type"):
        net.fit(object(), verbose=0)
    with pytest.raises(ValueError, match="validation_split"):
        net.fit(Batches(x, y), validation_split=0.2, verbose=0)
    with pytest.raises(NotImplementedError, match="use_multiprocessing"):
        net.fit(Batches(x, y, use_multiprocessing=True), verbose=0)
    with pytest.raises(ValueError, match="not sufficient to split"):
        net.fit(x[:1], y[:1], validation_split=0.5, verbose=0)
    with pytest.warns(UserWarning, match="batch_size=8"):
        net.fit(Batches(x, y), batch_size=8, verbose=0)


def test_a_py_dataset_that_returns_a_bad_batch_raises():
    class Bad(keras.utils.PyDataset):
        def __len__(self):
            return 1

        def __getitem__(self, i):
            return (1, 2, 3, 4)

    with pytest.raises(ValueError, match="4 elements"):
        model().fit(Bad(), verbose=0)
    with pytest.raises(ValueError, match="workers"):
        Batches(*arrays(), workers=-1)


def test_get_data_adapter_keeps_an_adapter():
    x, y = arrays()
    adapter = get_data_adapter(x, y)
    assert get_data_adapter(adapter) is adapter
