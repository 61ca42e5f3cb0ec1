"""The chapter's two recommended configurations as ready-made, compiled models.

`default_dnn` follows Table 11-3 (default DNN configuration): He initialization, ELU, Batch
Normalization when the network is deep, early stopping (plus ℓ2 regularization if asked),
momentum optimization or Nadam, and the 1cycle schedule.

`self_normalizing_dnn` follows Table 11-4 (self-normalizing net): LeCun initialization, SELU,
no normalization layers, alpha dropout if asked, momentum optimization or Nadam, 1cycle; its
inputs must be standardized, which `check_standardized` verifies.

Both return `(model, callbacks)`: pass the callbacks to `fit`, with validation data (early
stopping watches "val_loss").

    >>> import fastdnn
    >>> model, callbacks = fastdnn.presets.default_dnn([28, 28], n_classes=10, n_train=55000)
    >>> [type(cb).__name__ for cb in callbacks]
    ['EarlyStopping', 'OneCycleScheduler']
"""

import math
import warnings

import numpy as np

from . import callbacks as callbacks_module
from . import layers, optimizers, regularizers
from ._checks import check_integer
from .models import Sequential

# Table 11-3 says "None if shallow; Batch Norm if deep": networks with more hidden layers than
# this get Batch Normalization by default (the chapter's BN examples have 2; its deep examples
# that need BN, 20 to 100).
DEEP_NET_HIDDEN_LAYERS = 5

_DEFAULT_RATES = {"momentum": 1e-2, "nesterov": 1e-2, "nadam": 1e-3, "rmsprop": 1e-3}


def _optimizer(optimizer, learning_rate):
    """The table's optimizers by name, at `learning_rate` (the 1cycle peak when one is used)."""
    if not isinstance(optimizer, str):
        return optimizers.get(optimizer)
    if optimizer not in _DEFAULT_RATES:
        raise ValueError(f"Received an invalid value for `optimizer`, expected one of "
                         f"{sorted(_DEFAULT_RATES)} or an Optimizer. Received: optimizer={optimizer!r}")
    lr = _DEFAULT_RATES[optimizer] if learning_rate is None else learning_rate
    if optimizer in ("momentum", "nesterov"):
        return optimizers.SGD(learning_rate=lr, momentum=0.9, nesterov=optimizer == "nesterov")
    return optimizers.Nadam(learning_rate=lr) if optimizer == "nadam" else optimizers.RMSprop(learning_rate=lr)


def _head_and_compile(model, n_classes, optimizer, learning_rate):
    if n_classes is None:  # regression: one linear output
        model.add(layers.Dense(1))
        loss, metrics = "mse", []
    else:
        check_integer("n_classes", n_classes, 2)
        model.add(layers.Dense(n_classes, activation="softmax"))
        loss, metrics = "sparse_categorical_crossentropy", ["accuracy"]
    model.compile(optimizer=_optimizer(optimizer, learning_rate), loss=loss, metrics=metrics)
    return model


def _callbacks(model, patience, one_cycle, n_train, x, epochs, batch_size):
    cbs = [callbacks_module.EarlyStopping(patience=check_integer("patience", patience, 0),
                                          restore_best_weights=True)]
    n_train = len(x) if n_train is None and x is not None else n_train
    if one_cycle and n_train is not None:
        iterations = math.ceil(check_integer("n_train", n_train) / check_integer("batch_size", batch_size)) * check_integer("epochs", epochs)
        cbs.append(callbacks_module.OneCycleScheduler(iterations, max_rate=model.optimizer.current_learning_rate))
    return cbs


