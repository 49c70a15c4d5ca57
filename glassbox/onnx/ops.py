"""One ONNX translation per glassbox primitive op, keyed by the op's class name in TRANSLATIONS.

A translation gets the graph builder `g` (export.py) and the op record `op` (export._OpContext) and returns the
name of the ONNX value equal to the op's output. It uses only `g.node`, `g.const`, `g.ints` and `g.reduce`, so
this module needs neither onnx nor any knowledge of modules.
"""

import numpy as np

_INT64_MAX = np.iinfo(np.int64).max
_INT64_MIN = np.iinfo(np.int64).min


def _unary(onnx_op):
    def translate(g, op):
        return g.node(onnx_op, [op.x(0)])

    translate.__name__ = f"unary_{onnx_op}"
    return translate


def _binary(onnx_op):
    def translate(g, op):
        return g.node(onnx_op, [op.x(0), op.x(1)])

    translate.__name__ = f"binary_{onnx_op}"
    return translate


def _scalar(g, op, value):
    """`value` as a 0-d constant in the output's dtype."""
    return g.const(np.asarray(value, dtype=op.out_dtype), "scalar")


# ----- element-wise --------------------------------------------------------------------------------------------
def _pow_scalar(g, op):
    return g.node("Pow", [op.x(0), _scalar(g, op, op.params["exponent"])])


def _rpow_scalar(g, op):  # base ** a
    return g.node("Pow", [_scalar(g, op, op.params["base"]), op.x(0)])


def _rsqrt(g, op):
    return g.node("Reciprocal", [g.node("Sqrt", [op.x(0)])])


def _log1p(g, op):
    return g.node("Log", [g.node("Add", [op.x(0), _scalar(g, op, 1)])])


def _clamp(g, op):
    low, high = op.params.get("min"), op.params.get("max")
    return g.node("Clip", [op.x(0), _scalar(g, op, low) if low is not None else "",
                           _scalar(g, op, high) if high is not None else ""])


def _where(g, op):
    return g.node("Where", [op.array(op.params["condition"]), op.x(0), op.x(1)])


def _cast(g, op):
    return g.node("Cast", [op.x(0)], to=g.elem_type(op.out_dtype))


def _clone(g, op):
    return g.node("Identity", [op.x(0)])


# ----- activations ---------------------------------------------------------------------------------------------
def _leaky_relu(g, op):
    return g.node("LeakyRelu", [op.x(0)], alpha=float(op.params.get("negative_slope", 0.01)))


def _elu(g, op):
    alpha, scale = float(op.params.get("alpha", 1.0)), float(op.params.get("scale", 1.0))
    if op.params.get("input_scale", 1.0) != 1.0:
        op.fail("Elu with input_scale != 1 (CELU-like) has no ONNX translation")
    if scale == 1.0:
        return g.node("Elu", [op.x(0)], alpha=alpha)
    return g.node("Selu", [op.x(0)], alpha=alpha, gamma=scale)  # scale * elu(x, alpha): exactly ONNX's Selu


def _gelu(g, op):
    x = op.x(0)
    if op.params.get("approximate", "none") == "tanh":
        # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = g.node("Mul", [g.node("Mul", [x, x]), x])
        inner = g.node("Add", [x, g.node("Mul", [cube, _scalar(g, op, 0.044715)])])
        t = g.node("Tanh", [g.node("Mul", [inner, _scalar(g, op, np.sqrt(2 / np.pi))])])
    else:  # 0.5 x (1 + erf(x / sqrt(2))); ONNX's own Gelu needs opset 20
        t = g.node("Erf", [g.node("Div", [x, _scalar(g, op, np.sqrt(2.0))])])
    half_x = g.node("Mul", [x, _scalar(g, op, 0.5)])
    return g.node("Mul", [half_x, g.node("Add", [t, _scalar(g, op, 1.0)])])


def _silu(g, op):
    x = op.x(0)
    return g.node("Mul", [x, g.node("Sigmoid", [x])])


def _softplus(g, op):
    # log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (as PyTorch)
    x = op.x(0)
    beta, threshold = float(op.params.get("beta", 1.0)), float(op.params.get("threshold", 20.0))
    scaled = g.node("Mul", [x, _scalar(g, op, beta)]) if beta != 1.0 else x
    soft = g.node("Softplus", [scaled])
    if beta != 1.0:
        soft = g.node("Div", [soft, _scalar(g, op, beta)])
    linear = g.node("Greater", [scaled, _scalar(g, op, threshold)])
    return g.node("Where", [linear, x, soft])


