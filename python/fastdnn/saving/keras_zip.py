"""Keras 3's `.keras` format: a zip archive of three members, which Keras writes uncompressed.

    metadata.json      {"keras_version", "date_saved"} (fastdnn adds "fastdnn_version")
    config.json        the model's Keras config (keras_config.py), with "compile_config"
    model.weights.h5   the weights and optimizer state in Keras 3's layout (keras_weights.py)

Reading never extracts to disk and reads each member through a size cap: member names must be
plain relative paths (no '..', leading '/', backslash or drive), each appears once, and a
member may declare at most MAX_RATIO times its stored size when larger than 1 MiB (deflate
cannot honestly exceed ~1030:1; Keras stores members 1:1), so a zip bomb is refused before it
is inflated.
"""

import datetime
import io
import json
import zipfile
import zlib

from .._version import __version__
from . import _guard, _h5, keras_config, keras_training, keras_weights, state
from ._atomic import atomic_write
from ._guard import FileFormatError

CONFIG, METADATA, WEIGHTS = "config.json", "metadata.json", "model.weights.h5"
MAX_MEMBERS = 1000
MAX_RATIO = 100
RATIO_FLOOR = 1 << 20
_METADATA_BYTES = 1 << 20


def save_model(model, filepath, include_optimizer=True):
    """Writes `model` as a Keras 3 `.keras` file (see the module docstring)."""
    h5py = _h5.require_h5py()
    config = keras_config.to_keras(model)  # refuses what Keras lacks before anything is written
    # As Keras's `.h5` writer does, no optimizer means no compile settings at all.
    compile_config = keras_training.compile_to_keras(model) if include_optimizer else None
    if compile_config is not None:
        config["compile_config"] = compile_config
    weights = io.BytesIO()
    with h5py.File(weights, "w") as h5file:
        keras_weights.write(h5file, model, optimizer=include_optimizer)
    metadata = {"keras_version": keras_config.KERAS_VERSION, "fastdnn_version": __version__,
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}
    with atomic_write(filepath) as f, zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(METADATA, json.dumps(metadata))
        archive.writestr(CONFIG, json.dumps(config))
        with archive.open(WEIGHTS, "w", force_zip64=True) as member:
            member.write(weights.getbuffer())


def save_weights(model, filepath):
    raise ValueError("A `.keras` file holds a whole model; save weights alone to a `.weights.h5` "
                     f"file or a fastdnn weights file. Received: {filepath!r}")


class _Archive:
    """An open `.keras` archive whose member list has been checked."""

    def __init__(self, filepath):
        self.what = f"Keras file {filepath!r}"
        self.file = open(filepath, "rb")
        try:
            self.zip = zipfile.ZipFile(self.file)
            self._check_members()
        except FileFormatError:
            self.file.close()
            raise
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
                NotImplementedError, RuntimeError) as e:
            self.file.close()
            raise FileFormatError(f"{self.what} is not a readable zip archive ({type(e).__name__}: "
                                  f"{e}); a `.keras` file is one. Truncated or corrupt?") from None

    def _check_members(self):
        infos = self.zip.infolist()
        if len(infos) > MAX_MEMBERS:
            raise FileFormatError(f"{self.what} has {len(infos):,} members; a `.keras` file has 3.")
        names = [info.filename for info in infos]
        for name in names:
            parts = name.split("/")
            if name.startswith("/") or "\\" in name or "\x00" in name or ".." in parts \
                    or ":" in parts[0]:
                raise FileFormatError(f"{self.what} holds a member named {name!r:.200}: absolute "
                                      "paths, '..', backslashes and drives are refused.")
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise FileFormatError(f"{self.what} holds member(s) {duplicates} more than once.")
        for name in (CONFIG, WEIGHTS):
            if name not in names:
                extra = " (npz weights are not supported)" if "model.weights.npz" in names else ""
                raise FileFormatError(f"{self.what} lacks '{name}'{extra}: not a Keras 3 model file.")

    def read(self, name, limit):
        """The member's bytes: at most `limit`, and at most MAX_RATIO × its stored size."""
        info = self.zip.getinfo(name)
        if info.flag_bits & 0x1:
            raise FileFormatError(f"{self.what}: member '{name}' is encrypted.")
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * info.compress_size:
            raise FileFormatError(
                f"{self.what}: member '{name}' declares {info.file_size:,} bytes but stores "
                f"{info.compress_size:,} (ratio over {MAX_RATIO}:1): a zip bomb, refused.")
        if info.file_size > limit:
            raise FileFormatError(f"{self.what}: member '{name}' declares {info.file_size:,} bytes; "
                                  f"at most {limit:,} are accepted. Corrupt or hostile.")
        try:
            with self.zip.open(info) as member:
                data = member.read(info.file_size + 1)
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error, ValueError,
                NotImplementedError, RuntimeError) as e:
            raise FileFormatError(f"{self.what}: member '{name}' cannot be read ({type(e).__name__}: "
                                  f"{e}). Truncated or corrupt.") from None
        if len(data) != info.file_size:
            raise FileFormatError(f"{self.what}: member '{name}' holds {len(data):,} bytes, not the "
                                  f"{info.file_size:,} it declares. Truncated or corrupt.")
        return data

    def weights(self):
        """The weights member, opened with h5py (in memory), and its survey."""
        size = self.file.seek(0, io.SEEK_END)
        data = self.read(WEIGHTS, MAX_RATIO * max(size, RATIO_FLOOR))
        h5file = _h5.open_file(data, f"{self.what} ('{WEIGHTS}')")
        return h5file, _h5.survey(h5file, self.what)

    def close(self):
        self.zip.close()
        self.file.close()


def load_model(filepath, custom_objects=None, compile=True):
    """Reads a `.keras` file: the model, its weights and (with `compile`) its compile settings
    and optimizer state."""
    _h5.require_h5py()
    archive = _Archive(filepath)
    what = archive.what
    try:
        config = _guard.parse_json(archive.read(CONFIG, _guard.MAX_CONFIG_BYTES),
                                   f"{what} ('{CONFIG}')")
        if not isinstance(config, dict):
            raise FileFormatError(f"{what}: '{CONFIG}' is not a JSON object.")
        h5file, groups = archive.weights()
        with h5file:
            model = state.build_model(keras_config.from_keras(config, custom_objects, what),
                                      custom_objects, keras_weights.weight_elements(groups), what)
            keras_weights.read(h5file, groups, model, what)
            compile_config = keras_training.compile_from_keras(
                config.get("compile_config"), what) if compile else None
            if compile_config is not None and compile_config["optimizer"] is not None:
                state.restore_compile(model, compile_config, what)
                datasets = keras_weights.optimizer_datasets(h5file, groups, what)
                if datasets is not None:
                    keras_training.restore_state(model, datasets, what)
        return model
    finally:
        archive.close()


def load_weights(model, filepath):
    """Loads the weights (and, for a compiled model, the optimizer state) of a `.keras` file."""
    _h5.require_h5py()
    archive = _Archive(filepath)
    try:
        h5file, groups = archive.weights()
        with h5file:
            keras_weights.read(h5file, groups, model, archive.what)
            datasets = keras_weights.optimizer_datasets(h5file, groups, archive.what)
            if datasets is not None and getattr(model, "optimizer", None) is not None:
                keras_training.restore_state(model, datasets, archive.what, strict=False)
    finally:
        archive.close()
