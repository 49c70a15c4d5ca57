"""torch.nn.functional's names: activations, softmax, losses, dropout, linear, pad, one_hot."""

import numpy as np

from ..errors import ShapeError
from ..functional import arithmetic as ar
from ..functional import indexing
from ..functional import softmax as softmax_module
from ..functional.operands import cast, floating
from ..functional.shape import movedim, reshape
from ..functional.shape import pad as _pad
from ..ops import loss as ls
from ..ops import matmul as mat
from ..random import numpy_generator
from ..tensor import Tensor

# Defined one layer down (they are also Tensor methods) and offered here under torch.nn.functional's names.
softmax = softmax_module.softmax
log_softmax = softmax_module.log_softmax
one_hot = indexing.one_hot
pad = _pad
relu = ar.relu
leaky_relu = ar.leaky_relu
elu = ar.elu
selu = ar.selu
gelu = ar.gelu
silu = ar.silu
softplus = ar.softplus
sigmoid = ar.sigmoid
tanh = ar.tanh

_REDUCTIONS = ("mean", "sum", "none")


def linear(input, weight, bias=None):
    """input @ weight.T + bias, with weight (out_features, in_features) and bias (out_features,)."""
    if weight.ndim != 2:
        raise ShapeError(f"linear: weight must be 2-D (out_features, in_features), got shape {weight.shape}")
    if input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        hint = " did you forget to flatten the input?" if input.ndim > 2 else ""
        raise ShapeError(f"linear: input of shape {input.shape} has {input.shape[-1] if input.ndim else 0} features "
                         f"in its last dim, but weight of shape {weight.shape} expects in_features="
                         f"{weight.shape[1]};{hint}")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ShapeError(f"linear: bias must have shape ({weight.shape[0]},), got {bias.shape}")
    input = cast(input, weight.dtype) if input.dtype != weight.dtype else input
    if bias is None:
        return mat.Linear.apply(input, weight)
    return mat.Linear.apply(input, weight, bias)


