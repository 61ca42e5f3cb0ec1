"""fastdnn.datasets.mnist, cifar10 and cifar100: search order, file formats, safe unpickling,
atomic downloads, and agreement with real Keras on the same files.

Every test builds small files in each real format in tmp_path: `mnist.npz` with the four arrays,
and CIFAR's Python batches as pickles, both as Python 2 wrote the real release (built opcode by
opcode below, with `numpy.core` names and str as bytes) and as Python 3 writes them. No test
touches the network: an autouse fixture replaces the one fetching function,
`_download.fetch_url`, with one that fails the test; the download tests inject a fake fetch
that serves a small file in the real format.
"""

import hashlib
import io
import os
import pickle
import shlex
import struct
import subprocess
import sys
import tarfile
from pathlib import Path

import fastdnn
import fastdnn.datasets
import numpy as np
import pytest
from fastdnn.datasets import _download, _safe_pickle, cifar10, cifar100, mnist


@pytest.fixture(scope="module")
def keras():
    """Keras 3, imported before `isolated` changes HOME (Keras reads its config at import)."""
    return pytest.importorskip("keras")


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """A fresh HOME, no $FASTDNN_DATA, no $KERAS_HOME, and no network."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FASTDNN_DATA", raising=False)
    monkeypatch.delenv("KERAS_HOME", raising=False)

    def no_network(url, out, timeout=None):
        pytest.fail(f"fetch_url({url!r}) was called: tests must not touch the network")

    monkeypatch.setattr(_download, "fetch_url", no_network)


def keras_datasets():
    return Path(os.path.expanduser("~")) / ".keras" / "datasets"


def listing(folder):
    """Every path under `folder`, relative, sorted: shows stray temporary files."""
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*"))


# --- the formats ---------------------------------------------------------------------------


def write_mnist(file, rng, n_train=7, n_test=3, **override):
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    arrays.update(override)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    Path(file).parent.mkdir(parents=True, exist_ok=True)
    with open(file, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    return arrays


def py2_pickle(obj):
    """`obj` pickled as Python 2's cPickle wrote CIFAR's batches (protocol 2): str as
    SHORT_BINSTRING/BINSTRING (bytes here), ints as BININT1/BININT, and a uint8 array through
    `numpy.core.multiarray._reconstruct` with NumPy 1's dtype and array state."""

    def string(b):
        if len(b) < 256:
            return b"U" + bytes([len(b)]) + b
        return b"T" + struct.pack("<i", len(b)) + b

    def tup(items):
        return b"(" + b"".join(items) + b"t"

    def dump(o):
        if isinstance(o, dict):
            return b"}(" + b"".join(dump(k) + dump(v) for k, v in o.items()) + b"u"
        if isinstance(o, list):
            return b"](" + b"".join(dump(v) for v in o) + b"e"
        if isinstance(o, int):
            return b"K" + bytes([o]) if 0 <= o < 256 else b"J" + struct.pack("<i", o)
        if isinstance(o, bytes):
            return string(o)
        assert isinstance(o, np.ndarray) and o.dtype == np.uint8
        dtype = (b"cnumpy\ndtype\n" + tup([string(b"u1"), b"K\x00", b"K\x01"]) + b"R"
                 + tup([b"K\x03", string(b"|"), b"N", b"N", b"N", b"J\xff\xff\xff\xff",
                        b"J\xff\xff\xff\xff", b"K\x00"]) + b"b")
        return (b"cnumpy.core.multiarray\n_reconstruct\n"
                + tup([b"cnumpy\nndarray\n", tup([b"K\x00"]), string(b"b")]) + b"R"
                + tup([b"K\x01", tup([dump(int(d)) for d in o.shape]), dtype, b"\x89",
                       string(o.tobytes())]) + b"b")

    return b"\x80\x02" + dump(obj) + b"."


def pickle_batch(obj, style):
    return py2_pickle(obj) if style == "py2" else pickle.dumps(obj, protocol=4)


