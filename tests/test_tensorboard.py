"""fastdnn.callbacks.TensorBoard: the event files of a real `fit`, read back with TensorBoard's
own readers (EventAccumulator, and the Graphs plugin for the model graph).

The references: the History of the same fit (scalars are written as float32, so they must equal
the float32 rounding of History's values exactly), float64 NumPy histograms of the weights
snapshotted at each epoch end, clocks read around the callback for the steps per second, and
Keras 3's tags and steps as its keras/src/callbacks/tensorboard.py writes them.
"""

import os
import subprocess
import sys
import time
import types

import fastdnn as keras
import numpy as np
import pytest
from fastdnn.callbacks import CallbackList, LambdaCallback, TensorBoard

N, BATCH, FEATURES, CLASSES = 100, 32, 5, 3
STEPS = -(-N // BATCH)  # 4 steps per epoch, the last one of 4 samples


def data(seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, CLASSES, N)
    x = rng.normal(size=(N, FEATURES)) + 2 * np.eye(CLASSES, FEATURES)[y]
    return x.astype(np.float32), y


def small_model(learning_rate=0.05):
    model = keras.Sequential([keras.Input(shape=[FEATURES]),
                              keras.layers.Dense(7, activation="relu"),
                              keras.layers.BatchNormalization(),
                              keras.layers.Dense(CLASSES, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  optimizer=keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.9))
    return model


@pytest.fixture
def readers():
    """TensorBoard's reader of one run directory, keeping every event (no reservoir sampling)."""
    pytest.importorskip("tensorboardX")
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    def read(directory):
        accumulator = EventAccumulator(str(directory), size_guidance={
            "scalars": 0, "histograms": 0, "tensors": 0, "compressedHistograms": 0})
        accumulator.Reload()
        return accumulator

    return read


def scalars(accumulator, tag):
    return [(event.step, event.value) for event in accumulator.Scalars(tag)]


def as_float32(values):
    return [float(np.float32(v)) for v in values]


# ---- a fit with validation and histograms ------------------------------------------------------

def test_fit_writes_keras_tags_equal_to_history(tmp_path, readers):
    x, y = data()
    model = small_model()
    snapshots = []
    keep = LambdaCallback(on_epoch_end=lambda epoch, logs: snapshots.append(
        {w.path: w.numpy().copy() for layer in model.layers for w in layer.weights}))
    log_dir = tmp_path / "logs"  # missing: the callback creates it
    history = model.fit(x, y, epochs=3, batch_size=BATCH, verbose=0, validation_data=(x[:40], y[:40]),
                        callbacks=[TensorBoard(log_dir, histogram_freq=1), keep]).history
    assert sorted(os.listdir(log_dir)) == ["train", "validation"]

    train = readers(log_dir / "train")
    assert sorted(train.Tags()["scalars"]) == ["epoch_accuracy", "epoch_learning_rate", "epoch_loss"]
    for name in ("loss", "accuracy", "learning_rate"):
        assert scalars(train, f"epoch_{name}") == list(zip(range(3), as_float32(history[name])))

    validation = readers(log_dir / "validation")
    assert sorted(validation.Tags()["scalars"]) == [
        "epoch_accuracy", "epoch_loss", "evaluation_accuracy_vs_iterations",
        "evaluation_loss_vs_iterations"]
    for name in ("loss", "accuracy"):  # val_ stripped, as Keras
        assert scalars(validation, f"epoch_{name}") == list(zip(range(3), as_float32(history["val_" + name])))
        # each validation run, at the optimizer's step count then
        assert scalars(validation, f"evaluation_{name}_vs_iterations") == list(
            zip([STEPS, 2 * STEPS, 3 * STEPS], as_float32(history["val_" + name])))
    assert validation.Tags()["histograms"] == []

    paths = [w.path for layer in model.layers for w in layer.weights]
    assert len(paths) == 8  # 2 Dense x 2, BatchNormalization x 4 (moving statistics included)
    assert sorted(train.Tags()["histograms"]) == sorted(f"{p}/histogram" for p in paths)
    for path in paths:
        events = train.Histograms(f"{path}/histogram")
        assert [e.step for e in events] == [0, 1, 2]
        for event, snapshot in zip(events, snapshots):
            values = snapshot[path].astype(np.float64).ravel()
            histogram = event.histogram_value
            assert sum(histogram.bucket) == histogram.num == values.size
            assert (histogram.min, histogram.max) == (values.min(), values.max())
            # the same float64 numbers summed by NumPy in both: equal to rounding
            assert histogram.sum == pytest.approx(values.sum(), rel=1e-12, abs=1e-12)
            # 30 equal-width buckets over [min, max], as tf.summary.histogram (tensorboardX keeps
            # only the span of non-empty buckets)
            counts, _ = np.histogram(values, bins=30)
            buckets = np.asarray(histogram.bucket)
            assert buckets[buckets > 0].tolist() == counts[counts > 0].tolist()
            assert len(buckets) <= 31


def test_histogram_freq_writes_every_nth_epoch_only(tmp_path, readers):
    x, y = data()
    model = small_model()
    model.fit(x, y, epochs=5, batch_size=BATCH, verbose=0,
              callbacks=[TensorBoard(tmp_path, histogram_freq=2)])
    train = readers(tmp_path / "train")
    for tag in train.Tags()["histograms"]:
        assert [e.step for e in train.Histograms(tag)] == [0, 2, 4]
    assert len(train.Tags()["histograms"]) == 8
    model.fit(x, y, epochs=1, batch_size=BATCH, verbose=0, callbacks=[TensorBoard(tmp_path / "none")])
    assert readers(tmp_path / "none" / "train").Tags()["histograms"] == []


def test_learning_rate_is_the_optimizer_rate_of_each_epoch(tmp_path, readers):
    x, y = data()
    schedule = keras.schedules.ExponentialDecay(0.1, decay_steps=3, decay_rate=0.5)
    model = small_model(learning_rate=schedule)
    model.fit(x, y, epochs=3, batch_size=BATCH, verbose=0, callbacks=[TensorBoard(tmp_path)])
    # Keras 3 writes `optimizer.learning_rate`, the schedule at the step count of the epoch's
    # end (the rate of the next step): 0.1 * 0.5 ** (4 (e + 1) / 3)
    expected = [0.1 * 0.5 ** (STEPS * (epoch + 1) / 3) for epoch in range(3)]
    written = scalars(readers(tmp_path / "train"), "epoch_learning_rate")
    assert [step for step, _ in written] == [0, 1, 2]
    # float32 rounding of the written value: half an ulp
    assert [value for _, value in written] == pytest.approx(expected, rel=2 ** -24)

    model = small_model()
    rates = keras.callbacks.LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1))
    model.fit(x, y, epochs=3, batch_size=BATCH, verbose=0, callbacks=[rates, TensorBoard(tmp_path / "s")])
    assert scalars(readers(tmp_path / "s" / "train"), "epoch_learning_rate") == list(
        zip(range(3), as_float32([0.01, 0.02, 0.03])))