def _softmax(onnx_op):
    def translate(g, op):
        return g.node(onnx_op, [op.x(0)], axis=int(op.params["axis"]))

    return translate


# ----- matrix products and convolution -----------------------------------------------------------------------------
def _linear(g, op):
    x, weight = op.x(0), op.x(1)
    bias = op.x(2) if len(op.inputs) > 2 else None
    if len(op.shape(0)) == 2:
        return g.node("Gemm", [x, weight] + ([bias] if bias else []), transB=1)
    out = g.node("MatMul", [x, g.node("Transpose", [weight], perm=[1, 0])])
    return g.node("Add", [out, bias]) if bias else out


def _conv_attributes(op, weight_index=1):
    ph, pw = op.params.get("padding", (0, 0))
    return dict(kernel_shape=list(op.shape(weight_index)[2:]), strides=list(op.params.get("stride", (1, 1))),
                pads=[ph, pw, ph, pw], dilations=list(op.params.get("dilation", (1, 1))),
                group=int(op.params.get("groups", 1)))


def _conv(g, op):
    return g.node("Conv", [op.x(k) for k in range(len(op.inputs))], **_conv_attributes(op))


def _conv_transpose(g, op):
    attributes = _conv_attributes(op)
    attributes["output_padding"] = list(op.params.get("output_padding", (0, 0)))
    return g.node("ConvTranspose", [op.x(k) for k in range(len(op.inputs))], **attributes)


# ----- pooling -----------------------------------------------------------------------------------------------------
def _max_pool(g, op):
    if op.params.get("indices_out") is not None:
        op.fail("max pooling with return_indices=True cannot be exported")
    ph, pw = op.params.get("padding", (0, 0))
    return g.node("MaxPool", [op.x(0)], kernel_shape=list(op.params["kernel"]), strides=list(op.params["stride"]),
                  pads=[ph, pw, ph, pw], dilations=list(op.params.get("dilation", (1, 1))),
                  ceil_mode=int(bool(op.params.get("ceil_mode", False))))


def _avg_pool(g, op):
    if op.params.get("divisor_override"):
        op.fail("avg pooling with divisor_override has no ONNX translation")
    ph, pw = op.params.get("padding", (0, 0))
    return g.node("AveragePool", [op.x(0)], kernel_shape=list(op.params["kernel"]),
                  strides=list(op.params["stride"]), pads=[ph, pw, ph, pw],
                  ceil_mode=int(bool(op.params.get("ceil_mode", False))),
                  count_include_pad=int(bool(op.params.get("count_include_pad", True))))


def _adaptive_windows(length, out):
    """PyTorch's adaptive pooling windows: [floor(i L / out), ceil((i + 1) L / out)) for i < out."""
    i = np.arange(out)
    return (i * length) // out, -((-(i + 1) * length) // out)


