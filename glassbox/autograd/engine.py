"""The backward pass: topologically order the graph from the output, then push gradients from node to parents."""

import weakref

import numpy as np

from . import anomaly


class HookHandle:
    """Returned by register_hook; remove() takes the hook out again."""

    def __init__(self, hooks, hook):
        self.hooks = hooks
        self.hook = hook
        hooks.append(hook)

    def remove(self):
        if self.hook in self.hooks:
            self.hooks.remove(self.hook)


# How many post-accumulate-grad hooks exist. While there are none, backward accumulates every leaf's gradient at
# the end as it always did; with some, it finalises each leaf as soon as its last contribution has arrived.
_post_hook_count = 0
# Functions that queue_callback() asked to run when the backward pass in progress has finished.
_final_callbacks = []


class _PostHookHandle(HookHandle):
    def __init__(self, hooks, hook):
        global _post_hook_count
        super().__init__(hooks, hook)
        _post_hook_count += 1

    def remove(self):
        global _post_hook_count
        if self.hook in self.hooks:
            self.hooks.remove(self.hook)
            _post_hook_count -= 1


def register_post_accumulate_hook(tensor, hook):
    """Add `hook` to a leaf's post-accumulate list (Tensor.register_post_accumulate_grad_hook calls this)."""
    if tensor._post_hooks is None:
        tensor._post_hooks = []
        # When the tensor dies, its hooks stop counting (so backward can go back to its plain path).
        weakref.finalize(tensor, _forget_hooks, tensor._post_hooks)
    return _PostHookHandle(tensor._post_hooks, hook)


def _forget_hooks(hooks):
    global _post_hook_count
    _post_hook_count -= len(hooks)
    hooks.clear()


def queue_callback(callback):
    """Run `callback()` once the backward pass in progress has finished (after every leaf's .grad is final).
    Called from inside a hook; data-parallel training uses it to wait for its gradient reductions."""
    _final_callbacks.append(callback)


def unbroadcast(grad, shape):
    """Sum `grad` over the axes that broadcasting added or stretched, so that it gets `shape`.

    This is the only place in glassbox where broadcasting is undone: ops return gradients in their output's
    broadcast shape and the engine reduces them here.
    """
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def _topological_order(root):
    """Graph nodes reachable from `root`, each before all of its parents (iterative DFS: no recursion limit)."""
    visited = {root}
    order = []
    stack = [(root, iter(root.parents))]
    while stack:
        node, parents = stack[-1]
        for parent in parents:
            if parent is not None and hasattr(parent, "parents") and parent not in visited:
                visited.add(parent)
                stack.append((parent, iter(parent.parents)))
                break
        else:
            stack.pop()
            order.append(node)
    order.reverse()
    return order


def conform_gradient(node, grad, shape):
    """The gradient `node`'s backward returned for an input of `shape`, as an ndarray of that shape (NumPy
    scalars wrapped, broadcasting undone); a shape that cannot be reduced to it is a bug in the op's backward."""
    grad = np.asarray(grad)  # e.g. a NumPy scalar from indexing with ints
    if grad.shape == shape:
        return grad
    try:
        return unbroadcast(grad, shape)
    except ValueError:
        raise RuntimeError(f"{node.name()} returned a gradient of shape {grad.shape} for an input of shape "
                           f"{shape}: a bug in that op's backward") from None


def _run_hooks(hooks, grad, tensor_type):
    for hook in list(hooks):
        replaced = hook(tensor_type._make(grad))
        if replaced is not None:
            grad = replaced.data if isinstance(replaced, tensor_type) else np.asarray(replaced)
    return grad


def backward(root, grad, retain_graph):
    """Fill `.grad` of the leaves that `root` depends on, given d(something)/d(root) = `grad`."""
    tensor_type = _tensor_type()
    try:
        if root._ctx is None:
            _finalise_leaf(root, grad, set(), tensor_type)
        else:
            _backward_nodes(root, grad, retain_graph, tensor_type)
    finally:
        callbacks, _final_callbacks[:] = list(_final_callbacks), []
    for callback in callbacks:
        callback()


def _leaf_edge_counts(order):
    """id(leaf) -> how many graph edges lead to it: once that many have been handled its gradient is final."""
    counts = {}
    for node in order:
        for parent in node.parents:
            if parent is not None and not hasattr(parent, "parents"):
                counts[id(parent)] = counts.get(id(parent), 0) + 1
    return counts


