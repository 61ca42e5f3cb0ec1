"""Truncated, corrupt and hostile `.keras` and `.h5` files fail with a FileFormatError that says
what is wrong, in bounded memory, without extracting anything or following links out of the file.
Every bad file is built here, from a good one or from raw bytes."""

import io
import json
import os
import struct
import subprocess
import sys
import textwrap
import tracemalloc
import zipfile
import zlib

import numpy as np
import pytest

import fastdnn
from fastdnn.saving import FileFormatError, _h5

h5py = pytest.importorskip("h5py")

MEMORY_LIMIT = 100 << 20  # no hostile file may make a load allocate more than this
GIB2 = 2 << 30


def _model():
    model = fastdnn.Sequential([fastdnn.Input(shape=[4]), fastdnn.layers.Dense(3),
                                fastdnn.layers.BatchNormalization(), fastdnn.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    return model


@pytest.fixture
def good_keras(tmp_path):
    path = tmp_path / "good.keras"
    _model().save(path)
    return path


@pytest.fixture
def good_h5(tmp_path):
    path = tmp_path / "good.h5"
    _model().save(path)
    return path


def _members(path):
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _write_zip(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return path


def _edit_weights(members, edit):
    """The members with model.weights.h5 changed by `edit(h5file)`."""
    buffer = io.BytesIO(members["model.weights.h5"])
    with h5py.File(buffer, "r+") as f:
        edit(f)
    return dict(members, **{"model.weights.h5": buffer.getvalue()})


def _raw_zip(path, entries):
    """A zip archive written byte by byte: entries are (name, stored bytes, method, declared
    uncompressed size, crc), so sizes may lie and data may be a precompressed stream."""
    out, central = bytearray(), bytearray()
    for name, data, method, size, crc in entries:
        encoded = name.encode()
        offset = len(out)
        out += struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, method, 0, 0, crc, len(data), size,
                           len(encoded), 0) + encoded + data
        central += struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, method, 0, 0, crc, len(data),
                               size, len(encoded), 0, 0, 0, 0, 0, offset) + encoded
    count = len(entries)
    out += central + struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, count, count, len(central),
                                 len(out), 0)
    path.write_bytes(bytes(out))
    return path


