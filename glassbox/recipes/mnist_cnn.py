"""mnist-cnn: a LeNet-style CNN on MNIST's 28x28 handwritten digits (downloaded once, ~12 MB).

Bounded for a 2-core CPU: a seeded subset of 10000 of the 60000 training images, 3 epochs with a one-cycle
schedule, validation on 2000 other training images, test on all 10000 test images. A training step of 64 images
took 0.09 s on an idle 2-core machine (2026-12-01), so expect 1-2 minutes; expected test accuracy ~98.5-99% (not
measured: no network on the machine that wrote it).
"""

from ..data.datasets import MNIST
from .common import RunConfig
from .digits_cnn import SmallCNN
from .image_classification import ImageTask, run_task

NAME = "mnist-cnn"
DEFAULT_EPOCHS = 3
DESCRIPTION = ("LeNet-style CNN (conv-BN-ReLU-pool x2, dense 128) on MNIST: 10000 training images, 3 epochs, "
               "all 10000 test images (downloads ~12 MB; about 2 minutes on 2 cores)")


def build_model():
    """(N, 1, 28, 28) -> (N, 10): 32 and 64 channels, 7x7x64 features, a 128-unit hidden layer."""
    return SmallCNN(in_channels=1, image_size=28, channels=(32, 64), hidden=128, dropout=0.25)


TASK = ImageTask(
    name=NAME, dataset=MNIST, build_model=build_model,
    first_conv=lambda model: model.features[0], first_block=lambda model: model.features[:3],
    mean=(0.1307,), std=(0.3081,),  # MNIST's training-set pixel statistics (of x / 255), as everyone uses
    train_examples=10000, batch_size=64, optimizer="adam", lr=3e-3, weight_decay=1e-4,
)


def run(config: RunConfig):
    """Train on a seeded 10000-image subset (--train-examples overrides; 0: all)."""
    return run_task(TASK, config, DEFAULT_EPOCHS)
