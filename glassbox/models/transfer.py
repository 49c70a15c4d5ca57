"""Transfer learning: load pretrained weights with a report, freeze layers, swap the head, per-layer learning rates.

    report = load_pretrained(model, "resnet18.safetensors", skip=["fc"])   # every key and shape checked
    freeze(model)                                                           # all features fixed ...
    replace_head(model, num_classes=5)                                      # ... and a fresh, trainable head
    optimizer = optim.Adam(param_groups(model, {"fc": 1e-2, "layer4": 1e-3}, default_lr=1e-4))
"""

import fnmatch
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..io.pretrained import read_state_dict, strip_key_prefix, tensor_to_numpy
from ..nn.containers import Sequential
from ..nn.linear import Linear
from ..nn.module import Module
from ..tensor import Tensor


# ----- loading -----------------------------------------------------------------------------------------------------
@dataclass
class LoadReport:
    """What load_pretrained did, key by key (model keys, after renaming the source's):

    loaded: copied into the model; missing: in the model, not in the source (left at their init);
    unexpected: in the source, not in the model (ignored); shape_mismatch: (key, expected, got) with the model's
    shape and the source's (left at their init); skipped: excluded by `skip` on either side.
    """

    loaded: list = field(default_factory=list)
    missing: list = field(default_factory=list)
    unexpected: list = field(default_factory=list)
    shape_mismatch: list = field(default_factory=list)
    skipped: list = field(default_factory=list)

    @property
    def ok(self):
        """True when every model key was loaded or skipped and every source key was used or skipped."""
        return not (self.missing or self.unexpected or self.shape_mismatch)

    def __str__(self):
        lines = [f"LoadReport: {len(self.loaded)} loaded, {len(self.missing)} missing, {len(self.unexpected)} "
                 f"unexpected, {len(self.shape_mismatch)} shape mismatch(es), {len(self.skipped)} skipped"]
        rows = [("shape mismatch", key, f"model {tuple(expected)} <- source {tuple(got)}")
                for key, expected, got in self.shape_mismatch]
        rows += [("missing", key, "not in the source: left at its init") for key in self.missing]
        rows += [("unexpected", key, "not in the model: ignored") for key in self.unexpected]
        rows += [("skipped", key, "") for key in self.skipped]
        # Loaded keys are summarised per top-level module: a ResNet has hundreds of them.
        groups = {}
        for key in self.loaded:
            groups.setdefault(key.split(".")[0] if "." in key else key, []).append(key)
        rows += [("loaded", name + (".*" if len(keys) > 1 or keys[0] != name else ""), f"{len(keys)} tensor(s)")
                 for name, keys in groups.items()]
        if rows:
            width = max(len(key) for _, key, _ in rows)
            lines += [f"  {status:<15} {key:<{width}}  {note}".rstrip() for status, key, note in rows]
        return "\n".join(lines)


class LoadError(RuntimeError):
    """load_pretrained(strict=True) found a mismatch; `report` is the LoadReport, also the message."""

    def __init__(self, model_name, report):
        super().__init__(f"load_pretrained into {model_name} (strict=True) found mismatches; nothing was loaded. "
                         f"Pass skip=[...] for keys you mean to leave at their init (e.g. a new head), key_map= "
                         f"to rename, or strict=False to load what matches.\n{report}")
        self.report = report


def load_pretrained(model, source, strict=True, key_map=None, skip=(), strip_prefix="auto"):
    """Copy pretrained weights from `source` into `model` in place, checking every key and shape; returns a
    LoadReport.

    source: a weights file (see glassbox.io.read_state_dict: .safetensors, or .pt/.pth/.bin through torch) or a
      dict of name -> Tensor / np.ndarray / torch.Tensor (e.g. a torchvision model's state_dict()).
    strip_prefix: a prefix removed from the source's keys first ("auto": 'module.' when every key has it, as
      nn.DataParallel leaves; None: none).
    key_map: then renames source keys: a dict old -> new (keys not in it are kept), or a callable
      key -> new key, or None to drop that key.
    skip: model/source keys not to load: exact keys ('fc.weight'), module names ('fc' covers 'fc.weight' and
      'fc.bias'), or glob patterns ('layer4.*'). Skipped model keys keep their init and are not "missing".
    strict: True raises LoadError (with the report) on any missing, unexpected or shape-mismatched key and loads
      nothing; False loads every key that matches and reports the rest — a head whose shape differs (a new
      num_classes) is left at its init.
    """
    if not isinstance(model, Module):
        raise TypeError(f"load_pretrained: model must be an nn.Module, got {type(model).__name__}")
    state = _source_state(source, strip_prefix)
    state = _rename(state, key_map)
    own = model.state_dict(keep_vars=True)
    skip = [skip] if isinstance(skip, str) else list(skip)
    skipped_model = [key for key in own if _matches(key, skip)]
    skipped_source = [key for key in state if _matches(key, skip) and key not in own]
    report = LoadReport(skipped=skipped_model + skipped_source)
    for key, target in own.items():
        if key in skipped_model:
            continue
        if key not in state:
            report.missing.append(key)
        elif tuple(state[key].shape) != tuple(target.shape):
            report.shape_mismatch.append((key, tuple(target.shape), tuple(state[key].shape)))
        else:
            report.loaded.append(key)
    report.unexpected = [key for key in state if key not in own and key not in skipped_source]
    if strict and not report.ok:
        raise LoadError(type(model).__name__, report)
    # Module.load_state_dict does the copy (and the dtype cast, and version bumps); everything handed to it has
    # been checked above, so it cannot fail on shapes and strict=False covers the keys left out on purpose.
    model.load_state_dict({key: state[key] for key in report.loaded}, strict=False)
    return report


