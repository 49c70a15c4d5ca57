"""Sampling the next token from logits: temperature, top-k, argmax at temperature 0."""

import numbers

import numpy as np

from ..random import Generator, numpy_generator


def _rng(rng):
    """A NumPy Generator from None (glassbox's default generator), a glassbox Generator or a NumPy Generator."""
    if rng is None or isinstance(rng, Generator):
        return numpy_generator(rng)
    if isinstance(rng, np.random.Generator):
        return rng
    raise TypeError(f"sample_next: rng must be None, a glassbox.Generator or a numpy.random.Generator, "
                    f"got {type(rng).__name__}")


def softmax_probabilities(logits, temperature=1.0, top_k=None):
    """float64 probabilities (B, V) from logits (B, V): softmax(logits / temperature) restricted to the top_k
    largest logits of each row (exactly k of them, ties broken by position), shifted by the row max so that no
    exp overflows. temperature must be > 0 here."""
    scaled = logits / temperature
    if top_k is not None and top_k < scaled.shape[1]:
        keep = np.argpartition(-scaled, top_k - 1, axis=1)[:, :top_k]
        limited = np.full_like(scaled, -np.inf)
        np.put_along_axis(limited, keep, np.take_along_axis(scaled, keep, axis=1), axis=1)
        scaled = limited
    shifted = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def sample_next(logits, temperature=1.0, top_k=None, rng=None):
    """Draw the next token id from logits (V,) -> int, or from a batch (B, V) -> int64 array (B,).

    logits: NumPy array or glassbox Tensor. temperature: > 0 divides the logits (low = confident, high = varied);
    0 takes the argmax. top_k: keep only the k largest logits of each row (None = all; k > V means all).
    rng: None (glassbox's default generator, seeded by manual_seed), a glassbox.Generator or a NumPy Generator.
    """
    array = np.asarray(getattr(logits, "data", logits))
    if array.ndim not in (1, 2) or array.shape[-1] == 0:
        raise ValueError(f"sample_next: logits must have shape (V,) or (B, V) with V >= 1, got {array.shape}")
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise TypeError(f"sample_next: logits must be real numbers, got dtype {array.dtype}")
    if not isinstance(temperature, numbers.Real) or not np.isfinite(temperature) or temperature < 0:
        raise ValueError(f"sample_next: temperature must be a finite number >= 0 (0 = argmax), got {temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, numbers.Integral) or top_k < 1):
        raise ValueError(f"sample_next: top_k must be None or an int >= 1, got {top_k!r}")
    rows = np.atleast_2d(array).astype(np.float64)
    if np.isnan(rows).any() or (rows == np.inf).any():
        raise ValueError("sample_next: logits contain NaN or +inf")
    if np.isneginf(rows).all(axis=1).any():
        raise ValueError("sample_next: a row of logits is all -inf: no token can be sampled")
    generator = _rng(rng)
    if temperature == 0:
        ids = rows.argmax(axis=1)
    else:
        probs = softmax_probabilities(rows, float(temperature), None if top_k is None else int(top_k))
        # Inverse-CDF sampling for all rows at once: the first index whose cumulative probability exceeds u.
        cdf = np.cumsum(probs, axis=1)
        u = generator.random(len(rows)) * cdf[:, -1]
        ids = np.minimum((cdf <= u[:, None]).sum(axis=1), rows.shape[1] - 1)
        # A zero-probability token can only be hit through rounding at the very end of the CDF: step back to the
        # last token with probability mass.
        dead = probs[np.arange(len(ids)), ids] == 0
        if dead.any():
            last_alive = rows.shape[1] - 1 - np.argmax(probs[:, ::-1] > 0, axis=1)
            ids = np.where(dead, last_alive, ids)
    ids = ids.astype(np.int64)
    return int(ids[0]) if array.ndim == 1 else ids
