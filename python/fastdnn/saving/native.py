"""fastdnn's own file format, for any suffix other than `.keras` and `.h5`: NumPy only.

Layout (all integers little-endian):

    bytes 0..7    magic b"FASTDNN\\x00"
    bytes 8..15   header length H (uint64)
    H bytes       header, UTF-8 JSON: {"format_version", "fastdnn_version", "kind": "model" |
                  "weights", "config", "compile", "optimizer": {"iterations", "extra"},
                  "tensors": [{"name", "dtype", "shape", "offset", "nbytes"}, ...]}
    data          each tensor's raw C-order bytes at its offset (64-byte aligned)

Tensor names: "weights/<i>" for model.weights[i], "optimizer/<slot>/<i>" for the optimizer's
slot of trainable weight i. Reading checks every declared shape, dtype and offset against the
file's real size before allocating, so memory stays bounded by the file.
"""

import json
import math
import os
import struct

import numpy as np

from .._dispatch import host
from .._version import __version__
from . import _guard, state
from ._atomic import atomic_write
from ._guard import FileFormatError

MAGIC = b"FASTDNN\x00"
FORMAT_VERSION = 1
_ALIGN = 64
_DTYPES = {"float16", "float32", "float64", "int64"}  # what a tensor entry may declare


def _tensors(model, include_optimizer):
    tensors = [(f"weights/{i}", host(v._value)) for i, v in enumerate(model.weights)]
    opt_state = None
    if include_optimizer and getattr(model, "optimizer", None) is not None:
        opt_state = model.optimizer.get_state(model.trainable_weights)
        for slot, arrays in opt_state["slots"].items():
            tensors += [(f"optimizer/{slot}/{i}", a) for i, a in enumerate(arrays)]
        opt_state = {"iterations": opt_state["iterations"], "extra": opt_state["extra"]}
    return tensors, opt_state