# ---- batch-level scalars -------------------------------------------------------------------------

@pytest.mark.parametrize("update_freq, steps", [("batch", [1, 2, 3, 4, 5, 6, 7, 8]),
                                                (2, [2, 4, 6, 8]), (3, [3, 6])])
def test_update_freq_writes_every_nth_batch_of_the_whole_fit(tmp_path, readers, update_freq, steps):
    x, y = data()
    batch_logs = []
    seen = LambdaCallback(on_train_batch_end=lambda batch, logs: batch_logs.append(dict(logs)))
    history = small_model().fit(x, y, epochs=2, batch_size=BATCH, verbose=0,
                                callbacks=[TensorBoard(tmp_path, update_freq=update_freq), seen]).history
    assert len(batch_logs) == 2 * STEPS
    train = readers(tmp_path / "train")
    assert sorted(train.Tags()["scalars"]) == ["batch_accuracy", "batch_loss", "epoch_accuracy",
                                               "epoch_learning_rate", "epoch_loss"]
    for name in ("loss", "accuracy"):
        # Keras 3's numbering: global batch count from 1, across epochs
        expected = [(step, float(np.float32(batch_logs[step - 1][name]))) for step in steps]
        assert scalars(train, f"batch_{name}") == expected
        # written whatever the batch count (Keras 3 loses them unless update_freq divides it)
        assert scalars(train, f"epoch_{name}") == list(zip(range(2), as_float32(history[name])))
    if update_freq in ("batch", 2):  # the last batch's running average is the epoch's value
        assert scalars(train, "batch_loss")[-1][1] == float(np.float32(history["loss"][-1]))