def _adaptive_pool(kind):
    def translate(g, op):
        if op.params.get("indices_out") is not None:
            op.fail("adaptive max pooling with return_indices=True cannot be exported")
        h, w = op.shape(0)[2:]
        out_h, out_w = op.out_shape[2:]
        if (out_h, out_w) == (1, 1):
            return g.node(f"Global{kind}Pool", [op.x(0)])
        if h % out_h == 0 and w % out_w == 0:  # uniform windows: an ordinary pool
            kernel = [h // out_h, w // out_w]
            return g.node(f"{kind}Pool", [op.x(0)], kernel_shape=kernel, strides=kernel)
        if kind == "Max":
            op.fail(f"adaptive max pooling from {(h, w)} to {(out_h, out_w)} (uneven windows) has no ONNX "
                    f"translation; use an output size that divides the input size")
        # uneven windows: y = A_h x A_w^T, with A the (out, L) matrices averaging each window (MatMul broadcasts)
        a_h, a_w = _averaging(h, out_h, op.out_dtype), _averaging(w, out_w, op.out_dtype)
        along_w = g.node("MatMul", [op.x(0), g.const(np.ascontiguousarray(a_w.T), "adaptive_pool_w")])
        return g.node("MatMul", [g.const(a_h, "adaptive_pool_h"), along_w])

    return translate


def _averaging(length, out, dtype):
    start, end = _adaptive_windows(length, out)
    matrix = np.zeros((out, length), dtype=dtype)
    for i in range(out):
        matrix[i, start[i]:end[i]] = 1.0 / (end[i] - start[i])
    return matrix


# ----- normalisation -----------------------------------------------------------------------------------------------
def _affine(g, op, count, start=1):
    """The weight and bias inputs of a normalisation op, ones and zeros (of `count` values) where absent."""
    has_weight, has_bias = op.params["has_weight"], op.params["has_bias"]
    weight = op.x(start) if has_weight else g.const(np.ones(count, dtype=op.out_dtype), "ones")
    bias = op.x(start + int(has_weight)) if has_bias else g.const(np.zeros(count, dtype=op.out_dtype), "zeros")
    return weight, bias


def _batch_norm(g, op):
    if op.params["training"]:
        op.fail("batch norm in training mode cannot be exported (export runs the model in eval mode; a layer that "
                "forces training=True is not exportable)")
    channels = op.shape(0)[1]
    weight, bias = _affine(g, op, channels)
    mean, var = op.array(op.params["running_mean"]), op.array(op.params["running_var"])
    return g.node("BatchNormalization", [op.x(0), weight, bias, mean, var], epsilon=float(op.params["eps"]))


def _layer_norm(g, op):
    k = op.params["normalized_ndim"]
    weight, bias = _affine(g, op, op.shape(0)[-k:])
    return g.node("LayerNormalization", [op.x(0), weight, bias], axis=-k, epsilon=float(op.params["eps"]))


def _group_norm(g, op):
    # Normalise each of the G groups as one 'instance' of a (N, G, -1) view, then apply the per-channel affine.
    x, groups = op.x(0), int(op.params["num_groups"])
    shape = op.shape(0)
    grouped = g.node("Reshape", [x, g.ints([0, groups, -1])])
    ones = g.const(np.ones(groups, dtype=op.out_dtype), "ones")
    zeros = g.const(np.zeros(groups, dtype=op.out_dtype), "zeros")
    normed = g.node("InstanceNormalization", [grouped, ones, zeros], epsilon=float(op.params["eps"]))
    out = g.node("Reshape", [normed, g.node("Shape", [x])])
    per_channel = [shape[1]] + [1] * (len(shape) - 2)
    if op.params["has_weight"]:
        out = g.node("Mul", [out, g.node("Reshape", [op.x(1), g.ints(per_channel)])])
    if op.params["has_bias"]:
        out = g.node("Add", [out, g.node("Reshape", [op.x(1 + op.params["has_weight"]), g.ints(per_channel)])])
    return out


# ----- shapes and data movement ------------------------------------------------------------------------------------
def _reshape(g, op):
    return g.node("Reshape", [op.x(0), g.ints(op.symbolic_out_shape())])


def _permute(g, op):
    return g.node("Transpose", [op.x(0)], perm=[int(d) for d in op.params["dims"]])


def _expand(g, op):
    in_shape = (1,) * (len(op.out_shape) - len(op.shape(0))) + tuple(op.shape(0))
    target = list(op.out_shape)
    for axis in op.batch_axes_out:
        if in_shape[axis] == 1:
            op.fail("expand() to a batch-sized dim from a dim of size 1 bakes in the batch size; export with "
                    "dynamic_batch=False")
        target[axis] = 1  # Expand broadcasts both ways: 1 keeps the input's (batch) size
    return g.node("Expand", [op.x(0), g.ints(target)])


def _concat(g, op):
    return g.node("Concat", [op.x(k) for k in range(len(op.inputs))], axis=int(op.params["axis"]))


def _stack(g, op):
    axis = int(op.params["axis"]) % len(op.out_shape)
    parts = [g.node("Unsqueeze", [op.x(k), g.ints([axis])]) for k in range(len(op.inputs))]
    return g.node("Concat", parts, axis=axis)


def _flip(g, op):
    axes = [int(a) for a in np.atleast_1d(op.params["axes"])]
    n = len(axes)
    return g.node("Slice", [op.x(0), g.ints([-1] * n), g.ints([_INT64_MIN] * n), g.ints(axes), g.ints([-1] * n)])


def _repeat(g, op):
    repeats = [int(r) for r in op.params["repeats"]]
    x, extra = op.x(0), len(repeats) - len(op.shape(0))
    if extra:
        x = g.node("Unsqueeze", [x, g.ints(list(range(extra)))])
    return g.node("Tile", [x, g.ints(repeats)])


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _pad(g, op):
    widths = [tuple(int(v) for v in pair) for pair in op.params["widths"]]
    mode = op.params.get("mode", "constant")
    if mode == "circular" and g.opset < 19:
        op.fail("circular padding needs opset >= 19 (ONNX Pad mode 'wrap')")
    pads = g.ints([before for before, _ in widths] + [after for _, after in widths])
    inputs = [op.x(0), pads]
    if mode == "constant":
        inputs.append(_scalar(g, op, op.params.get("value", 0.0)))
    return g.node("Pad", inputs, mode=_PAD_MODES[mode])


def _get_item(g, op):
    index = op.params["index"]
    index = index if isinstance(index, tuple) else (index,)
    arrays = [k for k, item in enumerate(index) if isinstance(item, (np.ndarray, list))]
    shape = op.shape(0)
    if arrays:
        item = np.asarray(index[arrays[0]])
        rest = [i for k, i in enumerate(index) if k != arrays[0]]
        if len(arrays) > 1 or item.dtype == bool or any(not _is_full(i) for i in rest if i is not Ellipsis):
            op.fail("indexing with boolean masks or several index arrays has no ONNX translation")
        axis = arrays[0] if Ellipsis not in index[:arrays[0]] else arrays[0] - len(index) + len(shape)
        return g.node("Gather", [op.x(0), op.array(index[arrays[0]])], axis=axis)
    # expand Ellipsis into full slices, then: slices -> Slice, ints -> Squeeze, None -> Unsqueeze
    real = sum(1 for i in index if i is not None and i is not Ellipsis)
    expanded = []
    for item in index:
        expanded.extend([slice(None)] * (len(shape) - real) if item is Ellipsis else [item])
    expanded += [slice(None)] * (len(shape) - sum(1 for i in expanded if i is not None))
    starts, ends, axes, steps, squeeze, unsqueeze = [], [], [], [], [], []
    axis = out_position = 0
    for item in expanded:
        if item is None:
            unsqueeze.append(out_position)
            out_position += 1
            continue
        if axis in op.batch_axes(0) and not _is_full(item):
            op.fail("indexing along the batch dim bakes in the batch size; export with dynamic_batch=False")
        if isinstance(item, slice):
            start, stop, step = item.indices(shape[axis])
            if (start, stop, step) != (0, shape[axis], 1):
                if step < 0 and stop < 0:
                    stop = _INT64_MIN  # ran past the first element
                starts.append(start), ends.append(stop), axes.append(axis), steps.append(step)
            out_position += 1
        else:
            position = int(item) % shape[axis]
            starts.append(position), ends.append(position + 1), axes.append(axis), steps.append(1)
            squeeze.append(axis)
        axis += 1
    out = op.x(0)
    if axes:
        out = g.node("Slice", [out, g.ints(starts), g.ints(ends), g.ints(axes), g.ints(steps)])
    if squeeze:
        out = g.node("Squeeze", [out, g.ints(squeeze)])
    if unsqueeze:
        out = g.node("Unsqueeze", [out, g.ints(unsqueeze)])
    return out if out != op.x(0) else g.node("Identity", [out])


def _is_full(item):
    return isinstance(item, slice) and item == slice(None)


def _gather_elements(g, op):
    return g.node("GatherElements", [op.x(0), op.array(op.params["index"])], axis=int(op.params["axis"]))


def _index_select(g, op):
    return g.node("Gather", [op.x(0), op.array(op.params["index"])], axis=int(op.params["axis"]))


def _triangle(upper):
    def translate(g, op):
        return g.node("Trilu", [op.x(0), g.const(np.asarray(int(op.params.get("diagonal", 0)), np.int64), "k")],
                      upper=int(upper))

    return translate


def _reduction(onnx_op):
    def translate(g, op):
        axis = op.params.get("axis")
        ndim = len(op.shape(0))
        axes = list(range(ndim)) if axis is None else [int(a) % ndim for a in np.atleast_1d(axis)]
        return g.reduce(onnx_op, op.x(0), axes, bool(op.params.get("keepdim", False)))

    return translate


# ----- embedding and resizing --------------------------------------------------------------------------------------
def _embedding(g, op):
    return g.node("Gather", [op.x(0), op.array(op.params["indices"])], axis=0)


def _upsample_nearest(g, op):
    # out[:, :, y, x] = in[:, :, iy[y], ix[x]]: two Gathers reproduce glassbox's index choice exactly
    rows = g.node("Gather", [op.x(0), g.const(np.asarray(op.params["iy"], np.int64), "rows")], axis=2)
    return g.node("Gather", [rows, g.const(np.asarray(op.params["ix"], np.int64), "cols")], axis=3)


def _upsample_bilinear(g, op):
    # the same two-tap blend per axis as glassbox: t = x[h0] (1 - l) + x[h1] l, first along H then along W
    out = op.x(0)
    for axis, (low, high, weight) in ((2, op.params["taps_h"]), (3, op.params["taps_w"])):
        weight = np.asarray(weight, dtype=op.out_dtype)
        shape = (-1, 1) if axis == 2 else (-1,)
        a = g.node("Gather", [out, g.const(np.asarray(low, np.int64), "taps")], axis=axis)
        b = g.node("Gather", [out, g.const(np.asarray(high, np.int64), "taps")], axis=axis)
        a = g.node("Mul", [a, g.const((1 - weight).reshape(shape), "tap_weights")])
        b = g.node("Mul", [b, g.const(weight.reshape(shape), "tap_weights")])
        out = g.node("Add", [a, b])
    return out


def _dropout(g, op):
    op.fail("dropout ran in training mode; export runs the model in eval mode, so some layer forces training=True")


TRANSLATIONS = {
    "Add": _binary("Add"), "Sub": _binary("Sub"), "Mul": _binary("Mul"), "Div": _binary("Div"),
    "Pow": _binary("Pow"), "Maximum": _binary("Max"), "Minimum": _binary("Min"), "MatMul": _binary("MatMul"),
    "PowScalar": _pow_scalar, "RPowScalar": _rpow_scalar,
    "Neg": _unary("Neg"), "Exp": _unary("Exp"), "Log": _unary("Log"), "Sqrt": _unary("Sqrt"),
    "Abs": _unary("Abs"), "Sin": _unary("Sin"), "Cos": _unary("Cos"), "Rsqrt": _rsqrt, "Log1p": _log1p,
    "Clamp": _clamp, "Where": _where, "Cast": _cast, "Clone": _clone,
    "Relu": _unary("Relu"), "Tanh": _unary("Tanh"), "Sigmoid": _unary("Sigmoid"), "LeakyRelu": _leaky_relu,
    "Elu": _elu, "Gelu": _gelu, "Silu": _silu, "Softplus": _softplus,
    "Softmax": _softmax("Softmax"), "LogSoftmax": _softmax("LogSoftmax"),
    "Linear": _linear, "Conv2d": _conv, "ConvTranspose2d": _conv_transpose,
    "MaxPool2d": _max_pool, "AvgPool2d": _avg_pool,
    "AdaptiveAvgPool2d": _adaptive_pool("Average"), "AdaptiveMaxPool2d": _adaptive_pool("Max"),
    "BatchNorm": _batch_norm, "LayerNorm": _layer_norm, "GroupNorm": _group_norm,
    "Reshape": _reshape, "Permute": _permute, "Expand": _expand, "Cat": _concat, "Stack": _stack, "Flip": _flip,
    "Repeat": _repeat, "Pad": _pad, "GetItem": _get_item, "Gather": _gather_elements,
    "IndexSelect": _index_select, "Tril": _triangle(False), "Triu": _triangle(True),
    "Sum": _reduction("ReduceSum"), "Mean": _reduction("ReduceMean"), "Amax": _reduction("ReduceMax"),
    "Amin": _reduction("ReduceMin"), "Prod": _reduction("ReduceProd"), "LogSumExp": _reduction("ReduceLogSumExp"),
    "Embedding": _embedding, "UpsampleNearest2d": _upsample_nearest, "UpsampleBilinear2d": _upsample_bilinear,
    "Dropout": _dropout,
}
