"""Transfer learning: shared layers, clone_model, freezing (layers, BatchNormalization, nested
models) and the chapter's freeze / fine-tune sequence against a float64 NumPy reference."""

import importlib.util
import io
import os
import re
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest

import fastdnn as keras
from reference import selu, sigmoid

SELU = (1.6732632423543772, 1.0507009873554805)  # alpha, scale


def model_a(seed=0, d=6, hidden=(5, 4), classes=3, input_layer=True):
    """A small version of the chapter's model A: SELU hidden layers and a softmax output."""
    keras.utils.set_random_seed(seed)
    first = [keras.Input(shape=[d])] if input_layer else []
    return keras.Sequential(first + [keras.layers.Dense(n, activation="selu") for n in hidden]
                            + [keras.layers.Dense(classes, activation="softmax")])


def data_b(n=40, d=6, seed=1):
    r = np.random.default_rng(seed)
    x = r.normal(size=(n, d)).astype(np.float32)
    return x, (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.float32)


def summary_counts(model):
    out = io.StringIO()
    with redirect_stdout(out):
        model.summary()
    text = out.getvalue()
    labels = ("Total", "Trainable", "Non-trainable")
    counts = [re.search(label + r" params: ([\d,]+)", text).group(1) for label in labels]
    return tuple(int(c.replace(",", "")) for c in counts)


# ---- shared layers ------------------------------------------------------------------------------


@pytest.mark.parametrize("input_layer", [True, False], ids=["Input", "built_by_call"])
def test_sequential_of_another_models_layers_shares_them(input_layer):
    model_A = model_a(input_layer=input_layer)
    x, y = data_b()
    if not input_layer:
        model_A(x[:2])  # built by calling it: the first layer only knows the shape it was built for
    model_B_on_A = keras.models.Sequential(model_A.layers[:-1])
    model_B_on_A.add(keras.layers.Dense(1, activation="sigmoid"))
    # it knows its input at once, as in Keras: built, counted and summarised before any data
    assert model_B_on_A.built and model_B_on_A._input_shape == (None, 6)
    assert model_B_on_A.count_params() == (6 * 5 + 5) + (5 * 4 + 4) + (4 + 1)
    assert summary_counts(model_B_on_A) == (64, 64, 0)
    assert all(a is b for a, b in zip(model_B_on_A.layers, model_A.layers[:-1]))
    # training model B changes model A's hidden layers (the chapter's warning), not its output
    before = model_A.get_weights()
    preds_before = model_A.predict(x, verbose=0)
    model_B_on_A.compile(loss="binary_crossentropy", optimizer=keras.optimizers.SGD(learning_rate=0.1))
    model_B_on_A.fit(x, y, epochs=2, verbose=0)
    after = model_A.get_weights()
    for i in range(4):
        assert not np.array_equal(before[i], after[i]), i
        np.testing.assert_array_equal(after[i], model_B_on_A.get_weights()[i])
    for i in (4, 5):
        np.testing.assert_array_equal(before[i], after[i])
    assert not np.allclose(preds_before, model_A.predict(x, verbose=0))


def test_book_style_input_shape_carries_over():
    keras.utils.set_random_seed(0)
    model_A = keras.models.Sequential([keras.layers.Flatten(input_shape=[28, 28]),
                                       keras.layers.Dense(30, activation="selu"),
                                       keras.layers.Dense(8, activation="softmax")])
    model_B_on_A = keras.models.Sequential(model_A.layers[:-1])
    model_B_on_A.add(keras.layers.Dense(1, activation="sigmoid"))
    assert model_B_on_A._input_shape == (None, 28, 28)
    assert model_B_on_A.count_params() == 784 * 30 + 30 + 31


def test_layers_record_the_shape_they_were_built_for():
    dense = keras.layers.Dense(3)
    dense.build((32, 7))
    assert dense._build_input_shape == (None, 7)
    bn = keras.layers.BatchNormalization()
    bn(np.zeros((2, 4, 5), np.float32))
    assert bn._build_input_shape == (None, 4, 5)

    class Scale(keras.layers.Layer):  # a user layer's build is recorded too
        def build(self, input_shape):
            self.w = self.add_weight(shape=input_shape[-1:], initializer="ones")

        def call(self, x):
            return keras.ops.multiply(x, self.w.value)

    scale = Scale()
    scale(np.ones((1, 9), np.float32))
    assert scale._build_input_shape == (None, 9)
    assert keras.Sequential([scale, keras.layers.Dense(2)]).count_params() == 9 + 20


