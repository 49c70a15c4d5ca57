"""Fused softmax and loss primitives, fused for numerical stability and speed: log_softmax, softmax,
cross-entropy from logits, NLL, binary cross-entropy (from probabilities and from logits), dropout."""

import numpy as np

from ..autograd.function import Function
from .activation import stable_sigmoid


def log_softmax_array(x, axis):
    """x - logsumexp(x) along `axis`, finite for huge logits; an all -inf row gives -inf (softmax 0), not NaN."""
    shift = np.max(x, axis=axis, keepdims=True)
    shift = np.where(np.isfinite(shift), shift, 0)
    shifted = x - shift
    with np.errstate(divide="ignore"):
        lse = np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
    lse = np.where(np.isneginf(lse), 0, lse)
    return shifted - lse


class LogSoftmax(Function):
    save_inputs = False
    save_output = True

    def forward(self, x, axis):
        self.axis = axis
        self.out = log_softmax_array(x, axis)
        return self.out

    def backward(self, grad):
        # d log_softmax_i / d x_j = delta_ij - softmax_j
        return grad - np.exp(self.out) * np.sum(grad, axis=self.axis, keepdims=True)


class Softmax(Function):
    save_inputs = False
    save_output = True

    def forward(self, x, axis):
        self.axis = axis
        self.out = np.exp(log_softmax_array(x, axis))
        return self.out

    def backward(self, grad):
        # d softmax_i / d x_j = softmax_i (delta_ij - softmax_j)
        return self.out * (grad - np.sum(grad * self.out, axis=self.axis, keepdims=True))


def _reduce(per_item, reduction, denominator):
    if reduction == "none":
        return per_item
    total = per_item.sum()
    return total / denominator if reduction == "mean" else total


def _reduction_scale(grad, reduction, denominator):
    """The factor each item's loss gradient gets: grad/denominator for mean, grad for sum, grad[i] for none."""
    if reduction == "mean":
        return grad / denominator
    return grad


class CrossEntropy(Function):
    """Cross-entropy between logits (M, C) and class indices (M,) or class probabilities (M, C).

    The functional layer moves the class axis last and flattens; this op sees 2-D logits. Loss per item:
    -sum_j q_j log_softmax(x)_j where q is the (weighted, smoothed) target distribution; its gradient is
    softmax(x) * sum_j q_j - q: no log_softmax node, no one-hot matrix on the plain class-index path.
    """

    def forward(self, logits, target, weight=None, ignore_index=-100, label_smoothing=0.0, reduction="mean"):
        num_classes = logits.shape[1]
        self.reduction = reduction
        logp = log_softmax_array(logits, axis=1)
        self.logp = logp
        if target.dtype.kind == "f":  # class probabilities
            q = target if label_smoothing == 0 else target * (1 - label_smoothing) + label_smoothing / num_classes
            if weight is not None:
                q = q * weight
            self.q, self.denominator = q, logits.shape[0]
            per_item = -np.sum(q * np.where(q == 0, 0, logp), axis=1)
            return _reduce(per_item, reduction, self.denominator)
        keep = target != ignore_index
        safe_target = np.where(keep, target, 0)
        item_weight = (weight[safe_target] if weight is not None else np.ones(len(target), logits.dtype)) * keep
        self.denominator = item_weight.sum()
        picked = np.take_along_axis(logp, safe_target[:, None], axis=1)[:, 0]
        if label_smoothing == 0:
            self.safe_target, self.item_weight, self.q = safe_target, item_weight, None
            per_item = -picked * item_weight
            return _reduce(per_item, reduction, self.denominator)
        # Smoothed: q = (1 - eps) w_t onehot(t) + (eps / C) w (as PyTorch, normalised by the same weight sum).
        class_weight = weight if weight is not None else np.ones(num_classes, logits.dtype)
        q = ((label_smoothing / num_classes) * keep[:, None] * class_weight[None, :]).astype(logits.dtype)
        q[np.arange(len(target)), safe_target] += (1 - label_smoothing) * item_weight
        self.q = q
        per_item = -np.sum(q * logp, axis=1)
        return _reduce(per_item, reduction, self.denominator)

    def backward(self, grad):
        scale = _reduction_scale(grad, self.reduction, self.denominator)
        softmax = np.exp(self.logp)
        if self.q is None:
            coefficient = (self.item_weight * scale).astype(softmax.dtype)
            result = softmax * coefficient[:, None]
            result[np.arange(len(coefficient)), self.safe_target] -= coefficient
        else:
            coefficient = np.asarray(scale, dtype=softmax.dtype)
            coefficient = coefficient[:, None] if coefficient.ndim == 1 else coefficient
            result = (softmax * self.q.sum(axis=1, keepdims=True) - self.q) * coefficient
        return result, None


