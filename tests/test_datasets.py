"""fastdnn.datasets.fashion_mnist: search order, IDX and checksum validation, download, sample.

No test touches the network: an autouse fixture replaces `download` with a function that fails
the test, and `_urlopen` with one that refuses anything but file:// URLs. The tests on the real
data use the copy in shared/datasets/fashion-mnist next to the repository and are skipped
without it.
"""

import gzip
import os
import urllib.parse
from pathlib import Path

import numpy as np
import pytest

import fastdnn.datasets
from fastdnn.datasets import fashion_mnist as fm

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "fashion-mnist"
HAVE_DATA = all((DATA / (name + ".gz")).is_file() for name in fm.FILE_NAMES)
needs_data = pytest.mark.skipif(not HAVE_DATA, reason=f"Fashion-MNIST not found in {DATA}")

TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS = fm.FILE_NAMES
REAL_DOWNLOAD = fm.download  # captured before the autouse fixture replaces it


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """A fresh HOME, no $FASTDNN_DATA, no system copy, and no network.

    Returns the list of calls made to `download` (each one fails the test unless the test
    replaces `download` itself).
    """
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv(fm.ENV_VAR, raising=False)
    monkeypatch.setattr(fm, "SYSTEM_DIR", tmp_path / "usr-share-datasets" / "fashion-mnist")

    calls = []

    def no_download(*args, **kwargs):
        calls.append((args, kwargs))
        pytest.fail("download() was called: tests must not touch the network")

    monkeypatch.setattr(fm, "download", no_download)

    real_urlopen = fm._urlopen

    def local_urlopen(url, timeout):
        assert urllib.parse.urlsplit(url).scheme == "file", f"network access attempted: {url}"
        return real_urlopen(url, timeout)

    monkeypatch.setattr(fm, "_urlopen", local_urlopen)
    return calls


@pytest.fixture(scope="module")
def real():
    """The real dataset, loaded once for the module."""
    if not HAVE_DATA:
        pytest.skip(f"Fashion-MNIST not found in {DATA}")
    return fm.load_data(path=DATA)


@pytest.fixture(scope="module")
def raw_bytes():
    """Decompressed bytes of the real files, by name (read on demand, cached)."""
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = gzip.decompress((DATA / (name + ".gz")).read_bytes())
        return cache[name]

    return get


def keras_dir():
    return Path(os.path.expanduser("~")) / ".keras" / "datasets" / "fashion-mnist"


def make_copy(folder, replace=None):
    """A folder holding the four files: links to the real ones, except those in `replace`
    ({file name as written: bytes}), written as given."""
    replace = replace or {}
    folder.mkdir(parents=True)
    for name in fm.FILE_NAMES:
        written = [f for f in replace if f in (name, name + ".gz")]
        if written:
            (folder / written[0]).write_bytes(replace[written[0]])
        else:
            (folder / (name + ".gz")).symlink_to(DATA / (name + ".gz"))
    return folder


def touch_all(folder, gz=True):
    """A folder with empty files of the right names (enough for `locate`)."""
    folder.mkdir(parents=True)
    for name in fm.FILE_NAMES:
        (folder / (name + (".gz" if gz else ""))).touch()
    return folder


def assert_same(a, b):
    (xa, ya), (xta, yta) = a
    (xb, yb), (xtb, ytb) = b
    for u, v in ((xa, xb), (ya, yb), (xta, xtb), (yta, ytb)):
        assert u.dtype == v.dtype and u.shape == v.shape and np.array_equal(u, v)


def test_datasets_package_exposes_fashion_mnist():
    assert fastdnn.datasets.fashion_mnist is fm
    assert "fashion_mnist" in fastdnn.datasets.__all__


def test_class_names():
    assert fm.CLASS_NAMES == (
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    )


@needs_data
def test_load_data_from_path(real):
    (x_train, y_train), (x_test, y_test) = real
    assert x_train.shape == (60000, 28, 28) and y_train.shape == (60000,)
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    for a in (x_train, y_train, x_test, y_test):
        assert a.dtype == np.uint8
        assert a.flags.c_contiguous and a.flags.writeable
    assert y_train.min() == 0 and y_train.max() == 9
    assert y_test.min() == 0 and y_test.max() == 9
    assert np.bincount(y_train, minlength=10).tolist() == [6000] * 10
    assert np.bincount(y_test, minlength=10).tolist() == [1000] * 10
    assert x_train.max() == 255 and x_train.min() == 0
    assert fm.CLASS_NAMES[y_train[0]] == "Ankle boot"  # the first training image


