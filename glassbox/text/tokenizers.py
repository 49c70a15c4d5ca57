"""Tokenizers: text -> list of tokens (characters or words), and with a Vocab, text <-> int64 ids."""

import re

from .vocab import Vocab

# A word is a run of letters, digits or underscores (\w); every other non-space character is a token on its own.
_WORD = re.compile(r"\w+|[^\w\s]")


class _Tokenizer:
    """What both tokenizers share: vocabulary building and encoding on top of tokenize()."""

    joiner = ""

    def tokenize(self, text):
        raise NotImplementedError

    def _check(self, text, where):
        if not isinstance(text, str):
            raise TypeError(f"{type(self).__name__}.{where}: expected a str, got {type(text).__name__}")

    def build_vocab(self, texts_or_text, min_freq=1, specials=("<pad>", "<unk>"), max_size=None):
        """A Vocab of the tokens of one text (str) or of several (an iterable of str)."""
        texts = [texts_or_text] if isinstance(texts_or_text, str) else texts_or_text
        tokens = []
        for text in texts:
            tokens.extend(self.tokenize(text))
        return Vocab(tokens, min_freq=min_freq, specials=specials, max_size=max_size)

    def encode(self, text, vocab):
        """text -> int64 array (num_tokens,) of ids in `vocab` (unknown tokens -> vocab.unk_index)."""
        return vocab.encode(self.tokenize(text))

    def decode(self, ids, vocab):
        """ids (1-D) -> text: the tokens joined (characters with "", words with " ")."""
        return self.joiner.join(vocab.decode(ids))

    def __repr__(self):
        return f"{type(self).__name__}()"


class CharTokenizer(_Tokenizer):
    """Every character is a token (spaces and newlines included), so decode(encode(text)) == text."""

    joiner = ""

    def tokenize(self, text):
        self._check(text, "tokenize")
        return list(text)


class WordTokenizer(_Tokenizer):
    """Words are runs of letters, digits and underscores; each punctuation character is a token of its own;
    whitespace separates and is dropped. lower=True lowercases first. decode() joins tokens with single spaces."""

    joiner = " "

    def __init__(self, lower=True):
        self.lower = bool(lower)

    def tokenize(self, text):
        self._check(text, "tokenize")
        return _WORD.findall(text.lower() if self.lower else text)

    def __repr__(self):
        return f"WordTokenizer(lower={self.lower})"
