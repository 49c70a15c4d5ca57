"""glassbox.text: Vocab, tokenizers, LM batching, padding, sampling and the built-in corpus, checked by hand."""

import json
from collections import Counter

import numpy as np
import pytest

import glassbox as gb
from glassbox.text import (
    CharTokenizer,
    Vocab,
    VocabFileError,
    WordTokenizer,
    lm_batches,
    pad_batch,
    python_docs_text,
    sample_next,
    split_text,
)

# ----- Vocab ------------------------------------------------------------------------------------------------------


def test_vocab_orders_specials_then_by_count_then_alphabetically():
    tokens = list("bbbaaaccd") + ["e"]  # a and b tie at 3, c has 2, d and e tie at 1
    v = Vocab(tokens)
    assert v.itos == ["<pad>", "<unk>", "a", "b", "c", "d", "e"]
    assert v.stoi == {t: i for i, t in enumerate(v.itos)}
    assert (v.pad_index, v.unk_index) == (0, 1)
    assert v.counts["a"] == 3 and v.counts["c"] == 2 and v.counts["<pad>"] == 0
    assert v.frequencies().tolist() == [0, 0, 3, 3, 2, 1, 1]
    # The same multiset in another order, or as a Counter, gives the same ids.
    assert Vocab(list(reversed(tokens))).itos == v.itos
    assert Vocab(Counter(tokens)).itos == v.itos


def test_vocab_min_freq_max_size_and_custom_specials():
    tokens = list("aaaabbbccd")
    assert Vocab(tokens, min_freq=2).itos == ["<pad>", "<unk>", "a", "b", "c"]
    assert Vocab(tokens, max_size=2).itos == ["<pad>", "<unk>", "a", "b"]
    v = Vocab(tokens + ["<unk>"], specials=("<unk>", "<bos>"))
    assert v.itos[:2] == ["<unk>", "<bos>"] and v.itos.count("<unk>") == 1  # a special seen in text is not repeated
    assert v.pad_index is None and v.unk_index == 0
    with pytest.raises(ValueError, match="min_freq"):
        Vocab(tokens, min_freq=0)
    with pytest.raises(TypeError, match="str"):
        Vocab("abc")


def test_vocab_unknown_tokens_encode_decode_and_lookup():
    v = Vocab(["x", "y", "y"])
    assert v["zzz"] == v.unk_index == 1
    ids = v.encode(["y", "x", "nope"])
    assert ids.dtype == np.int64 and ids.tolist() == [2, 3, 1]
    assert v.decode(ids) == ["y", "x", "<unk>"]
    assert v.decode(gb.tensor([2, 3])) == ["y", "x"]
    assert v.lookup_token(3) == "x"
    with pytest.raises(IndexError, match="out of range"):
        v.lookup_token(4)
    no_unk = Vocab(["x"], specials=("<pad>",))
    with pytest.raises(KeyError, match="'nope'.*no unk"):
        no_unk["nope"]


def test_vocab_save_load_roundtrip(tmp_path):
    v = Vocab(WordTokenizer().tokenize("the cat sat on the mat, the end. Ünïcode ok"), min_freq=1)
    path = tmp_path / "vocab.json"
    v.save(path)
    w = Vocab.load(path)
    assert w.itos == v.itos and w.counts == v.counts and (w.pad_index, w.unk_index) == (v.pad_index, v.unk_index)
    assert w["never-seen"] == w.unk_index


