"""Rosenblatt's perceptron (1958): a linear threshold unit trained by its mistake-driven rule, in plain NumPy."""

from typing import NamedTuple

import numpy as np

from ..errors import ShapeError
from ..random import Generator


class PerceptronFit(NamedTuple):
    """What Perceptron.fit did: `updates` made in this call, whether it `converged` (its last epoch made no
    mistake), and the number of `epochs` it ran."""

    updates: int
    converged: bool
    epochs: int


class Perceptron:
    """A perceptron on `n_features` inputs: score(x) = weight . x + bias, class +1 if score > 0 else -1.

    Training is Rosenblatt's 1958 rule, not gradient descent: examples are visited one at a time and only a
    misclassified one (y * score(x) <= 0, labels y in {-1, +1}) changes the unit,
        weight <- weight + learning_rate * y * x,   bias <- bias + learning_rate * y.
    On linearly separable data it stops after at most (R / gamma)^2 updates (Novikoff 1962), where R bounds the
    norm of (x, 1) and gamma is the margin of a unit-norm separating (weight, bias); on data that no line (plane)
    separates, such as XOR, it never stops.

    Attributes: weight (n_features,) float64, bias (float), updates (int, all updates so far),
    updates_per_epoch (list of int, one entry per epoch trained so far).
    """

    def __init__(self, n_features, learning_rate=1.0):
        if not isinstance(n_features, (int, np.integer)) or isinstance(n_features, bool) or n_features < 1:
            raise ValueError(f"Perceptron: n_features must be a positive int, got {n_features!r}")
        if not np.isfinite(learning_rate) or learning_rate <= 0:
            raise ValueError(f"Perceptron: learning_rate must be a positive number, got {learning_rate!r}")
        self.n_features = int(n_features)
        self.learning_rate = float(learning_rate)
        # Starting at zero (not at random) is the classic choice; with it the learning rate only rescales the
        # weights and never changes which examples are mistakes.
        self.weight = np.zeros(self.n_features)
        self.bias = 0.0
        self.updates = 0
        self.updates_per_epoch = []

    def __repr__(self):
        return f"Perceptron(n_features={self.n_features}, learning_rate={self.learning_rate})"

    # ----- inference ------------------------------------------------------------------------------------------------
    def _inputs(self, x, what):
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ShapeError(f"Perceptron.{what}: expected inputs of shape (N, {self.n_features}), got {x.shape}")
        return x

    def decision_function(self, x):
        """x (N, n_features) -> scores (N,) float64: weight . x + bias (its sign is the class)."""
        return self._inputs(x, "decision_function") @ self.weight + self.bias

    def predict(self, x):
        """x (N, n_features) -> classes (N,) int64 in {-1, +1}; a score of exactly 0 counts as -1."""
        score = self._inputs(x, "predict") @ self.weight + self.bias
        return np.where(score > 0, 1, -1).astype(np.int64)

    # ----- the learning rule ------------------------------------------------------------------------------------
    def _labels(self, y, n, what):
        y = np.asarray(y)
        if y.shape != (n,):
            raise ShapeError(f"Perceptron.{what}: expected labels of shape ({n},), got {y.shape}")
        if not np.all((y == 1) | (y == -1)):
            raise ValueError(f"Perceptron.{what}: labels must be -1 or +1, got values {np.unique(y)[:10].tolist()}")
        return y.astype(np.float64)

    def train_epoch(self, x, y, order=None, trace=None):
        """One pass over x (N, n_features) with labels y (N,) in {-1, +1}, in `order` (indices, default 0..N-1),
        applying the rule after each mistake; returns the number of updates made in this pass.
        trace: an optional list; each update appends (epoch, example index, weight copy, bias) to it, epoch
        counting from 1 over all epochs this perceptron has trained."""
        x = self._inputs(x, "train_epoch")
        y = self._labels(y, len(x), "train_epoch")
        order = range(len(x)) if order is None else order
        epoch = len(self.updates_per_epoch) + 1
        made = 0
        # One example at a time is the rule itself: each update changes the scores of all later examples.
        for i in order:
            if y[i] * (x[i] @ self.weight + self.bias) <= 0:
                self.weight += self.learning_rate * y[i] * x[i]
                self.bias += self.learning_rate * y[i]
                made += 1
                if trace is not None:
                    trace.append((epoch, int(i), self.weight.copy(), float(self.bias)))
        self.updates += made
        self.updates_per_epoch.append(made)
        return made

    def fit(self, x, y, max_epochs=1000, rng=None, trace=None):
        """Run epochs over x (N, n_features), y (N,) in {-1, +1} until one makes no mistake (converged) or
        `max_epochs` have run. Continues from the current weight and bias (a new Perceptron starts at zero).
        rng: None visits the examples in their given order every epoch; a np.random.Generator or a
        glassbox.random.Generator visits them in a fresh random order each epoch. trace: as in train_epoch.
        Returns PerceptronFit(updates, converged, epochs)."""
        x = self._inputs(x, "fit")
        y = self._labels(y, len(x), "fit")
        if not isinstance(max_epochs, (int, np.integer)) or max_epochs < 1:
            raise ValueError(f"Perceptron.fit: max_epochs must be a positive int, got {max_epochs!r}")
        if isinstance(rng, Generator):
            rng = rng.numpy
        elif rng is not None and not isinstance(rng, np.random.Generator):
            raise TypeError(f"Perceptron.fit: rng must be None, a numpy or a glassbox Generator, got "
                            f"{type(rng).__name__}")
        total = 0
        for epoch in range(1, max_epochs + 1):
            order = None if rng is None else rng.permutation(len(x))
            made = self.train_epoch(x, y, order, trace)
            total += made
            if made == 0:
                return PerceptronFit(total, True, epoch)
        return PerceptronFit(total, False, max_epochs)

    def state_dict(self):
        """{'weight': (1, n_features), 'bias': (1,)} float64 arrays: the shapes of nn.Linear(n_features, 1)."""
        return {"weight": self.weight[None, :].copy(), "bias": np.array([self.bias])}