def test_reusing_a_built_layer_on_other_inputs_is_a_clear_error():
    model_A = model_a()
    with pytest.raises(ValueError, match=r"built for inputs of shape \(None, 5\).*\(None, 7\)"):
        keras.Sequential([keras.Input(shape=[7]), model_A.layers[1]])


# ---- clone_model -------------------------------------------------------------------------------


def test_clone_model_has_the_architecture_and_fresh_weights():
    model_A = model_a()
    clone = keras.models.clone_model(model_A)
    assert clone is not model_A and clone.built and clone._input_shape == model_A._input_shape
    assert [type(a) for a in clone.layers] == [type(b) for b in model_A.layers]
    assert all(a is not b for a, b in zip(clone.layers, model_A.layers))
    assert [a.get_config() for a in clone.layers] == [b.get_config() for b in model_A.layers]
    for new, old in zip(clone.weights, model_A.weights):
        assert new is not old and new.shape == old.shape
    # fresh draws of the same initializer: different values of the same spread (Glorot uniform)
    for new, old in zip(clone.layers, model_A.layers):
        k_new, k_old = new.kernel.numpy(), old.kernel.numpy()
        limit = np.sqrt(6 / sum(k_old.shape))
        assert not np.array_equal(k_new, k_old) and np.abs(k_new).max() <= limit


def test_clone_with_copied_weights_predicts_identically_and_is_independent():
    model_A = model_a()
    x, y = data_b()
    model_A_clone = keras.models.clone_model(model_A)
    model_A_clone.set_weights(model_A.get_weights())
    np.testing.assert_array_equal(model_A_clone.predict(x, verbose=0), model_A.predict(x, verbose=0))
    snapshot = model_A.get_weights()
    model_B_on_A = keras.Sequential(model_A_clone.layers[:-1])
    model_B_on_A.add(keras.layers.Dense(1, activation="sigmoid"))
    model_B_on_A.compile(loss="binary_crossentropy", optimizer=keras.optimizers.SGD(learning_rate=0.1))
    model_B_on_A.fit(x, y, epochs=2, verbose=0)
    for a, b in zip(snapshot, model_A.get_weights()):  # the original is untouched
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(model_A_clone.get_weights()[0], snapshot[0])


def test_clone_model_options():
    model_A = model_a()
    model_A.layers[0].trainable = False
    clone = keras.models.clone_model(model_A)
    assert [layer.trainable for layer in clone.layers] == [False, True, True]
    wider = keras.models.clone_model(model_A, input_tensors=keras.Input(shape=[6]))
    assert wider._input_shape == (None, 6)
    shared = keras.models.clone_model(model_A, clone_function=lambda layer: layer)
    assert all(a is b for a, b in zip(shared.layers, model_A.layers))
    inner = model_a(input_layer=False)
    outer = keras.Sequential([keras.Input(shape=[6]), inner, keras.layers.Dense(2)])
    for recursive in (False, True):
        copy = keras.models.clone_model(outer, recursive=recursive)
        assert isinstance(copy.layers[0], keras.Sequential) and copy.layers[0] is not inner
        assert copy.count_params() == outer.count_params()
        assert all(a is not b for a, b in zip(copy.layers[0].layers, inner.layers))
    with pytest.raises(ValueError, match="call_function"):
        keras.models.clone_model(model_A, call_function=lambda layer, x: layer(x))
    with pytest.raises(ValueError, match="input_tensors"):
        keras.models.clone_model(model_A, input_tensors=[keras.Input(shape=[6]), keras.Input(shape=[6])])
    with pytest.raises(TypeError, match="Sequential"):
        keras.models.clone_model(model_A.layers[0])
    with pytest.raises(TypeError, match="clone_function must return a layer"):
        keras.models.clone_model(model_A, clone_function=lambda layer: None)


# ---- freezing ------------------------------------------------------------------------------------


