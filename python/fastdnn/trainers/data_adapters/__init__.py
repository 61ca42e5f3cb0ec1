"""Every kind of data `fit`, `evaluate` and `predict` take, as one interface (data_adapter.py),
as Keras 3's trainers/data_adapters:

    NumPy arrays, nested lists, lists/dicts of arrays   ArrayDataAdapter
    keras.utils.PyDataset (and Sequence)                 PyDatasetAdapter
    tf.data.Dataset                                      TFDatasetAdapter
    torch.utils.data.DataLoader                          TorchDataLoaderAdapter
    Python generators and iterators                      GeneratorDataAdapter
"""

import types
import warnings

import numpy as np

from ..._dispatch import on_device
from .. import data as data_utils
from .array_data_adapter import ArrayDataAdapter
from .data_adapter import DataAdapter
from .data_adapter_utils import raise_unsupported_arg
from .generator_data_adapter import GeneratorDataAdapter
from .py_dataset_adapter import PyDatasetAdapter
from .tf_dataset_adapter import TFDatasetAdapter, is_tf_dataset
from .torch_data_loader_adapter import TorchDataLoaderAdapter, is_torch_dataloader

__all__ = ["ArrayDataAdapter", "DataAdapter", "GeneratorDataAdapter", "PyDatasetAdapter", "TFDatasetAdapter",
           "TorchDataLoaderAdapter", "get_data_adapter", "is_array_like"]


def is_array_like(x):
    """Whether `x` is array data: an array (NumPy, on a device, or anything with __array__),
    nested lists of numbers, or a list/tuple/dict of such."""
    if x is None or isinstance(x, (np.ndarray, np.generic, int, float)) or on_device(x):
        return True
    if isinstance(x, dict):
        return all(is_array_like(v) for v in x.values())
    if isinstance(x, (list, tuple)):
        return all(is_array_like(v) for v in x)
    return hasattr(x, "__array__") and not is_torch_dataloader(x)


def _is_py_dataset(x):
    """A PyDataset of fastdnn or of Keras (a `Sequence`): batches by index, a length or
    `num_batches`."""
    from ...utils.py_dataset import PyDataset

    if isinstance(x, PyDataset):
        return True
    return any(cls.__name__ in ("PyDataset", "Sequence") and "keras" in str(cls.__module__)
               for cls in type(x).__mro__)


def get_data_adapter(x, y=None, sample_weight=None, batch_size=None, steps_per_epoch=None, shuffle=False,
                     class_weight=None, where="fit", shard=None):
    """The adapter for `x` (and `y`, `sample_weight`, which only arrays take separately).
    `shard` (a Communicator) cuts array data by rank; other kinds of data are each rank's own.

    Raises:
        ValueError: for an unrecognized kind of data, `y` or `sample_weight` beside data that
            carries them, or `class_weight` where the kind of data cannot take it.
    """
    if isinstance(x, DataAdapter):
        return x
    if is_array_like(x):
        if x is None:
            raise ValueError(f"{where}() needs data: pass x (and y).")
        if not is_array_like((y, sample_weight)):
            raise ValueError(f"When `x` holds arrays, `y` and `sample_weight` must be arrays too. Received: "
                             f"type(y)={type(y).__name__}, type(sample_weight)={type(sample_weight).__name__}")
        x = data_utils.standardize(x, "x")
        y = data_utils.standardize(y, "y", inputs=False)
        sample_weight = data_utils.standardize(sample_weight, "sample_weight")
        return ArrayDataAdapter(x, y, sample_weight, batch_size=batch_size, steps=steps_per_epoch,
                                shuffle=shuffle, class_weight=class_weight, where=where, shard=shard)
    kind, adapter = _other_kind(x)
    if y is not None:
        raise_unsupported_arg("y", "the targets", kind)
    if sample_weight is not None:
        raise_unsupported_arg("sample_weight", "the sample weights", kind)
    if class_weight is not None and kind in ("generator", "torch DataLoader"):
        raise ValueError(f"Argument `class_weight` is not supported for {kind} inputs: yield (x, y, sample_weight) "
                         f"instead. Received: class_weight={class_weight}")
    if shuffle and kind != "PyDataset":
        warnings.warn(f"`shuffle=True` was passed, but will be ignored since the data `x` was provided as a "
                      f"{kind}, which is expected to yield already-shuffled data.", stacklevel=3)
    if kind == "PyDataset":
        return PyDatasetAdapter(x, class_weight=class_weight, shuffle=shuffle)
    if kind == "tf.data.Dataset":
        return TFDatasetAdapter(x, class_weight=class_weight)
    return adapter(x)


def _other_kind(x):
    if is_tf_dataset(x):
        return "tf.data.Dataset", TFDatasetAdapter
    if _is_py_dataset(x):
        return "PyDataset", PyDatasetAdapter
    if is_torch_dataloader(x):
        return "torch DataLoader", TorchDataLoaderAdapter
    if isinstance(x, types.GeneratorType) or hasattr(x, "__next__"):
        return "generator", GeneratorDataAdapter
    raise ValueError(f"Unrecognized data type: x={str(x)[:100]} (of type {type(x).__name__}). fit, evaluate and "
                     "predict take NumPy arrays (or lists and dicts of them), a generator or iterator, a "
                     "keras.utils.PyDataset, a tf.data.Dataset or a torch DataLoader.")
