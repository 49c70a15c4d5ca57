"""SGD: stochastic gradient descent with optional momentum, dampening, Nesterov momentum and weight decay."""

from ..tensor import Tensor
from .optimizer import Optimizer, _grad_with_decay, _hyper


class SGD(Optimizer):
    """Stochastic gradient descent, torch.optim.SGD's algorithm (momentum as in Sutskever et al., not Polyak's).

    State per parameter: 'momentum_buffer' (only when momentum != 0).
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        # g = ±grad + weight_decay * p
        # b = g on the first step, then b = momentum * b + (1 - dampening) * g
        # g = g + momentum * b (nesterov) or g = b
        # p = p - lr * g
        lr, momentum, dampening, weight_decay = _hyper(group, "lr", "momentum", "dampening", "weight_decay")
        g = _grad_with_decay(param, grad, weight_decay, group["maximize"])
        if momentum != 0:
            buffer = state.get("momentum_buffer")
            if buffer is None:
                buf = g.copy()
                state["momentum_buffer"] = Tensor._make(buf)
            else:
                buf = buffer.data
                buf *= momentum
                buf += g if dampening == 0 else (1 - dampening) * g
            g = g + momentum * buf if group["nesterov"] else buf
        param -= lr * g
