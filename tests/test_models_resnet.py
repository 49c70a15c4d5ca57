"""ResNet-18/34/50: torchvision's state_dict keys, shapes and parameter counts, logits equal to PyTorch's after
loading its weights from a .safetensors file, train-mode gradients and BN running stats, small inputs, and init.

torchvision is not a dependency, so its ResNet (BasicBlock, Bottleneck v1.5, _make_layer, init) is written out
below in plain torch, layer for layer as torchvision defines it; it is the oracle for keys, shapes, counts and logits.
"""

import math

import numpy as np
import pytest
from model_parity import eval_logits, load_through_safetensors, shapes

import glassbox as gb
from glassbox.models import resnet as gb_resnet

torch = pytest.importorskip("torch")  # the oracle of almost every test here
tnn = torch.nn

# The parameter counts torchvision documents for its models (num_classes=1000, 3 input channels).
TORCHVISION_PARAMS = {"resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032}
LAYERS = {"resnet18": ("basic", [2, 2, 2, 2]), "resnet34": ("basic", [3, 4, 6, 3]),
          "resnet50": ("bottleneck", [3, 4, 6, 3])}


@pytest.fixture(autouse=True, scope="module")
def torch_single_thread():
    """The torch twins run on one thread here (restored afterwards): these inputs are tiny, and on a busy 2-core
    machine torch's OpenMP threads spin against each other; we measured its small convs taking 10x longer."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ----- torchvision's definitions, in plain torch --------------------------------------------------------------------
def tconv3x3(in_planes, out_planes, stride=1):
    return tnn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def tconv1x1(in_planes, out_planes, stride=1):
    return tnn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class TorchBasicBlock(tnn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = tconv3x3(inplanes, planes, stride)
        self.bn1 = tnn.BatchNorm2d(planes)
        self.relu = tnn.ReLU(inplace=True)
        self.conv2 = tconv3x3(planes, planes)
        self.bn2 = tnn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class TorchBottleneck(tnn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        width = planes
        self.conv1 = tconv1x1(inplanes, width)
        self.bn1 = tnn.BatchNorm2d(width)
        self.conv2 = tconv3x3(width, width, stride)  # v1.5: the stride sits on the 3x3 conv
        self.bn2 = tnn.BatchNorm2d(width)
        self.conv3 = tconv1x1(width, planes * self.expansion)
        self.bn3 = tnn.BatchNorm2d(planes * self.expansion)
        self.relu = tnn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class TorchResNet(tnn.Module):
    """torchvision.models.ResNet; in_channels / small_input mirror glassbox's documented change (3x3 stride-1
    conv1, Identity max-pool)."""

    def __init__(self, block, layers, num_classes=1000, zero_init_residual=False, in_channels=3, small_input=False):
        super().__init__()
        self.inplanes = 64
        if small_input:
            self.conv1 = tnn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
        else:
            self.conv1 = tnn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = tnn.BatchNorm2d(64)
        self.relu = tnn.ReLU(inplace=True)
        self.maxpool = tnn.Identity() if small_input else tnn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
        self.fc = tnn.Linear(512 * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, tnn.Conv2d):
                tnn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, tnn.BatchNorm2d):
                tnn.init.constant_(m.weight, 1)
                tnn.init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, TorchBottleneck):
                    tnn.init.constant_(m.bn3.weight, 0)
                elif isinstance(m, TorchBasicBlock):
                    tnn.init.constant_(m.bn2.weight, 0)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = tnn.Sequential(tconv1x1(self.inplanes, planes * block.expansion, stride),
                                        tnn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes))
        return tnn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def torch_resnet(name, **kwargs):
    kind, layers = LAYERS[name]
    return TorchResNet(TorchBasicBlock if kind == "basic" else TorchBottleneck, layers, **kwargs)


# ----- helpers ------------------------------------------------------------------------------------------------------
def randomize_batch_norms(model, seed=0):
    """Random BN affine parameters and running statistics (identity stats would make eval mode trivial), and a
    non-zero num_batches_tracked, so that every buffer must really be loaded."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, tnn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(0.5 + torch.rand(c, generator=gen))
                m.bias.copy_(0.2 * torch.randn(c, generator=gen))
                m.running_mean.copy_(0.2 * torch.randn(c, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(c, generator=gen))
                m.num_batches_tracked.fill_(int(torch.randint(1, 100, (1,), generator=gen)))
        # Each block's last BN gets a small scale, as in trained ResNets: otherwise every residual addition grows
        # the activations and ResNet-50's logits reach ~400 at 224 px, where float32 rounding alone exceeds 1e-4.
        for m in model.modules():
            if isinstance(m, (TorchBasicBlock, TorchBottleneck)):
                (m.bn3 if isinstance(m, TorchBottleneck) else m.bn2).weight.mul_(0.2)
    return model








# ----- structure ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["resnet18", "resnet34", "resnet50"])
def test_keys_shapes_and_parameter_counts_equal_torchvision(name):
    ours = getattr(gb_resnet, name)()
    theirs = torch_resnet(name)
    assert list(ours.state_dict()) == list(theirs.state_dict())  # same keys in the same order
    assert shapes(ours.state_dict()) == shapes(theirs.state_dict())
    count = sum(p.numel() for p in ours.parameters())
    assert count == sum(p.numel() for p in theirs.parameters()) == TORCHVISION_PARAMS[name]
    assert ours.state_dict()["bn1.num_batches_tracked"].dtype == gb.int64


def test_expected_keys_are_present():
    model = gb_resnet.resnet50(num_classes=10)
    keys = set(model.state_dict())
    for key in ("conv1.weight", "bn1.running_var", "bn1.num_batches_tracked", "layer1.0.downsample.0.weight",
                "layer1.0.downsample.1.running_mean", "layer4.2.conv3.weight", "layer4.2.bn3.bias", "fc.weight"):
        assert key in keys
    # v1.5: in the first block of a strided stage, conv2 (the 3x3) carries the stride, conv1 (1x1) does not.
    block = model.layer2[0]
    assert block.conv1.stride == (1, 1) and block.conv2.stride == (2, 2)


def test_small_input_keeps_every_key_and_changes_only_conv1():
    default, small = gb_resnet.resnet18(in_channels=1), gb_resnet.resnet18(in_channels=1, small_input=True)
    default_shapes, small_shapes = shapes(default.state_dict()), shapes(small.state_dict())
    assert list(default_shapes) == list(small_shapes)
    assert small_shapes.pop("conv1.weight") == (64, 1, 3, 3)
    assert default_shapes.pop("conv1.weight") == (64, 1, 7, 7)
    assert default_shapes == small_shapes
    assert isinstance(small.maxpool, gb.nn.Identity) and small.conv1.stride == (1, 1)


@pytest.mark.slow
@pytest.mark.parametrize("name, count", [("resnet101", 44_549_160), ("resnet152", 60_192_808)])
def test_resnet101_and_152_parameter_counts(name, count):
    # torchvision's documented counts (slow only because initialising 45-60M parameters takes seconds).
    assert sum(p.numel() for p in getattr(gb_resnet, name)().parameters()) == count


# ----- eval-mode parity through a .safetensors file -----------------------------------------------------------------
def check_eval_parity(name, tmp_path, size, small_input=False, num_classes=1000):
    torch.manual_seed(0)
    theirs = randomize_batch_norms(torch_resnet(name, num_classes=num_classes, small_input=small_input))
    ours = load_through_safetensors(theirs, getattr(gb_resnet, name)(num_classes=num_classes,
                                                                    small_input=small_input), tmp_path)
    x = np.random.default_rng(1).standard_normal((2, 3, size, size), dtype=np.float32)
    a, b = eval_logits(ours, theirs, x)
    assert a.shape == (2, num_classes)
    assert np.abs(b).max() > 0.1  # the comparison below must not be between two near-zero outputs
    np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-4)
    # eval mode leaves the loaded running statistics alone
    np.testing.assert_array_equal(ours.bn1.running_var.numpy(), theirs.bn1.running_var.numpy())


