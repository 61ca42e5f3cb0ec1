"""Helpers the data adapters share: batches as NumPy tuples, class weights as sample weights,
and the errors for arguments a kind of input cannot take."""

import numpy as np

from ...layers.keras_tensor import flatten
from .. import data as data_utils


def class_weight_to_sample_weights(y, class_weight):
    """Per-sample weights (float32, one per row of `y`) from a {class index: weight} dict, as
    Keras: one-hot targets are read by their argmax, (N, 1) targets squeezed, values rounded to
    integer classes; a class missing from the dict weighs 1.

    Raises:
        TypeError: for a class_weight that is not a dict.
        ValueError: for keys or values that are not numbers, or several outputs.
    """
    if not isinstance(class_weight, dict):
        raise TypeError(f"`class_weight` must be a dict mapping class indices to weights. "
                         f"Received: class_weight={class_weight!r}")
    if isinstance(y, (list, tuple, dict)) and len(flatten(y)) != 1:
        raise ValueError("`class_weight` is only supported for Models with a single output.")
    y = np.asarray(flatten(y)[0] if isinstance(y, (list, tuple, dict)) else y)
    if y.ndim > 1:
        y = np.argmax(y, axis=-1) if y.shape[-1] != 1 else np.squeeze(y, axis=-1)
    labels = np.round(y).astype(np.int64).reshape(-1)
    try:
        keys = np.array([int(k) for k in class_weight], np.int64)
        values = np.array([float(v) for v in class_weight.values()], np.float32)
    except (TypeError, ValueError):
        raise ValueError(f"`class_weight` must map integer class indices to numbers. "
                         f"Received: class_weight={class_weight!r}") from None
    weights = np.ones(labels.shape[0], np.float32)
    if keys.size and labels.size:
        lo = min(int(keys.min()), int(labels.min()))
        table = np.ones(max(int(keys.max()), int(labels.max())) - lo + 1, np.float32)
        table[keys - lo] = values
        weights = table[labels - lo]
    return weights


def standardize_batch(batch, where, class_weight=None):
    """A batch from a generator, PyDataset or loader as a tuple (x,), (x, y) or (x, y, sw) of
    NumPy structures (x as float32), with class weights turned into sample weights.

    Raises:
        ValueError: for a batch that is not such a tuple, or class and sample weights together.
    """
    if isinstance(batch, list):
        batch = tuple(batch)
    if not isinstance(batch, tuple):
        batch = (batch,)
    if len(batch) not in (1, 2, 3):
        raise ValueError(f"{where} must yield `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)`. Received a "
                         f"tuple of {len(batch)} elements: {str(batch)[:100]}")
    x = data_utils.standardize(_numpy(batch[0]), "x")
    out = (x,)
    if len(batch) > 1:
        out += (data_utils.standardize(_numpy(batch[1]), "y", inputs=False),)
    if len(batch) > 2 and batch[2] is not None:
        if class_weight is not None:
            raise ValueError("You cannot specify `class_weight` and `sample_weight` at the same time.")
        out += (data_utils.standardize(_numpy(batch[2]), "sample_weight"),)
    elif class_weight is not None and len(batch) > 1:
        out += (class_weight_to_sample_weights(out[1], class_weight),)
    return out


def _numpy(value):
    """Tensors of other frameworks (PyTorch, TensorFlow) in a structure as NumPy arrays."""
    if value is None or isinstance(value, np.ndarray):
        return value
    if isinstance(value, dict):
        return {k: _numpy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_numpy(v) for v in value)
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch.Tensor
        return value.detach().cpu().numpy()
    if hasattr(value, "numpy") and callable(value.numpy):  # a tf.Tensor
        return value.numpy()
    return value


def raise_unsupported_arg(arg_name, arg_description, input_type):
    """The error for `y`/`sample_weight` given beside an `x` that carries them itself."""
    raise ValueError(f"When providing `x` as a {input_type}, `{arg_name}` should not be passed. Instead, "
                     f"{arg_description} should be included as part of the {input_type}.")
