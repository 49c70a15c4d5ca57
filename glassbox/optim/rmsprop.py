"""RMSprop: divide the gradient by a running root-mean-square of recent gradients (optionally centered)."""

import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer, _grad_with_decay, _hyper, _increment_step, _lerp_, _step_tensor


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e; centered as in Graves, 2013), torch.optim.RMSprop's algorithm.

    State per parameter: 'step', 'square_avg', plus 'momentum_buffer' when momentum > 0 and 'grad_avg' when
    centered.
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, *,
                 maximize=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered, weight_decay=weight_decay,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _init_state(self, param, state, group):
        state["step"] = _step_tensor()
        state["square_avg"] = Tensor._make(np.zeros_like(param.data))
        if group["momentum"] > 0:
            state["momentum_buffer"] = Tensor._make(np.zeros_like(param.data))
        if group["centered"]:
            state["grad_avg"] = Tensor._make(np.zeros_like(param.data))

    def _update(self, param, grad, state, group):
        # g = ±grad + weight_decay * p
        # v = alpha * v + (1 - alpha) * g^2
        # centered: m = alpha * m + (1 - alpha) * g (a lerp), and v~ = v - m^2; otherwise v~ = v
        # b = momentum * b + g / (sqrt(v~) + eps), p = p - lr * b;  without momentum: p = p - lr * g / (sqrt(v~) + eps)
        lr, alpha, eps, weight_decay, momentum = _hyper(group, "lr", "alpha", "eps", "weight_decay", "momentum")
        _increment_step(state)
        g = _grad_with_decay(param, grad, weight_decay, group["maximize"])
        square_avg = state["square_avg"].data
        square_avg *= alpha
        avg = g * g  # one scratch array, reused below for the denominator
        avg *= 1 - alpha
        square_avg += avg
        if group["centered"]:
            grad_avg = state["grad_avg"].data
            _lerp_(grad_avg, g, 1 - alpha, scratch=avg)
            np.multiply(grad_avg, grad_avg, out=avg)
            np.subtract(square_avg, avg, out=avg)
            np.sqrt(avg, out=avg)
        else:
            np.sqrt(square_avg, out=avg)
        avg += eps
        np.divide(g, avg, out=avg)
        if momentum > 0:
            buf = state["momentum_buffer"].data
            buf *= momentum
            buf += avg
            np.multiply(buf, lr, out=avg)
        else:
            avg *= lr
        param -= avg
