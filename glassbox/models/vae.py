"""The variational autoencoder (Kingma and Welling 2014): a Gaussian encoder q(z|x) = N(mu, diag(exp(logvar))), the
reparameterisation trick, a Bernoulli or Gaussian decoder p(x|z), and the ELBO with its KL term in closed form."""

import math

import numpy as np

from .. import nn
from ..autograd.grad_mode import no_grad
from ..errors import ShapeError
from ..nn import functional as F
from ..random import Generator, numpy_generator
from ..tensor import Tensor


def kl_divergence(mu, logvar):
    """KL(N(mu, diag(exp(logvar))) || N(0, I)) per example, in nats: (N, latent) twice -> (N,).

    Closed form: 0.5 * sum_j (mu_j^2 + exp(logvar_j) - 1 - logvar_j)."""
    return 0.5 * (mu * mu + logvar.exp() - 1.0 - logvar).sum(dim=1)


def reparameterize(mu, logvar, eps):
    """z = mu + exp(logvar / 2) * eps: a sample of N(mu, exp(logvar)) that is differentiable in mu and logvar, the
    randomness living in eps ~ N(0, I) (all (N, latent))."""
    return mu + (logvar * 0.5).exp() * eps


def _numpy_rng(rng):
    return rng if isinstance(rng, np.random.Generator) else numpy_generator(rng if isinstance(rng, Generator) else None)


def _mlp(sizes):
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return layers


class VAE(nn.Module):
    """A dense VAE on flat inputs (N, in_features).

    encoder: in_features -> hidden... (ReLU) then two heads, mu and logvar, each (N, latent).
    decoder: latent -> reversed(hidden)... (ReLU) -> (N, in_features) decoder outputs: logits of a Bernoulli per
    element (likelihood='bernoulli', for data in [0, 1]), or the means of a Gaussian with fixed standard deviation
    `sigma` (likelihood='gaussian'). The ELBO is in nats per example: log p(x|z) - KL(q(z|x) || N(0, I)).
    state_dict keys: encoder.*, mu.*, logvar.*, decoder.*."""

    def __init__(self, in_features, hidden=(256,), latent=2, likelihood="bernoulli", sigma=1.0):
        super().__init__()
        hidden = (hidden,) if isinstance(hidden, int) else tuple(hidden)
        if likelihood not in ("bernoulli", "gaussian"):
            raise ValueError(f"VAE: likelihood must be 'bernoulli' or 'gaussian', got {likelihood!r}")
        if min((in_features, latent) + hidden) < 1 or sigma <= 0:
            raise ValueError(f"VAE: sizes and sigma must be positive, got in_features={in_features}, "
                             f"hidden={hidden}, latent={latent}, sigma={sigma}")
        self.in_features, self.latent, self.likelihood, self.sigma = in_features, latent, likelihood, float(sigma)
        self.encoder = nn.Sequential(*_mlp((in_features,) + hidden))
        self.mu = nn.Linear(hidden[-1], latent)
        self.logvar = nn.Linear(hidden[-1], latent)
        self.decoder = nn.Sequential(*_mlp((latent,) + hidden[::-1]), nn.Linear(hidden[0], in_features))

    def encode(self, x):
        """(N, in_features) -> (mu, logvar), each (N, latent)."""
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ShapeError(f"VAE(in_features={self.in_features}) expected input of shape (N, {self.in_features}), "
                             f"got {tuple(x.shape)}: flatten images first")
        h = self.encoder(x)
        return self.mu(h), self.logvar(h)

    def decode(self, z):
        """(N, latent) -> decoder outputs (N, in_features): Bernoulli logits or Gaussian means."""
        return self.decoder(z)

    def mean(self, output):
        """The decoder's expected x from its outputs: sigmoid(logits) for Bernoulli, the means for Gaussian."""
        return output.sigmoid() if self.likelihood == "bernoulli" else output

    def forward(self, x, eps=None, rng=None):
        """(N, in_features) -> (decoder outputs (N, in_features), mu, logvar); eps (N, latent) fixes the noise of the
        sample z, else it is drawn from rng (a numpy or glassbox Generator; None = the default generator)."""
        mu, logvar = self.encode(x)
        if eps is None:
            eps = Tensor._make(_numpy_rng(rng).standard_normal(mu.shape).astype(mu.dtype))
        return self.decode(reparameterize(mu, logvar, eps)), mu, logvar

    def reconstruction_nll(self, output, x):
        """-log p(x|z) per example in nats: (N, in_features) twice -> (N,). Bernoulli: the summed binary cross-entropy
        (for x in [0, 1]); Gaussian: sum (x - mean)^2 / (2 sigma^2) + D log(sigma sqrt(2 pi))."""
        if self.likelihood == "bernoulli":
            return F.binary_cross_entropy_with_logits(output, x, reduction="none").sum(dim=1)
        constant = self.in_features * math.log(self.sigma * math.sqrt(2 * math.pi))
        return ((output - x) ** 2).sum(dim=1) / (2 * self.sigma ** 2) + constant

    def terms(self, x, eps=None, rng=None):
        """(reconstruction NLL (N,), KL (N,)) for one sample z per example."""
        output, mu, logvar = self(x, eps, rng)
        return self.reconstruction_nll(output, x), kl_divergence(mu, logvar)

    def elbo(self, x, eps=None, rng=None):
        """The evidence lower bound per example, in nats (N,): -(reconstruction NLL + KL), one sample z each."""
        reconstruction, kl = self.terms(x, eps, rng)
        return -(reconstruction + kl)

    def loss(self, x, eps=None, rng=None):
        """The training loss, a scalar: the batch mean of -ELBO = reconstruction NLL + KL."""
        reconstruction, kl = self.terms(x, eps, rng)
        return (reconstruction + kl).mean()

    def sample(self, n, rng=None):
        """n draws z ~ N(0, I) decoded to the expected x: (n, in_features), without a graph."""
        z = _numpy_rng(rng).standard_normal((n, self.latent)).astype(self.mu.weight.dtype)
        with no_grad():
            return self.mean(self.decode(Tensor._make(z)))


def vae_step(rng=None):
    """A train_step for glassbox.train.fit on batches (x,) (pass train=(x,)): one step on the mean -ELBO; logs loss
    (= -ELBO), reconstruction and kl, each the batch mean in nats."""

    def step(trainer, batch):
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        reconstruction, kl = trainer.model.terms(x, rng=rng)
        loss = (reconstruction + kl).mean()
        trainer.optimizer.zero_grad()
        loss.backward()
        trainer.optimizer.step()
        return {"loss": loss.item(), "reconstruction": reconstruction.mean().item(), "kl": kl.mean().item()}

    return step
