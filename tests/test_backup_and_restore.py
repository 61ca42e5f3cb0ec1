"""BackupAndRestore: a training process killed (SIGKILL) mid-epoch and started again ends with
the weights of an uninterrupted run (same seed, data and callbacks)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastdnn as keras

SCRIPT = Path(__file__).with_name("backup_run.py")


def run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                          timeout=300, check=False, env={**os.environ, "FASTDNN_NUM_THREADS": "1"})


@pytest.mark.skipif(not hasattr(os, "kill") or sys.platform == "win32", reason="needs SIGKILL")
def test_a_killed_run_resumes_to_the_uninterrupted_weights(tmp_path):
    done = run(tmp_path / "plain", tmp_path / "plain.npz")
    assert done.returncode == 0, done.stderr[-2000:]
    killed = run(tmp_path / "backup", tmp_path / "never.npz", 2, 5)
    assert killed.returncode == -9  # killed inside epoch 3 (from 1), after two epoch-end backups
    assert (tmp_path / "backup" / "backup.npz").exists() and not (tmp_path / "never.npz").exists()
    resumed = run(tmp_path / "backup", tmp_path / "resumed.npz")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    plain, again = np.load(tmp_path / "plain.npz"), np.load(tmp_path / "resumed.npz")
    assert list(again["epochs"]) == [2, 3, 4]  # the restart ran only the epochs left
    for i in range(4):
        np.testing.assert_array_equal(again[f"w{i}"], plain[f"w{i}"])  # same steps, same bits
    assert not (tmp_path / "backup" / "backup.npz").exists()  # deleted once training completed


def test_bad_arguments_and_an_unreadable_backup(tmp_path):
    with pytest.raises(ValueError, match="backup_dir"):
        keras.callbacks.BackupAndRestore("")
    with pytest.raises(ValueError, match="save_freq"):
        keras.callbacks.BackupAndRestore(tmp_path, save_freq=0)
    (tmp_path / "backup.npz").write_bytes(b"not a backup")
    model = keras.Sequential([keras.layers.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="cannot read its backup"):
        model.fit(np.zeros((4, 2)), np.zeros((4, 1)), verbose=0,
                  callbacks=[keras.callbacks.BackupAndRestore(tmp_path)])
