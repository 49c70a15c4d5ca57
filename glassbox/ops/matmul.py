"""Matrix-product primitives: matmul (1-D, 2-D and batched, with broadcasting) and the fused linear layer."""

import numpy as np

from ..autograd.function import Function


class MatMul(Function):
    """a @ b with torch.matmul semantics: 1-D operands get a dimension added (and removed from the result);
    leading batch dimensions broadcast. One BLAS call forward, one per input backward."""

    def forward(self, a, b):
        self.a, self.b = a, b
        if a.ndim > 2 and b.ndim == 2:
            return _rows_matmul(a, b)
        return np.matmul(a, b)

    def backward(self, grad):
        a, b = self.a, self.b
        if a.ndim == 1 and b.ndim == 1:  # a dot product: d(a.b)/da = b, d(a.b)/db = a
            return grad * b, grad * a
        # Work with matrices: a vector a is a row (1, k), a vector b is a column (k, 1).
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        if a.ndim == 1:
            grad = np.expand_dims(grad, -2)
        if b.ndim == 1:
            grad = np.expand_dims(grad, -1)
        ga = gb = None
        if self.needs_input_grad[0]:
            # d(ab)/da: grad @ b^T
            if grad.ndim > 2 and b2.ndim == 2:
                ga = _rows_matmul(grad, b2.T)
            else:
                ga = np.matmul(grad, np.swapaxes(b2, -1, -2))
            if a.ndim == 1:
                ga = np.squeeze(ga, -2)
        if self.needs_input_grad[1]:
            # d(ab)/db: a^T @ grad. With a batched `a` and a 2-D `b`, fold the batch into the rows: one GEMM.
            if a2.ndim > 2 and b2.ndim == 2:
                gb = np.matmul(a2.reshape(-1, a2.shape[-1]).T, grad.reshape(-1, grad.shape[-1]))
            else:
                gb = np.matmul(np.swapaxes(a2, -1, -2), grad)
            if b.ndim == 1:
                gb = np.squeeze(gb, -1)
        return ga, gb


class Linear(Function):
    """x @ weight.T + bias, with weight of shape (out_features, in_features) as in torch.nn.Linear.

    Fused so that the bias add happens in place on the GEMM output and the weight gradient comes out of one GEMM
    already in (out, in) layout: no transposed copies, no extra graph nodes.
    """

    def forward(self, x, weight, bias=None):
        self.x, self.weight = x, weight
        out = _rows_matmul(x, weight.T)
        if bias is not None:
            out += bias
        return out

    def backward(self, grad):
        needs = self.needs_input_grad
        gx = _rows_matmul(grad, self.weight) if needs[0] else None
        gw = gb = None
        if needs[1]:
            x2 = self.x.reshape(-1, self.x.shape[-1])
            gw = np.matmul(grad.reshape(-1, grad.shape[-1]).T, x2)
        if len(needs) > 2 and needs[2]:
            gb = grad.reshape(-1, grad.shape[-1]).sum(axis=0)
        return (gx, gw, gb) if len(needs) > 2 else (gx, gw)


def _rows_matmul(a, b):
    """a (*, k) @ b (k, n) -> (*, n) as one 2-D GEMM over all leading dims folded into rows. NumPy's matmul of a
    stacked `a` by a 2-D `b` does not make one BLAS call of it: measured 25x slower for (64, 100, 256) @ (256, 103).
    The fold copies `a` only when it is not contiguous (e.g. a batch_first view of time-major memory)."""
    if a.ndim <= 2:
        return np.matmul(a, b)
    return np.matmul(a.reshape(-1, a.shape[-1]), b).reshape(*a.shape[:-1], b.shape[-1])
