"""Save and restore everything fit() needs to continue an interrupted run exactly where it stopped."""

from ..distributed.data_parallel import unwrap
from ..io.checkpoint import load_checkpoint, save_checkpoint
from ..random import default_generator

_FORMAT = "glassbox.fit/1"


def save_training_state(path, trainer, train_loader, epoch):
    """Write a checkpoint (atomically) after `epoch` has finished."""
    extra = {
        "format": _FORMAT,
        "epoch": epoch,
        "stop_training": bool(trainer.stop_training),  # a callback ended the run here: resuming must not train on
        # Random state: dropout and initialisation draw from the default generator, the data order from the
        # loader's; restoring both makes the rest of the run repeat the uninterrupted one bit for bit.
        "default_generator": default_generator.get_state(),
        "loader": train_loader.state_dict() if hasattr(train_loader, "state_dict") else None,
        "sampler": _sampler_state(train_loader),
        "callbacks": {f"{index}:{type(c).__name__}": c.state_dict() for index, c in enumerate(trainer.callbacks)},
    }
    save_checkpoint(path, model_state=unwrap(trainer.model).state_dict(),
                    optimizer_state=trainer.optimizer.state_dict() if trainer.optimizer is not None else None,
                    scheduler_state=trainer.scheduler.state_dict() if trainer.scheduler is not None else None,
                    extra=extra)


def _sampler_state(train_loader):
    """A sampler's own state (a DistributedSampler's seed and epoch), when it has one."""
    sampler = getattr(train_loader, "sampler", None)
    return sampler.state_dict() if hasattr(sampler, "state_dict") else None


def load_training_state(path, trainer, train_loader):
    """Restore a checkpoint written by save_training_state; returns the epoch to start from."""
    state = load_checkpoint(path)
    extra = state["extra"] or {}
    if extra.get("format") != _FORMAT:
        raise ValueError(f"{path}: not a fit() checkpoint (format {extra.get('format')!r}, expected {_FORMAT!r})")
    unwrap(trainer.model).load_state_dict(state["model_state"])
    if trainer.optimizer is not None and state["optimizer_state"] is not None:
        trainer.optimizer.load_state_dict(state["optimizer_state"])
    if trainer.scheduler is not None and state["scheduler_state"] is not None:
        trainer.scheduler.load_state_dict(state["scheduler_state"])
    default_generator.set_state(extra["default_generator"])
    trainer.stop_training = bool(extra.get("stop_training", False))
    if extra.get("loader") is not None:
        train_loader.load_state_dict(extra["loader"])
    sampler = getattr(train_loader, "sampler", None)
    if extra.get("sampler") is not None and hasattr(sampler, "load_state_dict"):
        sampler.load_state_dict(extra["sampler"])  # a DistributedSampler's seed: the same shuffles after resuming
    saved_callbacks = extra.get("callbacks") or {}
    for index, callback in enumerate(trainer.callbacks):
        key = f"{index}:{type(callback).__name__}"
        if key in saved_callbacks:
            callback.load_state_dict(saved_callbacks[key])
    return int(extra["epoch"]) + 1