def test_batch_hooks_are_requested_only_for_batch_level_logging(tmp_path):
    assert not CallbackList([TensorBoard(tmp_path)]).wants_train_batches
    assert CallbackList([TensorBoard(tmp_path, update_freq="batch")]).wants_train_batches
    assert CallbackList([TensorBoard(tmp_path, update_freq=5)]).wants_train_batches
    assert TensorBoard(tmp_path, update_freq="batch").update_freq == 1  # as Keras stores it


def test_steps_per_second_lies_within_clocks_read_around_the_callback(tmp_path, readers):
    x, y = data()
    clock = {"outer": [], "inner": []}

    def stamp(which):
        return lambda *args, **kwargs: clock[which].append(time.perf_counter())

    hooks = ("on_epoch_begin", "on_epoch_end", "on_train_batch_begin", "on_train_batch_end")
    before = LambdaCallback(**{hook: stamp("outer" if "begin" in hook else "inner") for hook in hooks})
    after = LambdaCallback(**{hook: stamp("inner" if "begin" in hook else "outer") for hook in hooks})
    small_model().fit(x, y, epochs=2, batch_size=BATCH, verbose=0, callbacks=[
        before, TensorBoard(tmp_path, update_freq="batch", write_steps_per_second=True), after])
    # each list: per epoch, its begin stamp, then (begin, end) per batch, then its end stamp
    outer = np.array(clock["outer"]).reshape(2, 2 * STEPS + 2)
    inner = np.array(clock["inner"]).reshape(2, 2 * STEPS + 2)
    train = readers(tmp_path / "train")
    per_epoch = scalars(train, "epoch_steps_per_second")
    assert [step for step, _ in per_epoch] == [0, 1]
    for epoch, (_, rate) in enumerate(per_epoch):
        longest, shortest = outer[epoch, -1] - outer[epoch, 0], inner[epoch, -1] - inner[epoch, 0]
        # float32 rounding of the written rate: 1 ulp
        assert STEPS / longest * (1 - 1e-6) <= rate <= STEPS / shortest * (1 + 1e-6)
    per_batch = scalars(train, "batch_steps_per_second")
    assert [step for step, _ in per_batch] == list(range(1, 2 * STEPS + 1))
    for i, (_, rate) in enumerate(per_batch):
        epoch, batch = divmod(i, STEPS)
        longest = outer[epoch, 2 + 2 * batch] - outer[epoch, 1 + 2 * batch]
        shortest = inner[epoch, 2 + 2 * batch] - inner[epoch, 1 + 2 * batch]
        assert 1 / longest * (1 - 1e-6) <= rate <= 1 / shortest * (1 + 1e-6)


# ---- evaluate, the graph, files ------------------------------------------------------------------

def test_evaluate_writes_evaluation_scalars_at_the_step_count(tmp_path, readers):
    x, y = data()
    model = small_model()
    model.fit(x, y, epochs=2, batch_size=BATCH, verbose=0)
    loss, accuracy = model.evaluate(x, y, verbose=0, callbacks=[TensorBoard(tmp_path)])
    validation = readers(tmp_path / "validation")
    assert scalars(validation, "evaluation_loss_vs_iterations") == [(2 * STEPS, float(np.float32(loss)))]
    assert scalars(validation, "evaluation_accuracy_vs_iterations") == [
        (2 * STEPS, float(np.float32(accuracy)))]


