"""Bounded, read-only access to HDF5 files for the Keras formats.

h5py is optional: `require_h5py()` imports it or says how to install it. Reading goes through
these helpers only, so that a hostile file cannot make fastdnn follow links out of the file,
allocate more than the file holds, or fail with anything but a FileFormatError:

* objects are reached through hard links only (no soft or external links), and datasets with
  external or virtual storage are refused;
* a dataset's declared size (shape × itemsize) is checked against the file's size, and its
  shape and dtype against what the model expects, before any data is read;
* attributes are size-checked before they are read; HDF5's own errors (truncated or corrupt
  files raise OSError) become FileFormatError.
"""

import contextlib
import io
import math
import mmap
import os

import numpy as np

from . import _guard
from ._guard import FileFormatError

MAX_OBJECTS = 200_000  # groups and datasets walked in one file; a Sequential needs a few per layer
MAX_NAMES = 100_000  # entries of a name-list attribute (layer_names, weight_names)
FLOAT_ITEMSIZES = (2, 4, 8)


def require_h5py():
    """Imports h5py, or raises an ImportError that says how to install it."""
    try:
        import h5py
    except ImportError:
        raise ImportError("Keras `.keras` and `.h5` files are HDF5-based and need the h5py package: "
                          "`pip install h5py` (or `pip install 'fastdnn[h5]'`). fastdnn's own "
                          "format (any other file suffix) needs NumPy only.") from None
    return h5py


@contextlib.contextmanager
def reading(what):
    """Turns HDF5's errors on a truncated or corrupt file into FileFormatError."""
    try:
        yield
    except FileFormatError:
        raise
    except (OSError, KeyError, ValueError, RuntimeError, TypeError, AttributeError,
            OverflowError) as e:
        raise FileFormatError(f"{what} is truncated, corrupt or not an HDF5 file "
                              f"({type(e).__name__}: {e}).") from None


def open_file(source, what):
    """An h5py.File opened read-only on the bytes of a file (in memory) or an open binary file,
    after `check_global_heaps` has passed on its bytes."""
    h5py = require_h5py()
    if isinstance(source, (bytes, bytearray, memoryview)):
        check_global_heaps(source, what)
        source = io.BytesIO(source)
    elif os.fstat(source.fileno()).st_size:
        with mmap.mmap(source.fileno(), 0, access=mmap.ACCESS_READ) as data:
            check_global_heaps(data, what)
    with reading(what):
        return h5py.File(source, "r")


_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_GCOL = b"GCOL\x01\x00\x00\x00"  # a global heap collection: signature, version 1, reserved


def check_global_heaps(data, what):
    """Checks every global heap collection in an HDF5 file's bytes the way HDF5 walks it.

    HDF5 keeps variable-length strings (Keras's configs and name lists) in global heap
    collections, and its walk over a collection's objects (H5HG cache deserialize) never ends
    when an object's size is zero where it advances by that size: a corrupt file hangs
    HDF5 for good. This walk refuses such a collection first.

    Layout: "GCOL", version 1, 3 reserved bytes, collection size (L bytes), then objects: index
    (2 bytes), reference count (2), reserved (4), size (L), data padded to 8 bytes; index 0 is
    the free space, whose size includes its header. L is the superblock's "size of lengths".

    Raises:
        FileFormatError: for a collection or object that runs past its end or does not advance.
    """
    size = len(data)
    base = 0  # the superblock: at 0, or after a user block of 512, 1024, 2048... bytes
    while base + 16 <= size and bytes(data[base:base + 8]) != _SIGNATURE:
        base = max(512, 2 * base)
    if base + 16 > size:
        return  # no HDF5 signature: h5py's own open reports it

    def number(offset, width):
        return int.from_bytes(data[offset:offset + width], "little")

    length_size = data[base + 14] if data[base + 8] in (0, 1) else data[base + 10]
    if length_size not in (2, 4, 8, 16):
        raise FileFormatError(f"{what}: the HDF5 superblock declares {length_size}-byte lengths.")
    header = 8 + length_size
    at = data.find(_GCOL)
    while at >= 0:
        end = at + number(at + 8, length_size)
        if end > size or end < at + header:
            raise FileFormatError(f"{what}: the HDF5 global heap at byte {at:,} runs past the end "
                                  "of the file (truncated or corrupt).")
        p = at + header
        while p + header <= end:  # HDF5 takes a shorter tail as free space
            index, length = number(p, 2), number(p + 8, length_size)
            need = header + (length + 7) // 8 * 8 if index else length
            if need <= 0 or need > end - p:
                raise FileFormatError(f"{what}: the HDF5 global heap at byte {at:,} holds an "
                                      f"object of {length:,} bytes at byte {p:,} that does not fit "
                                      "it (corrupt).")
            p += need
        at = data.find(_GCOL, at + 1)


def file_size(h5file):
    return int(h5file.id.get_filesize())


