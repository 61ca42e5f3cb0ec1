"""fastdnn.metrics: Keras 3 metrics, computed with NumPy and accumulated in float64.

A metric function maps (y_true, y_pred) to one value per sample; a `Metric` object accumulates
them over batches (`update_state`), reports a Python float (`result`) and starts over
(`reset_state`). Metrics never touch the GradientTape.

    >>> import numpy as np
    >>> m = SparseCategoricalAccuracy()
    >>> m.update_state([2, 1], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]])
    >>> m.update_state([0], [[0.9, 0.1, 0.0]], sample_weight=[2.0])
    >>> m.result()
    0.75

Modules: `metric` (the base class), `reduction_metrics` (Mean, MeanMetricWrapper),
`accuracy_metrics`, `regression_metrics`, `confusion_metrics` (TruePositives ... Precision,
Recall), `auc` (AUC) and `metrics_utils` (the shared confusion counts). This package holds the
registry of names and `resolve`, which picks what compile(metrics=[...]) tracks.
"""

import numpy as np

from .. import losses as losses_module
from .accuracy_metrics import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from .auc import AUC
from .confusion_metrics import (
    FalseNegatives,
    FalsePositives,
    Precision,
    Recall,
    TrueNegatives,
    TruePositives,
)
from .metric import _ENTRIES, FAMILY, Metric, _snake_case
from .reduction_metrics import Mean, MeanMetricWrapper
from .regression_metrics import (
    MAE,
    MSE,
    MeanAbsoluteError,
    MeanSquaredError,
    RootMeanSquaredError,
    mae,
    mean_absolute_error,
    mean_squared_error,
    mse,
)

__all__ = [
    "AUC",
    "MAE",
    "MSE",
    "Accuracy",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "FalseNegatives",
    "FalsePositives",
    "Mean",
    "MeanAbsoluteError",
    "MeanMetricWrapper",
    "MeanSquaredError",
    "Metric",
    "Precision",
    "Recall",
    "RootMeanSquaredError",
    "SparseCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy",
    "TopKCategoricalAccuracy",
    "TrueNegatives",
    "TruePositives",
    "accuracy",
    "binary_accuracy",
    "categorical_accuracy",
    "deserialize",
    "get",
    "mae",
    "mean_absolute_error",
    "mean_squared_error",
    "mse",
    "resolve",
    "serialize",
    "sparse_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
    "top_k_categorical_accuracy",
]

# ---- registry ----------------------------------------------------------------------------------

_CLASSES = (AUC, Accuracy, BinaryAccuracy, CategoricalAccuracy, FalseNegatives, FalsePositives,
            Mean, MeanAbsoluteError, MeanMetricWrapper, MeanSquaredError, Metric, Precision, Recall,
            RootMeanSquaredError, SparseCategoricalAccuracy, SparseTopKCategoricalAccuracy,
            TopKCategoricalAccuracy, TrueNegatives, TruePositives)
_FUNCTIONS = (accuracy, binary_accuracy, categorical_accuracy, mean_absolute_error,
              mean_squared_error, sparse_categorical_accuracy, sparse_top_k_categorical_accuracy,
              top_k_categorical_accuracy)

_REGISTRY = _ENTRIES
_REGISTRY.update({obj.__name__: obj for obj in _CLASSES + _FUNCTIONS})
_REGISTRY.update({  # the cross-entropy loss functions, which Keras exports as metrics too
    fn.__name__: fn for fn in (losses_module.binary_crossentropy,
                               losses_module.categorical_crossentropy,
                               losses_module.sparse_categorical_crossentropy)})
# Keras 3 also knows each class by its snake_case name ("auc" gives AUC()); where a function has
# that name ("mean_squared_error"), the function stays: the same values under the same name.
_REGISTRY.update({_snake_case(cls.__name__): cls for cls in _CLASSES
                  if cls not in (Metric, MeanMetricWrapper, Mean)
                  and _snake_case(cls.__name__) not in _REGISTRY})
_REGISTRY.update({  # Keras 3's aliases
    "mae": mean_absolute_error, "MAE": mean_absolute_error,
    "mse": mean_squared_error, "MSE": mean_squared_error,
})
_NAMES = sorted(k for k in _REGISTRY if k not in ("Metric", "MeanMetricWrapper"))
FAMILY.names = _NAMES

