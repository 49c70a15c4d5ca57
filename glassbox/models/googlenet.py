"""GoogLeNet / Inception v1 (Szegedy et al., 2014) as torchvision defines it — same modules, keys and shapes.

    from glassbox.models.googlenet import googlenet
    model = googlenet(num_classes=10, small_input=True)   # for 8..32 px images
    model = googlenet(aux_logits=True)   # train mode returns GoogLeNetOutputs(logits, aux_logits2, aux_logits1)

Keys: conv1.conv, conv1.bn, conv2, conv3, inception3a.branch1.conv, inception3a.branch2.0.conv, ...,
inception3a.branch4.1.conv, ..., aux1.conv.conv, aux1.fc1, aux1.fc2, aux2..., fc. Like torchvision (and unlike the
paper) every conv is followed by BatchNorm (eps=0.001), and branch3 uses a 3x3 conv where the paper has 5x5.
"""

from collections import namedtuple

from .. import nn
from ..functional import cat, flatten
from ..nn import functional as F
from ..nn import init

__all__ = ["BasicConv2d", "Inception", "InceptionAux", "GoogLeNet", "GoogLeNetOutputs", "googlenet"]

# What a training-mode forward with aux_logits returns, with torchvision's field names and order.
GoogLeNetOutputs = namedtuple("GoogLeNetOutputs", ["logits", "aux_logits2", "aux_logits1"])


