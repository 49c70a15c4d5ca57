"""The computation-graph view: walk the autograd graph behind a tensor into ops with shapes, parameters and FLOPs.

    loss = F.cross_entropy(model(x), y)
    view = graph_view(loss, model)          # or graph_of_model(model, x, loss_fn=F.cross_entropy, targets=y)
    print(view.to_text())
    view.save("runs/demo")                  # graph.svg, graph.html, graph.txt, graph.json

Nodes are the graph's ops (one per autograd node, i.e. per primitive op that recorded a gradient) and its leaves:
parameters (named by model.named_parameters()) and other inputs ("input 0", ...). The autograd graph keeps, per
node, its parents and its input shapes; an op's output shape is read from the op that consumed it (or from the
tensor itself for the root). graph_of_model also runs the forward pass under autograd.trace, which gives each op's
module name, exact output dtype and its data inputs. FLOP counting rules: glassbox/insight/flops.py.
"""

import json
import os
from dataclasses import asdict, dataclass, field

import numpy as np

from ..autograd import function as _function
from ..autograd.trace import trace
from ..io.atomic import atomic_write
from ..nn.parameter import Parameter
from ..tensor import Tensor
from . import flops as _flops


@dataclass
class GraphNode:
    """One node of the view. kind: 'op', 'parameter' or 'input'. op: the op's class name ('Conv2d', 'MatMul', 'Relu')
    or 'Parameter' / 'Input' for leaves. name: 'Conv2d#0', 'features.0.weight', 'input 0'. shape: the output's (the
    leaf's) shape as a list; dtype: its dtype name or None when unknown. params: for an op, the elements of the
    parameter leaves feeding it directly; for a parameter, its size. flops: forward FLOPs (0 for leaves). module /
    module_type: the module that ran the op, when known. inputs: ids of the input nodes, in argument order (inputs that
    need no gradient and are not known leaves are left out). index: execution position among ops (-1 for leaves)."""

    id: str
    kind: str
    op: str
    name: str
    shape: list
    dtype: str | None = None
    params: int = 0
    flops: int = 0
    module: str | None = None
    module_type: str | None = None
    inputs: list = field(default_factory=list)
    index: int = -1


