"""GANs: the adversarial step (which player moves, losses and updates by hand), the DCGAN/MLP players (shapes, PyTorch
parity), and the recipe's scores (Fréchet distance against closed forms, confidence and class coverage)."""

import numpy as np
import pytest

import glassbox as gb
import glassbox.nn as nn
import glassbox.optim as optim
from glassbox.errors import ShapeError
from glassbox.models.gan import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from glassbox.recipes import digits_gan
from glassbox.train import fit
from glassbox.train.adversarial import AdversarialStep


def _snapshot(module):
    return {k: np.array(v.data, copy=True) for k, v in module.state_dict().items()}


def _same(before, module):
    return all(np.array_equal(before[k], v.data) for k, v in module.state_dict().items())


def _players(latent=3, features=4):
    gb.random.manual_seed(0)
    return MLPGenerator(latent, (features,), hidden=(5,)), MLPDiscriminator(features, hidden=(6,))


def _step(generator, discriminator, loss="bce", seed=7):
    # weight decay: an optimizer that stepped a parameter with no gradient, or a stale one, would still move it
    return AdversarialStep(generator, discriminator, optim.Adam(generator.parameters(), lr=0.01, weight_decay=0.1),
                           optim.Adam(discriminator.parameters(), lr=0.01, weight_decay=0.1), generator.latent_dim,
                           loss=loss, rng=gb.random.Generator(seed))


# ----- which player moves ------------------------------------------------------------------------------------------
def test_discriminator_step_leaves_the_generator_bit_for_bit():
    g, d = _players()
    step = _step(g, d)
    real = gb.randn(8, 4)
    g_before, d_before = _snapshot(g), _snapshot(d)
    step.discriminator_step(real)
    assert _same(g_before, g)
    assert not _same(d_before, d)
    assert all(p.grad is None for p in g.parameters())  # the fakes were made without a graph


def test_generator_step_leaves_the_discriminator_bit_for_bit():
    g, d = _players()
    step = _step(g, d)
    step.discriminator_step(gb.randn(8, 4))  # leaves gradients in D: the generator step must not apply them
    d_grads = [p.grad.data.copy() for p in d.parameters()]
    g_before, d_before = _snapshot(g), _snapshot(d)
    step.generator_step(8)
    assert _same(d_before, d)
    assert not _same(g_before, g)
    assert all(np.array_equal(p.grad.data, before) for p, before in zip(d.parameters(), d_grads))  # nothing added
    assert all(p.requires_grad for p in d.parameters())  # unfrozen again


def test_a_full_step_moves_both_and_logs_every_key():
    g, d = _players()
    step = _step(g, d)
    g_before, d_before = _snapshot(g), _snapshot(d)
    logs = step(None, (gb.randn(8, 4),))
    assert set(logs) == {"loss", "d_loss", "g_loss", "d_real", "d_fake"}
    assert not _same(g_before, g) and not _same(d_before, d)
    assert 0 < logs["d_real"] < 1 and 0 < logs["d_fake"] < 1
    assert logs["loss"] == pytest.approx(logs["d_loss"] + logs["g_loss"])


# ----- losses and updates by hand ----------------------------------------------------------------------------------
class _LinearG(nn.Module):
    """x = z W^T, W (2, 1)."""

    def __init__(self, w):
        super().__init__()
        self.latent_dim = 1
        self.lin = nn.Linear(1, 2, bias=False, dtype=gb.float64)
        self.lin.weight.data[:] = w

    def forward(self, z):
        return self.lin(z)


class _LinearD(nn.Module):
    """logit = x a + b."""

    def __init__(self, a, b):
        super().__init__()
        self.lin = nn.Linear(2, 1, dtype=gb.float64)
        self.lin.weight.data[:] = a
        self.lin.bias.data[:] = b

    def forward(self, x):
        return self.lin(x).reshape(-1)


def _softplus(x):
    return np.logaddexp(0.0, x)


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


