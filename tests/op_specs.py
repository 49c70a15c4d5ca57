"""The op table: one row per (op, variant) drives the numerical gradient checks (test_ops_gradcheck.py) and the
comparison with PyTorch (test_ops_torch.py); ERRORS lists bad inputs and what they must raise (test_op_errors.py).

A row's `fn(m, *tensors)` is written once and runs unchanged on both libraries: `m` is a `Lib` namespace whose
attributes are the library's top-level functions (`m.maximum`, `m.cat`, ...), whose `m.F` is its
`nn.functional`, and whose `m.extra` holds the row's non-differentiable arguments (integer indices, targets,
masks, weights) as tensors of that library. Tensor methods (`x.sum(dim=1)`, `x[idx]`) have the same names in both.

Adding an op means adding a row:

    Spec("maximum", lambda m, x, y: m.maximum(x, y), BINARY, gen=distinct)

`cases` are shape sets (one shape per differentiable input; `nc=` marks inputs built as a transposed view or a
strided slice of a contiguous array, so ops see non-contiguous memory); `gen` draws the float64 input values
(domain-restricted ops keep away from poles and kinks so finite differences are valid); `extras(rng, shapes)`
returns the non-differentiable arguments as NumPy arrays. Both libraries get the same values.
"""

import math
import warnings
import zlib
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

import glassbox as gb
import glassbox.nn.functional as gF

FORWARD_TOL = (1e-5, 1e-4)  # (atol, rtol), float32 against torch
GRAD_TOL = (1e-4, 1e-3)


# ----- shape sets ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    shapes: tuple
    nc: tuple = ()  # indices of inputs given to the op as non-contiguous arrays

    @property
    def id(self):
        text = "_".join("x".join(map(str, s)) if s else "0d" for s in self.shapes) or "noinput"
        return text + ("-nc" + ",".join(map(str, self.nc)) if self.nc else "")


def case(*shapes, nc=()):
    return Case(tuple(tuple(s) for s in shapes), tuple(nc))


# ----- input generators: gen(rng, shapes) -> list of float64 arrays ---------------------------------------------------
def normal(rng, shapes):
    return [rng.standard_normal(s) for s in shapes]


def uniform(low, high):
    def gen(rng, shapes):
        return [rng.uniform(low, high, s) for s in shapes]

    return gen


positive = uniform(0.5, 2.0)
probability = uniform(0.05, 0.95)  # strictly inside (0, 1): binary_cross_entropy's domain


def away_from(*points, margin=0.05, scale=1.0):
    """Normal samples (times `scale`) kept at least `margin` from each kink in `points` (abs, relu, clamp ...)."""

    def gen(rng, shapes):
        out = []
        for s in shapes:
            x = rng.standard_normal(s) * scale
            for _ in range(100):
                close = np.zeros(np.shape(x), dtype=bool)
                for p in points:
                    close |= np.abs(x - p) < margin
                if not close.any():
                    break
                x = np.where(close, rng.standard_normal(s) * scale, x)
            out.append(np.asarray(x, dtype=np.float64))
        return out

    return gen


def distinct(rng, shapes, spacing=0.1):
    """Values all different from each other, across every input (no ties for max/min/maximum/sort-like ops)."""
    sizes = [math.prod(s) for s in shapes]
    n = sum(sizes)
    values = (rng.permutation(n) - n / 2) * spacing + rng.uniform(0, spacing / 4)
    out, start = [], 0
    for s, k in zip(shapes, sizes):
        out.append(values[start:start + k].reshape(s))
        start += k
    return out


def ties(rng, shapes):
    """Small integers: many exact ties (torch splits the gradient of max/amax/maximum evenly among them)."""
    return [rng.integers(-1, 2, s).astype(np.float64) for s in shapes]


def at_kinks(*points):
    """Normal samples with about half the elements exactly on a kink (torch's subgradient conventions apply)."""

    def gen(rng, shapes):
        out = []
        for s in shapes:
            x = rng.standard_normal(s)
            out.append(np.where(rng.random(s) < 0.5, rng.choice(points, s), x))
        return out

    return gen


def half_equal(rng, shapes):
    """x, and y equal to x at about half the positions (|x - y| is at its kink there)."""
    x = rng.standard_normal(shapes[0])
    return [x, np.where(rng.random(shapes[0]) < 0.5, x, x + rng.uniform(0.2, 1.0, shapes[0]))]


KINK = "inputs sit exactly on a kink: no finite difference exists; torch defines the subgradient used there"


def per_input(*gens):
    """A different generator for each input."""

    def gen(rng, shapes):
        return [g(rng, [s])[0] for g, s in zip(gens, shapes)]

    return gen


def with_zeros(*positions, base=normal):
    """The first input gets exact zeros at `positions` (prod's gradient must not divide by them)."""

    def gen(rng, shapes):
        arrays = base(rng, shapes)
        for p in positions:
            arrays[0][p] = 0.0
        return arrays

    return gen


def l1_pair(rng, shapes):
    """x and y with |x - y| >= 0.1 everywhere, so |x - y| is differentiable at every sample."""
    x, y = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    shape = np.broadcast_shapes(shapes[0], shapes[1])
    gap = np.broadcast_to(x, shape) - np.broadcast_to(y, shape)
    assert shape == tuple(shapes[0])
    x = np.where(np.abs(gap) < 0.1, x + np.where(gap >= 0, 0.2, -0.2), x)
    return [x, y]


