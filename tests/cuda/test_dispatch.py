"""The Python side of the CUDA backend, run here on a host stand-in for the native module
(fake_backend.py): every op of a model on "cuda" must reach the device kernels with device arrays
only, and give the CPU's numbers. The stand-in runs the CPU kernels, except that the bias
gradient comes from its own float64 column sum (the fused weight-and-bias gradient of the GPU
path), so results agree to float32 rounding, 1e-6 relative, after a few steps."""

import numpy as np
import pytest

import fastdnn
import fake_backend
from chapter_models import bn_after_activation, bn_before_activation


@pytest.fixture
def native(monkeypatch):
    return fake_backend.install(monkeypatch)


def _data(n=192, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 28, 28)).astype(np.float32)
    y = (x[:, :4, :4].sum(axis=(1, 2)) > 0).astype(np.int64) + 2 * (x[:, 10, 10] > 0)
    return x, y


def _twins(build, optimizer):
    """The same model twice (same weights), compiled alike."""
    a, b = build(), build()
    b.set_weights(a.get_weights())
    for m in (a, b):
        m.compile(optimizer=optimizer(), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return a, b


def _nadam():
    return fastdnn.optimizers.Nadam(1e-3)


def _sgd():
    return fastdnn.optimizers.SGD(0.01, momentum=0.9, nesterov=True, global_clipnorm=1.0)


# Nadam with BN ahead of a bias-free Dense is left out: there the input BN's beta has a zero true
# gradient and Nadam turns its rounding noise into ±lr steps that differ between any two
# summation orders (see the weight tolerance below).
@pytest.mark.parametrize("build,optimizer", [(bn_after_activation, _nadam), (bn_after_activation, _sgd),
                                             (bn_before_activation, _sgd)])
def test_training_on_the_device_path_matches_the_cpu(native, build, optimizer):
    x, y = _data()
    cpu, gpu = _twins(build, optimizer)
    gpu.to("cuda")
    assert gpu.device == fastdnn.device("cuda")
    assert all(fastdnn._dispatch.on_device(w.value) for w in gpu.weights)
    h_cpu = cpu.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0, validation_data=(x[:64], y[:64]))
    h_gpu = gpu.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0, validation_data=(x[:64], y[:64]))
    for key in ("loss", "accuracy", "val_accuracy"):
        np.testing.assert_allclose(h_gpu.history[key], h_cpu.history[key], rtol=1e-6, err_msg=key)
    # evaluate's loss on probabilities: the GPU kernel's float32 −log(p/Σp) vs the CPU's chain
    # of ops, each rounded: 1e-5 relative apart at most here
    np.testing.assert_allclose(h_gpu.history["val_loss"], h_cpu.history["val_loss"], rtol=1e-4)
    # Nadam divides by √v: a weight whose gradient is ~0 moves by up to lr = 1e-3 a step on
    # rounding noise alone, differently on the two sides; 1e-5 absolute allows for that.
    for a, b in zip(cpu.get_weights(), gpu.get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5)
    assert {"gemm", "softmax_xent", "batchnorm_backward", "optimizer_update"} <= set(native.calls)
    p = gpu.predict(x[:50], batch_size=16, verbose=0)
    assert isinstance(p, np.ndarray) and p.shape == (50, 10)
    np.testing.assert_allclose(p, cpu.predict(x[:50], batch_size=16, verbose=0), rtol=1e-5, atol=1e-6)
    ev_cpu = cpu.evaluate(x[:64], y[:64], verbose=0)
    ev_gpu = gpu.evaluate(x[:64], y[:64], verbose=0)
    np.testing.assert_allclose(ev_gpu, ev_cpu, rtol=1e-4)
    assert "sparse_xent_probs" in native.calls  # evaluate's probabilities: the GPU formula


def test_dropout_masks_follow_the_same_stream(native):
    fastdnn.utils.set_random_seed(3)
    x, y = _data(96)

    def build():
        return fastdnn.Sequential([fastdnn.layers.Flatten(input_shape=[28, 28]),
                                   fastdnn.layers.Dense(64, activation="relu"),
                                   fastdnn.layers.Dropout(0.3, seed=5),
                                   fastdnn.layers.AlphaDropout(0.1, seed=6),
                                   fastdnn.layers.Dense(10, activation="softmax")])

    cpu, gpu = _twins(build, lambda: fastdnn.optimizers.Adam(1e-3))
    gpu.to("cuda")
    h1 = cpu.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0).history["loss"]
    h2 = gpu.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(h2, h1, rtol=1e-6)
    assert "noise_bernoulli" in native.calls


def test_weights_built_inside_a_device_scope_live_there(native):
    with fastdnn.device("cuda"):
        model = fastdnn.Sequential([fastdnn.layers.Dense(4, input_shape=[3], activation="tanh")])
    assert model.device.type == "cuda"
    out = model(np.ones((2, 3), np.float32))
    assert fastdnn._dispatch.on_device(out) and out.shape == (2, 4)
    outside = fastdnn.Sequential([fastdnn.layers.Dense(4, input_shape=[3])])
    assert outside.device.type == "cpu"


