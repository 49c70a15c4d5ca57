"""The Keras-style training loop for any nn.Module: fit, evaluate, predict.

    history = fit(model, (x_train, y_train), val=(x_val, y_val), epochs=10, batch_size=32,
                  loss=nn.CrossEntropyLoss(), optimizer=optim.Adam(model.parameters()), metrics=["accuracy"])

The one override point for unusual training (GANs, reinforcement learning, ...) is `train_step`: pass
`fit(..., train_step=fn)` with fn(trainer, batch) -> dict of numbers to log, or subclass Trainer and override
its train_step method. Everything else (epochs, validation, metrics, callbacks, checkpoints) stays the same.
"""

import time

import numpy as np

from ..autograd.grad_mode import no_grad
from ..data.dataset import Dataset, Subset, TensorDataset
from ..data.loader import DataLoader
from ..distributed import collectives as dist_collectives
from ..distributed import process_group as dist_group
from ..distributed.data_parallel import DistributedDataParallel
from ..distributed.sampler import DistributedSampler
from ..errors import ShapeError
from ..functional.shape import cat
from ..optim.lr_scheduler import ReduceLROnPlateau as ReduceLROnPlateauSchedule
from ..random import default_generator
from ..tensor import Tensor
from . import callbacks as callbacks_module
from . import recording
from .losses import get_loss
from .metrics import get_metric
from .optimizers import get_optimizer
from .resume import load_training_state, save_training_state


def _as_dataset(data, what):
    """A Dataset from a Dataset, or from a tuple (inputs, targets) of arrays or tensors."""
    if isinstance(data, Dataset):
        return data
    if isinstance(data, (tuple, list)) and len(data) in (1, 2):
        tensors = [x if isinstance(x, Tensor) else Tensor._make(np.asarray(x)) for x in data]
        return TensorDataset(*tensors)
    raise TypeError(f"fit: {what} must be a Dataset, a DataLoader or a tuple (inputs, targets), "
                    f"got {type(data).__name__}")


def _split_batch(batch):
    """(inputs, targets) from a batch: a tuple/list of two, or a single tensor (inputs only)."""
    if isinstance(batch, (tuple, list)):
        if len(batch) == 2:
            return batch[0], batch[1]
        if len(batch) == 1:
            return batch[0], None
        return tuple(batch[:-1]), batch[-1]
    return batch, None