def cifar_rows(images):
    """The release's (n, 3072) rows for (n, 32, 32, 3) images, written out plane by plane and
    row by row: row i holds red, then green, then blue, each 32 rows of 32 pixels."""
    n = len(images)
    rows = np.empty((n, 3072), dtype=np.uint8)
    for channel in range(3):
        for r in range(32):
            start = channel * 1024 + r * 32
            rows[:, start:start + 32] = images[:, r, :, channel]
    return rows


def write_batch(file, batch, style="py2"):
    Path(file).parent.mkdir(parents=True, exist_ok=True)
    Path(file).write_bytes(pickle_batch(batch, style))


def write_cifar10(folder, rng, sizes=(3, 1, 4, 1, 5), n_test=2, style="py2"):
    """A cifar-10-batches-py folder of small batches; returns the images and labels it holds."""
    expected = {}
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name, n in zip(names, list(sizes) + [n_test]):
        images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        labels = rng.integers(0, 10, n).tolist()
        write_batch(Path(folder) / name, {
            b"batch_label": name.encode(), b"labels": labels,
            b"data": cifar_rows(images), b"filenames": [b"img%d.png" % i for i in range(n)],
        }, style)
        expected[name] = (images, labels)
    x_train = np.concatenate([expected[n][0] for n in names[:5]])
    y_train = np.concatenate([expected[n][1] for n in names[:5]])
    return (x_train, y_train), expected["test_batch"]


def write_cifar100(folder, rng, n_train=6, n_test=4, style="py2"):
    out = {}
    for name, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        fine = rng.integers(0, 100, n).tolist()
        coarse = rng.integers(0, 20, n).tolist()
        write_batch(Path(folder) / name, {
            b"filenames": [b"f%d" % i for i in range(n)], b"batch_label": name.encode(),
            b"fine_labels": fine, b"coarse_labels": coarse, b"data": cifar_rows(images),
        }, style)
        out[name] = (images, fine, coarse)
    return out


def make_archive(source_parent, dirname, archive, extra=()):
    """A .tar.gz of `source_parent/dirname` as the release ships it; `extra` adds members
    (name, TarInfo type, link target) that extraction must skip."""
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(Path(source_parent) / dirname, arcname=dirname)
        for name, kind, link in extra:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.REGTYPE:
                info.size = 4
                tar.addfile(info, io.BytesIO(b"evil"))
            else:
                info.linkname = link
                tar.addfile(info)
    return Path(archive).read_bytes()


def serving(content, calls=None):
    """A fake `fetch(url, out)` that writes `content` and records the URL."""

    def fetch(url, out, timeout=None):
        if calls is not None:
            calls.append(url)
        out.write(content)

    return fetch


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def assert_arrays(got, want_dtype, want):
    assert got.dtype == want_dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


# --- package -----------------------------------------------------------------------------


def test_package_exports_the_loaders():
    for name in ("mnist", "cifar10", "cifar100", "fashion_mnist"):
        assert name in fastdnn.datasets.__all__
        assert callable(getattr(fastdnn.datasets, name).load_data)
    assert fastdnn.datasets.cifar10 is cifar10 and fastdnn.datasets.mnist is mnist