def _deflated_zeros(size):
    """A raw deflate stream of `size` zero bytes, built from one compressed 16 MiB block repeated
    (full flushes make the blocks independent), so it costs ~2 MB and ~0.1 s for 2 GiB."""
    chunk = 16 << 20
    assert size % chunk == 0
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(chunk)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return block * (size // chunk) + zlib.compressobj(9, zlib.DEFLATED, -15).flush()


def _refused(path, match, load=fastdnn.models.load_model):
    """Loads `path`, expecting a FileFormatError matching `match`, and returns the peak of the
    Python-visible allocations (NumPy arrays and bytes included) while it ran."""
    tracemalloc.start()
    try:
        with pytest.raises(FileFormatError, match=match):
            load(path)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# ---- zip-level attacks -------------------------------------------------------------------------

def test_zip_bomb_is_refused_before_inflating(tmp_path, good_keras):
    members = _members(good_keras)
    entries = [(name, data, zipfile.ZIP_STORED, len(data), zlib.crc32(data))
               for name, data in members.items() if name != "model.weights.h5"]
    bomb = _deflated_zeros(GIB2)
    assert len(bomb) < 4 << 20  # the test itself stays cheap
    path = _raw_zip(tmp_path / "bomb.keras",
                    entries + [("model.weights.h5", bomb, zipfile.ZIP_DEFLATED, GIB2, 0)])
    peak = _refused(path, r"model\.weights\.h5' declares 2,147,483,648 bytes.*zip bomb")
    assert peak < MEMORY_LIMIT


def test_lying_member_size_reads_no_more_than_declared(tmp_path, good_keras):
    """A member declaring 1000 bytes whose stream inflates to 2 GiB yields 1000 bytes, then a
    checksum error."""
    members = _members(good_keras)
    entries = [(name, data, zipfile.ZIP_STORED, len(data), zlib.crc32(data))
               for name, data in members.items() if name != "model.weights.h5"]
    path = _raw_zip(tmp_path / "liar.keras", entries + [
        ("model.weights.h5", _deflated_zeros(GIB2), zipfile.ZIP_DEFLATED, 1000, 0)])
    peak = _refused(path, r"model\.weights\.h5' cannot be read.*(CRC|crc)")
    assert peak < MEMORY_LIMIT


def test_config_larger_than_the_limit_is_refused_unread(tmp_path, good_keras):
    members = _members(good_keras)
    entries = [(name, data, zipfile.ZIP_STORED, len(data), zlib.crc32(data))
               for name, data in members.items() if name != "config.json"]
    path = _raw_zip(tmp_path / "config.keras", entries + [
        ("config.json", b"{}", zipfile.ZIP_STORED, 1 << 31, 0)])
    assert _refused(path, r"'config.json' declares 2,147,483,648 bytes") < MEMORY_LIMIT


@pytest.mark.parametrize("name", ["../evil", "/etc/x", "a\\b", "C:/x", "assets/../../x"])
def test_path_traversal_names_are_refused(tmp_path, good_keras, name):
    members = list(_members(good_keras).items()) + [(name, b"x")]
    path = _raw_zip(tmp_path / "traversal.keras",
                    [(n, d, zipfile.ZIP_STORED, len(d), zlib.crc32(d)) for n, d in members])
    _refused(path, "member named .*absolute paths, '..', backslashes and drives are refused")
    assert not (tmp_path.parent / "evil").exists()


def test_duplicate_members_are_refused(tmp_path, good_keras):
    members = _members(good_keras)
    path = _raw_zip(tmp_path / "dup.keras", [
        (n, d, zipfile.ZIP_STORED, len(d), zlib.crc32(d))
        for n, d in list(members.items()) + [("config.json", b'{"class_name": "x"}')]])
    _refused(path, r"holds member\(s\) \['config.json'\] more than once")


@pytest.mark.parametrize("missing", ["config.json", "model.weights.h5"])
def test_missing_members_are_refused(tmp_path, good_keras, missing):
    members = [(n, d) for n, d in _members(good_keras).items() if n != missing]
    _refused(_write_zip(tmp_path / "m.keras", members), f"lacks '{missing}'")


def test_npz_weights_are_named(tmp_path, good_keras):
    members = [(n if n != "model.weights.h5" else "model.weights.npz", d)
               for n, d in _members(good_keras).items()]
    _refused(_write_zip(tmp_path / "m.keras", members), "npz weights are not supported")


def test_encrypted_members_are_refused(tmp_path, good_keras):
    data = bytearray(good_keras.read_bytes())
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (start := data.find(signature, start)) >= 0:
            data[start + flag_offset] |= 1
            start += 4
    path = tmp_path / "encrypted.keras"
    path.write_bytes(bytes(data))
    _refused(path, "encrypted")


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04" + bytes(100)])
def test_not_a_zip(tmp_path, content):
    path = tmp_path / "m.keras"
    path.write_bytes(content)
    _refused(path, "not a readable zip archive")


def test_truncated_keras_files(tmp_path, good_keras):
    data = good_keras.read_bytes()
    for cut in sorted({1, 30, len(data) // 10, len(data) // 2, len(data) * 9 // 10, len(data) - 23,
                       len(data) - 1}):
        path = tmp_path / f"cut{cut}.keras"
        path.write_bytes(data[:cut])
        _refused(path, "zip archive|truncated|corrupt")


def test_corrupt_member_bytes(tmp_path, good_keras):
    data = bytearray(good_keras.read_bytes())
    start = data.find(b"\x89HDF")  # inside model.weights.h5
    data[start + 200:start + 400] = bytes(b ^ 0xFF for b in data[start + 200:start + 400])
    path = tmp_path / "corrupt.keras"
    path.write_bytes(bytes(data))
    _refused(path, "CRC|corrupt")


def test_config_that_is_not_json(tmp_path, good_keras):
    members = dict(_members(good_keras), **{"config.json": b"{not json"})
    _refused(_write_zip(tmp_path / "m.keras", members.items()), "config.json.*not valid JSON")


# ---- weight-level attacks, in both formats -----------------------------------------------------

def _names(group):
    return [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]]


def _kernel_path(f):
    if "layers" in f:
        return "layers/dense/vars/0"
    group = f["model_weights"][f["model_weights"].attrs["layer_names"][0]]
    name = group.attrs["weight_names"][0]
    return f"{group.name}/{name.decode() if isinstance(name, bytes) else name}"