class GraphView:
    """The graph of one tensor's computation: `nodes` (GraphNode list: leaves first, then ops in execution order),
    `edges` ((source id, target id, input slot) tuples), `name`, and totals. Render with to_text(), to_svg(),
    to_html(), to_dict(); write all four with save(directory)."""

    def __init__(self, nodes, edges, name=None):
        self.nodes = list(nodes)
        self.edges = [tuple(e) for e in edges]
        self.name = name or "graph"
        self.by_id = {node.id: node for node in self.nodes}

    # ----- totals --------------------------------------------------------------------------------------------------
    @property
    def ops(self):
        """The op nodes in execution order."""
        return [n for n in self.nodes if n.kind == "op"]

    @property
    def leaves(self):
        return [n for n in self.nodes if n.kind != "op"]

    @property
    def total_params(self):
        """Elements of the distinct parameter leaves in the graph (a shared parameter counts once)."""
        return sum(n.params for n in self.nodes if n.kind == "parameter")

    @property
    def total_flops(self):
        return sum(n.flops for n in self.nodes)

    def totals(self):
        """{'ops', 'leaves', 'parameters', 'parameter_tensors', 'flops'}."""
        return {"ops": len(self.ops), "leaves": len(self.leaves), "parameters": self.total_params,
                "parameter_tensors": sum(n.kind == "parameter" for n in self.nodes), "flops": self.total_flops}

    # ----- renderings ----------------------------------------------------------------------------------------------
    def to_dict(self):
        """JSON-able {'name', 'nodes': [GraphNode fields], 'edges': [{'source', 'target', 'slot'}], 'totals'}."""
        return {"name": self.name, "nodes": [asdict(n) for n in self.nodes],
                "edges": [{"source": s, "target": t, "slot": k} for s, t, k in self.edges], "totals": self.totals()}

    @classmethod
    def from_dict(cls, data):
        """Rebuild a GraphView from to_dict()'s output (e.g. a graph.json read back)."""
        nodes = [GraphNode(**n) for n in data["nodes"]]
        edges = [(e["source"], e["target"], e["slot"]) for e in data["edges"]]
        return cls(nodes, edges, data.get("name"))

    def to_text(self):
        """A table of the ops in execution order (index, op, module, output shape, dtype, params, FLOPs, inputs),
        the leaves, and the totals."""
        rows = [("#", "op", "module", "output", "dtype", "params", "FLOPs", "inputs")]
        for n in self.ops:
            inputs = ", ".join(self.by_id[i].name for i in n.inputs)
            rows.append((str(n.index), n.op, _module_label(n), _shape_text(n.shape), n.dtype or "?",
                         f"{n.params:,}", format_flops(n.flops), inputs))
        widths = [max(len(row[k]) for row in rows) for k in range(len(rows[0]) - 1)]
        lines = [f"Computation graph: {self.name}", ""]
        for row in rows:
            cells = [cell.rjust(w) if k in (0, 5, 6) else cell.ljust(w) for k, (cell, w) in enumerate(zip(row, widths))]
            lines.append("  ".join(cells) + "  " + row[-1])
        leaves = self.leaves
        if leaves:
            lines += ["", "leaves:"]
            width = max(len(n.name) for n in leaves)
            shape_width = max(len(_shape_text(n.shape)) for n in leaves)
            for n in leaves:
                lines.append(f"  {n.name.ljust(width)}  {n.kind:9}  {_shape_text(n.shape).ljust(shape_width)}  "
                             f"{n.dtype or '?'}")
        t = self.totals()
        lines += ["", f"total: {t['ops']} ops, {t['parameters']:,} parameters in {t['parameter_tensors']} tensors, "
                      f"{t['flops']:,} FLOPs ({format_flops(t['flops'])}) per forward pass"]
        return "\n".join(lines) + "\n"

    def to_svg(self):
        """A self-contained SVG document (str): a layered drawing of the graph, one <g class="node ..."> per node."""
        from .graph_render import render_svg

        return render_svg(self)

    def to_html(self):
        """One self-contained HTML page (str) with the SVG inline, hover tooltips and zoom/pan; works offline."""
        from .graph_render import render_html

        return render_html(self)

    def save(self, directory):
        """Write graph.svg, graph.html, graph.txt and graph.json into `directory` (created if missing), each
        atomically. Returns the list of paths written."""
        os.makedirs(directory, exist_ok=True)
        texts = {"graph.svg": self.to_svg(), "graph.html": self.to_html(), "graph.txt": self.to_text(),
                 "graph.json": json.dumps(self.to_dict(), indent=1)}
        paths = []
        for filename, text in texts.items():
            path = os.path.join(directory, filename)
            with atomic_write(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
                f.write(text)
            paths.append(path)
        return paths

    def __repr__(self):
        t = self.totals()
        return f"GraphView({self.name!r}: {t['ops']} ops, {t['parameters']:,} parameters, {format_flops(t['flops'])})"


# ----- building the view -------------------------------------------------------------------------------------------
def graph_view(tensor, model=None, name=None, names=None):
    """The GraphView of the autograd graph behind `tensor` (e.g. a loss, shape () or any model output).

    model: an nn.Module whose parameters are named by their named_parameters() names (and whose ops get a module
    guessed from the parameters they use; graph_of_model knows every op's module). names: an optional
    {name: tensor} dict naming other leaves, e.g. {'x': x, 'W': W}. name: the graph's title.
    Call it before backward() (which frees the graph) or after backward(retain_graph=True).
    Raises ValueError when `tensor` has no graph (no grad_fn).
    """
    return _build(_roots(tensor), model, name, names, records=None)


def graph_of_model(model, *inputs, loss_fn=None, targets=None, name=None):
    """Run `model(*inputs)` (and `loss_fn(output, targets)` when given) under autograd.trace and return the GraphView
    of the result, with the module of every op, exact output dtypes, and the inputs drawn as 'input 0', ...,
    'target'. inputs / targets: Tensors or ndarrays, e.g. x (N, C, H, W) and y (N,). The model runs as it is
    (train or eval mode), with gradients recorded; the graph is built only, nothing is backpropagated."""
    inputs = tuple(_as_tensor(x) for x in inputs)
    targets = None if targets is None else _as_tensor(targets)
    contexts = []  # the graph node each traced op made, captured as it runs (an in-place op later moves a tensor's)
    with trace(model) as records:
        recorder = _function._tracer

        def record(op, op_inputs, params, output):
            recorder(op, op_inputs, params, output)
            contexts.append(output._ctx)

        _function._tracer = record
        try:
            output = model(*inputs)
            n_model = len(records)
            if loss_fn is not None:
                output = loss_fn(output, targets) if targets is not None else loss_fn(output)
        finally:
            _function._tracer = recorder
    loss_module = type(loss_fn).__name__ if loss_fn is not None and hasattr(loss_fn, "parameters") else "loss"
    for k in range(n_model, len(records)):
        if records[k].module is None:
            records[k].module, records[k].module_type = loss_module, None
    known = {f"input {i}": x for i, x in enumerate(inputs)}
    if targets is not None:
        known["target"] = targets
    by_node = {}
    for rec, ctx in zip(records, contexts):
        if ctx is not None:
            by_node[id(ctx)] = rec
    return _build(_roots(output), model, name or type(model).__name__, None, records=(by_node, known))


def format_flops(n):
    """1234567 -> '1.23 MFLOPs'."""
    for unit, scale in (("GFLOPs", 1e9), ("MFLOPs", 1e6), ("kFLOPs", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} FLOPs"


def _as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x))


