"""DBN: a deep belief net, a stack of BernoulliRBMs pretrained greedily layer by layer, unrolled into an MLP of
Linear + Sigmoid layers (plus a new output layer) for fine-tuning with backpropagation."""

import numpy as np

from .. import nn
from ..tensor import Tensor
from .rbm import BernoulliRBM


class DBN(nn.Module):
    """A stack of RBMs with layer sizes `sizes` = (n_visible, n_hidden_1, ..., n_hidden_L): rbms[l] is a
    BernoulliRBM(sizes[l], sizes[l + 1]). Input (N, sizes[0]) -> top hidden probabilities (N, sizes[-1])."""

    def __init__(self, sizes, dtype=np.float32, generator=None):
        super().__init__()
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2:
            raise ValueError(f"DBN: sizes needs the visible size and at least one hidden size, got {sizes}")
        self.sizes = sizes
        self.rbms = nn.ModuleList([BernoulliRBM(a, b, dtype=dtype, generator=generator)
                                   for a, b in zip(sizes[:-1], sizes[1:])])

    def extra_repr(self):
        return f"sizes={self.sizes}"

    def transform(self, v, layers=None):
        """The hidden probabilities (N, sizes[layers]) after the first `layers` RBMs (default: all of them),
        each RBM fed the previous one's probabilities (the mean-field up-pass)."""
        x = np.asarray(v)
        for rbm in list(self.rbms)[:layers]:
            x = rbm.hidden_probabilities(x)
        return x

    def forward(self, v):
        return Tensor._make(self.transform(v.data if isinstance(v, Tensor) else v))

    def pretrain(self, data, epochs=10, verbose=0, log=print, **fit_options):
        """Greedy layer-wise pretraining on unlabelled data (N, sizes[0]): RBM l is trained (BernoulliRBM.fit with
        `fit_options`) on the hidden probabilities of RBM l-1 over the data, and stays fixed afterwards.
        `epochs` is an int or one int per RBM. Returns the list of the RBMs' fit histories."""
        epochs = [epochs] * len(self.rbms) if np.ndim(epochs) == 0 else list(epochs)
        if len(epochs) != len(self.rbms):
            raise ValueError(f"DBN.pretrain: epochs needs one entry per RBM ({len(self.rbms)}), got {epochs}")
        x, histories = np.asarray(data), []
        for layer, (rbm, n) in enumerate(zip(self.rbms, epochs)):
            if verbose:
                log(f"DBN: pretraining RBM {layer + 1}/{len(self.rbms)} ({rbm.n_visible} -> {rbm.n_hidden})")
            histories.append(rbm.fit(x, epochs=n, verbose=verbose, log=log, **fit_options))
            x = rbm.hidden_probabilities(x)
        return histories

    def to_mlp(self, num_classes=None):
        """nn.Sequential(Linear(sizes[0], sizes[1]), Sigmoid(), ..., Linear(sizes[-1], num_classes)): every RBM
        becomes a Linear layer with weight = W^T (an RBM's W is (visible, hidden); Linear's weight is (out, in))
        and bias = the hidden bias, followed by a Sigmoid, so the MLP computes the same hidden probabilities as
        transform(). The new output layer (logits, no activation) has PyTorch's default init; num_classes=None
        leaves it out. The weights are copies: fine-tuning the MLP leaves the DBN unchanged."""
        layers = []
        for rbm in self.rbms:
            linear = nn.Linear(rbm.n_visible, rbm.n_hidden, dtype=rbm.weight.data.dtype)
            linear.weight.data[...] = rbm.weight.data.T
            linear.bias.data[...] = rbm.hidden_bias.data
            layers += [linear, nn.Sigmoid()]
        if num_classes is not None:
            layers.append(nn.Linear(self.sizes[-1], int(num_classes), dtype=self.rbms[0].weight.data.dtype))
        return nn.Sequential(*layers)
