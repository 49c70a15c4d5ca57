"""GoogLeNet: torchvision's state_dict keys, shapes and parameter count (with and without the auxiliary heads),
logits equal to PyTorch's after loading its weights from a .safetensors file, training-mode outputs (namedtuple with
the auxiliary logits) and BN running stats, transform_input, small inputs, and init.

torchvision is not a dependency, so its GoogLeNet (BasicConv2d, Inception with the 3x3 branch3, InceptionAux, init)
is written out below in plain torch, as torchvision defines it; it is the oracle for keys, shapes and logits.
"""

import importlib
from collections import namedtuple

import numpy as np
import pytest
from model_parity import copy_weights, eval_logits, load_through_safetensors, shapes

import glassbox as gb

# the module, not the function glassbox.models.googlenet that the package re-exports under the same name
gb_googlenet = importlib.import_module("glassbox.models.googlenet")

torch = pytest.importorskip("torch")  # the oracle of almost every test here
tnn = torch.nn
F = torch.nn.functional

TORCHVISION_PARAMS = 6_624_904  # torchvision's documented count: 1000 classes, no auxiliary heads
TorchOutputs = namedtuple("GoogLeNetOutputs", ["logits", "aux_logits2", "aux_logits1"])


@pytest.fixture(autouse=True, scope="module")
def torch_single_thread():
    """The torch twins run on one thread here (restored afterwards): these inputs are tiny, and on a busy 2-core
    machine torch's OpenMP threads spin against each other; we measured its small convs taking 10x longer."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ----- torchvision's definitions, in plain torch --------------------------------------------------------------------
class TorchBasicConv2d(tnn.Module):
    def __init__(self, in_channels, out_channels, **kwargs):
        super().__init__()
        self.conv = tnn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = tnn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)), inplace=True)


class TorchInception(tnn.Module):
    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__()
        self.branch1 = TorchBasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = tnn.Sequential(TorchBasicConv2d(in_channels, ch3x3red, kernel_size=1),
                                      TorchBasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1))
        self.branch3 = tnn.Sequential(TorchBasicConv2d(in_channels, ch5x5red, kernel_size=1),
                                      TorchBasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1))
        self.branch4 = tnn.Sequential(tnn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
                                      TorchBasicConv2d(in_channels, pool_proj, kernel_size=1))

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class TorchInceptionAux(tnn.Module):
    def __init__(self, in_channels, num_classes, dropout=0.7):
        super().__init__()
        self.conv = TorchBasicConv2d(in_channels, 128, kernel_size=1)
        self.fc1 = tnn.Linear(2048, 1024)
        self.fc2 = tnn.Linear(1024, num_classes)
        self.dropout = tnn.Dropout(p=dropout)

    def forward(self, x):
        x = torch.flatten(self.conv(F.adaptive_avg_pool2d(x, (4, 4))), 1)
        return self.fc2(self.dropout(F.relu(self.fc1(x), inplace=True)))


class TorchGoogLeNet(tnn.Module):
    """torchvision.models.GoogLeNet; in_channels / small_input mirror glassbox's documented change (3x3 stride-1
    conv1, Identity maxpool1)."""

    def __init__(self, num_classes=1000, aux_logits=True, transform_input=False, init_weights=True, dropout=0.2,
                 dropout_aux=0.7, in_channels=3, small_input=False):
        super().__init__()
        self.aux_logits, self.transform_input = aux_logits, transform_input
        if small_input:
            self.conv1 = TorchBasicConv2d(in_channels, 64, kernel_size=3, stride=1, padding=1)
            self.maxpool1 = tnn.Identity()
        else:
            self.conv1 = TorchBasicConv2d(in_channels, 64, kernel_size=7, stride=2, padding=3)
            self.maxpool1 = tnn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = TorchBasicConv2d(64, 64, kernel_size=1)
        self.conv3 = TorchBasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = tnn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = TorchInception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = TorchInception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = tnn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = TorchInception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = TorchInception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = TorchInception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = TorchInception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = TorchInception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = tnn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = TorchInception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = TorchInception(832, 384, 192, 384, 48, 128, 128)
        if aux_logits:
            self.aux1 = TorchInceptionAux(512, num_classes, dropout=dropout_aux)
            self.aux2 = TorchInceptionAux(528, num_classes, dropout=dropout_aux)
        else:
            self.aux1 = None
            self.aux2 = None
        self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
        self.dropout = tnn.Dropout(p=dropout)
        self.fc = tnn.Linear(1024, num_classes)
        for m in self.modules() if init_weights else ():
            if isinstance(m, (tnn.Conv2d, tnn.Linear)):
                tnn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
            elif isinstance(m, tnn.BatchNorm2d):
                tnn.init.constant_(m.weight, 1)
                tnn.init.constant_(m.bias, 0)

    def _transform_input(self, x):
        if self.transform_input:
            x_ch0 = torch.unsqueeze(x[:, 0], 1) * (0.229 / 0.5) + (0.485 - 0.5) / 0.5
            x_ch1 = torch.unsqueeze(x[:, 1], 1) * (0.224 / 0.5) + (0.456 - 0.5) / 0.5
            x_ch2 = torch.unsqueeze(x[:, 2], 1) * (0.225 / 0.5) + (0.406 - 0.5) / 0.5
            x = torch.cat((x_ch0, x_ch1, x_ch2), 1)
        return x

    def forward(self, x):
        x = self._transform_input(x)
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        x = self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))
        if self.training and self.aux_logits:
            return TorchOutputs(x, aux2, aux1)
        return x


# ----- helpers ------------------------------------------------------------------------------------------------------
def randomize(model, seed=0):
    """Replace every parameter and buffer (so parity tests build both twins with init_weights=False): weights at a
    scale that keeps activations O(1) through 22 layers (torchvision's std-0.01 init shrinks them towards zero,
    which would make any comparison weak), random BN affine parameters and running statistics."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (tnn.Conv2d, tnn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
            elif isinstance(m, tnn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(0.5 + torch.rand(c, generator=gen))
                m.bias.copy_(0.2 * torch.randn(c, generator=gen))
                m.running_mean.copy_(0.2 * torch.randn(c, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(c, generator=gen))
                m.num_batches_tracked.fill_(int(torch.randint(1, 100, (1,), generator=gen)))
    return model










# ----- structure ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("aux_logits", [False, True])
def test_keys_shapes_and_parameter_count_equal_torchvision(aux_logits):
    ours = gb_googlenet.googlenet(aux_logits=aux_logits)
    theirs = TorchGoogLeNet(aux_logits=aux_logits)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert shapes(ours.state_dict()) == shapes(theirs.state_dict())
    count = sum(p.numel() for p in ours.parameters())
    assert count == sum(p.numel() for p in theirs.parameters())
    if not aux_logits:
        assert count == TORCHVISION_PARAMS
    keys = set(ours.state_dict())
    for key in ("conv1.conv.weight", "conv1.bn.num_batches_tracked", "inception3a.branch1.conv.weight",
                "inception3a.branch2.0.bn.running_mean", "inception3a.branch3.1.conv.weight",
                "inception3a.branch4.1.conv.weight", "inception5b.branch4.1.bn.bias", "fc.bias"):
        assert key in keys
    assert ("aux1.fc1.weight" in keys) == aux_logits and ("aux2.conv.conv.weight" in keys) == aux_logits
    # torchvision's branch3 "5x5" is a 3x3 conv; BN uses eps=0.001.
    assert ours.inception4a.branch3[1].conv.weight.shape == (48, 16, 3, 3)
    assert ours.inception4a.branch3[1].bn.eps == 0.001


def test_small_input_keeps_every_key_and_changes_only_conv1():
    default, small = gb_googlenet.googlenet(in_channels=1), gb_googlenet.googlenet(in_channels=1, small_input=True)
    default_shapes, small_shapes = shapes(default.state_dict()), shapes(small.state_dict())
    assert list(default_shapes) == list(small_shapes)
    assert small_shapes.pop("conv1.conv.weight") == (64, 1, 3, 3)
    assert default_shapes.pop("conv1.conv.weight") == (64, 1, 7, 7)
    assert default_shapes == small_shapes


# ----- eval-mode parity through a .safetensors file -----------------------------------------------------------------
def check_eval_parity(tmp_path, size, aux_logits=False, small_input=False, num_classes=1000, transform_input=False):
    torch.manual_seed(0)
    theirs = randomize(TorchGoogLeNet(num_classes=num_classes, aux_logits=aux_logits, small_input=small_input,
                                      transform_input=transform_input, init_weights=False))
    ours = gb_googlenet.googlenet(num_classes=num_classes, aux_logits=aux_logits, small_input=small_input,
                                  transform_input=transform_input, init_weights=False)
    load_through_safetensors(theirs, ours, tmp_path)
    x = np.random.default_rng(1).standard_normal((2, 3, size, size), dtype=np.float32)
    a, b = eval_logits(ours, theirs, x)
    assert isinstance(a, np.ndarray) and a.shape == (2, num_classes)  # eval mode: logits only, even with aux heads
    assert np.abs(b).max() > 0.1  # the comparison below must not be between two near-zero outputs
    np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-4)


def test_eval_logits_equal_torch_after_safetensors_load(tmp_path):
    check_eval_parity(tmp_path, 64)


def test_eval_with_aux_heads_and_transform_input_returns_logits_equal_torch(tmp_path):
    check_eval_parity(tmp_path, 40, aux_logits=True, num_classes=10, transform_input=True)


def test_small_input_eval_logits_equal_torch(tmp_path):
    check_eval_parity(tmp_path, 16, small_input=True, num_classes=10)


@pytest.mark.slow
def test_eval_logits_equal_torch_at_224(tmp_path):
    check_eval_parity(tmp_path, 224)


# ----- training mode ------------------------------------------------------------------------------------------------
def check_train_mode(size, elementwise):
    """Training-mode forward and backward of the small-input GoogLeNet with both auxiliary heads, batch 2 of
    3 x size x size, in float64 on both sides, against torch: outputs, every gradient, every BN buffer.

    Why float64: in float32 the two libraries' gradients can differ by far more than rounding, because the
    max-pools choose between nearly equal values and a float32 rounding difference can send a gradient to another
    pixel (measured on one input: torch float32 vs torch float64 2e-2 relative, glassbox float32 4e-5; on another
    input the other way around). In float64 two implementations of the same function agree to ~1e-12. Dropout is
    off (p=0) because the two libraries draw different masks; everything else must agree.
    """
    torch.manual_seed(0)
    theirs = randomize(TorchGoogLeNet(num_classes=10, aux_logits=True, dropout=0.0, dropout_aux=0.0,
                                      small_input=True, init_weights=False)).double()
    ours = gb_googlenet.googlenet(num_classes=10, aux_logits=True, dropout=0.0, small_input=True, dropout_aux=0.0,
                                  init_weights=False)
    ours = copy_weights(theirs, ours.double())
    ours.train()
    theirs.train()
    x = np.random.default_rng(3).standard_normal((2, 3, size, size))
    gx = gb.tensor(x, requires_grad=True)
    out = ours(gx)
    tx = torch.tensor(x, requires_grad=True)
    tout = theirs(tx)
    assert type(out).__name__ == "GoogLeNetOutputs" and out._fields == ("logits", "aux_logits2", "aux_logits1")
    for field in out._fields:
        np.testing.assert_allclose(getattr(out, field).detach().numpy(), getattr(tout, field).detach().numpy(),
                                   atol=1e-9, rtol=1e-7, err_msg=field)
    # The usual GoogLeNet loss: main loss + 0.3 x each auxiliary loss; gradients reach the input and every head.
    target = np.array([1, 7])
    (gb.nn.functional.cross_entropy(out.logits, gb.from_numpy(target))
     + 0.3 * gb.nn.functional.cross_entropy(out.aux_logits1, gb.from_numpy(target))
     + 0.3 * gb.nn.functional.cross_entropy(out.aux_logits2, gb.from_numpy(target))).backward()
    t_target = torch.from_numpy(target)
    (F.cross_entropy(tout.logits, t_target) + 0.3 * F.cross_entropy(tout.aux_logits1, t_target)
     + 0.3 * F.cross_entropy(tout.aux_logits2, t_target)).backward()
    theirs_params = dict(theirs.named_parameters())
    pairs = [("input", gx.grad.numpy(), tx.grad.numpy())]
    pairs += [(name, p.grad.numpy(), theirs_params[name].grad.numpy()) for name, p in ours.named_parameters()]
    for name, a, b in pairs:
        if elementwise:
            np.testing.assert_allclose(a, b, atol=1e-9, rtol=1e-7, err_msg=name)
        else:
            assert np.linalg.norm(a - b) <= 1e-8 * np.linalg.norm(b), name
    theirs_buffers = dict(theirs.named_buffers())
    for name, buf in ours.named_buffers():
        np.testing.assert_allclose(buf.numpy(), theirs_buffers[name].numpy(), atol=1e-11, rtol=1e-10, err_msg=name)


def test_train_mode_returns_namedtuple_equal_torch_and_updates_running_stats():
    # 8 px: aux1/aux2 see 2x2 maps (their 4x4 adaptive pooling repeats pixels), inception5 1x1 maps, where
    # train-mode BN normalises just 2 values per channel: gradients reach 1e4 and even float64 agrees only to ~1e-9
    # relative element by element (conditioning, not parity), so each whole gradient is compared by its norm.
    check_train_mode(8, elementwise=False)


@pytest.mark.slow
def test_train_mode_gradients_equal_torch_elementwise_at_16_pixels():
    # 16 px: inception5 sees 2x2 maps, BN averages 8 values per channel, and every element agrees to 1e-7.
    check_train_mode(16, elementwise=True)


def test_aux_heads_are_skipped_in_eval_and_without_aux_logits():
    model = gb_googlenet.googlenet(num_classes=4, small_input=True)  # aux_logits=False by default
    assert model.aux1 is None and model.aux2 is None
    out = model(gb.randn(2, 3, 8, 8))  # training mode, yet no auxiliary outputs
    assert isinstance(out, gb.Tensor) and out.shape == (2, 4)
    with_aux = gb_googlenet.googlenet(num_classes=4, small_input=True, aux_logits=True).eval()
    with gb.no_grad():
        out = with_aux(gb.randn(1, 3, 8, 8))
    assert isinstance(out, gb.Tensor) and out.shape == (1, 4)


# ----- small images and channel counts ------------------------------------------------------------------------------
@pytest.mark.parametrize("in_channels", [1, 3])
def test_small_input_runs_on_8_28_32_pixels_like_torch(in_channels):
    torch.manual_seed(in_channels)
    theirs = randomize(TorchGoogLeNet(num_classes=10, aux_logits=False, in_channels=in_channels, small_input=True,
                                      init_weights=False))
    ours = copy_weights(theirs, gb_googlenet.googlenet(num_classes=10, in_channels=in_channels, small_input=True,
                                                       init_weights=False))
    rng = np.random.default_rng(in_channels)
    for size in (8, 28, 32):
        x = rng.standard_normal((1, in_channels, size, size), dtype=np.float32)
        a, b = eval_logits(ours, theirs, x)
        assert a.shape == (1, 10)
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-4, err_msg=f"{size}x{size}")