def _source_state(source, strip_prefix):
    """The source as a dict of name -> np.ndarray."""
    if isinstance(source, (str, os.PathLike)):
        return read_state_dict(source, strip_prefix=strip_prefix)
    if isinstance(source, Module):
        raise TypeError("load_pretrained: source is a Module; pass its state_dict() (or a weights file)")
    if not isinstance(source, Mapping):
        raise TypeError(f"load_pretrained: source must be a file path or a dict of name -> tensor, got "
                        f"{type(source).__name__}")
    return strip_key_prefix({str(k): tensor_to_numpy(v, k) for k, v in source.items()}, strip_prefix)


def _rename(state, key_map):
    if key_map is None:
        return state
    if isinstance(key_map, Mapping):
        rename = lambda key: key_map.get(key, key)  # noqa: E731 -- a one-line adapter
    elif callable(key_map):
        rename = key_map
    else:
        raise TypeError(f"load_pretrained: key_map must be a dict or a callable, got {type(key_map).__name__}")
    renamed = {}
    for key, value in state.items():
        new = rename(key)
        if new is None:
            continue
        if new in renamed:
            raise ValueError(f"load_pretrained: key_map maps two source keys to {new!r} (the second is {key!r})")
        renamed[new] = value
    return renamed


def _matches(key, patterns):
    return any(key == p or key.startswith(p.rstrip(".") + ".") or fnmatch.fnmatchcase(key, p) for p in patterns)


# ----- freezing ----------------------------------------------------------------------------------------------------
def freeze(module_or_params):
    """Stop training: requires_grad=False on a Module's parameters (Module.requires_grad_), a Parameter, or an
    iterable of either; returns its argument. Any gradient they hold is dropped, so no optimizer that still lists
    them can apply a stale one (optimizers skip parameters whose grad is None).

    Freezing does not change train/eval mode: a frozen BatchNorm still updates its running statistics in train mode;
    call .eval() on it after model.train() (fit calls train() every epoch) if that matters.
    """
    _set_requires_grad(module_or_params, False)
    return module_or_params


def unfreeze(module_or_params):
    """Train again: requires_grad=True on a Module's parameters, a Parameter, or an iterable of either; returns it."""
    _set_requires_grad(module_or_params, True)
    return module_or_params


def _set_requires_grad(item, flag):
    if isinstance(item, Module):
        item.requires_grad_(flag)
        params = list(item.parameters())
    elif isinstance(item, Tensor):
        item.requires_grad_(flag)
        params = [item]
    elif hasattr(item, "__iter__") and not isinstance(item, (str, bytes)):
        for part in list(item):
            _set_requires_grad(part, flag)
        return
    else:
        raise TypeError(f"freeze/unfreeze: expected a Module, a Parameter or an iterable of them, got "
                        f"{type(item).__name__}")
    if not flag:
        for param in params:
            param.grad = None


@dataclass
class TrainableSummary:
    """Scalar parameter counts per top-level child: rows of (name, trainable, frozen); '(own)' is the model's
    own parameters. A parameter shared by two children is counted once, under the first."""

    rows: list

    @property
    def trainable(self):
        return sum(row[1] for row in self.rows)

    @property
    def frozen(self):
        return sum(row[2] for row in self.rows)

    def __str__(self):
        width = max([len("total")] + [len(name) for name, _, _ in self.rows])
        lines = [f"{'module':<{width}}  {'trainable':>10}  {'frozen':>10}"]
        lines += [f"{name:<{width}}  {trainable:>10,}  {frozen:>10,}" for name, trainable, frozen in self.rows]
        lines.append(f"{'total':<{width}}  {self.trainable:>10,}  {self.frozen:>10,}")
        return "\n".join(lines)