def _flatten(output):
    """The tensors in a (nested) tuple / list / dict of outputs, e.g. CharRNN's (logits, (h, c))."""
    if isinstance(output, dict):
        output = list(output.values())
    if isinstance(output, (tuple, list)):
        return [t for item in output for t in _flatten(item)]
    if not isinstance(output, Tensor):
        raise TypeError(f"graph_view: expected a Tensor (or a tuple of them), got {type(output).__name__}")
    return [output]


def _roots(tensor):
    tensors = _flatten(tensor)
    with_graph = [t for t in tensors if t.grad_fn is not None]
    if with_graph:  # several outputs: draw those that have a graph (a state that needs no gradient is left out)
        return with_graph
    if not tensors:
        raise ValueError("graph_view: expected a Tensor (or a tuple of them), got an empty collection")
    t = tensors[0]
    why = ("it requires grad but is a leaf (no op made it)" if t.requires_grad else
           "it does not require grad: either nothing it was computed from had requires_grad=True "
           "(model parameters do), or it was computed under no_grad()")
    raise ValueError(f"graph_view: the tensor of shape {tuple(t.shape)} has no autograd graph (grad_fn is None): "
                     f"{why}. Build the graph view from a tensor computed with gradients enabled, e.g. the loss of a "
                     "training batch.")


def _walk(roots):
    """Op nodes reachable from the roots, parents before children (post-order DFS: a plausible execution order)."""
    order, visited = [], set()
    for root in roots:
        if id(root._ctx) in visited:
            continue
        visited.add(id(root._ctx))
        stack = [(root._ctx, iter(root._ctx.parents))]
        while stack:
            node, parents = stack[-1]
            if getattr(node, "released", False):
                raise ValueError(f"graph_view: the graph was freed by backward() ({node.name()} has no saved "
                                 "state): build the view before backward(), or call backward(retain_graph=True)")
            for parent in parents:
                if parent is not None and hasattr(parent, "parents") and id(parent) not in visited:
                    visited.add(id(parent))
                    stack.append((parent, iter(parent.parents)))
                    break
            else:
                stack.pop()
                order.append(node)
    return order


