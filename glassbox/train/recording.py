"""What `glassbox run` records for the dashboard while a recipe trains: the live log, diagnostics, the graph view
and the backprop steps of one batch, all in the run directory.

    with recording("runs/digits-cnn"):
        recipe.run(config)        # its first fit() gets LiveLog, Diagnostics and RunSnapshot added

Only the first fit() inside the block is recorded: recipes that train several times (transfer learning's two
phases, architecture search's trials) show their first training run on the dashboard.
"""

import contextlib
import os

from ..autograd.grad_mode import enable_grad
from ..distributed.data_parallel import unwrap
from .callbacks import Callback

_state = {"directory": None, "used": False}

# Above this many graph nodes the step-through is not written: it is meant for graphs a person can follow.
MAX_STEP_THROUGH_NODES = 80


@contextlib.contextmanager
def recording(directory):
    """Record the first fit() run inside this block into `directory` (see the module docstring)."""
    previous = dict(_state)
    _state.update(directory=str(directory), used=False)
    try:
        yield
    finally:
        _state.clear()
        _state.update(previous)


def callbacks_to_add(callbacks):
    """The recording callbacks fit() should add to `callbacks` (none outside a recording block, or after its first
    fit, or where the caller already passed one of the same kind)."""
    if _state["directory"] is None or _state["used"]:
        return []
    _state["used"] = True
    from .diagnostics import Diagnostics
    from .live_log import LiveLog

    directory = _state["directory"]
    wanted = [LiveLog(directory), Diagnostics(directory), RunSnapshot(directory)]
    present = {type(c) for c in callbacks}
    return [c for c in wanted if type(c) not in present]


class RunSnapshot(Callback):
    """At the first training batch: the graph view of that batch's loss (graph.svg/html/txt/json) and, for small
    graphs, its step-through backpropagation (backprop_steps.json), computed on up to 8 of its examples in eval
    mode, so that nothing of the training changes (no BatchNorm statistics, no dropout draws)."""

    rank_zero_only = True

    def __init__(self, directory, examples=8):
        self.directory = str(directory)
        self.examples = examples
        self.done = False

    def on_train_batch_begin(self, batch, logs=None):
        if self.done:
            return
        self.done = True
        trainer = self.trainer
        current = getattr(trainer, "current_batch", None)
        if current is None or trainer.loss_fn is None or trainer.custom_step:
            return  # a custom step (GAN, RL) has no single loss to draw
        from ..insight.backprop_steps import BackpropStepper
        from ..insight.graph import graph_of_model
        from .loop import _split_batch

        inputs, targets = _split_batch(current)
        if targets is None or isinstance(inputs, tuple):
            return
        model = unwrap(trainer.model)
        inputs, targets = inputs[:self.examples], targets[:self.examples]
        was_training = model.training
        model.eval()
        try:
            with enable_grad():
                view = graph_of_model(model, inputs, loss_fn=trainer.loss_fn, targets=targets)
                os.makedirs(self.directory, exist_ok=True)
                view.save(self.directory)
                if len(view.ops) <= MAX_STEP_THROUGH_NODES:
                    stepper = BackpropStepper.trace(lambda: trainer.loss_fn(model(inputs), targets), model=model)
                    stepper.save(os.path.join(self.directory, "backprop_steps.json"))
        finally:
            model.train(was_training)
