"""The functional API (models/functional.py, models/graph.py): graphs of layers on symbolic
tensors, against a float64 NumPy transcription of the same graph (graph_models.py), with
gradients through merge and shared layers by finite differences; several inputs and outputs in
fit/evaluate/predict with Keras's log names; nested models, sub-models cut from a graph, config
round trips and clones; the errors a bad graph raises; and real Keras 3 where installed (the same
layer order and outputs from the same weights, the same weights after training)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastdnn as keras
import graph_models
from _tolerances import KERAS_PREDICT_ATOL, KERAS_STEP_ATOL, MODEL_FWD_RTOL, grad_atol
from conftest import assert_close
from test_ops_grad import numeric_grad


def _siamese(seed=3):
    keras.utils.set_random_seed(seed)
    return graph_models.siamese(keras)


# ---- the graph -------------------------------------------------------------------------------

def test_siamese_graph_matches_float64_and_shares_its_layer():
    model = _siamese()
    left, right, _, _ = graph_models.pair_data()
    assert [layer.name for layer in model.layers] == [
        "left", "right", "shared", "diff", "prod", "cos", "joined", "same", "aux"]
    assert model.output_names == ["same", "aux"]
    shared = model.get_layer("shared")
    assert len(shared.weights) == 2 and len(model.weights) == 6  # one kernel, used twice
    assert model.get_layer(index=2) is shared and len(shared._inbound_nodes) == 2
    same, aux = model([left, right])
    ref_same, ref_aux = graph_models.siamese64(model.get_weights(), left, right)
    assert_close(same, ref_same, 1e-6, MODEL_FWD_RTOL, what="same")
    assert_close(aux, ref_aux, 1e-6, MODEL_FWD_RTOL, what="aux")
    by_name = model({"left": left, "right": right})  # a dict keyed by the inputs' names
    np.testing.assert_array_equal(by_name[0], same)


def test_gradients_through_merge_and_shared_layers_match_finite_differences():
    model = _siamese(seed=4)
    left, right, target, aux_target = graph_models.pair_data(n=6, seed=1)
    w_same = np.linspace(-1, 1, 6, dtype=np.float32).reshape(6, 1)
    w_aux = np.linspace(0.5, -1.5, 12, dtype=np.float32).reshape(6, 2)
    with keras.GradientTape() as tape:
        same, aux = model([left, right], training=True)
        loss = keras.ops.add(keras.ops.sum(keras.ops.multiply(same, w_same)),
                             keras.ops.sum(keras.ops.multiply(aux, w_aux)))
    grads = tape.gradient(loss, model.trainable_weights)

    def loss64(*weights):
        s, a = graph_models.siamese64(weights, left, right)
        return float((s * w_same).sum() + (a * w_aux).sum())

    values = [w.numpy() for w in model.weights]
    for i, grad in enumerate(grads):
        expected = numeric_grad(loss64, values, i)
        # Each weight gradient sums over the 6 rows, twice for the shared layer.
        assert_close(grad, expected, grad_atol(expected, depth=12), what=f"gradient of weight {i}")


def test_merges_reshape_and_identity_match_float64_with_gradients():
    keras.utils.set_random_seed(6)
    model = graph_models.merges(keras)
    x = np.random.default_rng(2).normal(size=(5, 6)).astype(np.float32)
    out = model(x)
    assert_close(out, graph_models.merges64(model.get_weights(), x), 1e-6, MODEL_FWD_RTOL, what="merges")
    labels = np.array([0, 2, 1, 1, 0])
    with keras.GradientTape() as tape:
        loss = keras.losses.SparseCategoricalCrossentropy()(labels, model(x, training=True))
    grads = tape.gradient(loss, model.trainable_weights)

    def loss64(*weights):
        p = graph_models.merges64(weights, x)
        return float(-np.log(p[np.arange(5), labels]).mean())

    values = [w.numpy() for w in model.weights]
    for i, grad in enumerate(grads):
        expected = numeric_grad(loss64, values, i)
        assert_close(grad, expected, grad_atol(expected, depth=5), what=f"gradient of weight {i}")


def test_single_dict_and_nested_inputs_and_outputs():
    x = keras.Input(shape=(3,), name="x")
    outputs = {"b": keras.layers.Dense(2, name="b")(x), "a": keras.layers.Dense(1, name="a")(x)}
    model = keras.Model(inputs={"x": x}, outputs=outputs)
    data = np.ones((4, 3), np.float32)
    out = model({"x": data})
    assert set(out) == {"a", "b"} and out["a"].shape == (4, 1) and out["b"].shape == (4, 2)
    assert model.output_names == ["a", "b"]  # a dict of outputs is named by its sorted keys
    predicted = model.predict({"x": data}, verbose=0)
    np.testing.assert_array_equal(predicted["b"], out["b"])
    one = keras.Model(x, keras.layers.Dense(2)(x))
    assert one.inputs == [x] and one.input is x and one.output is one.outputs[0]
    assert one(data).shape == (4, 2) and one([data]).shape == (4, 2)


def test_a_model_used_as_a_layer_and_a_sub_model_cut_from_a_graph():
    keras.utils.set_random_seed(7)
    base = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(5, activation="relu", name="l1"),
                             keras.layers.Dense(3, activation="relu", name="l2"),
                             keras.layers.Dense(2, name="l3")], name="base")
    x = np.random.default_rng(3).normal(size=(6, 4)).astype(np.float32)
    lower = keras.Model(base.inputs, base.layers[1].output)  # reuse pretrained lower layers
    assert [layer.name for layer in lower.layers][1:] == ["l1", "l2"]
    assert lower.get_layer("l1") is base.layers[0]  # the same layer objects, weights shared
    k1, b1, k2, b2 = (w.astype(np.float64) for w in base.get_weights()[:4])
    expected = np.maximum(np.maximum(x @ k1 + b1, 0) @ k2 + b2, 0)
    assert_close(lower(x), expected, 1e-6, MODEL_FWD_RTOL, what="sub-model")
    upper = keras.Model(base.layers[1].output, base.layers[2].output)  # from an intermediate tensor
    assert upper.layers[0].name.endswith("CLONE") and upper.input_shape == (None, 3)
    assert_close(upper(lower(x)), base(x), 1e-6, MODEL_FWD_RTOL, what="cut at the middle")

    inputs = keras.Input(shape=(4,), name="features")
    outer = keras.Model(inputs, keras.layers.Dense(1, name="head")(lower(inputs)))
    assert [layer.name for layer in outer.layers] == ["features", lower.name, "head"]
    k3, b3 = (w.astype(np.float64) for w in outer.get_layer("head").get_weights())
    assert_close(outer(x), expected @ k3 + b3, 1e-6, MODEL_FWD_RTOL, what="nested model")
    lower.trainable = False
    assert outer.trainable_weights == outer.get_layer("head").trainable_weights


def test_training_keeps_explicit_flags_and_passes_training_on():
    x = keras.Input(shape=(200,))
    always = keras.layers.Dropout(0.5, seed=1)(x, training=True)  # recorded: on even in predict
    model = keras.Model(x, keras.layers.Dropout(0.5, seed=2)(always))
    ones = np.ones((4, 200), np.float32)
    predicted = model(ones, training=False)
    assert 0.3 < float((predicted == 0).mean()) < 0.7  # the first dropout only
    trained = model(ones, training=True)
    assert float((trained == 0).mean()) > 0.6  # both


# ---- training with several outputs --------------------------------------------------------

def _compiled_siamese():
    model = _siamese(seed=8)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1),
                  loss={"same": "binary_crossentropy", "aux": "mse"}, loss_weights={"same": 1.0, "aux": 0.5},
                  metrics={"same": ["accuracy"], "aux": ["mae"]})
    return model


def test_fit_with_several_outputs_names_its_logs_as_keras():
    left, right, same, aux = graph_models.pair_data()
    model = _compiled_siamese()
    history = model.fit([left, right], {"same": same, "aux": aux}, batch_size=16, epochs=2, verbose=0,
                        validation_data=([left, right], [same, aux]))
    assert list(history.history) == ["loss", "same_accuracy", "aux_mae", "same_loss", "aux_loss", "val_loss",
                                      "val_same_accuracy", "val_aux_mae", "val_same_loss", "val_aux_loss",
                                      "learning_rate"]
    logs = model.evaluate([left, right], [same, aux], verbose=0, return_dict=True)
    # The total is the weighted sum of the outputs' losses.
    assert logs["loss"] == pytest.approx(logs["same_loss"] + 0.5 * logs["aux_loss"], rel=1e-6)
    s, a = graph_models.siamese64(model.get_weights(), left, right)
    s = np.clip(s, 1e-7, 1 - 1e-7)
    bce = -(same * np.log(s) + (1 - same) * np.log(1 - s)).mean()
    mse = ((a - aux) ** 2).mean()
    assert logs["same_loss"] == pytest.approx(bce, rel=1e-5)
    assert logs["aux_loss"] == pytest.approx(mse, rel=1e-5)
    assert logs["aux_mae"] == pytest.approx(np.abs(a - aux).mean(), rel=1e-5)
    assert logs["same_accuracy"] == pytest.approx(((s > 0.5) == same).mean())
    loss, *rest = model.evaluate([left, right], [same, aux], verbose=0)
    assert loss == pytest.approx(logs["loss"]) and len(rest) == 4


def test_one_loss_for_every_output_and_lists_of_metrics():
    left, right, same, aux = graph_models.pair_data(n=16)
    model = _siamese(seed=9)
    model.compile(optimizer="sgd", loss="mse", metrics=[["mae"], ["mae", "mse"]])
    logs = model.evaluate([left, right], [same, aux], verbose=0, return_dict=True)
    assert list(logs) == ["loss", "same_mae", "aux_mae", "aux_mse", "same_loss", "aux_loss"]
    assert logs["loss"] == pytest.approx(logs["same_loss"] + logs["aux_loss"], rel=1e-6)


def test_loss_and_metrics_that_do_not_match_the_outputs_are_refused():
    model = _siamese()
    with pytest.raises(ValueError, match="2 outputs"):
        model.compile(optimizer="sgd", loss=["mse"])
    with pytest.raises(ValueError, match="not outputs of the model"):
        model.compile(optimizer="sgd", loss={"same": "mse", "other": "mse"})
    model.compile(optimizer="sgd", loss=["mse", "mse"])
    left, right, same, aux = graph_models.pair_data(n=8)
    with pytest.raises(ValueError, match="without the outputs"):
        model.fit([left, right], {"same": same}, verbose=0)


def test_a_chain_trains_exactly_as_the_same_sequential():
    """A functional model that is a plain chain runs the same layers in the same order: the
    same weights after training, bit for bit."""
    x = np.random.default_rng(4).normal(size=(96, 8)).astype(np.float32)
    y = np.random.default_rng(5).integers(0, 3, 96)
    trained = []
    for kind in ("sequential", "functional"):
        keras.utils.set_random_seed(11)
        layers = [keras.layers.Dense(16, activation="elu", kernel_initializer="he_normal"),
                  keras.layers.BatchNormalization(), keras.layers.Dropout(0.2),
                  keras.layers.Dense(3, activation="softmax")]
        if kind == "sequential":
            model = keras.Sequential([keras.Input(shape=(8,))] + layers)
        else:
            inputs = keras.Input(shape=(8,))
            h = inputs
            for layer in layers:
                h = layer(h)
            model = keras.Model(inputs, h)
        model.compile(loss="sparse_categorical_crossentropy", optimizer="nadam", metrics=["accuracy"])
        history = model.fit(x, y, batch_size=16, epochs=2, verbose=0)
        trained.append((model.get_weights(), history.history))
    for a, b in zip(trained[0][0], trained[1][0]):
        np.testing.assert_array_equal(a, b)
    assert trained[0][1] == trained[1][1]


# ---- config, clones and summary --------------------------------------------------------------

def test_config_round_trip_keeps_shared_layers_and_nested_models():
    keras.utils.set_random_seed(12)
    inner = keras.Sequential([keras.Input(shape=(6,)), keras.layers.Dense(3, name="inner_dense")], name="inner")
    a, b = keras.Input(shape=(4,), name="a"), keras.Input(shape=(4,), name="b")
    shared = keras.layers.Dense(3, activation="relu", name="shared")
    joined = keras.layers.concatenate([shared(a), shared(b)], name="joined")
    model = keras.Model([a, b], [inner(joined), keras.layers.Dense(1, name="aux")(shared(a))], name="nest")
    config = model.get_config()
    rebuilt = keras.Model.from_config(config)
    assert [layer.name for layer in rebuilt.layers] == [layer.name for layer in model.layers]
    assert len(rebuilt.get_layer("shared")._inbound_nodes) == 3  # still one layer, called three times
    assert rebuilt.get_config() == config
    rebuilt.set_weights(model.get_weights())
    data = [np.ones((2, 4), np.float32), np.full((2, 4), 0.5, np.float32)]
    for got, want in zip(rebuilt.predict(data, verbose=0), model.predict(data, verbose=0)):
        np.testing.assert_array_equal(got, want)
    clone = keras.models.clone_model(model)
    assert all(c is not o for c, o in zip(clone.layers[2:], model.layers[2:]))
    assert len(clone.weights) == len(model.weights) == 6
    clone.set_weights(model.get_weights())
    for got, want in zip(clone(data), model(data)):
        np.testing.assert_array_equal(got, want)
    again = keras.models.model_from_json(model.to_json())
    assert [layer.name for layer in again.layers] == [layer.name for layer in model.layers]


def test_summary_shows_connections_for_a_graph_and_not_for_a_chain():
    lines = []
    _siamese().summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Connected to" in text and "left[0][0]" in text and "shared[1][0]" in text
    assert "Total params: 44" in text  # shared 5·4+4, same 9+1, aux 4·2+2
    chain = []
    inputs = keras.Input(shape=(3,))
    keras.Model(inputs, keras.layers.Dense(2)(inputs)).summary(print_fn=chain.append)
    assert "Connected to" not in "\n".join(chain) and "(None, 2)" in "\n".join(chain)


# ---- bad graphs --------------------------------------------------------------------------------

def test_bad_graphs_raise_errors_that_name_the_fault():
    a, b = keras.Input(shape=(3,), name="a"), keras.Input(shape=(3,), name="b")
    from_b = keras.layers.Dense(2, name="from_b")(b)
    with pytest.raises(ValueError, match=r"Graph disconnected.*input 'b'.*\['from_b'\]"):
        keras.Model(a, from_b)  # an output that does not depend on the inputs
    with pytest.raises(ValueError, match="Graph disconnected.*input 'b'"):
        keras.Model(a, b)
    with pytest.raises(ValueError, match=r"Layer 'bad_add' \(Add\) needs inputs of the same shape.*\(None, 3\), \(None, 4\)"):
        keras.layers.Add(name="bad_add")([a, keras.Input(shape=(4,))])
    with pytest.raises(ValueError, match="'bad_cat' .*same sizes on every axis but axis -1"):
        keras.layers.Concatenate(name="bad_cat")([keras.Input(shape=(2, 3)), keras.Input(shape=(4, 3))])
    with pytest.raises(ValueError, match="must be symbolic tensors.*ndarray in inputs"):
        keras.Model([a, np.zeros(3)], from_b)  # an input that is not a model input
    with pytest.raises(ValueError, match="which no layer made"):
        keras.layers.Dense(2)(keras.layers.KerasTensor((None, 3)))
    model = keras.Model(a, keras.layers.Dense(2)(a))
    with pytest.raises(ValueError, match=r"\['zzz'\] are not inputs"):
        model({"a": np.zeros((1, 3)), "zzz": np.zeros((1, 3))})
    with pytest.raises(ValueError, match="Input 'a' .* expects shape \\(None, 3\\).*\\(2, 5\\)"):
        model(np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match="expects 1 input"):
        model([np.zeros((2, 3)), np.zeros((2, 3))])
    with pytest.raises(TypeError, match="is symbolic"):
        _ = a + b
    with pytest.raises(ValueError, match='name "twin" is used 2 times'):
        keras.Model(a, [keras.layers.Dense(1, name="twin")(a), keras.layers.Dense(1, name="twin")(a)])


# ---- real Keras 3 ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def real_keras():
    os.environ.setdefault("KERAS_BACKEND", "numpy")
    return pytest.importorskip("keras", minversion="3.0")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_keras_orders_the_layers_and_computes_the_outputs_the_same_way(real_keras):
    for build in (graph_models.siamese, graph_models.merges):
        ours, theirs = build(keras), build(real_keras)
        assert [layer.name for layer in ours.layers] == [layer.name for layer in theirs.layers]
        assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
        theirs.set_weights(ours.get_weights())
        rng = np.random.default_rng(0)
        data = [rng.normal(size=(8, shape[1])).astype(np.float32) for shape in
                ([(None, 5), (None, 5)] if build is graph_models.siamese else [(None, 6)])]
        data = data if len(data) > 1 else data[0]
        mine = ours.predict(data, verbose=0)
        reference = theirs.predict(data, verbose=0)
        for got, want in zip(mine if isinstance(mine, list) else [mine],
                             reference if isinstance(reference, list) else [reference]):
            np.testing.assert_allclose(got, want, atol=KERAS_PREDICT_ATOL)


def test_training_matches_keras_with_the_same_weights(tmp_path):
    """Two epochs of SGD on the siamese model, two losses with weights: the same weights and
    the same logged losses and metrics as Keras 3 (JAX backend), from the same start."""
    pytest.importorskip("keras", minversion="3.0")
    pytest.importorskip("jax")
    left, right, same, aux = graph_models.pair_data()
    model = _compiled_siamese()
    start = model.get_weights()
    np.savez(tmp_path / "in.npz", left=left, right=right, same=same, aux=aux, n=len(start),
             **{f"w{i}": w for i, w in enumerate(start)})
    script = Path(__file__).with_name("keras_functional_reference.py")
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "in.npz"), str(tmp_path / "out.npz")],
                          env={**os.environ, "KERAS_BACKEND": "jax"}, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    theirs = np.load(tmp_path / "out.npz")
    history = model.fit([left, right], {"same": same, "aux": aux}, batch_size=16, epochs=2, shuffle=False,
                        verbose=0)
    for i, got in enumerate(model.get_weights()):
        # Six SGD steps on float32 weights of size ~1: each side rounds every step.
        np.testing.assert_allclose(got, theirs[f"w{i}"], atol=6 * KERAS_STEP_ATOL, err_msg=f"weight {i}")
    for key in theirs["keys"]:
        np.testing.assert_allclose(history.history[str(key)], theirs[f"h_{key}"], rtol=1e-5,
                                   err_msg=str(key))



def test_mc_dropout_runs_a_functional_model_as_the_same_sequential():
    """Monte Carlo Dropout keeps the dropout family on and BatchNormalization in inference, in a
    graph as in a stack: the same masks, the same mean and deviation."""
    x = np.random.default_rng(8).normal(size=(10, 6)).astype(np.float32)
    results = []
    for kind in ("sequential", "functional"):
        keras.utils.set_random_seed(13)
        layers = [keras.layers.Dense(8, activation="relu"), keras.layers.BatchNormalization(),
                  keras.layers.Dropout(0.3), keras.layers.Dense(3, activation="softmax")]
        if kind == "sequential":
            model = keras.Sequential([keras.Input(shape=(6,))] + layers)
        else:
            inputs = keras.Input(shape=(6,))
            h = inputs
            for layer in layers:
                h = layer(h)
            model = keras.Model(inputs, h)
        stats = [w.numpy() for w in model.layers[-3].non_trainable_weights] if kind == "sequential" else None
        keras.utils.set_random_seed(14)
        results.append(keras.mc_dropout_predict(model, x, samples=20))
        if stats is not None:
            for a, b in zip(stats, model.layers[-3].non_trainable_weights):
                np.testing.assert_array_equal(a, b.numpy())  # BN's moving statistics untouched
    (mean_a, std_a), (mean_b, std_b) = results
    np.testing.assert_array_equal(mean_a, mean_b)
    np.testing.assert_array_equal(std_a, std_b)
    assert float(std_a.max()) > 0  # the dropout was on


def test_on_batch_methods_run_one_step():
    left, right, same, aux = graph_models.pair_data(n=16)
    model = _compiled_siamese()
    before = model.get_weights()
    evaluated = model.evaluate([left, right], [same, aux], batch_size=16, verbose=0, return_dict=True)
    assert model.test_on_batch([left, right], [same, aux], return_dict=True) == pytest.approx(evaluated)
    trained = model.train_on_batch([left, right], {"same": same, "aux": aux}, return_dict=True)
    assert trained["loss"] == pytest.approx(evaluated["loss"], rel=1e-6)  # the loss before the update
    assert all(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    out = model.predict_on_batch([left, right])
    np.testing.assert_array_equal(out[1], model.predict([left, right], verbose=0)[1])
