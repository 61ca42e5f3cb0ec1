"""TensorBoard: writes what `fit` logs as TensorBoard event files, in Keras 3's layout."""

import itertools
import numbers
import os
import time
import warnings
import weakref

import numpy as np

from ._helpers import learning_rate_of
from .callback import Callback

_HISTOGRAM_BUCKETS = 30  # tf.summary.histogram's default, which Keras 3's callback uses
# tensorboardX names an event file by the second and the host only, and truncates a file of the
# same name: the process id and a count make each writer's file its own, as TensorFlow's are.
_FILE_COUNT = itertools.count()


def _tensorboardx():
    """tensorboardX's event file writer, summary builders and Event message, imported only when
    a TensorBoard callback meets a model.

    tensorboardX's `EventsWriter` (what its `SummaryWriter` writes with, from a background
    thread) is used directly: each event is in the file when the call returns, so a flush at an
    epoch's end really holds the epoch, where `SummaryWriter.flush` leaves queued events out.

    Raises:
        ImportError: if tensorboardX is not installed.
    """
    try:
        from tensorboardX import summary
        from tensorboardX.event_file_writer import EventsWriter
        from tensorboardX.proto.event_pb2 import Event
    except ImportError as error:
        raise ImportError("The TensorBoard callback writes its event files with tensorboardX, "
                          "which is not installed. Install it with: "
                          'pip install "fastdnn[tensorboard]"') from error
    return EventsWriter, summary, Event


def _check_count(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"Received an invalid value for `{name}`, expected a non-negative "
                         f"integer (0 turns it off). Received: {name}={value!r}")
    return int(value)


def _check_update_freq(update_freq):
    if update_freq in ("batch", "epoch"):
        return 1 if update_freq == "batch" else "epoch"
    if isinstance(update_freq, bool) or not isinstance(update_freq, numbers.Integral) \
            or update_freq < 1:
        raise ValueError('Received an invalid value for `update_freq`, expected "batch", '
                         f'"epoch" or a positive integer. Received: update_freq={update_freq!r}')
    return int(update_freq)


