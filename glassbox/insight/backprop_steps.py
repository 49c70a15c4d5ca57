"""Step-through backpropagation: the engine's backward pass, one graph node per step, with every number shown."""

import json
import math
import textwrap

import numpy as np

from ..autograd.engine import _topological_order, conform_gradient
from ..autograd.trace import trace as _trace
from ..io.atomic import atomic_write
from ..tensor import Tensor
from . import formulas

SUMMARY_LIMIT = 16  # values shown per array: enough to read a small tensor whole, short enough for a big one


def summarize(array, limit=SUMMARY_LIMIT):
    """A JSON-ready summary of an array: {"shape", "values" (the first `limit` numbers, flattened, rounded to 6
    significant digits), "truncated", "norm"}. Non-finite numbers become None (JSON has no NaN or Inf)."""
    if array is None:
        return None
    data = np.asarray(array)
    flat = data.reshape(-1)
    head = flat[:limit].astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        norm = float(np.sqrt(np.sum(np.square(flat.astype(np.float64))))) if flat.size else 0.0
    return {"shape": list(data.shape), "values": [_round6(v) for v in head.tolist()],
            "truncated": bool(flat.size > limit), "norm": _round6(norm)}


def _round6(value):
    value = float(value)
    if not math.isfinite(value):
        return None
    return float(f"{value:.6g}")


