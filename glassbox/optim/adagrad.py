"""Adagrad: per-element learning rates scaled by the root of the summed squared gradients."""

import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer, _grad_with_decay, _hyper, _increment_step, _step_tensor


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011), torch.optim.Adagrad's algorithm, with torch's learning-rate decay.

    State per parameter: 'step' (0-d tensor) and 'sum' (the running sum of squared gradients, created for every
    parameter at construction, as torch does).
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10, *,
                 maximize=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, maximize=maximize)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, self.state[p], group)

    def _init_state(self, param, state, group):
        state["step"] = _step_tensor()
        state["sum"] = Tensor._make(np.full_like(param.data, group["initial_accumulator_value"]))

    def _update(self, param, grad, state, group):
        # g = ±grad + weight_decay * p
        # clr = lr / (1 + (t - 1) * lr_decay)
        # sum = sum + g^2
        # p = p - clr * g / (sqrt(sum) + eps)
        lr, lr_decay, weight_decay, eps = _hyper(group, "lr", "lr_decay", "weight_decay", "eps")
        step = _increment_step(state)
        g = _grad_with_decay(param, grad, weight_decay, group["maximize"])
        clr = lr / (1 + (step - 1) * lr_decay)
        state_sum = state["sum"].data
        state_sum += g * g
        std = np.sqrt(state_sum)
        std += eps
        np.divide(g, std, out=std)
        std *= clr
        param -= std