def _backward_nodes(root, grad, retain_graph, tensor_type):
    order = _topological_order(root._ctx)
    # With post-accumulate hooks registered, each leaf is finalised (accumulated, hooks run) right after the last
    # node that feeds it, so a hook can start work (a gradient all-reduce) while the rest of backward runs.
    pending = _leaf_edge_counts(order) if _post_hook_count else None
    node_grads = {root._ctx: grad}
    leaf_grads = {}        # id(leaf) -> [leaf, summed grad]
    # Arrays handed to more than one place (Add passes one gradient to both inputs) must be copied before they
    # become a leaf's .grad. `seen` holds weak references, so an id reused by a new array is not mistaken for one.
    seen, shared = {}, set()
    for node in order:
        grad = node_grads.pop(node, None)
        if grad is None:
            if pending is not None:
                _finalise_ready_leaves(node, pending, leaf_grads, shared, tensor_type)
            continue
        if node.released:
            raise RuntimeError(
                f"backward through {node.name()} a second time: its saved values were freed after the first "
                "backward. Pass retain_graph=True to the first backward() if you need to go through the graph twice.")
        if node._output_hooks:
            hooked = _run_hooks(node._output_hooks, grad, tensor_type)
            if hooked is not grad:
                shared.add(id(hooked))  # the user's hook may keep that array: leaves must copy it
                seen[id(hooked)] = weakref.ref(hooked)
            grad = hooked
        if node._retained is not None:
            output = node._retained()
            if output is not None:
                _accumulate(output, grad, tensor_type, must_copy=True)
        if node.saved_versions:
            node.check_versions()
        input_grads = node.backward(grad)
        if type(input_grads) is not tuple:
            input_grads = (input_grads,)
        if anomaly._enabled:
            anomaly.check_backward(node, input_grads)
        for parent, parent_grad, shape in zip(node.parents, input_grads, node.input_shapes):
            if parent is None or parent_grad is None:
                continue
            if type(parent_grad) is not np.ndarray or parent_grad.shape != shape:
                parent_grad = conform_gradient(node, parent_grad, shape)
            key = id(parent_grad)
            previous = seen.get(key)
            if previous is not None and previous() is parent_grad:
                shared.add(key)
            else:
                seen[key] = weakref.ref(parent_grad)
            if hasattr(parent, "parents"):
                previous = node_grads.get(parent)
                node_grads[parent] = parent_grad if previous is None else previous + parent_grad
            else:
                entry = leaf_grads.get(id(parent))
                if entry is None:
                    leaf_grads[id(parent)] = [parent, parent_grad]
                else:
                    entry[1] = entry[1] + parent_grad
        if pending is not None:
            _finalise_ready_leaves(node, pending, leaf_grads, shared, tensor_type)
        if not retain_graph:
            node.release()
    for leaf, leaf_grad in leaf_grads.values():
        _finalise_leaf(leaf, leaf_grad, shared, tensor_type)


def _finalise_ready_leaves(node, pending, leaf_grads, shared, tensor_type):
    """Count `node`'s edges to leaves as handled; accumulate the leaves that have no edges left."""
    for parent in node.parents:
        if parent is None or hasattr(parent, "parents"):
            continue
        key = id(parent)
        pending[key] -= 1
        if pending[key] == 0:
            entry = leaf_grads.pop(key, None)
            if entry is not None:
                _finalise_leaf(entry[0], entry[1], shared, tensor_type)


def _finalise_leaf(leaf, leaf_grad, shared, tensor_type):
    must_copy = id(leaf_grad) in shared or leaf_grad.base is not None or not leaf_grad.flags.writeable
    _accumulate(leaf, leaf_grad, tensor_type, must_copy)
    if leaf._post_hooks:
        for hook in list(leaf._post_hooks):
            hook(leaf)


def _accumulate(tensor, grad, tensor_type, must_copy):
    """Add `grad` into tensor.grad (creating it on the first backward), after the tensor's hooks."""
    if tensor._hooks:
        hooked = _run_hooks(tensor._hooks, grad, tensor_type)
        must_copy = must_copy or hooked is not grad
        grad = hooked
    if grad.dtype != tensor.data.dtype:
        grad = grad.astype(tensor.data.dtype)
    if tensor._grad is None:
        # The first gradient is stored, not copied, when nothing else holds it: saves a copy per parameter per step.
        tensor._grad = tensor_type._make(grad.copy() if must_copy else grad)
    else:
        tensor._grad.data = tensor._grad.data + grad


def _tensor_type():
    from ..tensor import Tensor

    return Tensor