class Trainer:
    """Runs the loop; fit() builds one. Attributes a callback may read or set: model, optimizer, scheduler,
    epochs, epoch, steps_per_epoch, running_loss, stop_training, resuming, is_main (rank 0, or a plain run).

    Data-parallel (the model is a DistributedDataParallel over more than one rank): the epoch's loss, every other
    number train_step logs, the metrics and the validation results are summed over the ranks before they are
    logged, so every rank sees, and every callback decides on, the same numbers; only rank 0 prints, runs the
    callbacks marked rank_zero_only and writes the checkpoint."""

    def __init__(self, model, loss=None, optimizer=None, metrics=(), callbacks=(), scheduler=None,
                 scheduler_interval="epoch", train_step=None, verbose=1, log=print):
        self.model = model
        self.data_parallel = isinstance(model, DistributedDataParallel) and model.process_group.world_size > 1
        self.is_main = dist_group.get_rank() == 0
        if not self.is_main:
            verbose, log = 0, _silent
        self.loss_fn = get_loss(loss) if loss is not None else None
        self.optimizer = get_optimizer(optimizer, model) if optimizer is not None else None
        self.metrics = [get_metric(m) for m in metrics]
        self.scheduler = scheduler
        if scheduler_interval not in ("epoch", "step"):
            raise ValueError(f"scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}")
        self.scheduler_interval = scheduler_interval
        self.history = callbacks_module.History()
        user_callbacks = list(callbacks)
        self.callbacks = [self.history] + user_callbacks
        if not any(isinstance(c, callbacks_module.ProgressBar) for c in user_callbacks):
            self.callbacks.append(callbacks_module.ProgressBar(verbose))
        for callback in self.callbacks:
            callback.set_trainer(self)
        if train_step is not None:
            self.train_step = lambda batch: train_step(self, batch)
        self.custom_step = train_step is not None or type(self).train_step is not Trainer.train_step
        self.log = log
        self.stop_training, self.resuming = False, False
        self.epoch, self.epochs, self.steps_per_epoch, self.running_loss = 0, 0, 0, float("nan")
        self.current_batch = None

    # ----- the override point --------------------------------------------------------------------------------------
    def train_step(self, batch):
        """One optimisation step on one batch; returns the numbers to log (at least 'loss').
        Override this (or pass fit(train_step=...)) for GANs, RL and other unusual training."""
        inputs, targets = _split_batch(batch)
        output = self.model(*inputs) if isinstance(inputs, tuple) else self.model(inputs)
        loss = self.compute_loss(output, targets)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.update_metrics(output, targets)
        return {"loss": loss.item()}

    # ----- pieces a custom train_step can reuse --------------------------------------------------------------------
    def compute_loss(self, output, targets):
        if self.loss_fn is None:
            raise ValueError("fit: no loss given; pass loss=nn.CrossEntropyLoss() (or 'cross_entropy', 'mse', ...)")
        return self.loss_fn(output, targets)

    def update_metrics(self, output, targets):
        if targets is not None:
            for metric in self.metrics:
                metric.update(output.detach(), targets)

    def _metric_logs(self, prefix=""):
        return {prefix + metric.name: metric.compute() for metric in self.metrics}

    # ----- loops ---------------------------------------------------------------------------------------------------
    def _callbacks(self, hook, *args):
        for callback in self.callbacks:
            if self.is_main or not callback.rank_zero_only:
                getattr(callback, hook)(*args)

    def _sum_over_ranks(self, values):
        """`values` (a list of numbers) summed over the ranks when training data-parallel, else unchanged."""
        if not self.data_parallel or not values:
            return list(values)
        return dist_collectives.all_reduce_sums(values).tolist()

    def _reduce_metrics(self):
        """Add up the metrics' running sums over the ranks, so compute() gives the value over all the data."""
        if not self.data_parallel:
            return
        for metric in self.metrics:
            names = metric.additive_state
            for name, value in zip(names, self._sum_over_ranks([getattr(metric, name) for name in names])):
                setattr(metric, name, value)

    def fit(self, train_loader, val_loader=None, epochs=1, initial_epoch=0, checkpoint=None):
        if self.optimizer is None and not self.custom_step:
            raise ValueError("fit: no optimizer given; pass optimizer=optim.SGD(model.parameters(), lr=0.1) "
                             "or a name such as 'adam'")
        self.epochs, self.steps_per_epoch = epochs, len(train_loader)
        if not self.resuming:  # a resumed run keeps the checkpoint's flag: a run that had stopped stays stopped
            self.stop_training = False
        self._callbacks("on_train_begin", {})
        for epoch in range(initial_epoch, epochs):
            if self.stop_training:
                break
            self.epoch = epoch
            sampler = getattr(train_loader, "sampler", None)
            if hasattr(sampler, "set_epoch"):  # a DistributedSampler: this epoch's order, the same on every rank
                sampler.set_epoch(epoch)
            logs = {}
            self._callbacks("on_epoch_begin", epoch, logs)
            started = time.perf_counter()
            logs.update(self._train_epoch(train_loader))
            if val_loader is not None:
                logs.update(self.evaluate(val_loader, prefix="val_"))
            if self.optimizer is not None:  # a custom train_step may bring its own optimizers (e.g. a GAN's two)
                logs["lr"] = self.optimizer.param_groups[0]["lr"]
            logs["seconds"] = time.perf_counter() - started
            self._step_scheduler_after_epoch(logs)
            self._callbacks("on_epoch_end", epoch, logs)
            if checkpoint is not None and self.is_main:
                save_training_state(checkpoint, self, train_loader, epoch)
            if self.stop_training:
                break
        self._callbacks("on_train_end", {})
        return self.history

    def _train_epoch(self, loader):
        self.model.train()
        for metric in self.metrics:
            metric.reset()
        # Every number train_step logs (not only 'loss': a GAN's d_loss and g_loss too) gets its size-weighted
        # epoch mean in the epoch's logs, and so in the History.
        totals, counts = {}, {}
        for index, batch in enumerate(loader):
            self.current_batch = batch  # for callbacks that look at the data (RunSnapshot draws its graph)
            self._callbacks("on_train_batch_begin", index, {})
            step_logs = self.train_step(batch)
            size = _batch_size(batch)
            for key, value in step_logs.items():
                if isinstance(value, (int, float, np.number)):
                    totals[key] = totals.get(key, 0.0) + float(value) * size
                    counts[key] = counts.get(key, 0) + size
            self.running_loss = totals["loss"] / counts["loss"] if "loss" in totals else float("nan")
            if self.scheduler is not None and self.scheduler_interval == "step":
                self.scheduler.step()
            self._callbacks("on_train_batch_end", index, step_logs)
            if self.data_parallel:  # a callback that stops one rank mid-epoch (TerminateOnNaN) stops them all
                self.stop_training = self._sum_over_ranks([float(self.stop_training)])[0] > 0
            if self.stop_training:
                break
        keys = list(totals)
        sums = self._sum_over_ranks([totals[key] for key in keys] + [counts[key] for key in keys])
        logs = {"loss": float("nan")}
        logs.update({key: sums[i] / sums[len(keys) + i] for i, key in enumerate(keys)})
        self._reduce_metrics()
        logs.update(self._metric_logs())
        return logs

    def _step_scheduler_after_epoch(self, logs):
        if self.scheduler is None or self.scheduler_interval != "epoch":
            return
        if isinstance(self.scheduler, ReduceLROnPlateauSchedule):  # also a subclass of it
            self.scheduler.step(logs.get("val_loss", logs["loss"]))
        else:
            self.scheduler.step()

    def evaluate(self, loader, prefix=""):
        """Mean loss and metrics over `loader` in eval mode without recording a graph."""
        self.model.eval()
        for metric in self.metrics:
            metric.reset()
        self._callbacks("on_test_begin", {})
        total, count = 0.0, 0
        with no_grad():
            for batch in loader:
                inputs, targets = _split_batch(batch)
                output = self.model(*inputs) if isinstance(inputs, tuple) else self.model(inputs)
                if targets is not None and self.loss_fn is not None:
                    size = _batch_size(batch)
                    total, count = total + self.compute_loss(output, targets).item() * size, count + size
                self.update_metrics(output, targets)
        total, count = self._sum_over_ranks([total, count])
        logs = {prefix + "loss": total / count} if count else {}
        self._reduce_metrics()
        logs.update(self._metric_logs(prefix))
        self._callbacks("on_test_end", logs)
        return logs