_FAMILY = FAMILY
_lookup = _FAMILY.lookup
serialize = _FAMILY.serialize
deserialize = _FAMILY.deserialize


def get(identifier):
    """Returns the metric an identifier names, as Keras's `metrics.get` does.

    Args:
        identifier: None (returns None); a `Metric` or any callable(y_true, y_pred) (returned
            as is); a Metric class (instantiated); a class name ("SparseCategoricalAccuracy",
            giving an instance), a class's snake_case name without a function of that name
            ("auc", "precision", "root_mean_squared_error", giving an instance) or a function
            name or alias ("sparse_categorical_accuracy", "mse", giving the function); or a dict
            {"class_name": ..., "config": ...}.

    Example:
        >>> get("CategoricalAccuracy").name
        'categorical_accuracy'
        >>> type(get("auc")).__name__, get("top_k_categorical_accuracy").__name__
        ('AUC', 'top_k_categorical_accuracy')

    Raises:
        ValueError: for an unknown name or anything that is not a metric.
    """
    return _FAMILY.get(identifier)


_ACCURACY_FOR_LOSS = (
    (losses_module.sparse_categorical_crossentropy, SparseCategoricalAccuracy),
    (losses_module.categorical_crossentropy, CategoricalAccuracy),
    (losses_module.binary_crossentropy, BinaryAccuracy),
)


def _accuracy_class(loss, y_true, y_pred):
    """Keras's choice of accuracy: by the cross-entropy loss, else by the shapes of the data."""
    loss_obj = losses_module.get(loss)
    fn = loss_obj.fn if isinstance(loss_obj, losses_module.LossFunctionWrapper) else loss_obj
    for loss_fn, cls in _ACCURACY_FOR_LOSS:
        if fn is loss_fn:
            return cls
    if y_true is None or y_pred is None:
        raise ValueError(
            f"Cannot tell which accuracy 'accuracy' means for loss={loss!r}: pass y_true and "
            "y_pred (a batch, or arrays of the right shapes), or name the metric: "
            "'sparse_categorical_accuracy', 'categorical_accuracy' or 'binary_accuracy'.")
    true_shape, pred_shape = np.shape(y_true), np.shape(y_pred)
    if pred_shape[-1] == 1:
        return BinaryAccuracy
    if len(true_shape) < len(pred_shape) or true_shape[-1] == 1:
        return SparseCategoricalAccuracy
    return CategoricalAccuracy


def resolve(identifier, loss=None, y_true=None, y_pred=None):
    """The `Metric` object that `compile(metrics=[identifier], loss=loss)` tracks (None for None).

    "accuracy" and "acc" (any case) become SparseCategoricalAccuracy for a sparse categorical
    cross-entropy loss, CategoricalAccuracy for a categorical one and BinaryAccuracy for a
    binary one; for any other loss the shapes of y_true and y_pred decide, as in Keras 3
    (y_pred ending in 1: binary; y_true of lower rank or ending in 1: sparse; else categorical).
    The metric keeps the name it was asked by ("accuracy"), so logs read "accuracy" and
    "val_accuracy". Other strings resolve through `get` and also keep their spelling as the name
    ("mse" logs as "mse"); functions are wrapped in a `MeanMetricWrapper`.

    Args:
        identifier: anything `get` accepts, or "accuracy"/"acc".
        loss: the compiled loss: a name, Loss instance or class, function or config dict.
        y_true: optional targets (or any array of their shape), used when the loss is not a
            cross-entropy.
        y_pred: optional predictions (or any array of their shape), likewise.

    Example:
        >>> m = resolve("accuracy", "sparse_categorical_crossentropy")
        >>> type(m).__name__, m.name
        ('SparseCategoricalAccuracy', 'accuracy')

    Raises:
        ValueError: for an unknown identifier, or "accuracy" with a loss that does not decide
            it and no y_true/y_pred.
    """
    if identifier is None:
        return None
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        return _accuracy_class(loss, y_true, y_pred)(name=identifier)
    metric = get(identifier)
    if not isinstance(metric, Metric):
        metric = MeanMetricWrapper(metric)
    if isinstance(identifier, str):
        metric.name = identifier
    return metric