def trainable_parameters(model):
    """A TrainableSummary of `model`: how many parameters each top-level child trains and keeps frozen."""
    counts = {}
    for name, param in model.named_parameters():
        child = name.split(".")[0] if "." in name else "(own)"
        trainable, frozen = counts.get(child, (0, 0))
        n = param.numel()
        counts[child] = (trainable + n, frozen) if param.requires_grad else (trainable, frozen + n)
    return TrainableSummary([(name, t, f) for name, (t, f) in counts.items()])


# ----- the head ----------------------------------------------------------------------------------------------------
HEAD_NAMES = ("fc", "classifier", "head")


def replace_head(model, num_classes):
    """Swap the model's final classifier for a fresh nn.Linear(in_features, num_classes) (PyTorch's init, same
    bias setting and dtype) and return the new layer.

    The classifier is, in this order: the child `fc`, `classifier` or `head` when it is a Linear, or the last
    Linear inside it when it is a Sequential (VGG/AlexNet's `classifier`); otherwise the last Linear registered in
    the model (registration order is forward order for the usual models).
    """
    parent, name, old = _find_head(model)
    new = Linear(old.in_features, num_classes, bias=old.bias is not None, dtype=old.weight.dtype)
    setattr(parent, name, new)  # keeps the child's place, so state_dict order and Sequential order stay
    return new


def _find_head(model):
    """(parent module, attribute name, the Linear) of the final classifier."""
    for name in HEAD_NAMES:
        child = model._modules.get(name)
        if isinstance(child, Linear):
            return model, name, child
        if isinstance(child, Sequential):
            last = [(key, layer) for key, layer in child._modules.items() if isinstance(layer, Linear)]
            if last:
                return child, last[-1][0], last[-1][1]
    linears = [(path, layer) for path, layer in model.named_modules() if isinstance(layer, Linear)]
    if not linears:
        raise ValueError(f"replace_head: found no classifier in {type(model).__name__}: no child named "
                         f"{', '.join(HEAD_NAMES)} holding an nn.Linear, and no nn.Linear anywhere in the model")
    path, layer = linears[-1]
    if not path:  # the model is itself a Linear: there is no parent to put a new one in
        raise ValueError("replace_head: the model is a single nn.Linear; create a new nn.Linear instead")
    parent_path, _, name = path.rpartition(".")
    return model.get_submodule(parent_path), name, layer


# ----- discriminative learning rates -------------------------------------------------------------------------------
def param_groups(model, lrs, default_lr=None):
    """Optimizer param groups with a learning rate per module-name prefix, for optim.Adam(param_groups(...)).

    lrs: {prefix: lr} or {prefix: {"lr": ..., "weight_decay": ...}}; a prefix is a dotted module name ('layer4',
      'layer4.1', 'classifier.3') and a parameter goes to the longest prefix that contains it.
    default_lr: the lr of the group of every other trainable parameter; None leaves 'lr' out of that group, so
      the optimizer's own lr applies.
    Every trainable parameter is in exactly one group; frozen ones (requires_grad=False) are left out, and so is a
    group all of whose parameters are frozen. A prefix that names no parameter raises ValueError. Each group also
    carries its prefix as 'name' ('default' for the rest), for reading optimizer.param_groups.
    """
    if not isinstance(lrs, Mapping):
        raise TypeError(f"param_groups: lrs must be a dict of module-name prefix -> lr, got {type(lrs).__name__}")
    named = list(model.named_parameters())
    prefixes = {str(prefix).rstrip("."): value for prefix, value in lrs.items()}
    unknown = [p for p in prefixes if not any(_under(name, p) for name, _ in named)]
    if unknown:
        children = [name for name, _ in model.named_children()]
        raise ValueError(f"param_groups: no parameter of {type(model).__name__} is under {unknown}; its top-level "
                         f"modules are {children} (prefixes are dotted module names, e.g. 'layer4' or 'classifier.3')")
    members = {prefix: [] for prefix in prefixes}
    rest = []
    for name, param in named:
        if not param.requires_grad:
            continue
        owners = [p for p in prefixes if _under(name, p)]
        if owners:
            members[max(owners, key=len)].append(param)
        else:
            rest.append(param)
    groups = []
    for prefix, value in prefixes.items():
        if members[prefix]:
            options = dict(value) if isinstance(value, Mapping) else {"lr": float(value)}
            groups.append({"params": members[prefix], "name": prefix, **options})
    if rest:
        groups.append({"params": rest, "name": "default", **({} if default_lr is None else {"lr": float(default_lr)})})
    if not groups:
        raise ValueError(f"param_groups: {type(model).__name__} has no trainable parameter (all are frozen)")
    return groups


def _under(name, prefix):
    return name == prefix or name.startswith(prefix + ".")
