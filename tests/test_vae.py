"""The VAE: its KL term against the textbook Gaussian KL and a Monte Carlo estimate (and torch.distributions),
the reparameterised sample's gradients (float64 gradcheck with a fixed eps, and by hand), both likelihoods against
PyTorch's, and how elbo, loss and sample fit together."""

import math

import numpy as np
import pytest

import glassbox as gb
from glassbox.autograd.gradient_check import gradcheck
from glassbox.models.vae import VAE, kl_divergence, reparameterize


def _gaussian_params(rng, n=4, latent=3):
    mu = rng.normal(0, 1.5, (n, latent))
    logvar = rng.normal(0, 1.0, (n, latent))
    return mu, logvar


def test_kl_matches_the_textbook_gaussian_kl():
    mu, logvar = _gaussian_params(np.random.default_rng(0))
    sigma = np.exp(logvar / 2)
    # KL(N(m1, s1^2) || N(m2, s2^2)) = log(s2 / s1) + (s1^2 + (m1 - m2)^2) / (2 s2^2) - 1/2, summed over dims
    expected = np.sum(np.log(1 / sigma) + (sigma ** 2 + mu ** 2) / 2 - 0.5, axis=1)
    got = kl_divergence(gb.tensor(mu), gb.tensor(logvar)).numpy()
    assert got.shape == (4,)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(kl_divergence(gb.zeros(2, 5), gb.zeros(2, 5)).numpy(), 0.0)  # q = prior


def test_kl_matches_a_monte_carlo_estimate():
    rng = np.random.default_rng(1)
    mu, logvar = _gaussian_params(rng, n=3, latent=2)
    sigma = np.exp(logvar / 2)
    samples = 200_000
    z = mu + sigma * rng.standard_normal((samples, 3, 2))
    # log q(z) - log p(z) for diagonal Gaussians; its mean over z ~ q is the KL
    log_q = np.sum(-0.5 * ((z - mu) / sigma) ** 2 - np.log(sigma) - 0.5 * math.log(2 * math.pi), axis=2)
    log_p = np.sum(-0.5 * z ** 2 - 0.5 * math.log(2 * math.pi), axis=2)
    ratio = log_q - log_p
    estimate, standard_error = ratio.mean(axis=0), ratio.std(axis=0) / np.sqrt(samples)
    got = kl_divergence(gb.tensor(mu), gb.tensor(logvar)).numpy()
    assert (np.abs(got - estimate) < 5 * standard_error).all(), (got, estimate, standard_error)


def test_kl_matches_torch_distributions(torch):
    mu, logvar = _gaussian_params(np.random.default_rng(2))
    q = torch.distributions.Normal(torch.tensor(mu), torch.tensor(np.exp(logvar / 2)))
    p = torch.distributions.Normal(torch.zeros(4, 3, dtype=torch.float64), torch.ones(4, 3, dtype=torch.float64))
    expected = torch.distributions.kl_divergence(q, p).sum(1).numpy()
    np.testing.assert_allclose(kl_divergence(gb.tensor(mu), gb.tensor(logvar)).numpy(), expected, rtol=1e-10)


def test_reparameterised_sample_gradcheck_with_fixed_eps():
    rng = np.random.default_rng(3)
    mu0, logvar0 = _gaussian_params(rng)
    eps = gb.tensor(rng.standard_normal(mu0.shape))
    mu, logvar = gb.tensor(mu0, requires_grad=True), gb.tensor(logvar0, requires_grad=True)
    assert gradcheck(lambda m, lv: reparameterize(m, lv, eps), (mu, logvar))
    # and the whole objective of one example: a decoder term depending on z plus the KL
    assert gradcheck(lambda m, lv: (reparameterize(m, lv, eps) ** 2).sum(1) + kl_divergence(m, lv), (mu, logvar))


