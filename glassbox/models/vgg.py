"""VGG-11/13/16/19 with and without batch norm (Simonyan & Zisserman, 2014) as torchvision defines them."""

from .. import nn
from ..errors import ShapeError
from ..nn import init

# The four configurations of the paper: output channels of each 3x3 conv, "M" for a 2x2 stride-2 max pool.
CFGS = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],  # VGG-11
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],  # VGG-13
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],  # VGG-16
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}

# Five floor-halving pools need H, W >= 2**5; with ceil_mode a pool maps L to ceil(L / 2), never below 1.
MIN_SIZE = {False: 32, True: 1}


def make_layers(cfg, batch_norm=False, in_channels=3, small_input=False):
    """The `features` Sequential for a cfg list: Conv2d(c, v, 3, padding=1) [+ BatchNorm2d(v)] + ReLU per number,
    MaxPool2d(2, 2) per "M" (ceil_mode=True when small_input). Indices, hence state_dict keys, are torchvision's."""
    layers = []
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=small_input))
            continue
        layers.append(nn.Conv2d(in_channels, v, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(v))
        layers.append(nn.ReLU(inplace=True))
        in_channels = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """VGG: `features` (from make_layers) -> AdaptiveAvgPool2d((7, 7)) -> flatten -> classifier.

    Input (N, in_channels, H, W) -> logits (N, num_classes). Every 3x3 conv keeps the size, each of the five pools
    halves it: 224 -> 7, 32 -> 1. The adaptive pool brings any result to 7x7 (repeating values when it is smaller),
    so the classifier always sees 512 * 7 * 7 = 25088 values:

        classifier.0 Linear(25088, 4096), .1 ReLU, .2 Dropout, .3 Linear(4096, 4096), .4 ReLU, .5 Dropout,
        classifier.6 Linear(4096, num_classes)

    state_dict keys and shapes are torchvision's (features.N.weight/bias for convs, features.N.weight/bias/
    running_mean/running_var/num_batches_tracked for batch norms, classifier.{0,3,6}), and so is the init when
    init_weights: conv weights kaiming_normal_(mode="fan_out", nonlinearity="relu") with zero bias, batch-norm
    weight 1 and bias 0, linear weights N(0, 0.01^2) with zero bias.

    small_input=True (for 8..32 px images) makes every MaxPool2d(2, 2) use ceil_mode=True, so a pool maps a side L
    to ceil(L / 2) and never below 1 (28 -> 14 -> 7 -> 4 -> 2 -> 1, 8 -> 4 -> 2 -> 1 -> 1 -> 1), where the standard
    pools need H, W >= 32. Nothing else changes: no parameter, key or shape, so pretrained weights (classifier
    included) load as they are. Sides divisible by 32 give identical results either way; other sizes keep their
    last odd row/column in each pool instead of dropping it.
    """

    def __init__(self, features, num_classes=1000, init_weights=True, dropout=0.5, small_input=False):
        super().__init__()
        self.num_classes, self.small_input = int(num_classes), bool(small_input)
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        if init_weights:
            self._initialize_weights()

    def _initialize_weights(self):
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                init.ones_(m.weight)
                init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                init.normal_(m.weight, 0.0, 0.01)
                init.zeros_(m.bias)

    def forward(self, x):
        """(N, in_channels, H, W) -> (N, num_classes)."""
        smallest = MIN_SIZE[self.small_input]
        if x.ndim != 4 or min(x.shape[2:]) < smallest:
            hint = "" if self.small_input else "; for smaller images (e.g. 8x8, 28x28) build it with small_input=True"
            raise ShapeError(f"VGG(small_input={self.small_input}): expected input (N, C, H, W) with H, W >= "
                             f"{smallest}, got shape {tuple(x.shape)}{hint}")
        x = self.features(x)
        x = self.avgpool(x)
        return self.classifier(x.flatten(1))


def _vgg(cfg, batch_norm, num_classes, in_channels, dropout, small_input):
    features = make_layers(CFGS[cfg], batch_norm=batch_norm, in_channels=in_channels, small_input=small_input)
    return VGG(features, num_classes=num_classes, dropout=dropout, small_input=small_input)


def vgg11(num_classes=1000, in_channels=3, dropout=0.5, small_input=False):
    """VGG-11 (configuration "A"), torchvision's vgg11; small_input: see VGG."""
    return _vgg("A", False, num_classes, in_channels, dropout, small_input)


def vgg11_bn(num_classes=1000, in_channels=3, dropout=0.5, small_input=False):
    """VGG-11 with batch norm after each conv, torchvision's vgg11_bn; small_input: see VGG."""
    return _vgg("A", True, num_classes, in_channels, dropout, small_input)


def vgg13(num_classes=1000, in_channels=3, dropout=0.5, small_input=False):
    """VGG-13 (configuration "B"), torchvision's vgg13; small_input: see VGG."""
    return _vgg("B", False, num_classes, in_channels, dropout, small_input)


def vgg13_bn(num_classes=1000, in_channels=3, dropout=0.5, small_input=False):
    """VGG-13 with batch norm after each conv, torchvision's vgg13_bn; small_input: see VGG."""
    return _vgg("B", True, num_classes, in_channels, dropout, small_input)


def vgg16(num_classes=1000, in_channels=3, dropout=0.5, small_input=False):
    """VGG-16 (configuration "D"), torchvision's vgg16; small_input: see VGG."""
    return _vgg("D", False, num_classes, in_channels, dropout, small_input)


def vgg16_bn(num_classes=1000, in_channels=3, dropout=0.5, small_input=False):
    """VGG-16 with batch norm after each conv, torchvision's vgg16_bn; small_input: see VGG."""
    return _vgg("D", True, num_classes, in_channels, dropout, small_input)


def vgg19(num_classes=1000, in_channels=3, dropout=0.5, small_input=False):
    """VGG-19 (configuration "E"), torchvision's vgg19; small_input: see VGG."""
    return _vgg("E", False, num_classes, in_channels, dropout, small_input)


def vgg19_bn(num_classes=1000, in_channels=3, dropout=0.5, small_input=False):
    """VGG-19 with batch norm after each conv, torchvision's vgg19_bn; small_input: see VGG."""
    return _vgg("E", True, num_classes, in_channels, dropout, small_input)
