"""BackupAndRestore: `fit` resumes where an interrupted run (a crash, a killed process) stopped."""

import os

import numpy as np

from .. import noise
from .. import random as random_module
from ..saving._atomic import atomic_write
from .callback import Callback

_FILE = "backup.npz"


class BackupAndRestore(Callback):
    """Backs up the model's weights, the optimizer's state, the epoch and the random state (the
    shuffling's and the dropout streams') at the end of every epoch (or every `save_freq`
    batches), atomically; a later `fit` with the same callback restores them and resumes at the
    next epoch, so that the run ends with the weights an uninterrupted one would have (same
    seed, data and callbacks). The backup is deleted when training completes, unless
    `delete_checkpoint=False`.

    Args:
        backup_dir: the folder of the backup (made if missing).
        save_freq: "epoch", or an integer N: also back up every N batches. A run restored from
            such a mid-epoch backup restarts that epoch, from the weights of the backup, as
            Keras's does; only epoch-end backups resume to the uninterrupted run's weights.
        double_checkpoint: keep the previous backup beside the latest (`backup.npz.prev`), used
            when the latest cannot be read.
        delete_checkpoint: delete the backup at the end of a completed `fit`.

    Raises:
        ValueError: for an empty `backup_dir` or a bad `save_freq`.
    """

    chief_only = True  # rank 0 alone, under DataParallel

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False, delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("Empty `backup_dir` argument passed")
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq < 1):
            raise ValueError(f'Invalid value for argument `save_freq`: expected "epoch" or a positive integer. '
                             f"Received: save_freq={save_freq!r}")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = bool(double_checkpoint)
        self.delete_checkpoint = bool(delete_checkpoint)
        self._path = os.path.join(self.backup_dir, _FILE)
        self._resume = None
        self._epoch = 0
        self._batches = 0
        self._epoch_random = None

    # ---- the hooks --------------------------------------------------------------------------------

    def on_train_begin(self, logs=None):
        self._resume = None
        for path in (self._path, self._path + ".prev"):
            if os.path.exists(path):
                try:
                    self._resume = self._restore(path)
                    break
                except (OSError, ValueError, KeyError) as error:
                    if not self.double_checkpoint or path.endswith(".prev"):
                        raise ValueError(f"BackupAndRestore cannot read its backup {path!r} ({error}); delete it "
                                         "to start over.") from None

    def resume_epoch(self):
        return self._resume

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._epoch_random = _random_state()

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq != "epoch":
            self._batches += 1
            if self._batches % self.save_freq == 0:
                self._backup(self._epoch, self._epoch_random)  # resumes this epoch from its start

    def on_epoch_end(self, epoch, logs=None):
        self._backup(epoch + 1, _random_state())

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and not getattr(self.model, "stop_training", False):
            for path in (self._path, self._path + ".prev"):
                if os.path.exists(path):
                    os.remove(path)

    # ---- the backup -----------------------------------------------------------------------------

    def _backup(self, next_epoch, random_state):
        model = self.model
        state = model.optimizer.get_state(model.trainable_weights)
        arrays = {f"weight_{i}": w for i, w in enumerate(model.get_weights())}
        for name, values in state["slots"].items():
            for i, value in enumerate(values):
                arrays[f"slot_{name}_{i}"] = value
        for name, value in state["extra"].items():
            arrays[f"extra_{name}"] = np.array(value, np.float64)
        arrays["iterations"] = np.array(state["iterations"], np.int64)
        arrays["epoch"] = np.array(next_epoch, np.int64)
        arrays["learning_rate"] = np.array(float(model.optimizer.learning_rate), np.float64) \
            if model.optimizer.schedule is None else np.array(np.nan)
        arrays.update(random_state)
        arrays["noise_steps"] = np.array([stream.step for stream in _noise_streams(model)], np.int64)
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint and os.path.exists(self._path):
            os.replace(self._path, self._path + ".prev")
        with atomic_write(self._path) as f:
            np.savez(f, **arrays)

    def _restore(self, path):
        model = self.model
        with np.load(path, allow_pickle=False) as data:
            count = len(model.get_weights())
            model.set_weights([data[f"weight_{i}"] for i in range(count)])
            variables = model.trainable_weights
            names = model.optimizer.slot_names()
            state = {"iterations": int(data["iterations"]),
                     "extra": {k[len("extra_"):]: float(data[k]) for k in data.files if k.startswith("extra_")},
                     "slots": {n: [data[f"slot_{n}_{i}"] for i in range(len(variables))] for n in names}}
            model.optimizer.set_state(variables, state)
            if not np.isnan(data["learning_rate"]):
                model.optimizer.learning_rate = float(data["learning_rate"])
            _set_random_state(data)
            streams = _noise_streams(model)
            steps = data["noise_steps"]
            if len(steps) != len(streams):
                raise ValueError(f"the backup holds {len(steps)} dropout streams; the model has {len(streams)}")
            for stream, step in zip(streams, steps):
                stream.step = int(step)  # the next dropout masks, as the interrupted run drew them
            return int(data["epoch"])


def _noise_streams(model):
    """The random streams of the model's noise layers (dropout family), in layer order."""
    return [value for layer in model._flatten_layers() for value in vars(layer).values()
            if isinstance(value, noise.NoiseStream)]


def _random_state():
    """NumPy's legacy global state (fit's shuffling) and fastdnn's global streams, as arrays."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    generator = random_module.global_generator().bit_generator.state
    seed, streams = random_module.philox_state()
    return {"np_keys": keys, "np_pos": np.array([pos, has_gauss], np.int64), "np_gauss": np.array(cached),
            "pcg_state": np.array([generator["state"]["state"], generator["state"]["inc"]], dtype=object).astype(str),
            "pcg_extra": np.array([generator["has_uint32"], generator["uinteger"]], np.int64),
            "philox": np.array([str(seed), str(streams)])}


def _set_random_state(data):
    pos, has_gauss = (int(v) for v in data["np_pos"])
    np.random.set_state(("MT19937", data["np_keys"], pos, has_gauss, float(data["np_gauss"])))
    state, inc = (int(v) for v in data["pcg_state"])
    has_uint32, uinteger = (int(v) for v in data["pcg_extra"])
    random_module.global_generator().bit_generator.state = {
        "bit_generator": "PCG64", "state": {"state": state, "inc": inc}, "has_uint32": has_uint32,
        "uinteger": uinteger}
    seed, streams = (int(v) for v in data["philox"])
    random_module.set_philox_state(seed, streams)
