"""Datasets for examples and tests, with the same interface as `keras.datasets`.

`mnist`, `fashion_mnist`, `cifar10` and `cifar100` each have `load_data()`, returning
`((x_train, y_train), (x_test, y_test))` NumPy arrays of Keras's shapes and dtypes. They read
the files Keras downloads, from Keras's cache (`~/.keras/datasets/`, or
`$KERAS_HOME/datasets/`), from `$FASTDNN_DATA` or from a `path` argument, and download into
Keras's cache only when no copy is found. Importing them reads no file.

    >>> from fastdnn.datasets import fashion_mnist
    >>> (x_train, y_train), (x_test, y_test) = fashion_mnist.load_sample()
    >>> x_train.shape, y_train.dtype
    ((5000, 28, 28), dtype('uint8'))
"""

from . import cifar10, cifar100, fashion_mnist, mnist

__all__ = ["cifar10", "cifar100", "fashion_mnist", "mnist"]