def _hostile(tmp_path, suffix, good, edit, name="bad"):
    """A copy of the good file whose kernel (or anything else) `edit(h5file, kernel_path)` changed."""
    path = tmp_path / f"{name}{suffix}"
    if suffix == ".keras":
        members = _edit_weights(_members(good), lambda f: edit(f, _kernel_path(f)))
        _write_zip(path, members.items())
    else:
        path.write_bytes(good.read_bytes())
        with h5py.File(path, "r+") as f:
            edit(f, _kernel_path(f))
    return path


def _replace(f, path, **dataset):
    del f[path]
    f.create_dataset(path, **dataset)


@pytest.fixture(params=[".keras", ".h5"])
def good(request, good_keras, good_h5):
    return request.param, good_keras if request.param == ".keras" else good_h5


def test_huge_declared_shape_is_refused_unread(tmp_path, good):
    suffix, path = good
    bad = _hostile(tmp_path, suffix, path,
                   lambda f, k: _replace(f, k, shape=(1 << 28, 3), dtype="float32"))
    assert os.path.getsize(bad) < 1 << 20  # the data is never written: HDF5 allocates it lazily
    peak = _refused(bad, r"declares shape \(268435456, 3\) \(float32, 3,221,225,472 bytes\) "
                         "but the file holds")
    assert peak < MEMORY_LIMIT


def test_shape_that_does_not_fit_the_model(tmp_path, good):
    suffix, path = good
    bad = _hostile(tmp_path, suffix, path, lambda f, k: _replace(f, k, data=np.ones((3, 4), "f4")))
    _refused(bad, r"has shape \(3, 4\); the model expects \(4, 3\)")


@pytest.mark.parametrize("value, dtype", [
    (np.ones((4, 3), np.int32), "int32"),
    (np.ones((4, 3), np.complex64), "complex64"),
    (np.full((4, 3), b"abcd"), "S4"),
    (np.array([["a"] * 3] * 4, dtype=object), "object"),
])
def test_wrong_dtypes_are_refused(tmp_path, good, value, dtype):
    suffix, path = good
    kwargs = {"data": value}
    if value.dtype == object:
        kwargs["dtype"] = h5py.string_dtype()
    bad = _hostile(tmp_path, suffix, path, lambda f, k: _replace(f, k, **kwargs))
    _refused(bad, r"weight 'dense.*/kernel' .* has dtype .*weights are float16, float32 or float64")


def test_links_out_of_the_file_are_not_followed(tmp_path, good):
    suffix, path = good
    secret = tmp_path / "secret.h5"
    with h5py.File(secret, "w") as f:
        f["x"] = np.ones((4, 3), np.float32)

    def external(f, k):
        del f[k]
        f[k] = h5py.ExternalLink(str(secret), "/x")

    def soft(f, k):
        del f[k]
        f[k] = h5py.SoftLink("/somewhere")

    def raw_external(f, k):
        (tmp_path / "raw.bin").write_bytes(np.ones((4, 3), np.float32).tobytes())
        _replace(f, k, shape=(4, 3), dtype="float32", external=[(str(tmp_path / "raw.bin"), 0, 48)])

    for name, edit, match in (("ext", external, "ExternalLink"), ("soft", soft, "SoftLink"),
                              ("raw", raw_external, "outside the file")):
        _refused(_hostile(tmp_path, suffix, path, edit, name), match)


