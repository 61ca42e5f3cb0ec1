"""The trainer behind every model: compile, fit, evaluate, predict and their steps
(trainer.py), what compile resolves per output (compile_utils.py), and the data they take
(data.py)."""

from .trainer import Trainer

__all__ = ["Trainer"]
