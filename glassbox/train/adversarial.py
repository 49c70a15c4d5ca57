"""One adversarial (GAN) training step for fit(..., train_step=...): a discriminator step, then a generator step.

fit() trains one `model`; a GAN has two players with two optimizers, so pass a container holding both (its
state_dict then saves both, and fit's train()/eval() calls reach both) and let the step drive the optimizers:

    gan = nn.ModuleDict({"generator": G, "discriminator": D})
    step = AdversarialStep(G, D, optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999)),
                           optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999)), latent_dim=32)
    history = fit(gan, (real_images,), epochs=50, batch_size=64, train_step=step)
    history.history["d_loss"], history.history["g_loss"]
"""

import numpy as np

from ..autograd.grad_mode import no_grad
from ..creation import randn
from ..errors import ShapeError
from ..nn import functional as F
from ..random import Generator
from ..tensor import Tensor

LOSSES = ("bce", "lsgan")


def discriminator_loss(real_logits, fake_logits, loss="bce"):
    """The discriminator's loss from its raw outputs on real (B,) and fake (B,) samples (a scalar Tensor).

    bce:   mean(-log sigmoid(real)) + mean(-log(1 - sigmoid(fake)))   (real labelled 1, fake 0; from logits)
    lsgan: mean((real - 1)^2) / 2 + mean(fake^2) / 2                  (least squares, Mao et al. 2017)
    """
    if loss == "bce":
        return (F.binary_cross_entropy_with_logits(real_logits, _full_like(real_logits, 1.0))
                + F.binary_cross_entropy_with_logits(fake_logits, _full_like(fake_logits, 0.0)))
    return 0.5 * (((real_logits - 1.0) ** 2).mean() + (fake_logits ** 2).mean())


def generator_loss(fake_logits, loss="bce"):
    """The generator's loss from the discriminator's raw outputs on its samples (B,) (a scalar Tensor).

    bce:   mean(-log sigmoid(fake)), the non-saturating loss of Goodfellow et al. 2014: it still has a strong
           gradient when the discriminator confidently rejects the fakes, unlike minimising log(1 - sigmoid(fake)).
    lsgan: mean((fake - 1)^2) / 2
    """
    if loss == "bce":
        return F.binary_cross_entropy_with_logits(fake_logits, _full_like(fake_logits, 1.0))
    return 0.5 * ((fake_logits - 1.0) ** 2).mean()


def _full_like(t, value):
    return Tensor._make(np.full(t.shape, value, dtype=t.dtype))


def _real_batch(batch):
    """The real samples of a batch: the batch itself or the first element of a (samples,) / (samples, labels)."""
    while isinstance(batch, (tuple, list)):
        batch = batch[0]
    return batch


class AdversarialStep:
    """fn(trainer, batch) -> {"loss", "d_loss", "g_loss", "d_real", "d_fake"} for fit(..., train_step=fn).

    generator: (B, latent_dim) -> samples shaped like the real batch; discriminator: samples -> logits (B,) or
    (B, 1). Each call runs `d_steps` discriminator steps on the real batch against fresh fakes made without a graph
    (so the generator gets no gradient and is unchanged), then one generator step on fresh latents with the
    discriminator frozen (requires_grad off, so it accumulates no gradient and its parameters are unchanged; its
    optimizer is not stepped either). Both players stay in train mode, as in the DCGAN paper.

    Logged: d_loss and g_loss (see discriminator_loss / generator_loss), d_real and d_fake (the discriminator's
    mean sigmoid output on the real and the fake samples of the last discriminator step: 0.5 for a confused
    discriminator), and loss = d_loss + g_loss (only so that the progress bar has a number to show).
    latents are drawn from N(0, 1) with `generator_rng` (a glassbox.random.Generator; default: seeded from the
    default generator, so manual_seed fixes them).
    """

    def __init__(self, generator, discriminator, g_optimizer, d_optimizer, latent_dim, loss="bce", d_steps=1,
                 rng=None):
        if loss not in LOSSES:
            raise ValueError(f"AdversarialStep: loss must be one of {LOSSES}, got {loss!r}")
        if int(d_steps) < 1:
            raise ValueError(f"AdversarialStep: d_steps must be at least 1, got {d_steps}")
        if int(latent_dim) < 1:
            raise ValueError(f"AdversarialStep: latent_dim must be at least 1, got {latent_dim}")
        self.generator, self.discriminator = generator, discriminator
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        self.latent_dim, self.loss, self.d_steps = int(latent_dim), loss, int(d_steps)
        if rng is None:
            from ..random import default_generator

            rng = Generator(int(default_generator.numpy.integers(2**62)))
        self.rng = rng

    def latents(self, n, dtype=None):
        """(n, latent_dim) standard normal latents."""
        return randn(n, self.latent_dim, generator=self.rng, dtype=dtype)

    def _logits(self, samples):
        logits = self.discriminator(samples)
        if logits.ndim == 2 and logits.shape[1] == 1:
            logits = logits.reshape(-1)
        if logits.ndim != 1 or logits.shape[0] != samples.shape[0]:
            raise ShapeError(f"AdversarialStep: the discriminator must return logits of shape ({samples.shape[0]},) "
                             f"or ({samples.shape[0]}, 1), got {tuple(logits.shape)}")
        return logits

    def discriminator_step(self, real):
        """One update of the discriminator on `real` against as many fresh fakes; returns its logs."""
        with no_grad():  # detached fakes: no graph into the generator
            fake = self.generator(self.latents(real.shape[0], real.dtype))
        if tuple(fake.shape) != tuple(real.shape):
            raise ShapeError(f"AdversarialStep: the generator made samples of shape {tuple(fake.shape)}, the real "
                             f"batch has shape {tuple(real.shape)}")
        real_logits, fake_logits = self._logits(real), self._logits(fake)
        d_loss = discriminator_loss(real_logits, fake_logits, self.loss)
        self.d_optimizer.zero_grad()
        d_loss.backward()
        self.d_optimizer.step()
        return {"d_loss": d_loss.item(), "d_real": float(_sigmoid(real_logits.data).mean()),
                "d_fake": float(_sigmoid(fake_logits.data).mean())}

    def generator_step(self, n, dtype=None):
        """One update of the generator on n fresh latents against the frozen discriminator; returns its loss."""
        frozen = [p for p in self.discriminator.parameters() if p.requires_grad]
        for p in frozen:
            p.requires_grad_(False)
        try:
            g_loss = generator_loss(self._logits(self.generator(self.latents(n, dtype))), self.loss)
            self.g_optimizer.zero_grad()
            g_loss.backward()
            self.g_optimizer.step()
        finally:
            for p in frozen:
                p.requires_grad_(True)
        return g_loss.item()

    def __call__(self, trainer, batch):
        real = _real_batch(batch)
        for _ in range(self.d_steps):
            logs = self.discriminator_step(real)
        logs["g_loss"] = self.generator_step(real.shape[0], real.dtype)
        logs["loss"] = logs["d_loss"] + logs["g_loss"]
        return logs


def _sigmoid(x):
    """Overflow-free logistic function on an ndarray."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
