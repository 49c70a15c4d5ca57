"""BernoulliRBM: a restricted Boltzmann machine with binary visible and hidden units, trained by contrastive divergence
(CD-k) or persistent contrastive divergence (PCD), with SGD + momentum + weight decay; its gradients are NumPy code.

Energy of a joint state (v in {0,1}^V, h in {0,1}^H):  E(v, h) = -v.b - h.c - v W h, with W (V, H).
Free energy:  F(v) = -log sum_h exp(-E(v, h)) = -v.b - sum_j softplus(c_j + (v W)_j), and p(v) = exp(-F(v)) / Z.
Conditionals factorise:  p(h_j = 1 | v) = sigmoid(c_j + (v W)_j),  p(v_i = 1 | h) = sigmoid(b_i + (W h)_i).
The log-likelihood gradient is  <v h^T>_data - <v h^T>_model  (and the same with v or h alone for b and c).
"""

import numpy as np

from .. import nn
from ..errors import ShapeError
from ..random import numpy_generator
from ..tensor import Tensor

MONITOR_EXAMPLES = 300  # examples that fit() monitors when not given a monitoring set


def _sigmoid(x):
    # Computed through tanh: exact to rounding and never overflows for large |x| (unlike 1 / (1 + exp(-x))).
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _softplus(x):
    return np.logaddexp(0.0, x)  # log(1 + e^x) without overflow


