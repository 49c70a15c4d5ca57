"""LeNet-5, AlexNet and VGG: output shapes on small and large images, torchvision's state_dict keys and shapes,
logits equal to PyTorch's after loading its weights from a .safetensors file, gradients, and init statistics.

torchvision is not a dependency, so its AlexNet and VGG are written out below in plain torch (layer for layer, as
torchvision defines them); they are the oracle for keys, shapes, parameter counts, init and logits.
"""

import importlib
import math

import numpy as np
import pytest

import glassbox as gb
import glassbox.io as gio
from glassbox.autograd.gradient_check import gradcheck
from glassbox.models import lenet as gb_lenet
from glassbox.models import vgg as gb_vgg

# the module, not the function glassbox.models.alexnet that the package re-exports under the same name
gb_alexnet = importlib.import_module("glassbox.models.alexnet")

torch = pytest.importorskip("torch")  # the oracle of almost every test here
tnn = torch.nn

VGG_BUILDERS = {"vgg11": ("A", False), "vgg11_bn": ("A", True), "vgg13": ("B", False), "vgg13_bn": ("B", True),
                "vgg16": ("D", False), "vgg16_bn": ("D", True), "vgg19": ("E", False), "vgg19_bn": ("E", True)}
# Written out independently of glassbox's CFGS, from the VGG paper's table 1 (columns A, B, D, E).
TORCH_CFGS = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}
# The parameter counts torchvision documents for its models (num_classes=1000).
TORCHVISION_PARAMS = {"alexnet": 61_100_840, "vgg11": 132_863_336, "vgg16": 138_357_544}