def test_resnet18_eval_logits_equal_torch_after_safetensors_load(tmp_path):
    check_eval_parity("resnet18", tmp_path, 64)


@pytest.mark.slow
def test_resnet18_eval_logits_equal_torch_at_224(tmp_path):
    check_eval_parity("resnet18", tmp_path, 224)


def test_resnet50_small_input_eval_logits_equal_torch(tmp_path):
    check_eval_parity("resnet50", tmp_path, 8, small_input=True, num_classes=10)


@pytest.mark.slow
def test_resnet50_eval_logits_equal_torch_at_224(tmp_path):
    check_eval_parity("resnet50", tmp_path, 224)


# ----- training mode: gradients and running statistics --------------------------------------------------------------
def test_resnet18_train_step_gradients_and_running_stats_equal_torch():
    torch.manual_seed(0)
    theirs = randomize_batch_norms(torch_resnet("resnet18", num_classes=10, small_input=True))
    ours = gb_resnet.resnet18(num_classes=10, small_input=True)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    ours.train()
    theirs.train()
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 32, 32), dtype=np.float32)
    proj = rng.standard_normal((2, 10), dtype=np.float32)  # a random projection of the logits as the loss

    gx = gb.tensor(x, requires_grad=True)
    out = ours(gx)
    (out * gb.from_numpy(proj)).sum().backward()
    tx = torch.tensor(x, requires_grad=True)
    tout = theirs(tx)
    (tout * torch.from_numpy(proj)).sum().backward()

    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), atol=1e-4, rtol=1e-4)
    # The standard gradient tolerances hold through all 18 layers of train-mode BN (measured: the worst element
    # stays within atol 1e-4 + rtol 1e-3, relative error of each whole gradient <= 2e-6), so none is loosened. As
    # atol 1e-4 alone would hide errors in gradients that are small everywhere, the relative error of each whole
    # gradient must also stay below 1e-4.
    def close(ours_grad, torch_grad, name):
        np.testing.assert_allclose(ours_grad, torch_grad, rtol=1e-3, atol=1e-4, err_msg=name)
        rel = np.linalg.norm(ours_grad - torch_grad) / np.linalg.norm(torch_grad)
        assert rel < 1e-4, (name, rel)

    close(gx.grad.numpy(), tx.grad.numpy(), "input")
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert p.grad is not None, name
        close(p.grad.numpy(), theirs_params[name].grad.numpy(), name)
    theirs_buffers = dict(theirs.named_buffers())
    for name, buf in ours.named_buffers():
        if name.endswith("num_batches_tracked"):
            assert int(buf.numpy()) == int(theirs_buffers[name])
        else:
            np.testing.assert_allclose(buf.numpy(), theirs_buffers[name].numpy(), atol=1e-5, rtol=1e-4,
                                       err_msg=name)


