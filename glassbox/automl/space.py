"""Search spaces: declarative parameters (Choice, IntRange, FloatRange, Fixed), nested Space/OneOf/Repeat, JSON I/O."""

import json
import math

import numpy as np

# A mutation picks one "site" (a leaf parameter, a OneOf's branch, a Repeat's length) uniformly and changes it.


def _check_json_scalar(value, where):
    if value is not None and not isinstance(value, (bool, int, float, str)):
        raise TypeError(f"{where}: options must be JSON scalars (None, bool, int, float, str), got {value!r}")


def _path_name(path):
    return ".".join(str(p) for p in path) or "<root>"


class Param:
    """Base of every node of a space: sample, validate, mutate, JSON."""

    def sample(self, rng):
        raise NotImplementedError

    def validate(self, value, path=()):
        raise NotImplementedError

    def to_json(self):
        raise NotImplementedError

    # --- mutation: `_sites` lists the mutable places under this node; `_mutate_site` changes one of them ---
    def _sites(self, value, path):
        return [path] if self._mutable() else []

    def _mutable(self):
        return True

    def _mutate_at(self, value, rel_path, rng):
        # rel_path is empty for a leaf: change this very value.
        return self._mutate_value(value, rng)

    def _mutate_value(self, value, rng):
        raise NotImplementedError

    def __eq__(self, other):
        # Key order matters: parameters are sampled in order, so a reordered space samples other configs.
        return type(self) is type(other) and json.dumps(self.to_json()) == json.dumps(other.to_json())

    def __hash__(self):
        return hash(json.dumps(self.to_json()))

    def __repr__(self):
        return f"{type(self).__name__}({self.to_json()})"


class Fixed(Param):
    """A constant: always `value` (a JSON value). Never mutated."""

    def __init__(self, value):
        json.dumps(value)  # raises TypeError early for a value that cannot be logged
        self.value = value

    def sample(self, rng):
        return self.value

    def validate(self, value, path=()):
        if value != self.value:
            raise ValueError(f"Space: {_path_name(path)} must be the fixed value {self.value!r}, got {value!r}")

    def _mutable(self):
        return False

    def to_json(self):
        return {"kind": "fixed", "value": self.value}


class Choice(Param):
    """One of `options` (JSON scalars), chosen uniformly; a mutation picks a different option."""

    def __init__(self, options):
        options = list(options)
        if not options:
            raise ValueError("Choice: options must be a non-empty list, got []")
        for o in options:
            _check_json_scalar(o, "Choice")
        if len(set(map(repr, options))) != len(options):
            raise ValueError(f"Choice: options must be distinct, got {options}")
        self.options = options

    def sample(self, rng):
        return self.options[int(rng.integers(len(self.options)))]

    def validate(self, value, path=()):
        # Compare type as well: True == 1 in Python but they are different choices.
        if not any(value == o and type(value) is type(o) for o in self.options):
            raise ValueError(f"Space: {_path_name(path)} must be one of {self.options}, got {value!r}")

    def _mutable(self):
        return len(self.options) > 1

    def _mutate_value(self, value, rng):
        others = [o for o in self.options if not (o == value and type(o) is type(value))]
        return others[int(rng.integers(len(others)))]

    def to_json(self):
        return {"kind": "choice", "options": list(self.options)}


class _Range(Param):
    kind = ""

    def __init__(self, low, high, log=False):
        if not (isinstance(low, (int, float)) and isinstance(high, (int, float))) or isinstance(low, bool):
            raise TypeError(f"{type(self).__name__}: low and high must be numbers, got {low!r}, {high!r}")
        if low > high:
            raise ValueError(f"{type(self).__name__}: low must be <= high, got low={low}, high={high}")
        if log and low <= 0:
            raise ValueError(f"{type(self).__name__}: log=True needs low > 0, got low={low}")
        self.low, self.high, self.log = low, high, bool(log)

    def _unit_to_value(self, u):
        if self.log:
            return math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        return self.low + u * (self.high - self.low)

    def to_json(self):
        return {"kind": self.kind, "low": self.low, "high": self.high, "log": self.log}


