"""GAN players: the DCGAN generator and discriminator (Radford et al. 2015) for small square images, and MLP ones."""

from .. import nn
from ..errors import ShapeError
from ..nn import init


def _check_image_size(image_size, who):
    # Two stride-2 layers double/halve the size twice, so the image side must be a multiple of 4 (8 -> 2, 28 -> 7).
    if int(image_size) < 4 or int(image_size) % 4:
        raise ValueError(f"{who}: image_size must be a multiple of 4 (at least 4), got {image_size}")
    return int(image_size)


def dcgan_init_(module):
    """The DCGAN paper's initialisation, in place: conv weights ~ N(0, 0.02), batch-norm weights ~ N(1, 0.02),
    biases 0. Use as model.apply(dcgan_init_)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        init.normal_(module.weight, 1.0, 0.02)
        init.zeros_(module.bias)


class DCGANGenerator(nn.Module):
    """DCGAN generator: latents (N, latent_dim) -> images (N, channels, S, S) in [-1, 1], S = image_size.

        net.0  ConvTranspose2d(latent_dim, 2*base, S/4, 1, 0)   (N, 2*base, S/4, S/4)   1x1 -> S/4 x S/4
        net.1  BatchNorm2d, net.2 ReLU
        net.3  ConvTranspose2d(2*base, base, 4, 2, 1)            (N, base, S/2, S/2)
        net.4  BatchNorm2d, net.5 ReLU
        net.6  ConvTranspose2d(base, channels, 4, 2, 1)          (N, channels, S, S)
        net.7  Tanh

    image_size 8 (the digits) starts from 2x2, 28 (MNIST) from 7x7. No bias before a batch norm (it would cancel).
    Weights use dcgan_init_.
    """

    def __init__(self, latent_dim=32, channels=1, base=32, image_size=8):
        super().__init__()
        self.latent_dim, self.channels = int(latent_dim), int(channels)
        self.image_size = _check_image_size(image_size, "DCGANGenerator")
        start = self.image_size // 4
        self.net = nn.Sequential(
            nn.ConvTranspose2d(latent_dim, 2 * base, start, 1, 0, bias=False),
            nn.BatchNorm2d(2 * base),
            nn.ReLU(),
            nn.ConvTranspose2d(2 * base, base, 4, 2, 1, bias=False),
            nn.BatchNorm2d(base),
            nn.ReLU(),
            nn.ConvTranspose2d(base, channels, 4, 2, 1),
            nn.Tanh(),
        )
        self.apply(dcgan_init_)

    def forward(self, z):
        """(N, latent_dim) -> (N, channels, image_size, image_size)."""
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ShapeError(f"DCGANGenerator: expected latents of shape (N, {self.latent_dim}), got "
                             f"{tuple(z.shape)}")
        return self.net(z.reshape(z.shape[0], self.latent_dim, 1, 1))


class DCGANDiscriminator(nn.Module):
    """DCGAN discriminator: images (N, channels, S, S) -> logits (N,) (real > 0 > fake), S = image_size.

        net.0  Conv2d(channels, base, 4, 2, 1)          (N, base, S/2, S/2)     no batch norm on the input layer
        net.1  LeakyReLU(0.2)
        net.2  Conv2d(base, 2*base, 4, 2, 1)            (N, 2*base, S/4, S/4)
        net.3  BatchNorm2d, net.4 LeakyReLU(0.2)
        head   Conv2d(2*base, 1, S/4, 1, 0)             (N, 1, 1, 1) -> (N,)

    features(x) returns the (N, 2*base*(S/4)^2) activations before the head. Weights use dcgan_init_.
    """

    def __init__(self, channels=1, base=32, image_size=8):
        super().__init__()
        self.channels = int(channels)
        self.image_size = _check_image_size(image_size, "DCGANDiscriminator")
        self.net = nn.Sequential(
            nn.Conv2d(channels, base, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(base, 2 * base, 4, 2, 1, bias=False),
            nn.BatchNorm2d(2 * base),
            nn.LeakyReLU(0.2),
        )
        self.head = nn.Conv2d(2 * base, 1, self.image_size // 4, 1, 0)
        self.apply(dcgan_init_)

    def _check(self, x):
        expected = (self.channels, self.image_size, self.image_size)
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ShapeError(f"DCGANDiscriminator: expected images of shape (N, {expected[0]}, {expected[1]}, "
                             f"{expected[2]}), got {tuple(x.shape)}")

    def features(self, x):
        """(N, channels, S, S) -> (N, 2*base*(S/4)^2)."""
        self._check(x)
        return self.net(x).flatten(1)

    def forward(self, x):
        """(N, channels, S, S) -> logits (N,)."""
        self._check(x)
        return self.head(self.net(x)).reshape(-1)


class MLPGenerator(nn.Module):
    """MLP generator: latents (N, latent_dim) -> (N, *out_shape) in [-1, 1].
    Linear -> ReLU for each width in `hidden`, then Linear(hidden[-1], prod(out_shape)) -> Tanh, reshaped."""

    def __init__(self, latent_dim=32, out_shape=(1, 8, 8), hidden=(128, 256)):
        super().__init__()
        self.latent_dim = int(latent_dim)
        self.out_shape = (int(out_shape),) if isinstance(out_shape, int) else tuple(int(s) for s in out_shape)
        out_features = 1
        for s in self.out_shape:
            out_features *= s
        layers, width = [], self.latent_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        self.net = nn.Sequential(*layers, nn.Linear(width, out_features), nn.Tanh())

    def forward(self, z):
        """(N, latent_dim) -> (N, *out_shape)."""
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ShapeError(f"MLPGenerator: expected latents of shape (N, {self.latent_dim}), got {tuple(z.shape)}")
        return self.net(z).reshape(z.shape[0], *self.out_shape)


class MLPDiscriminator(nn.Module):
    """MLP discriminator: samples (N, ...) with in_features values each -> logits (N,).
    Flatten, then Linear -> LeakyReLU(0.2) for each width in `hidden`, then Linear(hidden[-1], 1)."""

    def __init__(self, in_features=64, hidden=(256, 128)):
        super().__init__()
        self.in_features = int(in_features)
        layers, width = [], self.in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LeakyReLU(0.2)]
            width = h
        self.net = nn.Sequential(*layers, nn.Linear(width, 1))

    def forward(self, x):
        """(N, ...) with prod(...) == in_features -> (N,)."""
        flat = x.reshape(x.shape[0], -1)
        if flat.shape[1] != self.in_features:
            raise ShapeError(f"MLPDiscriminator: expected {self.in_features} values per sample, got input of shape "
                             f"{tuple(x.shape)}")
        return self.net(flat).reshape(-1)
