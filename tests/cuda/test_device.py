"""CUDA backend on a real GPU; skipped where none can be used."""

import pytest

import fastdnn

pytestmark = pytest.mark.skipif(not fastdnn.cuda.is_available(),
                                reason=f"no usable GPU: {fastdnn.cuda.status()}")


def test_status_is_ok():
    assert fastdnn.cuda.is_built()
    assert fastdnn.cuda.status() == "ok"
    assert fastdnn.cuda.device_count() >= 1


@pytest.mark.parametrize("n", [1, 255, 257, 1 << 20, 3_000_001])
def test_self_test_error_is_tiny(n):
    err = fastdnn.cuda.self_test(n)
    assert isinstance(err, float)
    assert 0.0 <= err < 1e-6


def test_self_test_default_size():
    assert fastdnn.cuda.self_test() < 1e-6


def test_self_test_rejects_nonpositive_size():
    with pytest.raises(ValueError):
        fastdnn.cuda.self_test(0)


def test_devices_are_listed():
    devices = fastdnn.cuda.devices()
    assert len(devices) == fastdnn.cuda.device_count()
    for i, d in enumerate(devices):
        assert d["index"] == i
        assert isinstance(d["name"], str) and d["name"].strip()
        major, minor = d["compute_capability"]
        assert major >= 3 and minor >= 0
        assert d["total_memory"] > 0
        assert d["multiprocessors"] > 0
    assert fastdnn.build_info()["cuda_devices"] == devices