class IntRange(_Range):
    """An integer in [low, high] (both included); log=True samples uniformly in log space (e.g. widths 16..512)."""

    kind = "int"

    def __init__(self, low, high, log=False):
        if not isinstance(low, (int, np.integer)) or not isinstance(high, (int, np.integer)):
            raise TypeError(f"IntRange: low and high must be ints, got {low!r}, {high!r}")
        super().__init__(int(low), int(high), log)

    def sample(self, rng):
        if not self.log:
            return int(rng.integers(self.low, self.high + 1))
        # Uniform in log over [low, high + 1) then floor: every integer has the mass of its log interval.
        lo, hi = math.log(self.low), math.log(self.high + 1)
        return min(self.high, int(math.floor(math.exp(lo + rng.random() * (hi - lo)))))

    def validate(self, value, path=()):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"Space: {_path_name(path)} must be an int in [{self.low}, {self.high}], got {value!r}")
        if not self.low <= value <= self.high:
            raise ValueError(f"Space: {_path_name(path)} must be in [{self.low}, {self.high}], got {value}")

    def _mutable(self):
        return self.high > self.low

    def _mutate_value(self, value, rng):
        for _ in range(100):  # resample until different; cheap since at least two values exist
            new = self.sample(rng)
            if new != value:
                return new
        return self.low if value != self.low else self.high


class FloatRange(_Range):
    """A float in [low, high]; log=True samples uniformly in log space (learning rates, weight decay)."""

    kind = "float"

    def __init__(self, low, high, log=False):
        super().__init__(float(low), float(high), log)

    def sample(self, rng):
        return float(min(self.high, max(self.low, self._unit_to_value(rng.random()))))

    def validate(self, value, path=()):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
            raise ValueError(f"Space: {_path_name(path)} must be a float in [{self.low}, {self.high}], got {value!r}")
        if not self.low <= value <= self.high:
            raise ValueError(f"Space: {_path_name(path)} must be in [{self.low}, {self.high}], got {value}")

    def _mutable(self):
        return self.high > self.low

    def _mutate_value(self, value, rng):
        for _ in range(100):
            new = self.sample(rng)
            if new != value:
                return new
        return self.low if value != self.low else self.high


def _as_param(node, where):
    if isinstance(node, Param):
        return node
    if isinstance(node, dict):
        return Space(node)
    raise TypeError(f"{where}: expected a Param (Choice, IntRange, FloatRange, Fixed, Space, OneOf, Repeat) "
                    f"or a dict of them, got {node!r}")


class Space(Param):
    """A dict of named parameters; sample(rng) -> config dict. Values may be nested Space / OneOf / Repeat.

        space = Space(lr=FloatRange(1e-4, 1e-1, log=True), batch_size=Choice([32, 64, 128]))
        config = space.sample(np.random.default_rng(0))   # {"lr": 0.0031..., "batch_size": 64}
    """

    def __init__(self, params=None, **kwargs):
        params = dict(params or {}, **kwargs)
        self.params = {}
        for name, node in params.items():
            if not isinstance(name, str):
                raise TypeError(f"Space: parameter names must be strings, got {name!r}")
            self.params[name] = _as_param(node, f"Space[{name!r}]")

    def sample(self, rng):
        """A config dict drawn from the space with the NumPy Generator `rng`."""
        return {name: node.sample(rng) for name, node in self.params.items()}

    def validate(self, config, path=()):
        """Raise ValueError naming the parameter when `config` is not a point of this space; return config."""
        if not isinstance(config, dict):
            raise ValueError(f"Space: {_path_name(path)} must be a dict, got {type(config).__name__}")
        missing = [k for k in self.params if k not in config]
        extra = [k for k in config if k not in self.params]
        if missing or extra:
            raise ValueError(f"Space: config at {_path_name(path)} has missing keys {missing} and unknown keys {extra}")
        for name, node in self.params.items():
            node.validate(config[name], (*path, name))
        return config

    def _sites(self, config, path):
        return [s for name, node in self.params.items() for s in node._sites(config[name], (*path, name))]

    def _mutable(self):
        return True

    def _mutate_at(self, config, rel_path, rng):
        name, rest = rel_path[0], rel_path[1:]
        return {**config, name: self.params[name]._mutate_at(config[name], rest, rng)}

    def mutate(self, config, rng):
        """A copy of `config` with exactly one parameter changed (a leaf, a OneOf branch or a Repeat length).

        Returns an unchanged copy when nothing in the space can change (all Fixed / single options)."""
        self.validate(config)
        sites = self._sites(config, ())
        if not sites:
            return json.loads(json.dumps(config))
        site = sites[int(rng.integers(len(sites)))]
        return self._mutate_at(json.loads(json.dumps(config)), site, rng)

    def to_json(self):
        return {"kind": "space", "params": {k: v.to_json() for k, v in self.params.items()}}

    def dumps(self):
        """The space as a JSON string (see Space.loads); parameter order is kept (it decides the sampling order)."""
        return json.dumps(self.to_json())

    @staticmethod
    def loads(text):
        """A space from the JSON written by dumps()."""
        return from_json(json.loads(text))


