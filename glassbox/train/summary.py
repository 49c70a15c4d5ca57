"""summary(model, input_shape): a table of layers, output shapes and parameter counts, like Keras's
model.summary(), found by running one forward pass with hooks."""


from ..autograd.grad_mode import no_grad
from ..creation import zeros
from ..tensor import Tensor


def _shape(output):
    if isinstance(output, Tensor):
        return tuple(output.shape)
    if isinstance(output, (tuple, list)):
        return [_shape(o) for o in output]
    return "?"


def summary(model, input_shape, dtype=None, print_fn=print):
    """Print and return a table of every leaf layer, and of any container holding parameters of its own (name,
    type, output shape, own parameters), for an input of `input_shape` (including the batch dimension), with totals.
    The Params column sums to the total."""
    rows, handles = [], []
    for name, module in model.named_modules():
        if list(module.children()) and not any(True for _ in module.parameters(recurse=False)):
            continue  # containers: their leaves are listed (a container holding parameters itself is listed too)

        def hook(layer, inputs, output, name=name):
            params = sum(p.numel() for p in layer.parameters(recurse=False))
            rows.append((name or type(layer).__name__, type(layer).__name__, _shape(output), params))

        handles.append(module.register_forward_hook(hook))
    was_training = [(module, module.training) for module in model.modules()]  # per module: modes may be mixed
    model.eval()
    try:
        with no_grad():
            model(zeros(*input_shape, dtype=dtype))
    finally:
        for handle in handles:
            handle.remove()
        for module, mode in was_training:
            object.__setattr__(module, "training", mode)  # as Module.train sets it
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    header = ("Layer", "Type", "Output shape", "Params")
    table = [header] + [(n, t, str(s), f"{p:,}") for n, t, s, p in rows]
    widths = [max(len(str(row[i])) for row in table) for i in range(4)]
    rule = "-" * (sum(widths) + 6)
    lines = [rule, "  ".join(str(c).ljust(w) for c, w in zip(header, widths)), rule]
    lines += ["  ".join(str(c).ljust(w) if i < 3 else str(c).rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
              for row in table[1:]]
    lines += [rule, f"Total params: {total:,}", f"Trainable params: {trainable:,}",
              f"Non-trainable params: {total - trainable:,}", rule]
    text = "\n".join(lines)
    if print_fn is not None:
        print_fn(text)
    return text


