"""A `tf.data.Dataset`, read as NumPy batches (TensorFlow is only imported by the caller)."""

from .data_adapter import DataAdapter
from .data_adapter_utils import standardize_batch


class TFDatasetAdapter(DataAdapter):
    """Batches of a batched `tf.data.Dataset`; its cardinality gives the batches per epoch."""

    def __init__(self, dataset, class_weight=None):
        self._dataset = dataset
        self._class_weight = class_weight

    @property
    def num_batches(self):
        count = int(self._dataset.cardinality())
        return count if count >= 0 else None  # -1: infinite, -2: unknown

    def get_numpy_iterator(self):
        for batch in self._dataset.as_numpy_iterator():
            yield standardize_batch(batch, "A tf.data.Dataset", self._class_weight)


def is_tf_dataset(x):
    """Whether `x` is a tf.data.Dataset (checked by class name: TensorFlow is not imported)."""
    return any(cls.__name__ in ("DatasetV2", "DistributedDataset", "DistributedDatasetsFromFunction")
               and "tensorflow.python." in str(cls.__module__) for cls in type(x).__mro__)