def default_dnn(input_shape, n_classes=10, n_hidden=3, n_units=100, *, optimizer="momentum",
                learning_rate=None, l2=None, batch_norm=None, patience=10, one_cycle=True,
                n_train=None, x=None, epochs=10, batch_size=32):
    """A compiled model and its callbacks after Table 11-3, the chapter's default configuration.

    Hidden layers: `n_hidden` × Dense(`n_units`, ELU, He normal initialization); with Batch
    Normalization each is Dense (no bias) → BatchNormalization → ELU, and the inputs are
    normalized too. Output: softmax over `n_classes` (sparse categorical cross-entropy and
    accuracy), or, with `n_classes=None`, one linear unit (MSE).

    Args:
        input_shape: shape of one sample, e.g. [28, 28] (flattened first).
        n_classes: number of classes (>= 2), or None for a regression.
        n_hidden: number of hidden layers.
        n_units: units per hidden layer.
        optimizer: "momentum" (SGD, momentum 0.9), "nesterov", "nadam", "rmsprop" or an
            Optimizer.
        learning_rate: the rate (the 1cycle peak); default 1e-2 for momentum, 1e-3 otherwise.
        l2: an ℓ2 factor for every hidden kernel (e.g. 1e-4), or None.
        batch_norm: True, False, or None for "if deep": more than `DEEP_NET_HIDDEN_LAYERS` (5)
            hidden layers.
        patience: early stopping's patience in epochs (the best weights are restored).
        one_cycle: add the 1cycle schedule (needs `n_train` or `x` to count the iterations).
        n_train: number of training samples (or give `x`, the training inputs).
        x: the training inputs, used only for their count.
        epochs, batch_size: the training run's, for the 1cycle schedule's length.

    Returns:
        (model, callbacks): a compiled `Sequential`, and [EarlyStopping, OneCycleScheduler].

    Example:
        >>> import fastdnn
        >>> model, callbacks = fastdnn.presets.default_dnn([28, 28], n_hidden=2, n_train=55000,
        ...                                                 epochs=10)
        >>> len(model.layers), model.optimizer.momentum
        (4, 0.9)

    Raises:
        ValueError: for invalid counts, factors or optimizer names.
    """
    n_hidden, n_units = check_integer("n_hidden", n_hidden, 0), check_integer("n_units", n_units)
    deep = n_hidden > DEEP_NET_HIDDEN_LAYERS if batch_norm is None else bool(batch_norm)
    reg = None if l2 is None else regularizers.L2(l2)
    model = Sequential([layers.Flatten(input_shape=list(input_shape))])
    if deep:
        model.add(layers.BatchNormalization())
    for _ in range(n_hidden):
        if deep:
            model.add(layers.Dense(n_units, kernel_initializer="he_normal", use_bias=False,
                                   kernel_regularizer=reg))
            model.add(layers.BatchNormalization())
            model.add(layers.Activation("elu"))
        else:
            model.add(layers.Dense(n_units, activation="elu", kernel_initializer="he_normal",
                                   kernel_regularizer=reg))
    _head_and_compile(model, n_classes, optimizer, learning_rate)
    return model, _callbacks(model, patience, one_cycle, n_train, x, epochs, batch_size)


def check_standardized(x, mean_tolerance=0.25, std_range=(0.5, 2.0), warn=True):
    """Whether each input feature looks standardized (mean ≈ 0, standard deviation ≈ 1), as a
    self-normalizing network needs; warns how to fix it when not.

    Features that are constant at 0 (e.g. always-black border pixels once standardized) are
    ignored.

    Args:
        x: sample inputs, (samples, features...) (features are flattened).
        mean_tolerance: largest |mean| accepted per feature.
        std_range: (lowest, highest) standard deviation accepted per feature.
        warn: emit a UserWarning when the inputs are not standardized.

    Returns:
        True when every feature passes.

    Example:
        >>> import numpy as np, fastdnn
        >>> x = np.random.default_rng(0).uniform(0, 255, (1000, 4))
        >>> fastdnn.presets.check_standardized(x, warn=False)
        False
        >>> fastdnn.presets.check_standardized((x - x.mean(0)) / x.std(0))
        True

    Raises:
        ValueError: for fewer than 2 samples or non-numeric inputs.
    """
    x = np.asarray(x)
    if x.dtype.kind not in "biuf" or x.ndim < 1 or len(x) < 2:
        raise ValueError("check_standardized needs numeric inputs with at least 2 samples. Received "
                         f"dtype={x.dtype}, shape={x.shape}.")
    flat = x.reshape(len(x), -1).astype(np.float64)
    means, stds = flat.mean(axis=0), flat.std(axis=0)
    live = ~((stds == 0) & (means == 0))
    ok = bool(live.any())
    if ok:
        means, stds = means[live], stds[live]
        ok = bool(np.all(np.abs(means) <= mean_tolerance) and np.all(stds >= std_range[0])
                  and np.all(stds <= std_range[1]))
    if not ok and warn:
        warnings.warn(
            "The inputs do not look standardized: per-feature means range over "
            f"[{means.min():.3g}, {means.max():.3g}] and standard deviations over "
            f"[{stds.min():.3g}, {stds.max():.3g}] (expected about 0 and 1). A self-normalizing "
            "network (SELU, LeCun normal) only self-normalizes on standardized inputs: use "
            "x = (x - mean) / std per feature, with the training set's mean = x_train.mean(axis=0) "
            "and std = x_train.std(axis=0) (or sklearn.preprocessing.StandardScaler), for the "
            "training, validation and test inputs alike.", UserWarning, stacklevel=2)
    return ok