def test_frozen_layer_gets_no_update_and_summary_counts_it():
    model = model_a(hidden=(5, 4, 4))
    model.layers[1].trainable = False
    x, y = data_b()
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(learning_rate=0.1))
    before = [layer.get_weights() for layer in model.layers]
    model.fit(x, (y * 2).astype(np.int64), epochs=3, verbose=0)
    for i, layer in enumerate(model.layers):
        changed = [not np.array_equal(a, b) for a, b in zip(before[i], layer.get_weights())]
        assert changed == ([False, False] if i == 1 else [True, True]), (i, changed)
    frozen = 5 * 4 + 4
    total = (6 * 5 + 5) + frozen + (4 * 4 + 4) + (4 * 3 + 3)
    assert summary_counts(model) == (total, total - frozen, frozen)
    assert len(model.trainable_weights) == 6 and len(model.non_trainable_weights) == 2


def test_fully_frozen_model_trains_nothing():
    model = model_a()
    model.trainable = False
    x, y = data_b()
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    before = model.get_weights()
    history = model.fit(x, y.astype(np.int64), epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert summary_counts(model)[1] == 0


def _nested_with_bn(seed=3):
    keras.utils.set_random_seed(seed)
    base = keras.Sequential([keras.Input(shape=[6]), keras.layers.Dense(8, activation="selu"),
                             keras.layers.BatchNormalization(), keras.layers.Dense(4, activation="selu")])
    r = np.random.default_rng(seed)
    bn = base.layers[1]
    bn.moving_mean.assign(r.normal(size=8))  # statistics unlike any batch's
    bn.moving_variance.assign(r.uniform(2.0, 3.0, 8))
    top = keras.layers.Dense(1, activation="sigmoid")
    model = keras.Sequential([keras.Input(shape=[6]), base, top])
    model.compile(loss="binary_crossentropy", optimizer=keras.optimizers.SGD(learning_rate=0.1))
    return model, base, bn, top


def test_freezing_a_nested_model_freezes_its_layers_and_batchnorm_runs_in_inference_mode():
    model, base, _, top = _nested_with_bn()
    x, y = data_b()
    base.trainable = False
    assert all(not layer.trainable for layer in base.layers)
    assert model.trainable_weights == top.trainable_weights
    n_base = base.count_params()
    assert summary_counts(model) == (n_base + 5, 5, n_base)
    # in fit, the frozen BatchNormalization normalises with its moving statistics: the training
    # forward pass gives exactly the inference output
    expected = model(x[:16], training=False)
    np.testing.assert_array_equal(model(x[:16], training=True), expected)
    model.train_step((x[:16], y[:16]))
    before = base.get_weights()
    top_before = top.get_weights()
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    for a, b in zip(before, base.get_weights()):  # moving statistics included
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(top_before[0], top.get_weights()[0])
    # unfreezing the nested model unfreezes every layer in it; BN then uses batch statistics
    base.trainable = True
    assert all(layer.trainable for layer in base.layers)
    assert not np.allclose(model(x[:16], training=True), model(x[:16], training=False), atol=1e-3)
    model.train_step((x[:16], y[:16]))
    changed = [not np.array_equal(a, b) for a, b in zip(before, base.get_weights())]
    assert all(changed), changed


def test_frozen_batchnorm_layer_in_fit_uses_moving_statistics():
    model, base, bn, top = _nested_with_bn(seed=4)
    x, y = data_b()
    bn.trainable = False
    stats = [bn.moving_mean.numpy(), bn.moving_variance.numpy()]
    # reference: the BN affine map with the moving statistics, in float64
    dense = base.layers[0]
    h = selu(x[:16].astype(np.float64) @ dense.kernel.numpy() + dense.bias.numpy())
    normed = (h - stats[0]) / np.sqrt(stats[1] + bn.epsilon) * bn.gamma.numpy() + bn.beta.numpy()
    k2, b2 = base.layers[2].kernel.numpy(), base.layers[2].bias.numpy()
    expected = sigmoid(selu(normed @ k2 + b2) @ top.kernel.numpy() + top.bias.numpy())
    kernel = dense.kernel.numpy()
    np.testing.assert_allclose(model(x[:16], training=True), expected, rtol=1e-5, atol=1e-6)
    model.train_step((x[:16], y[:16]))
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), stats[0])
    np.testing.assert_array_equal(bn.moving_variance.numpy(), stats[1])
    assert not np.array_equal(dense.kernel.numpy(), kernel)  # the Dense below it still trains


# ---- the chapter's sequence against a float64 reference -----------------------------------------