class OneOf(Param):
    """A conditional branch: `key` names the branch, the other keys come from that branch's Space.

        OneOf(dense=Space(units=IntRange(16, 256, log=True)), conv=Space(channels=Choice([8, 16, 32])))
        sample -> {"type": "conv", "channels": 16}
    A mutation either switches the branch (and resamples its parameters) or changes one parameter inside it.
    """

    def __init__(self, branches=None, key="type", **kwargs):
        branches = dict(branches or {}, **kwargs)
        if not branches:
            raise ValueError("OneOf: give at least one branch, got none")
        self.key = key
        self.branches = {}
        for name, node in branches.items():
            node = _as_param(node, f"OneOf[{name!r}]")
            if not isinstance(node, Space):
                raise TypeError(f"OneOf: branch {name!r} must be a Space or dict, got {type(node).__name__}")
            if key in node.params:
                raise ValueError(f"OneOf: branch {name!r} may not define the key {key!r} (it names the branch)")
            self.branches[name] = node

    def sample(self, rng):
        names = list(self.branches)
        name = names[int(rng.integers(len(names)))]
        return {self.key: name, **self.branches[name].sample(rng)}

    def validate(self, value, path=()):
        if not isinstance(value, dict) or value.get(self.key) not in self.branches:
            got = value.get(self.key) if isinstance(value, dict) else value
            raise ValueError(f"Space: {_path_name((*path, self.key))} must be one of {list(self.branches)}, "
                             f"got {got!r}")
        rest = {k: v for k, v in value.items() if k != self.key}
        self.branches[value[self.key]].validate(rest, path)

    def _sites(self, value, path):
        own = [(*path, self.key)] if len(self.branches) > 1 else []
        rest = {k: v for k, v in value.items() if k != self.key}
        return own + self.branches[value[self.key]]._sites(rest, path)

    def _mutate_at(self, value, rel_path, rng):
        if rel_path == (self.key,):
            names = [n for n in self.branches if n != value[self.key]]
            name = names[int(rng.integers(len(names)))]
            return {self.key: name, **self.branches[name].sample(rng)}
        rest = {k: v for k, v in value.items() if k != self.key}
        return {self.key: value[self.key], **self.branches[value[self.key]]._mutate_at(rest, rel_path, rng)}

    def to_json(self):
        return {"kind": "one_of", "key": self.key, "branches": {k: v.to_json() for k, v in self.branches.items()}}