def dropout(input, p=0.5, training=True, inplace=False, generator=None):
    """Zero elements with probability p and scale the rest by 1/(1-p) while training; identity otherwise."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return ar.mul(input, 0.0)
    return ls.Dropout.apply(input, p=p, rng=numpy_generator(generator))


def _check_reduction(reduction, op_name):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op_name}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _class_indices(target, op_name):
    if not isinstance(target, Tensor):
        target = Tensor(target)
    if target.dtype.kind not in "iu":
        raise TypeError(f"{op_name}: class-index targets must be an integer tensor (int64), got dtype {target.dtype}; "
                        "for class probabilities pass a float tensor shaped like the input")
    return target.data.astype(np.int64, copy=False)


def _flatten_classes(input):
    """Move the class dim (1) last and flatten, so the ops see (M, C) logits; also the per-item loss shape."""
    if input.ndim == 1:  # unbatched (C,)
        return reshape(input, 1, -1), ()
    batch_shape = (input.shape[0],) + input.shape[2:]
    flat_input = reshape(movedim(input, 1, -1), -1, input.shape[1]) if input.ndim > 2 else input
    return flat_input, batch_shape


def _check_class_target(input, target, op_name):
    expected = (input.shape[0],) + input.shape[2:] if input.ndim > 1 else ()
    if target.shape != expected:
        raise ShapeError(f"{op_name}: input of shape {input.shape} (batch, classes, ...) needs class-index targets "
                         f"of shape {expected}, got {target.shape}")


def _weight_array(weight, num_classes, dtype, op_name):
    if weight is None:
        return None
    array = weight.data if isinstance(weight, Tensor) else np.asarray(weight)
    if array.shape != (num_classes,):
        raise ShapeError(f"{op_name}: weight must have one entry per class, shape ({num_classes},), got {array.shape}")
    return array.astype(dtype, copy=False)


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Cross-entropy from logits `input` of shape (N, C), (N, C, d1, ...) or (C,), and `target` holding class
    indices (int, shape (N,) / (N, d1, ...)) or class probabilities (float, same shape as input).

    One fused op: log_softmax and the negative log-likelihood in a single forward and backward.
    """
    _check_reduction(reduction, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    input = floating(input, "cross_entropy")
    if input.ndim == 0:
        raise ShapeError("cross_entropy: input must have a class dimension, got a 0-d tensor")
    num_classes = input.shape[1] if input.ndim > 1 else input.shape[0]
    weight_array = _weight_array(weight, num_classes, input.dtype, "cross_entropy")
    target = target if isinstance(target, Tensor) else Tensor(target)
    if target.dtype.kind == "f":
        if target.shape != input.shape:
            raise ShapeError(f"cross_entropy: a float target holds class probabilities and must have the input's "
                             f"shape {input.shape}, got {target.shape}; for class indices pass an int64 (long) "
                             "tensor, e.g. target.long()")
        probabilities = cast(target, input.dtype).data
        flat, batch_shape = _flatten_classes(input)
        probabilities = np.moveaxis(probabilities, 1, -1).reshape(-1, num_classes) if input.ndim > 1 else \
            probabilities.reshape(1, -1)
        loss = ls.CrossEntropy.apply(flat, Tensor._make(probabilities), weight=weight_array,
                                     label_smoothing=label_smoothing, reduction=reduction)
    else:
        _check_class_target(input, target, "cross_entropy")
        indices = _class_indices(target, "cross_entropy")
        _check_class_range(indices, num_classes, ignore_index, "cross_entropy")
        flat, batch_shape = _flatten_classes(input)
        loss = ls.CrossEntropy.apply(flat, Tensor._make(indices.reshape(-1)), weight=weight_array,
                                     ignore_index=ignore_index, label_smoothing=label_smoothing,
                                     reduction=reduction)
    return reshape(loss, batch_shape) if reduction == "none" else loss


def _check_class_range(indices, num_classes, ignore_index, op_name):
    valid = indices[indices != ignore_index]
    if valid.size and (valid.min() < 0 or valid.max() >= num_classes):
        bad = int(valid.min() if valid.min() < 0 else valid.max())
        raise IndexError(f"{op_name}: target {bad} is out of bounds for {num_classes} classes "
                         f"(valid targets are 0..{num_classes - 1}, or ignore_index={ignore_index})")


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of class indices under log-probabilities `input` (N, C) or (N, C, d1, ...)."""
    _check_reduction(reduction, "nll_loss")
    if input.ndim == 0:
        raise ShapeError("nll_loss: input must have a class dimension, got a 0-d tensor")
    num_classes = input.shape[1] if input.ndim > 1 else input.shape[0]
    _check_class_target(input, target, "nll_loss")
    indices = _class_indices(target, "nll_loss")
    _check_class_range(indices, num_classes, ignore_index, "nll_loss")
    flat, batch_shape = _flatten_classes(input)
    loss = ls.NllLoss.apply(flat, Tensor._make(indices.reshape(-1)),
                            weight=_weight_array(weight, num_classes, input.dtype, "nll_loss"),
                            ignore_index=ignore_index, reduction=reduction)
    return reshape(loss, batch_shape) if reduction == "none" else loss


def _same_shape(input, target, op_name):
    """Element-wise losses refuse targets that would broadcast: (N, 1) against (N,) is a classic silent bug."""
    target = target if isinstance(target, Tensor) else Tensor(target)
    if target.shape != input.shape:
        raise ShapeError(f"{op_name}: target shape {target.shape} differs from input shape {input.shape}; they "
                         "would broadcast silently and give a wrong loss. Reshape one of them (e.g. .view(-1) or "
                         ".unsqueeze(1)).")
    return cast(target, input.dtype) if target.dtype != input.dtype else target


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def mse_loss(input, target, reduction="mean"):
    """Mean squared error (x - y)^2."""
    _check_reduction(reduction, "mse_loss")
    input = floating(input, "mse_loss")
    diff = ar.sub(input, _same_shape(input, target, "mse_loss"))
    return _reduce(ar.mul(diff, diff), reduction)


def l1_loss(input, target, reduction="mean"):
    """Mean absolute error |x - y|."""
    _check_reduction(reduction, "l1_loss")
    input = floating(input, "l1_loss")
    return _reduce(ar.abs(ar.sub(input, _same_shape(input, target, "l1_loss"))), reduction)


def _optional_array(value, shape, dtype, name, op_name, trailing=False):
    if value is None:
        return None
    array = value.data if isinstance(value, Tensor) else np.asarray(value)
    try:
        np.broadcast_shapes(array.shape, shape)
    except ValueError:
        raise ShapeError(f"{op_name}: {name} of shape {array.shape} does not broadcast to the input's shape "
                         f"{shape}") from None
    return array.astype(dtype, copy=False)


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """Binary cross-entropy of probabilities `input` in [0, 1]; logs are clamped at -100 as in PyTorch."""
    _check_reduction(reduction, "binary_cross_entropy")
    target = _same_shape(input, target, "binary_cross_entropy")
    data = input.data
    if data.size and (np.nanmin(data) < 0 or np.nanmax(data) > 1):
        raise ValueError("binary_cross_entropy: all elements of input should be between 0 and 1 (probabilities); "
                         "for logits use binary_cross_entropy_with_logits")
    weight = _optional_array(weight, input.shape, input.dtype, "weight", "binary_cross_entropy")
    return ls.BinaryCrossEntropy.apply(input, target, weight=weight, reduction=reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    """Binary cross-entropy on logits (sigmoid fused in): finite for any logit, e.g. 1e8."""
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    input = floating(input, "binary_cross_entropy_with_logits")
    target = _same_shape(input, target, "binary_cross_entropy_with_logits")
    weight = _optional_array(weight, input.shape, input.dtype, "weight", "binary_cross_entropy_with_logits")
    pos_weight = _optional_array(pos_weight, input.shape, input.dtype, "pos_weight",
                                 "binary_cross_entropy_with_logits")
    return ls.BinaryCrossEntropyWithLogits.apply(input, target, weight=weight, pos_weight=pos_weight,
                                                 reduction=reduction)