@needs_data
def test_fastdnn_data_env_var(monkeypatch, real):
    # The env var may name the parent of fashion-mnist/; ~/.keras is an empty temp HOME.
    monkeypatch.setenv(fm.ENV_VAR, str(DATA.parent))
    assert fm.locate() == DATA
    assert_same(fm.load_data(), real)
    # ...or the fashion-mnist folder itself.
    monkeypatch.setenv(fm.ENV_VAR, str(DATA))
    assert fm.locate() == DATA


def test_search_order(monkeypatch, tmp_path):
    arg = touch_all(tmp_path / "arg")
    env_parent = tmp_path / "env"
    touch_all(env_parent / "fashion-mnist", gz=False)  # uncompressed names are accepted too
    cache = touch_all(keras_dir())
    system = touch_all(fm.SYSTEM_DIR)

    assert fm.locate() == cache
    monkeypatch.setenv(fm.ENV_VAR, str(env_parent))
    assert fm.locate() == env_parent / "fashion-mnist"
    assert fm.locate(arg) == arg  # the argument wins over the env var
    assert fm.locate(str(arg)) == arg  # str paths too
    assert fm.locate(tmp_path / "nowhere") == cache  # a path lacking the files: search goes on

    monkeypatch.delenv(fm.ENV_VAR)
    for f in cache.iterdir():
        f.unlink()
    assert fm.locate() == system
    (system / (TEST_LABELS + ".gz")).unlink()  # an incomplete folder does not count
    assert fm.locate() is None


@needs_data
@pytest.mark.parametrize("where", ["body", "header"])
def test_corrupt_labels_raise(tmp_path, raw_bytes, where):
    data = bytearray(raw_bytes(TRAIN_LABELS))
    data[100 if where == "body" else 5] ^= 0x01  # a label, or the count in the header
    folder = make_copy(tmp_path / "copy", {TRAIN_LABELS + ".gz": gzip.compress(bytes(data))})
    bad = folder / (TRAIN_LABELS + ".gz")
    with pytest.raises(ValueError) as info:
        fm.load_data(path=folder)
    msg = str(info.value)
    assert str(bad) in msg
    if where == "body":
        assert "checksum" in msg
        assert "9018921c3c673c538a1fc5bad174d6f9" in msg  # expected
        assert fm._md5(bytes(data)) in msg  # actual
    else:
        assert "dimensions" in msg and "(60000,)" in msg
    assert "delete" in msg and "download" in msg  # what to do