# ----- torchvision's definitions, in plain torch --------------------------------------------------------------------
class TorchAlexNet(tnn.Module):
    """torchvision.models.AlexNet; small_input mirrors glassbox's documented change (3x3 stem, padded pools)."""

    def __init__(self, num_classes=1000, in_channels=3, dropout=0.5, small_input=False):
        super().__init__()
        stem = (tnn.Conv2d(in_channels, 64, 3, 1, 1) if small_input else tnn.Conv2d(in_channels, 64, 11, 4, 2))
        pad = 1 if small_input else 0
        self.features = tnn.Sequential(
            stem, tnn.ReLU(inplace=True), tnn.MaxPool2d(3, 2, pad),
            tnn.Conv2d(64, 192, 5, padding=2), tnn.ReLU(inplace=True), tnn.MaxPool2d(3, 2, pad),
            tnn.Conv2d(192, 384, 3, padding=1), tnn.ReLU(inplace=True),
            tnn.Conv2d(384, 256, 3, padding=1), tnn.ReLU(inplace=True),
            tnn.Conv2d(256, 256, 3, padding=1), tnn.ReLU(inplace=True), tnn.MaxPool2d(3, 2, pad))
        self.avgpool = tnn.AdaptiveAvgPool2d((6, 6))
        self.classifier = tnn.Sequential(
            tnn.Dropout(dropout), tnn.Linear(256 * 6 * 6, 4096), tnn.ReLU(inplace=True),
            tnn.Dropout(dropout), tnn.Linear(4096, 4096), tnn.ReLU(inplace=True), tnn.Linear(4096, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def torch_make_layers(cfg, batch_norm, in_channels=3, small_input=False):
    layers = []
    for v in cfg:
        if v == "M":
            layers.append(tnn.MaxPool2d(2, 2, ceil_mode=small_input))
        else:
            layers += [tnn.Conv2d(in_channels, v, 3, padding=1)]
            layers += [tnn.BatchNorm2d(v), tnn.ReLU(inplace=True)] if batch_norm else [tnn.ReLU(inplace=True)]
            in_channels = v
    return tnn.Sequential(*layers)


class TorchVGG(tnn.Module):
    """torchvision.models.VGG with its _initialize_weights."""

    def __init__(self, features, num_classes=1000, dropout=0.5):
        super().__init__()
        self.features = features
        self.avgpool = tnn.AdaptiveAvgPool2d((7, 7))
        self.classifier = tnn.Sequential(
            tnn.Linear(512 * 7 * 7, 4096), tnn.ReLU(True), tnn.Dropout(dropout),
            tnn.Linear(4096, 4096), tnn.ReLU(True), tnn.Dropout(dropout), tnn.Linear(4096, num_classes))
        for m in self.modules():
            if isinstance(m, tnn.Conv2d):
                tnn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                tnn.init.constant_(m.bias, 0)
            elif isinstance(m, tnn.BatchNorm2d):
                tnn.init.constant_(m.weight, 1)
                tnn.init.constant_(m.bias, 0)
            elif isinstance(m, tnn.Linear):
                tnn.init.normal_(m.weight, 0, 0.01)
                tnn.init.constant_(m.bias, 0)

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def torch_vgg(name, num_classes=1000, in_channels=3, small_input=False):
    cfg, bn = VGG_BUILDERS[name]
    return TorchVGG(torch_make_layers(TORCH_CFGS[cfg], bn, in_channels, small_input), num_classes)


class TorchLeNet5(tnn.Module):
    """glassbox's LeNet5 as documented (both convs padded by 2, adaptive pool to 5x5), for the gradient test."""

    def __init__(self, num_classes=10, in_channels=1):
        super().__init__()
        self.features = tnn.Sequential(tnn.Conv2d(in_channels, 6, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2, 2),
                                       tnn.Conv2d(6, 16, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2, 2))
        self.avgpool = tnn.AdaptiveAvgPool2d((5, 5))
        self.classifier = tnn.Sequential(tnn.Linear(400, 120), tnn.ReLU(), tnn.Linear(120, 84), tnn.ReLU(),
                                         tnn.Linear(84, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


# ----- helpers ------------------------------------------------------------------------------------------------------
def _key_shapes(state):
    """[(key, shape, dtype kind)] in state_dict order, for torch and glassbox state dicts alike."""
    return [(k, tuple(v.shape), np.dtype(str(v.dtype).replace("torch.", "")).kind) for k, v in state.items()]


def _images(n, c, size, seed=0):
    return np.random.default_rng(seed).standard_normal((n, c, size, size)).astype(np.float32)


def _logits(model, x):
    model.eval()
    with gb.no_grad():
        return model(gb.from_numpy(x)).data


def _torch_logits(model, x):
    model.eval()
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


def _randomize(model, seed):
    """Random weights and batch-norm statistics everywhere (torchvision's VGG init leaves biases at 0 and the
    statistics at 0/1, which would let a wrong bias or statistic go unnoticed)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (tnn.Conv2d, tnn.Linear)):
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
            elif isinstance(m, tnn.BatchNorm2d):
                m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=g))
                m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=g))
                m.running_mean.copy_(0.3 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
                m.num_batches_tracked.fill_(int(torch.randint(1, 1000, (1,), generator=g)))
    return model


def _check_parity(torch_model, gb_model, inputs, tmp_path):
    """Save torch's state_dict as .safetensors, load it through glassbox.io into gb_model, compare eval logits on
    each input; then give gb_model its own weights back (the models are shared between tests)."""
    from safetensors.torch import save_file

    own = {k: v.data.copy() for k, v in gb_model.state_dict().items()}
    path = tmp_path / "model.safetensors"
    save_file({k: v.contiguous() for k, v in torch_model.state_dict().items()}, str(path))
    try:
        gb_model.load_state_dict(gio.load(path))  # strict: every key present, no extra one, every shape equal
        pairs = [(_logits(gb_model, x), _torch_logits(torch_model, x)) for x in inputs]
    finally:
        gb_model.load_state_dict(own)
    for got, expected in pairs:
        assert got.shape == expected.shape
        # atol 1e-4 rather than 1e-5: float32 sums of up to 25088 terms per value, in another order than torch's
        np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)
        # and relative to the logits' scale, which the init makes small (std ~0.01), so atol alone would be loose
        assert np.abs(got - expected).max() <= 1e-3 * np.abs(expected).max()


# ----- shared models: building a VGG or AlexNet costs seconds (the init of its 25088x4096 or 9216x4096 layer), so
# tests share one model per configuration (name, num_classes, in_channels, small_input); tests that load other
# weights into a glassbox model restore its own afterwards, and nothing changes a torch reference after it is built.
@pytest.fixture(scope="module")
def build():
    """glassbox models, as their builders make them."""
    cache = {}

    def get(name, num_classes=1000, in_channels=3, small_input=False):
        key = (name, num_classes, in_channels, small_input)
        if key not in cache:
            gb.manual_seed(len(cache))
            module = gb_alexnet if name == "alexnet" else gb_vgg
            cache[key] = getattr(module, name)(num_classes=num_classes, in_channels=in_channels,
                                               small_input=small_input)
        return cache[key]

    return get


@pytest.fixture(scope="module")
def reference():
    """torch models of the same configurations: torchvision's init for every weight; VGG biases and batch-norm
    statistics then randomized (AlexNet's default init already draws random biases)."""
    cache = {}

    def get(name, num_classes=1000, in_channels=3, small_input=False):
        key = (name, num_classes, in_channels, small_input)
        if key not in cache:
            torch.manual_seed(len(cache))
            if name == "alexnet":
                cache[key] = TorchAlexNet(num_classes, in_channels, small_input=small_input)
            else:
                cache[key] = _randomize(torch_vgg(name, num_classes, in_channels, small_input), seed=len(cache))
        return cache[key]

    return get


# The configurations the default run builds beside the standard alexnet, vgg11 and vgg11_bn.
SMALL_ALEXNETS = [("alexnet", 10, 1, True), ("alexnet", 10, 3, True)]
SMALL_VGGS = [("vgg11", 10, 1, True), ("vgg11_bn", 1000, 3, True)]


# ----- output shapes ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("channels", [1, 3])
def test_lenet5_output_shape_on_every_size(channels):
    model = gb_lenet.lenet5(num_classes=7, in_channels=channels)
    for size in (8, 28, 32, 224):
        n = 1 if size == 224 else 2
        assert _logits(model, _images(n, channels, size)).shape == (n, 7)


def test_lenet5_rejects_too_small_input():
    with pytest.raises(gb.ShapeError, match=r"LeNet5.*H, W >= 4.*\(2, 1, 3, 3\)"):
        gb_lenet.lenet5()(gb.zeros(2, 1, 3, 3))
    assert gb_lenet.lenet5()(gb.zeros(1, 1, 4, 4)).shape == (1, 10)  # the documented minimum works


@pytest.mark.parametrize("config", SMALL_ALEXNETS + SMALL_VGGS, ids=str)
def test_small_input_output_shape(build, config):
    name, classes, channels, _ = config
    model = build(*config)
    for size in (8, 28, 32):
        assert _logits(model, _images(2, channels, size)).shape == (2, classes)


def test_alexnet_224_and_size_limits(build):
    model = build("alexnet")
    assert _logits(model, _images(1, 3, 224)).shape == (1, 1000)
    assert _logits(model, _images(1, 3, 63)).shape == (1, 1000)  # the documented minimum works
    with pytest.raises(gb.ShapeError, match=r"AlexNet\(small_input=False\).*>= 63.*small_input=True"):
        model(gb.zeros(1, 3, 62, 62))
    with pytest.raises(gb.ShapeError, match="AlexNet"):
        model(gb.zeros(3, 64, 64))


def test_vgg11_224_and_size_limits(build):
    model = build("vgg11")
    assert _logits(model, _images(1, 3, 224)).shape == (1, 1000)
    assert _logits(model, _images(2, 3, 32)).shape == (2, 1000)  # 32 works without small_input
    with pytest.raises(gb.ShapeError, match=r"VGG\(small_input=False\).*>= 32.*\(1, 3, 28, 28\).*small_input=True"):
        model(gb.zeros(1, 3, 28, 28))


@pytest.mark.slow
@pytest.mark.parametrize("name", list(VGG_BUILDERS))
def test_every_vgg_small_input_keys_and_output_shape(name):
    """Every variant with 1 and 3 channels: torchvision's keys and shapes (small_input changes none) and logits of
    the right shape on 8x8, 28x28 and 32x32."""
    for channels in (1, 3):
        model = getattr(gb_vgg, name)(num_classes=10, in_channels=channels, small_input=True)
        assert _key_shapes(model.state_dict()) == _key_shapes(torch_vgg(name, 10, channels).state_dict())
        for size in (8, 28, 32):
            assert _logits(model, _images(2, channels, size)).shape == (2, 10)


# ----- state_dict keys, shapes and parameter counts against torchvision's definitions -------------------------------
@pytest.mark.parametrize("config", [("alexnet",)] + SMALL_ALEXNETS + [("vgg11",)] + SMALL_VGGS, ids=str)
def test_whole_model_keys_and_shapes(build, reference, config):
    assert _key_shapes(build(*config).state_dict()) == _key_shapes(reference(*config).state_dict())


@pytest.mark.parametrize("name", list(VGG_BUILDERS))
def test_vgg_features_keys_and_shapes(name):
    """Every variant's `features` (the only part that differs between variants) against torchvision's; the shared
    head is compared on whole models above (vgg11 and the small ones), and on every variant in the slow test."""
    cfg, bn = VGG_BUILDERS[name]
    for channels in (1, 3):
        features = gb_vgg.make_layers(gb_vgg.CFGS[cfg], batch_norm=bn, in_channels=channels)
        torch_features = torch_make_layers(TORCH_CFGS[cfg], bn, channels)
        assert _key_shapes(features.state_dict()) == _key_shapes(torch_features.state_dict())


@pytest.mark.parametrize("name", ["alexnet", "vgg11"])
def test_parameter_count(build, reference, name):
    assert build(name).num_parameters() == sum(p.numel() for p in reference(name).parameters())
    assert build(name).num_parameters() == TORCHVISION_PARAMS[name]


# ----- the parity test: torch's weights through a .safetensors file give torch's logits ------------------------------
# 64x64 keeps these fast and exercises every weight: VGG's features end at 512x2x2 (AlexNet's at 256x1x1), and the
# adaptive pool turns that into the 7x7 (6x6) the classifier expects, as from 224x224, so every classifier input is
# used; the slow test repeats it at 224x224.
@pytest.mark.parametrize("name", ["vgg11", "vgg11_bn", "alexnet"])
def test_parity_with_torch_weights(build, reference, name, tmp_path):
    _check_parity(reference(name), build(name), [_images(2, 3, 64, seed=1)], tmp_path)  # AlexNet's minimum is 63


@pytest.mark.parametrize("config", SMALL_ALEXNETS + SMALL_VGGS, ids=str)
def test_small_input_parity_with_torch(build, reference, config, tmp_path):
    """small_input models compute what the same documented change computes in torch, on 28x28 (where the padded or
    ceil-mode pools matter: 7 and 3 are odd) and on 8x8 (down to 1x1)."""
    channels = config[2]
    inputs = [_images(2, channels, size, seed=size) for size in (28, 8)]
    _check_parity(reference(*config), build(*config), inputs, tmp_path)


def test_vgg_small_input_changes_only_pooling(build, reference, tmp_path):
    """torchvision's very VGG (floor-mode pools) is the reference here: a small_input VGG given its weights gives
    its logits on 32x32 and 64x64, where every pooled side is even."""
    inputs = [_images(2, 3, size, seed=size) for size in (32, 64)]
    _check_parity(reference("vgg11_bn"), build(*SMALL_VGGS[1]), inputs, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["vgg11", "vgg11_bn", "vgg16", "alexnet"])
def test_parity_with_torch_weights_at_224(build, reference, name, tmp_path):
    _check_parity(reference(name), build(name), [_images(1, 3, 224, seed=2)], tmp_path)
    assert build(name).num_parameters() == sum(p.numel() for p in reference(name).parameters())
    if name in TORCHVISION_PARAMS:
        assert build(name).num_parameters() == TORCHVISION_PARAMS[name]


# ----- gradients ----------------------------------------------------------------------------------------------------
def test_lenet5_gradients_match_torch():
    torch.manual_seed(12)
    reference = TorchLeNet5(num_classes=10, in_channels=1)
    model = gb_lenet.lenet5(num_classes=10, in_channels=1)
    model.load_state_dict({k: v.numpy() for k, v in reference.state_dict().items()})
    x = _images(4, 1, 28, seed=13)
    target = np.array([3, 1, 4, 1])
    a = gb.from_numpy(x.copy()).requires_grad_(True)
    b = torch.from_numpy(x.copy()).requires_grad_(True)
    loss = gb.nn.functional.cross_entropy(model(a), gb.from_numpy(target))
    torch_loss = tnn.functional.cross_entropy(reference(b), torch.from_numpy(target))
    loss.backward()
    torch_loss.backward()
    np.testing.assert_allclose(loss.item(), torch_loss.item(), atol=1e-5, rtol=1e-4)
    torch_grads = {k: p.grad.numpy() for k, p in reference.named_parameters()}
    grads = {k: p.grad.data for k, p in model.named_parameters()}
    assert grads.keys() == torch_grads.keys()
    for key, grad in grads.items():
        np.testing.assert_allclose(grad, torch_grads[key], atol=1e-4, rtol=1e-3, err_msg=key)
    np.testing.assert_allclose(a.grad.data, b.grad.numpy(), atol=1e-4, rtol=1e-3)


def test_lenet5_gradcheck_float64():
    """Random-direction finite differences through the whole network, input and every parameter, on 8x8."""
    gb.manual_seed(14)
    model = gb_lenet.lenet5(num_classes=3, in_channels=2).double()
    x = gb.from_numpy(np.random.default_rng(15).standard_normal((2, 2, 8, 8))).requires_grad_(True)
    params = list(model.parameters())
    assert all(p.dtype == np.float64 and p.requires_grad for p in params)
    assert gradcheck(lambda x, *_: model(x), (x, *params), random_directions=4, seed=16)


# ----- init statistics ------------------------------------------------------------------------------------------------
def test_vgg_init_matches_torchvision(build, reference):
    """Conv weights: std sqrt(2 / fan_out) (fan_out = out_channels * 9, twice fan_in where a layer doubles the
    channels, 21x it in the first layer), checked against the formula and torch's own sample within 10%; zero
    biases; linear weights N(0, 0.01^2). (The torch reference's biases were randomized, its weights were not.)"""
    torch_params = dict(reference("vgg11").named_parameters())
    for key, p in build("vgg11").named_parameters():
        w, t = p.data, torch_params[key].detach().numpy()
        if key.endswith("bias"):
            assert np.all(w == 0), key
        elif key.startswith("features"):
            expected = math.sqrt(2.0 / (w.shape[0] * w.shape[2] * w.shape[3]))
            assert abs(w.std() / expected - 1) < 0.1, key
            assert abs(w.std() / t.std() - 1) < 0.1, key
            assert abs(w.mean()) < 0.1 * expected, key
        else:
            assert abs(w.std() / 0.01 - 1) < 0.1 and abs(w.std() / t.std() - 1) < 0.1, key


def test_vgg_bn_init(build):
    norms = [m for m in build("vgg11_bn").modules() if isinstance(m, gb.nn.BatchNorm2d)]
    assert len(norms) == 8  # one per conv of configuration A
    for m in norms:
        assert np.all(m.weight.data == 1) and np.all(m.bias.data == 0)
        assert np.all(m.running_mean.data == 0) and np.all(m.running_var.data == 1)


def test_alexnet_init_matches_torch_default(build, reference):
    """torchvision's AlexNet keeps PyTorch's layer defaults: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and
    biases, so std 1/sqrt(3 fan_in); compared with the formula and torch's sample within 10%."""
    torch_params = dict(reference("alexnet").named_parameters())
    for key, p in build("alexnet").named_parameters():
        w, t = p.data, torch_params[key].detach().numpy()
        fan_in = int(np.prod(torch_params[key.replace("bias", "weight")].shape[1:]))
        bound = 1 / math.sqrt(fan_in)
        assert np.abs(w).max() <= bound * (1 + 1e-6), key
        if w.size >= 1000:  # enough samples for the std to be within 10%
            assert abs(w.std() * math.sqrt(3 * fan_in) - 1) < 0.1, key
            assert abs(w.std() / t.std() - 1) < 0.1, key
