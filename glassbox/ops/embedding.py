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


def _row_sums(index, rows, shape):
    """A zero array of `shape` (V, D) with each row of `rows` (K, D) added at row index[k]; repeats add up.

    One np.bincount over flattened (row, column) positions; with a big table and few rows it sums over the distinct
    rows only and places them, so the cost follows K, not V.
    """
    table, dim = shape
    looked_up = None
    if table > 2 * index.size:
        looked_up, index = np.unique(index, return_inverse=True)
        table = looked_up.size
    positions = (index[:, None] * dim + np.arange(dim)).reshape(-1)
    sums = np.bincount(positions, weights=rows.reshape(-1), minlength=table * dim).reshape(table, dim)
    if looked_up is None:
        return sums.astype(rows.dtype, copy=False)
    result = np.zeros(shape, dtype=rows.dtype)
    result[looked_up] = sums
    return result


class EmbeddingBag(Function):
    """weight (V, D), optional per_sample_weights (K,), flat int indices (K,) and bag bounds (B + 1,) -> (B, D):
    bag b reduces (sum, mean or max over each column) the rows weight[indices[bounds[b]:bounds[b + 1]]], each scaled
    by its per-sample weight (sum only). Entries equal to padding_idx are left out (and not counted by the mean);
    a bag with nothing left is zeros. Entries past bounds[-1] are ignored.

    Fused so that no Python loop runs over bags and backward keeps only the indices: the bags are contiguous runs
    of entries, so when they all have one size (always for a 2-D input) the looked-up rows reshape to (B, N, D)
    and reduce over axis 1; otherwise np.add.reduceat / np.maximum.reduceat reduce every run at once (~20x slower
    per element than the reshape, but any bag sizes work without padding them to the largest).
    """

    save_inputs = False  # backward reads the weight's values only for per_sample_weights' gradient (subclass below)

    def forward(self, weight, per_sample_weights=None, *, indices, bounds, mode, padding_idx=None,
                scale_grad_by_freq=False):
        num_bags, dim = bounds.size - 1, weight.shape[1]
        end = int(bounds[-1])
        counts = np.diff(bounds)
        index, bag = indices[:end], np.repeat(np.arange(num_bags), counts)
        psw = None if per_sample_weights is None else per_sample_weights[:end]
        self.weight_shape, self.mode, self.argmax, self.kept = weight.shape, mode, None, None
        self.psw_size = None if per_sample_weights is None else per_sample_weights.shape[0]
        # as torch: how often each index occurs in the whole input, padding included
        self.freq = np.bincount(indices, minlength=weight.shape[0]) if scale_grad_by_freq else None
        width = int(counts.max()) if num_bags else 0
        fixed = width > 0 and index.size == num_bags * width
        pad = None
        if padding_idx is not None:
            pad = index == padding_idx
            if not pad.any():
                pad = None
            elif not fixed:  # drop the padding entries: the runs stay contiguous
                self.kept = np.flatnonzero(~pad)
                index, bag = index[self.kept], bag[self.kept]
                psw = None if psw is None else psw[self.kept]
                counts, pad = np.bincount(bag, minlength=num_bags), None
        rows = np.take(weight, index, axis=0)  # (K, D)
        if psw is not None:
            rows *= psw[:, None]
        if pad is not None:  # fixed-size bags keep their shape: padding entries become neutral instead
            counts = counts - np.bincount(bag[pad], minlength=num_bags)
            rows[pad] = -np.inf if mode == "max" else 0
        filled = counts > 0
        if fixed:
            grid = rows.reshape(num_bags, width, dim)
            out = grid.max(axis=1) if mode == "max" else grid.sum(axis=1)
            out[~filled] = 0
            if mode == "max" and self.needs_input_grad[0]:
                # argmax takes the first maximum, as torch; as an entry number: bag * width + slot
                self.argmax = (grid.argmax(axis=1) + (np.arange(num_bags) * width)[:, None])[filled]
        else:
            out = np.zeros((num_bags, dim), dtype=weight.dtype)
            starts = (np.cumsum(counts) - counts)[filled]  # where each non-empty bag's run begins
            if starts.size:
                reduce = np.maximum if mode == "max" else np.add
                out[filled] = reduce.reduceat(rows, starts, axis=0)
                if mode == "max" and self.needs_input_grad[0]:
                    # the first entry reaching its bag's maximum, per column
                    hit = np.where(rows == out[bag], np.arange(index.size)[:, None], index.size)
                    self.argmax = np.minimum.reduceat(hit, starts, axis=0)
        if mode == "mean":
            out[filled] /= counts[filled, None].astype(out.dtype)
        self.index, self.bag, self.counts, self.pad, self.psw, self.filled = index, bag, counts, pad, psw, filled
        if psw is not None and self.needs_input_grad[1]:
            self.weight = weight
        return out

    def backward(self, grad):
        # sum: d out[b] / d weight[i] = (number of times i is in bag b, each times its per-sample weight); mean
        # divides by the bag's count; max routes each column to the row that achieved it.
        grad_weight = grad_psw = None
        dim = self.weight_shape[1]
        if self.needs_input_grad[0]:
            if self.mode == "max":
                if self.argmax is None:  # every bag empty
                    grad_weight = np.zeros(self.weight_shape, dtype=grad.dtype)
                else:
                    positions = (self.index[self.argmax] * dim + np.arange(dim)).reshape(-1)
                    grad_weight = np.bincount(positions, weights=grad[self.filled].reshape(-1),
                                              minlength=self.weight_shape[0] * dim)
                    grad_weight = grad_weight.reshape(self.weight_shape).astype(grad.dtype, copy=False)
            else:
                scale = None
                if self.mode == "mean":
                    scale = 1.0 / np.maximum(self.counts, 1)[self.bag]
                elif self.psw is not None:
                    scale = self.psw
                if self.freq is not None:
                    by_freq = 1.0 / self.freq[self.index]
                    scale = by_freq if scale is None else scale * by_freq
                if self.pad is not None:
                    scale = np.where(self.pad, 0.0, 1.0 if scale is None else scale)
                rows = grad[self.bag]
                if scale is not None:
                    rows *= scale[:, None].astype(grad.dtype, copy=False)
                grad_weight = _row_sums(self.index, rows, self.weight_shape)
        if self.num_inputs == 2 and self.needs_input_grad[1]:
            # d out[b] / d psw[k] = weight[indices[k]] . grad[b] for the bag b that holds entry k
            per_entry = np.einsum("kd,kd->k", grad[self.bag], np.take(self.weight, self.index, axis=0))
            if self.pad is not None:
                per_entry[self.pad] = 0
            grad_psw = np.zeros(self.psw_size, dtype=grad.dtype)
            if self.kept is None:
                grad_psw[:per_entry.size] = per_entry
            else:
                grad_psw[self.kept] = per_entry
        return (grad_weight, grad_psw)[:self.num_inputs]

    @property
    def num_inputs(self):
        return 1 if self.psw_size is None else 2


class WeightedEmbeddingBag(EmbeddingBag):
    """EmbeddingBag with per_sample_weights (mode="sum"): their gradient reads the weight, so guard it."""

    save_inputs = True
