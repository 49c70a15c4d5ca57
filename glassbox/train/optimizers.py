"""Optimizer lookup for fit(): an Optimizer passes through; a name builds one on the model's parameters."""

from .. import optim

# Keras's default learning rates for each name (PyTorch has no defaults for SGD).
_BY_NAME = {"sgd": (optim.SGD, 0.01), "adam": (optim.Adam, 0.001), "adamw": (optim.AdamW, 0.001),
            "rmsprop": (optim.RMSprop, 0.001), "adagrad": (optim.Adagrad, 0.01)}


def get_optimizer(optimizer, model):
    if isinstance(optimizer, optim.Optimizer):
        return optimizer
    if isinstance(optimizer, str):
        if optimizer.lower() not in _BY_NAME:
            raise ValueError(f"unknown optimizer {optimizer!r}; expected one of {sorted(_BY_NAME)} or an "
                             "optim.Optimizer")
        cls, lr = _BY_NAME[optimizer.lower()]
        return cls(model.parameters(), lr=lr)
    raise TypeError(f"optimizer must be an optim.Optimizer or a name, got {type(optimizer).__name__}")