class BernoulliRBM(nn.Module):
    """A restricted Boltzmann machine with n_visible binary visible units and n_hidden binary hidden units.

    The weights are glassbox Parameters so that state_dict() / load_state_dict() and safetensors work as for any
    Module, but nothing here uses autograd: the gradient estimates are written out in NumPy (they are not the
    gradient of any forward pass, so backward() has nothing to offer).
      weight        (n_visible, n_hidden)  W, initialised N(0, 0.01^2) (Hinton's practical guide)
      visible_bias  (n_visible,)           b, zeros
      hidden_bias   (n_hidden,)            c, zeros
    Inputs v are arrays (N, n_visible) of binary values or of probabilities in [0, 1] (e.g. digits / 16): a
    probability is used as the expected value of a binary pixel in the data statistics.
    Calling the module (forward) gives the hidden probabilities (N, n_hidden).
    """

    def __init__(self, n_visible, n_hidden, dtype=np.float32, generator=None):
        super().__init__()
        if int(n_visible) <= 0 or int(n_hidden) <= 0:
            raise ValueError(f"BernoulliRBM: n_visible and n_hidden must be positive, got {n_visible}, {n_hidden}")
        self.n_visible, self.n_hidden = int(n_visible), int(n_hidden)
        rng = numpy_generator(generator)
        self.weight = nn.Parameter((0.01 * rng.standard_normal((self.n_visible, self.n_hidden))).astype(dtype),
                                   requires_grad=False)
        self.visible_bias = nn.Parameter(np.zeros(self.n_visible, dtype=dtype), requires_grad=False)
        self.hidden_bias = nn.Parameter(np.zeros(self.n_hidden, dtype=dtype), requires_grad=False)

    def extra_repr(self):
        return f"n_visible={self.n_visible}, n_hidden={self.n_hidden}"

    # ----- input checks --------------------------------------------------------------------------------------
    def _visible(self, v, what="v"):
        v = np.asarray(v.data if hasattr(v, "data") and not isinstance(v, np.ndarray) else v)
        if v.ndim != 2 or v.shape[1] != self.n_visible:
            raise ShapeError(f"BernoulliRBM.{what}: expected visible states of shape (N, {self.n_visible}), "
                             f"got {v.shape}")
        return v.astype(self.weight.data.dtype, copy=False)

    def _hidden(self, h):
        h = np.asarray(h)
        if h.ndim != 2 or h.shape[1] != self.n_hidden:
            raise ShapeError(f"BernoulliRBM.visible_probabilities: expected hidden states of shape "
                             f"(N, {self.n_hidden}), got {h.shape}")
        return h.astype(self.weight.data.dtype, copy=False)

    # ----- the model -----------------------------------------------------------------------------------------
    def free_energy(self, v):
        """F(v) (N,) for visible states v (N, V): -v.b - sum_j softplus(c_j + (v W)_j)."""
        v = self._visible(v, "free_energy")
        return -v @ self.visible_bias.data - _softplus(v @ self.weight.data + self.hidden_bias.data).sum(axis=1)

    def hidden_probabilities(self, v):
        """p(h = 1 | v) (N, H) for v (N, V)."""
        return _sigmoid(self._visible(v, "hidden_probabilities") @ self.weight.data + self.hidden_bias.data)

    def visible_probabilities(self, h):
        """p(v = 1 | h) (N, V) for h (N, H)."""
        return _sigmoid(self._hidden(h) @ self.weight.data.T + self.visible_bias.data)

    def forward(self, v):
        """Hidden probabilities (N, H) as a Tensor, so that an RBM can be called like any layer."""
        return Tensor._make(self.hidden_probabilities(v))

    def gibbs_step(self, v, rng=None):
        """One step of block Gibbs sampling v -> h ~ p(h|v) -> v' ~ p(v|h). v (N, V) -> binary v' (N, V)."""
        rng = rng if rng is not None else numpy_generator()
        ph = self.hidden_probabilities(v)
        h = (rng.random(ph.shape) < ph).astype(ph.dtype)
        pv = self.visible_probabilities(h)
        return (rng.random(pv.shape) < pv).astype(pv.dtype)

    def sample(self, n, steps, rng=None, start=None):
        """Run n Gibbs chains for `steps` steps from uniform random binary noise (or from `start` (n, V)) and
        return p(v = 1 | h) (n, V) of the last step: the mean of the last visible sample, a smoother picture of
        where the chains are than the binary sample itself."""
        rng = rng if rng is not None else numpy_generator()
        v = (rng.random((n, self.n_visible)) < 0.5).astype(self.weight.data.dtype) if start is None else \
            self._visible(start, "sample")
        if steps < 1:
            raise ValueError(f"BernoulliRBM.sample: steps must be >= 1, got {steps}")
        for _ in range(steps - 1):
            v = self.gibbs_step(v, rng)
        ph = self.hidden_probabilities(v)
        return self.visible_probabilities((rng.random(ph.shape) < ph).astype(ph.dtype))

    # ----- learning ------------------------------------------------------------------------------------------
    def contrastive_divergence(self, v, k=1, persistent=None, rng=None):
        """An estimate of the gradient of the mean log-likelihood of the batch v (N, V): (dW (V, H), db (V,),
        dc (H,)), to be ADDED to the parameters (ascent direction).

        Data term: v p(h|v)^T with the exact hidden probabilities. Model term: v_k p(h|v_k)^T where v_k is the
        binary visible sample after k Gibbs steps started from the data (CD-k), or, with `persistent` (an array
        (M, V) of chain states, M any number of chains), started from those chains (PCD); the chains' new states
        are written back into `persistent` in place, so the caller keeps the same array from batch to batch.
        """
        v = self._visible(v, "contrastive_divergence")
        if k < 1:
            raise ValueError(f"BernoulliRBM.contrastive_divergence: k must be >= 1, got {k}")
        rng = rng if rng is not None else numpy_generator()
        ph_data = self.hidden_probabilities(v)
        chain = v if persistent is None else self._visible(persistent, "contrastive_divergence(persistent)")
        for _ in range(k):
            chain = self.gibbs_step(chain, rng)
        if persistent is not None:
            persistent[...] = chain
        ph_model = self.hidden_probabilities(chain)
        n, m = len(v), len(chain)
        dW = v.T @ ph_data / n - chain.T @ ph_model / m
        db = v.mean(axis=0) - chain.mean(axis=0)
        dc = ph_data.mean(axis=0) - ph_model.mean(axis=0)
        return dW, db, dc

    def fit(self, data, epochs=10, batch_size=32, lr=0.05, momentum=0.5, weight_decay=1e-4, k=1,
            persistent=False, n_chains=None, binarize=False, rng=None, monitor=None, verbose=0, log=print):
        """Train on data (N, V) by mini-batch SGD with momentum on the CD-k (or, with persistent=True, PCD-k)
        gradient estimate; weight decay (L2, on W only, as biases need no shrinking) is subtracted from dW.

        velocity <- momentum * velocity + lr * (grad - weight_decay * W);  param <- param + velocity.
        persistent: keep n_chains (default batch_size) fantasy chains across batches and epochs (PCD).
        binarize: sample each batch's binary pixels from its probabilities (else use the probabilities).
        monitor: data (M, V) on which reconstruction_error and (exact) pseudo_likelihood are logged every epoch
        (default: the first MONITOR_EXAMPLES training examples, as the exact pseudo-likelihood costs V free
        energies per example). Returns a dict of per-epoch lists: reconstruction_error,
        pseudo_likelihood.
        """
        data = self._visible(data, "fit")
        rng = rng if rng is not None else numpy_generator()
        monitor = data[:MONITOR_EXAMPLES] if monitor is None else self._visible(monitor, "fit(monitor)")
        params = [self.weight.data, self.visible_bias.data, self.hidden_bias.data]
        velocity = [np.zeros_like(p) for p in params]
        chains = None
        if persistent:
            chains = (rng.random((n_chains or batch_size, self.n_visible)) < 0.5).astype(data.dtype)
        history = {"reconstruction_error": [], "pseudo_likelihood": []}
        for epoch in range(epochs):
            order = rng.permutation(len(data))
            for start in range(0, len(data), batch_size):
                batch = data[order[start:start + batch_size]]
                if binarize:
                    batch = (rng.random(batch.shape) < batch).astype(batch.dtype)
                grads = list(self.contrastive_divergence(batch, k=k, persistent=chains, rng=rng))
                grads[0] = grads[0] - weight_decay * params[0]
                for p, vel, g in zip(params, velocity, grads):
                    vel *= momentum
                    vel += lr * g
                    p += vel  # in place: the Parameters share these arrays
            history["reconstruction_error"].append(self.reconstruction_error(monitor))
            history["pseudo_likelihood"].append(self.pseudo_likelihood(monitor))
            if verbose:
                log(f"BernoulliRBM epoch {epoch + 1}/{epochs}: reconstruction error "
                    f"{history['reconstruction_error'][-1]:.4f}, pseudo-likelihood "
                    f"{history['pseudo_likelihood'][-1]:.4f}")
        return history

    # ----- monitoring ----------------------------------------------------------------------------------------
    def reconstruction_error(self, v):
        """Mean over examples of sum_i (v_i - r_i)^2, with the mean-field reconstruction r = p(v|h = p(h|v))."""
        v = self._visible(v, "reconstruction_error")
        reconstruction = self.visible_probabilities(self.hidden_probabilities(v))
        return float(((v - reconstruction) ** 2).sum(axis=1).mean())

    def pseudo_likelihood(self, v, rng=None):
        """Mean log pseudo-likelihood per example, sum_i log p(v_i | v_-i) (<= 0, higher is better), of v rounded
        to binary (threshold 0.5: the pseudo-likelihood is defined for binary states).

        p(v_i | v_-i) = sigmoid(F(v with v_i flipped) - F(v)). With rng=None the sum runs over all V units (exact,
        V free-energy evaluations); with an rng, one unit i per example is drawn uniformly and V log p(v_i | v_-i)
        is returned (an unbiased estimate of the same number for V times less work).
        """
        v = (self._visible(v, "pseudo_likelihood") >= 0.5).astype(np.float64)
        weight, b, c = (p.data.astype(np.float64) for p in (self.weight, self.visible_bias, self.hidden_bias))
        pre = v @ weight + c  # (N, H) hidden pre-activations of v
        energy = -v @ b - _softplus(pre).sum(axis=1)
        if rng is not None:
            n = len(v)
            units = rng.integers(0, self.n_visible, size=n)
            sign = 1.0 - 2.0 * v[np.arange(n), units]  # +1 turns a 0 on, -1 turns a 1 off
            flipped_pre = pre + sign[:, None] * weight[units]
            flipped = -(v @ b + sign * b[units]) - _softplus(flipped_pre).sum(axis=1)
            return float((self.n_visible * -_softplus(-(flipped - energy))).mean())  # log sigmoid(x) = -softplus(-x)
        total = np.zeros(len(v))
        for i in range(self.n_visible):  # one vectorised pass per unit: the flip changes pre by +-W[i]
            sign = 1.0 - 2.0 * v[:, i]
            flipped = -(v @ b + sign * b[i]) - _softplus(pre + sign[:, None] * weight[i]).sum(axis=1)
            total += -_softplus(-(flipped - energy))
        return float(total.mean())
