"""Train a two-layer network on the embedded 8x8 handwritten digits with nothing but glassbox tensors and autograd."""

import math
import time

import numpy as np

import glassbox as gb
import glassbox.nn.functional as F
from glassbox.data.datasets import load_digits, train_test_split

HIDDEN = 128  # width of the hidden layer: 64 pixels -> 128 ReLU units -> 10 class scores
EPOCHS = 15
BATCH_SIZE = 32
LR = 0.05
MOMENTUM = 0.9
SEED = 0


def uniform_leaf(*shape, bound):
    """A trainable leaf tensor drawn from U(-bound, bound), the default init of PyTorch's nn.Linear."""
    u = gb.rand(*shape)  # U(0, 1) from the seeded default generator, so every run starts from the same weights
    return gb.tensor(u.numpy() * (2 * bound) - bound, requires_grad=True)


def make_params(n_in, n_hidden, n_out):
    """Weights are (out_features, in_features), as F.linear and PyTorch expect."""
    b1, b2 = 1 / math.sqrt(n_in), 1 / math.sqrt(n_hidden)
    return [
        uniform_leaf(n_hidden, n_in, bound=b1), uniform_leaf(n_hidden, bound=b1),
        uniform_leaf(n_out, n_hidden, bound=b2), uniform_leaf(n_out, bound=b2),
    ]  # fmt: skip


def forward(params, x):
    """Logits (unnormalised class scores) for a batch of flattened images."""
    w1, b1, w2, b2 = params
    h = F.relu(F.linear(x, w1, b1))
    return F.linear(h, w2, b2)


def sgd_momentum_step(params, buffers, lr, momentum):
    """PyTorch's SGD with momentum, written out: buf = momentum * buf + grad; p -= lr * buf."""
    with gb.no_grad():  # the update itself must not be recorded in the graph
        for p, buf in zip(params, buffers):
            buf *= momentum  # NumPy in-place ops: no new arrays per step
            buf += p.grad.data
            p.data -= lr * buf
            p.grad = None  # backward() accumulates into .grad, so clear it for the next batch


def accuracy(params, x, y):
    """Fraction of rows whose highest logit is the true label; no graph is built under no_grad."""
    with gb.no_grad():
        predicted = forward(params, x).argmax(1)
        return (predicted == y).float().mean().item()


def main(epochs=EPOCHS, verbose=True):
    """Train, print the loss per epoch and the test accuracy, and return the test accuracy."""
    gb.manual_seed(SEED)

    # 1. Data: 1797 images of 64 pixels (0..16). Hold out 20% for testing, with a fixed shuffle.
    images, labels = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(images, labels, test_fraction=0.2, seed=SEED)

    # 2. Scale pixels to [0, 1] and centre them with the training mean only (the test set stays unseen).
    mean = (x_train / 16).mean(axis=0)
    x_train, x_test = x_train / 16 - mean, x_test / 16 - mean
    x_test_t, y_test_t = gb.from_numpy(x_test), gb.from_numpy(y_test)

    # 3. Parameters and one momentum buffer per parameter (plain ndarrays, updated in place).
    params = make_params(64, HIDDEN, 10)
    buffers = [np.zeros_like(p.data) for p in params]

    # 4. Mini-batch training: forward, loss, backward, update.
    order_rng = np.random.default_rng(SEED)
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        order = order_rng.permutation(len(x_train))  # a new batch order every epoch
        total, batches = 0.0, 0
        for i in range(0, len(order), BATCH_SIZE):
            idx = order[i : i + BATCH_SIZE]
            x, y = gb.from_numpy(x_train[idx]), gb.from_numpy(y_train[idx])
            loss = F.cross_entropy(forward(params, x), y)  # softmax + negative log-likelihood, from logits
            loss.backward()  # fills p.grad for every parameter
            sgd_momentum_step(params, buffers, LR, MOMENTUM)
            total, batches = total + loss.item(), batches + 1
        if verbose:
            print(f"epoch {epoch:2d}  loss {total / batches:.4f}")

    # 5. Evaluate on the held-out images.
    test_accuracy = accuracy(params, x_test_t, y_test_t)
    if verbose:
        print(f"trained in {time.perf_counter() - start:.2f} s")
        print(f"test_accuracy: {test_accuracy:.3f}")
    return test_accuracy


if __name__ == "__main__":
    main()
