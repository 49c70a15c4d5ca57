"""Training: the Keras-style fit/evaluate/predict loop, callbacks, metrics, model summary, the adversarial step,
training diagnostics and the learning-rate finder."""

from .adversarial import AdversarialStep
from .callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    History,
    LearningRateScheduler,
    ModelCheckpoint,
    ProgressBar,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from .diagnostics import Diagnostics
from .live_log import LiveLog
from .loop import Trainer, evaluate, fit, predict
from .lr_finder import LRFinderResult, find_lr
from .metrics import (
    Accuracy,
    MeanAbsoluteError,
    MeanSquaredError,
    Metric,
    R2Score,
    TopKAccuracy,
    accuracy,
    confusion_matrix,
    r2_score,
)
from .summary import summary

__all__ = ["fit", "evaluate", "predict", "Trainer", "Callback", "History", "ProgressBar", "EarlyStopping",
           "ModelCheckpoint", "ReduceLROnPlateau", "LearningRateScheduler", "CSVLogger", "TerminateOnNaN",
           "Metric", "Accuracy", "TopKAccuracy", "MeanAbsoluteError", "MeanSquaredError", "R2Score", "accuracy",
           "r2_score", "confusion_matrix", "summary", "AdversarialStep", "Diagnostics", "find_lr", "LRFinderResult",
           "LiveLog"]
