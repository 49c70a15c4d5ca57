"""U-Net (Ronneberger et al., 2015) for per-pixel classification, laid out like the common PyTorch U-Net (milesial)."""

from .. import nn
from ..errors import ShapeError
from ..functional.shape import cat, pad


class DoubleConv(nn.Module):
    """(conv 3x3 => [BN] => ReLU) * 2, padding 1 so the spatial size is kept: (N, in, H, W) -> (N, out, H, W).

    state_dict keys with batch_norm: double_conv.{0,3}.weight (convs without bias, BN supplies the shift),
    double_conv.{1,4}.{weight,bias,running_mean,running_var,num_batches_tracked}; without: double_conv.{0,2}.*."""

    def __init__(self, in_channels, out_channels, mid_channels=None, batch_norm=True):
        super().__init__()
        mid_channels = mid_channels or out_channels
        layers = [nn.Conv2d(in_channels, mid_channels, 3, padding=1, bias=not batch_norm)]
        if batch_norm:
            layers.append(nn.BatchNorm2d(mid_channels))
        layers += [nn.ReLU(inplace=True), nn.Conv2d(mid_channels, out_channels, 3, padding=1, bias=not batch_norm)]
        if batch_norm:
            layers.append(nn.BatchNorm2d(out_channels))
        layers.append(nn.ReLU(inplace=True))
        self.double_conv = nn.Sequential(*layers)

    def forward(self, x):
        return self.double_conv(x)


class Down(nn.Module):
    """Max-pool 2x2 then DoubleConv: (N, in, H, W) -> (N, out, floor(H/2), floor(W/2)). Keys: maxpool_conv.1.*."""

    def __init__(self, in_channels, out_channels, batch_norm=True):
        super().__init__()
        self.maxpool_conv = nn.Sequential(nn.MaxPool2d(2), DoubleConv(in_channels, out_channels,
                                                                       batch_norm=batch_norm))

    def forward(self, x):
        return self.maxpool_conv(x)