@pytest.mark.parametrize("loss", ["bce", "lsgan"])
def test_losses_and_sgd_updates_match_a_hand_computation(loss):
    w = np.array([[0.5], [-1.0]])
    a, b = np.array([[0.3, 0.7]]), 0.2
    g, d = _LinearG(w), _LinearD(a, b)
    lr = 0.1
    step = AdversarialStep(g, d, optim.SGD(g.parameters(), lr=lr), optim.SGD(d.parameters(), lr=lr), 1, loss=loss,
                           rng=gb.random.Generator(3))
    real = np.array([[1.0, 2.0], [-0.5, 0.0], [2.0, 1.0]])
    draws = np.random.Generator(np.random.PCG64(3)).standard_normal((2, 3))  # the step's two latent batches
    z1, z2 = draws[0][:, None], draws[1][:, None]
    logs = step(None, (gb.tensor(real),))

    fake = z1 @ w.T
    r, f = real @ a[0] + b, fake @ a[0] + b
    if loss == "bce":
        d_loss = _softplus(-r).mean() + _softplus(f).mean()
        dr, df = -_sig(-r) / 3, _sig(f) / 3  # dL/dlogit
    else:
        d_loss = 0.5 * ((r - 1) ** 2).mean() + 0.5 * (f ** 2).mean()
        dr, df = (r - 1) / 3, f / 3
    grad_a = dr @ real + df @ fake
    grad_b = dr.sum() + df.sum()
    a_new, b_new = a[0] - lr * grad_a, b - lr * grad_b
    np.testing.assert_allclose(logs["d_loss"], d_loss, rtol=1e-12)
    np.testing.assert_allclose(logs["d_real"], _sig(r).mean(), rtol=1e-12)
    np.testing.assert_allclose(logs["d_fake"], _sig(f).mean(), rtol=1e-12)
    np.testing.assert_allclose(d.lin.weight.data[0], a_new, rtol=1e-12)
    np.testing.assert_allclose(d.lin.bias.data[0], b_new, rtol=1e-12)

    # the generator step sees the updated discriminator
    s = (z2 @ w.T) @ a_new + b_new
    if loss == "bce":
        g_loss, ds = _softplus(-s).mean(), -_sig(-s) / 3
    else:
        g_loss, ds = 0.5 * ((s - 1) ** 2).mean(), (s - 1) / 3
    grad_w = np.outer(a_new, ds @ z2[:, 0])[:, :1]  # dL/dW[i, 0] = sum_n ds_n a_i z_n
    np.testing.assert_allclose(logs["g_loss"], g_loss, rtol=1e-12)
    np.testing.assert_allclose(g.lin.weight.data, w - lr * grad_w, rtol=1e-12)


def test_adversarial_step_rejects_bad_settings_and_shapes():
    g, d = _players()
    with pytest.raises(ValueError, match="loss must be one of"):
        AdversarialStep(g, d, None, None, 3, loss="wasserstein")
    with pytest.raises(ValueError, match="d_steps"):
        AdversarialStep(g, d, None, None, 3, d_steps=0)
    step = _step(g, d)
    with pytest.raises(ShapeError, match="generator made samples of shape"):
        step.discriminator_step(gb.randn(8, 2, 2))


def test_fit_trains_a_container_of_both_players():
    g, d = _players()
    gan = nn.ModuleDict({"generator": g, "discriminator": d})
    step = _step(g, d)
    history = fit(gan, (np.random.default_rng(0).standard_normal((40, 4)).astype(np.float32),), epochs=2,
                  batch_size=16, train_step=step, verbose=0)
    for key in ("d_loss", "g_loss", "d_real", "d_fake"):
        assert len(history.history[key]) == 2 and np.all(np.isfinite(history.history[key]))


