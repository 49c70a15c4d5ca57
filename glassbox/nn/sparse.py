"""Embedding and EmbeddingBag: lookup tables of learned vectors, one row per index (word, token, item ...)."""

import numpy as np

from .. import dtypes
from ..creation import empty
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter


class Embedding(Module):
    """Integer indices (*) -> rows of weight, output (*, embedding_dim).

    weight: (num_embeddings, embedding_dim), initialised from N(0, 1) with the padding_idx row zeroed; that row
    also gets no gradient, so it stays a fixed "pad". max_norm renormalises looked-up rows in place (as PyTorch).
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, sparse=False, _weight=None, _freeze=False, dtype=None):
        super().__init__()
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        self.padding_idx = F._padding_index(padding_idx, self.num_embeddings, "Embedding")
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if sparse:
            raise NotImplementedError("Embedding: sparse gradients are not supported; use sparse=False (the dense "
                                      "gradient has the same values)")
        _init_table(self, _weight, _freeze, dtype)

    def reset_parameters(self):
        _reset_table(self)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None, norm_type=2.0,
                        scale_grad_by_freq=False, sparse=False):
        """An Embedding whose weight is `embeddings` (num_embeddings, embedding_dim), shared, not copied; frozen
        (requires_grad=False) unless freeze=False. The padding_idx row is kept as given."""
        if np.ndim(embeddings.data if isinstance(embeddings, Tensor) else embeddings) != 2:
            raise ValueError("Embedding.from_pretrained: embeddings must be 2-D (num_embeddings, embedding_dim), "
                             f"got shape {tuple(np.shape(embeddings))}")
        rows, cols = embeddings.shape
        return cls(rows, cols, padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type,
                   scale_grad_by_freq=scale_grad_by_freq, sparse=sparse, _weight=embeddings, _freeze=freeze)

    def forward(self, input):
        # Checked here first so that the error names this layer (F.embedding checks again: a cheap min/max).
        F._embedding_indices(input, self.num_embeddings, f"{type(self).__name__}(num_embeddings="
                             f"{self.num_embeddings}, embedding_dim={self.embedding_dim})")
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq, self.sparse)

    def extra_repr(self):
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            text += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            text += ", scale_grad_by_freq=True"
        return text


class EmbeddingBag(Module):
    """Bags of indices -> the sum, mean or max of their rows of weight, output (B, embedding_dim), without building
    the per-index lookups (see F.embedding_bag for the input forms).

    forward(input, offsets=None, per_sample_weights=None): input int (B, N), B bags of N indices; or int (K,) with
    offsets (B,) where each bag starts ((B + 1,) with include_last_offset). weight: (num_embeddings, embedding_dim),
    initialised from N(0, 1) with the padding_idx row zeroed; padding_idx entries are left out of their bag.
    """

    def __init__(self, num_embeddings, embedding_dim, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
                 mode="mean", sparse=False, _weight=None, include_last_offset=False, padding_idx=None, device=None,
                 dtype=None, _freeze=False):
        super().__init__()
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        if mode not in F._BAG_MODES:
            raise ValueError(f"EmbeddingBag: mode has to be one of sum, mean or max, got {mode!r}")
        if sparse:
            raise NotImplementedError("EmbeddingBag: sparse gradients are not supported; use sparse=False (the "
                                      "dense gradient has the same values)")
        if device not in (None, "cpu"):
            raise ValueError(f"EmbeddingBag: only device='cpu' exists in glassbox, got device={device!r}")
        self.padding_idx = F._padding_index(padding_idx, self.num_embeddings, "EmbeddingBag")
        self.max_norm, self.norm_type, self.scale_grad_by_freq = max_norm, norm_type, scale_grad_by_freq
        self.mode, self.sparse, self.include_last_offset = mode, sparse, include_last_offset
        _init_table(self, _weight, _freeze, dtype)

    def reset_parameters(self):
        _reset_table(self)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
                        mode="mean", sparse=False, include_last_offset=False, padding_idx=None):
        """An EmbeddingBag whose weight is `embeddings` (num_embeddings, embedding_dim), shared, not copied; frozen
        (requires_grad=False) unless freeze=False."""
        if np.ndim(embeddings.data if isinstance(embeddings, Tensor) else embeddings) != 2:
            raise ValueError("EmbeddingBag.from_pretrained: embeddings must be 2-D (num_embeddings, embedding_dim), "
                             f"got shape {tuple(np.shape(embeddings))}")
        rows, cols = embeddings.shape
        return cls(rows, cols, max_norm=max_norm, norm_type=norm_type, scale_grad_by_freq=scale_grad_by_freq,
                   mode=mode, sparse=sparse, _weight=embeddings, include_last_offset=include_last_offset,
                   padding_idx=padding_idx, _freeze=freeze)

    def forward(self, input, offsets=None, per_sample_weights=None):
        # Checked here first so that the error names this layer (F.embedding_bag checks again: a cheap min/max).
        F._embedding_indices(input, self.num_embeddings, f"{type(self).__name__}(num_embeddings="
                             f"{self.num_embeddings}, embedding_dim={self.embedding_dim})")
        return F.embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type, self.scale_grad_by_freq,
                               self.mode, self.sparse, per_sample_weights, self.include_last_offset,
                               self.padding_idx)

    def extra_repr(self):
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            text += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            text += ", scale_grad_by_freq=True"
        text += f", mode={self.mode!r}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        return text


def _init_table(layer, weight, freeze, dtype):
    """layer.weight: a fresh (num_embeddings, embedding_dim) table drawn by reset_parameters, or `weight` (shared,
    shape-checked); frozen (requires_grad=False) when `freeze`. Shared by Embedding and EmbeddingBag."""
    name, rows, dim = type(layer).__name__, layer.num_embeddings, layer.embedding_dim
    if weight is None:
        dtype = dtypes.as_dtype(dtype) or dtypes.get_default_dtype()
        layer.weight = Parameter(empty(rows, dim, dtype=dtype), requires_grad=not freeze)
        layer.reset_parameters()
        return
    shape = tuple(weight.shape)
    if shape != (rows, dim):
        raise ValueError(f"{name}: _weight has shape {shape}, but num_embeddings={rows} and embedding_dim={dim} "
                         f"need ({rows}, {dim})")
    layer.weight = Parameter(weight if isinstance(weight, Tensor) else np.asarray(weight), requires_grad=not freeze)


def _reset_table(layer):
    """N(0, 1) rows, the padding_idx row zero (as PyTorch)."""
    init.normal_(layer.weight)
    if layer.padding_idx is not None:
        layer.weight.data[layer.padding_idx] = 0
        layer.weight._version[0] += 1
