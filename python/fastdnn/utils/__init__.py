"""Utilities for training: the progress bar, seeding, PyDataset, one-hot labels, normalization
and dataset splitting.

    >>> from fastdnn.utils import Progbar, set_random_seed
"""

from ..random import set_random_seed
from .dataset_utils import split_dataset
from .numerical_utils import normalize, to_categorical
from .progbar import Progbar
from .py_dataset import PyDataset, Sequence

__all__ = ["Progbar", "PyDataset", "Sequence", "normalize", "set_random_seed", "split_dataset", "to_categorical"]
