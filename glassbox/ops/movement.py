"""Shape and data-movement primitives: reshape, permute, expand, flip, repeat, indexing, concatenation,
padding, gather/scatter, triangular masks. Most forwards are NumPy views; backwards route gradients back."""

import numpy as np

from ..autograd.function import Function


class Reshape(Function):
    save_inputs = False
    is_view = True

    def forward(self, a, shape):
        self.input_shape = a.shape
        return a.reshape(shape)

    def backward(self, grad):
        return grad.reshape(self.input_shape)


class Permute(Function):
    save_inputs = False
    is_view = True

    def forward(self, a, dims):
        self.inverse = tuple(np.argsort(dims))
        return a.transpose(dims)

    def backward(self, grad):
        return grad.transpose(self.inverse)


class Expand(Function):
    """Broadcast to a larger shape without copying; the engine sums the gradient back to the input's shape."""

    save_inputs = False
    is_view = True

    def forward(self, a, shape):
        return np.broadcast_to(a, shape)

    def backward(self, grad):
        return grad


class Flip(Function):
    save_inputs = False
    is_view = True

    def forward(self, a, axes):
        self.axes = axes
        return np.flip(a, axes)

    def backward(self, grad):
        return np.flip(grad, self.axes)


class Repeat(Function):
    """Tile the input `repeats` times along each dimension (torch.Tensor.repeat)."""

    save_inputs = False

    def forward(self, a, repeats):
        self.input_shape = (1,) * (len(repeats) - a.ndim) + a.shape
        self.repeats = repeats
        return np.tile(a.reshape(self.input_shape), repeats)

    def backward(self, grad):
        # view the output as (r0, s0, r1, s1, ...) and sum over every r axis
        interleaved = [n for pair in zip(self.repeats, self.input_shape) for n in pair]
        summed = grad.reshape(interleaved).sum(axis=tuple(range(0, 2 * len(self.repeats), 2)))
        return summed


class GetItem(Function):
    """a[index] for a normalised index (ints, slices, None, Ellipsis, integer or boolean arrays)."""

    save_inputs = False
    is_view = True

    def forward(self, a, index, advanced):
        self.input_shape, self.dtype, self.index, self.advanced = a.shape, a.dtype, index, advanced
        return a[index]

    def backward(self, grad):
        full = np.zeros(self.input_shape, dtype=grad.dtype)
        if self.advanced:
            np.add.at(full, self.index, grad)  # integer arrays may repeat an index: accumulate, don't overwrite
        else:
            full[self.index] = grad
        return full


class IndexPut(Function):
    """The out-of-place form of a[index] = value: a copy of `a` with the indexed part replaced."""

    save_inputs = False

    def forward(self, a, value, index):
        self.index = index
        out = a.copy()
        out[index] = value
        self.value_shape = np.shape(out[index])
        return out

    def backward(self, grad):
        ga = gv = None
        if self.needs_input_grad[0]:
            ga = grad.copy()
            ga[self.index] = 0  # overwritten elements no longer depend on `a`
        if self.needs_input_grad[1]:
            gv = grad[self.index]  # in the indexed shape; the engine reduces it to value's shape
        return ga, gv


class Cat(Function):
    save_inputs = False

    def forward(self, *arrays, axis):
        self.axis = axis
        self.boundaries = np.cumsum([x.shape[axis] for x in arrays])[:-1]
        return np.concatenate(arrays, axis=axis)

    def backward(self, grad):
        return tuple(np.split(grad, self.boundaries, axis=self.axis))


class Stack(Function):
    save_inputs = False

    def forward(self, *arrays, axis):
        self.axis = axis
        return np.stack(arrays, axis=axis)

    def backward(self, grad):
        return tuple(np.take(grad, i, axis=self.axis) for i in range(grad.shape[self.axis]))


class Pad(Function):
    """np.pad with `widths` ((before, after) per axis); modes 'constant', 'reflect', 'replicate', 'circular'."""

    save_inputs = False
    _NUMPY_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}

    def forward(self, a, widths, mode="constant", value=0.0):
        self.input_shape, self.widths, self.mode = a.shape, widths, mode
        if mode == "constant":
            return np.pad(a, widths, mode="constant", constant_values=value)
        return np.pad(a, widths, mode=self._NUMPY_MODES[mode])

    def backward(self, grad):
        if self.mode == "constant":
            inner = tuple(slice(before, before + n) for (before, _), n in zip(self.widths, self.input_shape))
            return grad[inner]
        # reflect/replicate/circular: each output element copies some input element; send its gradient there
        for axis, ((before, after), n) in enumerate(zip(self.widths, self.input_shape)):
            if before == 0 and after == 0:
                continue
            source = np.pad(np.arange(n), (before, after), mode=self._NUMPY_MODES[self.mode])
            moved = np.moveaxis(grad, axis, 0)
            reduced = np.zeros((n,) + moved.shape[1:], dtype=grad.dtype)
            np.add.at(reduced, source, moved)
            grad = np.moveaxis(reduced, 0, axis)
        return grad


def _grid_index(index, axis):
    """The full index tuple that picks a[i0, .., index[i], .., ik] for every position i of `index`."""
    grid = list(np.indices(index.shape, sparse=True))
    grid[axis] = index
    return tuple(grid)


class Gather(Function):
    """out[i][j][k] = a[i][index[i][j][k]][k] for axis 1 (torch.gather)."""

    save_inputs = False

    def forward(self, a, index, axis):
        self.input_shape, self.where = a.shape, _grid_index(index, axis)
        return a[self.where]

    def backward(self, grad):
        full = np.zeros(self.input_shape, dtype=grad.dtype)
        np.add.at(full, self.where, grad)
        return full


class ScatterAdd(Function):
    """out = a copy of `a` with src[i][j][k] added at a[i][index[i][j][k]][k] (axis 1; torch.scatter_add)."""

    save_inputs = False

    def forward(self, a, src, index, axis):
        self.where = _grid_index(index, axis)
        self.src_shape = src.shape
        self.src_part = tuple(slice(0, n) for n in index.shape)  # only the index-shaped corner of src is used
        out = a.copy()
        np.add.at(out, self.where, src[self.src_part])
        return out

    def backward(self, grad):
        gsrc = None
        if self.needs_input_grad[1]:
            gsrc = np.zeros(self.src_shape, dtype=grad.dtype)
            gsrc[self.src_part] = grad[self.where]
        return grad, gsrc


class IndexSelect(Function):
    save_inputs = False

    def forward(self, a, index, axis):
        self.input_shape, self.index, self.axis = a.shape, index, axis
        return np.take(a, index, axis=axis)

    def backward(self, grad):
        full = np.zeros(self.input_shape, dtype=grad.dtype)
        np.add.at(np.moveaxis(full, self.axis, 0), self.index, np.moveaxis(grad, self.axis, 0))
        return full


class Tril(Function):
    save_inputs = False

    def forward(self, a, diagonal=0):
        self.diagonal = diagonal
        return np.tril(a, diagonal)

    def backward(self, grad):
        return np.tril(grad, self.diagonal)


class Triu(Function):
    save_inputs = False

    def forward(self, a, diagonal=0):
        self.diagonal = diagonal
        return np.triu(a, diagonal)

    def backward(self, grad):
        return np.triu(grad, self.diagonal)
