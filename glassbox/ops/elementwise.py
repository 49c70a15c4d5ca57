"""Elementwise primitives: arithmetic, powers, exp/log, trigonometry, casts, selection."""

import numpy as np

from ..autograd.function import Function


class Add(Function):
    save_inputs = False

    def forward(self, a, b):
        return a + b

    def backward(self, grad):
        # d(a+b)/da = 1, d(a+b)/db = 1
        return grad, grad


class Sub(Function):
    save_inputs = False

    def forward(self, a, b):
        return a - b

    def backward(self, grad):
        # d(a-b)/da = 1, d(a-b)/db = -1
        return grad, (-grad if self.needs_input_grad[1] else None)


class Mul(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, grad):
        # d(ab)/da = b, d(ab)/db = a
        ga = grad * self.b if self.needs_input_grad[0] else None
        gb = grad * self.a if self.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, grad):
        # d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
        ga = grad / self.b if self.needs_input_grad[0] else None
        gb = -grad * self.a / (self.b * self.b) if self.needs_input_grad[1] else None
        return ga, gb


class Pow(Function):
    """a ** b with both sides tensors."""

    save_output = True

    def forward(self, a, b):
        self.a, self.b = a, b
        self.out = np.power(a, b)
        return self.out

    def backward(self, grad):
        ga = gb = None
        if self.needs_input_grad[0]:
            # d(a^b)/da = b a^(b-1); PyTorch defines it as 0 where b == 0 (so 0^0 has no NaN gradient)
            ga = np.where(self.b == 0, 0, grad * self.b * np.power(self.a, self.b - 1))
        if self.needs_input_grad[1]:
            # d(a^b)/db = a^b log(a); 0 where a == 0 and b >= 0, as in PyTorch
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = grad * self.out * np.log(self.a)
            gb = np.where((self.a == 0) & (self.b >= 0), 0, gb)
        return ga, gb


class PowScalar(Function):
    """a ** p for a Python number p (the common case: squares, square roots, reciprocals)."""

    def forward(self, a, exponent):
        self.a, self.exponent = a, exponent
        if exponent == 2:
            return a * a
        return np.power(a, exponent)

    def backward(self, grad):
        # d(a^p)/da = p a^(p-1)
        p = self.exponent
        if p == 0:
            return np.zeros_like(grad)
        if p == 2:
            return grad * 2 * self.a
        return grad * p * np.power(self.a, p - 1)


class RPowScalar(Function):
    """c ** a for a Python number c (e.g. 2 ** x)."""

    save_output = True

    def forward(self, a, base):
        self.base = base
        self.out = np.power(np.asarray(base, dtype=a.dtype), a)
        return self.out

    def backward(self, grad):
        # d(c^a)/da = c^a log(c)
        return grad * self.out * np.log(np.asarray(self.base, dtype=grad.dtype))


class Neg(Function):
    save_inputs = False

    def forward(self, a):
        return -a

    def backward(self, grad):
        return -grad


class Exp(Function):
    save_inputs = False
    save_output = True

    def forward(self, a):
        self.out = np.exp(a)
        return self.out

    def backward(self, grad):
        # d(e^a)/da = e^a
        return grad * self.out


class Log(Function):
    def forward(self, a):
        self.a = a
        return np.log(a)

    def backward(self, grad):
        # d(log a)/da = 1/a
        return grad / self.a


class Log1p(Function):
    def forward(self, a):
        self.a = a
        return np.log1p(a)

    def backward(self, grad):
        # d(log(1+a))/da = 1/(1+a)
        return grad / (1 + self.a)


class Sqrt(Function):
    save_inputs = False
    save_output = True

    def forward(self, a):
        self.out = np.sqrt(a)
        return self.out

    def backward(self, grad):
        # d(sqrt a)/da = 1/(2 sqrt a)
        return grad / (2 * self.out)


class Rsqrt(Function):
    save_inputs = False
    save_output = True

    def forward(self, a):
        self.out = 1 / np.sqrt(a)
        return self.out

    def backward(self, grad):
        # d(a^-1/2)/da = -1/2 a^-3/2
        return grad * -0.5 * self.out * self.out * self.out


class Abs(Function):
    def forward(self, a):
        self.a = a
        return np.abs(a)

    def backward(self, grad):
        # d|a|/da = sign(a), taken as 0 at 0 like PyTorch
        return grad * np.sign(self.a)


class Sin(Function):
    def forward(self, a):
        self.a = a
        return np.sin(a)

    def backward(self, grad):
        return grad * np.cos(self.a)


class Cos(Function):
    def forward(self, a):
        self.a = a
        return np.cos(a)

    def backward(self, grad):
        return -grad * np.sin(self.a)


class Maximum(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return np.maximum(a, b)

    def backward(self, grad):
        # the gradient goes to the larger input; ties split it in half, as in PyTorch
        return _split_by_comparison(grad, self.a, self.b, self.needs_input_grad)


class Minimum(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return np.minimum(a, b)

    def backward(self, grad):
        return _split_by_comparison(grad, self.b, self.a, self.needs_input_grad)


def _split_by_comparison(grad, winner_if_greater, other, needs):
    """Gradients of max(a, b): all to `a` where a > b, all to `b` where b > a, half each on ties."""
    share_a = (winner_if_greater > other) + 0.5 * (winner_if_greater == other)
    share_a = share_a.astype(grad.dtype)
    ga = grad * share_a if needs[0] else None
    gb = grad * (1 - share_a) if needs[1] else None
    return ga, gb


class Clamp(Function):
    def forward(self, a, min=None, max=None):
        self.a, self.min, self.max = a, min, max
        return np.clip(a, min, max)

    def backward(self, grad):
        # gradient 1 inside [min, max] (bounds included, like PyTorch), 0 where the value was clipped
        inside = np.ones(self.a.shape, dtype=bool)
        if self.min is not None:
            inside &= self.a >= self.min
        if self.max is not None:
            inside &= self.a <= self.max
        return grad * inside


class Where(Function):
    """where(condition, a, b); the condition is a boolean array, not differentiated."""

    save_inputs = False

    def forward(self, a, b, condition):
        self.condition = condition
        return np.where(condition, a, b)

    def backward(self, grad):
        zero = np.zeros((), dtype=grad.dtype)
        ga = np.where(self.condition, grad, zero) if self.needs_input_grad[0] else None
        gb = np.where(self.condition, zero, grad) if self.needs_input_grad[1] else None
        return ga, gb


class Cast(Function):
    """Change the dtype; the gradient is cast back to the input's dtype."""

    save_inputs = False

    def forward(self, a, dtype):
        self.input_dtype = a.dtype
        return a.astype(dtype)

    def backward(self, grad):
        return grad.astype(self.input_dtype)


class Clone(Function):
    """A copy that owns its memory; gradient passes through unchanged."""

    save_inputs = False

    def forward(self, a):
        return a.copy()

    def backward(self, grad):
        return grad


class Fill(Function):
    """A tensor of the input's shape filled with one value; it no longer depends on the input (gradient 0)."""

    save_inputs = False

    def forward(self, a, value):
        return np.full_like(a, value)

    def backward(self, grad):
        return np.zeros_like(grad)
