"""Vocab: a deterministic two-way map between tokens and integer ids, saved as plain JSON."""

import json
import os
from collections import Counter
from collections.abc import Mapping

import numpy as np

_FORMAT = "glassbox.vocab"
_VERSION = 1


class VocabFileError(ValueError):
    """A vocabulary file that cannot be loaded; the message names the file and what is wrong with it."""

    def __init__(self, path, reason):
        super().__init__(os.fspath(path), reason)
        self.path = os.fspath(path)
        self.reason = reason

    def __str__(self):
        return f"{self.path}: {self.reason}"


def _count(tokens_or_counter):
    """A Counter from a mapping token -> count, or from an iterable of tokens."""
    if isinstance(tokens_or_counter, str):
        raise TypeError("Vocab: expected a list of tokens or a mapping token -> count, got a str (tokenize it first, "
                        "e.g. CharTokenizer().tokenize(text))")
    if isinstance(tokens_or_counter, Mapping):
        counter = Counter()
        for token, count in tokens_or_counter.items():
            if not isinstance(token, str):
                raise TypeError(f"Vocab: tokens must be str, got {type(token).__name__} {token!r}")
            counter[token] = int(count)
        return counter
    counter = Counter(tokens_or_counter)
    for token in counter:
        if not isinstance(token, str):
            raise TypeError(f"Vocab: tokens must be str, got {type(token).__name__} {token!r}")
    return counter


