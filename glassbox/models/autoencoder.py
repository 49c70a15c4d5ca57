"""Autoencoders: a dense one and a convolutional one (each with encode, decode, forward), and the input noise of a
denoising autoencoder with the training step that feeds noisy inputs and scores against the clean ones."""

import numpy as np

from .. import nn
from ..errors import ShapeError
from ..random import Generator, numpy_generator
from ..tensor import Tensor

_OUTPUTS = {"sigmoid": nn.Sigmoid, None: None}


def _output_layer(output_activation, where):
    if output_activation not in _OUTPUTS:
        raise ValueError(f"{where}: output_activation must be 'sigmoid' or None, got {output_activation!r}")
    return [] if _OUTPUTS[output_activation] is None else [_OUTPUTS[output_activation]()]


def _mlp(sizes):
    """Linear layers through `sizes` with ReLU between them (none after the last)."""
    layers = []
    for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if k < len(sizes) - 2:
            layers.append(nn.ReLU())
    return layers


class Autoencoder(nn.Module):
    """A dense autoencoder: in_features -> hidden... -> code_size -> reversed(hidden)... -> in_features.

    encode: (N, in_features) -> (N, code_size) (a linear code, no activation); decode: (N, code_size) ->
    (N, in_features), through a sigmoid when output_activation='sigmoid' (inputs scaled to [0, 1]) or linear
    when None. state_dict keys: encoder.{0,2,...}.*, decoder.{0,2,...}.*."""

    def __init__(self, in_features, hidden=(128, 64), code_size=2, output_activation="sigmoid"):
        super().__init__()
        hidden = (hidden,) if isinstance(hidden, int) else tuple(hidden)
        if min((in_features, code_size) + hidden) < 1:
            raise ValueError(f"Autoencoder: sizes must be positive, got in_features={in_features}, "
                             f"hidden={hidden}, code_size={code_size}")
        self.in_features, self.code_size = in_features, code_size
        self.encoder = nn.Sequential(*_mlp((in_features,) + hidden + (code_size,)))
        self.decoder = nn.Sequential(*_mlp((code_size,) + hidden[::-1] + (in_features,)),
                                     *_output_layer(output_activation, "Autoencoder"))

    def encode(self, x):
        """(N, in_features) -> (N, code_size)."""
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ShapeError(f"Autoencoder(in_features={self.in_features}) expected input of shape "
                             f"(N, {self.in_features}), got {tuple(x.shape)}: flatten images first")
        return self.encoder(x)

    def decode(self, code):
        """(N, code_size) -> (N, in_features)."""
        return self.decoder(code)

    def forward(self, x):
        """(N, in_features) -> reconstruction (N, in_features)."""
        return self.decode(self.encode(x))


class ConvAutoencoder(nn.Module):
    """A convolutional autoencoder for square images whose side is divisible by 2 ** len(channels) (8x8, 28x28).

    Encoder: per entry of `channels`, Conv2d(3x3, stride 2, padding 1) + ReLU halves the side; then Flatten and
    Linear to the code. Decoder: Linear + ReLU, Unflatten, and per stage ConvTranspose2d(4x4, stride 2, padding 1),
    which doubles the side exactly, ReLU between stages and the output activation at the end.
    encode: (N, in_channels, S, S) -> (N, code_size); decode: (N, code_size) -> (N, in_channels, S, S)."""

    def __init__(self, in_channels=1, code_size=2, image_size=8, channels=(16, 32), output_activation="sigmoid"):
        super().__init__()
        channels = tuple(channels)
        if not channels or image_size % (2 ** len(channels)) != 0:
            raise ValueError(f"ConvAutoencoder: image_size must be divisible by 2 ** len(channels) = "
                             f"{2 ** len(channels)}, got image_size={image_size}, channels={channels}")
        self.in_channels, self.code_size, self.image_size = in_channels, code_size, image_size
        side = image_size // 2 ** len(channels)
        flat = channels[-1] * side * side
        encoder = []
        for a, b in zip((in_channels,) + channels[:-1], channels):
            encoder += [nn.Conv2d(a, b, 3, stride=2, padding=1), nn.ReLU()]
        self.encoder = nn.Sequential(*encoder, nn.Flatten(), nn.Linear(flat, code_size))
        decoder = [nn.Linear(code_size, flat), nn.ReLU(), nn.Unflatten(1, (channels[-1], side, side))]
        reversed_channels = channels[::-1] + (in_channels,)
        for k, (a, b) in enumerate(zip(reversed_channels[:-1], reversed_channels[1:])):
            decoder.append(nn.ConvTranspose2d(a, b, 4, stride=2, padding=1))
            if k < len(channels) - 1:
                decoder.append(nn.ReLU())
        self.decoder = nn.Sequential(*decoder, *_output_layer(output_activation, "ConvAutoencoder"))

    def encode(self, x):
        """(N, in_channels, S, S) -> (N, code_size)."""
        expected = (self.in_channels, self.image_size, self.image_size)
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ShapeError(f"ConvAutoencoder expected input of shape (N, {', '.join(map(str, expected))}), "
                             f"got {tuple(x.shape)}")
        return self.encoder(x)

    def decode(self, code):
        """(N, code_size) -> (N, in_channels, S, S)."""
        return self.decoder(code)

    def forward(self, x):
        """(N, in_channels, S, S) -> reconstruction of the same shape."""
        return self.decode(self.encode(x))


def add_noise(x, kind="gaussian", level=0.2, rng=None):
    """A corrupted copy of x (an array or a Tensor, returned as the same kind; x itself is never changed).

    kind='gaussian': x + level * N(0, 1) per element (no clipping). kind='masking': each element set to 0 with
    probability `level` (the masking noise of Vincent et al. 2008). rng: a numpy Generator, a glassbox Generator,
    or None for glassbox's default generator. Used on training inputs only; the target stays the clean x."""
    if kind not in ("gaussian", "masking"):
        raise ValueError(f"add_noise: kind must be 'gaussian' or 'masking', got {kind!r}")
    if level < 0 or (kind == "masking" and level > 1):
        raise ValueError(f"add_noise: level must be >= 0 (and <= 1 for masking), got {level}")
    rng = rng if isinstance(rng, np.random.Generator) else numpy_generator(rng if isinstance(rng, Generator)
                                                                           else None)
    array = x.data if isinstance(x, Tensor) else np.asarray(x)
    if kind == "gaussian":
        noisy = array + (level * rng.standard_normal(array.shape)).astype(array.dtype)
    else:
        noisy = np.where(rng.random(array.shape) < level, np.zeros((), array.dtype), array)
    return Tensor._make(noisy) if isinstance(x, Tensor) else noisy


def denoising_step(kind="gaussian", level=0.2, rng=None):
    """A train_step for glassbox.train.fit: the model sees add_noise(inputs) while the loss compares its output
    with the clean targets (pass train=(x, x)); with level 0 it is the plain autoencoder step. Evaluation (val=)
    is unaffected: it feeds clean inputs."""

    def step(trainer, batch):
        inputs, targets = batch
        output = trainer.model(add_noise(inputs, kind, level, rng))
        loss = trainer.compute_loss(output, targets)
        trainer.optimizer.zero_grad()
        loss.backward()
        trainer.optimizer.step()
        trainer.update_metrics(output, targets)
        return {"loss": loss.item()}

    return step