# ----- non-differentiable arguments: extras(rng, shapes) -> dict of arrays ------------------------------------------
def class_targets(rng, shape, ignore_index=None):
    """Class indices for logits of `shape` ((N, C, d...) or (C,)); a few set to ignore_index when given."""
    num_classes = shape[1] if len(shape) > 1 else shape[0]
    target_shape = (shape[0],) + tuple(shape[2:]) if len(shape) > 1 else ()
    target = rng.integers(0, num_classes, target_shape)
    if ignore_index is not None and target.size > 1:
        flat = target.reshape(-1)
        flat[rng.choice(flat.size, size=max(1, flat.size // 3), replace=False)] = ignore_index
        flat[0] = (ignore_index + 1) % num_classes  # at least one item counts, whatever ignore_index is
    return target


def class_probabilities(rng, shape):
    """Rows of class probabilities along dim 1 (dim 0 for unbatched (C,) logits)."""
    axis = 1 if len(shape) > 1 else 0
    e = np.exp(rng.standard_normal(shape))
    return e / e.sum(axis=axis, keepdims=True)


def class_weight(rng, shape):
    num_classes = shape[1] if len(shape) > 1 else shape[0]
    return rng.uniform(0.2, 2.0, num_classes)


def int_index(high, shape):
    """An int64 index array drawn from [0, high) that repeats at least one value when it can."""

    def make(rng):
        index = rng.integers(0, high, shape)
        if index.size > 1 and high > 1:
            index.reshape(-1)[1] = index.reshape(-1)[0]
        return index

    return make


# ----- the namespace rows run against -------------------------------------------------------------------------------
class Lib:
    """One library's API: `m.exp`, `m.cat`, `m.F.cross_entropy`, plus `m.extra.<name>` (the row's extras)."""

    def __init__(self, name, module, functional, extra):
        self.name, self._module, self.F, self.extra = name, module, functional, SimpleNamespace(**extra)

    def __getattr__(self, attr):
        return getattr(self._module, attr)


def to_backend(backend, array):
    """A NumPy array as a tensor of `backend` ('glassbox' or 'torch'), sharing its memory and strides."""
    if backend == "glassbox":
        return gb.from_numpy(array)
    import torch

    return torch.from_numpy(array)


def make_lib(backend, extras, dtype):
    """The namespace for `backend`, with float extras cast to `dtype` (the dtype under test)."""
    converted = {}
    for key, value in extras.items():
        array = np.asarray(value)
        if array.dtype.kind == "f":
            array = array.astype(dtype)
        converted[key] = to_backend(backend, np.array(array))  # a private contiguous copy per library
    if backend == "glassbox":
        return Lib("glassbox", gb, gF, converted)
    import torch
    import torch.nn.functional as tF

    return Lib("torch", torch, tF, converted)


def layout(values, noncontiguous):
    """A fresh array holding `values`: C-contiguous, or a transposed/strided view when `noncontiguous`."""
    if not noncontiguous:
        return np.array(values, order="C")
    if values.ndim >= 2:
        out = np.ascontiguousarray(values.T).T  # the transpose of a contiguous array
    elif values.ndim == 1:
        buffer = np.zeros(2 * values.shape[0], dtype=values.dtype)
        buffer[::2] = values
        out = buffer[::2]  # every other element of a contiguous array
    else:
        raise ValueError("a 0-d input cannot be non-contiguous")
    assert not out.flags.c_contiguous, f"input of shape {values.shape} cannot be made non-contiguous"
    return out


# ----- the row ------------------------------------------------------------------------------------------------------
@dataclass
class Spec:
    """name: 'op' or 'op[variant]' (the part before '[' is the op it covers); fn(m, *tensors) -> tensor or
    tuple; cases: shape sets; gen: input values; extras: non-differentiable arguments; tolerances for the torch
    comparison (loosened only with `reason`); gradcheck/torch: which oracles apply (turned off only with reason)."""

    name: str
    fn: object
    cases: list
    gen: object = normal
    extras: object = None
    fwd_tol: tuple = FORWARD_TOL
    grad_tol: tuple = GRAD_TOL
    gradcheck: bool = True
    torch: bool = True
    reason: str = ""

    @property
    def op(self):
        return self.name.split("[")[0]

    def sample(self, case):
        """The float64 input arrays and the extras for one case, the same on every call (seeded by the id)."""
        rng = np.random.default_rng(zlib.crc32(f"{self.name}|{case.id}".encode()))
        arrays = [np.asarray(a, dtype=np.float64) for a in self.gen(rng, list(case.shapes))]
        assert [a.shape for a in arrays] == list(case.shapes), (self.name, case.id)
        extras = self.extras(rng, list(case.shapes)) if self.extras else {}
        return arrays, extras

    def inputs(self, backend, arrays, case, dtype):
        """Leaf tensors that require grad, laid out as the case says."""
        tensors = []
        for i, a in enumerate(arrays):
            t = to_backend(backend, layout(a.astype(dtype), i in case.nc))
            tensors.append(t.requires_grad_(True))
        return tensors


def _index_put(m, x, v, index):
    """setitem under autograd, the way users write it: clone, assign, return (differentiable in x and v)."""
    y = x.clone()
    y[index] = v
    return y


# ----- shape sets shared by many rows ---------------------------------------------------------------------------------
BINARY = [case((2, 3), (2, 3)), case((2, 3), (3,)), case((4, 1, 3), (2, 1)), case((), (2, 3)), case((2, 3), ()),
          case((1, 3), (2, 1)), case((3, 4), (3, 4), nc=(0,)), case((3, 4), (4,), nc=(0, 1))]
UNARY = [case((2, 3)), case(()), case((5,)), case((2, 1, 3)), case((3, 4), nc=(0,)), case((6,), nc=(0,))]
REDUCE = [case((3, 4)), case((2, 3, 4)), case((2, 3, 4), nc=(0,)), case((1, 4, 1))]
REDUCE_3D = [case((2, 3, 4)), case((2, 3, 4), nc=(0,)), case((1, 3, 1))]
MATRIX = [case((3, 4)), case((2, 3, 3)), case((4, 3), nc=(0,)), case((1, 5))]

SPECS = []


def register(*specs):
    SPECS.extend(specs)


# ----- arithmetic ---------------------------------------------------------------------------------------------------
away_zero = away_from(0.0, margin=0.3)
register(
    Spec("add", lambda m, x, y: x + y, BINARY),
    Spec("add[alpha]", lambda m, x, y: m.add(x, y, alpha=2.5), BINARY[:3]),
    Spec("add[scalar]", lambda m, x: x + 1.5, UNARY),
    Spec("sub", lambda m, x, y: x - y, BINARY),
    Spec("sub[alpha]", lambda m, x, y: m.sub(x, y, alpha=-0.5), BINARY[:3]),
    Spec("mul", lambda m, x, y: x * y, BINARY),
    Spec("mul[scalar]", lambda m, x: x * -3.0, UNARY),
    Spec("div", lambda m, x, y: x / y, BINARY, gen=per_input(normal, away_zero)),
    Spec("div[scalar]", lambda m, x: x / 4.0, UNARY),
    Spec("neg", lambda m, x: -x, UNARY),
    Spec("neg[fn]", lambda m, x: m.neg(x), UNARY[:2]),
    Spec("rsub", lambda m, x: 2 - x, UNARY),
    Spec("radd", lambda m, x: 2 + x, UNARY[:3]),
    Spec("rmul", lambda m, x: 2 * x, UNARY[:3]),
    Spec("rdiv", lambda m, x: 2 / x, UNARY, gen=away_zero),
    Spec("remainder", lambda m, x, y: x % y, BINARY[:4], gen=per_input(normal, away_zero)),
    Spec("remainder[scalar]", lambda m, x: x % -0.7, UNARY),
    Spec("rremainder", lambda m, x: 5.0 % x, UNARY[:3], gen=away_zero, torch=False,
         reason="torch 2.13 has no derivative for number % tensor; gradcheck holds it to -floor(a/b)"),
    Spec("fmod", lambda m, x, y: m.fmod(x, y), BINARY[:4], gen=per_input(normal, away_zero)),
    Spec("rpow", lambda m, x: 2 ** x, UNARY),
    Spec("rpow[fn]", lambda m, x: m.pow(2.5, x), UNARY[:3]),
    Spec("pow[2]", lambda m, x: x ** 2, UNARY),
    Spec("pow[3]", lambda m, x: x ** 3, UNARY),
    Spec("pow[0.5]", lambda m, x: x ** 0.5, UNARY, gen=positive),
    Spec("pow[-1.5]", lambda m, x: x ** -1.5, UNARY, gen=positive),
    Spec("pow[-2]", lambda m, x: x.pow(-2), UNARY, gen=away_zero),
    Spec("pow[0]", lambda m, x: x ** 0, UNARY[:3]),
    Spec("pow[tensor]", lambda m, x, y: x ** y, BINARY, gen=per_input(positive, normal)),
    Spec("pow[fn]", lambda m, x, y: m.pow(x, y), BINARY[:3], gen=per_input(positive, normal)),
)

register(  # one tensor used twice: the engine must add both gradients
    Spec("mul[same_input]", lambda m, x: x * x, UNARY[:3]),
    Spec("add[same_input_broadcast]", lambda m, x: x + x[0], [case((3, 4))]),
    Spec("sum[empty]", lambda m, x: x.sum(dim=0), [case((0, 3))]),
)

# ----- matmul -------------------------------------------------------------------------------------------------------
MATMUL = [case((4,), (4,)), case((3, 4), (4,)), case((4,), (4, 3)), case((3, 4), (4, 5)), case((2, 3, 4), (2, 4, 5)),
          case((2, 3, 4), (4, 5)), case((2, 1, 3, 4), (3, 4, 2)), case((4,), (2, 4, 3)), case((2, 3, 4), (4,)),
          case((2, 3, 4), (1, 4, 2)), case((3, 4), (4, 5), nc=(0, 1)), case((2, 3, 4), (4, 5), nc=(1,))]
register(
    Spec("matmul", lambda m, x, y: x @ y, MATMUL),
    Spec("matmul[fn]", lambda m, x, y: m.matmul(x, y), [MATMUL[0], MATMUL[3], MATMUL[6]]),
    Spec("matmul[same_input]", lambda m, x: x @ x.T, [case((3, 4)), case((3, 4), nc=(0,))]),
    Spec("matmul[empty_inner]", lambda m, x, y: x @ y, [case((3, 0), (0, 4))]),
)

# ----- elementwise functions and activations ------------------------------------------------------------------------
register(
    Spec("exp", lambda m, x: x.exp(), UNARY),
    Spec("exp[fn]", lambda m, x: m.exp(x), UNARY[:2]),
    Spec("log", lambda m, x: x.log(), UNARY, gen=positive),
    Spec("log1p", lambda m, x: x.log1p(), UNARY, gen=uniform(-0.5, 2.0)),
    Spec("sqrt", lambda m, x: x.sqrt(), UNARY, gen=positive),
    Spec("rsqrt", lambda m, x: x.rsqrt(), UNARY, gen=positive),
    Spec("abs", lambda m, x: x.abs(), UNARY, gen=away_from(0.0)),
    Spec("abs[fn]", lambda m, x: m.abs(x), UNARY[:2], gen=away_from(0.0)),
    Spec("sin", lambda m, x: x.sin(), UNARY),
    Spec("cos", lambda m, x: x.cos(), UNARY),
    Spec("tanh", lambda m, x: x.tanh(), UNARY),
    Spec("tanh[fn]", lambda m, x: m.tanh(x), UNARY[:2], gen=uniform(-4, 4)),
    Spec("sigmoid", lambda m, x: x.sigmoid(), UNARY),
    Spec("sigmoid[large]", lambda m, x: m.sigmoid(x), [case((2, 5))], gen=uniform(-40, 40)),
    Spec("relu", lambda m, x: x.relu(), UNARY, gen=away_from(0.0)),
    Spec("relu[F]", lambda m, x: m.F.relu(x), UNARY[:2], gen=away_from(0.0)),
    Spec("leaky_relu", lambda m, x: m.F.leaky_relu(x), UNARY, gen=away_from(0.0)),
    Spec("leaky_relu[0.2]", lambda m, x: m.F.leaky_relu(x, 0.2), UNARY[:3], gen=away_from(0.0)),
    Spec("elu", lambda m, x: m.F.elu(x), UNARY, gen=away_from(0.0)),
    Spec("elu[alpha]", lambda m, x: m.F.elu(x, alpha=1.5), UNARY[:3], gen=away_from(0.0, scale=2.0)),
    Spec("selu", lambda m, x: m.F.selu(x), UNARY, gen=away_from(0.0)),
    Spec("gelu", lambda m, x: m.F.gelu(x), UNARY, gen=uniform(-4, 4)),
    Spec("gelu[tanh]", lambda m, x: m.F.gelu(x, approximate="tanh"), UNARY, gen=uniform(-4, 4)),
    Spec("silu", lambda m, x: m.F.silu(x), UNARY, gen=uniform(-5, 5)),
    Spec("softplus", lambda m, x: m.F.softplus(x), UNARY, gen=uniform(-5, 5)),
    Spec("softplus[beta,threshold]", lambda m, x: m.F.softplus(x, beta=2.0, threshold=1.0), UNARY,
         gen=away_from(0.5, scale=1.5)),  # beta * x crosses threshold 1 at x = 0.5 (the function jumps there)
    Spec("clamp[min]", lambda m, x: x.clamp(min=-0.5), UNARY, gen=away_from(-0.5)),
    Spec("clamp[max]", lambda m, x: x.clamp(max=0.5), UNARY, gen=away_from(0.5)),
    Spec("clamp[both]", lambda m, x: m.clamp(x, -0.5, 0.5), UNARY, gen=away_from(-0.5, 0.5)),
    Spec("clamp[tensor_bounds]", lambda m, x, lo, hi: m.clamp(x, min=lo, max=hi),
         [case((2, 3), (3,), (2, 1)), case((3, 4), (3, 4), (3, 4), nc=(0,))],
         gen=lambda rng, shapes: [a + shift for a, shift in zip(distinct(rng, shapes), (0.0, -0.53, 0.44))]),
    Spec("maximum", lambda m, x, y: m.maximum(x, y), BINARY, gen=distinct),
    Spec("minimum", lambda m, x, y: m.minimum(x, y), BINARY, gen=distinct),
    Spec("maximum[ties]", lambda m, x, y: m.maximum(x, y), [case((3, 4), (3, 4)), case((3, 4), (4,))], gen=ties,
         gradcheck=False, reason="ties are kinks (no finite difference); torch checks the gradient is split in half"),
    Spec("minimum[ties]", lambda m, x, y: m.minimum(x, y), [case((3, 4), (3, 4))], gen=ties,
         gradcheck=False, reason="ties are kinks (no finite difference); torch checks the gradient is split in half"),
    Spec("relu[at_zero]", lambda m, x: x.relu(), [case((3, 4))], gen=at_kinks(0.0), gradcheck=False, reason=KINK),
    Spec("abs[at_zero]", lambda m, x: x.abs(), [case((3, 4))], gen=at_kinks(0.0), gradcheck=False, reason=KINK),
    Spec("leaky_relu[at_zero]", lambda m, x: m.F.leaky_relu(x, 0.2), [case((3, 4))], gen=at_kinks(0.0),
         gradcheck=False, reason=KINK),
    Spec("elu[at_zero]", lambda m, x: m.F.elu(x, alpha=1.5), [case((3, 4))], gen=at_kinks(0.0), gradcheck=False,
         reason=KINK),
    Spec("clamp[at_bounds]", lambda m, x: x.clamp(-0.5, 0.5), [case((3, 4))], gen=at_kinks(-0.5, 0.5),
         gradcheck=False, reason=KINK),
    Spec("l1_loss[equal]", lambda m, x, y: m.F.l1_loss(x, y, reduction="sum"), [case((3, 4), (3, 4))],
         gen=half_equal,
         gradcheck=False, reason=KINK),
    Spec("where", lambda m, x, y: m.where(m.extra.cond, x, y), BINARY,
         extras=lambda rng, shapes: {"cond": rng.random(np.broadcast_shapes(*shapes)) < 0.5}),
    Spec("where[cond_broadcast]", lambda m, x, y: m.where(m.extra.cond, x, y), [case((2, 3), (2, 1)),
                                                                                case((2, 1), (1, 3))],
         extras=lambda rng, shapes: {"cond": np.array([True, False, True])}),
    Spec("where[scalar]", lambda m, x: m.where(m.extra.cond, x, 0.0), [case((3, 4)), case((3, 4), nc=(0,))],
         extras=lambda rng, shapes: {"cond": rng.random(shapes[0]) < 0.5}),
)

# ----- reductions ---------------------------------------------------------------------------------------------------
register(
    Spec("sum", lambda m, x: x.sum(), REDUCE + [case(()), case((5,), nc=(0,))]),
    Spec("sum[dim]", lambda m, x: x.sum(dim=1), REDUCE),
    Spec("sum[dim0]", lambda m, x: x.sum(dim=0), [case(()), case((4,))]),
    Spec("sum[dim,keepdim]", lambda m, x: x.sum(dim=-1, keepdim=True), REDUCE),
    Spec("sum[tuple]", lambda m, x: x.sum(dim=(0, 2)), REDUCE_3D),
    Spec("sum[tuple,keepdim]", lambda m, x: m.sum(x, dim=(0, -1), keepdim=True), REDUCE_3D),
    Spec("mean", lambda m, x: x.mean(), REDUCE + [case(())]),
    Spec("mean[dim]", lambda m, x: x.mean(dim=0), REDUCE),
    Spec("mean[tuple,keepdim]", lambda m, x: x.mean(dim=(0, 2), keepdim=True), REDUCE_3D),
    Spec("var", lambda m, x: x.var(), REDUCE),
    Spec("var[dim]", lambda m, x: x.var(dim=1), REDUCE[:3]),
    Spec("var[unbiased=False]", lambda m, x: x.var(dim=1, unbiased=False), REDUCE),
    Spec("var[tuple,keepdim]", lambda m, x: x.var(dim=(0, 2), keepdim=True), REDUCE_3D[:2] + [case((2, 1, 1))]),
    Spec("var[correction=0]", lambda m, x: x.var(dim=-1, correction=0), REDUCE[:3]),
    Spec("var[0d,correction=0]", lambda m, x: x.var(correction=0), [case(()), case((1,))]),
    Spec("var[correction=2]", lambda m, x: m.var(x, dim=-1, correction=2), REDUCE[:3]),
    Spec("std", lambda m, x: x.std(), REDUCE),
    Spec("std[dim,keepdim]", lambda m, x: x.std(dim=0, keepdim=True), REDUCE[:3]),
    Spec("std[unbiased=False]", lambda m, x: x.std(dim=1, unbiased=False), REDUCE[:3]),
    Spec("std[correction=0,tuple]", lambda m, x: m.std(x, dim=(0, 2), correction=0), REDUCE_3D[:2]),
    Spec("max", lambda m, x: x.max(), REDUCE + [case(()), case((5,), nc=(0,))], gen=distinct),
    Spec("max[dim]", lambda m, x: x.max(dim=1).values, REDUCE, gen=distinct),
    Spec("max[dim0]", lambda m, x: x.max(dim=0).values, [case(()), case((5,))], gen=distinct),
    Spec("max[dim,keepdim]", lambda m, x: m.max(x, dim=0, keepdim=True).values, REDUCE, gen=distinct),
    Spec("max[ties]", lambda m, x: x.max(), [case((3, 4))], gen=ties, gradcheck=False,
         reason="ties are kinks (no finite difference); torch checks the gradient is shared evenly"),
    Spec("min", lambda m, x: x.min(), REDUCE + [case(())], gen=distinct),
    Spec("min[dim]", lambda m, x: x.min(dim=-1).values, REDUCE, gen=distinct),
    Spec("min[dim,keepdim]", lambda m, x: m.min(x, 1, keepdim=True).values, REDUCE, gen=distinct),
    Spec("amax", lambda m, x: x.amax(dim=(0, 2)), REDUCE_3D, gen=distinct),
    Spec("amax[dim,keepdim]", lambda m, x: m.amax(x, dim=1, keepdim=True), REDUCE, gen=distinct),
    Spec("amax[ties]", lambda m, x: x.amax(dim=1), [case((3, 4)), case((2, 3, 4))], gen=ties, gradcheck=False,
         reason="ties are kinks (no finite difference); torch checks the gradient is shared evenly"),
    Spec("amin", lambda m, x: x.amin(dim=(0, 2)), REDUCE_3D, gen=distinct),
    Spec("amin[dim,keepdim]", lambda m, x: m.amin(x, dim=-1, keepdim=True), REDUCE, gen=distinct),
    Spec("amin[ties]", lambda m, x: x.amin(dim=(0, 1)), [case((3, 4))], gen=ties, gradcheck=False,
         reason="ties are kinks (no finite difference); torch checks the gradient is shared evenly"),
    Spec("prod", lambda m, x: x.prod(), REDUCE + [case(()), case((5,), nc=(0,))]),
    Spec("prod[dim]", lambda m, x: x.prod(dim=1), REDUCE),
    Spec("prod[dim,keepdim]", lambda m, x: m.prod(x, 0, keepdim=True), REDUCE),
    Spec("prod[one_zero]", lambda m, x: x.prod(), [case((3, 4))], gen=with_zeros((1, 2))),
    Spec("prod[two_zeros]", lambda m, x: x.prod(), [case((3, 4))], gen=with_zeros((0, 1), (2, 3))),
    Spec("prod[dim,zeros]", lambda m, x: x.prod(dim=1),
         [case((3, 4)), case((3, 4), nc=(0,))], gen=with_zeros((0, 1), (0, 3), (2, 0))),  # row 0: two, row 2: one
    Spec("logsumexp", lambda m, x: x.logsumexp(dim=1), REDUCE),
    Spec("logsumexp[keepdim]", lambda m, x: m.logsumexp(x, dim=0, keepdim=True), REDUCE),
    Spec("logsumexp[tuple]", lambda m, x: m.logsumexp(x, dim=(0, 2)), REDUCE_3D),
    Spec("logsumexp[dim0]", lambda m, x: x.logsumexp(dim=0), [case(()), case((4,)), case((4,), nc=(0,))]),
    Spec("logsumexp[large]", lambda m, x: x.logsumexp(dim=-1), [case((3, 4))], gen=uniform(80.0, 100.0),
         fwd_tol=(1e-5, 1e-6), reason="outputs ~100: float32 spacing there is 7.6e-6, rtol 1e-6 is 1e-4 absolute"),
)

# ----- shapes -------------------------------------------------------------------------------------------------------
register(
    Spec("reshape", lambda m, x: x.reshape(-1), [case((4, 3)), case((2, 3, 2)), case(()), case((3, 4), nc=(0,))]),
    Spec("reshape[2,-1]", lambda m, x: m.reshape(x, (2, -1)), [case((4, 3)), case((2, 3, 2), nc=(0,))]),
    Spec("view", lambda m, x: x.view(-1, 2), [case((4, 3)), case((2, 3, 2))]),
    Spec("view[same]", lambda m, x: x.view(3, 4), [case((3, 4))]),
    Spec("flatten", lambda m, x: x.flatten(), [case((2, 3, 4)), case(()), case((3, 4), nc=(0,))]),
    Spec("flatten[start_dim]", lambda m, x: m.flatten(x, 1), [case((2, 3, 4)), case((2, 3, 4), nc=(0,))]),
    Spec("unflatten", lambda m, x: x.unflatten(1, (2, 3)), [case((4, 6)), case((2, 6, 1)), case((4, 6), nc=(0,))]),
    Spec("unflatten[-1]", lambda m, x: x.unflatten(-1, (2, -1)), [case((3, 4))]),
    Spec("permute", lambda m, x: x.permute(2, 0, 1), [case((2, 3, 4)), case((2, 3, 4), nc=(0,))]),
    Spec("permute[tuple]", lambda m, x: m.permute(x, (1, 0)), [case((3, 4))]),
    Spec("transpose", lambda m, x: x.transpose(0, 1), [case((3, 4)), case((2, 3, 4)), case((3, 4), nc=(0,))]),
    Spec("transpose[neg]", lambda m, x: m.transpose(x, -1, 0), [case((2, 3, 4))]),
    Spec("T", lambda m, x: x.T, [case((3, 4)), case((3, 4), nc=(0,))]),
    Spec("mT", lambda m, x: x.mT, [case((2, 3, 4))]),
    Spec("squeeze", lambda m, x: x.squeeze(), [case((1, 3, 1, 2)), case((1,)), case((2, 3))]),
    Spec("squeeze[dim]", lambda m, x: x.squeeze(1), [case((2, 1, 3)), case((2, 3))]),
    Spec("squeeze[tuple]", lambda m, x: m.squeeze(x, (0, 2)), [case((1, 3, 1, 2))]),
    Spec("unsqueeze", lambda m, x: x.unsqueeze(0), [case((2, 3)), case(()), case((3, 4), nc=(0,))]),
    Spec("unsqueeze[-1]", lambda m, x: m.unsqueeze(x, -1), [case((2, 3)), case((4,))]),
    Spec("unsqueeze[mid]", lambda m, x: x.unsqueeze(1), [case((2, 3))]),
    Spec("expand", lambda m, x: x.expand(2, 3, 4), [case((3, 1)), case((1, 4)), case(()), case((1, 3, 4)),
                                                    case((3, 4), nc=(0,))]),
    Spec("expand[-1]", lambda m, x: x.expand(-1, 4), [case((3, 1))]),
    Spec("repeat", lambda m, x: x.repeat(2, 1, 3), [case((2, 3)), case((3,)), case(()), case((2, 1, 3)),
                                                    case((2, 3), nc=(0,))]),
    Spec("flip", lambda m, x: x.flip((0, 2)), [case((2, 3, 4)), case((2, 3, 4), nc=(0,))]),
    Spec("flip[-1]", lambda m, x: m.flip(x, (-1,)), [case((5,)), case((3, 4), nc=(0,))]),
)

# ----- indexing -----------------------------------------------------------------------------------------------------
INDEXED = [case((4, 3)), case((4, 3), nc=(0,))]
INDEXED_3D = [case((3, 4, 2)), case((3, 4, 2), nc=(0,))]
register(
    Spec("getitem[int]", lambda m, x: x[1], INDEXED),
    Spec("getitem[negative_int]", lambda m, x: x[-1, 2], INDEXED),
    Spec("getitem[slices]", lambda m, x: x[1:3, ::2], INDEXED),
    Spec("getitem[slice_step]", lambda m, x: x[::2], [case((5, 3)), case((7,), nc=(0,))]),
    Spec("getitem[negative_slice]", lambda m, x: x[-3:-1, :-1], INDEXED),
    Spec("getitem[ellipsis]", lambda m, x: x[..., 1], INDEXED + INDEXED_3D),
    Spec("getitem[none]", lambda m, x: x[None, 1:, ..., None], INDEXED + INDEXED_3D),
    Spec("getitem[int_tensor]", lambda m, x: x[m.extra.idx], INDEXED + INDEXED_3D,
         extras=lambda rng, shapes: {"idx": np.array([0, 2, 0, 2, 1])}),  # repeated rows: gradients add up
    Spec("getitem[int_tensor_2d]", lambda m, x: x[m.extra.idx], INDEXED,
         extras=lambda rng, shapes: {"idx": int_index(shapes[0][0], (2, 3))(rng)}),
    Spec("getitem[int_tensor_dim1]", lambda m, x: x[:, m.extra.idx], INDEXED + INDEXED_3D,
         extras=lambda rng, shapes: {"idx": np.array([2, 0, 2])}),
    Spec("getitem[int_tensor_pair]", lambda m, x: x[m.extra.i, m.extra.j], INDEXED + INDEXED_3D,
         extras=lambda rng, shapes: {"i": np.array([0, 2, 0, 1]), "j": np.array([1, 2, 1, 0])}),
    Spec("getitem[int_tensor_split]", lambda m, x: x[m.extra.i, :, m.extra.j], INDEXED_3D,
         extras=lambda rng, shapes: {"i": np.array([2, 0, 2]), "j": np.array([1, 0, 1])}),
    Spec("getitem[int_tensor_0d]", lambda m, x: x[m.extra.i], INDEXED,
         extras=lambda rng, shapes: {"i": np.array(2)}),
    Spec("getitem[list]", lambda m, x: x[[0, 2, 0]], INDEXED),
    Spec("getitem[negative_int_tensor]", lambda m, x: x[m.extra.idx], INDEXED,
         extras=lambda rng, shapes: {"idx": np.array([-1, 0, -1, -4])}),
    Spec("getitem[empty_mask]", lambda m, x: x[m.extra.mask], INDEXED,
         extras=lambda rng, shapes: {"mask": np.zeros(shapes[0], dtype=bool)}),
    Spec("getitem[bool_mask]", lambda m, x: x[m.extra.mask], INDEXED + INDEXED_3D,
         extras=lambda rng, shapes: {"mask": rng.random(shapes[0]) < 0.5}),
    Spec("getitem[bool_rows]", lambda m, x: x[m.extra.mask], INDEXED + INDEXED_3D,
         extras=lambda rng, shapes: {"mask": np.array([True, False, True, False][:shapes[0][0]])}),
    Spec("getitem[bool_and_int]", lambda m, x: x[m.extra.mask, 1], INDEXED_3D,
         extras=lambda rng, shapes: {"mask": np.array([True, False, True])}),
    Spec("setitem[int]", lambda m, x, v: _index_put(m, x, v, 1), [case((4, 3), (3,)), case((4, 3), (), nc=(0,))]),
    Spec("setitem[slice]", lambda m, x, v: _index_put(m, x, v, (slice(1, 3), slice(None, None, 2))),
         [case((4, 3), (2, 2)), case((4, 3), (2,)), case((4, 3), (1, 2), nc=(0,))]),
    Spec("setitem[int_tensor]", lambda m, x, v: _index_put(m, x, v, m.extra.idx),
         [case((4, 3), (2, 3)), case((4, 3), (3,)), case((4, 3), (2, 1), nc=(0,))],
         extras=lambda rng, shapes: {"idx": np.array([3, 1])}),  # distinct: torch leaves repeats undefined
    Spec("setitem[bool_mask]", lambda m, x, v: _index_put(m, x, v, m.extra.mask),
         [case((4, 3), ()), case((4, 3), (1,), nc=(0,))],
         extras=lambda rng, shapes: {"mask": rng.random(shapes[0]) < 0.5}),
    Spec("setitem[ellipsis]", lambda m, x, v: _index_put(m, x, v, (Ellipsis, 0)), [case((3, 4, 2), (4,))]),
)

# ----- joining, splitting, padding, gather/scatter --------------------------------------------------------------------
register(
    Spec("cat", lambda m, x, y: m.cat([x, y], dim=0), [case((2, 3), (4, 3)), case((2, 3), (1, 3), nc=(0,)),
                                                      case((2,), (3,))]),
    Spec("cat[dim1,three]", lambda m, x, y, z: m.cat([x, y, z], dim=1),
         [case((2, 3), (2, 1), (2, 2)), case((2, 3, 2), (2, 1, 2), (2, 2, 2), nc=(1,))]),
    Spec("cat[neg_dim]", lambda m, x, y: m.cat((x, y), -1), [case((2, 3, 2), (2, 3, 1))]),
    Spec("cat[same_input]", lambda m, x: m.cat([x, x * 2, x], dim=1), [case((2, 3))]),
    Spec("cat[empty]", lambda m, x, y: m.cat([x, y]), [case((0, 3), (2, 3))]),
    Spec("stack", lambda m, x, y: m.stack([x, y]), [case((2, 3), (2, 3)), case((), ()), case((3, 4), (3, 4), nc=(1,))]),
    Spec("stack[dim-1]", lambda m, x, y, z: m.stack([x, y, z], dim=-1), [case((2, 3), (2, 3), (2, 3))]),
    Spec("stack[dim1]", lambda m, x, y: m.stack((x, y), 1), [case((2, 3), (2, 3)), case((4,), (4,))]),
    Spec("stack[same_input]", lambda m, x: m.stack([x, x.exp()], dim=-1), [case((2, 3))]),
    Spec("split", lambda m, x: x.split(2, dim=1), [case((3, 5)), case((3, 5), nc=(0,))]),
    Spec("split[sizes]", lambda m, x: m.split(x, [1, 2], dim=0), [case((3, 4)), case((3,))]),
    Spec("chunk", lambda m, x: x.chunk(3, dim=1), [case((2, 5)), case((2, 5), nc=(0,))]),
    Spec("chunk[dim0]", lambda m, x: m.chunk(x, 2), [case((5,)), case((4, 3))]),
    Spec("pad[constant]", lambda m, x: m.F.pad(x, (1, 2), value=0.5), [case((2, 3)), case((4,)),
                                                                       case((2, 3), nc=(0,))]),
    Spec("pad[constant_2d]", lambda m, x: m.F.pad(x, (1, 1, 2, 0), mode="constant"), [case((2, 3, 4))]),
    Spec("pad[reflect]", lambda m, x: m.F.pad(x, (2, 1), mode="reflect"), [case((2, 3, 5)), case((3, 5)),
                                                                          case((3, 5), nc=(0,))]),
    Spec("pad[reflect_2d]", lambda m, x: m.F.pad(x, (1, 2, 2, 1), mode="reflect"), [case((1, 2, 4, 5))]),
    Spec("pad[replicate]", lambda m, x: m.F.pad(x, (2, 3), mode="replicate"), [case((2, 3, 4)),
                                                                              case((2, 3, 4), nc=(0,))]),
    Spec("pad[replicate_2d]", lambda m, x: m.F.pad(x, (1, 2, 2, 1), mode="replicate"), [case((1, 2, 3, 4))]),
    Spec("pad[crop]", lambda m, x: m.F.pad(x, (-1, 2, 1, -2)), [case((2, 4, 5)), case((2, 4, 5), nc=(0,))]),
    Spec("pad[crop_only]", lambda m, x: m.F.pad(x, (-1, -1)), [case((3, 4))]),
    Spec("pad[crop_circular]", lambda m, x: m.F.pad(x, (-1, 2), mode="circular"), [case((2, 2, 6))]),
    Spec("pad[crop_reflect]", lambda m, x: m.F.pad(x, (2, -1, -1, 1), mode="reflect"), [case((1, 2, 4, 5))]),
    Spec("pad[circular]", lambda m, x: m.F.pad(x, (1, 2), mode="circular"), [case((1, 2, 4))]),
    Spec("gather", lambda m, x: x.gather(1, m.extra.idx), [case((3, 5)), case((3, 5), nc=(0,))],
         extras=lambda rng, shapes: {"idx": int_index(5, (3, 4))(rng)}),
    Spec("gather[dim0]", lambda m, x: m.gather(x, 0, m.extra.idx), [case((4, 3))],
         extras=lambda rng, shapes: {"idx": int_index(4, (2, 3))(rng)}),
    Spec("gather[smaller_index]", lambda m, x: x.gather(-1, m.extra.idx), [case((2, 3, 4))],
         extras=lambda rng, shapes: {"idx": int_index(4, (2, 2, 6))(rng)}),
    Spec("scatter_add", lambda m, x, src: x.scatter_add(1, m.extra.idx, src),
         [case((3, 5), (3, 4)), case((3, 5), (3, 4), nc=(0, 1))],
         extras=lambda rng, shapes: {"idx": int_index(5, (3, 4))(rng)}),
    Spec("scatter_add[src_larger]", lambda m, x, src: x.scatter_add(1, m.extra.idx, src),
         [case((3, 5), (3, 6)), case((3, 5), (4, 6), nc=(0, 1))],  # only the index-shaped corner of src is used
         extras=lambda rng, shapes: {"idx": int_index(5, (3, 4))(rng)}, torch=False,
         reason="torch 2.13's own backward fails here (ScatterAddBackward0 returned an invalid gradient)"),
    Spec("scatter_add[dim0]", lambda m, x, src: m.scatter_add(x, 0, m.extra.idx, src), [case((4, 3), (2, 3))],
         extras=lambda rng, shapes: {"idx": int_index(4, (2, 3))(rng)}),
    Spec("index_select", lambda m, x: x.index_select(0, m.extra.idx), INDEXED + INDEXED_3D,
         extras=lambda rng, shapes: {"idx": np.array([2, 0, 2, 1])}),
    Spec("index_select[dim-1]", lambda m, x: m.index_select(x, -1, m.extra.idx), INDEXED,
         extras=lambda rng, shapes: {"idx": np.array([1, 1, 0, 2])}),
    Spec("index_select[0d_index]", lambda m, x: x.index_select(1, m.extra.idx), INDEXED,
         extras=lambda rng, shapes: {"idx": np.array(2)}),
    Spec("masked_fill", lambda m, x: x.masked_fill(m.extra.mask, 0.5), INDEXED + INDEXED_3D,
         extras=lambda rng, shapes: {"mask": rng.random(shapes[0]) < 0.5}),
    Spec("masked_fill[broadcast]", lambda m, x: m.masked_fill(x, m.extra.mask, -2.0), INDEXED,
         extras=lambda rng, shapes: {"mask": np.array([[True, False, True]])}),
    Spec("tril", lambda m, x: x.tril(), MATRIX),
    Spec("tril[1]", lambda m, x: m.tril(x, 1), MATRIX),
    Spec("triu", lambda m, x: x.triu(), MATRIX),
    Spec("triu[-1]", lambda m, x: m.triu(x, diagonal=-1), MATRIX),
)


# ----- nn.functional ------------------------------------------------------------------------------------------------
def _targets(ignore_index=None, weight=False, probabilities=False):
    def extras(rng, shapes):
        out = {"target": class_probabilities(rng, shapes[0]) if probabilities
               else class_targets(rng, shapes[0], ignore_index)}
        if weight:
            out["weight"] = class_weight(rng, shapes[0])
        return out

    return extras


def causal_mask(shape):
    """True above the diagonal of the last two dims (attention's mask): every row keeps at least one entry."""
    return np.broadcast_to(np.triu(np.ones(shape[-2:], dtype=bool), 1), shape).copy()


LOGITS = [case((4, 5)), case((1, 3)), case((5, 4), nc=(0,))]
LOGITS_ND = [case((2, 4, 3)), case((2, 3, 2, 2))]
SOFTMAX = [case((3, 4)), case((2, 3, 4)), case((3, 4), nc=(0,)), case((5,))]
register(
    Spec("softmax", lambda m, x: m.F.softmax(x, dim=1), SOFTMAX[:3] + [case((3, 1))]),
    Spec("softmax[dim0]", lambda m, x: m.F.softmax(x, dim=0), SOFTMAX),
    Spec("softmax[dim-1]", lambda m, x: m.F.softmax(x, -1), SOFTMAX + [case(())]),
    Spec("softmax[method]", lambda m, x: x.softmax(dim=-1), SOFTMAX[:1]),
    Spec("softmax[large]", lambda m, x: m.F.softmax(x, dim=-1), [case((3, 4))], gen=uniform(-500, 500)),
    Spec("softmax[masked_-inf]", lambda m, x: m.F.softmax(x.masked_fill(m.extra.mask, float("-inf")), dim=-1),
         [case((3, 4)), case((2, 3, 4), nc=(0,))], extras=lambda rng, shapes: {"mask": causal_mask(shapes[0])}),
    Spec("logsumexp[masked_-inf]", lambda m, x: x.masked_fill(m.extra.mask, float("-inf")).logsumexp(dim=-1),
         [case((3, 4))], extras=lambda rng, shapes: {"mask": causal_mask(shapes[0])}),
    Spec("log_softmax", lambda m, x: m.F.log_softmax(x, dim=1), SOFTMAX[:3] + [case((3, 1))]),
    Spec("log_softmax[dim0]", lambda m, x: m.F.log_softmax(x, dim=0), SOFTMAX),
    Spec("log_softmax[dim-1]", lambda m, x: m.F.log_softmax(x, -1), SOFTMAX + [case(())]),
    Spec("log_softmax[method]", lambda m, x: x.log_softmax(dim=-1), SOFTMAX[:1]),
    Spec("log_softmax[large]", lambda m, x: m.F.log_softmax(x, dim=-1), [case((3, 4))], gen=uniform(-50, 50),
         fwd_tol=(1e-4, 1e-4), reason="outputs reach -100: float32 rounding of the shifted logits is ~4e-6 each"),
)
for reduction in ("mean", "sum", "none"):
    red = reduction
    register(
        Spec(f"cross_entropy[{red}]", lambda m, x, r=red: m.F.cross_entropy(x, m.extra.target, reduction=r),
             LOGITS + LOGITS_ND, extras=_targets()),
        Spec(f"cross_entropy[weight,{red}]",
             lambda m, x, r=red: m.F.cross_entropy(x, m.extra.target, weight=m.extra.weight, reduction=r),
             LOGITS + LOGITS_ND[:1], extras=_targets(weight=True)),
        Spec(f"cross_entropy[ignore_index,{red}]",
             lambda m, x, r=red: m.F.cross_entropy(x, m.extra.target, reduction=r),
             LOGITS[:1] + LOGITS_ND[:1], extras=_targets(ignore_index=-100)),
        Spec(f"cross_entropy[label_smoothing,{red}]",
             lambda m, x, r=red: m.F.cross_entropy(x, m.extra.target, reduction=r, label_smoothing=0.1),
             LOGITS + LOGITS_ND[:1], extras=_targets()),
        Spec(f"cross_entropy[weight,ignore_index=1,label_smoothing,{red}]",
             lambda m, x, r=red: m.F.cross_entropy(x, m.extra.target, weight=m.extra.weight, ignore_index=1,
                                                   reduction=r, label_smoothing=0.2),
             LOGITS[:1] + LOGITS_ND[:1], extras=_targets(ignore_index=1, weight=True)),
        Spec(f"cross_entropy[probabilities,{red}]",
             lambda m, x, r=red: m.F.cross_entropy(x, m.extra.target, reduction=r),
             LOGITS + LOGITS_ND[:1] + [case((5,))], extras=_targets(probabilities=True)),
        Spec(f"cross_entropy[probabilities,weight,label_smoothing,{red}]",
             lambda m, x, r=red: m.F.cross_entropy(x, m.extra.target, weight=m.extra.weight, reduction=r,
                                                   label_smoothing=0.15),
             LOGITS[:1] + LOGITS_ND[:1], extras=_targets(weight=True, probabilities=True)),
        Spec(f"nll_loss[{red}]", lambda m, x, r=red: m.F.nll_loss(x, m.extra.target, reduction=r),
             LOGITS + LOGITS_ND, extras=_targets()),
        Spec(f"nll_loss[weight,ignore_index,{red}]",
             lambda m, x, r=red: m.F.nll_loss(x, m.extra.target, weight=m.extra.weight, ignore_index=2, reduction=r),
             LOGITS[:1] + LOGITS_ND[:1], extras=_targets(ignore_index=2, weight=True)),
        Spec(f"mse_loss[{red}]", lambda m, x, y, r=red: m.F.mse_loss(x, y, reduction=r),
             [case((3, 4), (3, 4)), case((5,), (5,)), case((), ()), case((3, 4), (3, 4), nc=(0, 1))]),
        Spec(f"l1_loss[{red}]", lambda m, x, y, r=red: m.F.l1_loss(x, y, reduction=r),
             [case((3, 4), (3, 4)), case((5,), (5,)), case((3, 4), (3, 4), nc=(1,))], gen=l1_pair),
        Spec(f"binary_cross_entropy[{red}]",
             lambda m, x, r=red: m.F.binary_cross_entropy(x, m.extra.target, reduction=r),
             [case((3, 4)), case((5,)), case((3, 4), nc=(0,))], gen=probability,
             extras=lambda rng, shapes: {"target": rng.uniform(0, 1, shapes[0])}),
        Spec(f"binary_cross_entropy[weight,{red}]",
             lambda m, x, r=red: m.F.binary_cross_entropy(x, m.extra.target, weight=m.extra.weight, reduction=r),
             [case((3, 4))], gen=probability,
             extras=lambda rng, shapes: {"target": (rng.random(shapes[0]) < 0.5).astype(float),
                                         "weight": rng.uniform(0.5, 2.0, shapes[0][-1:])}),
        Spec(f"binary_cross_entropy_with_logits[{red}]",
             lambda m, x, r=red: m.F.binary_cross_entropy_with_logits(x, m.extra.target, reduction=r),
             [case((3, 4)), case((5,)), case((3, 4), nc=(0,))], gen=uniform(-4, 4),
             extras=lambda rng, shapes: {"target": rng.uniform(0, 1, shapes[0])}),
        Spec(f"binary_cross_entropy_with_logits[weight,pos_weight,{red}]",
             lambda m, x, r=red: m.F.binary_cross_entropy_with_logits(
                 x, m.extra.target, weight=m.extra.weight, pos_weight=m.extra.pos_weight, reduction=r),
             [case((3, 4)), case((3, 4), nc=(0,))], gen=uniform(-4, 4),
             extras=lambda rng, shapes: {"target": (rng.random(shapes[0]) < 0.5).astype(float),
                                         "weight": rng.uniform(0.5, 2.0, shapes[0]),
                                         "pos_weight": rng.uniform(0.5, 3.0, shapes[0][-1:])}),
    )
register(
    Spec("cross_entropy[large_logits]", lambda m, x: m.F.cross_entropy(x, m.extra.target, reduction="sum"),
         [case((4, 5))], gen=uniform(-1000.0, 1000.0), extras=_targets(),
         fwd_tol=(1e-3, 1e-4), reason="losses reach ~2000: float32 rounding of the logits alone is ~1e-4 there"),
    Spec("binary_cross_entropy_with_logits[large_logits]",
         lambda m, x: m.F.binary_cross_entropy_with_logits(x, m.extra.target, reduction="none"),
         [case((3, 4))], gen=uniform(-200.0, 200.0),
         extras=lambda rng, shapes: {"target": (rng.random(shapes[0]) < 0.5).astype(float)}),
    Spec("softplus[large]", lambda m, x: m.F.softplus(x), [case((4, 5))], gen=uniform(-40.0, 40.0)),
    Spec("cross_entropy[unbatched]", lambda m, x: m.F.cross_entropy(x, m.extra.target), [case((5,))],
         extras=_targets()),
    Spec("cross_entropy[composite]", lambda m, x: m.F.nll_loss(m.F.log_softmax(x, dim=1), m.extra.target),
         LOGITS, extras=_targets()),
    Spec("binary_cross_entropy[target_grad]", lambda m, x, y: m.F.binary_cross_entropy(x, y),
         [case((3, 4), (3, 4)), case((5,), (5,), nc=(0, 1))], gen=probability),
    Spec("binary_cross_entropy_with_logits[target_grad]",
         lambda m, x, y: m.F.binary_cross_entropy_with_logits(x, y, pos_weight=m.extra.pos_weight),
         [case((3, 4), (3, 4)), case((3, 4), (3, 4), nc=(1,))], gen=per_input(uniform(-4, 4), probability),
         extras=lambda rng, shapes: {"pos_weight": rng.uniform(0.5, 3.0, shapes[0][-1:])}),
    Spec("linear", lambda m, x, w, b: m.F.linear(x, w, b),
         [case((3, 4), (5, 4), (5,)), case((2, 3, 4), (5, 4), (5,)), case((4,), (5, 4), (5,)),
          case((3, 4), (5, 4), (5,), nc=(0, 1, 2))]),
    Spec("linear[no_bias]", lambda m, x, w: m.F.linear(x, w),
         [case((3, 4), (5, 4)), case((2, 3, 4), (2, 4)), case((3, 4), (5, 4), nc=(1,))]),
    Spec("dropout[p=0]", lambda m, x: m.F.dropout(x, p=0.0), [case((3, 4)), case((3, 4), nc=(0,))]),
    Spec("dropout[eval]", lambda m, x: m.F.dropout(x, p=0.5, training=False), [case((3, 4)), case(())]),
)

# ----- normalisation and embedding (fused ops) ----------------------------------------------------------------------
def running_stats(rng, shapes):
    """Running mean and (positive) running variance for the channel dim 1 of the first input."""
    channels = shapes[0][1]
    return {"mean": rng.standard_normal(channels), "var": rng.uniform(0.5, 2.0, channels)}


def _batch_norm_updates(m, x, momentum):
    """The output of a training-mode batch_norm and the running statistics it left behind (no gradient)."""
    out = m.F.batch_norm(x, m.extra.mean, m.extra.var, training=True, momentum=momentum)
    return out, m.extra.mean.clone(), m.extra.var.clone()


# (N, C), (N, C, L) and (N, C, H, W) inputs with their per-channel weight and bias
BN_AFFINE = [case((4, 3), (3,), (3,)), case((3, 2, 4), (2,), (2,)), case((2, 2, 3, 2), (2,), (2,)),
             case((4, 3), (3,), (3,), nc=(0,)), case((3, 2, 4), (2,), (2,), nc=(0, 1))]
BN_PLAIN = [case((4, 3)), case((3, 2, 4)), case((3, 2, 4), nc=(0,))]
RUNNING = "running statistics change in place on every call, so finite differences do not apply; torch checks them"
register(
    Spec("batch_norm[train]", lambda m, x, w, b: m.F.batch_norm(x, m.extra.mean, m.extra.var, w, b, training=True),
         BN_AFFINE, extras=running_stats),
    Spec("batch_norm[train,no_affine]", lambda m, x: m.F.batch_norm(x, m.extra.mean, m.extra.var, training=True),
         BN_PLAIN, extras=running_stats),
    Spec("batch_norm[train,no_running_stats]", lambda m, x, w, b: m.F.batch_norm(x, None, None, w, b, training=True),
         BN_AFFINE[:2]),
    Spec("batch_norm[train,bias_only]",
         lambda m, x, b: m.F.batch_norm(x, m.extra.mean, m.extra.var, bias=b, training=True, eps=0.1),
         [case((4, 3), (3,)), case((3, 2, 4), (2,))], extras=running_stats),
    Spec("batch_norm[train,weight_only]",
         lambda m, x, w: m.F.batch_norm(x, m.extra.mean, m.extra.var, weight=w, training=True),
         [case((4, 3), (3,))], extras=running_stats),
    Spec("batch_norm[eval]", lambda m, x, w, b: m.F.batch_norm(x, m.extra.mean, m.extra.var, w, b),
         BN_AFFINE, extras=running_stats),
    Spec("batch_norm[eval,no_affine]",
         lambda m, x: m.F.batch_norm(x, m.extra.mean, m.extra.var, training=False, eps=1e-3),
         BN_PLAIN, extras=running_stats),
    Spec("batch_norm[running_stats]", lambda m, x: _batch_norm_updates(m, x, 0.1), BN_PLAIN, extras=running_stats,
         gradcheck=False, reason=RUNNING),
    Spec("batch_norm[running_stats,momentum=0.7]", lambda m, x: _batch_norm_updates(m, x, 0.7), BN_PLAIN[:2],
         extras=running_stats, gradcheck=False, reason=RUNNING),
    Spec("layer_norm", lambda m, x, w, b: m.F.layer_norm(x, tuple(w.shape), w, b),
         [case((3, 4), (4,), (4,)), case((2, 3, 4), (4,), (4,)), case((5,), (5,), (5,)),
          case((3, 4), (4,), (4,), nc=(0, 1))]),
    Spec("layer_norm[2d]", lambda m, x, w, b: m.F.layer_norm(x, tuple(w.shape), w, b),
         [case((2, 3, 4), (3, 4), (3, 4)), case((3, 4), (3, 4), (3, 4)), case((2, 3, 4), (3, 4), (3, 4), nc=(0,))]),
    Spec("layer_norm[no_affine]", lambda m, x: m.F.layer_norm(x, (x.shape[-1],)),
         [case((3, 4)), case((2, 3, 4)), case((3, 4), nc=(0,))]),
    Spec("layer_norm[2d,no_affine]", lambda m, x: m.F.layer_norm(x, tuple(x.shape[-2:]), eps=1e-3),
         [case((2, 3, 4)), case((2, 3, 4), nc=(0,))]),
    Spec("layer_norm[weight_only]", lambda m, x, w: m.F.layer_norm(x, tuple(w.shape), weight=w),
         [case((3, 4), (4,)), case((2, 3, 4), (3, 4))]),
    Spec("layer_norm[bias_only]", lambda m, x, b: m.F.layer_norm(x, tuple(b.shape), bias=b), [case((3, 4), (4,))]),
)

EMBEDDING = [case((5, 3)), case((5, 3), nc=(0,))]
PADDING = ("the padding_idx row gets no gradient by design although the output depends on it (torch documents "
           "this): finite differences disagree there; torch checks the row stays zero")
register(
    Spec("embedding", lambda m, w: m.F.embedding(m.extra.idx, w), EMBEDDING + [case((6, 1))],
         extras=lambda rng, shapes: {"idx": int_index(shapes[0][0], (2, 4))(rng)}),  # repeats: gradients add up
    Spec("embedding[1d_index]", lambda m, w: m.F.embedding(m.extra.idx, w), EMBEDDING[:1],
         extras=lambda rng, shapes: {"idx": np.array([4, 0, 4, 4, 2])}),
    Spec("embedding[0d_index]", lambda m, w: m.F.embedding(m.extra.idx, w), EMBEDDING[:1],
         extras=lambda rng, shapes: {"idx": np.array(3)}),
    Spec("embedding[int32_index]", lambda m, w: m.F.embedding(m.extra.idx, w), EMBEDDING[:1],
         extras=lambda rng, shapes: {"idx": np.array([[1, 2], [1, 0]], dtype=np.int32)}),
    # more rows than twice the lookups: the backward sums over the distinct rows only, then places them
    Spec("embedding[big_table]", lambda m, w: m.F.embedding(m.extra.idx, w), [case((12, 2)), case((12, 2), nc=(0,))],
         extras=lambda rng, shapes: {"idx": np.array([[7, 2, 7], [0, 7, 11]])}),
    Spec("embedding[big_table,padding_idx,scale_grad_by_freq]",
         lambda m, w: m.F.embedding(m.extra.idx, w, padding_idx=2, scale_grad_by_freq=True), [case((12, 2))],
         extras=lambda rng, shapes: {"idx": np.array([7, 2, 7, 2, 5])}, gradcheck=False, reason=PADDING),
    Spec("embedding[padding_idx]", lambda m, w: m.F.embedding(m.extra.idx, w, padding_idx=1), EMBEDDING,
         extras=lambda rng, shapes: {"idx": np.array([[1, 2, 1], [0, 1, 4]])}, gradcheck=False, reason=PADDING),
    Spec("embedding[padding_idx=-1]", lambda m, w: m.F.embedding(m.extra.idx, w, padding_idx=-1), EMBEDDING[:1],
         extras=lambda rng, shapes: {"idx": np.array([[4, 2, 4], [0, 4, 2]])}, gradcheck=False, reason=PADDING),
    # the same lookups with the padding positions masked out of the output: now finite differences apply
    Spec("embedding[padding_idx,masked]", lambda m, w: m.F.embedding(m.extra.idx, w, padding_idx=1) * m.extra.keep,
         EMBEDDING, extras=lambda rng, shapes: {"idx": np.array([[1, 2, 1], [0, 1, 4]]),
                                                "keep": np.array([[0.0, 1, 0], [1, 0, 1]])[..., None]}),
    Spec("embedding[scale_grad_by_freq]", lambda m, w: m.F.embedding(m.extra.idx, w, scale_grad_by_freq=True),
         EMBEDDING, extras=lambda rng, shapes: {"idx": np.array([[1, 2, 1], [0, 1, 4]])}, gradcheck=False,
         reason="scale_grad_by_freq divides each row's gradient by its index count: by design not the derivative"),
    Spec("embedding[max_norm]", lambda m, w: m.F.embedding(m.extra.idx, w * 1.0, max_norm=1.0),
         EMBEDDING, extras=lambda rng, shapes: {"idx": np.array([[1, 2, 1], [0, 1, 4]])}, gradcheck=False,
         reason="max_norm renormalises weight rows in place and without gradient (as torch), so finite "
                "differences see a renormalisation that backward deliberately ignores"),
    Spec("embedding[max_norm,norm_type=1]",
         lambda m, w: m.F.embedding(m.extra.idx, w * 1.0, max_norm=1.5, norm_type=1.0),
         EMBEDDING[:1], extras=lambda rng, shapes: {"idx": np.array([3, 1, 3])}, gradcheck=False,
         reason="max_norm renormalises weight rows in place and without gradient (as torch)"),
)


def log_probabilities(rng, shapes):
    """Rows of log-probabilities along the last dim (kl_div's input)."""
    out = []
    for s in shapes:
        x = rng.standard_normal(s)
        out.append(x - np.log(np.exp(x).sum(axis=-1, keepdims=True)))
    return out


def _kl_div(m, x, target, **kwargs):
    """F.kl_div without torch's warning that reduction='mean' is not the true KL divergence (we test it anyway)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="reduction: 'mean' divides", category=UserWarning)
        return m.F.kl_div(x, target, **kwargs)


def _kl_targets(log_target, zeros=False):
    def extras(rng, shapes):
        p = np.exp(log_probabilities(rng, shapes[:1])[0])
        if zeros:
            p = np.where(rng.random(shapes[0]) < 0.3, 0.0, p)
        return {"target": np.log(p) if log_target else p}

    return extras


PAIRS = [case((3, 4), (3, 4)), case((5,), (5,)), case((), ()), case((3, 4), (3, 4), nc=(0, 1))]
for reduction in ("mean", "sum", "none"):
    red = reduction
    register(
        Spec(f"smooth_l1_loss[{red}]", lambda m, x, y, r=red: m.F.smooth_l1_loss(x, y, reduction=r), PAIRS,
             gen=per_input(normal, lambda rng, s: [rng.standard_normal(s[0]) * 1.5])),
        Spec(f"smooth_l1_loss[beta=0.3,{red}]", lambda m, x, y, r=red: m.F.smooth_l1_loss(x, y, reduction=r, beta=0.3),
             PAIRS[:2]),
        Spec(f"smooth_l1_loss[beta=0,{red}]", lambda m, x, y, r=red: m.F.smooth_l1_loss(x, y, reduction=r, beta=0.0),
             PAIRS[:2], gen=l1_pair),
        Spec(f"huber_loss[{red}]", lambda m, x, y, r=red: m.F.huber_loss(x, y, reduction=r),
             PAIRS, gen=per_input(normal, lambda rng, s: [rng.standard_normal(s[0]) * 1.5])),
        Spec(f"huber_loss[delta=0.4,{red}]", lambda m, x, y, r=red: m.F.huber_loss(x, y, reduction=r, delta=0.4),
             PAIRS[:2]),
        Spec(f"huber_loss[weight,{red}]",
             lambda m, x, y, r=red: m.F.huber_loss(x, y, reduction=r, weight=m.extra.weight), PAIRS[:1],
             extras=lambda rng, shapes: {"weight": rng.uniform(0.5, 2.0, shapes[0])}),
    )
for reduction in ("mean", "sum", "none", "batchmean"):
    red = reduction
    register(
        Spec(f"kl_div[{red}]", lambda m, x, r=red: _kl_div(m, x, m.extra.target, reduction=r),
             [case((3, 4)), case((5,)), case((2, 3, 4), nc=(0,))], gen=log_probabilities, extras=_kl_targets(False)),
        Spec(f"kl_div[log_target,{red}]",
             lambda m, x, r=red: _kl_div(m, x, m.extra.target, reduction=r, log_target=True),
             [case((3, 4)), case((3, 4), nc=(0,))], gen=log_probabilities, extras=_kl_targets(True)),
        Spec(f"kl_div[zero_targets,{red}]", lambda m, x, r=red: _kl_div(m, x, m.extra.target, reduction=r),
             [case((3, 4))], gen=log_probabilities, extras=_kl_targets(False, zeros=True)),
        Spec(f"kl_div[target_grad,{red}]", lambda m, x, t, r=red: _kl_div(m, x, t, reduction=r),
             [case((3, 4), (3, 4)), case((4,), (4,), nc=(0, 1))], gen=per_input(normal, positive)),
        Spec(f"kl_div[log_target,target_grad,{red}]",
             lambda m, x, t, r=red: _kl_div(m, x, t, reduction=r, log_target=True), [case((3, 4), (3, 4))]),
    )


# Ops the tests must cover: the coverage test fails when one of them has no row.
REQUIRED_OPS = """
add sub mul div pow neg rsub rdiv rpow matmul exp log log1p sqrt rsqrt abs sin cos tanh sigmoid relu leaky_relu elu
selu gelu silu softplus clamp maximum minimum where sum mean var std max min amax amin prod logsumexp reshape view
flatten unflatten permute transpose squeeze unsqueeze expand repeat flip getitem setitem cat stack split chunk pad
gather scatter_add index_select masked_fill tril triu softmax log_softmax cross_entropy nll_loss mse_loss l1_loss
binary_cross_entropy binary_cross_entropy_with_logits linear dropout batch_norm layer_norm embedding smooth_l1_loss
huber_loss kl_div
""".split()


# ----- error inputs -------------------------------------------------------------------------------------------------
@dataclass
class ErrorSpec:
    """Calling fn(m) with `m` = glassbox's Lib must raise `exc` with a message matching `match` (re.search).
    torch=True also runs fn with torch's Lib and expects *some* exception: the input really is invalid there;
    torch=False needs a `reason` (glassbox is deliberately stricter)."""

    name: str
    fn: object
    exc: type
    match: str
    torch: bool = True
    reason: str = ""


def _backward_twice(m):
    x = m.ones(3, requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward()
    y.backward()


def _modified_input(m):
    x = m.ones(3, requires_grad=True)
    a = x * 1.0
    b = a * x  # Mul saves `a`
    a.mul_(2)
    b.sum().backward()


def _modified_output(m):
    x = m.ones(3, requires_grad=True)
    y = x.exp()  # Exp saves its output
    y.add_(1)
    y.sum().backward()


def _modified_by_setitem(m):
    x = m.ones(2, 3, requires_grad=True)
    a = x * 1.0
    b = a.sigmoid()
    b[0] = 0.0
    b.sum().backward()


def _leaf_setitem(m):
    x = m.ones(2, 3, requires_grad=True)
    x[0] = 2.0


def _leaf_iadd(m):
    x = m.ones(2, 3, requires_grad=True)
    x += 1


def _inplace_broadcast(m):
    x = m.zeros(3)
    x += m.ones(2, 3)


def _floats(m, *shape):
    return m.ones(shape, dtype=m.float32)


RANGE_2D = r"range.*\[-2, 1\].*got 2"
ERRORS = [
    ErrorSpec("add[not_broadcastable]", lambda m: _floats(m, 2, 3) + _floats(m, 4), gb.ShapeError,
              r"(?i)add.*\(2, 3\).*\(4,\)"),
    ErrorSpec("sub[not_broadcastable]", lambda m: _floats(m, 2, 3) - _floats(m, 2, 2), gb.ShapeError,
              r"(?i)sub.*\(2, 3\).*\(2, 2\)"),
    ErrorSpec("mul[not_broadcastable]", lambda m: m.mul(_floats(m, 3), _floats(m, 4, 2)), gb.ShapeError,
              r"(?i)mul.*\(3,\).*\(4, 2\)"),
    ErrorSpec("maximum[not_broadcastable]", lambda m: m.maximum(_floats(m, 2, 3), _floats(m, 3, 2)), gb.ShapeError,
              r"(?i)maximum.*\(2, 3\).*\(3, 2\)"),
    ErrorSpec("where[not_broadcastable]", lambda m: m.where(m.ones(2, dtype=m.bool), _floats(m, 3), _floats(m, 3)),
              gb.ShapeError, r"(?i)where.*\(2,\).*\(3,\)"),
    ErrorSpec("where[float_condition]", lambda m: m.where(_floats(m, 3), _floats(m, 3), _floats(m, 3)), TypeError,
              "bool"),
    ErrorSpec("matmul[inner_dims]", lambda m: _floats(m, 2, 3) @ _floats(m, 4, 5), gb.ShapeError,
              r"\(2, 3\).*\(4, 5\)"),
    ErrorSpec("matmul[vector_inner_dims]", lambda m: m.matmul(_floats(m, 3), _floats(m, 4)), gb.ShapeError,
              r"\(3,\).*\(4,\)"),
    ErrorSpec("matmul[batch_not_broadcastable]", lambda m: _floats(m, 2, 3, 4) @ _floats(m, 3, 4, 5), gb.ShapeError,
              r"\(2, 3, 4\).*\(3, 4, 5\)"),
    ErrorSpec("matmul[0d]", lambda m: m.matmul(_floats(m), _floats(m, 3)), gb.ShapeError, r"(?i)matmul.*dim"),
    ErrorSpec("sum[dim_range]", lambda m: _floats(m, 2, 3).sum(dim=2), IndexError, RANGE_2D),
    ErrorSpec("mean[dim_range]", lambda m: _floats(m, 2, 3).mean(dim=-3), IndexError, r"range.*\[-2, 1\].*got -3"),
    ErrorSpec("softmax[dim_range]", lambda m: m.F.softmax(_floats(m, 2, 3), dim=2), IndexError, RANGE_2D),
    ErrorSpec("log_softmax[dim_range]", lambda m: m.F.log_softmax(_floats(m, 2, 3), dim=2), IndexError, RANGE_2D),
    ErrorSpec("transpose[dim_range]", lambda m: _floats(m, 2, 3).transpose(0, 2), IndexError, RANGE_2D),
    ErrorSpec("unsqueeze[dim_range]", lambda m: _floats(m, 2, 3).unsqueeze(3), IndexError,
              r"range.*\[-3, 2\].*got 3"),
    ErrorSpec("squeeze[dim_range]", lambda m: _floats(m, 2, 1).squeeze(2), IndexError, RANGE_2D),
    ErrorSpec("max[dim_range]", lambda m: _floats(m, 2, 3).max(dim=2), IndexError, RANGE_2D),
    ErrorSpec("getitem[float_index]", lambda m: _floats(m, 3, 2)[m.tensor([0.0, 1.0])], IndexError,
              r"(?i)long|int"),
    ErrorSpec("getitem[out_of_bounds]", lambda m: _floats(m, 3, 2)[3], IndexError, r"3.*bounds.*size 3"),
    ErrorSpec("gather[float_index]", lambda m: _floats(m, 3, 2).gather(1, m.tensor([[0.0], [1.0], [0.0]])),
              TypeError, r"(?i)gather.*int"),
    ErrorSpec("gather[index_range]", lambda m: _floats(m, 3, 2).gather(1, m.tensor([[0], [2], [0]])), IndexError,
              r"(?i)gather.*2.*bounds", torch=True),
    ErrorSpec("gather[negative_index]", lambda m: _floats(m, 3, 2).gather(1, m.tensor([[0], [-1], [0]])),
              IndexError, r"(?i)gather.*-1.*bounds"),
    ErrorSpec("scatter_add[negative_index]",
              lambda m: _floats(m, 3, 2).scatter_add(1, m.tensor([[0], [-1], [0]]), _floats(m, 3, 1)), IndexError,
              r"(?i)scatter_add.*-1.*bounds"),
    ErrorSpec("index_select[negative_index]", lambda m: _floats(m, 3, 2).index_select(0, m.tensor([-1])),
              IndexError, r"(?i)index_select.*-1"),
    ErrorSpec("scatter_add[float_index]",
              lambda m: _floats(m, 3, 2).scatter_add(1, m.tensor([[0.0], [1.0], [0.0]]), _floats(m, 3, 1)),
              TypeError, r"(?i)scatter_add.*int"),
    ErrorSpec("index_select[float_index]", lambda m: _floats(m, 3, 2).index_select(0, m.tensor([0.0])), TypeError,
              r"(?i)index_select.*int"),
    ErrorSpec("masked_fill[float_mask]", lambda m: _floats(m, 3, 2).masked_fill(_floats(m, 3, 2), 0.0), TypeError,
              r"(?i)masked_fill.*bool"),
    ErrorSpec("masked_fill[mask_shape]", lambda m: _floats(m, 3, 2).masked_fill(m.ones(4, dtype=m.bool), 0.0),
              gb.ShapeError, r"(?i)masked_fill.*\(4,\).*\(3, 2\)"),
    ErrorSpec("cross_entropy[float_target_shape]",
              lambda m: m.F.cross_entropy(_floats(m, 4, 3), m.tensor([0.0, 1.0, 2.0, 1.0])), gb.ShapeError,
              r"(?s)cross_entropy.*\(4, 3\).*\(4,\).*(long|int64|integer)"),
    ErrorSpec("cross_entropy[target_range]", lambda m: m.F.cross_entropy(_floats(m, 4, 3), m.tensor([0, 1, 3, 1])),
              IndexError, r"(?i)cross_entropy.*3.*(bounds|range)"),
    ErrorSpec("cross_entropy[negative_target]",
              lambda m: m.F.cross_entropy(_floats(m, 4, 3), m.tensor([0, -1, 2, 1])), IndexError, r"-1"),
    ErrorSpec("cross_entropy[target_shape]", lambda m: m.F.cross_entropy(_floats(m, 4, 3), m.tensor([0, 1, 2])),
              gb.ShapeError, r"cross_entropy.*\(4, 3\).*\(3,\)"),
    ErrorSpec("cross_entropy[weight_shape]",
              lambda m: m.F.cross_entropy(_floats(m, 4, 3), m.tensor([0, 1, 2, 1]), weight=_floats(m, 4)),
              gb.ShapeError, r"cross_entropy.*weight.*\(4,\)"),
    ErrorSpec("cross_entropy[reduction]",
              lambda m: m.F.cross_entropy(_floats(m, 4, 3), m.tensor([0, 1, 2, 1]), reduction="avg"), ValueError,
              "avg"),
    ErrorSpec("nll_loss[target_range]", lambda m: m.F.nll_loss(_floats(m, 2, 3), m.tensor([0, 5])), IndexError,
              r"(?i)nll_loss.*5"),
    ErrorSpec("nll_loss[float_target]", lambda m: m.F.nll_loss(_floats(m, 2, 3), m.tensor([0.0, 1.0])), TypeError,
              r"nll_loss.*int"),
    ErrorSpec("nll_loss[target_shape]", lambda m: m.F.nll_loss(_floats(m, 2, 3), m.tensor([[0], [1]])),
              gb.ShapeError, r"nll_loss.*\(2, 3\).*\(2, 1\)"),
    ErrorSpec("mse_loss[target_shape]", lambda m: m.F.mse_loss(_floats(m, 4), _floats(m, 4, 1)), gb.ShapeError,
              r"mse_loss.*\(4, 1\).*\(4,\).*broadcast", torch=False,
              reason="torch only warns and broadcasts (4,) against (4, 1): the classic silent bug glassbox refuses"),
    ErrorSpec("l1_loss[target_shape]", lambda m: m.F.l1_loss(_floats(m, 4, 1), _floats(m, 4)), gb.ShapeError,
              r"l1_loss.*broadcast", torch=False, reason="torch only warns and broadcasts"),
    ErrorSpec("binary_cross_entropy[target_shape]",
              lambda m: m.F.binary_cross_entropy(_floats(m, 4) * 0.5, _floats(m, 4, 1)), gb.ShapeError,
              r"binary_cross_entropy.*\(4, 1\).*\(4,\)"),
    ErrorSpec("binary_cross_entropy[not_probabilities]",
              lambda m: m.F.binary_cross_entropy(_floats(m, 4) * 2, _floats(m, 4)), ValueError, r"between 0 and 1"),
    ErrorSpec("binary_cross_entropy_with_logits[target_shape]",
              lambda m: m.F.binary_cross_entropy_with_logits(_floats(m, 4), _floats(m, 4, 1)), gb.ShapeError,
              r"binary_cross_entropy_with_logits.*\(4, 1\).*\(4,\)"),
    ErrorSpec("backward[non_scalar]", lambda m: (_floats(m, 2, 3).requires_grad_() * 2).backward(), RuntimeError,
              r"scalar.*\(2, 3\)"),
    ErrorSpec("backward[no_grad]", lambda m: _floats(m, 2).sum().backward(), RuntimeError, r"does not require grad"),
    ErrorSpec("backward[twice]", _backward_twice, RuntimeError, r"retain_graph"),
    ErrorSpec("reshape[invalid_size]", lambda m: _floats(m, 2, 3).reshape(4, 2), gb.ShapeError,
              r"reshape.*\(4, 2\).*\(2, 3\)"),
    ErrorSpec("reshape[two_inferred]", lambda m: _floats(m, 2, 3).reshape(-1, -1), gb.ShapeError, r"reshape"),
    ErrorSpec("view[invalid_size]", lambda m: _floats(m, 2, 3).view(5), gb.ShapeError, r"\(5,\).*\(2, 3\)"),
    ErrorSpec("view[non_contiguous]", lambda m: _floats(m, 3, 2).T.view(-1), RuntimeError,
              r"(?s)view.*(contiguous|stride).*reshape"),  # view never copies in torch: a silent copy breaks aliasing
    ErrorSpec("unflatten[sizes]", lambda m: _floats(m, 2, 6).unflatten(1, (4, 2)), gb.ShapeError, r"\(4, 2\).*6"),
    ErrorSpec("permute[wrong_count]", lambda m: _floats(m, 2, 3).permute(1, 0, 2), gb.ShapeError, r"permute"),
    ErrorSpec("expand[size]", lambda m: _floats(m, 2, 3).expand(4, 3), gb.ShapeError, r"expand.*\(2, 3\)"),
    ErrorSpec("repeat[too_few]", lambda m: _floats(m, 2, 3).repeat(2), gb.ShapeError, r"repeat"),
    ErrorSpec("cat[shapes]", lambda m: m.cat([_floats(m, 2, 3), _floats(m, 2, 4)], dim=0), gb.ShapeError,
              r"cat.*\(2, 3\).*\(2, 4\)"),
    ErrorSpec("cat[ndim]", lambda m: m.cat([_floats(m, 2, 3), _floats(m, 3)]), gb.ShapeError, r"cat.*\(3,\)"),
    ErrorSpec("stack[shapes]", lambda m: m.stack([_floats(m, 2, 3), _floats(m, 3, 2)]), gb.ShapeError,
              r"stack.*\(2, 3\).*\(3, 2\)"),
    ErrorSpec("split[sizes]", lambda m: _floats(m, 5, 2).split([2, 2]), gb.ShapeError, r"split.*5"),
    ErrorSpec("pad[odd_widths]", lambda m: m.F.pad(_floats(m, 2, 3), (1, 2, 3)), gb.ShapeError, r"pad"),
    ErrorSpec("pad[crop_too_much]", lambda m: m.F.pad(_floats(m, 2, 3), (-2, -2)), gb.ShapeError,
              r"pad: widths \(-2, -2\) on dim 1 of size 3"),
    ErrorSpec("pad[reflect_too_wide]", lambda m: m.F.pad(_floats(m, 1, 2, 3), (3, 0), mode="reflect"),
              gb.ShapeError, r"pad.*3"),
    ErrorSpec("tril[1d]", lambda m: _floats(m, 3).tril(), gb.ShapeError, r"tril.*\(3,\)"),
    ErrorSpec("linear[in_features]", lambda m: m.F.linear(_floats(m, 3, 5), _floats(m, 2, 4)), gb.ShapeError,
              r"linear.*\(3, 5\).*in_features=4"),
    ErrorSpec("linear[unflattened_input]", lambda m: m.F.linear(_floats(m, 2, 1, 4, 4), _floats(m, 3, 16)),
              gb.ShapeError, r"(?s)\(2, 1, 4, 4\).*in_features=16.*flatten"),
    ErrorSpec("dropout[p]", lambda m: m.F.dropout(_floats(m, 3), p=1.5), ValueError, r"1\.5"),
    ErrorSpec("gelu[approximate]", lambda m: m.F.gelu(_floats(m, 3), approximate="fast"), ValueError, "fast"),
    ErrorSpec("inplace[leaf_requires_grad]", lambda m: _floats(m, 3).requires_grad_().add_(1), RuntimeError,
              r"(?i)leaf.*requires grad"),
    ErrorSpec("inplace[leaf_setitem]", _leaf_setitem, RuntimeError, r"(?i)leaf.*requires grad"),
    ErrorSpec("inplace[leaf_iadd]", _leaf_iadd, RuntimeError, r"(?i)leaf.*requires grad"),
    ErrorSpec("inplace[saved_input_modified]", _modified_input, RuntimeError, r"in-place.*version"),
    ErrorSpec("inplace[saved_output_modified]", _modified_output, RuntimeError, r"in-place.*version"),
    ErrorSpec("inplace[setitem_on_saved_output]", _modified_by_setitem, RuntimeError, r"in-place.*version"),
    ErrorSpec("inplace[broadcast_result]", _inplace_broadcast, RuntimeError, r"\(3,\).*\(2, 3\)"),
    ErrorSpec("requires_grad[integer]", lambda m: m.ones(3, dtype=m.int64).requires_grad_(), RuntimeError,
              r"(?i)floating"),
    ErrorSpec("batch_norm[batch_size_1]", lambda m: m.F.batch_norm(_floats(m, 1, 3), None, None, training=True),
              ValueError, r"more than 1 value per channel when training.*\(1, 3\)"),
    ErrorSpec("batch_norm[eval_without_running_stats]", lambda m: m.F.batch_norm(_floats(m, 4, 3), None, None),
              RuntimeError, r"running_mean.*evaluation"),
    ErrorSpec("batch_norm[running_mean_shape]",
              lambda m: m.F.batch_norm(_floats(m, 4, 3), m.zeros(4), m.ones(4), training=True), gb.ShapeError,
              r"batch_norm: running_mean should contain 3 elements.*\(4,\)"),
    ErrorSpec("batch_norm[weight_shape]",
              lambda m: m.F.batch_norm(_floats(m, 4, 3), m.zeros(3), m.ones(3), weight=_floats(m, 4)),
              gb.ShapeError, r"batch_norm: weight.*\(3,\).*\(4,\)"),
    ErrorSpec("batch_norm[momentum_none]",
              lambda m: m.F.batch_norm(_floats(m, 4, 3), m.zeros(3), m.ones(3), training=True, momentum=None),
              TypeError, r"momentum.*float"),
    ErrorSpec("layer_norm[shape]", lambda m: m.F.layer_norm(_floats(m, 2, 3), (4,)), gb.ShapeError,
              r"layer_norm: normalized_shape=\(4,\).*\(\*, 4\).*\(2, 3\)"),
    ErrorSpec("layer_norm[weight_shape]", lambda m: m.F.layer_norm(_floats(m, 2, 4), (4,), weight=_floats(m, 3)),
              gb.ShapeError, r"layer_norm: weight.*\(4,\).*\(3,\)"),
    ErrorSpec("embedding[index_range]", lambda m: m.F.embedding(m.tensor([0, 5]), _floats(m, 5, 2)), IndexError,
              r"embedding: index 5 is out of range.*0\.\.4"),
    ErrorSpec("embedding[negative_index]", lambda m: m.F.embedding(m.tensor([[-1, 0]]), _floats(m, 5, 2)),
              IndexError, r"index -1 is out of range"),
    ErrorSpec("embedding[float_index]", lambda m: m.F.embedding(m.tensor([0.0, 1.0]), _floats(m, 5, 2)), TypeError,
              r"embedding.*integer"),
    ErrorSpec("embedding[padding_idx]", lambda m: m.F.embedding(m.tensor([0]), _floats(m, 5, 2), padding_idx=5),
              ValueError, r"padding_idx=5.*num_embeddings=5"),
    ErrorSpec("embedding[weight_1d]", lambda m: m.F.embedding(m.tensor([0]), _floats(m, 5)), gb.ShapeError,
              r"embedding: weight must be 2-D.*\(5,\)"),
    ErrorSpec("smooth_l1_loss[target_shape]", lambda m: m.F.smooth_l1_loss(_floats(m, 4), _floats(m, 4, 1)),
              gb.ShapeError, r"smooth_l1_loss.*\(4, 1\).*\(4,\).*broadcast", torch=False,
              reason="torch only warns and broadcasts"),
    ErrorSpec("smooth_l1_loss[negative_beta]", lambda m: m.F.smooth_l1_loss(_floats(m, 4), _floats(m, 4), beta=-1.0),
              ValueError, r"beta.*-1"),
    ErrorSpec("huber_loss[target_shape]", lambda m: m.F.huber_loss(_floats(m, 4, 1), _floats(m, 4)),
              gb.ShapeError, r"huber_loss.*\(4,\).*\(4, 1\).*broadcast", torch=False,
              reason="torch only warns and broadcasts"),
    ErrorSpec("huber_loss[delta]", lambda m: m.F.huber_loss(_floats(m, 4), _floats(m, 4), delta=0.0), ValueError,
              r"delta.*positive"),
    ErrorSpec("kl_div[target_shape]", lambda m: m.F.kl_div(_floats(m, 2, 3), _floats(m, 3), reduction="batchmean"),
              gb.ShapeError, r"kl_div.*\(3,\).*\(2, 3\).*broadcast", torch=False,
              reason="torch broadcasts a (3,) target against (2, 3) input without a word"),
    ErrorSpec("kl_div[reduction]", lambda m: m.F.kl_div(_floats(m, 2, 3), _floats(m, 2, 3), reduction="avg"),
              ValueError, r"batchmean.*avg"),
]


# ----- convolution ---------------------------------------------------------------------------------------------------
def _conv_fn(m, name):
    """m.F.conv2d / m.F.conv1d; for glassbox, straight from glassbox.nn.conv until nn.functional exports them."""
    fn = getattr(m.F, name, None)
    if fn is None:
        import glassbox.nn.conv as gconv

        fn = getattr(gconv, name)
    return fn


def _conv_row(name, **kw):
    def fn(m, x, w, b=None):
        with warnings.catch_warnings():  # torch warns that an even kernel with padding='same' makes a padded copy
            warnings.filterwarnings("ignore", message="Using padding='same'")
            return _conv_fn(m, name)(x, w, b, **kw)

    return fn


def _conv2d(**kw):
    return _conv_row("conv2d", **kw)


def _conv1d(**kw):
    return _conv_row("conv1d", **kw)


register(
    Spec("conv2d", _conv2d(), [case((1, 2, 4, 5), (2, 2, 3, 3), (2,)), case((2, 1, 4, 4), (2, 1, 2, 2), (2,)),
                               case((1, 2, 4, 5), (2, 2, 3, 3), (2,), nc=(0, 1)),
                               case((1, 1, 3, 3), (1, 1, 3, 3), (1,))]),
    Spec("conv2d[no_bias]", _conv2d(), [case((2, 2, 3, 3), (3, 2, 2, 2)), case((1, 3, 3, 4), (2, 3, 2, 2), nc=(0,))]),
    Spec("conv2d[stride2_padding1]", _conv2d(stride=2, padding=1), [case((1, 2, 5, 4), (2, 2, 3, 3), (2,)),
                                                                    case((2, 1, 4, 4), (2, 1, 2, 2), (2,))]),
    Spec("conv2d[stride_padding_tuples]", _conv2d(stride=(2, 1), padding=(1, 0)),
         [case((1, 2, 5, 4), (2, 2, 3, 2), (2,))]),
    Spec("conv2d[dilation2]", _conv2d(dilation=2, padding=1), [case((1, 1, 5, 6), (2, 1, 2, 3), (2,)),
                                                               case((2, 1, 4, 4), (2, 1, 2, 2))]),
    Spec("conv2d[groups2]", _conv2d(groups=2), [case((1, 4, 3, 3), (4, 2, 2, 2), (4,)),
                                                case((2, 2, 3, 3), (4, 1, 2, 2), (4,), nc=(1,))]),
    Spec("conv2d[depthwise]", _conv2d(groups=3, padding=1), [case((1, 3, 3, 4), (3, 1, 2, 2), (3,)),
                                                             case((1, 3, 3, 3), (6, 1, 2, 2), (6,))]),
    Spec("conv2d[non_square_kernel]", _conv2d(padding=(0, 1)), [case((1, 2, 4, 5), (2, 2, 1, 3), (2,)),
                                                                case((1, 2, 5, 4), (2, 2, 3, 1), (2,))]),
    Spec("conv2d[1x1]", _conv2d(), [case((2, 2, 3, 3), (3, 2, 1, 1), (3,)), case((1, 4, 3, 3), (2, 4, 1, 1))]),
    Spec("conv2d[same]", _conv2d(padding="same"), [case((1, 2, 4, 4), (2, 2, 3, 3), (2,)),
                                                   case((1, 2, 4, 5), (2, 2, 2, 2), (2,))]),
    Spec("conv2d[same_dilation2]", _conv2d(padding="same", dilation=(2, 1)), [case((1, 2, 4, 5), (2, 2, 2, 3))]),
    Spec("conv2d[valid]", _conv2d(padding="valid"), [case((1, 2, 4, 4), (2, 2, 3, 3), (2,))]),
    Spec("conv2d[unbatched]", _conv2d(padding=1), [case((2, 4, 4), (2, 2, 3, 3), (2,))]),
    Spec("conv2d[everything]", _conv2d(stride=(2, 1), padding=(1, 2), dilation=(2, 1), groups=2),
         [case((1, 2, 5, 4), (2, 1, 2, 2), (2,))]),
    Spec("conv1d", _conv1d(), [case((2, 2, 6), (3, 2, 3), (3,)), case((1, 3, 5), (2, 3, 2), nc=(0,))]),
    Spec("conv1d[stride2_padding1]", _conv1d(stride=2, padding=1), [case((2, 2, 7), (3, 2, 3), (3,))]),
    Spec("conv1d[dilation2_groups2]", _conv1d(dilation=2, groups=2), [case((1, 4, 7), (4, 2, 3), (4,))]),
    Spec("conv1d[same]", _conv1d(padding="same"), [case((2, 2, 6), (3, 2, 4), (3,)), case((2, 2, 5), (2, 2, 3))]),
    Spec("conv1d[unbatched]", _conv1d(), [case((3, 6), (2, 3, 3), (2,))]),
)


# ----- pooling ------------------------------------------------------------------------------------------------------
def _pool(m):
    """The library's pooling functions: nn.functional's, or glassbox.nn.pooling's until functional re-exports them."""
    if hasattr(m.F, "max_pool2d"):
        return m.F
    import glassbox.nn.pooling

    return glassbox.nn.pooling


POOL = [case((1, 2, 4, 5)), case((2, 1, 4, 4)), case((1, 2, 4, 4), nc=(0,)), case((2, 3, 5))]  # the last: unbatched
POOL_ODD = [case((1, 2, 5, 4)), case((2, 1, 5, 3)), case((1, 3, 3, 4), nc=(0,))]
POOL_TILED = [case((2, 1, 4, 4)), case((1, 2, 4, 4), nc=(0,)), case((2, 2, 6))]
register(
    Spec("max_pool2d[tiled]", lambda m, x: _pool(m).max_pool2d(x, 2), POOL_TILED, gen=distinct),
    Spec("max_pool2d[rect_tiled]", lambda m, x: _pool(m).max_pool2d(x, (2, 3)), [case((1, 1, 4, 6))], gen=distinct),
    Spec("max_pool2d[overlap]", lambda m, x: _pool(m).max_pool2d(x, 3, stride=1), POOL, gen=distinct),
    Spec("max_pool2d[stride2,padding]", lambda m, x: _pool(m).max_pool2d(x, 3, stride=2, padding=1), POOL + POOL_ODD,
         gen=distinct),
    Spec("max_pool2d[dilation]", lambda m, x: _pool(m).max_pool2d(x, 2, stride=1, dilation=2, padding=1), POOL,
         gen=distinct),
    Spec("max_pool2d[ceil_mode]", lambda m, x: _pool(m).max_pool2d(x, 2, ceil_mode=True), POOL_ODD, gen=distinct),
    Spec("max_pool2d[ceil_mode,stride,padding]",
         lambda m, x: _pool(m).max_pool2d(x, (3, 2), stride=(2, 3), padding=(1, 1), ceil_mode=True), POOL_ODD,
         gen=distinct),
    Spec("max_pool2d[return_indices]", lambda m, x: _pool(m).max_pool2d(x, 3, 2, 1, return_indices=True)[0],
         POOL_ODD, gen=distinct),
    Spec("max_pool1d", lambda m, x: _pool(m).max_pool1d(x, 2),
         [case((2, 3, 6)), case((3, 6)), case((2, 3, 6), nc=(0,))], gen=distinct),
    Spec("max_pool1d[overlap,padding,dilation,ceil]",
         lambda m, x: _pool(m).max_pool1d(x, 3, stride=2, padding=1, dilation=2, ceil_mode=True),
         [case((2, 2, 7)), case((3, 8))], gen=distinct),
    Spec("avg_pool2d[tiled]", lambda m, x: _pool(m).avg_pool2d(x, 2), POOL_TILED),
    Spec("avg_pool2d[overlap]", lambda m, x: _pool(m).avg_pool2d(x, (3, 2), stride=1), POOL),
    Spec("avg_pool2d[padding]", lambda m, x: _pool(m).avg_pool2d(x, 3, stride=2, padding=1), POOL + POOL_ODD),
    Spec("avg_pool2d[padding,exclude_pad]",
         lambda m, x: _pool(m).avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False), POOL + POOL_ODD),
    Spec("avg_pool2d[ceil_mode]", lambda m, x: _pool(m).avg_pool2d(x, 2, ceil_mode=True), POOL_ODD),
    Spec("avg_pool2d[ceil_mode,padding]", lambda m, x: _pool(m).avg_pool2d(x, 3, 2, 1, ceil_mode=True), POOL_ODD),
    Spec("avg_pool2d[ceil_mode,padding,exclude_pad]",
         lambda m, x: _pool(m).avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False), POOL_ODD),
    Spec("avg_pool2d[divisor_override]", lambda m, x: _pool(m).avg_pool2d(x, 3, 2, 1, divisor_override=4), POOL_ODD),
    Spec("avg_pool2d[tiled,divisor_override]", lambda m, x: _pool(m).avg_pool2d(x, 2, divisor_override=3),
         POOL_TILED[:1]),
    Spec("adaptive_avg_pool2d[divisible]", lambda m, x: _pool(m).adaptive_avg_pool2d(x, 2), POOL_TILED),
    Spec("adaptive_avg_pool2d[non_divisible]", lambda m, x: _pool(m).adaptive_avg_pool2d(x, (3, 2)), POOL + POOL_ODD),
    Spec("adaptive_avg_pool2d[upsample,none]", lambda m, x: _pool(m).adaptive_avg_pool2d(x, (None, 7)), POOL[:2]),
    Spec("adaptive_avg_pool2d[global]", lambda m, x: _pool(m).adaptive_avg_pool2d(x, 1), POOL),
    Spec("adaptive_max_pool2d[divisible]", lambda m, x: _pool(m).adaptive_max_pool2d(x, 2), POOL_TILED, gen=distinct),
    Spec("adaptive_max_pool2d[non_divisible]", lambda m, x: _pool(m).adaptive_max_pool2d(x, (3, 2)), POOL + POOL_ODD,
         gen=distinct),
    Spec("adaptive_max_pool2d[global]", lambda m, x: _pool(m).adaptive_max_pool2d(x, 1), POOL, gen=distinct),
    Spec("adaptive_max_pool2d[return_indices]", lambda m, x: _pool(m).adaptive_max_pool2d(x, (2, 3), True)[0],
         POOL_ODD, gen=distinct),
    Spec("batch_norm[train,4d]",
         lambda m, x, w, b: m.F.batch_norm(x, m.extra.mean, m.extra.var, w, b, training=True),
         [case((2, 3, 2, 3), (3,), (3,)), case((3, 2, 2, 2), (2,), (2,), nc=(0,))], extras=running_stats),
    Spec("batch_norm[eval,4d]", lambda m, x, w, b: m.F.batch_norm(x, m.extra.mean, m.extra.var, w, b),
         [case((2, 3, 2, 3), (3,), (3,)), case((3, 2, 2, 2), (2,), (2,), nc=(0,))], extras=running_stats),
    Spec("batch_norm[running_stats,4d]", lambda m, x: _batch_norm_updates(m, x, 0.1), [case((2, 3, 2, 3))],
         extras=running_stats, gradcheck=False, reason=RUNNING),
)
# ----- end pooling


# ----- group norm ---------------------------------------------------------------------------------------------------
def _gn(m):
    """The library's group_norm: nn.functional's, or glassbox.nn.group_norm's until functional re-exports it."""
    if hasattr(m.F, "group_norm"):
        return m.F
    import glassbox.nn.group_norm

    return glassbox.nn.group_norm


GN_AFFINE = [case((2, 4, 5), (4,), (4,)), case((1, 4, 2, 3), (4,), (4,)), case((2, 4, 2, 2), (4,), (4,), nc=(0,)),
             case((5, 4), (4,), (4,))]
GN_PLAIN = [case((2, 4, 5)), case((1, 4, 2, 3)), case((2, 4, 2, 2), nc=(0,)), case((3, 4, 3))]
register(
    Spec("group_norm[affine,2_groups]", lambda m, x, w, b: _gn(m).group_norm(x, 2, w, b), GN_AFFINE),
    Spec("group_norm[affine,1_group]", lambda m, x, w, b: _gn(m).group_norm(x, 1, w, b), GN_AFFINE[:3]),
    Spec("group_norm[affine,groups_eq_channels]", lambda m, x, w, b: _gn(m).group_norm(x, 4, w, b), GN_AFFINE[:3]),
    Spec("group_norm[no_affine,2_groups]", lambda m, x: _gn(m).group_norm(x, 2), GN_PLAIN),
    Spec("group_norm[no_affine,4_groups,eps]", lambda m, x: _gn(m).group_norm(x, 4, eps=0.1), GN_PLAIN),
    Spec("group_norm[6_channels,3_groups]", lambda m, x, w, b: _gn(m).group_norm(x, 3, w, b),
         [case((2, 6, 3), (6,), (6,)), case((1, 6, 2, 2), (6,), (6,), nc=(0,))]),
    Spec("group_norm[weight_only]", lambda m, x, w: _gn(m).group_norm(x, 2, weight=w), [case((2, 4, 5), (4,))]),
    Spec("group_norm[bias_only]", lambda m, x, b: _gn(m).group_norm(x, 2, bias=b), [case((1, 4, 2, 3), (4,))],
         torch=False, reason="torch 2.13's CPU group_norm backward fails with a bias but no weight ('tensor does not "
                             "have a device'); gradcheck still covers this row"),
)
# ----- end group norm


# ----- transposed convolution and resizing ----------------------------------------------------------------------------
def _f_or(m, name, module):
    """m.F.<name>; for glassbox, straight from glassbox.nn.<module> until nn.functional exports it."""
    fn = getattr(m.F, name, None)
    if fn is None:
        import importlib

        fn = getattr(importlib.import_module(f"glassbox.nn.{module}"), name)
    return fn


def _conv_t(**kw):
    def fn(m, x, w, b=None):
        return _f_or(m, "conv_transpose2d", "conv_transpose")(x, w, b, **kw)

    return fn


def _interp(**kw):
    return lambda m, x: _f_or(m, "interpolate", "upsampling")(x, **kw)


RESIZE_IN = [case((1, 2, 3, 4)), case((2, 1, 3, 3), nc=(0,))]
RESIZE_DOWN = [case((1, 2, 4, 5)), case((2, 1, 4, 4), nc=(0,))]

register(
    Spec("conv_transpose2d", _conv_t(), [case((1, 2, 3, 3), (2, 2, 2, 2), (2,)), case((2, 1, 3, 4), (1, 3, 2, 2), (3,)),
                                         case((1, 2, 3, 3), (2, 2, 2, 2), (2,), nc=(0, 1))]),
    Spec("conv_transpose2d[no_bias]", _conv_t(), [case((2, 2, 3, 3), (2, 3, 2, 2)), case((1, 3, 3, 2), (3, 2, 2, 3))]),
    Spec("conv_transpose2d[stride2]", _conv_t(stride=2), [case((1, 2, 3, 3), (2, 2, 2, 2), (2,)),
                                                         case((1, 1, 3, 4), (1, 2, 3, 3), (2,))]),
    Spec("conv_transpose2d[stride2_padding1_output_padding1]", _conv_t(stride=2, padding=1, output_padding=1),
         [case((1, 2, 3, 3), (2, 2, 3, 3), (2,)), case((2, 1, 2, 3), (1, 2, 3, 3), (2,), nc=(0,))]),
    Spec("conv_transpose2d[tuples]", _conv_t(stride=(2, 1), padding=(1, 0), output_padding=(1, 0)),
         [case((1, 2, 3, 3), (2, 2, 3, 2), (2,))]),
    Spec("conv_transpose2d[groups2]", _conv_t(groups=2), [case((1, 4, 2, 3), (4, 1, 2, 2), (2,)),
                                                         case((1, 2, 3, 3), (2, 2, 2, 2), (4,), nc=(1,))]),
    Spec("conv_transpose2d[dilation2]", _conv_t(dilation=2), [case((1, 2, 3, 3), (2, 2, 2, 2), (2,))]),
    Spec("conv_transpose2d[dilation2_output_padding1]", _conv_t(dilation=2, output_padding=1),
         [case((1, 2, 3, 3), (2, 1, 2, 2), (1,))]),
    Spec("conv_transpose2d[everything]",
         _conv_t(stride=(2, 1), padding=(1, 1), output_padding=(1, 0), dilation=(1, 2), groups=2),
         [case((1, 4, 3, 2), (4, 1, 2, 3), (2,))]),
    Spec("conv_transpose2d[unbatched]", _conv_t(stride=2, padding=1), [case((2, 3, 3), (2, 2, 3, 3), (2,))]),
    Spec("interpolate[nearest,size]", _interp(size=(5, 7)), RESIZE_IN),
    Spec("interpolate[nearest,scale2]", _interp(scale_factor=2), RESIZE_IN),
    Spec("interpolate[nearest,scale1.7]", _interp(scale_factor=1.7), RESIZE_IN),
    Spec("interpolate[nearest,down_size]", _interp(size=(2, 3)), RESIZE_DOWN),
    Spec("interpolate[nearest,down_scale]", _interp(scale_factor=(0.5, 0.6)), RESIZE_DOWN),
    Spec("interpolate[bilinear,size]", _interp(size=(5, 7), mode="bilinear"), RESIZE_IN),
    Spec("interpolate[bilinear,scale2]", _interp(scale_factor=2, mode="bilinear"), RESIZE_IN),
    Spec("interpolate[bilinear,scale1.7]", _interp(scale_factor=(1.7, 2.5), mode="bilinear"), RESIZE_IN),
    Spec("interpolate[bilinear,down_size]", _interp(size=(2, 3), mode="bilinear"), RESIZE_DOWN),
    Spec("interpolate[bilinear,down_scale]", _interp(scale_factor=0.6, mode="bilinear"), RESIZE_DOWN),
    Spec("interpolate[bilinear,align_corners,size]", _interp(size=(5, 7), mode="bilinear", align_corners=True),
         RESIZE_IN),
    Spec("interpolate[bilinear,align_corners,scale2]", _interp(scale_factor=2, mode="bilinear", align_corners=True),
         RESIZE_IN),
    Spec("interpolate[bilinear,align_corners,down]", _interp(size=(3, 1), mode="bilinear", align_corners=True),
         RESIZE_DOWN),
    Spec("interpolate[bilinear,align_corners,down_scale]",
         _interp(scale_factor=0.7, mode="bilinear", align_corners=True), RESIZE_DOWN),
)
# ----- end transposed convolution and resizing
