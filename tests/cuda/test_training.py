"""A short training run on the GPU follows the CPU's loss curve; DLPack exchange with the
frameworks that are installed with CUDA support. Skipped without a GPU."""

import numpy as np
import pytest

import fastdnn
from chapter_models import bn_after_activation

pytestmark = pytest.mark.skipif(not fastdnn.cuda.is_available(),
                                reason=f"no usable GPU: {fastdnn.cuda.status()}")


def _data(n=1024, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 28, 28)).astype(np.float32)
    y = (x[:, :4, :4].sum(axis=(1, 2)) > 0).astype(np.int64) + 2 * (x[:, 10, 10] > 0)
    return x, y


@pytest.mark.parametrize("optimizer", ["nadam", "sgd"])
def test_loss_curve_follows_the_cpu(optimizer):
    fastdnn.utils.set_random_seed(42)
    x, y = _data()
    cpu, gpu = bn_after_activation(), bn_after_activation()
    gpu.set_weights(cpu.get_weights())
    for m in (cpu, gpu):
        m.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    gpu.to("cuda")
    h_cpu = cpu.fit(x, y, batch_size=32, epochs=3, shuffle=False, verbose=0).history
    h_gpu = gpu.fit(x, y, batch_size=32, epochs=3, shuffle=False, verbose=0).history
    # 96 steps of float32 training from the same start: products summed in another order drift
    # apart slowly; 2% of the loss is far below the change between epochs (a wrong gradient or
    # a lost update moves the curve by much more).
    np.testing.assert_allclose(h_gpu["loss"], h_cpu["loss"], rtol=2e-2)
    assert h_gpu["loss"][-1] < h_gpu["loss"][0]
    p_gpu, p_cpu = gpu.predict(x[:256], verbose=0), cpu.predict(x[:256], verbose=0)
    assert np.mean(p_gpu.argmax(1) == p_cpu.argmax(1)) > 0.95


def _regularized():
    """The chapter's l2-regularized layers, with max-norm on the hidden kernels."""
    layers = fastdnn.layers
    return fastdnn.models.Sequential([
        layers.Flatten(input_shape=[28, 28]),
        layers.Dense(300, activation="elu", kernel_initializer="he_normal",
                     kernel_regularizer=fastdnn.regularizers.l2(0.01),
                     kernel_constraint=fastdnn.constraints.max_norm(1.0)),
        layers.Dense(100, activation="elu", kernel_initializer="he_normal",
                     kernel_regularizer=fastdnn.regularizers.l1_l2(1e-4, 0.01),
                     kernel_constraint=fastdnn.constraints.max_norm(1.0)),
        layers.Dense(10, activation="softmax", kernel_regularizer=fastdnn.regularizers.l2(0.01)),
    ])


def test_regularizers_and_max_norm_follow_the_cpu():
    fastdnn.utils.set_random_seed(7)
    x, y = _data(512)
    cpu, gpu = _regularized(), _regularized()
    gpu.set_weights(cpu.get_weights())
    for m in (cpu, gpu):
        m.compile(optimizer="nadam", loss="sparse_categorical_crossentropy")
    gpu.to("cuda")
    h_cpu = cpu.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0).history
    h_gpu = gpu.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0).history
    # the loss includes the penalties, which dominate it here: a lost gradient term would show
    np.testing.assert_allclose(h_gpu["loss"], h_cpu["loss"], rtol=1e-3)
    for a, b in zip(gpu.get_weights(), cpu.get_weights()):
        np.testing.assert_allclose(a, b, atol=2e-4)
    for kernel in (gpu.get_weights()[0], gpu.get_weights()[2]):
        assert np.sqrt(np.square(kernel).sum(axis=0)).max() <= 1.0 + 1e-6  # max-norm held
    assert gpu.evaluate(x, y, verbose=0) == pytest.approx(cpu.evaluate(x, y, verbose=0), rel=1e-3)


@pytest.mark.parametrize("loss", ["mse", "mae", "binary_crossentropy"])
def test_element_wise_losses_follow_the_cpu(loss):
    """Losses built from element-wise ops and axis means (csrc/cuda/elementwise.cu), with
    sample weights."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((256, 8)).astype(np.float32)
    y = np.stack([x[:, 0] * x[:, 1], np.sin(x[:, 2])], axis=1).astype(np.float32)
    if loss == "binary_crossentropy":
        y = (y > 0).astype(np.float32)  # two labels per sample
    w = rng.uniform(0.5, 1.5, 256).astype(np.float32)

    def build():
        return fastdnn.models.Sequential([
            fastdnn.layers.Dense(32, activation="selu", kernel_initializer="lecun_normal", input_shape=[8]),
            fastdnn.layers.Dense(2, activation="sigmoid" if loss == "binary_crossentropy" else None)])

    cpu, gpu = build(), build()
    gpu.set_weights(cpu.get_weights())
    for m in (cpu, gpu):
        m.compile(optimizer=fastdnn.optimizers.SGD(learning_rate=0.01, momentum=0.9), loss=loss)
    gpu.to("cuda")
    h_cpu = cpu.fit(x, y, sample_weight=w, batch_size=32, epochs=2, shuffle=False, verbose=0).history
    h_gpu = gpu.fit(x, y, sample_weight=w, batch_size=32, epochs=2, shuffle=False, verbose=0).history
    np.testing.assert_allclose(h_gpu["loss"], h_cpu["loss"], rtol=1e-4)
    for a, b in zip(gpu.get_weights(), cpu.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_dlpack_with_torch():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("PyTorch has no CUDA here")
    dev = fastdnn.device("cuda")
    a = dev.put(np.arange(12, dtype=np.float32).reshape(3, 4))
    t = torch.from_dlpack(a)
    assert t.is_cuda and t.data_ptr() == a.data_ptr  # no copy
    np.testing.assert_array_equal(t.cpu().numpy(), a.numpy())
    src = torch.arange(6, dtype=torch.float32, device="cuda").reshape(2, 3) * 2
    b = fastdnn.from_dlpack(src)
    assert b.data_ptr == src.data_ptr()
    np.testing.assert_array_equal(b.numpy(), src.cpu().numpy())
    c = fastdnn.ops.matmul(b, fastdnn.from_dlpack(src.T.contiguous()))
    np.testing.assert_allclose(c.numpy(), (src @ src.T).cpu().numpy(), rtol=1e-5)


def test_dlpack_with_cupy():
    cp = pytest.importorskip("cupy")
    x = cp.arange(5, dtype=cp.float32)
    y = fastdnn.from_dlpack(x)
    assert y.data_ptr == x.data.ptr
    z = cp.from_dlpack(fastdnn.device("cuda").put(np.ones(4, np.float32)))
    assert float(z.sum()) == 4.0


def test_dlpack_with_jax():
    jax = pytest.importorskip("jax")
    if not any(d.platform == "gpu" for d in jax.devices()):
        pytest.skip("JAX has no GPU here")
    x = jax.numpy.arange(6, dtype="float32")
    y = fastdnn.from_dlpack(x)
    np.testing.assert_array_equal(y.numpy(), np.arange(6, dtype=np.float32))