def child(group, name, kind, what, required=True):
    """The member `name` of `group` (a path of hard links), checked to be a Group or Dataset.

    Returns None for a missing optional member.

    Raises:
        FileFormatError: for a missing required member, a soft or external link, the other
            kind of object, or a dataset with external or virtual storage.
    """
    h5py = require_h5py()
    with reading(what):
        current = group
        for part in name.split("/"):
            link = current.get(part, getlink=True) if isinstance(current, h5py.Group) else None
            if link is None:
                if required:
                    raise FileFormatError(f"{what} lacks '{current.name.rstrip('/')}/{part}'.")
                return None
            if not isinstance(link, h5py.HardLink):
                raise FileFormatError(f"{what}: '{current.name.rstrip('/')}/{part}' is a "
                                      f"{type(link).__name__}; fastdnn follows no links out of the "
                                      "file.")
            current = current[part]
        expected = h5py.Group if kind == "group" else h5py.Dataset
        if not isinstance(current, expected):
            raise FileFormatError(f"{what}: '{current.name}' is not a {kind}.")
        if kind == "dataset" and (current.external or current.is_virtual):
            raise FileFormatError(f"{what}: dataset '{current.name}' keeps its data outside the "
                                  "file (external or virtual storage), which fastdnn does not read.")
    return current


def declared_bytes(dataset):
    return math.prod(int(d) for d in dataset.shape or ()) * dataset.dtype.itemsize


def check_declared(dataset, size, what):
    """Refuses a dataset that declares more bytes than the whole file holds."""
    nbytes = declared_bytes(dataset)
    if nbytes > size:
        raise FileFormatError(f"{what}: dataset '{dataset.name}' declares shape {dataset.shape} "
                              f"({dataset.dtype}, {nbytes:,} bytes) but the file holds {size:,} "
                              "bytes in all: corrupt or hostile.")
    return nbytes


def survey(group, what):
    """{group path (relative to `group`): [number of datasets, their elements]} for every group
    under `group` that holds datasets, without reading any data.

    Walks the tree itself (h5py's visitors turn errors inside them into SystemError), at most
    MAX_OBJECTS links and each group once, refuses soft and external links, and refuses datasets
    that together declare more bytes than the file holds (uncompressed data cannot; a shape bomb
    does), so the element counts bound what reading the file can allocate.
    """
    h5py = require_h5py()
    size = file_size(group.file)
    groups, declared, seen = {}, 0, 0
    with reading(what):
        visited, stack = {group.id}, [("", group)]
        while stack:
            prefix, current = stack.pop()
            for name in current:
                seen += 1
                if seen > MAX_OBJECTS:
                    raise FileFormatError(f"{what} holds more than {MAX_OBJECTS:,} HDF5 objects; a "
                                          "model file holds a few per layer. Corrupt or hostile.")
                link = current.get(name, getlink=True)
                if not isinstance(link, h5py.HardLink):
                    raise FileFormatError(f"{what}: '{current.name.rstrip('/')}/{name}' is a "
                                          f"{type(link).__name__}; fastdnn follows no links out of "
                                          "the file.")
                obj = current[name]
                if isinstance(obj, h5py.Group):
                    if obj.id not in visited:
                        visited.add(obj.id)
                        stack.append((f"{prefix}{name}/", obj))
                elif isinstance(obj, h5py.Dataset):
                    declared += check_declared(obj, size, what)
                    if declared > size:
                        raise FileFormatError(f"{what}: its datasets declare {declared:,} bytes or "
                                              f"more but the file holds {size:,} bytes: corrupt or "
                                              "hostile.")
                    entry = groups.setdefault(prefix.rstrip("/"), [0, 0])
                    entry[0] += 1
                    entry[1] += math.prod(int(d) for d in obj.shape or ())
    return groups


def check_weight(dataset, expected_shape, name, what):
    """Checks a weight dataset's dtype, shape and declared size without reading its data.

    Raises:
        FileFormatError: for a non-float dtype (ints, strings, objects, bfloat16...), another
            shape, or more bytes than the file holds.
    """
    dtype = dataset.dtype
    # An integer scalar is a counter (Normalization's `count`, which Keras writes as int32).
    counter = dtype.kind in "iu" and dtype.itemsize <= 8 and tuple(expected_shape) == ()
    if not counter and (dtype.kind != "f" or dtype.itemsize not in FLOAT_ITEMSIZES):
        raise FileFormatError(f"{what}: weight '{name}' ({dataset.name}) has dtype {dtype}; "
                              "weights are float16, float32 or float64 arrays (or integer scalar counters).")
    if tuple(dataset.shape or ()) != tuple(expected_shape):
        raise FileFormatError(f"{what}: weight '{name}' ({dataset.name}) has shape "
                              f"{tuple(dataset.shape or ())}; the model expects "
                              f"{tuple(expected_shape)}.")
    check_declared(dataset, file_size(dataset.file), what)