def test_reparameterised_gradients_by_hand():
    rng = np.random.default_rng(4)
    mu0, logvar0 = _gaussian_params(rng)
    eps0 = rng.standard_normal(mu0.shape)
    mu, logvar = gb.tensor(mu0, requires_grad=True), gb.tensor(logvar0, requires_grad=True)
    reparameterize(mu, logvar, gb.tensor(eps0)).sum().backward()
    np.testing.assert_allclose(mu.grad.numpy(), np.ones_like(mu0))  # dz/dmu = 1
    np.testing.assert_allclose(logvar.grad.numpy(), 0.5 * np.exp(logvar0 / 2) * eps0, rtol=1e-12)


def test_model_gradients_reach_the_encoder_heads_gradcheck():
    gb.manual_seed(0)
    model = VAE(6, (5,), 2).double()
    x = gb.tensor(np.random.default_rng(5).random((3, 6)))
    eps = gb.tensor(np.random.default_rng(6).standard_normal((3, 2)))
    # gradcheck perturbs the parameters in place, so fn may read them from the model; logvar.weight is reached
    # through exp(logvar / 2) * eps and through the KL, mu.weight through z and the KL
    for weight in (model.logvar.weight, model.mu.weight, model.encoder[0].weight):
        assert gradcheck(lambda w: model.loss(x, eps=eps), (weight,))


def test_bernoulli_and_gaussian_likelihoods_match_torch(torch):
    rng = np.random.default_rng(7)
    x = rng.random((4, 6))
    output = rng.normal(0, 2, (4, 6))
    bernoulli = VAE(6, 5, 2).double().reconstruction_nll(gb.tensor(output), gb.tensor(x)).numpy()
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor(output), torch.tensor(x), reduction="none").sum(1).numpy()
    np.testing.assert_allclose(bernoulli, expected, rtol=1e-10)
    gaussian = VAE(6, 5, 2, likelihood="gaussian", sigma=0.3).double()
    got = gaussian.reconstruction_nll(gb.tensor(output), gb.tensor(x)).numpy()
    expected = -torch.distributions.Normal(torch.tensor(output), 0.3).log_prob(torch.tensor(x)).sum(1).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_elbo_loss_and_forward_fit_together():
    gb.manual_seed(1)
    model = VAE(8, (6, 4), 3).double()
    x = gb.tensor(np.random.default_rng(8).random((5, 8)))
    eps = gb.tensor(np.random.default_rng(9).standard_normal((5, 3)))
    output, mu, logvar = model(x, eps=eps)
    assert output.shape == (5, 8) and mu.shape == logvar.shape == (5, 3)
    z = mu.detach().numpy() + np.exp(logvar.detach().numpy() / 2) * eps.numpy()
    np.testing.assert_allclose(output.detach().numpy(), model.decode(gb.tensor(z)).detach().numpy(), rtol=1e-12)
    recon = model.reconstruction_nll(output, x).detach().numpy()
    kl = kl_divergence(mu, logvar).detach().numpy()
    elbo = model.elbo(x, eps=eps).detach().numpy()
    np.testing.assert_allclose(elbo, -(recon + kl), rtol=1e-12)
    np.testing.assert_allclose(model.loss(x, eps=eps).item(), np.mean(recon + kl), rtol=1e-12)
    assert (elbo < 0).all()  # Bernoulli NLL and KL are both non-negative


def test_sample_decodes_prior_draws():
    gb.manual_seed(2)
    model = VAE(10, 8, 2)
    samples = model.sample(6, np.random.default_rng(0))
    assert samples.shape == (6, 10) and not samples.requires_grad
    assert ((samples.numpy() > 0) & (samples.numpy() < 1)).all()  # Bernoulli means
    z = np.random.default_rng(0).standard_normal((6, 2)).astype(np.float32)
    np.testing.assert_allclose(samples.numpy(), model.decode(gb.tensor(z)).sigmoid().detach().numpy(), rtol=1e-6)


def test_vae_rejects_bad_settings_and_inputs():
    with pytest.raises(ValueError, match="likelihood"):
        VAE(4, 3, 2, likelihood="poisson")
    with pytest.raises(ValueError, match="sigma"):
        VAE(4, 3, 2, likelihood="gaussian", sigma=0)
    with pytest.raises(gb.ShapeError, match=r"VAE\(in_features=4\).*\(2, 1, 2, 2\)"):
        VAE(4, 3, 2)(gb.rand(2, 1, 2, 2))