def test_import_leaves_the_download_modules_unloaded():
    code = ("import sys, fastdnn; "
            "print(any(m in sys.modules for m in ('urllib.request', 'tarfile', 'http.client')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- MNIST -----------------------------------------------------------------------------------


def test_mnist_reads_the_npz_from_every_place(monkeypatch, tmp_path):
    rng = np.random.default_rng(0)
    arrays = write_mnist(tmp_path / "given" / "mnist.npz", rng)

    def check(data, want):
        (x_train, y_train), (x_test, y_test) = data
        for got, key in ((x_train, "x_train"), (y_train, "y_train"),
                         (x_test, "x_test"), (y_test, "y_test")):
            assert_arrays(got, np.uint8, want[key])

    check(mnist.load_data(path=tmp_path / "given" / "mnist.npz"), arrays)  # the file
    check(mnist.load_data(path=tmp_path / "given"), arrays)  # a folder holding it
    check(mnist.load_data(path=str(tmp_path / "given")), arrays)

    cache = write_mnist(keras_datasets() / "mnist.npz", rng)
    check(mnist.load_data(), cache)  # Keras's cache under HOME
    assert mnist.locate() == keras_datasets() / "mnist.npz"

    env = write_mnist(tmp_path / "env" / "mnist.npz", rng)
    monkeypatch.setenv("FASTDNN_DATA", str(tmp_path / "env"))
    check(mnist.load_data(), env)  # $FASTDNN_DATA before the cache
    check(mnist.load_data(path=tmp_path / "given"), arrays)  # the argument before both
    # A path lacking the file: the search goes on to the cache (the env var is not searched
    # when a path is given, as for Fashion-MNIST).
    assert mnist.locate(tmp_path / "nowhere" / "mnist.npz") == keras_datasets() / "mnist.npz"

    # A bare name is a file name in $FASTDNN_DATA and in Keras's cache, as Keras takes it.
    other = write_mnist(keras_datasets() / "other.npz", rng, n_train=2, n_test=1)
    check(mnist.load_data("other.npz"), other)

    # $KERAS_HOME moves Keras's cache.
    monkeypatch.delenv("FASTDNN_DATA")
    home = write_mnist(tmp_path / "kh" / "datasets" / "mnist.npz", rng)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    check(mnist.load_data(), home)


@pytest.mark.parametrize("case, message", [
    ({"y_test": None}, "lacks the array(s) y_test"),
    ({"y_train": np.zeros(7, np.int64)}, "y_train has dtype int64, expected uint8"),
    ({"x_test": np.zeros((3, 28, 27), np.uint8)}, "x_test has shape (3, 28, 27)"),
    ({"y_train": np.zeros(6, np.uint8)}, "y_train has shape (6,), expected (7,)"),
    ({"y_test": np.array([0, 10, 1], np.uint8)}, "holds the label 10"),
])
def test_mnist_refuses_a_bad_file(tmp_path, case, message):
    file = tmp_path / "mnist.npz"
    write_mnist(file, np.random.default_rng(1), **case)
    with pytest.raises(ValueError) as info:
        mnist.load_data(path=file)
    assert message in str(info.value) and str(file) in str(info.value)


def test_mnist_refuses_junk_and_bad_paths(tmp_path):
    file = tmp_path / "mnist.npz"
    file.write_bytes(b"not a zip archive")
    with pytest.raises(ValueError, match="not a .npz"):
        mnist.load_data(path=file)
    # A .npz whose member is cut short.
    write_mnist(file, np.random.default_rng(2))
    data = file.read_bytes()
    file.write_bytes(data[: len(data) // 2] + data[-200:])
    with pytest.raises(ValueError, match="not a valid mnist.npz"):
        mnist.load_data(path=file)
    for bad in ("", 3):
        with pytest.raises(ValueError, match="The `path` argument must be"):
            mnist.load_data(path=bad)


def test_mnist_download_writes_atomically_into_keras_cache(monkeypatch, tmp_path):
    source = tmp_path / "served.npz"
    arrays = write_mnist(source, np.random.default_rng(3))
    content = source.read_bytes()
    calls = []
    monkeypatch.setattr(_download, "fetch_url", serving(content, calls))
    monkeypatch.setattr(mnist, "SHA256", sha256(content))
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    assert calls == [mnist.ORIGIN]
    for got, key in ((x_train, "x_train"), (y_train, "y_train"),
                     (x_test, "x_test"), (y_test, "y_test")):
        assert_arrays(got, np.uint8, arrays[key])
    assert listing(keras_datasets()) == ["mnist.npz"]  # no temporary file left
    assert (keras_datasets() / "mnist.npz").read_bytes() == content
    mnist.load_data()
    assert calls == [mnist.ORIGIN]  # found in the cache the second time


def test_mnist_download_refuses_a_wrong_checksum(monkeypatch, tmp_path):
    source = tmp_path / "served.npz"
    write_mnist(source, np.random.default_rng(4))
    monkeypatch.setattr(_download, "fetch_url", serving(source.read_bytes()))
    with pytest.raises(FileNotFoundError) as info:
        mnist.load_data()  # the real SHA256: the small file does not match it
    assert mnist.SHA256 in str(info.value) and sha256(source.read_bytes()) in str(info.value)
    assert listing(keras_datasets()) == []  # nothing under the real name, no temporary file


def test_mnist_interrupted_download_leaves_nothing(monkeypatch):
    def cut(url, out, timeout=None):
        out.write(b"PK\x03\x04 partial")
        raise OSError("Connection reset by peer")

    monkeypatch.setattr(_download, "fetch_url", cut)
    with pytest.raises(OSError, match="Connection reset"):
        mnist.download()
    assert listing(keras_datasets()) == []


def test_mnist_offline_error_says_where_to_put_the_file(monkeypatch, tmp_path):
    def offline(url, out, timeout=None):
        raise OSError("<urlopen error [Errno 101] Network is unreachable>")

    monkeypatch.setattr(_download, "fetch_url", offline)
    with pytest.raises(FileNotFoundError) as info:
        mnist.load_data(path=tmp_path / "mine")
    msg = str(info.value)
    assert str(tmp_path / "mine") in msg  # searched
    assert str(keras_datasets() / "mnist.npz") in msg  # searched, and where to put it
    assert "Network is unreachable" in msg and mnist.ORIGIN in msg and "FASTDNN_DATA" in msg
    assert isinstance(info.value.__cause__, OSError)


def test_mnist_matches_keras(keras, monkeypatch, tmp_path):
    import keras.src.datasets.mnist as keras_mnist

    file = tmp_path / "mnist.npz"
    write_mnist(file, np.random.default_rng(5), n_train=9, n_test=4)
    monkeypatch.setattr(keras_mnist, "get_file", lambda fname, origin, file_hash: str(file))
    want = keras.datasets.mnist.load_data()
    got = mnist.load_data(path=file)
    for (g, w) in zip(got[0] + got[1], want[0] + want[1]):
        assert_arrays(g, w.dtype, w)


# --- CIFAR: layout and search ------------------------------------------------------------


@pytest.mark.parametrize("style", ["py2", "py3"])
def test_cifar10_layout_against_independent_construction(tmp_path, style):
    folder = tmp_path / "cifar-10-batches-py"
    (x_want, y_want), (xt_want, yt_want) = write_cifar10(folder, np.random.default_rng(6),
                                                         style=style)
    (x_train, y_train), (x_test, y_test) = cifar10.load_data(path=folder)
    assert_arrays(x_train, np.uint8, x_want)  # (14, 32, 32, 3), batches in order 1..5
    assert_arrays(y_train, np.uint8, np.asarray(y_want, np.uint8).reshape(-1, 1))
    assert_arrays(x_test, np.uint8, xt_want)
    assert_arrays(y_test, np.uint8, np.asarray(yt_want, np.uint8).reshape(-1, 1))
    assert x_train.flags.c_contiguous and x_train.flags.writeable


@pytest.mark.parametrize("style", ["py2", "py3"])
@pytest.mark.parametrize("label_mode", ["fine", "coarse"])
def test_cifar100_layout_and_label_modes(tmp_path, style, label_mode):
    folder = tmp_path / "cifar-100-python"
    want = write_cifar100(folder, np.random.default_rng(7), style=style)
    (x_train, y_train), (x_test, y_test) = cifar100.load_data(label_mode, path=tmp_path)
    column = 1 if label_mode == "fine" else 2
    for (x, y), name in (((x_train, y_train), "train"), ((x_test, y_test), "test")):
        assert_arrays(x, np.uint8, want[name][0])
        assert_arrays(y, np.int64, np.asarray(want[name][column], np.int64).reshape(-1, 1))


@pytest.mark.parametrize("label_mode", ["medium", "Fine", None, 1])
def test_cifar100_bad_label_mode(label_mode):
    # Checked before any search or download (the autouse fixture fails on a fetch).
    with pytest.raises(ValueError) as info:
        cifar100.load_data(label_mode=label_mode)
    assert str(info.value) == (
        '`label_mode` must be one of `"fine"`, `"coarse"`. '
        f"Received: label_mode={label_mode}."
    )


def test_cifar100_bad_label_mode_as_keras(keras):
    with pytest.raises(ValueError) as want:
        keras.datasets.cifar100.load_data(label_mode="medium")
    with pytest.raises(ValueError) as got:
        cifar100.load_data(label_mode="medium")
    assert str(got.value) == str(want.value)


def test_cifar_search_order(monkeypatch, tmp_path):
    rng = np.random.default_rng(8)
    keras3 = keras_datasets() / "cifar-10-batches-py-target" / "cifar-10-batches-py"
    keras2 = keras_datasets() / "cifar-10-batches-py"
    sizes = {"keras2": 1, "keras3": 2, "env": 3, "arg": 4}  # told apart by their test size

    def test_size():
        return len(cifar10.load_data(**kwargs)[1][0])

    write_cifar10(keras2, rng, n_test=sizes["keras2"])
    kwargs = {}
    assert test_size() == 1  # Keras 2's layout
    write_cifar10(keras3, rng, n_test=sizes["keras3"])
    assert test_size() == 2  # Keras 3's layout first
    write_cifar10(tmp_path / "env" / "cifar-10-batches-py", rng, n_test=sizes["env"])
    monkeypatch.setenv("FASTDNN_DATA", str(tmp_path / "env"))  # a folder holding it
    assert test_size() == 3
    monkeypatch.setenv("FASTDNN_DATA", str(tmp_path / "env" / "cifar-10-batches-py"))
    assert test_size() == 3  # or the folder itself
    write_cifar10(tmp_path / "arg", rng, n_test=sizes["arg"])
    kwargs = {"path": tmp_path / "arg"}
    assert test_size() == 4  # the argument first
    (tmp_path / "arg" / "test_batch").unlink()  # an incomplete folder does not count
    kwargs = {"path": tmp_path / "arg"}
    assert test_size() == 2  # ...and the env var is not searched when a path is given

    monkeypatch.delenv("FASTDNN_DATA")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))  # moves Keras's cache
    write_cifar10(tmp_path / "kh" / "datasets" / "cifar-10-batches-py", rng, n_test=5)
    kwargs = {}
    assert test_size() == 5


# --- CIFAR: safe unpickling and validation ---------------------------------------------------


class _Payload:
    """Pickles as a call of `func(*args)`: what a hostile file would run on load."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _hostile_payloads(marker):
    yield "open", _Payload(open, str(marker), "w")
    if os.name == "posix":
        yield "system", _Payload(os.system, "touch " + shlex.quote(str(marker)))


def _hostile_folder(tmp_path, kind, where):
    """A CIFAR-10 folder whose data_batch_3 runs `kind` on load, and the file it would create."""
    marker = tmp_path / "pwned"
    payloads = dict(_hostile_payloads(marker))
    if kind not in payloads:
        pytest.skip("the os.system payload needs a POSIX shell")
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar10(folder, np.random.default_rng(9), style="py3")
    batch = {b"data": np.zeros((1, 3072), np.uint8), b"labels": [1]}
    batch[b"data" if where == "data" else b"labels"] = payloads[kind]
    blob = pickle.dumps(batch, protocol=4)
    # The payload is live: an ordinary unpickler creates the file (so these tests can fail).
    pickle.loads(blob)
    assert marker.exists()
    marker.unlink()
    (folder / "data_batch_3").write_bytes(blob)
    return folder, marker, payloads[kind]


@pytest.mark.parametrize("kind", ["open", "system"])
@pytest.mark.parametrize("where", ["data", "labels"])
def test_hostile_pickle_is_refused_and_runs_nothing(tmp_path, kind, where):
    folder, marker, payload = _hostile_folder(tmp_path, kind, where)
    with pytest.raises(pickle.UnpicklingError) as info:
        cifar10.load_data(path=folder)
    assert not marker.exists()
    msg = str(info.value)
    assert str(folder / "data_batch_3") in msg
    assert f"`{payload.func.__module__}.{payload.func.__name__}`" in msg  # io.open, posix.system
    assert isinstance(info.value, _safe_pickle.RefusedGlobalError)


@pytest.mark.parametrize("kind", ["open", "system"])
def test_keras_refuses_the_same_hostile_pickle(keras, tmp_path, kind):
    from keras.src.datasets.cifar import load_batch

    folder, marker, _ = _hostile_folder(tmp_path, kind, "data")
    with pytest.raises(pickle.UnpicklingError):
        load_batch(str(folder / "data_batch_3"))
    assert not marker.exists()


def test_only_the_numpy_globals_are_allowed():
    assert set(_safe_pickle.ALLOWED_GLOBALS) == {
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    }
    # Python 3's protocol 2 writes bytes through `_codecs.encode`: refused, not imported.
    with pytest.raises(_safe_pickle.RefusedGlobalError, match="_codecs.encode"):
        _safe_pickle.load(io.BytesIO(pickle.dumps({b"a": 1}, protocol=2)))
    # Protocol 5 arrays go through `_frombuffer`, which the release never uses: refused.
    with pytest.raises(_safe_pickle.RefusedGlobalError, match="_frombuffer"):
        _safe_pickle.load(io.BytesIO(pickle.dumps(np.zeros(3, np.uint8), protocol=5)))


def _good_batch():
    return {b"data": np.zeros((2, 3072), np.uint8), b"labels": [1, 2]}


@pytest.mark.parametrize("change, message", [
    (lambda b: b.pop(b"labels"), "no 'labels' entry"),
    (lambda b: b.pop(b"data"), "no 'data' entry"),
    (lambda b: b.update({b"data": np.zeros((2, 3072), np.float32)}), "dtype float32"),
    (lambda b: b.update({b"data": np.zeros((2, 3071), np.uint8)}), "shape (2, 3071)"),
    (lambda b: b.update({b"data": [1, 2]}), "its data is a list"),
    (lambda b: b.update({b"labels": [1]}), "not 2 ints"),
    (lambda b: b.update({b"labels": [1, "x"]}), "not 2 ints"),
    (lambda b: b.update({b"labels": [1, 10]}), "hold 10, outside 0..9"),
    (lambda b: b.update({b"labels": [-1, 0]}), "hold -1"),
])
def test_cifar_refuses_a_malformed_batch(tmp_path, change, message):
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar10(folder, np.random.default_rng(10))
    batch = _good_batch()
    change(batch)
    write_batch(folder / "test_batch", batch, style="py3")
    with pytest.raises(ValueError) as info:
        cifar10.load_data(path=folder)
    assert message in str(info.value) and str(folder / "test_batch") in str(info.value)


def test_cifar_refuses_truncated_and_non_dict_pickles(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar10(folder, np.random.default_rng(11))
    blob = (folder / "data_batch_2").read_bytes()
    (folder / "data_batch_2").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match="cannot be unpickled") as info:
        cifar10.load_data(path=folder)
    assert str(folder / "data_batch_2") in str(info.value)
    (folder / "data_batch_2").write_bytes(pickle.dumps([1, 2], protocol=4))
    with pytest.raises(ValueError, match="holds a list, not a dict"):
        cifar10.load_data(path=folder)


# --- CIFAR: download -------------------------------------------------------------------------


def _release_archive(tmp_path, rng, extra=()):
    src = tmp_path / "src"
    want = write_cifar10(src / "cifar-10-batches-py", rng)
    content = make_archive(src, "cifar-10-batches-py", tmp_path / "cifar-10-python.tar.gz",
                           extra)
    return want, content


def test_cifar10_download_extracts_atomically_into_keras_layout(monkeypatch, tmp_path):
    outside = tmp_path / "home" / ".keras" / "evil"
    extra = [
        ("cifar-10-batches-py/../../evil", tarfile.REGTYPE, ""),  # climbs out of the folder
        ("/abs-evil", tarfile.REGTYPE, ""),
        ("cifar-10-batches-py/link", tarfile.SYMTYPE, "/etc/passwd"),
        ("cifar-10-batches-py/hard", tarfile.LNKTYPE, "/etc/passwd"),
    ]
    ((x_want, y_want), (xt_want, _)), content = _release_archive(
        tmp_path, np.random.default_rng(12), extra)
    calls = []
    monkeypatch.setattr(_download, "fetch_url", serving(content, calls))
    monkeypatch.setattr(cifar10, "SHA256", sha256(content))
    (x_train, y_train), (x_test, _) = cifar10.load_data()
    assert calls == [cifar10.ORIGIN]
    assert_arrays(x_train, np.uint8, x_want)
    assert_arrays(y_train, np.uint8, np.asarray(y_want, np.uint8).reshape(-1, 1))
    assert_arrays(x_test, np.uint8, xt_want)
    # Keras 3's layout: the archive under Keras's name, extracted beside it; nothing else.
    assert listing(keras_datasets()) == [
        "cifar-10-batches-py-target",
        "cifar-10-batches-py-target/cifar-10-batches-py",
        *(f"cifar-10-batches-py-target/cifar-10-batches-py/{n}"
          for n in ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4",
                    "data_batch_5", "test_batch"]),
        "cifar-10-batches-py-target_archive",
    ]
    assert not outside.exists()
    cifar10.load_data()
    assert calls == [cifar10.ORIGIN]  # found in the cache the second time


def test_cifar_download_reuses_an_intact_archive_and_replaces_a_partial_folder(
        monkeypatch, tmp_path):
    ((_, _), (xt_want, _)), content = _release_archive(tmp_path, np.random.default_rng(13))
    archive = keras_datasets() / "cifar-10-batches-py-target_archive"
    archive.parent.mkdir(parents=True)
    archive.write_bytes(content)  # as Keras leaves it after its own download
    partial = keras_datasets() / "cifar-10-batches-py-target" / "cifar-10-batches-py"
    partial.mkdir(parents=True)
    (partial / "data_batch_1").write_bytes(b"half")  # an extraction cut short
    monkeypatch.setattr(cifar10, "SHA256", sha256(content))
    (_, _), (x_test, _) = cifar10.load_data()  # the autouse fixture fails any fetch
    assert_arrays(x_test, np.uint8, xt_want)
    assert len(listing(keras_datasets())) == 9  # archive, 2 folders, 6 batches; nothing aside


@pytest.mark.parametrize("problem", ["checksum", "truncated", "missing batch"])
def test_cifar_failed_download_leaves_nothing(monkeypatch, tmp_path, problem):
    _, content = _release_archive(tmp_path, np.random.default_rng(14))
    if problem == "truncated":
        content = content[: len(content) // 2]
    if problem == "missing batch":
        src = tmp_path / "src" / "cifar-10-batches-py"
        (src / "data_batch_4").unlink()
        content = make_archive(src.parent, src.name, tmp_path / "short.tar.gz")
    monkeypatch.setattr(_download, "fetch_url", serving(content))
    if problem != "checksum":
        monkeypatch.setattr(cifar10, "SHA256", sha256(content))
    with pytest.raises(FileNotFoundError) as info:
        cifar10.load_data()
    msg = str(info.value)
    expected = {"checksum": "SHA-256", "truncated": "corrupt or truncated",
                "missing batch": "lacks cifar-10-batches-py/data_batch_4"}[problem]
    assert expected in msg
    remaining = listing(keras_datasets())
    assert remaining == ([] if problem == "checksum" else ["cifar-10-batches-py-target_archive"])


def test_cifar_offline_error_says_where_to_put_the_files(monkeypatch, tmp_path):
    def offline(url, out, timeout=None):
        raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")

    monkeypatch.setattr(_download, "fetch_url", offline)
    monkeypatch.setenv("FASTDNN_DATA", str(tmp_path / "data"))
    with pytest.raises(FileNotFoundError) as info:
        cifar100.load_data()
    msg = str(info.value)
    target = keras_datasets() / "cifar-100-python-target"
    for place in (tmp_path / "data", tmp_path / "data" / "cifar-100-python",
                  target / "cifar-100-python", keras_datasets() / "cifar-100-python"):
        assert f"  {place} (" in msg  # each place searched, on its own line
    assert f"extract it into {target}/" in msg and "cifar-100-python.tar.gz" in msg
    assert cifar100.ORIGIN in msg and "name resolution" in msg and "FASTDNN_DATA" in msg
    assert listing(keras_datasets()) == []


# --- CIFAR: agreement with Keras -------------------------------------------------------------


@pytest.mark.parametrize("style", ["py2", "py3"])
def test_cifar10_batches_match_keras_load_batch(keras, tmp_path, style):
    # keras.datasets.cifar10.load_data() insists on 10,000 images per batch and on the
    # archive's SHA-256, so it is compared batch by batch through Keras's own reader.
    from keras.src.datasets.cifar import load_batch

    folder = tmp_path / "cifar-10-batches-py"
    write_cifar10(folder, np.random.default_rng(15), style=style)
    (x_train, y_train), (x_test, y_test) = cifar10.load_data(path=folder)
    start = 0
    for name in [f"data_batch_{i}" for i in range(1, 6)]:
        data, labels = load_batch(str(folder / name))  # (n, 3, 32, 32), list
        n = len(data)
        assert_arrays(x_train[start:start + n], data.dtype, data.transpose(0, 2, 3, 1))
        np.testing.assert_array_equal(y_train[start:start + n, 0], labels)
        start += n
    assert start == len(x_train)
    data, labels = load_batch(str(folder / "test_batch"))
    assert_arrays(x_test, np.uint8, data.transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(y_test[:, 0], labels)


@pytest.mark.parametrize("label_mode", ["fine", "coarse"])
def test_cifar100_matches_keras(keras, monkeypatch, tmp_path, label_mode):
    import keras.src.datasets.cifar100 as keras_cifar100

    write_cifar100(tmp_path / "cifar-100-python", np.random.default_rng(16), n_train=5,
                   n_test=3)
    # Keras's get_file would download and check the archive; give it the folder instead.
    monkeypatch.setattr(keras_cifar100, "get_file", lambda **kwargs: str(tmp_path))
    previous = keras.config.image_data_format()
    keras.config.set_image_data_format("channels_last")
    try:
        want = keras.datasets.cifar100.load_data(label_mode=label_mode)
    finally:
        keras.config.set_image_data_format(previous)
    got = cifar100.load_data(label_mode=label_mode, path=tmp_path)
    for g, w in zip(got[0] + got[1], want[0] + want[1]):
        assert_arrays(g, w.dtype, w)  # labels: int64 (N, 1) in both


# --- Fashion-MNIST shares the search ------------------------------------------------------


def test_fashion_mnist_finds_keras_home(monkeypatch, tmp_path):
    from fastdnn.datasets import fashion_mnist

    monkeypatch.setattr(fashion_mnist, "SYSTEM_DIR", tmp_path / "no-system-copy")
    folder = tmp_path / "kh" / "datasets" / "fashion-mnist"
    folder.mkdir(parents=True)
    for name in fashion_mnist.FILE_NAMES:
        (folder / (name + ".gz")).touch()
    assert fashion_mnist.locate() is None
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    assert fashion_mnist.locate() == folder
