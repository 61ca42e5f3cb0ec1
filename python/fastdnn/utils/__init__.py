"""Utilities for training: the progress bar and seeding.

    >>> from fastdnn.utils import Progbar, set_random_seed
"""

from ..random import set_random_seed
from .progbar import Progbar

__all__ = ["Progbar", "set_random_seed"]
