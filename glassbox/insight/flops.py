"""FLOP estimates of one forward op from its input and output shapes: the counting rules of the graph view.

The rules (a multiply-add counts as 2 FLOPs, as torch.utils.flop_counter counts them):
  matmul / linear      2 * m * n * k: 2 * (output size) * k, k the contracted length (a linear bias is not counted)
  conv2d               2 * N * C_out * H_out * W_out * (C_in / groups) * kh * kw = 2 * (output size) * weight[1:] size
  conv_transpose2d     2 * N * C_in * H_in * W_in * (C_out / groups) * kh * kw = 2 * (input size) * weight[1:] size
  recurrences          2 * T * B * (sum of the sizes of the 2-D weight matrices) (the gate GEMMs; gates elementwise
                       work is not counted)
  elementwise          output size (activations, arithmetic, where, clamp, dropout, casts)
  reductions           input size (sum, mean, max, logsumexp ...)
  pooling              output size * kh * kw for windowed pools (every window reads its kh*kw values); input size for
                       adaptive pools
  softmax family       3 * input size (max, exp-and-sum, normalise); cross-entropy and NLL from logits count the same
  normalisations       5 * input size (mean, variance, normalise, scale, shift)
  movement             0 (reshape, permute, expand, indexing, cat, pad, embedding lookups ...)
Ops not in any table count as elementwise: an estimate, not a measurement.
"""

from math import prod

MATMUL = {"MatMul", "Linear"}
CONV = {"Conv2d"}
CONV_TRANSPOSE = {"ConvTranspose2d"}
RECURRENT = {"RNNSequence", "LSTMSequence", "GRUSequence"}
REDUCTION = {"Sum", "Mean", "Prod", "Amax", "Amin", "LogSumExp"}
WINDOW_POOL = {"MaxPool2d", "AvgPool2d"}
ADAPTIVE_POOL = {"AdaptiveMaxPool2d", "AdaptiveAvgPool2d"}
SOFTMAX = {"Softmax", "LogSoftmax", "CrossEntropy", "NllLoss"}
NORMALISATION = {"BatchNorm", "LayerNorm", "GroupNorm"}
MOVEMENT = {"Reshape", "Permute", "Expand", "Flip", "Repeat", "GetItem", "IndexPut", "Cat", "Stack", "Pad", "Gather",
            "ScatterAdd", "IndexSelect", "Tril", "Triu", "Clone", "Fill", "SelectAlongDim", "Embedding",
            "EmbeddingBag", "WeightedEmbeddingBag", "UpsampleNearest2d"}


def category(op):
    """The FLOP-rule family of an op class name: 'matmul', 'conv', ..., or 'elementwise' for anything else."""
    for name, members in (("matmul", MATMUL), ("conv", CONV | CONV_TRANSPOSE), ("recurrent", RECURRENT),
                          ("reduction", REDUCTION), ("pool", WINDOW_POOL | ADAPTIVE_POOL), ("softmax", SOFTMAX),
                          ("norm", NORMALISATION), ("movement", MOVEMENT)):
        if op in members:
            return name
    return "elementwise"


def estimate_flops(op, input_shapes, output_shape, kernel=None):
    """FLOPs of one forward run of op class name `op` (e.g. 'Conv2d'), by the rules in this module's docstring.

    input_shapes: the shape tuple of every input, in the op's argument order (None where unknown); output_shape: the
    output's shape tuple; kernel: (kh, kw) for windowed pooling when known. Returns an int >= 0.
    """
    shapes = [tuple(s) if s is not None else None for s in input_shapes]
    first = shapes[0] if shapes else None
    out_size = prod(output_shape) if output_shape is not None else 0
    in_size = prod(first) if first is not None else out_size
    if op in MATMUL:
        k = first[-1] if first else 0  # MatMul: a (..., m, k) or (k,); Linear: x (..., in_features)
        return 2 * out_size * k
    if op in CONV and len(shapes) > 1 and shapes[1] is not None:
        return 2 * out_size * prod(shapes[1][1:])
    if op in CONV_TRANSPOSE and len(shapes) > 1 and shapes[1] is not None:
        return 2 * in_size * prod(shapes[1][1:])
    if op in RECURRENT and first is not None and len(first) == 3:
        steps, batch = first[0], first[1]
        states = 2 if op == "LSTMSequence" else 1  # x, h0 (, c0), then w_ih, w_hh and the 1-D biases
        matrices = sum(prod(s) for s in shapes[1 + states:] if s is not None and len(s) == 2)
        return 2 * steps * batch * matrices
    if op in REDUCTION:
        return in_size
    if op in WINDOW_POOL:
        return out_size * prod(kernel) if kernel is not None else in_size
    if op in ADAPTIVE_POOL:
        return in_size
    if op in SOFTMAX:
        return 3 * in_size
    if op in NORMALISATION:
        return 5 * in_size
    if op in MOVEMENT:
        return 0
    return out_size
