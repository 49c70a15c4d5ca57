"""LeNet-5 (LeCun et al., 1998) in a modern form: ReLU, max pooling and an adaptive pool, for any image from 4 px."""

from .. import nn
from ..errors import ShapeError

# Both convolutions pad by 2 ("same" size), so only the two 2x2 pools shrink the image: H -> floor(floor(H/2)/2),
# which is at least 1 from H = 4 on.
MIN_SIZE = 4


class LeNet5(nn.Module):
    """LeNet-5: conv 6@5x5 -> pool -> conv 16@5x5 -> pool -> 120 -> 84 -> num_classes.

    Input (N, in_channels, H, W) with H, W >= 4 -> logits (N, num_classes). How sizes flow:

        features.0  Conv2d(in_channels, 6, 5, padding=2)   (N, 6, H, W)            padding keeps the size
        features.1  ReLU
        features.2  MaxPool2d(2, 2)                          (N, 6, H/2, W/2)        (floor division)
        features.3  Conv2d(6, 16, 5, padding=2)            (N, 16, H/2, W/2)
        features.4  ReLU
        features.5  MaxPool2d(2, 2)                          (N, 16, H/4, W/4)
        avgpool     AdaptiveAvgPool2d((5, 5))                (N, 16, 5, 5)           averages down or repeats up
        flatten                                              (N, 400)
        classifier.0 Linear(400, 120), .1 ReLU, .2 Linear(120, 84), .3 ReLU, .4 Linear(84, num_classes)

    So 8x8 -> 2x2 -> 5x5 (each value repeated), 28x28 -> 7x7 -> 5x5, 32x32 -> 8x8 -> 5x5, 224x224 -> 56x56 -> 5x5.
    The original valid second convolution (28 -> 14 -> 10 -> 5) cannot take an 8x8 image, hence padding=2 on both;
    the 16x5x5 = 400 features into the classifier are the paper's. Parameters use PyTorch's default init.
    state_dict keys: features.{0,3}.{weight,bias}, classifier.{0,2,4}.{weight,bias}.
    """

    def __init__(self, num_classes=10, in_channels=1):
        super().__init__()
        self.num_classes, self.in_channels = int(num_classes), int(in_channels)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2, stride=2),
            nn.Conv2d(6, 16, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((5, 5))
        self.classifier = nn.Sequential(
            nn.Linear(16 * 5 * 5, 120),
            nn.ReLU(inplace=True),
            nn.Linear(120, 84),
            nn.ReLU(inplace=True),
            nn.Linear(84, num_classes),
        )

    def forward(self, x):
        """(N, in_channels, H, W) -> (N, num_classes)."""
        if x.ndim != 4 or min(x.shape[2:]) < MIN_SIZE:
            raise ShapeError(f"LeNet5: expected input (N, {self.in_channels}, H, W) with H, W >= {MIN_SIZE}, got "
                             f"shape {tuple(x.shape)}")
        x = self.features(x)
        x = self.avgpool(x)
        return self.classifier(x.flatten(1))


def lenet5(num_classes=10, in_channels=1):
    """A LeNet5 for (N, in_channels, H, W) images with H, W >= 4 (MNIST: the defaults)."""
    return LeNet5(num_classes=num_classes, in_channels=in_channels)
