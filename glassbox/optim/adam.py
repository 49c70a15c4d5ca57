"""Adam and AdamW: bias-corrected running averages of the gradient and its square (AMSGrad optional)."""

import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer, _grad_with_decay, _hyper, _increment_step, _lerp_, _step_tensor


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2014), torch.optim.Adam's algorithm; weight_decay is an L2 penalty added to the gradient
    unless decoupled_weight_decay=True (then it is AdamW).

    State per parameter: 'step', 'exp_avg', 'exp_avg_sq', plus 'max_exp_avg_sq' with amsgrad.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 maximize=False, decoupled_weight_decay=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _init_state(self, param, state, group):
        state["step"] = _step_tensor()
        state["exp_avg"] = Tensor._make(np.zeros_like(param.data))
        state["exp_avg_sq"] = Tensor._make(np.zeros_like(param.data))
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = Tensor._make(np.zeros_like(param.data))

    def _update(self, param, grad, state, group):
        # decoupled (AdamW): p = p - lr * weight_decay * p;  otherwise g = ±grad + weight_decay * p
        # m = beta1 * m + (1 - beta1) * g        v = beta2 * v + (1 - beta2) * g^2
        # amsgrad: v_max = max(v_max, v), used in place of v below
        # p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
        # (eps is added after the bias correction of sqrt(v), exactly where torch adds it)
        lr, eps, weight_decay = _hyper(group, "lr", "eps", "weight_decay")
        beta1, beta2 = (float(beta) for beta in group["betas"])
        step = _increment_step(state)
        if weight_decay and group["decoupled_weight_decay"]:
            param *= 1 - lr * weight_decay
            g = _grad_with_decay(param, grad, 0.0, group["maximize"])
        else:
            g = _grad_with_decay(param, grad, weight_decay, group["maximize"])
        exp_avg, exp_avg_sq = state["exp_avg"].data, state["exp_avg_sq"].data
        scratch = np.empty_like(param)  # the one temporary of the update, reused for each intermediate
        _lerp_(exp_avg, g, 1 - beta1, scratch)
        exp_avg_sq *= beta2
        np.multiply(g, g, out=scratch)
        scratch *= 1 - beta2
        exp_avg_sq += scratch
        bias_correction1 = 1 - beta1**step
        bias_correction2_sqrt = (1 - beta2**step) ** 0.5
        step_size = lr / bias_correction1
        if group["amsgrad"]:
            max_exp_avg_sq = state["max_exp_avg_sq"].data
            np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
            np.sqrt(max_exp_avg_sq, out=scratch)
        else:
            np.sqrt(exp_avg_sq, out=scratch)
        scratch /= bias_correction2_sqrt
        scratch += eps
        np.divide(exp_avg, scratch, out=scratch)
        scratch *= step_size
        param -= scratch


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter, 2017): Adam whose weight decay shrinks the parameters directly,
    p = p - lr * weight_decay * p, instead of entering the running averages; default weight_decay=1e-2."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        for group in self.param_groups:  # an AdamW stays AdamW whatever the loaded groups say, as in torch
            group["decoupled_weight_decay"] = True