# ----- players -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [8, 28])
def test_dcgan_shapes(size):
    gb.random.manual_seed(0)
    g, d = DCGANGenerator(16, 1, 8, size), DCGANDiscriminator(1, 8, size)
    images = g(gb.randn(5, 16))
    assert images.shape == (5, 1, size, size)
    assert np.all(np.abs(images.data) <= 1)
    assert d(images).shape == (5,)
    assert d.features(images).shape == (5, 16 * (size // 4) ** 2)


def test_dcgan_rejects_bad_sizes_and_inputs():
    with pytest.raises(ValueError, match="multiple of 4"):
        DCGANGenerator(16, 1, 8, 10)
    with pytest.raises(ShapeError, match=r"expected latents of shape \(N, 16\)"):
        DCGANGenerator(16, 1, 8, 8)(gb.randn(2, 15))
    with pytest.raises(ShapeError, match="DCGANDiscriminator"):
        DCGANDiscriminator(1, 8, 8)(gb.randn(2, 1, 28, 28))


def test_mlp_players_shapes():
    gb.random.manual_seed(0)
    g, d = MLPGenerator(4, (1, 8, 8)), MLPDiscriminator(64)
    x = g(gb.randn(3, 4))
    assert x.shape == (3, 1, 8, 8) and d(x).shape == (3,)
    with pytest.raises(ShapeError, match="MLPDiscriminator"):
        d(gb.randn(3, 10))


def _torch_generator(torch, latent, base, size):
    t = torch.nn
    return t.Sequential(t.ConvTranspose2d(latent, 2 * base, size // 4, 1, 0, bias=False), t.BatchNorm2d(2 * base),
                        t.ReLU(), t.ConvTranspose2d(2 * base, base, 4, 2, 1, bias=False), t.BatchNorm2d(base),
                        t.ReLU(), t.ConvTranspose2d(base, 1, 4, 2, 1), t.Tanh())


def _torch_discriminator(torch, base, size):
    t = torch.nn
    return t.Sequential(t.Conv2d(1, base, 4, 2, 1), t.LeakyReLU(0.2), t.Conv2d(base, 2 * base, 4, 2, 1, bias=False),
                        t.BatchNorm2d(2 * base), t.LeakyReLU(0.2), t.Conv2d(2 * base, 1, size // 4, 1, 0))


def test_dcgan_matches_torch_with_the_same_weights(torch):
    gb.random.manual_seed(1)
    g, d = DCGANGenerator(6, 1, 4, 8), DCGANDiscriminator(1, 4, 8)
    tg, td = _torch_generator(torch, 6, 4, 8), _torch_discriminator(torch, 4, 8)
    tg.load_state_dict({k[len("net."):]: torch.tensor(v.data) for k, v in g.state_dict().items()})
    d_state = {k[len("net."):]: torch.tensor(v.data) for k, v in d.state_dict().items() if k.startswith("net.")}
    d_state.update({f"5.{k[len('head.'):]}": torch.tensor(v.data) for k, v in d.state_dict().items()
                    if k.startswith("head.")})
    td.load_state_dict(d_state)
    z = np.random.default_rng(0).standard_normal((5, 6)).astype(np.float32)
    images = g(gb.tensor(z))  # train mode: batch statistics
    expected = tg(torch.tensor(z).reshape(5, 6, 1, 1))
    np.testing.assert_allclose(images.data, expected.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(d(images).data, td(expected).reshape(-1).detach().numpy(), rtol=1e-4, atol=1e-5)


# ----- scores ------------------------------------------------------------------------------------------------------
def test_frechet_distance_of_diagonal_gaussians_is_the_closed_form():
    m1, m2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, -1.0, 2.5])
    v1, v2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    expected = np.sum((m1 - m2) ** 2) + np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2)  # W2^2 of commuting Gaussians
    assert digits_gan.frechet_distance(m1, np.diag(v1), m2, np.diag(v2)) == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_of_scaled_covariances_is_the_closed_form():
    rng = np.random.default_rng(0)
    root = rng.standard_normal((4, 4))
    cov = root @ root.T + 0.1 * np.eye(4)  # full, not diagonal
    c = 2.5  # cov2 = c cov: tr(cov + c cov - 2 sqrt(c) cov) = (1 - sqrt(c))^2 tr(cov)
    expected = (1 - np.sqrt(c)) ** 2 * np.trace(cov)
    assert digits_gan.frechet_distance(np.zeros(4), cov, np.zeros(4), c * cov) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_matches_scipy_sqrtm_for_general_covariances():
    linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((5, 5)), rng.standard_normal((5, 5))
    c1, c2 = a @ a.T, b @ b.T
    m1, m2 = rng.standard_normal(5), rng.standard_normal(5)
    expected = np.sum((m1 - m2) ** 2) + np.trace(c1 + c2) - 2 * np.trace(linalg.sqrtm(c1 @ c2)).real
    assert digits_gan.frechet_distance(m1, c1, m2, c2) == pytest.approx(expected, rel=1e-8)


def test_feature_distance_is_zero_for_identical_sets_and_near_the_truth_for_samples():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((500, 3))
    assert digits_gan.feature_distance(x, x.copy()) == pytest.approx(0.0, abs=1e-9)
    y = rng.standard_normal((20000, 3)) * 2.0 + 1.0  # N(1, 4 I): distance to N(0, I) = 3 * 1 + 3 * (2 - 1)^2 = 6
    z = rng.standard_normal((20000, 3))
    assert digits_gan.feature_distance(y, z) == pytest.approx(6.0, rel=0.05)


def test_sqrtm_psd_squares_back():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((6, 6))
    m = a @ a.T
    root = digits_gan.sqrtm_psd(m)
    np.testing.assert_allclose(root @ root, m, atol=1e-10)
    np.testing.assert_allclose(root, root.T, atol=1e-12)


def test_class_scores_by_hand():
    p = np.full((5, 10), 0.01)
    for row, cls in enumerate([3, 3, 7, 1]):
        p[row, cls] = 0.91  # confident
    p[4, 2] = 0.5  # not confident
    scores = digits_gan.class_scores(p)
    assert scores["confident_share"] == pytest.approx(4 / 5)
    share = np.array([2, 1, 1]) / 4  # classes 3, 7, 1
    assert scores["class_coverage"] == pytest.approx(-(share * np.log(share)).sum() / np.log(10))
    even = np.eye(10) * 0.95 + 0.005
    assert digits_gan.class_scores(even)["class_coverage"] == pytest.approx(1.0)
    assert digits_gan.class_scores(np.full((3, 10), 0.1)) == {"confident_share": 0.0, "class_coverage": 0.0}
