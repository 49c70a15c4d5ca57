"""Utilities for training networks (torch.nn.utils's names): gradient clipping, packed sequences."""

from . import rnn
from .clip_grad import clip_grad_norm_, clip_grad_value_
from .rnn import (
    PackedSequence,
    pack_padded_sequence,
    pack_sequence,
    pad_packed_sequence,
    pad_sequence,
    unpack_sequence,
    unpad_sequence,
)

__all__ = ["clip_grad_norm_", "clip_grad_value_", "rnn", "PackedSequence", "pack_padded_sequence",
           "pad_packed_sequence", "pad_sequence", "pack_sequence", "unpad_sequence", "unpack_sequence"]