class BasicConv2d(nn.Module):
    """Conv2d without bias, BatchNorm2d (eps=0.001) and ReLU; keys `conv` and `bn`. kwargs go to the conv
    (kernel_size, stride, padding): (N, in_channels, H, W) -> (N, out_channels, H', W')."""

    def __init__(self, in_channels, out_channels, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    """Four parallel branches concatenated on channels: (N, in_channels, H, W) ->
    (N, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W).

    branch1: 1x1 conv; branch2: 1x1 reduce then 3x3; branch3: 1x1 reduce then a 3x3 conv — the paper has 5x5
    here, but torchvision uses 3x3 (pytorch/vision#906) and its pretrained weights have that shape, so we keep 3x3
    for key and shape compatibility; branch4: 3x3 stride-1 max-pool then 1x1 projection (keys branch4.1.*).
    """

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj, conv_block=None):
        super().__init__()
        conv_block = BasicConv2d if conv_block is None else conv_block
        self.branch1 = conv_block(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(conv_block(in_channels, ch3x3red, kernel_size=1),
                                     conv_block(ch3x3red, ch3x3, kernel_size=3, padding=1))
        # kernel_size=3, not the paper's 5: torchvision's choice, kept so that its weights load (see above).
        self.branch3 = nn.Sequential(conv_block(in_channels, ch5x5red, kernel_size=1),
                                     conv_block(ch5x5red, ch5x5, kernel_size=3, padding=1))
        self.branch4 = nn.Sequential(nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
                                     conv_block(in_channels, pool_proj, kernel_size=1))

    def forward(self, x):
        return cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    """Auxiliary classifier: adaptive average pool to 4x4, 1x1 conv to 128 channels, fc1 (2048 -> 1024), ReLU,
    dropout, fc2: (N, in_channels, H, W) -> (N, num_classes). Any H, W works (4x4 pooling of a smaller map
    repeats pixels, as in torch)."""

    def __init__(self, in_channels, num_classes, conv_block=None, dropout=0.7):
        super().__init__()
        conv_block = BasicConv2d if conv_block is None else conv_block
        self.conv = conv_block(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x):
        x = flatten(self.conv(F.adaptive_avg_pool2d(x, (4, 4))), 1)
        return self.fc2(self.dropout(F.relu(self.fc1(x))))


class GoogLeNet(nn.Module):
    """GoogLeNet: stem (conv1 7x7/2, maxpool1, conv2 1x1, conv3 3x3, maxpool2), inception 3a-3b, maxpool3,
    4a-4e, maxpool4, 5a-5b, global average pool, dropout, fc (1024 -> num_classes).

    Input (N, in_channels, H, W) -> logits (N, num_classes); in training mode with aux_logits, a
    GoogLeNetOutputs(logits, aux_logits2, aux_logits1) — aux1 reads inception4a's output, aux2 inception4d's.
    The ImageNet stem downsamples 32x in total (224 px -> 7x7 before pooling); all max-pools use ceil_mode.

    small_input=True is for 8..32 px images: conv1 is a 3x3 stride-1 conv with padding 1 and maxpool1 is an
    nn.Identity, so only maxpool2..4 downsample (8x: 32 px -> 4x4, 28 px -> 4x4, 8 px -> 1x1 before pooling).
    Every state_dict key stays the same; only conv1.conv.weight's shape changes, to (64, in_channels, 3, 3).

    transform_input=True maps inputs normalised with ImageNet's mean/std to the (x - 0.5) / 0.5 normalisation
    torchvision's pretrained weights were trained with (3 channels only), as in torchvision.
    init_weights: truncated normal (std 0.01, cut at +-2) for convs and linears, BN at identity, as torchvision.
    """

    def __init__(self, num_classes=1000, aux_logits=True, transform_input=False, init_weights=True, blocks=None,
                 dropout=0.2, dropout_aux=0.7, in_channels=3, small_input=False):
        super().__init__()
        if blocks is None:
            blocks = [BasicConv2d, Inception, InceptionAux]
        if len(blocks) != 3:
            raise ValueError(f"GoogLeNet: blocks must be [conv_block, inception_block, aux_block], got {blocks!r}")
        if transform_input and in_channels != 3:
            raise ValueError(f"GoogLeNet: transform_input=True re-normalises 3 RGB channels, but in_channels="
                             f"{in_channels}")
        conv_block, inception_block, inception_aux_block = blocks
        self.aux_logits, self.transform_input, self.small_input = aux_logits, transform_input, small_input

        if small_input:
            self.conv1 = conv_block(in_channels, 64, kernel_size=3, stride=1, padding=1)
            self.maxpool1 = nn.Identity()
        else:
            self.conv1 = conv_block(in_channels, 64, kernel_size=7, stride=2, padding=3)
            self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = conv_block(64, 64, kernel_size=1)
        self.conv3 = conv_block(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)

        self.inception3a = inception_block(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = inception_block(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)

        self.inception4a = inception_block(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = inception_block(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = inception_block(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = inception_block(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = inception_block(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)

        self.inception5a = inception_block(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = inception_block(832, 384, 192, 384, 48, 128, 128)

        if aux_logits:
            self.aux1 = inception_aux_block(512, num_classes, dropout=dropout_aux)
            self.aux2 = inception_aux_block(528, num_classes, dropout=dropout_aux)
        else:
            self.aux1 = None
            self.aux2 = None

        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(1024, num_classes)

        if init_weights:
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
                elif isinstance(m, nn.BatchNorm2d):
                    init.constant_(m.weight, 1)
                    init.constant_(m.bias, 0)

    def _transform_input(self, x):
        """ImageNet mean/std normalisation -> torchvision's pretrained (x - 0.5) / 0.5, channel by channel."""
        if not self.transform_input:
            return x
        x_ch0 = x[:, 0].unsqueeze(1) * (0.229 / 0.5) + (0.485 - 0.5) / 0.5
        x_ch1 = x[:, 1].unsqueeze(1) * (0.224 / 0.5) + (0.456 - 0.5) / 0.5
        x_ch2 = x[:, 2].unsqueeze(1) * (0.225 / 0.5) + (0.406 - 0.5) / 0.5
        return cat([x_ch0, x_ch1, x_ch2], 1)

    def forward(self, x):
        """x (N, in_channels, H, W) -> logits (N, num_classes), or GoogLeNetOutputs in training with aux_logits."""
        x = self._transform_input(x)
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        # The auxiliary heads only run while training: they are extra losses, not part of the prediction.
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        x = self.fc(self.dropout(flatten(self.avgpool(x), 1)))
        if self.training and self.aux_logits:
            return GoogLeNetOutputs(x, aux2, aux1)
        return x

    def extra_repr(self):
        flags = [f"aux_logits={self.aux_logits}"]
        if self.transform_input:
            flags.append("transform_input=True")
        if self.small_input:
            flags.append("small_input=True")
        return ", ".join(flags)


def googlenet(num_classes=1000, in_channels=3, aux_logits=False, dropout=0.2, small_input=False,
              transform_input=False, **kwargs):
    """GoogLeNet with torchvision's keys; 6,624,904 parameters at 1000 classes without the auxiliary heads
    (aux_logits=False, the default here; torchvision's builder defaults to True when not loading weights).

    To load torchvision's ImageNet weights: googlenet(transform_input=True) if your inputs use ImageNet's
    mean/std (torchvision sets that flag with its weights), and aux_logits=False drops aux1/aux2 (load the
    torchvision state_dict with those keys removed, or strict=False).
    """
    return GoogLeNet(num_classes=num_classes, aux_logits=aux_logits, transform_input=transform_input,
                     dropout=dropout, in_channels=in_channels, small_input=small_input, **kwargs)
