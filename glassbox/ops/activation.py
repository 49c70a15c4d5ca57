"""Activation primitives: tanh, sigmoid, ReLU and its relatives, GELU, SiLU, softplus."""

import math

import numpy as np

from ..autograd.function import Function

_SQRT_2 = math.sqrt(2.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)

_erf_implementation = None


def _erf(x):
    """The error function, elementwise. SciPy's vectorised erf when SciPy is installed (imported on first use, to
    keep `import glassbox` fast); otherwise math.erf per element: the same values, slower."""
    global _erf_implementation
    if _erf_implementation is None:
        try:
            from scipy.special import erf as _erf_implementation
        except ImportError:  # pragma: no cover - depends on the environment
            scalar_erf = np.frompyfunc(math.erf, 1, 1)
            _erf_implementation = lambda v: scalar_erf(v).astype(v.dtype)  # noqa: E731
    return _erf_implementation(x)


def stable_sigmoid(x):
    """1 / (1 + e^-x) without overflow: e^-|x| is at most 1, so neither branch can overflow."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


class Tanh(Function):
    save_inputs = False
    save_output = True

    def forward(self, a):
        self.out = np.tanh(a)
        return self.out

    def backward(self, grad):
        # d(tanh a)/da = 1 - tanh(a)^2
        return grad * (1 - self.out * self.out)


class Sigmoid(Function):
    save_inputs = False
    save_output = True

    def forward(self, a):
        self.out = stable_sigmoid(a)
        return self.out

    def backward(self, grad):
        # d(sigma a)/da = sigma(a) (1 - sigma(a))
        return grad * self.out * (1 - self.out)


class Relu(Function):
    save_inputs = False
    save_output = True

    def forward(self, a):
        self.out = np.maximum(a, 0)
        return self.out

    def backward(self, grad):
        # d(max(a, 0))/da = 1 where a > 0, else 0
        return grad * (self.out > 0)


class LeakyRelu(Function):
    def forward(self, a, negative_slope=0.01):
        self.positive = a > 0
        self.slope = negative_slope
        return np.where(self.positive, a, a * negative_slope)

    def backward(self, grad):
        # slope 1 for a > 0, negative_slope otherwise
        return np.where(self.positive, grad, grad * self.slope)


class Elu(Function):
    """scale * (a if a > 0 else alpha * (exp(input_scale * a) - 1)); SELU is this with fixed constants."""

    def forward(self, a, alpha=1.0, scale=1.0, input_scale=1.0):
        self.positive = a > 0
        self.alpha, self.scale, self.input_scale = alpha, scale, input_scale
        self.negative_part = alpha * np.expm1(np.minimum(a, 0) * input_scale)  # min() keeps expm1 from overflowing
        return scale * np.where(self.positive, a, self.negative_part)

    def backward(self, grad):
        # d/da = scale for a > 0, else scale * input_scale * alpha * exp(input_scale * a)
        negative_slope = self.input_scale * (self.negative_part + self.alpha)
        return grad * self.scale * np.where(self.positive, 1, negative_slope)


class Gelu(Function):
    """x * Phi(x) with Phi the standard normal CDF; approximate='tanh' uses the tanh formula, as in PyTorch."""

    def forward(self, a, approximate="none"):
        self.a, self.approximate = a, approximate
        if approximate == "tanh":
            self.t = np.tanh(_SQRT_2_OVER_PI * (a + 0.044715 * a**3))
            return 0.5 * a * (1 + self.t)
        self.cdf = 0.5 * (1 + _erf(a / _SQRT_2))
        return a * self.cdf

    def backward(self, grad):
        a = self.a
        if self.approximate == "tanh":
            # d/da of 0.5 a (1 + tanh(u)), u = c (a + 0.044715 a^3)
            du = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * a * a)
            return grad * (0.5 * (1 + self.t) + 0.5 * a * (1 - self.t * self.t) * du)
        # d(a Phi(a))/da = Phi(a) + a phi(a)
        pdf = np.exp(-0.5 * a * a) / math.sqrt(2 * math.pi)
        return grad * (self.cdf + a * pdf)


class Silu(Function):
    def forward(self, a):
        self.a = a
        self.s = stable_sigmoid(a)
        return a * self.s

    def backward(self, grad):
        # d(a sigma(a))/da = sigma(a) (1 + a (1 - sigma(a)))
        return grad * self.s * (1 + self.a * (1 - self.s))


class Softplus(Function):
    """log(1 + exp(beta a)) / beta, linear where beta a > threshold (as in PyTorch)."""

    def forward(self, a, beta=1.0, threshold=20.0):
        self.scaled = a * beta
        self.linear = self.scaled > threshold
        return np.where(self.linear, a, np.logaddexp(0, self.scaled) / beta)

    def backward(self, grad):
        # d/da = sigma(beta a), and 1 in the linear region
        return grad * np.where(self.linear, 1, stable_sigmoid(self.scaled))