def _ref_sgd(weights, trainable, x, y, lr, epochs, batch_size):
    """SGD on binary cross-entropy for a SELU MLP with a sigmoid output, in float64.

    weights: [k1, b1, k2, b2, ...]; trainable: one flag per (kernel, bias) layer."""
    w = [np.asarray(a, np.float64).copy() for a in weights]
    x, y = x.astype(np.float64), y.astype(np.float64).reshape(-1, 1)
    alpha, scale = SELU
    for _ in range(epochs):
        for lo in range(0, len(x), batch_size):
            a, t = x[lo:lo + batch_size], y[lo:lo + batch_size]
            acts, zs = [a], []
            for i in range(0, len(w), 2):
                z = acts[-1] @ w[i] + w[i + 1]
                zs.append(z)
                last = i == len(w) - 2
                acts.append(sigmoid(z) if last else selu(z))
            dz = (acts[-1] - t) / len(a)  # d(mean BCE)/dz for a sigmoid output
            grads = [None] * len(w)
            for layer in reversed(range(len(w) // 2)):
                grads[2 * layer], grads[2 * layer + 1] = acts[layer].T @ dz, dz.sum(0)
                if layer:
                    z = zs[layer - 1]
                    dz = (dz @ w[2 * layer].T) * scale * np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0)))
            for i in range(len(w)):
                if trainable[i // 2]:
                    w[i] -= lr * grads[i]
    return w


def test_freeze_then_fine_tune_matches_a_float64_reference():
    """Freeze the reused layers, train the new output layer, unfreeze, recompile with a lower
    learning rate and train again: every weight after each phase equals plain float64 SGD in
    which only the trainable layers move."""
    model_A = model_a()
    x, y = data_b()
    model_B_on_A = keras.models.Sequential(model_A.layers[:-1])
    model_B_on_A.add(keras.layers.Dense(1, activation="sigmoid"))
    start = model_B_on_A.get_weights()
    for layer in model_B_on_A.layers[:-1]:
        layer.trainable = False
    model_B_on_A.compile(loss="binary_crossentropy", optimizer="sgd", metrics=["accuracy"])
    model_B_on_A.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0)
    phase1 = model_B_on_A.get_weights()
    ref1 = _ref_sgd(start, [False, False, True], x, y, lr=0.01, epochs=4, batch_size=8)
    for i in range(4):
        np.testing.assert_array_equal(phase1[i], start[i])
    for got, want, old in zip(phase1[4:], ref1[4:], start[4:]):
        assert np.abs(want - old).max() > 1e-3  # the reference moved well beyond the tolerance
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    for layer in model_B_on_A.layers[:-1]:
        layer.trainable = True
    optimizer = keras.optimizers.SGD(lr=0.05)  # larger than the chapter's 1e-4, to move visibly
    model_B_on_A.compile(loss="binary_crossentropy", optimizer=optimizer, metrics=["accuracy"])
    model_B_on_A.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0)
    ref2 = _ref_sgd(phase1, [True, True, True], x, y, lr=0.05, epochs=4, batch_size=8)
    for got, want, old in zip(model_B_on_A.get_weights(), ref2, phase1):
        assert np.abs(want - old).max() > 1e-3
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_chapter_fine_tuning_learning_rate_moves_reused_layers_slightly():
    model_A = model_a()
    x, y = data_b()
    model_B_on_A = keras.models.Sequential(model_A.layers[:-1])
    model_B_on_A.add(keras.layers.Dense(1, activation="sigmoid"))
    start = model_B_on_A.get_weights()
    optimizer = keras.optimizers.SGD(lr=1e-4)
    model_B_on_A.compile(loss="binary_crossentropy", optimizer=optimizer, metrics=["accuracy"])
    assert optimizer.current_learning_rate == 1e-4
    model_B_on_A.fit(x, y, epochs=16, batch_size=8, shuffle=False, verbose=0)
    ref = _ref_sgd(start, [True, True, True], x, y, lr=1e-4, epochs=16, batch_size=8)
    for got, want, old in zip(model_B_on_A.get_weights(), ref, start):
        step = want - old
        assert 0 < np.abs(step).max() < 0.05
        # compared as updates: the weights themselves are ~1, their float32 rounding ~1e-7
        np.testing.assert_allclose(got - old, step, atol=2e-6 + 1e-3 * np.abs(step).max())


# ---- against real Keras 3, where installed --------------------------------------------------------


