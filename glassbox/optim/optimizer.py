"""Optimizer: the base class that holds param_groups and per-parameter state, steps, and saves/loads its state."""

import copy
from collections import defaultdict

import numpy as np

from ..autograd import enable_grad
from ..tensor import Tensor


class _RequiredParameter:
    """Marks a hyper-parameter with no default: every param group must then give it (torch.optim.optimizer.required)."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


class Optimizer:
    """Base class of all optimizers: updates the Tensors in `param_groups` from their `.grad`.

    `params` is an iterable of Tensors, or of dicts (param groups) with a 'params' entry and per-group
    hyper-parameters that override `defaults`. `state` maps each parameter (Tensors hash by identity) to a dict
    of its running buffers. A subclass writes its update equation in `_update`; `step()` calls it for every
    parameter that has a gradient and bumps that parameter's version counter.
    """

    def __init__(self, params, defaults):
        self.defaults = defaults
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            f"but got a Tensor of shape {params.shape}; wrap it in a list: [param]")
        self.state = defaultdict(dict)
        self.param_groups = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    def __repr__(self):
        text = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    text += f"    {key}: {group[key]}\n"
        return text + ")"

    # ----- parameters -------------------------------------------------------------------------------------------
    def add_param_group(self, param_group):
        """Add a group of parameters (a dict with 'params' and optional hyper-parameters) to be optimized."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering of "
                            "tensors in sets will change between runs. Please use a list instead.")
        param_group["params"] = params = list(params)
        for param in params:
            if not isinstance(param, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {type(param).__name__}")
            if not param.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
            param_group.setdefault(name, default)
        # Identity sets, not `in` on lists: Tensor == Tensor is elementwise.
        ids = {id(p) for p in params}
        if len(ids) != len(params):
            # torch only warns here ("in future, this will cause an error"): a repeated parameter would be updated
            # twice per step, which is never what anyone meant, so glassbox refuses it now.
            raise ValueError("optimizer contains a parameter group with duplicate parameters")
        for group in self.param_groups:
            if any(id(p) in ids for p in group["params"]):
                raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none=True):
        """Reset the gradients: to None (the default, so the next backward stores instead of adding), or to zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    grad.detach_()
                    grad.data.fill(0)
                    grad._version[0] += 1

    # ----- the update -------------------------------------------------------------------------------------------
    def step(self, closure=None):
        """Update every parameter that has a gradient; `closure` (re-evaluates the model, returns the loss) runs
        first, with grad mode on, and its loss is returned."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:  # a parameter that took no part in the loss is left alone, as in torch
                    continue
                grad = p.grad.data
                if grad.shape != p.data.shape:  # NumPy would broadcast it silently into a wrong update
                    raise RuntimeError(f"{type(self).__name__}.step(): a parameter of shape {p.data.shape} has a "
                                       f"gradient of shape {grad.shape}; they must match")
                state = self.state[p]
                if not state:
                    self._init_state(p, state, group)
                self._update(p.data, grad, state, group)
                p._version[0] += 1  # autograd compares it with the versions it saved, to catch stale values
        return loss

    def _init_state(self, param, state, group):
        """Fill an empty per-parameter `state` dict before the first update (nothing by default)."""

    def _update(self, param, grad, state, group):
        """Update the array `param` in place from `grad` (read only: the user's .grad) and `state`."""
        raise NotImplementedError(f"{type(self).__name__} must implement _update(param, grad, state, group) or step()")

    # ----- saving and loading -----------------------------------------------------------------------------------
    def state_dict(self):
        """The optimizer's state in torch's format, as copies that later steps do not change:
        {'state': {param_index: {name: Tensor or number}}, 'param_groups': [{..., 'params': [param_index, ...]}]}."""
        index = {}
        param_groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            param_groups.append(packed)
        state = {}
        for param, values in self.state.items():
            if not values:  # e.g. SGD without momentum keeps nothing; torch's state_dict has no entry for it either
                continue
            key = index[id(param)] if isinstance(param, Tensor) else param
            state[key] = {name: _copy_value(value) for name, value in values.items()}
        return {"state": state, "param_groups": param_groups}

    def load_state_dict(self, state_dict):
        """Load a state saved by state_dict(): groups must match in number and size; state is copied and cast to
        each parameter's dtype (except 'step')."""
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError("optimizer state_dict must be a dict with 'state' and 'param_groups' entries")
        groups = self.param_groups
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError(f"loaded state dict has a different number of parameter groups: {len(saved_groups)} "
                             f"saved, {len(groups)} in this optimizer")
        for i, (group, saved) in enumerate(zip(groups, saved_groups)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(f"loaded state dict contains a parameter group that doesn't match the size of "
                                 f"optimizer's group: group {i} has {len(saved['params'])} parameters saved, "
                                 f"{len(group['params'])} here")
        id_map = {}
        for group, saved in zip(groups, saved_groups):
            id_map.update(zip(saved["params"], group["params"]))
        state = defaultdict(dict)
        for key, values in state_dict["state"].items():
            if key not in id_map:
                state[key] = copy.deepcopy(values)  # state not tied to a parameter is kept as is, like torch
                continue
            param = id_map[key]
            state[param] = {name: _cast_value(value, param, name, key) for name, value in values.items()}
        for group, saved in zip(groups, saved_groups):
            saved["params"] = group["params"]
        self.state = state
        self.param_groups = saved_groups


def _copy_value(value):
    """A deep copy of one state entry: a Tensor gets its own array; numbers and other values are copied."""
    if isinstance(value, Tensor):
        return Tensor._make(value.data.copy())
    return copy.deepcopy(value)


def _cast_value(value, param, name, index):
    """A copy of a loaded state entry as a Tensor like `param` (dtype and shape), leaving 'step' as it is."""
    if isinstance(value, (Tensor, np.ndarray)):
        array = value.data if isinstance(value, Tensor) else value
        if name == "step":
            return Tensor._make(np.array(array, copy=True))
        if array.ndim and array.shape != param.data.shape:
            raise ValueError(f"loaded state for parameter {index} has {name!r} of shape {array.shape}, but the "
                             f"parameter has shape {param.data.shape}: is this state_dict from another model?")
        dtype = param.data.dtype if param.data.dtype.kind == "f" else array.dtype
        return Tensor._make(np.array(array, dtype=dtype, copy=True))
    if name == "step":  # a plain number (older checkpoints): the optimizers keep it as a 0-d tensor, like torch
        return _step_tensor(value)
    return copy.deepcopy(value)


def _step_tensor(value=0.0):
    """The per-parameter step count, a 0-d float32 Tensor as in torch's state_dict."""
    return Tensor._make(np.array(value, dtype=np.float32))


def _increment_step(state):
    """Add one to state['step'] in place and return the new count as a Python float."""
    step = state["step"].data
    step += 1
    return float(step)


def _grad_with_decay(param, grad, weight_decay, maximize):
    """The gradient an update uses: -grad when maximizing, plus weight_decay * param (L2 penalty).

    Returns `grad` itself when nothing changes (callers never write into it: it is the user's .grad); otherwise one
    new array that the caller owns.
    """
    if weight_decay:
        g = np.multiply(param, weight_decay)
        if maximize:
            g -= grad
        else:
            g += grad
        return g
    return np.negative(grad) if maximize else grad


def _lerp_(start, end, weight, scratch):
    """start += weight * (end - start) in place, with torch's two formulas (the exact one for small weights),
    using `scratch` (an array shaped like start) instead of allocating."""
    np.subtract(end, start, out=scratch)
    if abs(weight) < 0.5:
        scratch *= weight
        start += scratch
    else:
        scratch *= 1 - weight
        np.subtract(end, scratch, out=start)


def _hyper(group, *names):
    """Group hyper-parameters as Python floats: a NumPy float64 scalar would turn float32 updates into float64."""
    return [float(group[name]) for name in names]