@needs_data
def test_truncated_images_raise(tmp_path, raw_bytes):
    # Uncompressed file (the name without .gz), cut short: the size check names the file.
    full = raw_bytes(TRAIN_IMAGES)
    folder = make_copy(tmp_path / "raw", {TRAIN_IMAGES: full[:1_000_000]})
    with pytest.raises(ValueError, match="truncated") as info:
        fm.load_data(path=folder)
    assert str(folder / TRAIN_IMAGES) in str(info.value)
    assert "47040016" in str(info.value)

    # A .gz file cut short: it cannot be decompressed.
    gz = (DATA / (TEST_IMAGES + ".gz")).read_bytes()
    folder = make_copy(tmp_path / "gz", {TEST_IMAGES + ".gz": gz[: len(gz) // 2]})
    with pytest.raises(ValueError, match="corrupt or truncated") as info:
        fm.load_data(path=folder)
    assert str(folder / (TEST_IMAGES + ".gz")) in str(info.value)

    # Shorter than the header.
    folder = make_copy(tmp_path / "tiny", {TRAIN_IMAGES: b"\x00\x00\x08"})
    with pytest.raises(ValueError, match="header"):
        fm.load_data(path=folder)


def test_not_an_idx_file(tmp_path):
    folder = touch_all(tmp_path / "junk")
    (folder / (TRAIN_IMAGES + ".gz")).write_bytes(gzip.compress(b"not an IDX file at all"))
    with pytest.raises(ValueError, match="magic number") as info:
        fm.load_data(path=folder)
    assert str(folder / (TRAIN_IMAGES + ".gz")) in str(info.value)
    (folder / (TRAIN_IMAGES + ".gz")).write_bytes(b"plain text, not gzip")
    with pytest.raises(ValueError, match="cannot be decompressed"):
        fm.load_data(path=folder)


def test_nothing_found_and_download_fails(monkeypatch, tmp_path):
    calls = []

    def failing_download(directory=None, **kwargs):
        calls.append(directory)
        raise OSError("Could not download: <urlopen error [Errno 101] Network is unreachable>")

    monkeypatch.setattr(fm, "download", failing_download)
    arg = tmp_path / "mydata"
    with pytest.raises(FileNotFoundError) as info:
        fm.load_data(path=arg)
    msg = str(info.value)
    for place in (arg, arg / "fashion-mnist", keras_dir(), fm.SYSTEM_DIR):
        assert str(place) in msg
    assert "Network is unreachable" in msg
    assert "FASTDNN_DATA" in msg and "dataset-fashion-mnist" in msg
    assert calls == [keras_dir()]
    assert isinstance(info.value.__cause__, OSError)


@needs_data
def test_download_into_keras_cache(monkeypatch, tmp_path, real):
    """The real download() with file:// mirrors: the first serves a corrupt file, or none."""
    bad_mirror = tmp_path / "bad-mirror"
    bad_mirror.mkdir()
    labels = bytearray(gzip.decompress((DATA / (TEST_LABELS + ".gz")).read_bytes()))
    labels[-1] ^= 0x01
    (bad_mirror / (TEST_LABELS + ".gz")).write_bytes(gzip.compress(bytes(labels)))
    mirrors = [bad_mirror.as_uri() + "/", DATA.as_uri() + "/"]

    calls = []

    def fake_download(directory=None, **kwargs):
        calls.append(directory)
        return REAL_DOWNLOAD(directory, mirrors=mirrors, timeout=1)

    monkeypatch.setattr(fm, "download", fake_download)
    assert_same(fm.load_data(), real)
    assert calls == [keras_dir()]
    assert sorted(p.name for p in keras_dir().iterdir()) == sorted(
        name + ".gz" for name in fm.FILE_NAMES
    )  # no partial or temporary files
    assert fm.locate() == keras_dir()


def test_download_failure_leaves_nothing(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / (TRAIN_IMAGES + ".gz")).write_bytes(b"garbage, not gzip")
    dest = tmp_path / "dest"
    with pytest.raises(OSError) as info:
        REAL_DOWNLOAD(dest, mirrors=[mirror.as_uri() + "/", (tmp_path / "empty").as_uri() + "/"])
    msg = str(info.value)
    assert TRAIN_IMAGES + ".gz" in msg
    assert mirror.as_uri() in msg and "cannot be decompressed" in msg
    assert (tmp_path / "empty").as_uri() in msg
    assert list(dest.iterdir()) == []


def test_load_sample():
    (x_train, y_train), (x_test, y_test) = fm.load_sample()
    assert x_train.shape == (5000, 28, 28) and y_train.shape == (5000,)
    assert x_test.shape == (1000, 28, 28) and y_test.shape == (1000,)
    for a in (x_train, y_train, x_test, y_test):
        assert a.dtype == np.uint8
    assert np.bincount(y_train, minlength=10).min() >= 400
    assert np.bincount(y_test, minlength=10).min() >= 80
    assert y_train.max() == 9 and y_test.max() == 9


@needs_data
def test_sample_is_a_slice_of_the_real_data(real):
    (x_train, y_train), (x_test, y_test) = real
    (sx, sy), (stx, sty) = fm.load_sample()
    assert np.array_equal(sx, x_train[: len(sx)]) and np.array_equal(sy, y_train[: len(sy)])
    assert np.array_equal(stx, x_test[: len(stx)]) and np.array_equal(sty, y_test[: len(sty)])


def test_load_data_or_sample_falls_back_without_download(tmp_path, isolated):
    data, source = fm.load_data_or_sample(path=tmp_path / "nowhere")
    assert source == "sample"
    assert_same(data, fm.load_sample())
    assert isolated == []  # download() was not called
    assert not keras_dir().exists()


@needs_data
def test_load_data_or_sample_uses_real_data(monkeypatch, real, raw_bytes, tmp_path):
    monkeypatch.setenv(fm.ENV_VAR, str(DATA))
    data, source = fm.load_data_or_sample()
    assert source == str(DATA)
    assert_same(data, real)
    # A copy found but corrupt raises instead of falling back to the sample.
    folder = make_copy(tmp_path / "bad", {TRAIN_IMAGES: raw_bytes(TRAIN_IMAGES)[:5000]})
    with pytest.raises(ValueError, match="truncated"):
        fm.load_data_or_sample(path=folder)