@pytest.mark.parametrize("in_channels", [1, 3])
def test_imagenet_stem_runs_on_28_and_32_pixels_like_torch(in_channels):
    # The ImageNet stem downsamples 32x (ceil-mode pools): 28 and 32 px end as 1x1 maps, which still work.
    torch.manual_seed(0)
    theirs = randomize(TorchGoogLeNet(num_classes=5, aux_logits=False, in_channels=in_channels, init_weights=False))
    ours = copy_weights(theirs, gb_googlenet.googlenet(num_classes=5, in_channels=in_channels, init_weights=False))
    for size in (28, 32):
        x = np.random.default_rng(size).standard_normal((2, in_channels, size, size), dtype=np.float32)
        a, b = eval_logits(ours, theirs, x)
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-4, err_msg=f"{size}x{size}")


def test_transform_input_needs_three_channels():
    with pytest.raises(ValueError, match="in_channels=1"):
        gb_googlenet.googlenet(in_channels=1, transform_input=True)


# ----- initialisation -----------------------------------------------------------------------------------------------
def test_init_matches_torchvision():
    gb.manual_seed(0)
    model = gb_googlenet.googlenet(aux_logits=True)
    for name, m in model.named_modules():
        if isinstance(m, (gb.nn.Conv2d, gb.nn.Linear)):
            w = m.weight.detach().numpy()
            assert np.abs(w).max() <= 2.0, name  # truncated at +-2 (200 std: in practice never reached)
            if w.size > 100_000:
                assert abs(w.std() / 0.01 - 1) < 0.02 and abs(w.mean()) < 1e-4, name
        elif isinstance(m, gb.nn.BatchNorm2d):
            assert (m.weight.detach().numpy() == 1).all() and (m.bias.detach().numpy() == 0).all(), name
    assert (model.fc.bias.detach().numpy() != 0).any()  # biases keep the Linear default, as in torchvision
