"""Embedding lookup: rows of a weight matrix picked by integer indices, with a scatter-add backward."""

import numpy as np

from ..autograd.function import Function


class Embedding(Function):
    """weight (V, D) and int indices of any shape (*) -> weight[indices], shape (*, D).

    Fused because the general indexing op's backward is an np.add.at over a V x D zero array; here the scatter-add
    is one np.bincount over flattened (row, column) positions, which is several times faster for typical sizes.
    Rows at padding_idx get no gradient; scale_grad_by_freq divides each row's gradient by how often its index
    occurs in the batch (both as in PyTorch).
    """

    save_inputs = False  # backward needs only the weight's shape, never its values

    def forward(self, weight, indices, padding_idx=None, scale_grad_by_freq=False):
        self.indices, self.weight_shape = indices, weight.shape
        self.padding_idx, self.scale_grad_by_freq = padding_idx, scale_grad_by_freq
        return np.take(weight, indices, axis=0)

    def backward(self, grad):
        # d out[i, j] / d weight[k, j] = 1 if indices[i] == k: each weight row gets the sum of the output
        # gradient rows that looked it up.
        rows, dim = self.weight_shape
        flat = self.indices.reshape(-1)
        grad = grad.reshape(-1, dim)
        if self.scale_grad_by_freq:
            counts = np.bincount(flat, minlength=rows)
            grad = grad / counts[flat, None]
        looked_up = None
        if rows > 2 * flat.size:
            # A big table and a small batch: sum over the distinct rows only, then place them in the zero gradient.
            looked_up, flat = np.unique(flat, return_inverse=True)
        table = rows if looked_up is None else looked_up.size
        # position (row, column) -> row * dim + column: one bincount sums every element into its place.
        positions = (flat[:, None] * dim + np.arange(dim)).reshape(-1)
        sums = np.bincount(positions, weights=grad.reshape(-1), minlength=table * dim).reshape(table, dim)
        if looked_up is None:
            result = sums.astype(grad.dtype, copy=False)
        else:
            result = np.zeros(self.weight_shape, dtype=grad.dtype)
            result[looked_up] = sums
        if self.padding_idx is not None:
            result[self.padding_idx] = 0
        return result