def test_moving_back_to_the_cpu_keeps_weights_and_optimizer_state(native):
    x, y = _data(64)
    cpu, gpu = _twins(bn_after_activation, lambda: fastdnn.optimizers.Adam(1e-3))
    for m in (cpu, gpu):
        m.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    gpu.to("cuda")
    gpu.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    gpu.to("cpu")
    assert all(type(w.value) is np.ndarray for w in gpu.weights)
    gpu.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    cpu.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(cpu.get_weights(), gpu.get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_variables_on_the_device_read_and_assign_in_place(native):
    model = fastdnn.Sequential([fastdnn.layers.Dense(2, input_shape=[3])]).to("cuda")
    var = model.weights[0]
    handle = var.value
    var.assign(np.full((3, 2), 2.0))
    var.assign_add(np.ones((3, 2)))
    assert var.value is handle  # in place: references held elsewhere see it
    np.testing.assert_array_equal(var.numpy(), np.full((3, 2), 3.0, np.float32))
    np.testing.assert_array_equal(np.asarray(var), var.numpy())
    with pytest.raises(ValueError, match="shape"):
        var.assign(np.ones((2, 2)))


def test_mixing_host_and_device_arrays_in_an_op_is_an_error(native):
    a = fastdnn.device("cuda").put(np.ones((2, 3)))
    with pytest.raises(ValueError, match="different devices"):
        fastdnn.ops.matmul(a, np.ones((3, 2), np.float32))


@pytest.mark.parametrize("op", [lambda a: fastdnn.ops.where(np.ones((2, 3), bool), a, a)])
def test_ops_without_a_gpu_kernel_say_so(native, op):
    a = fastdnn.device("cuda").put(np.ones((2, 3)))
    with pytest.raises(NotImplementedError, match="GPU|CUDA"):
        op(a)


def test_element_wise_ops_take_host_scalars_only(native):
    a = fastdnn.device("cuda").put(np.ones((2, 3)))
    np.testing.assert_array_equal(fastdnn.ops.multiply(a, 2.0).numpy(), np.full((2, 3), 2.0))
    with pytest.raises(ValueError, match="different devices"):
        fastdnn.ops.add(a, np.ones((2, 3), np.float32))


def test_tape_gradients_stay_on_the_device(native):
    dev = fastdnn.device("cuda")
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    w = np.random.default_rng(2).standard_normal((4, 3)).astype(np.float32)
    grads = {}
    for name, put in (("cpu", lambda a: a), ("cuda", dev.put)):
        xv, wv = put(x), fastdnn.Variable(w)
        wv._value = put(wv._value)
        with fastdnn.GradientTape() as tape:
            loss = fastdnn.ops.mean(fastdnn.ops.dense(xv, wv.value, activation="selu"))
        grads[name] = tape.gradient(loss, [wv])[0]
    assert fastdnn._dispatch.on_device(grads["cuda"])
    np.testing.assert_allclose(grads["cuda"].numpy(), grads["cpu"], rtol=1e-6, atol=1e-8)


def test_weight_regularizers_and_constraints_train_on_the_device(native):
    def build():
        return fastdnn.Sequential([
            fastdnn.layers.Dense(8, activation="elu", input_shape=[3], kernel_regularizer="l2",
                                 kernel_constraint=fastdnn.constraints.max_norm(0.5)),
            fastdnn.layers.Dense(2, kernel_regularizer=fastdnn.regularizers.l1(0.01))])
    x = np.random.default_rng(0).standard_normal((64, 3))
    y = (x[:, 0] > 0).astype(np.int64)
    cpu, gpu = build(), build()
    gpu.set_weights(cpu.get_weights())
    for m in (cpu, gpu):
        m.compile("sgd", fastdnn.losses.SparseCategoricalCrossentropy(from_logits=True))
    gpu.to("cuda")
    native.calls.clear()
    h_gpu = gpu.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history["loss"]
    assert {"weight_penalty", "apply_constraints"} <= set(native.calls)
    h_cpu = cpu.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history["loss"]
    # the stand-in sums bias gradients in float64, the CPU path in float32: an ulp apart
    np.testing.assert_allclose(h_gpu, h_cpu, rtol=1e-6)
    for a, b in zip(gpu.get_weights(), cpu.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-8)
    assert np.abs(np.sqrt(np.square(gpu.get_weights()[0]).sum(axis=0))).max() <= 0.5 + 1e-6
    assert gpu.losses == pytest.approx(cpu.losses, rel=1e-5)


@pytest.mark.parametrize("kwargs", [{"activity_regularizer": "l2"},
                                    {"kernel_regularizer": lambda w: fastdnn.ops.sum(w)},
                                    {"kernel_constraint": lambda w: w}])
def test_penalties_without_a_gpu_kernel_say_they_need_the_cpu(native, kwargs):
    model = fastdnn.Sequential([fastdnn.layers.Dense(2, input_shape=[3], **kwargs)]).to("cuda")
    model.compile("sgd", "mse")
    with pytest.raises(NotImplementedError, match="CPU only"):
        model.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0)


def test_a_model_on_the_device_saves_and_resumes_on_either_device(native, tmp_path):
    """Saving reads weights and optimizer slots back from the device; loading into a model
    moved to the device writes them up again: both copies then train identically."""
    x, y = _data()
    model = bn_after_activation()
    model.compile(optimizer=_sgd(), loss="sparse_categorical_crossentropy")
    model.to("cuda")
    model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    model.save(tmp_path / "gpu.fdnn")
    cpu = fastdnn.models.load_model(tmp_path / "gpu.fdnn")
    for a, b in zip(cpu.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    slots = model.optimizer.get_state(model.trainable_weights)["slots"]["momentum"]
    assert any(np.abs(s).max() > 0 for s in slots)
    back = fastdnn.models.load_model(tmp_path / "gpu.fdnn").to("cuda")
    for m in (model, back):
        m.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(back.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=0)