class TensorBoard(Callback):
    """Writes the logs of `fit` as TensorBoard event files: `tensorboard --logdir=<log_dir>`
    shows them.

    The layout and the tags are Keras 3's. Training data goes to `<log_dir>/train` and
    validation data to `<log_dir>/validation`, in new files for each model the callback is set
    on (their names hold the time, the host, the process id and a count, so that runs and
    processes sharing a directory never overwrite one another's files):

    - at each epoch end (step: the epoch index), `epoch_<name>` for each entry of the logs
      (`epoch_loss`, `epoch_accuracy`, ...) and `epoch_learning_rate` in `train`, and the `val_`
      entries, without the prefix, in `validation`. The learning rate is the optimizer's current
      one, as Keras 3 reads it: a schedule evaluated at the step count, i.e. the next step's
      rate (History's "learning_rate" is the rate the last step used);
    - at the end of each validation or `evaluate` run, `evaluation_<name>_vs_iterations` in
      `validation`, at step `model.optimizer.iterations`;
    - with `update_freq` "batch" or N, `batch_<name>` for the running averages of every N-th
      training batch, at step 1, 2, ... counted over the whole `fit` (Keras 3's numbering: the
      N-th, 2N-th, ... batch of training is written);
    - with `histogram_freq` N, a histogram (30 buckets, as Keras) of each weight of each layer
      every N epochs (epochs 0, N, 2N, ...), tagged `<weight.path>/histogram`, in `train`;
    - with `write_steps_per_second`, `epoch_steps_per_second` (steps since the epoch began over
      the epoch's time) and, at batch level, `batch_steps_per_second` (1 / the batch's time);
    - with `write_graph`, a Sequential or functional model's conceptual graph: its Keras JSON
      config under the tag "keras" in `train`, which TensorBoard's Graphs tab draws as it does
      for Keras 3. fastdnn has no TensorFlow graph, so no op-level graph is written (as Keras 3
      under the JAX, PyTorch or NumPy backends); a subclassed model writes nothing here.

    Unlike Keras 3, the epoch and evaluation scalars are always written: Keras 3 drops them when
    `update_freq` is an integer that does not divide the batch count (tensorboard issue #4975).
    The files are flushed after each epoch and each evaluation, and closed at the end of `fit`
    (the next `fit` with this callback writes new files); should `fit` raise, all it wrote up to
    the last epoch's end is on disk, and the rest is flushed when the callback is collected or
    Python exits. The event files are written with tensorboardX (`pip install
    "fastdnn[tensorboard]"`), imported when the callback is attached to a model.

    Args:
        log_dir: the directory of the event files (created if missing); no other callback
            should write there.
        histogram_freq: write weight histograms every `histogram_freq` epochs; 0 writes none.
            Weights with a NaN or infinity are skipped with a warning, empty ones skipped.
        write_graph: write the model's conceptual graph (see above).
        write_images: must be False: fastdnn does not write weights as images.
        write_steps_per_second: also write the training steps per second.
        update_freq: "epoch" (the default: epoch scalars only), "batch" (also every batch's
            scalars) or an integer N (also every N-th batch's). Only with "batch" or N does
            `fit` call the callback at each batch.
        profile_batch: must be 0: fastdnn has no profiler to run.
        embeddings_freq: must be 0: fastdnn does not write embedding projections.
        embeddings_metadata: must be None, for the same reason.

    Raises:
        ValueError: for a negative or non-integer `histogram_freq` or `embeddings_freq`, or an
            `update_freq` that is not "batch", "epoch" or a positive integer.
        NotImplementedError: for `write_images=True`, a non-zero `profile_batch` or
            `embeddings_freq`, or an `embeddings_metadata`.
        ImportError (when attached to a model): if tensorboardX is not installed.

    Example:
        >>> import fastdnn as keras
        >>> tensorboard_cb = keras.callbacks.TensorBoard("my_logs/run_1", histogram_freq=1)
        >>> # history = model.fit(X_train, y_train, epochs=20, callbacks=[tensorboard_cb],
        >>> #                     validation_data=(X_valid, y_valid))
        >>> tensorboard_cb.update_freq
        'epoch'
    """

    chief_only = True  # rank 0 alone, under DataParallel

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0,
                 embeddings_freq=0, embeddings_metadata=None):
        super().__init__()
        if write_images:
            raise NotImplementedError("fastdnn's TensorBoard callback does not write weights as "
                                      "images: pass write_images=False (the default). "
                                      f"Received: write_images={write_images!r}")
        if isinstance(profile_batch, bool) or not isinstance(profile_batch, numbers.Integral) \
                or profile_batch != 0:
            raise NotImplementedError("fastdnn's TensorBoard callback has no profiler: pass "
                                      "profile_batch=0 (the default). "
                                      f"Received: profile_batch={profile_batch!r}")
        if _check_count("embeddings_freq", embeddings_freq):
            raise NotImplementedError("fastdnn's TensorBoard callback does not write embedding "
                                      "projections: pass embeddings_freq=0 (the default). "
                                      f"Received: embeddings_freq={embeddings_freq!r}")
        if embeddings_metadata is not None:
            raise NotImplementedError("fastdnn's TensorBoard callback does not write embedding "
                                      "projections: pass embeddings_metadata=None (the default). "
                                      f"Received: embeddings_metadata={embeddings_metadata!r}")
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = _check_count("histogram_freq", histogram_freq)
        self.write_graph = bool(write_graph)
        self.write_images = False
        self.write_steps_per_second = bool(write_steps_per_second)
        self.update_freq = _check_update_freq(update_freq)
        self.embeddings_freq = 0
        self.embeddings_metadata = None
        self._train_dir = os.path.join(self.log_dir, "train")
        self._val_dir = os.path.join(self.log_dir, "validation")
        self._writers = {}  # "train"/"validation": (EventsWriter, its closing finalizer)
        self._tbx = None
        self._global_train_batch = 0
        self._previous_epoch_iterations = 0
        self._epoch_start_time = 0.0
        self._batch_start_time = 0.0
        if self.update_freq != "epoch":
            # Instance attributes rather than methods, so that `fit` calls the batch hooks only
            # for batch-level logging (CallbackList.wants_train_batches).
            self.on_train_batch_begin = self._start_batch
            self.on_train_batch_end = self._log_batch

    # ---- writers --------------------------------------------------------------------------------

    def _write(self, name, summary, step):
        """Appends `summary` at `step` to the "train" or "validation" event file, created with
        its directory on first use."""
        if name not in self._writers:
            directory = self._train_dir if name == "train" else self._val_dir
            os.makedirs(directory, exist_ok=True)
            suffix = f".{os.getpid()}.{next(_FILE_COUNT):06d}"
            writer = self._tbx[0](os.path.join(directory, "events"), suffix)
            # closed by _close_writers, or else when the callback is collected or Python exits
            self._writers[name] = (writer, weakref.finalize(self, writer.close))
        event = self._tbx[2](wall_time=time.time(), step=int(step), summary=summary)
        self._writers[name][0].write_event(event)

    def _close_writers(self):
        for _, close in self._writers.values():
            close()
        self._writers = {}

    def _flush_writers(self):
        for writer, _ in self._writers.values():
            writer.flush()

    def _scalar(self, name, tag, value, step):
        self._write(name, self._tbx[1].scalar(tag, float(value)), step)

    # ---- hooks ----------------------------------------------------------------------------------

    def set_model(self, model):
        """Sets the model, starts new event files and writes the model's graph if asked."""
        super().set_model(model)
        self._tbx = _tensorboardx()
        self._close_writers()
        if self.write_graph:
            self._write_model_config()

    def on_train_begin(self, logs=None):
        self._global_train_batch = 0
        self._previous_epoch_iterations = 0

    def on_train_end(self, logs=None):
        self._close_writers()

    def on_epoch_begin(self, epoch, logs=None):
        if self.write_steps_per_second:
            self._previous_epoch_iterations = self._iterations()
            self._epoch_start_time = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        """Writes the epoch's scalars, and the weight histograms every `histogram_freq`
        epochs."""
        self._log_epoch_metrics(epoch, logs)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)
        self._flush_writers()

    def on_test_end(self, logs=None):
        if getattr(self.model, "optimizer", None) is None or \
                not hasattr(self.model.optimizer, "iterations"):
            return
        for name, value in (logs or {}).items():
            self._scalar("validation", f"evaluation_{name}_vs_iterations", value,
                         self._iterations())
        self._flush_writers()

    def _start_batch(self, batch, logs=None):
        self._global_train_batch += 1
        if self.write_steps_per_second:
            self._batch_start_time = time.perf_counter()

    def _log_batch(self, batch, logs=None):
        step = self._global_train_batch
        if step % self.update_freq:
            return
        if self.write_steps_per_second:
            elapsed = time.perf_counter() - self._batch_start_time
            self._scalar("train", "batch_steps_per_second",
                         1.0 / elapsed if elapsed > 0 else float("inf"), step)
        if isinstance(logs, dict):
            for name, value in logs.items():
                self._scalar("train", f"batch_{name}", value, step)

    # ---- what is written ------------------------------------------------------------------------

    def _iterations(self):
        return int(getattr(getattr(self.model, "optimizer", None), "iterations", 0))

    def _log_epoch_metrics(self, epoch, logs):
        if not logs:
            return
        train_logs = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val_logs = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        learning_rate = learning_rate_of(self.model)
        if learning_rate is not None:
            train_logs["learning_rate"] = learning_rate
        if self.write_steps_per_second:
            elapsed = time.perf_counter() - self._epoch_start_time
            steps = self._iterations() - self._previous_epoch_iterations
            train_logs["steps_per_second"] = steps / elapsed if elapsed > 0 else float("inf")
        for name, value in train_logs.items():
            self._scalar("train", f"epoch_{name}", value, epoch)
        for name, value in val_logs.items():
            self._scalar("validation", f"epoch_{name}", value, epoch)

    def _log_weights(self, epoch):
        for layer in self.model.layers:
            for weight in layer.weights:
                values = np.asarray(weight.numpy())
                if values.size == 0:
                    continue  # nothing to count: tensorboardX refuses empty histograms
                tag = f"{weight.path.replace(':', '_')}/histogram"
                if not np.isfinite(values).all():
                    warnings.warn(f"TensorBoard: no histogram of `{weight.path}` at epoch {epoch}: "
                                  "it holds NaN or infinite values.", stacklevel=2)
                    continue
                self._write("train", self._tbx[1].histogram(tag, values, _HISTOGRAM_BUCKETS),
                            epoch)

    def _write_model_config(self):
        """The model's Keras JSON config as a "graph_keras_model" summary, which TensorBoard's
        Graphs tab draws (what Keras 3 writes for Sequential and functional models)."""
        if type(self.model).__name__ not in ("Functional", "Sequential"):
            return
        try:
            config = self.model.to_json()
        except (TypeError, ValueError, NotImplementedError) as error:  # as Keras: it still trains
            warnings.warn(f"Model failed to serialize as JSON. Ignoring... {error}", stacklevel=3)
            return
        from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata
        from tensorboardX.proto.tensor_pb2 import TensorProto
        from tensorboardX.proto.types_pb2 import DT_STRING

        metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(
            plugin_name="graph_keras_model", content=b"1"))
        tensor = TensorProto(dtype=DT_STRING, string_val=[config.encode("utf-8")])
        summary = Summary(value=[Summary.Value(tag="keras", metadata=metadata, tensor=tensor)])
        self._write("train", summary, 0)
        self._flush_writers()