class BackpropStepper:
    """The backward pass of `output`, advanced one graph node per step().

    It runs the engine's algorithm (same topological order, same summation of gradients into shared parents,
    same unbroadcasting, each node's own backward()) on its own arrays: the tensors' .grad are not touched and the
    graph is not freed, so a later output.backward() still works and gives what the last step showed. Hooks on
    tensors are not run (they may have side effects, such as a gradient all-reduce).

    output    the tensor to backpropagate from; a scalar unless `gradient` (same shape) is given
    names     {tensor: name} for leaves (or other inputs) to show by name, matched by identity
    model     an nn.Module: its parameters are shown by their named_parameters() names ('0.weight')
    gradient  the upstream gradient of `output` (default 1 for a one-element output)
    records   the autograd.trace() records of the forward pass: they give each node its value, the keyword
              arguments it ran with and the module that ran it. BackpropStepper.trace(fn, ...) collects them.
    Unnamed leaves are called x0, x1, ... in the order the forward pass used them; nodes are called
    'MulBackward#3' (numbered in forward order) and shown as inputs of later steps as 'Mul#3'.
    """

    def __init__(self, output, names=None, model=None, gradient=None, records=None):
        if not isinstance(output, Tensor):
            raise TypeError(f"BackpropStepper: output must be a Tensor, got {type(output).__name__}")
        if not output.requires_grad or output._ctx is None:
            what = "a leaf tensor" if output.requires_grad else "a tensor that does not require grad"
            raise ValueError(f"BackpropStepper: output must be the result of ops on tensors that require grad, got "
                             f"{what} (shape {tuple(output.shape)}): there is no graph to step through")
        self.output = output
        self.model = model
        self._root_grad = _upstream(output, gradient)
        self._order = _topological_order(output._ctx)
        for node in self._order:
            if node.released:
                raise RuntimeError(f"BackpropStepper: {node.name()} was already freed by an earlier backward(); "
                                   "build the graph again, or pass retain_graph=True to that backward()")
        self._records = {}
        for record in records or ():
            ctx = record.output._ctx
            if ctx is not None:
                self._records[id(ctx)] = record
        self._name_nodes()
        self._name_leaves(names, model)
        self.reset()

    @classmethod
    def trace(cls, fn, *args, names=None, model=None, gradient=None, **kwargs):
        """Run `fn(*args, **kwargs)` under autograd.trace and step through the backward pass of what it returns,
        with every node's forward value known. E.g. BackpropStepper.trace(lambda: F.cross_entropy(model(x), y),
        model=model)."""
        with _trace(model) as records:
            output = fn(*args, **kwargs)
        return cls(output, names=names, model=model, gradient=gradient, records=records)

    # ----- naming ---------------------------------------------------------------------------------------------------
    def _forward_order(self):
        """The graph's nodes in the order the forward pass made them (exact with trace records; otherwise a valid
        order: every node after the nodes it depends on)."""
        if self._records and all(id(node) in self._records for node in self._order):
            return sorted(self._order, key=lambda node: self._records[id(node)].index)
        return list(reversed(self._order))

    def _name_nodes(self):
        self._node_names = {}
        for number, node in enumerate(self._forward_order()):
            self._node_names[id(node)] = (f"{node.name()}#{number}", f"{type(node).__name__}#{number}")

    def _name_leaves(self, names, model):
        given = {}
        if model is not None:
            for name, parameter in model.named_parameters():
                given[id(parameter)] = name
        for key, value in dict(names or {}).items():
            tensor, name = (value, key) if isinstance(key, str) else (key, value)
            if not isinstance(tensor, Tensor):
                raise TypeError(f"BackpropStepper: names must map tensors to names, got {type(tensor).__name__} "
                                f"for {name!r}")
            given[id(tensor)] = str(name)
        self._given_names = given
        self._leaf_names = {}  # id(leaf) -> unique name
        self._leaves = {}      # id(leaf) -> leaf, in forward order of first use
        taken = set()
        auto = 0
        for node in self._forward_order():
            for parent in node.parents:
                if parent is None or hasattr(parent, "parents") or id(parent) in self._leaf_names:
                    continue
                name = given.get(id(parent))
                if name is None:
                    while f"x{auto}" in taken or f"x{auto}" in given.values():
                        auto += 1
                    name = f"x{auto}"
                base, copy = name, 2
                while name in taken:  # two different leaves given one name: keep both visible
                    name, copy = f"{base}#{copy}", copy + 1
                taken.add(name)
                self._leaf_names[id(parent)] = name
                self._leaves[id(parent)] = parent

    @property
    def leaves(self):
        """{name: leaf tensor} of every leaf that receives a gradient, in forward order of first use."""
        return {self._leaf_names[key]: leaf for key, leaf in self._leaves.items()}

    @property
    def node_names(self):
        """The graph's node names ('MulBackward#3') in the order the backward pass visits them."""
        return [self._node_names[id(node)][0] for node in self._order]

    # ----- stepping -------------------------------------------------------------------------------------------------
    def reset(self):
        """Go back to the start of the backward pass (nothing accumulated yet)."""
        self._node_grads = {self.output._ctx: self._root_grad}
        self._leaf_grads = {}  # id(leaf) -> summed gradient so far
        self._position = 0
        self.steps = []
        self.done = False

    def __iter__(self):
        while not self.done:
            yield self.step()

    def step(self):
        """Backpropagate through the next node; returns its step dict (see issue 9: index, node, op, words,
        symbols, value, upstream, inputs, accumulated, done)."""
        if self.done:
            raise RuntimeError("BackpropStepper.step(): the backward pass is finished; call reset() to start again")
        while self._position < len(self._order):
            node = self._order[self._position]
            self._position += 1
            grad = self._node_grads.pop(node, None)
            if grad is not None:  # as in the engine: a node that no gradient reached is skipped
                return self._backward_node(node, grad)
        raise AssertionError("unreachable: done is set when no node has a pending gradient")

    def run_all(self):
        """Take every remaining step; returns the list of all step dicts taken so far."""
        for _ in self:
            pass
        return list(self.steps)

    def gradients(self):
        """{leaf name: gradient accumulated so far} (after the last step: exactly what backward() adds to .grad).
        Leaves that no step has reached yet are left out."""
        result = {}
        for key, leaf in self._leaves.items():
            grad = self._leaf_grads.get(key)
            if grad is not None:
                result[self._leaf_names[key]] = np.array(grad, dtype=leaf.data.dtype)  # the engine's cast, a copy
        return result

    def save(self, path):
        """Take the remaining steps and write every step dict as one JSON list to `path` (atomically)."""
        save_steps(self.run_all(), path)
        return path

    def _backward_node(self, node, grad):
        if node.saved_versions:
            node.check_versions()  # an in-place change since the forward would make every number below wrong
        input_grads = node.backward(grad)
        if type(input_grads) is not tuple:
            input_grads = (input_grads,)
        record = self._records.get(id(node))
        formula = formulas.lookup(node, record.params if record is not None else None)
        inputs = []
        for index, parent in enumerate(node.parents):
            parent_grad = input_grads[index] if index < len(input_grads) else None
            if parent is not None and parent_grad is not None:
                parent_grad = self._route(node, parent, parent_grad, node.input_shapes[index])
            else:
                parent_grad = None
            inputs.append({"name": self._input_name(parent, record, index), "local": formula.local(index),
                           "grad": summarize(parent_grad)})
        self.done = not self._node_grads
        if self.done:
            self._position = len(self._order)
        names = self._node_names[id(node)]
        value = record.output.data if record is not None else (self.output.data if node is self.output._ctx
                                                                else None)
        step = {"index": len(self.steps), "node": names[0], "op": type(node).__name__, "label": formula.label,
                "module": record.module if record is not None else None,
                "words": formula.words, "symbols": formula.symbols,
                "value": summarize(value), "upstream": summarize(grad), "inputs": inputs,
                "accumulated": {name: summarize(g) for name, g in self.gradients().items()},
                "done": self.done}
        self.steps.append(step)
        return step

    def _route(self, node, parent, parent_grad, shape):
        """Send one input gradient to its parent exactly as the engine does; returns it in the parent's shape."""
        parent_grad = conform_gradient(node, parent_grad, shape)
        # Never add in place: the arrays may be shared with the node or with another input (Add passes one
        # gradient to both), and the graph must stay intact for a later backward().
        if hasattr(parent, "parents"):
            previous = self._node_grads.get(parent)
            self._node_grads[parent] = parent_grad if previous is None else previous + parent_grad
        else:
            previous = self._leaf_grads.get(id(parent))
            self._leaf_grads[id(parent)] = parent_grad if previous is None else previous + parent_grad
        return parent_grad

    def _input_name(self, parent, record, index):
        if parent is not None and hasattr(parent, "parents"):
            return self._node_names[id(parent)][1]
        if parent is not None:
            return self._leaf_names[id(parent)]
        # An input that needs no gradient (data, a constant): its name when known.
        if record is not None and index < len(record.inputs):
            tensor = record.inputs[index]
            name = self._given_names.get(id(tensor))
            if name is not None:
                return name
            if tensor._ctx is not None and id(tensor._ctx) in self._node_names:
                return self._node_names[id(tensor._ctx)][1]
        return "data"