def _silent(*args, **kwargs):
    """The log function of ranks other than 0: only rank 0 prints."""


def _batch_size(batch):
    first = batch[0] if isinstance(batch, (tuple, list)) else batch
    while isinstance(first, (tuple, list)):
        first = first[0]
    return first.shape[0] if first.ndim else 1


def _loader(data, batch_size, shuffle, what, generator=None):
    if isinstance(data, DataLoader):
        return data
    dataset = _as_dataset(data, what)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator)


def fit(model, train, *, val=None, validation_split=None, epochs=1, batch_size=32, loss=None, optimizer=None,
        metrics=(), callbacks=(), scheduler=None, scheduler_interval="epoch", shuffle=True, train_step=None,
        checkpoint=None, resume_from=None, verbose=1, log=print):
    """Train `model` on `train` for `epochs` epochs and return the History (history.history['val_loss'] ...).

    train / val: a Dataset, a DataLoader, or a tuple (inputs, targets) of arrays/tensors.
    validation_split: hold out this fraction of `train` (the last examples, before shuffling, like Keras).
    loss: a loss module/callable or a name ('cross_entropy', 'mse', 'bce_with_logits', ...).
    optimizer: an optim.Optimizer, or a name ('sgd', 'adam', 'adamw', 'rmsprop', 'adagrad') with default settings.
    metrics: names ('accuracy', 'top5_accuracy', 'mae', 'mse', 'r2') or Metric objects; logged per epoch.
    scheduler: an lr_scheduler, stepped after each epoch (or each batch with scheduler_interval='step');
      ReduceLROnPlateau is stepped with val_loss.
    checkpoint: path of a checkpoint written atomically after every epoch (model, optimizer, scheduler,
      callbacks, RNG and data-order state); resume_from: such a checkpoint to continue from.
    train_step: fn(trainer, batch) -> dict, replacing the standard step (the one override point).
    """
    train_dataset = None if isinstance(train, DataLoader) else _as_dataset(train, "train")
    if train_dataset is not None and len(train_dataset) == 0:  # before a shuffling sampler refuses it obscurely
        raise ValueError("fit: the training data is empty")
    if validation_split is not None:
        if val is not None:
            raise ValueError("fit: pass either val= or validation_split=, not both")
        if train_dataset is None or not 0.0 < validation_split < 1.0:
            raise ValueError("fit: validation_split must be in (0, 1) and needs train data that is not a DataLoader")
        n = len(train_dataset)
        n_val = max(1, int(round(n * validation_split)))
        if n_val >= n:
            raise ValueError(f"fit: validation_split={validation_split} of {n} examples leaves the training data "
                             "empty")
        val = Subset(train_dataset, range(n - n_val, n))
        train_dataset = Subset(train_dataset, range(n - n_val))
    generator = None
    if not isinstance(train, DataLoader):
        from ..random import Generator

        # The loader's own generator is seeded from the default one, so gb.manual_seed fixes the data order, and
        # its state goes into checkpoints so that a resumed run sees the same batches.
        generator = Generator(int(default_generator.numpy.integers(2**62)))
    if train_step is None:
        model = _wrap_if_distributed(model)
    if isinstance(model, DistributedDataParallel) and model.process_group.world_size > 1:
        train_loader, val_loader = _sharded_loaders(train, train_dataset, val, batch_size, shuffle, generator,
                                                    model.process_group)
    else:
        if dist_group.get_world_size() > 1 and dist_group.get_rank() == 0:
            log("fit: a custom train_step is not split across the ranks: every rank runs the whole training "
                "(wrap the models in DistributedDataParallel inside the step to train data-parallel)")
        train_loader = train if isinstance(train, DataLoader) else _loader(train_dataset, batch_size, shuffle,
                                                                           "train", generator)
        val_loader = None if val is None else _loader(val, batch_size, False, "val")
    if len(train_loader) == 0:
        raise ValueError("fit: the training data is empty")
    if val_loader is not None and len(val_loader) == 0:
        raise ValueError("fit: the validation data is empty")
    callbacks = list(callbacks) + recording.callbacks_to_add(callbacks)  # what `glassbox run` records, if anything
    trainer = Trainer(model, loss=loss, optimizer=optimizer, metrics=metrics, callbacks=callbacks,
                      scheduler=scheduler, scheduler_interval=scheduler_interval, train_step=train_step,
                      verbose=verbose, log=log)
    initial_epoch = 0
    if resume_from is not None:
        initial_epoch = load_training_state(resume_from, trainer, train_loader)
        trainer.resuming = True
    return trainer.fit(train_loader, val_loader, epochs=epochs, initial_epoch=initial_epoch, checkpoint=checkpoint)