def _build(roots, model, name, names, records):
    by_node, known = records if records is not None else ({}, {})
    order = _walk(roots)
    if by_node and all(id(node) in by_node for node in order):
        order.sort(key=lambda node: by_node[id(node)].index)  # the order the ops actually ran
    param_names = {id(p): n for n, p in model.named_parameters()} if model is not None else {}
    extra_names = {id(t): n for n, t in (names or {}).items()}
    # Output shapes: the root's from the tensor, every other node's from a consumer's input_shapes.
    out_shape = {id(t._ctx): tuple(t.shape) for t in roots}
    for node in order:
        for parent, shape in zip(node.parents, node.input_shapes):
            if parent is not None and hasattr(parent, "parents"):
                out_shape.setdefault(id(parent), tuple(shape))
    root_dtype = {id(t._ctx): str(t.dtype) for t in roots}

    leaves, leaf_ids, nodes, edges = [], {}, [], []
    counter = {"parameter": 0, "input": 0}

    def leaf_node(tensor, fallback=None):
        key = id(tensor)
        if key not in leaf_ids:
            if key in param_names or key in extra_names:
                label = param_names.get(key) or extra_names[key]
            else:
                label = fallback
            is_param = key in param_names or isinstance(tensor, Parameter)
            kind = "parameter" if is_param else "input"
            if label is None:
                label = f"{kind} {counter[kind]}"
                counter[kind] += 1
            leaf = GraphNode(id=f"leaf{len(leaves)}", kind=kind, op="Parameter" if is_param else "Input",
                             name=label, shape=list(tensor.shape), dtype=str(tensor.dtype),
                             params=int(tensor.data.size) if is_param else 0)
            leaf_ids[key] = leaf.id
            leaves.append(leaf)
        return leaf_ids[key]

    op_ids = {id(node): f"op{k}" for k, node in enumerate(order)}
    dtypes = {}
    for k, node in enumerate(order):
        rec = by_node.get(id(node))
        op = type(node).__name__
        inputs, param_size, param_labels, parent_dtypes = [], 0, [], []
        for slot, parent in enumerate(node.parents):
            if parent is None:
                tensor = rec.inputs[slot] if rec is not None and slot < len(rec.inputs) else None
                label = _known_name(tensor, known) if tensor is not None else None
                if label is not None:
                    inputs.append(leaf_node(known[label], label))
                    edges.append((inputs[-1], op_ids[id(node)], slot))
                continue
            if hasattr(parent, "parents"):
                source = op_ids[id(parent)]
                parent_dtypes.append(dtypes.get(id(parent)))
            else:
                source = leaf_node(parent)
                parent_dtypes.append(str(parent.dtype))
                leaf = leaves[int(source[4:])]
                if leaf.kind == "parameter" and source not in inputs:
                    param_size += leaf.params
                    param_labels.append(leaf.name)
            inputs.append(source)
            edges.append((source, op_ids[id(node)], slot))
        if rec is not None:
            shape, dtype = tuple(rec.output.shape), str(rec.output.dtype)
            module, module_type = rec.module, rec.module_type
        else:
            shape = out_shape.get(id(node), ())
            dtype = root_dtype.get(id(node)) or _infer_dtype(op, parent_dtypes)
            module, module_type = _module_of(param_labels) if param_names else None, None
        dtypes[id(node)] = dtype
        kernel = (rec.params.get("kernel") if rec is not None else None) or getattr(node, "kernel", None)
        n_flops = _flops.estimate_flops(op, node.input_shapes, shape, kernel)
        nodes.append(GraphNode(id=op_ids[id(node)], kind="op", op=op, name=f"{op}#{k}", shape=list(shape),
                               dtype=dtype, params=param_size, flops=int(n_flops), module=module,
                               module_type=module_type, inputs=inputs, index=k))
    return GraphView(leaves + nodes, edges, name)


def _known_name(tensor, known):
    """The name of the user input that `tensor` is, or wraps (F.cross_entropy re-wraps its target's memory)."""
    for label, candidate in known.items():
        if tensor is candidate or (tensor.data.size == candidate.data.size and
                                   np.may_share_memory(tensor.data, candidate.data)):
            return label
    return None


def _infer_dtype(op, parent_dtypes):
    """The result type of the inputs' float dtypes (ops keep float dtypes); None when it cannot be known (a cast)."""
    known = [d for d in parent_dtypes if d is not None]
    if op == "Cast" or not known:
        return None
    return str(np.result_type(*known))


def _module_of(param_labels):
    """The module that owns an op's parameters ('fc1' for 'fc1.weight'), when they agree; else None."""
    owners = {label.rpartition(".")[0] for label in param_labels}
    return owners.pop() if len(owners) == 1 else None


def _module_label(node):
    if node.module is None:
        return "-"
    return node.module or "<root>"


def _shape_text(shape):
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