def _upstream(output, gradient):
    """d(something)/d(output) as an array of output's shape and dtype (default 1 for one element)."""
    if gradient is None:
        if output.data.size != 1:
            raise ValueError(f"BackpropStepper: a gradient can be implied only for a one-element output, got shape "
                             f"{tuple(output.shape)}; pass gradient= of that shape")
        return np.ones(output.data.shape, dtype=output.data.dtype)
    array = gradient.data if isinstance(gradient, Tensor) else np.asarray(gradient)
    if array.shape != output.data.shape:
        raise ValueError(f"BackpropStepper: gradient has shape {array.shape} but the output has shape "
                         f"{output.data.shape}; they must match")
    return array.astype(output.data.dtype, copy=True)


def _stepper(output, names=None, model=None, gradient=None, records=None):
    if isinstance(output, BackpropStepper):
        return output
    return BackpropStepper(output, names=names, model=model, gradient=gradient, records=records)


def record_steps(output, names=None, model=None, gradient=None, records=None):
    """Every step of the backward pass of `output` (a Tensor, or a BackpropStepper to finish) as a list of step
    dicts, ready for json.dump. Values of the nodes need `records` (autograd.trace) or a stepper built by
    BackpropStepper.trace."""
    return _stepper(output, names, model, gradient, records).run_all()