def read_weight(dataset, expected_shape, name, what):
    """The float32 values of a weight dataset, read only after `check_weight` passes."""
    check_weight(dataset, expected_shape, name, what)
    with reading(what):
        if dataset.dtype == np.float32 and dataset.shape:
            out = np.empty(dataset.shape, np.float32)
            dataset.read_direct(out)
            return out
        return np.asarray(dataset[()], dtype=np.float32)


def read_scalar(dataset, kind, name, what):
    """A scalar dataset (an optimizer's step count or learning rate) as an int or a float."""
    if dataset.shape not in ((), (1,)) or dataset.dtype.kind not in kind:
        raise FileFormatError(f"{what}: '{dataset.name}' ({name}) should be a scalar of kind "
                              f"{'integer' if kind == 'iu' else 'float'}; it has shape "
                              f"{dataset.shape} and dtype {dataset.dtype}.")
    with reading(what):
        value = np.asarray(dataset[()]).reshape(())
    return int(value) if kind == "iu" else float(value)


def _attribute_bytes(obj, name):
    h5py = require_h5py()
    try:
        return h5py.h5a.open(obj.id, name.encode()).get_storage_size()
    except RuntimeError:  # HDF5 reports an empty attribute's size as an error
        return 0


def _check_string_attr(obj, name, what):
    """Refuses an attribute that is not an HDF5 string (fixed or variable length) before its data
    is read: HDF5 crashes converting a corrupt variable-length type to a string."""
    h5py = require_h5py()
    attr = h5py.h5a.open(obj.id, name.encode())
    if attr.get_space().get_simple_extent_npoints() == 0:
        return  # Keras writes an empty list of names as an empty float array
    kind = attr.get_type()
    if not isinstance(kind, h5py.h5t.TypeStringID):
        raise FileFormatError(f"{what}: attribute '{name}' of '{obj.name}' is not a string "
                              f"(HDF5 type class {kind.get_class()}). Corrupt?")


def read_json_attr(obj, name, what, required=True):
    """A JSON document kept in a string attribute (Keras's model_config, training_config), at
    most MAX_CONFIG_BYTES, parsed; None for a missing optional one."""
    with reading(what):
        if name not in obj.attrs:
            if required:
                raise FileFormatError(f"{what} has no '{name}' attribute: not a Keras model file.")
            return None
        if _attribute_bytes(obj, name) > _guard.MAX_CONFIG_BYTES:
            raise FileFormatError(f"{what}: attribute '{name}' is larger than "
                                  f"{_guard.MAX_CONFIG_BYTES:,} bytes. Corrupt or hostile.")
        _check_string_attr(obj, name, what)
        value = obj.attrs[name]
    if isinstance(value, np.ndarray) and value.shape == () or isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):  # h5py keeps undecodable bytes as surrogates
        value = value.encode("utf-8", "surrogateescape")
    if not isinstance(value, bytes):
        raise FileFormatError(f"{what}: attribute '{name}' is not a string.")
    return _guard.parse_json(value, f"The {name} of {what}")


def read_names_attr(obj, name, what):
    """A list-of-names attribute as Keras writes it (one attribute, or chunks name0, name1...)."""
    with reading(what):
        if name in obj.attrs:
            keys = [name]
        else:  # Keras splits a long list over name0, name1, ...
            keys = []
            while f"{name}{len(keys)}" in obj.attrs:
                if len(keys) >= MAX_NAMES:
                    raise FileFormatError(f"{what}: too many '{name}' chunks in '{obj.name}'.")
                keys.append(f"{name}{len(keys)}")
        names = []
        for key in keys:
            if _attribute_bytes(obj, key) > _guard.MAX_CONFIG_BYTES:
                raise FileFormatError(f"{what}: attribute '{key}' of '{obj.name}' is too large.")
            _check_string_attr(obj, key, what)
            values = np.asarray(obj.attrs[key])
            if values.ndim != 1 or values.size > MAX_NAMES - len(names):
                raise FileFormatError(f"{what}: attribute '{key}' of '{obj.name}' is not a list "
                                      f"of at most {MAX_NAMES:,} names.")
            names.extend(values.tolist())
    out = []
    for value in names:
        try:
            value = value.decode("utf-8") if isinstance(value, bytes) else value
            value.encode("utf-8")  # h5py keeps undecodable bytes of a str as surrogates
        except (UnicodeError, AttributeError):
            value = None
        if not isinstance(value, str) or not value:
            raise FileFormatError(f"{what}: attribute '{name}' of '{obj.name}' holds a malformed "
                                  "name (expected non-empty UTF-8 strings).")
        out.append(value)
    return out


def write_names_attr(obj, name, names):
    """Writes a list of names the way Keras does (UTF-8 bytes; an empty list as an empty array)."""
    obj.attrs[name] = [n.encode("utf-8") for n in names] if names else np.zeros((0,), np.float64)