def _write(filepath, header, tensors):
    tensors = [(name, np.ascontiguousarray(array).reshape(np.shape(array))) for name, array in tensors]  # 0-d stays 0-d
    entries, offset = [], 0
    for name, array in tensors:
        entries.append({"name": name, "dtype": array.dtype.name, "shape": list(array.shape),
                        "offset": offset, "nbytes": int(array.nbytes)})
        offset += -(-array.nbytes // _ALIGN) * _ALIGN
    header = dict(header, format_version=FORMAT_VERSION, fastdnn_version=__version__, tensors=entries)
    blob = json.dumps(header).encode()
    blob += b" " * (-(len(MAGIC) + 8 + len(blob)) % _ALIGN)  # data starts aligned
    with atomic_write(filepath) as f:
        f.write(MAGIC + struct.pack("<Q", len(blob)) + blob)
        start = f.tell()
        for entry, (_, array) in zip(entries, tensors):
            f.seek(start + entry["offset"])
            f.write(memoryview(array).cast("B"))
        f.truncate(start + max((e["offset"] + e["nbytes"] for e in entries), default=0))


def save_model(model, filepath, include_optimizer=True):
    tensors, opt_state = _tensors(model, include_optimizer)
    compile_cfg = state.compile_config(model)
    if not include_optimizer and compile_cfg is not None:
        compile_cfg = dict(compile_cfg, optimizer=None)
    _write(filepath, {"kind": "model", "config": state.model_config(model), "compile": compile_cfg,
                      "optimizer": opt_state}, tensors)


def save_weights(model, filepath):
    tensors, _ = _tensors(model, False)
    _write(filepath, {"kind": "weights"}, tensors)


class _File:
    """An open fastdnn file whose header has been read and checked against the file's size."""

    def __init__(self, filepath):
        self.path = filepath
        self.what = f"fastdnn file {filepath!r}"
        self.f = open(filepath, "rb")
        try:
            self._read_header()
        except BaseException:
            self.f.close()
            raise

    def _read_header(self):
        size = os.fstat(self.f.fileno()).st_size
        prefix = self.f.read(len(MAGIC) + 8)
        if prefix[:len(MAGIC)] != MAGIC:
            raise FileFormatError(f"{self.path!r} is not a fastdnn model file (it does not start "
                                  "with the fastdnn signature). fastdnn reads `.keras`, `.h5` and "
                                  "its own format; a NumPy or pickle file cannot be loaded as a model.")
        if len(prefix) < len(MAGIC) + 8:
            raise FileFormatError(f"{self.what} is truncated (no header length).")
        (length,) = struct.unpack("<Q", prefix[len(MAGIC):])
        if length > min(size - len(prefix), _guard.MAX_CONFIG_BYTES):
            raise FileFormatError(f"{self.what} declares a {length:,}-byte header but holds "
                                  f"{size:,} bytes in all: truncated or corrupt.")
        header = _guard.parse_json(self.f.read(length), f"The header of {self.what}")
        if not isinstance(header, dict) or not isinstance(header.get("tensors"), list):
            raise FileFormatError(f"The header of {self.what} has no tensor list.")
        if header.get("format_version") != FORMAT_VERSION:
            raise FileFormatError(f"{self.what} has format version {header.get('format_version')!r}; "
                                  f"this fastdnn reads version {FORMAT_VERSION}.")
        self.header = header
        self.start = len(prefix) + length
        self.tensors = {}
        for entry in header["tensors"]:
            self._check_entry(entry, size - self.start)

    def _check_entry(self, entry, data_size):
        try:
            name, dtype, shape = entry["name"], entry["dtype"], entry["shape"]
            offset, nbytes = entry["offset"], entry["nbytes"]
        except (TypeError, KeyError):
            raise FileFormatError(f"{self.what}: malformed tensor entry {entry!r:.200}.") from None
        if dtype not in _DTYPES:
            raise FileFormatError(f"{self.what}: tensor {name!r:.100} has dtype {dtype!r:.50}; "
                                  f"expected one of {sorted(_DTYPES)}.")
        ints = [offset, nbytes] + (shape if isinstance(shape, list) else [None])
        if not all(type(v) is int and v >= 0 for v in ints):
            raise FileFormatError(f"{self.what}: tensor {name!r:.100} has a malformed shape, "
                                  "offset or size (expected non-negative integers).")
        if math.prod(shape) * np.dtype(dtype).itemsize != nbytes:
            raise FileFormatError(f"{self.what}: tensor {name!r:.100} declares shape {shape} "
                                  f"({dtype}) but {nbytes:,} bytes.")
        if offset + nbytes > data_size:
            raise FileFormatError(f"{self.what} is truncated: tensor {name!r:.100} ends at byte "
                                  f"{self.start + offset + nbytes:,} of {self.start + data_size:,}.")
        self.tensors[name] = (np.dtype(dtype), tuple(shape), offset)

    def read(self, name):
        if name not in self.tensors:
            raise FileFormatError(f"{self.what} lacks tensor {name!r}.")
        dtype, shape, offset = self.tensors[name]
        out = np.empty(shape, dtype)
        self.f.seek(self.start + offset)
        view = memoryview(out.reshape(-1)).cast("B")
        if self.f.readinto(view) != out.nbytes:
            raise FileFormatError(f"{self.what} is truncated inside tensor {name!r}.")
        return out

    def weights(self):
        n = sum(1 for k in self.tensors if k.startswith("weights/"))
        return [self.read(f"weights/{i}") for i in range(n)]

    def weight_elements(self):
        return sum(math.prod(shape) for k, (_, shape, _) in self.tensors.items() if k.startswith("weights/"))

    def close(self):
        self.f.close()


def load_model(filepath, custom_objects=None, compile=True):
    file = _File(filepath)
    try:
        header = file.header
        if header.get("kind") != "model":
            raise FileFormatError(f"{file.what} holds weights only: build the model, then call "
                                  "model.load_weights(path).")
        model = state.build_model(header.get("config"), custom_objects, file.weight_elements(),
                                  file.what)
        state.assign_weights(model, file.weights(), file.what)
        compile_cfg = header.get("compile")
        if compile and compile_cfg is not None and compile_cfg.get("optimizer") is not None:
            state.restore_compile(model, compile_cfg, file.what)
            opt = header.get("optimizer")
            if opt is not None:
                if not isinstance(opt, dict):
                    raise FileFormatError(f"{file.what}: malformed optimizer entry.")
                names = model.optimizer.slot_names()
                n = len(model.trainable_weights)
                slots = {s: [file.read(f"optimizer/{s}/{i}") for i in range(n)] for s in names}
                state.restore_optimizer(model, {"iterations": opt.get("iterations", 0),
                                                "extra": opt.get("extra"), "slots": slots}, file.what)
        return model
    finally:
        file.close()


def load_weights(model, filepath):
    file = _File(filepath)
    try:
        state.assign_weights(model, file.weights(), file.what)
    finally:
        file.close()
