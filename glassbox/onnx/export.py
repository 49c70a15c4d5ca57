"""onnx.export: trace a model's ops in eval mode, translate each op to ONNX nodes, check the graph, write the file.

How it works: the model runs once (twice with dynamic_batch) under autograd.trace, which records every primitive op
with its inputs, parameters, output and the module that ran it. An op whose inputs all come from the model's inputs
becomes ONNX nodes (ops.py, rnn.py); an op of constants only (e.g. the zero initial state of an LSTM) is folded to
its value. Parameters and buffers become initializers named by their state_dict keys. With dynamic_batch, the
second run, at batch size B + 1, shows which dims of each value follow the batch size: those become symbolic
('batch') or -1 in reshapes, and anything else that depends on the batch size is reported as an error.
"""

import numpy as np

from ..autograd.grad_mode import no_grad
from ..autograd.trace import trace
from ..io.atomic import atomic_write
from ..tensor import Tensor
from . import ops as _ops
from . import rnn as _rnn

DEFAULT_OPSET = 17
MIN_OPSET = 17  # LayerNormalization, the axes-as-input Squeeze/Unsqueeze/ReduceSum and Trilu all exist from 17 on
MAX_OPSET = 21  # the newest opset the translations are written for (Pad 'wrap' needs 19)

TRANSLATIONS = {**_ops.TRANSLATIONS, **_rnn.TRANSLATIONS}
SUPPORTED_OPS = tuple(sorted(set(TRANSLATIONS) - {"Dropout"}))  # Dropout's entry only explains its error


class ExportError(ValueError):
    """The model cannot be exported to ONNX; the message names the layer and the op."""


def _import_onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("glassbox.onnx.export needs the 'onnx' package: pip install 'glassbox[onnx]' "
                          "(or pip install onnx)") from None
    return onnx


def export(model, example_input, path, dynamic_batch=True, opset=DEFAULT_OPSET, input_names=None,
           output_names=None):
    """Write `model` (an nn.Module) as an ONNX file at `path` and return the onnx.ModelProto.

    example_input: a Tensor or ndarray, or a tuple of them (the positional arguments of model's forward), e.g. a
    (N, C, H, W) float batch or (B, T) int64 token ids. The model runs on it in eval mode under no_grad; its
    train/eval mode is restored afterwards. The model's output may be a tensor or nested tuples/lists of tensors
    (CharRNN's (logits, (h, c)) gives three ONNX outputs).
    dynamic_batch: dim 0 of every input, and every dim that follows it, is symbolic ('batch'), so the file runs at
    any batch size. opset: 17 (the default) to 21. input_names / output_names: lists of names; by default 'input',
    'input_1', ... and 'output', 'output_1', ...
    Raises ExportError naming the layer when an op has no ONNX translation or depends on the batch size.
    """
    onnx = _import_onnx()
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)) or not MIN_OPSET <= opset <= MAX_OPSET:
        raise ValueError(f"onnx.export: opset must be an int in [{MIN_OPSET}, {MAX_OPSET}], got {opset!r}")
    inputs = _as_inputs(example_input)
    input_names = _names(input_names, len(inputs), "input")
    modes = [(module, module.training) for module in model.modules()]
    try:
        model.eval()
        with no_grad():
            records, outputs = _run(model, inputs)
            other_records = other_outputs = None
            if dynamic_batch:
                other_records, other_outputs = _run(model, _grow_batch(inputs))
                _check_same_ops(records, other_records)
    finally:
        for module, training in modes:
            module.training = training
    output_names = _names(output_names, len(outputs), "output")
    g = _Graph(onnx, int(opset), _state_names(model))
    for name, tensor in zip(input_names, inputs):
        g.values[id(tensor.data)] = name
    for k, record in enumerate(records):
        _translate(g, record, other_records[k] if other_records else None, type(model).__name__)
    graph_inputs = [_value_info(onnx, name, t.data, {0} if dynamic_batch else set())
                    for name, t in zip(input_names, inputs)]
    graph_outputs = []
    for k, (name, tensor) in enumerate(zip(output_names, outputs)):
        source = g.values.get(id(tensor.data)) or g.const(tensor.data, "constant_output")
        g.node("Identity", [source], name_out=name)
        batch_axes = _differing_axes(tensor.shape, other_outputs[k].shape) if other_outputs else set()
        graph_outputs.append(_value_info(onnx, name, tensor.data, batch_axes))
    graph = onnx.helper.make_graph(g.nodes, type(model).__name__, graph_inputs, graph_outputs, g.initializers)
    proto = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", int(opset))],
                                   producer_name="glassbox")
    proto.ir_version = min(proto.ir_version, 10)  # IR 10 (onnx 1.16) is read by every onnxruntime from 1.20 on
    onnx.checker.check_model(proto)
    with atomic_write(path) as tmp:
        onnx.save_model(proto, tmp)
    return proto


