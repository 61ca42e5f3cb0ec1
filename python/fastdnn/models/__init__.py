"""Models, shaped like Keras 3's `keras.models`: `Model` (a Layer plus a trainer; subclass it, or
call it with inputs and outputs for a functional model), `Sequential`, `clone_model`, and the
model files (`load_model`, `save_model`, `model_from_json`)."""

from .. import saving
from .cloning import clone_model
from .functional import Functional
from .model import Model
from .sequential import Sequential

load_model = saving.load_model
save_model = saving.save_model
model_from_json = saving.model_from_json

__all__ = ["Functional", "Model", "Sequential", "clone_model", "load_model", "model_from_json",
           "save_model"]