class Up(nn.Module):
    """Upsample x2, pad to the skip's size, concatenate [skip, upsampled] on channels, DoubleConv.

    forward(x, skip): x (N, in_channels or in_channels/2, h, w), skip (N, in_channels/2, H, W) with H in {2h, 2h+1}
    -> (N, out_channels, H, W). Transposed mode: up = ConvTranspose2d(in, in/2, 2, stride 2) (keys up.weight,
    up.bias); bilinear mode: up = Upsample(x2, bilinear, align_corners=True) with no parameters, x already has
    in/2 channels, and the DoubleConv narrows through in/2 mid channels (as in milesial's U-Net)."""

    def __init__(self, in_channels, out_channels, bilinear=False, batch_norm=True):
        super().__init__()
        if bilinear:
            self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
            self.conv = DoubleConv(in_channels, out_channels, in_channels // 2, batch_norm=batch_norm)
        else:
            self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)
            self.conv = DoubleConv(in_channels, out_channels, batch_norm=batch_norm)

    def forward(self, x, skip):
        x = self.up(x)
        # Pooling floors odd sides, so upsampling gives 2*floor(H/2) <= H: zero-pad the upsampled map (more on the
        # bottom/right when the difference is odd) instead of cropping the skip, so no encoder pixel is lost and
        # the output keeps the input's size.
        dy, dx = skip.shape[2] - x.shape[2], skip.shape[3] - x.shape[3]
        if dy or dx:
            x = pad(x, (dx // 2, dx - dx // 2, dy // 2, dy - dy // 2))
        return self.conv(cat([skip, x], dim=1))


class OutConv(nn.Module):
    """1x1 convolution to class scores: (N, in, H, W) -> (N, num_classes, H, W). Keys: conv.{weight,bias}."""

    def __init__(self, in_channels, num_classes):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, num_classes, kernel_size=1)

    def forward(self, x):
        return self.conv(x)


class UNet(nn.Module):
    """U-Net: (N, in_channels, H, W) -> per-pixel logits (N, num_classes, H, W), for any H, W >= 2**depth.

    Channel widths c_i = base_channels * 2**i. With depth=4, base_channels=64 and transposed upsampling:

        inc    DoubleConv(in, 64)          (N, 64, H, W)                    skip 0
        down1  pool + DoubleConv(64, 128)  (N, 128, H/2, W/2)               skip 1
        down2  ...(128, 256)               (N, 256, H/4, W/4)               skip 2
        down3  ...(256, 512)               (N, 512, H/8, W/8)               skip 3
        down4  ...(512, 1024)              (N, 1024, H/16, W/16)            bottom
        up1    up 1024->512, cat skip 3 -> DoubleConv(1024, 512)  (N, 512, H/8, W/8)
        up2    ... -> (N, 256, H/4, W/4);  up3 -> (N, 128, H/2, W/2);  up4 -> (N, 64, H, W)
        outc   Conv2d(64, num_classes, 1)  (N, num_classes, H, W)

    bilinear=True upsamples without parameters, so the bottom and each up block but the last emit half as many
    channels (down4: 512, up1: 256, ...; the concatenated widths stay c_i), like milesial's Pytorch-UNet.
    Sizes not divisible by 2**depth: pooling floors each odd side and every Up zero-pads the upsampled map
    (bottom/right first) to its skip's size; the skips are never cropped, the output is always H x W.
    batch_norm=False drops the BN layers and gives the convolutions biases.
    state_dict keys: inc.double_conv.*, down{i}.maxpool_conv.1.double_conv.*, up{i}.up.* (transposed mode),
    up{i}.conv.double_conv.*, outc.conv.{weight,bias}.
    """

    def __init__(self, in_channels=3, num_classes=2, base_channels=64, depth=4, bilinear=False, batch_norm=True):
        super().__init__()
        if depth < 1 or base_channels < 1:
            raise ValueError(f"UNet: depth and base_channels must be >= 1, got depth={depth}, "
                             f"base_channels={base_channels}")
        if bilinear and base_channels % 2:
            raise ValueError(f"UNet: bilinear=True halves the channels of each upsampled map, so base_channels must "
                             f"be even, got {base_channels}")
        self.in_channels, self.num_classes, self.depth = int(in_channels), int(num_classes), int(depth)
        self.base_channels, self.bilinear, self.batch_norm = int(base_channels), bool(bilinear), bool(batch_norm)
        widths = [base_channels * 2**i for i in range(depth + 1)]
        factor = 2 if bilinear else 1
        self.inc = DoubleConv(in_channels, widths[0], batch_norm=batch_norm)
        for i in range(1, depth + 1):  # attributes down1..downN, registered in order (state_dict order)
            out = widths[i] // factor if i == depth else widths[i]
            setattr(self, f"down{i}", Down(widths[i - 1], out, batch_norm=batch_norm))
        for j in range(1, depth + 1):  # up1 sits at the bottom, upN at full resolution
            level = depth - j
            out = widths[level] if j == depth else widths[level] // factor
            setattr(self, f"up{j}", Up(widths[level + 1], out, bilinear=bilinear, batch_norm=batch_norm))
        self.outc = OutConv(widths[0], num_classes)

    def forward(self, x):
        """(N, in_channels, H, W) -> (N, num_classes, H, W)."""
        minimum = 2**self.depth
        if x.ndim != 4 or x.shape[1] != self.in_channels or min(x.shape[2:]) < minimum:
            raise ShapeError(f"UNet: expected input (N, {self.in_channels}, H, W) with H, W >= 2**depth = {minimum} "
                             f"(depth={self.depth}), got shape {tuple(x.shape)}")
        skips = [self.inc(x)]
        for i in range(1, self.depth + 1):
            skips.append(getattr(self, f"down{i}")(skips[-1]))
        x = skips.pop()
        for j in range(1, self.depth + 1):
            x = getattr(self, f"up{j}")(x, skips.pop())
        return self.outc(x)

    def extra_repr(self):
        return (f"in_channels={self.in_channels}, num_classes={self.num_classes}, base_channels={self.base_channels}, "
                f"depth={self.depth}, bilinear={self.bilinear}, batch_norm={self.batch_norm}")


def unet(in_channels=3, num_classes=2, base_channels=64, depth=4, bilinear=False, batch_norm=True):
    """A UNet for (N, in_channels, H, W) images (H, W >= 2**depth) giving (N, num_classes, H, W) logits."""
    return UNet(in_channels=in_channels, num_classes=num_classes, base_channels=base_channels, depth=depth,
                bilinear=bilinear, batch_norm=batch_norm)