# ----- small images and channel counts ------------------------------------------------------------------------------
@pytest.mark.parametrize("in_channels", [1, 3])
def test_small_input_runs_on_8_28_32_pixels_like_torch(in_channels):
    torch.manual_seed(in_channels)
    theirs = randomize_batch_norms(torch_resnet("resnet18", num_classes=10, in_channels=in_channels,
                                                small_input=True))
    ours = gb_resnet.resnet18(num_classes=10, in_channels=in_channels, small_input=True)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(in_channels)
    for size in (8, 28, 32):
        x = rng.standard_normal((1, in_channels, size, size), dtype=np.float32)
        a, b = eval_logits(ours, theirs, x)
        assert a.shape == (1, 10)
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-4, err_msg=f"{size}x{size}")


@pytest.mark.parametrize("in_channels", [1, 3])
def test_imagenet_stem_runs_on_28_and_32_pixels(in_channels):
    # The ImageNet stem downsamples 32x: 28 and 32 px end as 1x1 maps, which still work (as in torchvision).
    torch.manual_seed(0)
    theirs = randomize_batch_norms(torch_resnet("resnet18", num_classes=5, in_channels=in_channels))
    ours = gb_resnet.resnet18(num_classes=5, in_channels=in_channels)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    for size in (28, 32):
        x = np.random.default_rng(size).standard_normal((2, in_channels, size, size), dtype=np.float32)
        a, b = eval_logits(ours, theirs, x)
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-4, err_msg=f"{size}x{size}")


def test_bottleneck_small_input_trains_on_8_pixels():
    gb.manual_seed(0)
    # One Bottleneck per stage: the same code paths as resnet50 (every stage's first block has a downsample).
    model = gb_resnet.ResNet(gb_resnet.Bottleneck, [1, 1, 1, 1], num_classes=3, in_channels=1, small_input=True)
    out = model(gb.randn(2, 1, 8, 8))
    out.sum().backward()
    assert out.shape == (2, 3) and np.isfinite(out.detach().numpy()).all()
    assert model.conv1.weight.grad.shape == (64, 1, 3, 3)


# ----- initialisation -----------------------------------------------------------------------------------------------
def test_init_matches_torchvision():
    gb.manual_seed(0)
    model = gb_resnet.resnet18()
    # He-normal with fan_out: std = sqrt(2 / (out_channels * k * k)); layer4's convs hold 2.4M values each.
    w = model.layer4[1].conv2.weight.detach().numpy()
    assert abs(w.std() / math.sqrt(2 / (512 * 9)) - 1) < 0.01 and abs(w.mean()) < 1e-4
    w = model.conv1.weight.detach().numpy()
    assert abs(w.std() / math.sqrt(2 / (64 * 49)) - 1) < 0.05
    for name, m in model.named_modules():
        if isinstance(m, gb.nn.BatchNorm2d):
            assert (m.weight.detach().numpy() == 1).all() and (m.bias.detach().numpy() == 0).all(), name
    # Linear keeps its default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the weight and the bias.
    bound = 1 / math.sqrt(512)
    fc = model.fc
    assert np.abs(fc.weight.detach().numpy()).max() <= bound and np.abs(fc.weight.detach().numpy()).max() > 0.99 * bound
    assert np.abs(fc.bias.detach().numpy()).max() <= bound


@pytest.mark.parametrize("name, last_bn", [("resnet18", "bn2"), ("resnet50", "bn3")])
def test_zero_init_residual_zeroes_each_blocks_last_bn(name, last_bn):
    model = getattr(gb_resnet, name)(num_classes=10, zero_init_residual=True)
    for stage in (model.layer1, model.layer2, model.layer3, model.layer4):
        for block in stage:
            assert (getattr(block, last_bn).weight.detach().numpy() == 0).all()
            assert (block.bn1.weight.detach().numpy() == 1).all()
    assert (model.bn1.weight.detach().numpy() == 1).all()
    # Each block now starts as relu(shortcut): in eval mode, a block without downsample is relu(x) = x for x >= 0.
    block = model.layer1[1].eval()
    x = gb.rand(1, block.conv1.in_channels, 5, 5)
    with gb.no_grad():
        np.testing.assert_allclose(block(x).numpy(), x.numpy(), atol=1e-6)


def test_basic_block_rejects_groups():
    with pytest.raises(ValueError, match="BasicBlock only supports groups=1"):
        gb_resnet.BasicBlock(64, 64, groups=2)
