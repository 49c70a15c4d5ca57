"""Text that ships with Python itself (its documentation topics), and contiguous train/val/test splits."""

import math


def python_docs_text():
    """The text of Python's own documentation topics (pydoc_data.topics: the language reference pages that help()
    shows), joined in sorted key order with blank lines: ~0.5 MB of English about Python, the same on every run of
    a given Python version, and no download."""
    try:
        from pydoc_data.topics import topics
    except ImportError as error:  # some minimal Python builds leave pydoc_data out
        raise ImportError("python_docs_text: this Python has no pydoc_data module (a minimal build?); install the "
                          "full standard library or pass your own text") from error
    return "\n\n".join(topics[key] for key in sorted(topics))


def split_text(text, fractions=(0.9, 0.05, 0.05)):
    """Contiguous pieces of `text` (a str, or any sliceable sequence such as an id array) in the given fractions:
    e.g. (train, val, test). Contiguous rather than shuffled so that validation text was never seen in training,
    not even as the neighbour of a training sentence. Returns a tuple with one piece per fraction."""
    fractions = tuple(float(f) for f in fractions)
    if not fractions or any(not math.isfinite(f) or f < 0 for f in fractions):
        raise ValueError(f"split_text: fractions must be non-negative numbers, got {fractions}")
    if abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"split_text: fractions must sum to 1, got {fractions} (sum {sum(fractions)})")
    n, cuts, total = len(text), [0], 0.0
    for fraction in fractions[:-1]:
        total += fraction
        cuts.append(min(n, int(round(total * n))))
    cuts.append(n)
    return tuple(text[a:b] for a, b in zip(cuts[:-1], cuts[1:]))