# ----- running the model -------------------------------------------------------------------------------------------
def _as_inputs(example_input):
    items = example_input if isinstance(example_input, (tuple, list)) else (example_input,)
    inputs = []
    for item in items:
        if isinstance(item, Tensor):
            inputs.append(item)
        elif isinstance(item, np.ndarray):
            inputs.append(Tensor._make(item))
        else:
            raise TypeError(f"onnx.export: example_input must be a Tensor, an ndarray or a tuple of them, got "
                            f"{type(item).__name__}")
    return tuple(inputs)


def _grow_batch(inputs):
    """The inputs with one more row in dim 0 (a copy of the first), to see which dims follow the batch size."""
    grown = []
    for t in inputs:
        if t.data.ndim == 0:
            raise ExportError("onnx.export: dynamic_batch=True needs inputs with a batch dim 0, got a 0-d input; "
                              "pass dynamic_batch=False")
        grown.append(Tensor._make(np.concatenate([t.data, t.data[:1]], axis=0)))
    return tuple(grown)


def _run(model, inputs):
    with trace(model) as records:
        output = model(*inputs)
    return records, _flatten_outputs(output)


def _flatten_outputs(output):
    if isinstance(output, Tensor):
        return [output]
    if isinstance(output, (tuple, list)):
        return [t for item in output for t in _flatten_outputs(item)]
    if output is None:
        return []
    raise ExportError(f"onnx.export: the model returned a {type(output).__name__}; only tensors and (nested) "
                      f"tuples or lists of tensors can be exported")


def _check_same_ops(records, other):
    names = [r.name for r in records]
    if names != [r.name for r in other]:
        raise ExportError("onnx.export: the model runs different ops at different batch sizes, so no graph with a "
                          "dynamic batch size describes it; pass dynamic_batch=False")


def _names(names, count, stem):
    if names is None:
        return [stem] + [f"{stem}_{k}" for k in range(1, count)]
    names = list(names)
    if len(names) != count or len(set(names)) != count:
        raise ValueError(f"onnx.export: expected {count} distinct {stem} names, got {names}")
    return names


def _state_names(model):
    """id(array) -> state_dict key, for every parameter and buffer."""
    names = {}
    for key, tensor in list(model.named_parameters()) + list(model.named_buffers()):
        names.setdefault(id(tensor.data), key)
    return names


def _differing_axes(shape, other_shape):
    if len(shape) != len(other_shape):
        return set(range(len(shape)))
    return {axis for axis, (a, b) in enumerate(zip(shape, other_shape)) if a != b}


def _value_info(onnx, name, array, batch_axes):
    shape = ["batch" if axis in batch_axes else int(n) for axis, n in enumerate(array.shape)]
    return onnx.helper.make_tensor_value_info(name, onnx.helper.np_dtype_to_tensor_dtype(array.dtype), shape)


# ----- translating ops ---------------------------------------------------------------------------------------------
def _translate(g, record, other, model_name):
    arrays = [t.data for t in record.inputs] + [v for v in record.params.values() if isinstance(v, np.ndarray)]
    if not any(id(a) in g.values for a in arrays):
        return  # every input is a constant: the output is a constant too, used by value where needed
    op = _OpContext(g, record, other, model_name)
    translate = TRANSLATIONS.get(record.name) if record.op.__module__.startswith("glassbox.ops") else None
    if translate is None:
        raise ExportError(f"onnx.export: {op.layer} uses op '{record.name}', which has no ONNX translation; "
                          f"supported ops: {', '.join(SUPPORTED_OPS)}")
    g.scope = record.module or ""
    g.values[id(record.output.data)] = translate(g, op)