def _wrap_if_distributed(model):
    """The model in DistributedDataParallel when a process group of several ranks runs (fit wraps it by itself)."""
    if dist_group.is_initialized() and dist_group.get_world_size() > 1 and \
            not isinstance(model, DistributedDataParallel):
        return DistributedDataParallel(model)
    return model


def _sharded_loaders(train, train_dataset, val, batch_size, shuffle, generator, group):
    """Each rank's training and validation loaders: a 1/N shard of the data in batches of batch_size / N, so the
    ranks' batches together are the batch of size batch_size that one process would take. DataLoaders passed in
    are used as they are (give them a DistributedSampler yourself, as in PyTorch)."""
    world = group.world_size
    local_batch = max(1, round(batch_size / world))
    if local_batch * world != batch_size and group.rank == 0:
        print(f"fit: batch_size={batch_size} does not split evenly over {world} ranks; each rank takes "
              f"{local_batch}, a global batch of {local_batch * world}")
    if isinstance(train, DataLoader):
        train_loader = train
    else:
        # One seed for every rank's shuffling, rank 0's (ranks need not share their default generator's seed).
        seed = dist_collectives.broadcast_object(int(generator.numpy.integers(2**62)) if generator else 0)
        sampler = DistributedSampler(train_dataset, shuffle=shuffle, seed=seed)
        train_loader = DataLoader(train_dataset, batch_size=local_batch, sampler=sampler)
    if val is None or isinstance(val, DataLoader):
        return train_loader, val
    val_dataset = _as_dataset(val, "val")
    val_loader = DataLoader(val_dataset, batch_size=local_batch,
                            sampler=DistributedSampler(val_dataset, shuffle=False, pad=False))
    return train_loader, val_loader


def evaluate(model, data, *, loss=None, metrics=(), batch_size=256, verbose=0):
    """Mean loss (if a loss is given) and metrics of `model` on `data` (Dataset, DataLoader or (x, y))."""
    trainer = Trainer(model, loss=loss, metrics=metrics, verbose=verbose)
    loader = _loader(data, batch_size, False, "data")
    if len(loader) == 0:
        raise ValueError("evaluate: the data is empty")
    return trainer.evaluate(loader)


def predict(model, data, *, batch_size=256):
    """The model's outputs for every example of `data` (inputs, a Dataset or a DataLoader), concatenated, in eval
    mode without a graph."""
    if isinstance(data, (np.ndarray, Tensor)):
        data = (data,)
    loader = _loader(data, batch_size, False, "data")
    model.eval()
    outputs = []
    with no_grad():
        for batch in loader:
            inputs, _ = _split_batch(batch)
            outputs.append(model(*inputs) if isinstance(inputs, tuple) else model(inputs))
    if not outputs:
        raise ShapeError("predict: the data is empty")
    return cat(outputs, dim=0)

