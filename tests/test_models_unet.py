"""U-Net: output shapes for even and odd sizes in both upsampling modes, state_dict keys, errors, and forward,
input and parameter gradients against an independent torch definition of the same architecture (weights copied
through load_state_dict), in training mode (batch statistics) and eval mode (running statistics)."""

import numpy as np
import pytest

import glassbox as gb
from glassbox.errors import ShapeError
from glassbox.models.unet import UNet, unet


@pytest.mark.parametrize("bilinear", [False, True])
@pytest.mark.parametrize("depth,size", [(1, (2, 2)), (2, (16, 16)), (2, (13, 11)), (3, (17, 31)), (3, (8, 9)),
                                        (4, (35, 16))])
def test_unet_output_shape(bilinear, depth, size):
    model = unet(in_channels=2, num_classes=5, base_channels=4, depth=depth, bilinear=bilinear)
    x = gb.from_numpy(np.random.default_rng(0).standard_normal((2, 2, *size)).astype(np.float32))
    assert model(x).shape == (2, 5, *size)


def _double_conv_params(cin, cout, mid=None):
    """Two bias-free 3x3 convolutions, each followed by a BatchNorm2d (weight and bias per channel)."""
    mid = mid or cout
    return 9 * cin * mid + 2 * mid + 9 * mid * cout + 2 * cout