def test_freeze_fine_tune_with_batchnorm_matches_keras(tmp_path):
    """The same sequence, with a BatchNormalization among the reused layers, run by Keras 3 (JAX
    backend) in a subprocess: every weight after each phase, moving statistics included, and
    model A's weights (which model B shares) agree."""
    if importlib.util.find_spec("keras") is None or importlib.util.find_spec("jax") is None:
        pytest.skip("needs keras and jax")
    r = np.random.default_rng(0)
    x, y = data_b()
    model_A = keras.Sequential([keras.Input(shape=[6]), keras.layers.Dense(5, activation="selu"),
                                keras.layers.BatchNormalization(), keras.layers.Dense(4, activation="selu"),
                                keras.layers.Dense(3, activation="softmax")])
    weights = [w.astype(np.float32) for w in (
        r.normal(0, 0.5, (6, 5)), r.normal(0, 0.1, 5), r.uniform(0.5, 1.5, 5), r.normal(0, 0.1, 5),
        r.normal(0, 0.5, 5), r.uniform(0.5, 2, 5), r.normal(0, 0.5, (5, 4)), r.normal(0, 0.1, 4),
        r.normal(0, 0.5, (4, 3)), r.normal(0, 0.1, 3))]
    head = [r.normal(0, 0.5, (4, 1)).astype(np.float32), np.zeros(1, np.float32)]
    model_A.set_weights(weights)
    np.savez(tmp_path / "in.npz", x=x, y=y, n_a=len(weights), head_kernel=head[0], head_bias=head[1],
             **{f"a{i}": w for i, w in enumerate(weights)})
    script = Path(__file__).with_name("keras_transfer_reference.py")
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "in.npz"), str(tmp_path / "out.npz")],
                          env={**os.environ, "KERAS_BACKEND": "jax"}, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    theirs = np.load(tmp_path / "out.npz")

    model_B_on_A = keras.models.Sequential(model_A.layers[:-1])
    model_B_on_A.add(keras.layers.Dense(1, activation="sigmoid"))
    model_B_on_A.layers[-1].set_weights(head)
    for phase, (trainable, rate) in enumerate(((False, 0.01), (True, 0.05)), start=1):
        for layer in model_B_on_A.layers[:-1]:
            layer.trainable = trainable
        model_B_on_A.compile(loss="binary_crossentropy", optimizer=keras.optimizers.SGD(learning_rate=rate))
        model_B_on_A.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0)
        for i, got in enumerate(model_B_on_A.get_weights()):
            want = theirs[f"phase{phase}_{i}"]
            if phase == 1 and i < 8:  # frozen: bit-identical, BN statistics included
                np.testing.assert_array_equal(got, weights[i])
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=f"phase {phase}, weight {i}")
    assert not np.allclose(model_B_on_A.get_weights()[4], weights[4])  # moving mean updated in phase 2
    for i, got in enumerate(model_A.get_weights()):
        np.testing.assert_allclose(got, theirs[f"model_A_{i}"], rtol=1e-4, atol=1e-5)


def test_frozen_layers_below_the_trainable_ones_are_not_recorded(monkeypatch):
    """Training watches only the trainable weights: a frozen stack under a trainable output
    layer records no more on the tape than the output layer alone. (On the tape path:
    jit_compile=False; the native step's plan skips the same layers, tests/test_native_step.py.)"""
    counts = []

    class CountingTape(keras.GradientTape):
        def gradient(self, target, sources):
            counts.append(len(self._nodes))
            return super().gradient(target, sources)

    monkeypatch.setattr(keras.trainers.trainer, "GradientTape", CountingTape)
    x, y = data_b()
    model = model_a(hidden=(5, 4, 4))
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", jit_compile=False)
    model.train_step((x, y.astype(np.int64)))
    for layer in model.layers[:-1]:
        layer.trainable = False
    model.train_step((x, y.astype(np.int64)))
    alone = keras.Sequential([keras.Input(shape=[4]), keras.layers.Dense(3, activation="softmax")])
    alone.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", jit_compile=False)
    alone.train_step((np.ones((40, 4), np.float32), y.astype(np.int64)))
    unfrozen, frozen, top_only = counts
    assert frozen == top_only < unfrozen


def test_weightless_layers_can_be_reused_on_other_shapes():
    flatten = keras.layers.Flatten()
    keras.Sequential([keras.Input(shape=[28, 28]), flatten])
    model = keras.Sequential([keras.Input(shape=[4, 4]), flatten, keras.layers.Dense(2)])
    assert model.count_params() == 16 * 2 + 2
