"""AlexNet (Krizhevsky et al., 2012) as torchvision defines it: same layers, state_dict keys, shapes and init."""

from .. import nn
from ..errors import ShapeError

# The smallest side each stem takes. Standard: the last pool needs >= 3 px, the middle pool >= 7, the first >= 15,
# so the 11x11 stride-4 conv needs floor((H - 7) / 4) + 1 >= 15, i.e. H >= 63. Small: nothing shrinks below 1.
MIN_SIZE = {False: 63, True: 1}


class AlexNet(nn.Module):
    """AlexNet with torchvision's definition (the "one weird trick" variant: 64-192-384-256-256 channels).

    Input (N, in_channels, H, W) -> logits (N, num_classes). At 224x224 the features are (N, 256, 6, 6); any other
    size is brought to 6x6 by the adaptive average pool, so the classifier always sees 256 * 6 * 6 = 9216 values.

        features.0  Conv2d(in_channels, 64, 11, stride=4, padding=2)   224 -> 55
        features.1  ReLU            features.2  MaxPool2d(3, 2)          55 -> 27
        features.3  Conv2d(64, 192, 5, padding=2)                         27
        features.4  ReLU            features.5  MaxPool2d(3, 2)          27 -> 13
        features.6  Conv2d(192, 384, 3, padding=1), .7 ReLU               13
        features.8  Conv2d(384, 256, 3, padding=1), .9 ReLU               13
        features.10 Conv2d(256, 256, 3, padding=1), .11 ReLU              13
        features.12 MaxPool2d(3, 2)                                       13 -> 6
        avgpool     AdaptiveAvgPool2d((6, 6))
        classifier  .0 Dropout, .1 Linear(9216, 4096), .2 ReLU, .3 Dropout, .4 Linear(4096, 4096), .5 ReLU,
                    .6 Linear(4096, num_classes)

    The standard stem needs H, W >= 63. small_input=True adapts it to 8..32 px images (CIFAR, MNIST), and changes
    exactly two things, keeping every key name:
      - features.0 is Conv2d(in_channels, 64, 3, stride=1, padding=1): the size is kept instead of divided by 4
        (so features.0.weight has shape (64, in_channels, 3, 3) instead of (64, in_channels, 11, 11));
      - the three MaxPool2d(3, 2) get padding=1, so each pool maps a side L to ceil(L / 2) and never below 1
        (32 -> 16 -> 8 -> 4, 28 -> 14 -> 7 -> 4, 8 -> 4 -> 2 -> 1) before the adaptive pool brings it to 6x6.
    Every other parameter keeps torchvision's shape, so all pretrained weights but features.0 load.

    Init is PyTorch's default for each layer (torchvision's AlexNet adds none of its own).
    """

    def __init__(self, num_classes=1000, in_channels=3, dropout=0.5, small_input=False):
        super().__init__()
        self.num_classes, self.in_channels, self.small_input = int(num_classes), int(in_channels), bool(small_input)
        if small_input:
            stem = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1)
        else:
            stem = nn.Conv2d(in_channels, 64, kernel_size=11, stride=4, padding=2)
        pool_padding = 1 if small_input else 0
        self.features = nn.Sequential(
            stem,
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=pool_padding),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=pool_padding),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=pool_padding),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        """(N, in_channels, H, W) -> (N, num_classes)."""
        smallest = MIN_SIZE[self.small_input]
        if x.ndim != 4 or min(x.shape[2:]) < smallest:
            hint = "" if self.small_input else "; for 8..32 px images build it with small_input=True"
            raise ShapeError(f"AlexNet(small_input={self.small_input}): expected input (N, {self.in_channels}, H, W) "
                             f"with H, W >= {smallest}, got shape {tuple(x.shape)}{hint}")
        x = self.features(x)
        x = self.avgpool(x)
        return self.classifier(x.flatten(1))


def alexnet(num_classes=1000, in_channels=3, dropout=0.5, small_input=False):
    """AlexNet with torchvision's keys; small_input=True for 8..32 px images (see AlexNet)."""
    return AlexNet(num_classes=num_classes, in_channels=in_channels, dropout=dropout, small_input=small_input)