class Repeat(Param):
    """A list of `low`..`high` items, each drawn from `item` (per-layer settings: depth and width per layer).

    A mutation adds an item at the end, removes the last one, or changes one parameter of one item."""

    def __init__(self, item, low, high):
        self.item = _as_param(item, "Repeat")
        self.length = IntRange(low, high)
        if low < 0:
            raise ValueError(f"Repeat: low must be >= 0, got {low}")

    def sample(self, rng):
        n = self.length.sample(rng)
        return [self.item.sample(rng) for _ in range(n)]

    def validate(self, value, path=()):
        if not isinstance(value, list):
            raise ValueError(f"Space: {_path_name(path)} must be a list, got {type(value).__name__}")
        self.length.validate(len(value), (*path, "<length>"))
        for i, v in enumerate(value):
            self.item.validate(v, (*path, i))

    def _sites(self, value, path):
        own = [(*path, "<length>")] if self.length._mutable() else []
        return own + [s for i, v in enumerate(value) for s in self.item._sites(v, (*path, i))]

    def _mutate_at(self, value, rel_path, rng):
        if rel_path == ("<length>",):
            n = self.length._mutate_value(len(value), rng)
            # Grow or shrink by one step towards the new length keeps the change local: one layer added/removed.
            if n > len(value):
                return value + [self.item.sample(rng)]
            return value[:-1]
        i, rest = rel_path[0], rel_path[1:]
        out = list(value)
        out[i] = self.item._mutate_at(value[i], rest, rng)
        return out

    def to_json(self):
        return {"kind": "repeat", "item": self.item.to_json(), "low": self.length.low, "high": self.length.high}


def from_json(obj):
    """Rebuild a Param/Space from its to_json() dict; raises ValueError on an unknown kind."""
    if not isinstance(obj, dict) or "kind" not in obj:
        raise ValueError(f"space.from_json: expected a dict with a 'kind', got {obj!r}")
    kind = obj["kind"]
    if kind == "fixed":
        return Fixed(obj["value"])
    if kind == "choice":
        return Choice(obj["options"])
    if kind == "int":
        return IntRange(obj["low"], obj["high"], log=obj.get("log", False))
    if kind == "float":
        return FloatRange(obj["low"], obj["high"], log=obj.get("log", False))
    if kind == "space":
        return Space({k: from_json(v) for k, v in obj["params"].items()})
    if kind == "one_of":
        return OneOf({k: from_json(v) for k, v in obj["branches"].items()}, key=obj.get("key", "type"))
    if kind == "repeat":
        return Repeat(from_json(obj["item"]), obj["low"], obj["high"])
    raise ValueError(f"space.from_json: unknown kind {kind!r}")


# --- image classifiers from a config -------------------------------------------------------------------------------

_ACTIVATIONS = ("relu", "leaky_relu", "elu", "gelu", "silu", "tanh", "sigmoid", "selu")
_NORMS = ("none", "batch", "layer")


def image_classifier_space(max_conv=3, max_dense=2, conv=True):
    """A ready space for build_model: conv layers (channels, kernel) then dense layers (units), plus activation,
    normalisation, dropout, learning rate, batch size and weight decay. `conv=False` gives an MLP space."""
    layers = Space(
        conv=Repeat(Space(channels=Choice([8, 16, 32, 64]), kernel_size=Choice([3, 5])), 0 if not conv else 1,
                    max_conv if conv else 0),
        dense=Repeat(Space(units=IntRange(16, 256, log=True)), 0, max_dense),
    )
    return Space(
        layers=layers,
        activation=Choice(["relu", "gelu", "tanh", "elu"]),
        norm=Choice(["none", "batch"]),
        dropout=FloatRange(0.0, 0.5),
        lr=FloatRange(1e-4, 3e-2, log=True),
        batch_size=Choice([32, 64, 128]),
        weight_decay=FloatRange(1e-6, 1e-2, log=True),
    )


def _activation(name):
    from .. import nn

    table = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU, "gelu": nn.GELU, "silu": nn.SiLU,
             "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "selu": nn.SELU}
    if name not in table:
        raise ValueError(f"build_model: activation must be one of {sorted(table)}, got {name!r}")
    return table[name]()