class _OpContext:
    """One traced op, as the translations see it: its inputs as ONNX value names, shapes, params, batch axes."""

    def __init__(self, g, record, other, model_name):
        self.g, self.record, self.other = g, record, other
        self.name, self.inputs, self.params = record.name, record.inputs, record.params
        self.out_shape, self.out_dtype = tuple(record.output.shape), record.output.data.dtype
        where = record.module if record.module else "<root>"
        self.layer = f"layer '{where}' ({record.module_type or model_name})"

    def fail(self, message):
        raise ExportError(f"onnx.export: {self.layer}, op '{self.name}': {message}")

    def shape(self, k):
        return tuple(self.inputs[k].shape)

    def is_constant(self, k):
        return id(self.inputs[k].data) not in self.g.values

    def batch_axes(self, k):
        """The axes of input k whose size follows the batch size (empty without dynamic_batch)."""
        return _differing_axes(self.shape(k), self.other.inputs[k].shape) if self.other else set()

    @property
    def batch_axes_out(self):
        return _differing_axes(self.out_shape, self.other.output.shape) if self.other else set()

    def symbolic_out_shape(self):
        """The output shape for a Reshape: -1 for the one dim that follows the batch size."""
        shape, axes = list(self.out_shape), self.batch_axes_out
        if len(axes) > 1:
            self.fail(f"the output shape {self.out_shape} has several dims that depend on the batch size")
        for axis in axes:
            shape[axis] = -1
        return shape

    def x(self, k):
        """The ONNX value name of input k."""
        if self.is_constant(k) and self.batch_axes(k):
            self.fail(f"input {k} is a constant of shape {self.shape(k)} that depends on the batch size (a tensor "
                      f"created inside forward, or computed outside glassbox ops, such as a comparison mask); "
                      f"export with dynamic_batch=False if it is truly constant")
        return self.g.value_name(self.inputs[k].data)

    def array(self, array):
        """The ONNX value name of an ndarray param (indices, masks, running statistics)."""
        if id(array) not in self.g.values and self.other is not None:
            key = next((key for key, value in self.params.items() if value is array), None)
            other = self.other.params.get(key) if key is not None else None
            if isinstance(other, np.ndarray) and other.shape != array.shape:
                self.fail(f"its argument '{key}' is a constant of shape {array.shape} that depends on the batch "
                          f"size (e.g. a comparison mask, which is not a traced op); export with dynamic_batch=False "
                          f"if it is truly constant")
        return self.g.value_name(array)


class _Graph:
    """The ONNX graph under construction: nodes, initializers, and the ONNX name of every traced array."""

    def __init__(self, onnx, opset, state_names):
        self.onnx, self.opset, self.state_names = onnx, opset, state_names
        self.nodes, self.initializers = [], []
        self.values = {}  # id(ndarray) -> name of the graph value holding it (model inputs and op outputs)
        self.constants = {}  # id(ndarray) -> initializer name (parameters, buffers, folded constants)
        self.keep = []  # arrays named in `constants`, kept alive so that their ids stay unique
        self.taken = set()
        self.scope = ""

    def fresh(self, stem):
        stem = stem.replace("/", ".")
        name, k = stem, 0
        while name in self.taken:
            k += 1
            name = f"{stem}_{k}"
        self.taken.add(name)
        return name

    def value_name(self, array):
        if id(array) in self.values:
            return self.values[id(array)]
        if id(array) not in self.constants:
            stem = self.state_names.get(id(array), "const")
            self.constants[id(array)] = self.const(array, stem)
            self.keep.append(array)
        return self.constants[id(array)]

    def const(self, array, stem):
        name = self.fresh(stem)
        array = np.asarray(array)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def ints(self, values):
        return self.const(np.asarray(values, dtype=np.int64).reshape(-1), "ints")

    def elem_type(self, dtype):
        return self.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))

    def node(self, op_type, inputs, outputs=1, name_out=None, **attributes):
        """Add a node; return its output name (a list of names when outputs > 1)."""
        prefix = f"{self.scope}/" if self.scope else ""
        names = [name_out] if name_out else [self.fresh(f"{prefix}{op_type}") for _ in range(outputs)]
        self.taken.update(names)
        node_name = self.fresh(f"node:{prefix}{op_type}")
        self.nodes.append(self.onnx.helper.make_node(op_type, list(inputs), names, name=node_name, **attributes))
        return names[0] if outputs == 1 else names

    def reduce(self, op_type, x, axes, keepdims):
        """A Reduce* node: axes are an input from opset 18 on (13 for ReduceSum), an attribute before."""
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.node(op_type, [x, self.ints(axes)], keepdims=int(keepdims))
        return self.node(op_type, [x], axes=list(axes), keepdims=int(keepdims))