@pytest.mark.parametrize("content, message", [
    ("not json at all", "not a JSON"),
    ("[1, 2, 3]", "not a glassbox vocabulary"),
    ('{"format": "glassbox.vocab", "version": 99, "itos": [], "counts": []}', "unsupported vocabulary version"),
    ('{"format": "glassbox.vocab", "version": 1, "itos": ["a", 3], "counts": [1, 1]}', "'itos' must be"),
    ('{"format": "glassbox.vocab", "version": 1, "itos": ["a", "a"], "counts": [1, 1]}', "more than once"),
    ('{"format": "glassbox.vocab", "version": 1, "itos": ["a", "b"], "counts": [1]}', "'counts' must be"),
    ('{"format": "glassbox.vocab", "version": 1, "itos": ["a"], "counts": [-1]}', "'counts' must be"),
    ('{"format": "glassbox.vocab", "version": 1, "itos": ["a"], "counts": [1], "unk_token": 5}', "'unk_token'"),
])
def test_vocab_load_rejects_malformed_files(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(VocabFileError, match=message) as info:
        Vocab.load(path)
    assert str(path) in str(info.value)


def test_vocab_load_missing_file(tmp_path):
    with pytest.raises(VocabFileError, match="cannot read"):
        Vocab.load(tmp_path / "missing.json")


def test_vocab_file_is_plain_json(tmp_path):
    path = tmp_path / "v.json"
    Vocab(["a"]).save(path)
    assert json.loads(path.read_text())["itos"] == ["<pad>", "<unk>", "a"]


# ----- tokenizers -------------------------------------------------------------------------------------------------

def test_char_tokenizer_roundtrip():
    text = "Hello, world!\n\tdef f(x): return x ** 2  # ünï"
    tok = CharTokenizer()
    assert tok.tokenize(text) == list(text)
    vocab = tok.build_vocab(text)
    ids = tok.encode(text, vocab)
    assert ids.dtype == np.int64 and ids.shape == (len(text),)
    assert tok.decode(ids, vocab) == text


def test_word_tokenizer_splits_words_and_punctuation():
    tok = WordTokenizer()
    assert tok.tokenize("Hello, World! x_1 = f(2.5)") == ["hello", ",", "world", "!", "x_1", "=", "f", "(", "2",
                                                          ".", "5", ")"]
    assert WordTokenizer(lower=False).tokenize("Hi There") == ["Hi", "There"]
    vocab = tok.build_vocab(["a b, c", "b c c"], min_freq=1)
    assert vocab.itos[2:] == ["c", "b", ",", "a"]
    text = "c b , a"
    assert tok.decode(tok.encode(text, vocab), vocab) == text  # tokens joined by single spaces
    assert tok.decode(tok.encode("c zebra", vocab), vocab) == "c <unk>"
    with pytest.raises(TypeError, match="str"):
        tok.tokenize(["not", "text"])


# ----- batching ---------------------------------------------------------------------------------------------------

def test_lm_batches_hand_built():
    ids = np.arange(11)  # 2 streams of 5 ([0..4], [5..9]); id 10 does not fit and is dropped
    windows = list(lm_batches(ids, batch_size=2, seq_len=3))
    assert len(windows) == len(lm_batches(ids, 2, 3)) == 2
    (x0, y0), (x1, y1) = windows
    assert x0.tolist() == [[0, 1, 2], [5, 6, 7]] and y0.tolist() == [[1, 2, 3], [6, 7, 8]]
    assert x1.tolist() == [[3], [8]] and y1.tolist() == [[4], [9]]
    assert x0.dtype == y0.dtype == np.int64


@pytest.mark.parametrize("n, batch, seq", [(100, 4, 7), (57, 3, 5), (20, 1, 19), (40, 5, 100)])
def test_lm_batches_streams_are_contiguous(n, batch, seq):
    ids = np.random.default_rng(n).integers(0, 50, n)
    windows = list(lm_batches(ids, batch, seq))
    length = n // batch
    inputs = np.concatenate([x for x, _ in windows], axis=1)
    targets = np.concatenate([y for _, y in windows], axis=1)
    streams = ids[:length * batch].reshape(batch, length)
    # Concatenating the windows gives back each stream: every input has its successor as target.
    assert np.array_equal(inputs, streams[:, :-1]) and np.array_equal(targets, streams[:, 1:])
    assert all(x.shape[0] == batch and 1 <= x.shape[1] <= seq and x.shape == y.shape for x, y in windows)
    assert len(windows) == len(lm_batches(ids, batch, seq))


def test_lm_batches_errors():
    with pytest.raises(ValueError, match="at least 2"):
        lm_batches(np.arange(5), batch_size=4, seq_len=2)
    with pytest.raises(ValueError, match="seq_len"):
        lm_batches(np.arange(50), batch_size=2, seq_len=0)
    with pytest.raises(ValueError, match="1-D"):
        lm_batches(np.zeros((3, 3), dtype=np.int64), 1, 2)


def test_pad_batch():
    seqs = [[5, 6, 7], np.array([8]), gb.tensor([9, 10])]
    padded, lengths, mask = pad_batch(seqs, pad_index=-1)
    assert padded.tolist() == [[5, 6, 7], [8, -1, -1], [9, 10, -1]]
    assert lengths.tolist() == [3, 1, 2] and lengths.dtype == padded.dtype == np.int64
    assert mask.tolist() == [[True] * 3, [True, False, False], [True, True, False]]
    t_padded, _, t_mask = pad_batch(seqs, pad_index=-1, batch_first=False)
    assert np.array_equal(t_padded, padded.T) and np.array_equal(t_mask, mask.T)
    cut, cut_lengths, cut_mask = pad_batch(seqs, max_len=2)
    assert cut.tolist() == [[5, 6], [8, 0], [9, 10]] and cut_lengths.tolist() == [2, 1, 2]
    wide, _, wide_mask = pad_batch(seqs, max_len=5)
    assert wide.shape == (3, 5) and wide_mask.sum() == 6
    with pytest.raises(ValueError, match="at least one"):
        pad_batch([])


# ----- sampling ---------------------------------------------------------------------------------------------------

def test_sample_next_temperature_zero_is_argmax():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((16, 30))
    assert np.array_equal(sample_next(logits, temperature=0), logits.argmax(axis=1))
    assert sample_next(logits[3], temperature=0) == int(logits[3].argmax())
    assert isinstance(sample_next(logits[3], temperature=0), int)
    assert sample_next(gb.tensor(logits[5].astype(np.float32)), temperature=0) == int(logits[5].argmax())


def test_sample_next_top_k_never_leaves_the_top_k():
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((8, 20))
    top3 = np.argsort(-logits, axis=1)[:, :3]
    for _ in range(300):
        ids = sample_next(logits, temperature=5.0, top_k=3, rng=rng)  # high temperature: flat inside the top 3
        assert all(i in row for i, row in zip(ids, top3))
    # top_k=1 is argmax whatever the temperature.
    assert np.array_equal(sample_next(logits, temperature=3.0, top_k=1, rng=rng), logits.argmax(axis=1))


def test_sample_next_frequencies_match_softmax():
    logits = np.array([2.0, 1.0, 0.5, 0.0, -1.0, -3.0])
    expected = np.exp(logits - logits.max())
    expected /= expected.sum()  # softmax by hand
    draws = 20000
    ids = sample_next(np.tile(logits, (draws, 1)), rng=np.random.default_rng(7))
    observed = np.bincount(ids, minlength=len(logits))
    chi2 = float(((observed - draws * expected) ** 2 / (draws * expected)).sum())
    assert chi2 < 20.52  # the 0.999 quantile of chi-square with 5 degrees of freedom
    # and with top_k: the renormalised top-3 distribution
    top = expected[:3] / expected[:3].sum()
    ids = sample_next(np.tile(logits, (draws, 1)), top_k=3, rng=np.random.default_rng(8))
    observed = np.bincount(ids, minlength=len(logits))
    assert observed[3:].sum() == 0
    chi2 = float(((observed[:3] - draws * top) ** 2 / (draws * top)).sum())
    assert chi2 < 13.82  # 0.999 quantile, 2 degrees of freedom


def test_sample_next_low_temperature_concentrates_and_is_stable():
    logits = np.array([1.0, 0.8, 0.0, -0.5])
    rng = np.random.default_rng(3)
    hot = sample_next(np.tile(logits, (4000, 1)), temperature=1.0, rng=rng)
    cold = sample_next(np.tile(logits, (4000, 1)), temperature=0.05, rng=rng)
    assert (cold == 0).mean() > 0.95 > (hot == 0).mean()
    assert (cold == 0).mean() > (hot == 0).mean() + 0.4
    # Huge logits do not overflow: the softmax is shifted by the max.
    assert sample_next(np.array([1e6, 1e6 - 1e3, -1e6]), rng=rng) == 0


def test_sample_next_is_seeded_by_manual_seed():
    logits = np.zeros((50, 10))
    gb.random.manual_seed(11)
    a = sample_next(logits)
    gb.random.manual_seed(11)
    assert np.array_equal(a, sample_next(logits))


@pytest.mark.parametrize("kwargs, error, message", [
    ({"temperature": -0.1}, ValueError, "temperature"),
    ({"temperature": float("nan")}, ValueError, "temperature"),
    ({"top_k": 0}, ValueError, "top_k"),
    ({"top_k": 2.5}, ValueError, "top_k"),
    ({"rng": 3}, TypeError, "rng"),
])
def test_sample_next_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        sample_next(np.zeros(5), **kwargs)


def test_sample_next_bad_logits():
    with pytest.raises(ValueError, match="shape"):
        sample_next(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="all -inf"):
        sample_next(np.full(4, -np.inf))
    with pytest.raises(ValueError, match="NaN"):
        sample_next(np.array([0.0, np.nan]))


# ----- corpus -----------------------------------------------------------------------------------------------------

def test_python_docs_text_is_deterministic_and_about_python():
    from pydoc_data.topics import topics

    text = python_docs_text()
    assert text == python_docs_text()
    first = sorted(topics)[0]
    assert text.startswith(topics[first]) and len(text) > 100_000
    words = Counter(WordTokenizer().tokenize(text))
    assert words["class"] > 50 and words["function"] > 50


def test_split_text():
    text = "abcdefghijklmnopqrst"  # 20 characters
    train, val, test = split_text(text, (0.5, 0.25, 0.25))
    assert (train, val, test) == ("abcdefghij", "klmno", "pqrst")
    pieces = split_text(python_docs_text())
    assert "".join(pieces) == python_docs_text() and len(pieces) == 3
    assert abs(len(pieces[0]) / len(python_docs_text()) - 0.9) < 1e-3
    assert [a.tolist() for a in split_text(np.arange(4), (0.5, 0.5))] == [[0, 1], [2, 3]]
    with pytest.raises(ValueError, match="sum to 1"):
        split_text(text, (0.5, 0.2))
    with pytest.raises(ValueError, match="non-negative"):
        split_text(text, (1.5, -0.5))
