"""torch.nn.functional's names: activations, softmax, losses, dropout, linear, normalisation, embedding, pad,
one_hot."""

import numpy as np

from ..autograd.grad_mode import no_grad
from ..errors import ShapeError
from ..functional import arithmetic as ar
from ..functional import indexing
from ..functional import softmax as softmax_module
from ..functional.operands import cast, floating
from ..functional.shape import movedim, reshape
from ..functional.shape import pad as _pad
from ..ops import embedding as emb
from ..ops import loss as ls
from ..ops import matmul as mat
from ..ops import norm
from ..random import numpy_generator
from ..tensor import Tensor
from .conv import conv1d, conv2d  # noqa: F401  (defined next to the Conv layers, offered here by name)
from .conv_transpose import conv_transpose2d  # noqa: F401
from .group_norm import group_norm  # noqa: F401
from .pooling import (  # noqa: F401  (defined next to the pooling layers, offered here by name)
    adaptive_avg_pool2d,
    adaptive_max_pool2d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
)

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


# ----- normalisation ----------------------------------------------------------------------------------------------
def _affine_inputs(weight, bias, shape, dtype, op_name):
    """weight and bias (each optional) as tensors of `shape` in `dtype`, and the flags the fused ops take."""
    inputs = []
    for name, value in (("weight", weight), ("bias", bias)):
        if value is None:
            continue
        value = value if isinstance(value, Tensor) else Tensor(value)
        if value.shape != shape:
            raise ShapeError(f"{op_name}: {name} must have shape {shape}, got {value.shape}")
        inputs.append(cast(value, dtype) if value.dtype != dtype else value)
    return inputs, weight is not None, bias is not None


def _check_running_stat(stat, name, channels):
    if not isinstance(stat, Tensor):
        raise TypeError(f"batch_norm: {name} must be a Tensor (its values are updated in place), got "
                        f"{type(stat).__name__}")
    if stat.shape != (channels,):
        raise ShapeError(f"batch_norm: {name} should contain {channels} elements (one per channel of the input), "
                         f"not shape {stat.shape}")


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Batch normalisation of `input` (N, C, *) over every dim but the channel dim 1; weight and bias are (C,).

    training=True normalises with the batch mean and biased variance and, when running_mean and running_var (C,)
    are given, updates them in place: running = (1 - momentum) * running + momentum * batch statistic, with the
    unbiased batch variance for running_var (as PyTorch). training=False uses the running statistics.
    """
    input = floating(input, "batch_norm")
    if input.ndim < 2:
        raise ShapeError(f"batch_norm: input must have shape (N, C, *) with a channel dim 1, got {input.shape}")
    if momentum is None:
        raise TypeError("batch_norm: momentum must be a float; for a cumulative average pass momentum=1/k at the "
                        "k-th batch (nn.BatchNorm1d(momentum=None) does this for you)")
    channels = input.shape[1]
    if training and input.data.size == channels:  # N * prod(spatial dims) == 1, as torch checks
        raise ValueError(f"Expected more than 1 value per channel when training, got input size {input.shape}")
    track = running_mean is not None and running_var is not None
    if not training and not track:
        raise RuntimeError("batch_norm: running_mean and running_var must be defined in evaluation mode "
                           "(training=False)")
    if track:
        _check_running_stat(running_mean, "running_mean", channels)
        _check_running_stat(running_var, "running_var", channels)
    dtype = weight.dtype if isinstance(weight, Tensor) else input.dtype
    input = cast(input, dtype) if input.dtype != dtype else input
    affine, has_weight, has_bias = _affine_inputs(weight, bias, (channels,), dtype, "batch_norm")
    out = norm.BatchNorm.apply(input, *affine, has_weight=has_weight, has_bias=has_bias, training=training,
                               running_mean=running_mean.data if track else None,
                               running_var=running_var.data if track else None, momentum=momentum, eps=eps)
    if training and track:  # the op changed them in place: ops that saved them must notice
        running_mean._version[0] += 1
        running_var._version[0] += 1
    return out


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Layer normalisation over the last len(normalized_shape) dims of `input` (*, *normalized_shape);
    weight and bias have shape normalized_shape."""
    input = floating(input, "layer_norm")
    normalized_shape = (int(normalized_shape),) if isinstance(normalized_shape, (int, np.integer)) \
        else tuple(int(n) for n in normalized_shape)
    k = len(normalized_shape)
    if k == 0 or input.ndim < k or input.shape[input.ndim - k:] != normalized_shape:
        raise ShapeError(f"layer_norm: normalized_shape={normalized_shape} expects input of shape "
                         f"(*, {', '.join(map(str, normalized_shape))}), got {input.shape}")
    dtype = weight.dtype if isinstance(weight, Tensor) else input.dtype
    input = cast(input, dtype) if input.dtype != dtype else input
    affine, has_weight, has_bias = _affine_inputs(weight, bias, normalized_shape, dtype, "layer_norm")
    return norm.LayerNorm.apply(input, *affine, has_weight=has_weight, has_bias=has_bias, normalized_ndim=k,
                                eps=eps)


