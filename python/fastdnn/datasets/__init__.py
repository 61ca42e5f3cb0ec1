"""Datasets for examples and tests, with the same interface as `keras.datasets`.

    >>> from fastdnn.datasets import fashion_mnist
    >>> (x_train, y_train), (x_test, y_test) = fashion_mnist.load_sample()
    >>> x_train.shape, y_train.dtype
    ((5000, 28, 28), dtype('uint8'))
"""

from . import fashion_mnist

__all__ = ["fashion_mnist"]