class NllLoss(Function):
    """Negative log-likelihood of class indices (M,) under log-probabilities (M, C)."""

    save_inputs = False

    def forward(self, logp, target, weight=None, ignore_index=-100, reduction="mean"):
        keep = target != ignore_index
        self.safe_target = np.where(keep, target, 0)
        self.item_weight = (weight[self.safe_target] if weight is not None
                            else np.ones(len(target), logp.dtype)) * keep
        self.denominator, self.reduction, self.shape = self.item_weight.sum(), reduction, logp.shape
        picked = np.take_along_axis(logp, self.safe_target[:, None], axis=1)[:, 0]
        return _reduce(-picked * self.item_weight, reduction, self.denominator)

    def backward(self, grad):
        # d(-w_t logp_t)/d logp_j = -w_t for j = t, 0 elsewhere
        coefficient = (self.item_weight * _reduction_scale(grad, self.reduction, self.denominator))
        result = np.zeros(self.shape, dtype=grad.dtype)
        result[np.arange(len(coefficient)), self.safe_target] = -coefficient
        return result, None


class BinaryCrossEntropy(Function):
    """-w (y log p + (1 - y) log(1 - p)) with each log clamped at -100, as PyTorch does."""

    def forward(self, p, y, weight=None, reduction="mean"):
        self.p, self.y, self.weight, self.reduction = p, y, weight, reduction
        with np.errstate(divide="ignore"):
            log_p = np.maximum(np.log(p), -100)
            log_1mp = np.maximum(np.log1p(-p), -100)
        per_item = -(y * log_p + (1 - y) * log_1mp)
        if weight is not None:
            per_item = per_item * weight
        return _reduce(per_item, reduction, p.size)

    def backward(self, grad):
        scale = _reduction_scale(grad, self.reduction, self.p.size)
        # d/dp = (p - y) / (p (1 - p)), the denominator kept away from 0 as in PyTorch (eps 1e-12)
        gp = (self.p - self.y) / np.maximum(self.p * (1 - self.p), 1e-12) * scale
        gy = None
        if self.needs_input_grad[1]:
            with np.errstate(divide="ignore"):
                gy = (np.maximum(np.log1p(-self.p), -100) - np.maximum(np.log(self.p), -100)) * scale
        if self.weight is not None:
            gp = gp * self.weight
            gy = gy * self.weight if gy is not None else None
        return gp, gy


class BinaryCrossEntropyWithLogits(Function):
    """Binary cross-entropy on logits x, stable for any x: (1 - y) x + (1 + (pw - 1) y) softplus(-x)."""

    def forward(self, x, y, weight=None, pos_weight=None, reduction="mean"):
        self.x, self.y, self.weight, self.pos_weight, self.reduction = x, y, weight, pos_weight, reduction
        # softplus(-x) = log(1 + e^-x) = log1p(e^-|x|) + max(-x, 0): never overflows
        self.softplus_neg = np.log1p(np.exp(-np.abs(x))) + np.maximum(-x, 0)
        self.log_weight = 1 + (pos_weight - 1) * y if pos_weight is not None else 1
        per_item = (1 - y) * x + self.log_weight * self.softplus_neg
        if weight is not None:
            per_item = per_item * weight
        return _reduce(per_item, reduction, per_item.size)

    def backward(self, grad):
        scale = _reduction_scale(grad, self.reduction, np.broadcast(self.x, self.y).size)
        if self.weight is not None:
            scale = scale * self.weight
        gx = gy = None
        if self.needs_input_grad[0]:
            # d/dx = (1 - y) - log_weight * sigmoid(-x)
            gx = ((1 - self.y) - self.log_weight * stable_sigmoid(-self.x)) * scale
        if self.needs_input_grad[1]:
            # d/dy = -x + (pw - 1) softplus(-x)
            pw_term = (self.pos_weight - 1) * self.softplus_neg if self.pos_weight is not None else 0
            gy = (-self.x + pw_term) * scale
        return gx, gy


class Dropout(Function):
    """Zero each element with probability p and scale the rest by 1/(1-p) (inverted dropout)."""

    save_inputs = False

    def forward(self, x, p, rng):
        keep = rng.random(x.shape, dtype=np.float32) >= p
        self.mask = keep.astype(x.dtype) * (1.0 / (1.0 - p))
        return x * self.mask

    def backward(self, grad):
        return grad * self.mask
