"""Op-level tracing: record every primitive op that runs inside a `with trace(...)` block, with its module's name."""

import contextlib
from dataclasses import dataclass, field

from . import function


@dataclass
class OpRecord:
    """One primitive op as it ran: `op` is the Function subclass, `inputs` its input Tensors, `params` the keyword
    arguments it was applied with (ints, tuples, flags, and ndarrays such as embedding indices), `output` the Tensor
    it made, `module` the qualified name of the innermost module that was running ('' for the root module, None
    when no model was given) and `module_type` that module's class name."""

    op: type
    inputs: tuple
    params: dict
    output: object
    module: str | None = None
    module_type: str | None = None
    index: int = field(default=0)

    @property
    def name(self):
        """The op's name, e.g. 'Conv2d'."""
        return self.op.__name__

    @property
    def input_shapes(self):
        return tuple(tuple(t.shape) for t in self.inputs)

    @property
    def output_shape(self):
        return tuple(self.output.shape)

    def __repr__(self):
        where = f" in {self.module or '<root>'} ({self.module_type})" if self.module_type else ""
        shapes = ", ".join(str(s) for s in self.input_shapes)
        return f"#{self.index} {self.name}({shapes}) -> {self.output_shape}{where}"


class Trace(list):
    """The OpRecords of a trace() block, in the order the ops ran (a list; printing it gives one op per line)."""

    def __str__(self):
        return "\n".join(repr(record) for record in self)


@contextlib.contextmanager
def trace(model=None):
    """Record every op that runs inside the block into the yielded Trace (a list of OpRecord).

    Works in train or eval mode and under no_grad (it does not need the autograd graph). With `model` (an
    nn.Module), each record also names the innermost submodule that was running, e.g. 'features.3'; the hooks that
    track this are removed when the block ends. Records keep their tensors alive until the Trace is dropped.

        with trace(model) as ops:
            model(x)
        print(ops)   # '#0 Conv2d((2, 1, 28, 28), (6, 1, 5, 5), (6,)) -> (2, 6, 24, 24) in features.0 (Conv2d)' ...
    """
    records = Trace()
    stack = []  # (qualified name, class name) of the modules whose forward is running, innermost last
    handles = []
    if model is not None:
        for qualified, module in model.named_modules():
            def enter(mod, args, _name=qualified):
                stack.append((_name, type(mod).__name__))

            def leave(mod, args, output):
                if stack:
                    stack.pop()

            handles.append(module.register_forward_pre_hook(enter))
            handles.append(module.register_forward_hook(leave))

    def record(op, inputs, params, output):
        name, kind = stack[-1] if stack else (None, None)
        records.append(OpRecord(op, tuple(inputs), dict(params), output, name, kind, len(records)))

    previous = function._tracer
    function._tracer = record
    try:
        yield records
    finally:
        function._tracer = previous
        for handle in handles:
            handle.remove()
