"""ResNet (He et al., 2015) as torchvision defines it — same modules, state_dict keys, shapes and initialisation.

    from glassbox.models.resnet import resnet18
    model = resnet18(num_classes=10, small_input=True)   # CIFAR-style stem for 8..32 px images
    model.load_state_dict(gb.io.load("resnet18.safetensors"))  # torchvision's weights load as they are

Keys: conv1, bn1, layer1.0.conv1, layer1.0.bn1, ..., layer2.0.downsample.0 (1x1 conv), layer2.0.downsample.1 (its
BatchNorm), ..., fc. The Bottleneck puts its stride on the 3x3 conv (torchvision's "ResNet v1.5"; the paper puts it
on the first 1x1 conv), which is also what torchvision's pretrained weights expect.
"""

from .. import nn
from ..functional import flatten
from ..nn import init

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
           "conv1x1", "conv3x3"]


def conv3x3(in_planes, out_planes, stride=1, groups=1, dilation=1):
    """3x3 convolution without bias, padded so that stride 1 keeps the size: (N, in, H, W) -> (N, out, H/s, W/s)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation, groups=groups,
                     bias=False, dilation=dilation)


def conv1x1(in_planes, out_planes, stride=1):
    """1x1 convolution without bias: (N, in, H, W) -> (N, out, H/s, W/s)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers plus the identity (or `downsample(x)` when the shape changes), then ReLU:
    (N, inplanes, H, W) -> (N, planes, H/stride, W/stride). Used by ResNet-18 and -34."""

    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64, dilation=1,
                 norm_layer=None):
        super().__init__()
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        if groups != 1 or base_width != 64:
            raise ValueError(f"BasicBlock only supports groups=1 and base_width=64, got groups={groups}, "
                             f"base_width={base_width} (use Bottleneck for ResNeXt / wide ResNets)")
        if dilation > 1:
            raise NotImplementedError(f"BasicBlock does not support dilation > 1, got dilation={dilation}")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 conv (reduce to `width`), 3x3 conv (carrying the stride: v1.5), 1x1 conv (expand to planes * 4), each
    followed by BN, plus the identity or `downsample(x)`, then ReLU:
    (N, inplanes, H, W) -> (N, planes * 4, H/stride, W/stride). Used by ResNet-50, -101 and -152."""

    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64, dilation=1,
                 norm_layer=None):
        super().__init__()
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """A residual network: stem (conv1, bn1, relu, maxpool), four stages layer1..layer4 of `layers[i]` blocks
    (64, 128, 256, 512 planes; stages 2-4 halve the size), global average pooling and fc.

    Input (N, in_channels, H, W) -> logits (N, num_classes). The ImageNet stem (7x7 stride-2 conv, 3x3 stride-2
    max-pool) downsamples 32x in total, so 224 px gives 7x7 features before pooling.

    small_input=True is the CIFAR-style stem for 8..32 px images: conv1 is a 3x3 stride-1 conv with padding 1 and
    the max-pool is an nn.Identity, so only the three stride-2 stages downsample (8x: 32 px gives 4x4 features,
    8 px gives 1x1). Every state_dict key stays the same; only conv1.weight's shape changes, to (64, in_channels,
    3, 3), so ImageNet weights load into such a model with everything but conv1.weight (strict=False after
    dropping that key).

    zero_init_residual=True sets the last BN weight of every block to 0, so each block starts as the identity
    (Goyal et al., 2017), as in torchvision. groups / width_per_group give ResNeXt and wide ResNets, and
    replace_stride_with_dilation (3 bools, for layer2..layer4) trades a stage's stride for dilation, as there.
    """

    def __init__(self, block, layers, num_classes=1000, zero_init_residual=False, groups=1, width_per_group=64,
                 replace_stride_with_dilation=None, norm_layer=None, in_channels=3, small_input=False):
        super().__init__()
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        self._norm_layer = norm_layer
        self.inplanes, self.dilation = 64, 1
        if replace_stride_with_dilation is None:
            replace_stride_with_dilation = [False, False, False]
        if len(replace_stride_with_dilation) != 3:
            raise ValueError(f"ResNet: replace_stride_with_dilation should be None or a 3-element tuple, got "
                             f"{replace_stride_with_dilation!r}")
        if len(layers) != 4:
            raise ValueError(f"ResNet: layers must give the number of blocks of the 4 stages, got {layers!r}")
        self.groups, self.base_width = groups, width_per_group
        self.small_input = small_input
        if small_input:
            self.conv1 = nn.Conv2d(in_channels, self.inplanes, kernel_size=3, stride=1, padding=1, bias=False)
        else:
            self.conv1 = nn.Conv2d(in_channels, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = norm_layer(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        # Identity keeps the module (and the printed structure) in place; it has no state, so no key changes.
        self.maxpool = nn.Identity() if small_input else nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2, dilate=replace_stride_with_dilation[0])
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2, dilate=replace_stride_with_dilation[1])
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2, dilate=replace_stride_with_dilation[2])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

        # torchvision's init: He-normal (fan_out) convs, BN at identity; Linear keeps its own default init.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.weight is not None:
                init.constant_(m.weight, 1)
                init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck) and m.bn3.weight is not None:
                    init.constant_(m.bn3.weight, 0)
                elif isinstance(m, BasicBlock) and m.bn2.weight is not None:
                    init.constant_(m.bn2.weight, 0)

    def _make_layer(self, block, planes, blocks, stride=1, dilate=False):
        """One stage: `blocks` blocks, the first carrying the stride (and a 1x1 conv + BN `downsample` on the
        shortcut when the shape changes)."""
        norm_layer = self._norm_layer
        downsample = None
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       norm_layer(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, self.groups, self.base_width, previous_dilation,
                        norm_layer)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups, base_width=self.base_width,
                                dilation=self.dilation, norm_layer=norm_layer))
        return nn.Sequential(*layers)

    def forward(self, x):
        """x (N, in_channels, H, W) -> logits (N, num_classes)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(flatten(self.avgpool(x), 1))

    def extra_repr(self):
        return "small_input=True" if self.small_input else ""


def _resnet(block, layers, num_classes, in_channels, small_input, **kwargs):
    return ResNet(block, layers, num_classes=num_classes, in_channels=in_channels, small_input=small_input, **kwargs)


def resnet18(num_classes=1000, in_channels=3, small_input=False, **kwargs):
    """ResNet-18: BasicBlock x [2, 2, 2, 2]; 11,689,512 parameters at 1000 classes, 3 channels."""
    return _resnet(BasicBlock, [2, 2, 2, 2], num_classes, in_channels, small_input, **kwargs)


def resnet34(num_classes=1000, in_channels=3, small_input=False, **kwargs):
    """ResNet-34: BasicBlock x [3, 4, 6, 3]; 21,797,672 parameters at 1000 classes, 3 channels."""
    return _resnet(BasicBlock, [3, 4, 6, 3], num_classes, in_channels, small_input, **kwargs)


def resnet50(num_classes=1000, in_channels=3, small_input=False, **kwargs):
    """ResNet-50: Bottleneck x [3, 4, 6, 3]; 25,557,032 parameters at 1000 classes, 3 channels."""
    return _resnet(Bottleneck, [3, 4, 6, 3], num_classes, in_channels, small_input, **kwargs)


def resnet101(num_classes=1000, in_channels=3, small_input=False, **kwargs):
    """ResNet-101: Bottleneck x [3, 4, 23, 3]; 44,549,160 parameters at 1000 classes, 3 channels."""
    return _resnet(Bottleneck, [3, 4, 23, 3], num_classes, in_channels, small_input, **kwargs)


def resnet152(num_classes=1000, in_channels=3, small_input=False, **kwargs):
    """ResNet-152: Bottleneck x [3, 8, 36, 3]; 60,192,808 parameters at 1000 classes, 3 channels."""
    return _resnet(Bottleneck, [3, 8, 36, 3], num_classes, in_channels, small_input, **kwargs)