def self_normalizing_dnn(input_shape, n_classes=10, n_hidden=10, n_units=100, *,
                         optimizer="momentum", learning_rate=None, alpha_dropout=None, patience=10,
                         one_cycle=True, n_train=None, x=None, epochs=10, batch_size=32):
    """A compiled self-normalizing model and its callbacks after Table 11-4.

    Hidden layers: `n_hidden` × Dense(`n_units`, SELU, LeCun normal initialization), no
    normalization layers, each followed by AlphaDropout(`alpha_dropout`) when a rate is given.
    Output as `default_dnn`. When sample inputs `x` are given they are checked with
    `check_standardized`, which warns how to standardize them if needed.

    Args:
        input_shape: shape of one sample (flattened first).
        n_classes: number of classes (>= 2), or None for a regression.
        n_hidden: number of hidden layers (self-normalization keeps deep stacks trainable).
        n_units: units per hidden layer.
        optimizer: "momentum" (SGD, momentum 0.9), "nesterov", "nadam", "rmsprop" or an
            Optimizer.
        learning_rate: the rate (the 1cycle peak); default 1e-2 for momentum, 1e-3 otherwise.
        alpha_dropout: the AlphaDropout rate after each hidden layer (e.g. 0.1), or None.
        patience: early stopping's patience in epochs (the best weights are restored).
        one_cycle: add the 1cycle schedule (needs `n_train` or `x`).
        n_train: number of training samples.
        x: the training inputs: counted for the 1cycle schedule and checked for standardization.
        epochs, batch_size: the training run's, for the 1cycle schedule's length.

    Returns:
        (model, callbacks): a compiled `Sequential`, and [EarlyStopping, OneCycleScheduler].

    Example:
        >>> import numpy as np, fastdnn
        >>> x = np.random.default_rng(0).normal(size=(100, 8))
        >>> model, callbacks = fastdnn.presets.self_normalizing_dnn([8], n_classes=3, n_hidden=4, x=x)
        >>> model.layers[1].activation.__name__, type(model.layers[1].kernel_initializer).__name__
        ('selu', 'LecunNormal')

    Raises:
        ValueError: for invalid counts, rates or optimizer names, or an alpha dropout rate when
            `fastdnn.layers.AlphaDropout` is not available.
    """
    n_hidden, n_units = check_integer("n_hidden", n_hidden, 0), check_integer("n_units", n_units)
    dropout = None
    if alpha_dropout is not None:
        dropout = getattr(layers, "AlphaDropout", None)
        if dropout is None:
            raise ValueError("alpha_dropout needs fastdnn.layers.AlphaDropout, which this version "
                             "does not provide; pass alpha_dropout=None.")
        if not (isinstance(alpha_dropout, (int, float)) and 0 <= alpha_dropout < 1):
            raise ValueError("Received an invalid value for `alpha_dropout`, expected a rate in "
                             f"[0, 1) or None. Received: alpha_dropout={alpha_dropout!r}")
    if x is not None:
        check_standardized(x)
    model = Sequential([layers.Flatten(input_shape=list(input_shape))])
    for _ in range(n_hidden):
        model.add(layers.Dense(n_units, activation="selu", kernel_initializer="lecun_normal"))
        if dropout is not None:
            model.add(dropout(rate=alpha_dropout))
    _head_and_compile(model, n_classes, optimizer, learning_rate)
    return model, _callbacks(model, patience, one_cycle, n_train, x, epochs, batch_size)


__all__ = ["DEEP_NET_HIDDEN_LAYERS", "check_standardized", "default_dnn", "self_normalizing_dnn"]