def _layer_list(config):
    # Two accepted forms: {"layers": [{"type": "conv", ...}, {"type": "dense", ...}]} (a Repeat of OneOf), or
    # {"layers": {"conv": [...], "dense": [...]}} (image_classifier_space), which is conv-then-dense by construction.
    layers = config.get("layers", [])
    if isinstance(layers, dict):
        unknown = set(layers) - {"conv", "dense"}
        if unknown:
            raise ValueError(f"build_model: config['layers'] may only hold 'conv' and 'dense', got {sorted(unknown)}")
        return ([{"type": "conv", **c} for c in layers.get("conv", [])]
                + [{"type": "dense", **d} for d in layers.get("dense", [])])
    if not isinstance(layers, list):
        raise ValueError(f"build_model: config['layers'] must be a list or dict, got {type(layers).__name__}")
    return layers


def build_model(config, input_shape, num_classes):
    """An nn.Sequential image/vector classifier described by `config`; input (N, *input_shape) -> logits (N, classes).

    config keys: "layers" (see below), "activation" (default "relu"), "norm" ("none" | "batch" | "layer", default
    "none"), "dropout" (p, default 0). Each layer is {"type": "conv", "channels": c, "kernel_size": k, "pool": True}
    or {"type": "dense", "units": u}; a layer may override activation/norm/dropout. Conv layers use 'same' padding
    and a 2x2 max-pool (while the image is at least 2x2) and must come before dense layers. input_shape is
    (C, H, W) for images or (features,) for vectors (conv layers need an image). Extra keys (lr, batch_size ...)
    are ignored: they are for the training code.
    """
    from .. import nn

    input_shape = tuple(int(s) for s in input_shape)
    if len(input_shape) not in (1, 3) or any(s <= 0 for s in input_shape):
        raise ValueError(f"build_model: input_shape must be (C, H, W) or (features,), got {input_shape}")
    if not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"build_model: num_classes must be a positive int, got {num_classes!r}")
    default_act = config.get("activation", "relu")
    default_norm = config.get("norm", "none")
    default_p = float(config.get("dropout", 0.0))
    modules, shape, flat = [], input_shape, len(input_shape) == 1
    for i, layer in enumerate(_layer_list(config)):
        kind = layer.get("type")
        act = layer.get("activation", default_act)
        norm = layer.get("norm", default_norm)
        p = float(layer.get("dropout", default_p))
        if norm not in _NORMS:
            raise ValueError(f"build_model: layer {i} norm must be one of {list(_NORMS)}, got {norm!r}")
        if not 0.0 <= p < 1.0:
            raise ValueError(f"build_model: layer {i} dropout must be in [0, 1), got {p}")
        if kind == "conv":
            if flat:
                raise ValueError(f"build_model: layer {i} is conv but the input is already flat "
                                 f"(input_shape={input_shape} or a dense layer came before): put conv layers first")
            c, h, w = shape
            out_c, k = int(layer["channels"]), int(layer.get("kernel_size", 3))
            modules.append(nn.Conv2d(c, out_c, k, padding=k // 2))
            h, w = h + 2 * (k // 2) - k + 1, w + 2 * (k // 2) - k + 1  # 'same' for odd k, one smaller for even k
            if norm == "batch":
                modules.append(nn.BatchNorm2d(out_c))
            elif norm == "layer":
                modules.append(nn.GroupNorm(1, out_c))  # LayerNorm over (C, H, W), independent of the image size
            modules.append(_activation(act))
            if layer.get("pool", True) and h >= 2 and w >= 2:
                modules.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
            if p > 0:
                modules.append(nn.Dropout(p))
            shape = (out_c, h, w)
        elif kind == "dense":
            if not flat:
                modules.append(nn.Flatten())
                shape, flat = (int(np.prod(shape)),), True
            units = int(layer["units"])
            modules.append(nn.Linear(shape[0], units))
            if norm == "batch":
                modules.append(nn.BatchNorm1d(units))
            elif norm == "layer":
                modules.append(nn.LayerNorm(units))
            modules.append(_activation(act))
            if p > 0:
                modules.append(nn.Dropout(p))
            shape = (units,)
        else:
            raise ValueError(f"build_model: layer {i} type must be 'conv' or 'dense', got {kind!r}")
    if not flat:
        modules.append(nn.Flatten())
        shape = (int(np.prod(shape)),)
    modules.append(nn.Linear(shape[0], int(num_classes)))
    return nn.Sequential(*modules)