def test_unet_default_widths_and_keys():
    """The defaults are the classic U-Net: 64, 128, ..., 1024 channels; the parameter count follows by hand."""
    c = [64, 128, 256, 512, 1024]
    encoder = _double_conv_params(3, 64) + sum(_double_conv_params(c[i - 1], c[i]) for i in range(1, 4))
    head = 64 * 2 + 2
    expected_transposed = (encoder + _double_conv_params(512, 1024) + head
                           + sum(c[i + 1] * c[i] * 4 + c[i] + _double_conv_params(c[i + 1], c[i]) for i in range(4)))
    expected_bilinear = (encoder + _double_conv_params(512, 512) + head + _double_conv_params(128, 64, 64)
                         + sum(_double_conv_params(c[i + 1], c[i] // 2, c[i]) for i in range(1, 4)))
    transposed, bilinear = unet(), unet(bilinear=True)
    assert transposed.num_parameters() == expected_transposed  # 31,037,698 (31.0M, as the U-Net is known)
    assert bilinear.num_parameters() == expected_bilinear  # 17.3M
    keys = list(transposed.state_dict())
    assert keys[0] == "inc.double_conv.0.weight" and keys[-1] == "outc.conv.bias"
    assert transposed.state_dict()["down4.maxpool_conv.1.double_conv.3.weight"].shape == (1024, 1024, 3, 3)
    assert transposed.state_dict()["up1.up.weight"].shape == (1024, 512, 2, 2)
    assert bilinear.state_dict()["down4.maxpool_conv.1.double_conv.3.weight"].shape == (512, 512, 3, 3)
    assert not any(k.startswith("up1.up.") for k in bilinear.state_dict())
    plain = unet(batch_norm=False, depth=1, base_channels=4)
    assert "inc.double_conv.2.bias" in plain.state_dict() and not any("running" in k for k in plain.state_dict())


@pytest.mark.parametrize("shape,match", [((1, 3, 15, 16), r"H, W >= 2\*\*depth = 16 \(depth=4\).*\(1, 3, 15, 16\)"),
                                         ((1, 1, 32, 32), r"UNet: expected input \(N, 3, H, W\)"),
                                         ((3, 32, 32), r"got shape \(3, 32, 32\)")])
def test_unet_input_errors(shape, match):
    with pytest.raises(ShapeError, match=match):
        unet(base_channels=2)(gb.zeros(*shape))


def test_unet_construction_errors():
    with pytest.raises(ValueError, match="UNet: depth and base_channels must be >= 1"):
        UNet(depth=0)
    with pytest.raises(ValueError, match="base_channels must be even, got 3"):
        UNet(base_channels=3, bilinear=True)


# ----- against torch -------------------------------------------------------------------------------------------------

def torch_unet(torch, in_channels, num_classes, base_channels, depth, bilinear, batch_norm):
    """The same architecture written directly in torch (milesial's Pytorch-UNet, generalised to any depth)."""
    nn, F = torch.nn, torch.nn.functional

    class DoubleConv(nn.Module):
        def __init__(self, cin, cout, mid=None):
            super().__init__()
            mid = mid or cout
            if batch_norm:
                layers = [nn.Conv2d(cin, mid, 3, padding=1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(),
                          nn.Conv2d(mid, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
            else:
                layers = [nn.Conv2d(cin, mid, 3, padding=1), nn.ReLU(), nn.Conv2d(mid, cout, 3, padding=1), nn.ReLU()]
            self.double_conv = nn.Sequential(*layers)

        def forward(self, x):
            return self.double_conv(x)

    class Down(nn.Module):
        def __init__(self, cin, cout):
            super().__init__()
            self.maxpool_conv = nn.Sequential(nn.MaxPool2d(2), DoubleConv(cin, cout))

        def forward(self, x):
            return self.maxpool_conv(x)

    class Up(nn.Module):
        def __init__(self, cin, cout):
            super().__init__()
            if bilinear:
                self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
                self.conv = DoubleConv(cin, cout, cin // 2)
            else:
                self.up = nn.ConvTranspose2d(cin, cin // 2, kernel_size=2, stride=2)
                self.conv = DoubleConv(cin, cout)

        def forward(self, x1, x2):
            x1 = self.up(x1)
            dy, dx = x2.size(2) - x1.size(2), x2.size(3) - x1.size(3)
            x1 = F.pad(x1, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
            return self.conv(torch.cat([x2, x1], dim=1))

    class OutConv(nn.Module):
        def __init__(self, cin, cout):
            super().__init__()
            self.conv = nn.Conv2d(cin, cout, kernel_size=1)

        def forward(self, x):
            return self.conv(x)

    class TorchUNet(nn.Module):
        def __init__(self):
            super().__init__()
            c = [base_channels * 2**i for i in range(depth + 1)]
            factor = 2 if bilinear else 1
            self.inc = DoubleConv(in_channels, c[0])
            for i in range(1, depth + 1):
                setattr(self, f"down{i}", Down(c[i - 1], c[i] // factor if i == depth else c[i]))
            for j in range(1, depth + 1):
                level = depth - j
                setattr(self, f"up{j}", Up(c[level + 1], c[level] if j == depth else c[level] // factor))
            self.outc = OutConv(c[0], num_classes)

        def forward(self, x):
            skips = [self.inc(x)]
            for i in range(1, depth + 1):
                skips.append(getattr(self, f"down{i}")(skips[-1]))
            x = skips.pop()
            for j in range(1, depth + 1):
                x = getattr(self, f"up{j}")(x, skips.pop())
            return self.outc(x)

    return TorchUNet()


def _pair(torch, **kwargs):
    torch.manual_seed(0)
    theirs = torch_unet(torch, **kwargs)
    with torch.no_grad():  # non-trivial BN affine parameters and running statistics, so eval mode tests them
        for module in theirs.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 2.0)
    ours = unet(**kwargs)
    state = {k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()}
    assert list(ours.state_dict()) == list(state)
    ours.load_state_dict(state)
    return ours, theirs


CASES = [  # (kwargs, input shape): odd sizes exercise the padding of the upsampled maps
    (dict(in_channels=3, num_classes=4, base_channels=4, depth=3, bilinear=False, batch_norm=True), (2, 3, 19, 13)),
    (dict(in_channels=3, num_classes=4, base_channels=4, depth=3, bilinear=True, batch_norm=True), (2, 3, 19, 13)),
    (dict(in_channels=2, num_classes=3, base_channels=4, depth=2, bilinear=False, batch_norm=False), (2, 2, 16, 10)),
    (dict(in_channels=2, num_classes=3, base_channels=6, depth=2, bilinear=True, batch_norm=False), (3, 2, 9, 12)),
]


def _close(actual, expected, atol, rtol, name=""):
    np.testing.assert_allclose(actual, expected, atol=atol, rtol=rtol, err_msg=name)


@pytest.mark.parametrize("train,dtype", [(True, "float32"), (False, "float32"), (True, "float64")],
                         ids=["train-float32", "eval-float32", "train-float64"])
@pytest.mark.parametrize("kwargs,shape", CASES, ids=[f"{'bilinear' if k['bilinear'] else 'transposed'}-"
                                                     f"{'bn' if k['batch_norm'] else 'nobn'}-{s[2]}x{s[3]}"
                                                     for k, s in CASES])
def test_unet_matches_torch(torch, kwargs, shape, train, dtype):
    ours, theirs = _pair(torch, **kwargs)
    if dtype == "float64":
        ours, theirs = ours.double(), theirs.double()
    ours.train(train)
    theirs.train(train)
    x = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    gx, tx = gb.from_numpy(x.copy()).requires_grad_(), torch.from_numpy(x.copy()).requires_grad_()
    g_out, t_out = ours(gx), theirs(tx)
    assert g_out.shape == tuple(t_out.shape) == (shape[0], kwargs["num_classes"], *shape[2:])
    assert g_out.dtype == gb.float32 if dtype == "float32" else gb.float64
    r = np.random.default_rng(2).standard_normal(tuple(t_out.shape)).astype(dtype)
    (t_out * torch.from_numpy(r)).sum().backward()
    (g_out * gb.from_numpy(r)).sum().backward()
    grads = [("input", gx.grad.data, tx.grad.numpy())]
    ours_params = dict(ours.named_parameters())
    grads += [(name, ours_params[name].grad.data, p.grad.numpy()) for name, p in theirs.named_parameters()]
    if dtype == "float64":  # the same arithmetic up to summation order: agreement to ~1e-12 relative
        _close(g_out.data, t_out.detach().numpy(), 1e-10, 1e-8)
        for name, actual, expected in grads:
            _close(actual, expected, 1e-9 * max(1.0, np.abs(expected).max()), 1e-7, name)
    else:
        _close(g_out.data, t_out.detach().numpy(), 1e-5, 1e-4)
        # A parameter gradient here sums N*H*W products through ~15 layers and reaches |g| ~ 100, so float32
        # rounding (relative to those large terms, ~1e-6 of the largest entry) can leave an entry near zero off by
        # more than 1e-4 absolute: the absolute tolerance scales with the tensor's largest gradient (never below
        # the usual 1e-4). The float64 run above is the tight check.
        for name, actual, expected in grads:
            _close(actual, expected, 1e-4 * max(1.0, np.abs(expected).max() / 10), 1e-3, name)
    for name, buffer in theirs.state_dict().items():  # running statistics after the step (train mode updates them)
        if "running" in name:
            _close(ours.state_dict()[name].data, buffer.numpy(), 1e-5, 1e-4, name)