class Vocab:
    """Tokens <-> ids. Ids are: the specials first (in the order given), then the tokens seen at least `min_freq`
    times by descending count, ties broken alphabetically, so the same input always gives the same ids.

    tokens_or_counter: an iterable of tokens (str) or a mapping token -> count.
    min_freq: drop tokens seen fewer times. max_size: keep at most this many non-special tokens (the most frequent).
    specials: tokens placed first; "<pad>" (pad_index) and "<unk>" (unk_index, where unknown tokens go) are
    recognised by name (pad_token / unk_token). Without an unk token, looking up an unknown token raises KeyError.
    """

    def __init__(self, tokens_or_counter, min_freq=1, specials=("<pad>", "<unk>"), max_size=None,
                 pad_token="<pad>", unk_token="<unk>"):
        if int(min_freq) < 1:
            raise ValueError(f"Vocab: min_freq must be >= 1, got {min_freq}")
        if max_size is not None and int(max_size) < 0:
            raise ValueError(f"Vocab: max_size must be None or >= 0, got {max_size}")
        specials = list(specials or ())
        if len(set(specials)) != len(specials) or not all(isinstance(s, str) for s in specials):
            raise ValueError(f"Vocab: specials must be distinct str, got {specials}")
        counter = _count(tokens_or_counter)
        special_set = set(specials)
        kept = [(t, c) for t, c in counter.items() if c >= min_freq and t not in special_set]
        kept.sort(key=lambda item: (-item[1], item[0]))
        if max_size is not None:
            kept = kept[:int(max_size)]
        itos = specials + [t for t, _ in kept]
        counts = [counter.get(s, 0) for s in specials] + [c for _, c in kept]
        self._set(itos, counts, pad_token, unk_token)

    def _set(self, itos, counts, pad_token, unk_token):
        self.itos = list(itos)
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        self.counts = dict(zip(self.itos, (int(c) for c in counts)))
        self.pad_token, self.unk_token = pad_token, unk_token
        self.pad_index = self.stoi.get(pad_token) if pad_token is not None else None
        self.unk_index = self.stoi.get(unk_token) if unk_token is not None else None

    # ----- lookups --------------------------------------------------------------------------------------------------
    def __len__(self):
        return len(self.itos)

    def __contains__(self, token):
        return token in self.stoi

    def __iter__(self):
        return iter(self.itos)

    def __getitem__(self, token):
        """The id of `token`; the unk id for an unknown token (KeyError when this vocab has no unk token)."""
        index = self.stoi.get(token)
        if index is not None:
            return index
        if self.unk_index is None:
            raise KeyError(f"Vocab: token {token!r} is not in the vocabulary ({len(self)} tokens) and there is no "
                           f"unk token to map it to; build the Vocab with {self.unk_token!r} in specials")
        return self.unk_index

    def lookup_token(self, index):
        """The token with id `index`."""
        index = int(index)
        if not 0 <= index < len(self.itos):
            raise IndexError(f"Vocab.lookup_token: id {index} is out of range for a vocabulary of {len(self)} tokens")
        return self.itos[index]

    def encode(self, tokens):
        """A list of tokens -> int64 array (len(tokens),) of ids."""
        if isinstance(tokens, str):
            raise TypeError("Vocab.encode: expected a list of tokens, got a str (tokenize it first)")
        return np.fromiter((self[t] for t in tokens), dtype=np.int64)

    def decode(self, ids):
        """Ids (a sequence, 1-D array or Tensor) -> list of tokens."""
        ids = np.asarray(getattr(ids, "data", ids))
        if ids.ndim != 1:
            raise ValueError(f"Vocab.decode: expected a 1-D sequence of ids, got shape {ids.shape}")
        if ids.size and (ids.min() < 0 or ids.max() >= len(self.itos)):
            raise IndexError(f"Vocab.decode: ids must lie in [0, {len(self)}), got min {ids.min()} max {ids.max()}")
        return [self.itos[i] for i in ids.tolist()]

    def frequencies(self):
        """int64 array (len(self),): the count of every id (specials count how often they occurred, usually 0)."""
        return np.array([self.counts[t] for t in self.itos], dtype=np.int64)

    def __repr__(self):
        return f"Vocab(size={len(self)}, pad_index={self.pad_index}, unk_index={self.unk_index})"

    # ----- files ----------------------------------------------------------------------------------------------------
    def save(self, path):
        """Write the vocabulary as JSON (tokens in id order and their counts); nothing in it is ever executed."""
        payload = {"format": _FORMAT, "version": _VERSION, "itos": self.itos, "counts": [self.counts[t] for t in
                   self.itos], "pad_token": self.pad_token, "unk_token": self.unk_token}
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, ensure_ascii=False)
            handle.write("\n")

    @classmethod
    def load(cls, path):
        """Read a file written by save(); raises VocabFileError naming the file and what is wrong with it."""
        try:
            with open(path, encoding="utf-8") as handle:
                payload = json.load(handle)
        except OSError as error:
            raise VocabFileError(path, f"cannot read the file ({error.strerror or error})") from error
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise VocabFileError(path, f"not a JSON vocabulary file ({error})") from error
        if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
            raise VocabFileError(path, f"not a glassbox vocabulary: expected a JSON object with format={_FORMAT!r}")
        if payload.get("version") != _VERSION:
            raise VocabFileError(path, f"unsupported vocabulary version {payload.get('version')!r} "
                                       f"(this glassbox reads version {_VERSION})")
        itos, counts = payload.get("itos"), payload.get("counts")
        if not isinstance(itos, list) or not all(isinstance(t, str) for t in itos):
            raise VocabFileError(path, "'itos' must be a list of strings")
        if len(set(itos)) != len(itos):
            duplicate = next(t for t in itos if itos.count(t) > 1)
            raise VocabFileError(path, f"'itos' has the token {duplicate!r} more than once")
        if (not isinstance(counts, list) or len(counts) != len(itos)
                or not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts)):
            raise VocabFileError(path, f"'counts' must be a list of {len(itos)} non-negative integers, one per token")
        tokens = {}
        for key in ("pad_token", "unk_token"):
            value = payload.get(key)
            if value is not None and not isinstance(value, str):
                raise VocabFileError(path, f"{key!r} must be a string or null, got {value!r}")
            tokens[key] = value
        vocab = cls.__new__(cls)
        vocab._set(itos, counts, tokens["pad_token"], tokens["unk_token"])
        return vocab
