"""fashion-cnn: a LeNet-style CNN with flips and shifts on Fashion-MNIST's 28x28 clothing images (~31 MB download).

Bounded for a 2-core CPU: a seeded subset of 10000 of the 60000 training images, 5 epochs with a one-cycle
schedule, validation on 2000 other training images, test on all 10000 test images. A training step of 64 images
took 0.1 s on an idle 2-core machine (2026-12-01), so expect 2-3 minutes; expected test accuracy ~88-90% (not
measured: no network on the machine that wrote it).
"""

from ..data.augment import Compose, RandomHorizontalFlip, RandomShift
from ..data.datasets import FashionMNIST
from .common import RunConfig
from .digits_cnn import SmallCNN
from .image_classification import ImageTask, run_task

NAME = "fashion-cnn"
DEFAULT_EPOCHS = 5
DESCRIPTION = ("LeNet-style CNN (conv-BN-ReLU-pool x2, dense 256) with flips and shifts on Fashion-MNIST: 10000 "
               "training images, 5 epochs, all 10000 test images (downloads ~31 MB; about 3 minutes on 2 cores)")


def build_model():
    """(N, 1, 28, 28) -> (N, 10): 32 and 64 channels, 7x7x64 features, a 256-unit hidden layer."""
    return SmallCNN(in_channels=1, image_size=28, channels=(32, 64), hidden=256, dropout=0.3)


def augment():
    # A mirrored shirt is still a shirt (unlike a digit); shifts of up to 2 px teach the network not to rely on the
    # exact placement of the centred garments.
    return Compose([RandomHorizontalFlip(), RandomShift(2)])


TASK = ImageTask(
    name=NAME, dataset=FashionMNIST, build_model=build_model,
    first_conv=lambda model: model.features[0], first_block=lambda model: model.features[:3],
    mean=(0.2860,), std=(0.3530,),  # Fashion-MNIST's training-set pixel statistics (of x / 255)
    train_examples=10000, batch_size=64, optimizer="adam", lr=3e-3, weight_decay=1e-4, augment=augment,
    class_names=("T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"),
)


def run(config: RunConfig):
    """Train on a seeded 10000-image subset (--train-examples overrides; 0: all)."""
    return run_task(TASK, config, DEFAULT_EPOCHS)