def test_truncated_h5_files(tmp_path, good_h5):
    data = good_h5.read_bytes()
    for cut in sorted({0, 8, 100, len(data) // 4, len(data) // 2, len(data) - 100, len(data) - 1}):
        path = tmp_path / f"cut{cut}.h5"
        path.write_bytes(data[:cut])
        _refused(path, "truncated|corrupt|lacks|holds no model config")


def test_truncated_weights_member(tmp_path, good_keras):
    members = _members(good_keras)
    weights = members["model.weights.h5"]
    for cut in (0, 100, len(weights) // 2, len(weights) - 10):
        path = _write_zip(tmp_path / f"cut{cut}.keras",
                          dict(members, **{"model.weights.h5": weights[:cut]}).items())
        _refused(path, "truncated|corrupt")


def test_config_declaring_more_weights_than_the_file_holds(tmp_path, good):
    """A config asking for a Dense of 10^9 units is refused before anything is allocated."""
    suffix, path = good
    bad = tmp_path / f"big{suffix}"
    if suffix == ".keras":
        members = _members(path)
        config = json.loads(members["config.json"])
        config["config"]["layers"][1]["config"]["units"] = 10 ** 9
        _write_zip(bad, dict(members, **{"config.json": json.dumps(config).encode()}).items())
    else:
        bad.write_bytes(path.read_bytes())
        with h5py.File(bad, "r+") as f:
            config = json.loads(f.attrs["model_config"])
            config["config"]["layers"][1]["config"]["units"] = 10 ** 9
            f.attrs["model_config"] = json.dumps(config).encode()
    assert _refused(bad, r"declares weight 'dense.*kernel' of shape \(4, 1000000000\)") < MEMORY_LIMIT


def test_wrong_optimizer_variables(tmp_path, good):
    suffix, path = good

    def float_step(f, k):
        group = f["optimizer/vars"] if "optimizer" in f else f["optimizer_weights"]
        name = "0" if "optimizer" in f else _names(group)[0]
        del group[name]
        group[name] = np.float32(3.5)

    def nan_rate(f, k):
        group = f["optimizer/vars"] if "optimizer" in f else f["optimizer_weights"]
        name = "1" if "optimizer" in f else _names(group)[1]
        del group[name]
        group[name] = np.float64("nan")

    def slot_shape(f, k):
        group = f["optimizer/vars"] if "optimizer" in f else f["optimizer_weights"]
        name = "2" if "optimizer" in f else _names(group)[2]
        del group[name]
        group[name] = np.ones((3, 4), np.float32)

    for name, edit, match in (("step", float_step, "step count.*should be a scalar of kind integer"),
                              ("rate", nan_rate, "learning rate is nan"),
                              ("slot", slot_shape, r"momentum of dense.*has shape \(3, 4\)")):
        _refused(_hostile(tmp_path, suffix, path, edit, name), match)


def test_too_many_objects(tmp_path, good, monkeypatch):
    suffix, path = good
    monkeypatch.setattr(_h5, "MAX_OBJECTS", 5)
    _refused(path, "more than 5 HDF5 objects")


def test_missing_or_malformed_model_config_in_h5(tmp_path, good_h5):
    for name, edit, match in (
            ("none", lambda f: f.attrs.__delitem__("model_config"), "holds no model config"),
            ("json", lambda f: f.attrs.__setitem__("model_config", b"{oops"), "not valid JSON"),
            ("names", lambda f: f["model_weights"].attrs.__setitem__("layer_names", [1.5, 2.5]),
             "attribute 'layer_names' of '/model_weights' is not a string")):
        bad = tmp_path / f"{name}.h5"
        bad.write_bytes(good_h5.read_bytes())
        with h5py.File(bad, "r+") as f:
            edit(f)
        _refused(bad, match)


def test_load_weights_refuses_hostile_files_too(tmp_path, good):
    suffix, path = good
    bad = _hostile(tmp_path, suffix, path,
                   lambda f, k: _replace(f, k, shape=(1 << 28, 3), dtype="float32"))
    _refused(bad, "declares shape", load=_model().load_weights)


# ---- memory of the process as a whole (HDF5's and zlib's own allocations included) --------------

CHILD = textwrap.dedent("""
    import resource, sys
    import fastdnn
    from fastdnn.saving import FileFormatError
    fastdnn.models.load_model(sys.argv[1])  # a good file: imports and warm-up
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for path in sys.argv[2:]:
        try:
            fastdnn.models.load_model(path)
            raise SystemExit("loaded " + path)
        except FileFormatError:
            pass
    print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024)
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss in KiB is Linux's")
def test_hostile_files_keep_the_process_small(tmp_path, good_keras, good_h5):
    members = _members(good_keras)
    entries = [(n, d, zipfile.ZIP_STORED, len(d), zlib.crc32(d)) for n, d in members.items()
               if n != "model.weights.h5"]
    bomb = _raw_zip(tmp_path / "bomb.keras", entries + [
        ("model.weights.h5", _deflated_zeros(GIB2), zipfile.ZIP_DEFLATED, GIB2, 0)])
    liar = _raw_zip(tmp_path / "liar.keras", entries + [
        ("model.weights.h5", _deflated_zeros(GIB2), zipfile.ZIP_DEFLATED, 1000, 0)])
    huge = [_hostile(tmp_path, s, g, lambda f, k: _replace(f, k, shape=(1 << 28, 3), dtype="float32"),
                     f"huge{s[1:]}") for s, g in ((".keras", good_keras), (".h5", good_h5))]
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    result = subprocess.run([sys.executable, str(script), str(good_keras), str(bomb), str(liar),
                             *map(str, huge)], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip().splitlines()[-1]) < MEMORY_LIMIT


HEAP_CHILD = textwrap.dedent("""
    import sys
    import fastdnn
    from fastdnn.saving import FileFormatError
    for path in sys.argv[1:]:
        try:
            fastdnn.models.load_model(path)
            raise SystemExit("loaded " + path)
        except FileFormatError as e:
            print(e)
""")


def _stall_global_heap(data):
    """The file's bytes with the first object of its first global heap collection made a
    zero-size free-space object: HDF5's own walk over the collection would never end."""
    data = bytearray(data)
    at = data.find(b"GCOL\x01\x00\x00\x00")
    assert at >= 0
    data[at + 16:at + 18] = b"\x00\x00"  # object index 0: free space, which advances by its size
    data[at + 24:at + 32] = bytes(8)     # of 0 bytes
    return bytes(data)


def test_corrupt_global_heap_is_refused_instead_of_hanging_hdf5(tmp_path, good_keras, good_h5):
    """Keras's configs and name lists are HDF5 variable-length strings in a global heap; a
    corrupt heap would hang HDF5 itself (so this runs in a child with a time limit)."""
    h5_path = tmp_path / "stall.h5"
    h5_path.write_bytes(_stall_global_heap(good_h5.read_bytes()))
    members = _members(good_keras)
    weights = members["model.weights.h5"]  # its groups' "name" attributes live in a global heap
    keras_path = _write_zip(tmp_path / "stall.keras", dict(
        members, **{"model.weights.h5": _stall_global_heap(weights)}).items())
    script = tmp_path / "child.py"
    script.write_text(HEAP_CHILD)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    result = subprocess.run([sys.executable, str(script), str(h5_path), str(keras_path)],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2 and all("global heap at byte" in line for line in lines), lines


FUZZ_CHILD = textwrap.dedent("""
    import random, sys, zipfile
    import fastdnn
    from fastdnn.saving import FileFormatError
    good, work, trials = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rng = random.Random(0)
    suffix = good[good.index("."):]
    if suffix == ".keras":
        with zipfile.ZipFile(good) as z:
            members = {n: z.read(n) for n in z.namelist()}
        data = members["model.weights.h5"]
    else:
        data = open(good, "rb").read()
    other = 0
    for trial in range(trials):
        corrupt = bytearray(data)
        if trial % 5 == 0:
            corrupt = corrupt[:rng.randrange(len(corrupt))]
        else:
            for _ in range(rng.randint(1, 4)):
                corrupt[rng.randrange(len(corrupt))] = rng.randrange(256)
        if suffix == ".keras":  # the weights member, rezipped with a valid checksum
            with zipfile.ZipFile(work, "w") as z:
                for name, value in members.items():
                    z.writestr(name, bytes(corrupt) if name == "model.weights.h5" else value)
        else:
            open(work, "wb").write(bytes(corrupt))
        try:
            fastdnn.models.load_model(work)
        except FileFormatError:
            pass
        except Exception as e:
            other += 1
            print(type(e).__name__, e)
    print("other", other)
""")


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_random_corruption_fails_cleanly(tmp_path, good_keras, good_h5, suffix):
    """Random byte changes and truncations (in a child, so that a crash or hang of HDF5 fails
    the test instead of the run): every file loads or raises FileFormatError."""
    script = tmp_path / "child.py"
    script.write_text(FUZZ_CHILD)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    good = good_keras if suffix == ".keras" else good_h5
    result = subprocess.run([sys.executable, str(script), str(good), str(tmp_path / f"w{suffix}"),
                             "150"], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "other 0", result.stdout[-3000:]


def test_corrupt_string_type_is_refused_before_hdf5_converts_it(tmp_path, good_h5):
    """A variable-length string whose type field says 'sequence of ...' crashes HDF5's conversion;
    it is refused first (in a child, so that a crash fails the test)."""
    data = bytearray(good_h5.read_bytes())
    at = data.find(b"model_config\x00")
    message = data.find(b"\x19\x01\x00\x00\x10\x00\x00\x00", at)  # vlen string datatype, 16 bytes
    assert 0 < message - at < 32
    data[message + 1] = 0x66  # the variable-length kind: no longer "string"
    path = tmp_path / "vlen.h5"
    path.write_bytes(bytes(data))
    script = tmp_path / "child.py"
    script.write_text(HEAP_CHILD)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    result = subprocess.run([sys.executable, str(script), str(path)], capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "attribute 'model_config' of '/' is not a string" in result.stdout
