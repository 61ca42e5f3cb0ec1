"""Label and array helpers of `keras.utils`: to_categorical (one-hot labels) and normalize."""

import numbers

import numpy as np


def to_categorical(x, num_classes=None):
    """Converts integer class labels to one-hot rows, as `keras.utils.to_categorical`.

    Labels of shape `(..., 1)` (rank 2 or more) lose their last axis first, as in Keras 3, so
    `(N,)` and `(N, 1)` labels both give `(N, num_classes)`, `(N, 2)` labels give
    `(N, 2, num_classes)` and a single label gives `(num_classes,)`. The result is float32
    (what Keras 3 returns for NumPy arrays under its NumPy backend; its other backends return
    float64 there, with the same values). Unlike Keras, which wraps negative labels around or
    truncates fractional ones, labels must be integers in `[0, num_classes)`.

    Args:
        x: array-like of integer class labels (integral floats such as 2.0 are accepted).
        num_classes: the number of classes, or None to use `max(x) + 1`.

    Returns:
        A float32 NumPy array with a new last axis of size `num_classes`.

    Raises:
        ValueError: if a label is not an integer, is negative or is not below `num_classes`;
            if `num_classes` is not a positive integer; or if `x` is empty and `num_classes`
            is None.

    Example:
        >>> from fastdnn.utils import to_categorical
        >>> to_categorical([0, 2, 1], num_classes=3)
        array([[1., 0., 0.],
               [0., 0., 1.],
               [0., 1., 0.]], dtype=float32)
    """
    labels = np.asarray(x)
    if labels.dtype == object or not (np.issubdtype(labels.dtype, np.integer)
                                      or np.issubdtype(labels.dtype, np.floating)
                                      or labels.dtype == np.bool_):
        raise ValueError("The `x` argument of to_categorical must hold integer class labels. "
                         f"Received: x with dtype {labels.dtype}")
    if np.issubdtype(labels.dtype, np.floating):
        fractional = ~np.isfinite(labels) | (labels != np.round(labels))
        if fractional.any():
            raise ValueError("The `x` argument of to_categorical must hold integer class "
                             f"labels. Received: a label {labels[fractional][0]!r}")
    shape = labels.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    flat = labels.reshape(-1).astype(np.int64)
    if num_classes is None:
        if flat.size == 0:
            raise ValueError("to_categorical can't infer `num_classes` from empty labels: "
                             "pass num_classes. Received: x of shape "
                             f"{labels.shape} and num_classes=None")
        num_classes = int(flat.max()) + 1
    elif isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) \
            or num_classes < 1:
        raise ValueError("Received an invalid value for `num_classes`, expected a positive "
                         f"integer or None. Received: num_classes={num_classes!r}")
    num_classes = int(num_classes)
    if flat.size and (flat.min() < 0 or flat.max() >= num_classes):
        bad = flat[(flat < 0) | (flat >= num_classes)][0]
        raise ValueError(f"Class labels must be in [0, num_classes) = [0, {num_classes}). "
                         f"Received: a label {int(bad)}")
    categorical = np.zeros((flat.size, num_classes), dtype=np.float32)
    categorical[np.arange(flat.size), flat] = 1.0
    return categorical.reshape(shape + (num_classes,))


def normalize(x, axis=-1, order=2):
    """Divides an array by its norm along an axis, as `keras.utils.normalize`.

    The norm is `np.linalg.norm(x, order, axis)`; where it is 0 the values are left as they are
    (all zeros). The result has the shape of `x`; Keras 3 gives a 1-D array back as shape
    `(1, n)` and breaks on `axis=0` for a non-square 2-D array, which fastdnn does not copy.

    Args:
        x: array-like to normalize (a NumPy array or anything `np.asarray` takes).
        axis: the axis (or pair of axes, or None) along which to take the norm, as in
            `np.linalg.norm`.
        order: the order of the norm (2 for L2, 1 for L1, `np.inf` for the largest magnitude,
            ...), as in `np.linalg.norm`.

    Returns:
        A normalized copy of `x`: a NumPy array of its float dtype (float64 for integers).

    Raises:
        ValueError: for an axis out of range or an order `np.linalg.norm` does not take.

    Example:
        >>> import numpy as np
        >>> from fastdnn.utils import normalize
        >>> normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
        array([[0.6, 0.8],
               [0. , 0. ]])
    """
    x = np.asarray(x)
    norm = np.linalg.norm(x, order, axis, keepdims=True)  # numpy's AxisError is a ValueError
    norm[norm == 0] = 1
    return x / norm