def test_write_graph_writes_the_conceptual_graph_tensorboard_draws(tmp_path, readers):
    x, y = data()
    model = small_model()
    model.fit(x, y, epochs=1, batch_size=BATCH, verbose=0, callbacks=[TensorBoard(tmp_path)])
    train = readers(tmp_path / "train")
    assert train.Tags()["tensors"] == ["keras"]
    (event,) = train.Tensors("keras")
    assert event.step == 0
    assert event.tensor_proto.string_val[0].decode() == model.to_json()
    metadata = train.SummaryMetadata("keras")
    assert (metadata.plugin_data.plugin_name, metadata.plugin_data.content) == ("graph_keras_model", b"1")

    # TensorBoard's Graphs tab, on the data its server reads: a conceptual graph of the layers
    from tensorboard import context
    from tensorboard.backend.event_processing import (
        data_provider,
        plugin_event_multiplexer,
    )
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.graph import graphs_plugin

    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(tmp_path))
    multiplexer.Reload()
    provider = data_provider.MultiplexerDataProvider(multiplexer, str(tmp_path))
    plugin = graphs_plugin.GraphsPlugin(base_plugin.TBContext(
        data_provider=provider, logdir=str(tmp_path), multiplexer=multiplexer))
    request = context.RequestContext()
    assert plugin.info_impl(request, "")["train"]["tags"]["keras"]["conceptual_graph"]
    graph, _ = plugin.graph_impl(request, "train", "keras", is_conceptual=True, experiment="")
    for layer in model.layers:
        assert f'name: "{model.name}/{layer.name}"' in graph


def test_no_graph_without_write_graph_or_for_a_subclassed_model(tmp_path, readers):
    x, y = data()
    small_model().fit(x, y, epochs=1, batch_size=BATCH, verbose=0,
                      callbacks=[TensorBoard(tmp_path / "off", write_graph=False)])
    assert readers(tmp_path / "off" / "train").Tags()["tensors"] == []

    class Subclassed(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = keras.layers.Dense(CLASSES, activation="softmax")

        def call(self, inputs):
            return self.dense(inputs)

    model = Subclassed()
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    model.fit(x, y, epochs=1, batch_size=BATCH, verbose=0, callbacks=[TensorBoard(tmp_path / "sub")])
    train = readers(tmp_path / "sub" / "train")
    assert train.Tags()["tensors"] == []
    assert sorted(train.Tags()["scalars"]) == ["epoch_learning_rate", "epoch_loss"]


def test_writers_flush_each_epoch_and_close_at_train_end(tmp_path, readers):
    x, y = data()
    model = small_model()
    tensorboard = TensorBoard(tmp_path)

    def fail(epoch, logs):
        if epoch == 1:
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        model.fit(x, y, epochs=3, batch_size=BATCH, verbose=0,
                  callbacks=[tensorboard, LambdaCallback(on_epoch_end=fail)])
    # fit raised before on_train_end: epochs 0 and 1 were flushed all the same
    assert [step for step, _ in scalars(readers(tmp_path / "train"), "epoch_loss")] == [0, 1]
    # a new fit closes the old files and starts new ones, closed at its end
    history = model.fit(x, y, epochs=2, batch_size=BATCH, verbose=0, callbacks=[tensorboard]).history
    assert tensorboard._writers == {}
    assert len(os.listdir(tmp_path / "train")) == 2
    assert scalars(readers(tmp_path / "train"), "epoch_loss")[2:] == list(
        zip(range(2), as_float32(history["loss"])))


def test_runs_in_the_same_second_keep_their_own_files(tmp_path, readers, monkeypatch):
    import tensorboardX.event_file_writer

    # tensorboardX names files by the second: freeze its clock so that both runs share one
    frozen = types.SimpleNamespace(time=lambda: 1.7e9)
    monkeypatch.setattr(tensorboardX.event_file_writer, "time", frozen)
    x, y = data()
    model = small_model()
    tensorboard = TensorBoard(tmp_path)
    first = model.fit(x, y, epochs=2, batch_size=BATCH, verbose=0, callbacks=[tensorboard]).history
    loss, _ = model.evaluate(x, y, verbose=0, callbacks=[tensorboard])  # a new train file (graph)
    assert len(os.listdir(tmp_path / "train")) == 2
    train, validation = readers(tmp_path / "train"), readers(tmp_path / "validation")
    assert scalars(train, "epoch_loss") == list(zip(range(2), as_float32(first["loss"])))
    assert len(train.Tensors("keras")) == 2
    assert scalars(validation, "evaluation_loss_vs_iterations") == [(2 * STEPS, float(np.float32(loss)))]


def test_non_finite_weights_get_no_histogram_and_a_warning(tmp_path, readers):
    x, y = data()
    model = small_model()
    model.fit(x, y, epochs=1, batch_size=BATCH, verbose=0)
    kernel = model.layers[0].kernel
    kernel.assign(np.full(kernel.shape, np.nan, np.float32))
    tensorboard = TensorBoard(tmp_path, histogram_freq=1)
    tensorboard.set_model(model)
    with pytest.warns(UserWarning, match=f"`{kernel.path}` at epoch 0: it holds NaN"):
        tensorboard.on_epoch_end(0, {"loss": 1.0})
    tensorboard.on_train_end()
    tags = readers(tmp_path / "train").Tags()["histograms"]
    bias = model.layers[0].bias
    assert f"{kernel.path}/histogram" not in tags and f"{bias.path}/histogram" in tags
    assert len(tags) == 7


# ---- arguments ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, name", [
    ({"write_images": True}, "write_images"), ({"profile_batch": 2}, "profile_batch"),
    ({"profile_batch": (10, 20)}, "profile_batch"), ({"profile_batch": "1,3"}, "profile_batch"),
    ({"embeddings_freq": 1}, "embeddings_freq"),
    ({"embeddings_metadata": {"embedding": "metadata.tsv"}}, "embeddings_metadata")])