def save_steps(steps, path):
    """Write a list of step dicts to `path` as one JSON list (atomically: a reader never sees half a file)."""
    with atomic_write(path) as temporary, open(temporary, "w", encoding="utf-8") as file:
        json.dump(steps, file, ensure_ascii=False, allow_nan=False)
    return path


# ----- the terminal ---------------------------------------------------------------------------------------------------
def _format_summary(summary):
    if summary is None:
        return "(not recorded)"
    values = ["nan/inf" if v is None else f"{v:.6g}" for v in summary["values"]]
    shape = tuple(summary["shape"])
    if not shape:
        return values[0] if values else "?"
    text = "[" + ", ".join(values) + (", …" if summary["truncated"] else "") + "]"
    norm = "?" if summary["norm"] is None else f"{summary['norm']:.4g}"
    return f"{text}  shape {shape}, norm {norm}"


def format_step(step, width=100):
    """One step dict as readable multi-line text for the terminal."""
    where = f"  in {step['module']}" if step.get("module") else ""
    lines = [f"step {step['index']}: {step['node']}  [{step.get('label', step['op'])}]{where}"]
    lines += textwrap.wrap(step["words"], width=width, initial_indent="  ", subsequent_indent="  ")
    lines.append(f"  formula:   {step['symbols']}")
    lines.append(f"  value:     {_format_summary(step['value'])}")
    lines.append(f"  upstream:  ∂L/∂out = {_format_summary(step['upstream'])}")
    for item in step["inputs"]:
        local = f"local {item['local']}" if item.get("local") else "local ?"
        grad = _format_summary(item["grad"]) if item["grad"] is not None else "(no gradient needed)"
        lines.append(f"  -> {item['name']:<14} {local:<28} ∂L/∂{item['name']} = {grad}")
    if step["accumulated"]:
        lines.append("  leaf gradients so far:")
        for name, summary in step["accumulated"].items():
            lines.append(f"     {name:<14} {_format_summary(summary)}")
    if step["done"]:
        lines.append("  backward pass complete: these are the gradients backward() puts into .grad")
    return "\n".join(lines)


def step_through(output, interactive=True, names=None, model=None, gradient=None, records=None, input=input,
                 print=print):
    """Print the backward pass of `output` (a Tensor or a BackpropStepper) one step at a time: with `interactive`
    wait for Enter between steps ('q' stops), otherwise print them all. Returns the step dicts shown."""
    stepper = _stepper(output, names, model, gradient, records)
    steps = []
    for step in stepper:
        steps.append(step)
        print(format_step(step))
        if interactive and not step["done"]:
            try:
                answer = input("Enter: next step, q: stop > ")
            except EOFError:  # stdin closed: show the rest without waiting
                interactive = False
                answer = ""
            if answer.strip().lower().startswith("q"):
                break
            print("")
        elif not step["done"]:
            print("")
    return steps


# ----- the demo -------------------------------------------------------------------------------------------------------
DEMO_VALUES = {"w": [0.5, -0.4, 0.3], "x": [1.0, 2.0, -1.0], "b": 0.1, "t": 1.0}


def demo_graph():
    """A single neuron and its squared error, in float64, ready to step through:
    z = w·x + b, y = σ(z), loss = (y − t)², with w, x of shape (3,), b and t scalars, all named leaves that require
    grad (so every gradient is shown). Returns a BackpropStepper (its .output is the loss, .leaves the named
    leaves)."""
    from .. import creation, dtypes
    from ..functional import sigmoid

    leaves = {name: creation.tensor(value, dtype=dtypes.float64, requires_grad=True)
              for name, value in DEMO_VALUES.items()}

    def neuron():
        y = sigmoid(leaves["w"] @ leaves["x"] + leaves["b"])
        return (y - leaves["t"]) ** 2

    return BackpropStepper.trace(neuron, names={name: tensor for name, tensor in leaves.items()})
