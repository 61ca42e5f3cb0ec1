"""Preprocessing layers, as keras.layers' (Keras 3's keras/src/layers/preprocessing/):
Normalization (statistics from `adapt`) and Rescaling."""

from .normalization import Normalization
from .rescaling import Rescaling

__all__ = ["Normalization", "Rescaling"]