def test_unsupported_arguments_raise_not_implemented(tmp_path, kwargs, name):
    with pytest.raises(NotImplementedError, match=f"{name}="):
        TensorBoard(tmp_path, **kwargs)


@pytest.mark.parametrize("kwargs, name", [
    ({"histogram_freq": -1}, "histogram_freq"), ({"histogram_freq": 1.5}, "histogram_freq"),
    ({"update_freq": "step"}, "update_freq"), ({"update_freq": 0}, "update_freq"),
    ({"update_freq": True}, "update_freq"), ({"embeddings_freq": -2}, "embeddings_freq")])
def test_invalid_arguments_raise_value_error(tmp_path, kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`.*Received: {name}="):
        TensorBoard(tmp_path, **kwargs)


def test_defaults_are_keras_3s(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tensorboard = TensorBoard()
    assert (tensorboard.log_dir, tensorboard.histogram_freq, tensorboard.write_graph,
            tensorboard.write_images, tensorboard.write_steps_per_second, tensorboard.update_freq,
            tensorboard.embeddings_freq, tensorboard.embeddings_metadata) == (
        "logs", 0, True, False, False, "epoch", 0, None)
    assert os.listdir(tmp_path) == []  # nothing is written before the callback meets a model
    assert keras.callbacks.TensorBoard is TensorBoard


def test_missing_tensorboardx_raises_import_error_naming_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # `import tensorboardX` now fails
    x, y = data()
    with pytest.raises(ImportError, match=r'pip install "fastdnn\[tensorboard\]"'):
        small_model().fit(x, y, epochs=1, verbose=0, callbacks=[TensorBoard(tmp_path)])
    assert not os.path.exists(tmp_path / "train")


def test_importing_fastdnn_does_not_import_tensorboardx():
    code = "import sys, fastdnn, fastdnn.callbacks; print('tensorboardX' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
