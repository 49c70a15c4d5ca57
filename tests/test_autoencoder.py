"""Autoencoders: shapes and state_dict layout of the dense and convolutional models (forward against PyTorch with
copied weights), the denoising noise (its statistics, the input left untouched) and the denoising train_step, whose
loss compares the output with the clean target."""

import numpy as np
import pytest

import glassbox as gb
from glassbox import nn, optim
from glassbox.models.autoencoder import Autoencoder, ConvAutoencoder, add_noise, denoising_step
from glassbox.train.loop import Trainer


def test_dense_autoencoder_shapes_and_layers():
    model = Autoencoder(64, hidden=(32, 16), code_size=3)
    x = gb.rand(5, 64)
    assert model.encode(x).shape == (5, 3)
    assert model.decode(gb.randn(7, 3)).shape == (7, 64)
    out = model(x).detach()
    assert out.shape == (5, 64)
    assert ((out.numpy() > 0) & (out.numpy() < 1)).all()  # sigmoid output for pixels in [0, 1]
    linear = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(64, 32), (32, 16), (16, 3), (3, 16), (16, 32),
                                                                  (32, 64)]
    with pytest.raises(gb.ShapeError, match=r"Autoencoder\(in_features=64\).*\(5, 1, 8, 8\)"):
        model(gb.rand(5, 1, 8, 8))
    with pytest.raises(ValueError, match="output_activation"):
        Autoencoder(64, 8, 2, output_activation="tanh")


def test_dense_autoencoder_linear_output_can_be_negative():
    gb.manual_seed(0)
    out = Autoencoder(10, 4, 2, output_activation=None)(gb.randn(200, 10) * 10).detach().numpy()
    assert out.min() < 0 < out.max()  # no squashing without the sigmoid


@pytest.mark.parametrize("size, channels", [(8, (16, 32)), (28, (8, 16)), (16, (4, 8, 8))])
def test_conv_autoencoder_shapes(size, channels):
    model = ConvAutoencoder(in_channels=1, code_size=4, image_size=size, channels=channels)
    x = gb.rand(3, 1, size, size)
    assert model.encode(x).shape == (3, 4)
    assert model(x).shape == (3, 1, size, size)
    assert model.decode(gb.randn(2, 4)).shape == (2, 1, size, size)


def test_conv_autoencoder_rejects_bad_sizes():
    with pytest.raises(ValueError, match="divisible by 2 \\*\\* len\\(channels\\) = 4"):
        ConvAutoencoder(1, 2, image_size=10)
    with pytest.raises(gb.ShapeError, match=r"\(N, 1, 8, 8\).*\(2, 1, 28, 28\)"):
        ConvAutoencoder(1, 2, image_size=8)(gb.rand(2, 1, 28, 28))


def test_conv_autoencoder_matches_torch(torch):
    gb.manual_seed(3)
    model = ConvAutoencoder(in_channels=2, code_size=3, image_size=8, channels=(4, 6))
    tnn = torch.nn
    reference = tnn.Module()
    reference.encoder = tnn.Sequential(tnn.Conv2d(2, 4, 3, 2, 1), tnn.ReLU(), tnn.Conv2d(4, 6, 3, 2, 1), tnn.ReLU(),
                                       tnn.Flatten(), tnn.Linear(24, 3))
    reference.decoder = tnn.Sequential(tnn.Linear(3, 24), tnn.ReLU(), tnn.Unflatten(1, (6, 2, 2)),
                                       tnn.ConvTranspose2d(6, 4, 4, 2, 1), tnn.ReLU(),
                                       tnn.ConvTranspose2d(4, 2, 4, 2, 1), tnn.Sigmoid())
    reference.load_state_dict({k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()})  # strict
    x = np.random.default_rng(0).random((5, 2, 8, 8)).astype(np.float32)
    expected = reference.decoder(reference.encoder(torch.tensor(x))).detach().numpy()
    np.testing.assert_allclose(model(gb.tensor(x)).detach().numpy(), expected, atol=1e-5, rtol=1e-4)


def test_masking_noise_zeroes_a_level_fraction_and_keeps_the_rest():
    x = np.random.default_rng(0).uniform(0.5, 1.0, (200, 100)).astype(np.float32)
    before = x.copy()
    noisy = add_noise(x, "masking", 0.3, np.random.default_rng(1))
    np.testing.assert_array_equal(x, before)  # the clean input is never modified
    zeroed = noisy == 0
    # 20000 Bernoulli(0.3) draws: standard error of the fraction is 0.0032; allow 5 of them
    assert abs(zeroed.mean() - 0.3) < 0.016
    np.testing.assert_array_equal(noisy[~zeroed], x[~zeroed])
    assert noisy.dtype == np.float32


def test_gaussian_noise_has_the_level_as_standard_deviation():
    x = np.full((100, 200), 0.25, dtype=np.float32)
    noise = add_noise(x, "gaussian", 0.2, np.random.default_rng(2)) - x
    assert abs(noise.mean()) < 5 * 0.2 / np.sqrt(x.size)
    assert abs(noise.std() - 0.2) < 0.005  # se of the std ~ 0.2 / sqrt(2 * 20000) = 0.001
    np.testing.assert_array_equal(x, 0.25)


def test_add_noise_keeps_the_kind_of_input_and_is_reproducible():
    t = gb.rand(4, 6)
    noisy = add_noise(t, "gaussian", 0.1, gb.Generator(5))
    assert isinstance(noisy, gb.Tensor) and noisy.shape == (4, 6) and not noisy.requires_grad
    np.testing.assert_array_equal(noisy.numpy(), add_noise(t, "gaussian", 0.1, gb.Generator(5)).numpy())
    np.testing.assert_array_equal(add_noise(t, "masking", 0.0).numpy(), t.numpy())
    with pytest.raises(ValueError, match="kind"):
        add_noise(t, "salt")
    with pytest.raises(ValueError, match="level"):
        add_noise(t, "masking", 1.5)


def test_denoising_step_feeds_noise_but_scores_against_the_clean_target():
    gb.manual_seed(0)
    model = Autoencoder(6, 4, 2)
    seen = {}
    original_forward = model.forward

    def spy_forward(x):
        seen["input"] = x.numpy().copy()
        return original_forward(x)

    model.forward = spy_forward
    trainer = Trainer(model, loss=nn.MSELoss(), optimizer=optim.SGD(model.parameters(), lr=0.1), verbose=0)
    original_loss = trainer.compute_loss

    def spy_loss(output, target):
        seen["output"], seen["target"] = output.detach().numpy().copy(), target.numpy().copy()
        return original_loss(output, target)

    trainer.compute_loss = spy_loss
    x = np.random.default_rng(0).uniform(0.2, 1.0, (8, 6)).astype(np.float32)
    batch = (gb.tensor(x), gb.tensor(x))
    logs = denoising_step("masking", 0.5, np.random.default_rng(1))(trainer, batch)
    np.testing.assert_array_equal(seen["target"], x)  # the target is the clean input
    np.testing.assert_array_equal(batch[0].numpy(), x)  # and the batch itself is untouched
    assert (seen["input"] == 0).any() and not np.array_equal(seen["input"], x)  # the model saw a corrupted copy
    np.testing.assert_allclose(logs["loss"], np.mean((seen["output"] - x) ** 2), rtol=1e-5)
    assert model.encoder[0].weight.grad is not None  # and the step trained the model
