"""Run by test_backup_and_restore.py in a subprocess: a short fit with BackupAndRestore, which
kills its own process (SIGKILL) at a given batch of a given epoch when asked.

    python backup_run.py BACKUP_DIR OUT.npz [KILL_EPOCH KILL_BATCH]
"""

import os
import signal
import sys

import numpy as np

import fastdnn as keras


def main(backup_dir, out, kill_epoch=None, kill_batch=None):
    keras.utils.set_random_seed(4)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 6)).astype(np.float32)
    y = (x[:, :3].sum(1) > 0).astype(np.int64)
    model = keras.Sequential([keras.layers.Input((6,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dropout(0.2), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Nadam(learning_rate=0.01), loss="sparse_categorical_crossentropy")
    callbacks = [keras.callbacks.BackupAndRestore(backup_dir)]
    if kill_epoch is not None:
        state = {"epoch": -1}
        callbacks.append(keras.callbacks.LambdaCallback(
            on_epoch_begin=lambda epoch, logs: state.update(epoch=epoch),
            on_train_batch_end=lambda batch, logs: os.kill(os.getpid(), signal.SIGKILL)
            if state["epoch"] == int(kill_epoch) and batch == int(kill_batch) else None))
    history = model.fit(x, y, batch_size=16, epochs=5, verbose=0, callbacks=callbacks)
    np.savez(out, epochs=np.array(history.epoch), **{f"w{i}": w for i, w in enumerate(model.get_weights())})


if __name__ == "__main__":
    main(*sys.argv[1:])