# ----- embedding --------------------------------------------------------------------------------------------------
def _embedding_indices(input, num_embeddings, op_name="embedding"):
    """The indices as an integer array, each checked to lie in [0, num_embeddings)."""
    indices = input.data if isinstance(input, Tensor) else np.asarray(input)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"{op_name}: indices must be an integer tensor (int64 or int32), got dtype {indices.dtype}")
    if indices.size:
        low, high = indices.min(), indices.max()
        if low < 0 or high >= num_embeddings:
            raise IndexError(f"{op_name}: index {int(low if low < 0 else high)} is out of range: valid indices are "
                             f"0..{num_embeddings - 1}")
    return indices


def _padding_index(padding_idx, num_embeddings, op_name):
    """padding_idx as a row number in [0, num_embeddings) (negative counts from the end), or None."""
    if padding_idx is None:
        return None
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"{op_name}: padding_idx={padding_idx} must be within num_embeddings={num_embeddings}")
    return padding_idx % num_embeddings


def _embedding_renorm_(weight, indices, max_norm, norm_type):
    """Scale the looked-up rows of weight whose norm_type-norm exceeds max_norm down to max_norm, in place."""
    rows = np.unique(indices)
    with no_grad():
        picked = weight.data[rows]
        norms = np.linalg.norm(picked.astype(np.float64), ord=norm_type, axis=1)
        too_long = norms > max_norm
        if too_long.any():
            scale = max_norm / (norms[too_long] + 1e-7)  # PyTorch's 1e-7 keeps zero rows from dividing by 0
            weight.data[rows[too_long]] = picked[too_long] * scale[:, None].astype(weight.dtype)
            weight._version[0] += 1


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of `weight` (V, D) picked by the integer indices `input` (*): output (*, D).

    padding_idx: that row gets no gradient. max_norm: the looked-up rows whose norm_type-norm exceeds it are
    renormalised in place first (no gradient), as in PyTorch.
    """
    if weight.ndim != 2:
        raise ShapeError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape {weight.shape}")
    if sparse:
        raise NotImplementedError("embedding: sparse gradients are not supported; use sparse=False (the dense "
                                  "gradient has the same values)")
    num_embeddings = weight.shape[0]
    padding_idx = _padding_index(padding_idx, num_embeddings, "embedding")
    indices = _embedding_indices(input, num_embeddings)
    if max_norm is not None:
        _embedding_renorm_(weight, indices, max_norm, norm_type)
    return emb.Embedding.apply(weight, indices=indices, padding_idx=padding_idx,
                               scale_grad_by_freq=scale_grad_by_freq)


# ----- more element-wise losses (composites: no backward code of their own) -----------------------------------------
def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    """0.5 (x - y)^2 / beta where |x - y| < beta, else |x - y| - 0.5 beta; beta=0 gives the L1 loss."""
    _check_reduction(reduction, "smooth_l1_loss")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    input = floating(input, "smooth_l1_loss")
    diff = ar.sub(input, _same_shape(input, target, "smooth_l1_loss"))
    if beta == 0:
        return _reduce(ar.abs(diff), reduction)
    quadratic = ar.mul(ar.mul(diff, diff), 0.5 / beta)
    linear = ar.sub(ar.abs(diff), 0.5 * beta)
    return _reduce(ar.where(Tensor._make(np.abs(diff.data) < beta), quadratic, linear), reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """0.5 (x - y)^2 where |x - y| < delta, else delta (|x - y| - 0.5 delta); optional per-element weight."""
    _check_reduction(reduction, "huber_loss")
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    input = floating(input, "huber_loss")
    diff = ar.sub(input, _same_shape(input, target, "huber_loss"))
    quadratic = ar.mul(ar.mul(diff, diff), 0.5)
    linear = ar.mul(ar.sub(ar.abs(diff), 0.5 * delta), delta)
    loss = ar.where(Tensor._make(np.abs(diff.data) < delta), quadratic, linear)
    if weight is not None:
        weight = weight if isinstance(weight, Tensor) else Tensor(weight)
        if weight.shape != input.shape:
            raise ShapeError(f"huber_loss: weight must have the input's shape {input.shape}, got {weight.shape}")
        loss = ar.mul(loss, weight)
    return _reduce(loss, reduction)


def kl_div(input, target, reduction="mean", log_target=False):
    """Kullback-Leibler divergence with `input` holding log-probabilities: target * (log(target) - input) per
    element (exp(target) * (target - input) when log_target). reduction='batchmean' divides the sum by the batch
    size (the true KL divergence per sample); 'mean' divides by the number of elements."""
    if reduction not in _REDUCTIONS + ("batchmean",):
        raise ValueError(f"kl_div: reduction must be one of {_REDUCTIONS + ('batchmean',)}, got {reduction!r}")
    input = floating(input, "kl_div")
    target = _same_shape(input, target, "kl_div")
    if log_target:
        weight = Tensor._make(np.exp(target.data)) if not target.requires_grad else ar.exp(target)
        loss = ar.mul(weight, ar.sub(target, input))
    else:
        zero = target.data == 0
        if target.requires_grad:
            # t log t, with 0 log 0 = 0; the inner where keeps log(0) (and its infinite gradient) out entirely
            safe = ar.where(Tensor._make(zero), 1.0, target)
            entropy_term = ar.where(Tensor._make(zero), 0.0, ar.mul(target, ar.log(safe)))
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                entropy_term = Tensor._make(np.where(zero, 0, target.data * np.log(np.where(zero, 1, target.data)))
                                            .astype(input.dtype))
        loss = ar.sub(entropy_term, ar.mul(target, input))
    if reduction == "batchmean":
        total = loss.sum()
        return ar.div(total, input.shape[0]) if input.ndim > 0 else total
    return _reduce(loss, reduction)


# Defined next to their layers, offered here by name. Imported last because upsampling/dropout import this module.
from .dropout import dropout2d  # noqa: E402,F401
from .upsampling import interpolate  # noqa: E402,F401

# ----- embedding_bag ----------------------------------------------------------------------------------------------
_BAG_MODES = ("sum", "mean", "max")


def _bag_bounds(indices, offsets, include_last_offset, op_name):
    """Where each bag starts and ends in the flat indices: an int64 array (B + 1,), non-decreasing, from 0."""
    if indices.ndim == 2:
        if offsets is not None:
            raise ValueError(f"{op_name}: if input is 2D, then offsets has to be None, as input is treated is a "
                             f"mini-batch of fixed length sequences. However, found offsets of type "
                             f"{type(offsets).__name__}")
        bags, size = indices.shape
        return np.arange(bags + 1, dtype=np.int64) * size  # include_last_offset changes nothing here (as torch)
    if indices.ndim != 1:
        raise ValueError(f"{op_name}: input has to be 1D or 2D Tensor, but got Tensor of dimension {indices.ndim}")
    if offsets is None:
        raise ValueError(f"{op_name}: offsets has to be a 1D Tensor but got None (a 1-D input needs offsets: the "
                         "start of each bag)")
    offsets = offsets.data if isinstance(offsets, Tensor) else np.asarray(offsets)
    if offsets.ndim != 1:
        raise ValueError(f"{op_name}: offsets has to be a 1D Tensor, got shape {offsets.shape}")
    if offsets.size and offsets.dtype.kind not in "iu":
        raise TypeError(f"{op_name}: offsets must be an integer tensor (int64 or int32), got dtype {offsets.dtype}")
    offsets = offsets.astype(np.int64, copy=False)
    if offsets.size and offsets[0] != 0:
        raise ValueError(f"{op_name}: offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start "
                         f"from position 0. However, got {int(offsets[0])}")
    if np.any(offsets[1:] < offsets[:-1]):
        raise ValueError(f"{op_name}: offsets must be non-decreasing (each bag starts where or after the previous "
                         f"one does), got {offsets.tolist()}")
    if offsets.size and offsets[-1] > indices.size:
        raise ValueError(f"{op_name}: offsets[-1] can not be greater than input's length {indices.size} but got "
                         f"offsets[-1] of {int(offsets[-1])}")
    if include_last_offset:
        if not offsets.size:
            raise ValueError(f"{op_name}: with include_last_offset=True, offsets needs at least one element (the end "
                             "of the last bag)")
        return offsets
    return np.append(offsets, indices.size)


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False, mode="mean",
                  sparse=False, per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """Sums, means or maxima of bags of rows of `weight` (V, D), without building the (*, D) lookups: output (B, D).

    input: int (B, N), B bags of N indices each; or int (K,) with offsets (B,) giving where each bag starts (and,
    with include_last_offset, (B + 1,) whose last entry ends the last bag). per_sample_weights: the input's shape,
    mode="sum" only, scales each looked-up row. Entries equal to padding_idx are left out of their bag (and of the
    mean's count); an empty bag gives zeros. max_norm renormalises the looked-up rows in place first, as embedding.
    """
    op_name = "embedding_bag"
    if weight.ndim != 2:
        raise ShapeError(f"{op_name}: weight must be 2-D (num_embeddings, embedding_dim), got shape {weight.shape}")
    if mode not in _BAG_MODES:
        raise ValueError(f"{op_name}: mode has to be one of sum, mean or max, got {mode!r}")
    if sparse:
        raise NotImplementedError(f"{op_name}: sparse gradients are not supported; use sparse=False (the dense "
                                  "gradient has the same values)")
    if scale_grad_by_freq and mode == "max":
        raise ValueError(f"{op_name}: max mode does not support scaling the gradient by the frequency")
    num_embeddings = weight.shape[0]
    indices = _embedding_indices(input, num_embeddings, op_name)
    bounds = _bag_bounds(indices, offsets, include_last_offset, op_name)
    padding_idx = _padding_index(padding_idx, num_embeddings, op_name)
    inputs = (weight,)
    if per_sample_weights is not None:
        if mode != "sum":
            raise NotImplementedError(f"{op_name}: per_sample_weights was not None. per_sample_weights is only "
                                      f"supported for mode='sum' (got mode={mode!r})")
        if not isinstance(per_sample_weights, Tensor):
            per_sample_weights = Tensor(per_sample_weights)
        if per_sample_weights.shape != indices.shape:
            raise ValueError(f"{op_name}: if per_sample_weights ({per_sample_weights.shape}) is not None, then it "
                             f"must have the same shape as the input ({indices.shape})")
        inputs += (reshape(cast(per_sample_weights, weight.dtype), -1),)
    if max_norm is not None:
        _embedding_renorm_(weight, indices, max_norm, norm_type)
    op = emb.EmbeddingBag if per_sample_weights is None else emb.WeightedEmbeddingBag
    return op.apply(*inputs, indices=indices.reshape(-1).astype(np.int64, copy=False), bounds=bounds, mode=mode,
                    padding_idx=padding_idx, scale_grad_by_freq=scale_grad_by_freq)
