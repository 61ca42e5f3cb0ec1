"""Callbacks: hooks that `fit`, `evaluate` and `predict` call at each stage of their loops, one
class per file (callback.py has the order of the hooks; step_hook.py the interface through which
a callback acts inside each training step)."""

from ..monitoring import GradientMonitor
from .backup_and_restore import BackupAndRestore
from .callback import Callback
from .callback_list import CallbackList
from .csv_logger import CSVLogger
from .early_stopping import EarlyStopping
from .epoch_timer import EpochTimer
from .history import History
from .lambda_callback import LambdaCallback
from .learning_rate_scheduler import LearningRateScheduler
from .model_checkpoint import ModelCheckpoint
from .one_cycle_scheduler import OneCycleScheduler
from .progbar_logger import ProgbarLogger
from .reduce_lr_on_plateau import ReduceLROnPlateau
from .step_hook import StepHook
from .tensorboard import TensorBoard
from .terminate_on_nan import TerminateOnNaN

__all__ = ["BackupAndRestore", "CSVLogger", "Callback", "CallbackList", "EarlyStopping", "EpochTimer", "GradientMonitor",
           "History", "LambdaCallback", "LearningRateScheduler", "ModelCheckpoint", "OneCycleScheduler",
           "ProgbarLogger", "ReduceLROnPlateau", "StepHook", "TensorBoard", "TerminateOnNaN"]
