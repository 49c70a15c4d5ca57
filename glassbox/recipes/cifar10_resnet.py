"""cifar10-resnet: ResNet-18 (CIFAR stem) with crops and flips on CIFAR-10's 32x32 colour images (~170 MB download).

ResNet-18 is big for a NumPy framework on a CPU (11M parameters, ~0.56 GMAC per 32x32 image forward), so the
defaults are small: a seeded subset of 2000 of the 50000 training images, 3 epochs with a one-cycle SGD schedule,
validation on 500 other training images, test on the first 2000 of the 10000 test images. A training step
of 64 images took 3.2 s on an idle 2-core machine (2026-12-01): expect about 6-8 minutes; expected test accuracy only
~35-45% from so little data (not measured: no network on the machine that wrote it). Use --train-examples 0 and more
epochs for a real CIFAR result (90%+ needs all 50000 images and ~30 epochs: days on a CPU).
"""

from ..data.augment import Compose, RandomCrop, RandomHorizontalFlip
from ..data.datasets import CIFAR10
from ..models.resnet import resnet18
from .common import RunConfig
from .image_classification import ImageTask, run_task

NAME = "cifar10-resnet"
DEFAULT_EPOCHS = 3
DESCRIPTION = ("ResNet-18 (3x3 stem) with crops and flips on CIFAR-10: 2000 training images, 3 epochs, 2000 test "
               "images (downloads ~170 MB; about 8 minutes on 2 cores)")


def build_model():
    """(N, 3, 32, 32) -> (N, 10): torchvision's ResNet-18 with the CIFAR-style 3x3 stride-1 stem."""
    return resnet18(num_classes=10, small_input=True)


def augment():
    # The standard CIFAR augmentation: a random 32x32 crop of the image padded by 4 px, and a coin-flip mirror.
    return Compose([RandomCrop(32, padding=4), RandomHorizontalFlip()])


def _first_block(model):
    return lambda x: model.relu(model.bn1(model.conv1(x)))


TASK = ImageTask(
    name=NAME, dataset=CIFAR10, build_model=build_model,
    first_conv=lambda model: model.conv1, first_block=_first_block,
    mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616),  # CIFAR-10 training-set statistics per channel
    train_examples=2000, val_examples=500, test_examples=2000, batch_size=64, optimizer="sgd", lr=0.05,
    weight_decay=5e-4, augment=augment, class_names=tuple(CIFAR10.classes),
)


def run(config: RunConfig):
    """Train on a seeded 2000-image subset (--train-examples overrides; 0: all)."""
    return run_task(TASK, config, DEFAULT_EPOCHS)
