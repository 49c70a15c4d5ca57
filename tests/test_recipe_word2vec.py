"""The word2vec recipe: SGNS loss and its gradient (torch, float64 gradcheck), subsampling, negative sampling,
skip-gram pairs, a smoke run that writes every file, and (slow) the real run's quality check."""

import json
import os

import numpy as np
import pytest

import glassbox as gb
from glassbox.autograd.gradient_check import gradcheck
from glassbox.recipes import word2vec
from glassbox.recipes.common import RunConfig
from glassbox.text import Vocab


def _sgns_inputs(rng, batch=6, negatives=4, dim=5, dtype=np.float64):
    return [gb.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)
            for shape in [(batch, dim), (batch, dim), (batch, negatives, dim)]]


def test_sgns_loss_matches_torch_forward_and_gradients(torch):
    rng = np.random.default_rng(0)
    inputs = _sgns_inputs(rng, dtype=np.float32)
    inputs[0].data *= 4  # large dot products: the softplus form must stay accurate where sigmoid saturates
    loss = word2vec.sgns_loss(*inputs)
    loss.backward()
    u, v, n = (torch.tensor(t.data, requires_grad=True) for t in inputs)
    positive = (u * v).sum(-1)
    negative = torch.bmm(n, u.unsqueeze(2)).squeeze(2)
    expected = (-torch.nn.functional.logsigmoid(positive)
                - torch.nn.functional.logsigmoid(-negative).sum(-1)).mean()
    expected.backward()
    np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-5, atol=1e-5)
    for ours, theirs in zip(inputs, (u, v, n)):
        np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-3, atol=1e-4)


def test_sgns_loss_gradcheck_float64():
    inputs = _sgns_inputs(np.random.default_rng(1))
    assert gradcheck(word2vec.sgns_loss, inputs)


def test_skipgram_model_gradients_reach_both_tables():
    gb.random.manual_seed(0)
    model = word2vec.SkipGram(10, 4)
    model.context.weight.data[:] = np.random.default_rng(2).standard_normal((10, 4)).astype(np.float32)
    loss = model(np.array([1, 2]), np.array([3, 4]), np.array([[5, 6], [7, 8]]))
    loss.backward()
    touched_center = np.nonzero(np.abs(model.center.weight.grad.data).sum(axis=1))[0]
    touched_context = np.nonzero(np.abs(model.context.weight.grad.data).sum(axis=1))[0]
    assert touched_center.tolist() == [1, 2] and touched_context.tolist() == [3, 4, 5, 6, 7, 8]


def test_subsampling_drops_frequent_words_as_the_formula_says():
    counts = np.array([5000, 1000, 100, 10, 1])
    t = 1e-2
    keep = word2vec.keep_probabilities(counts, t=t)
    frequency = counts / counts.sum()
    np.testing.assert_allclose(keep, np.minimum(1, np.sqrt(t / frequency)))  # 1 - P(discard) of Mikolov et al.
    assert keep[0] < keep[1] < keep[2] and keep[3] == keep[4] == 1
    rng = np.random.default_rng(3)
    occurrences = 20000
    ids = np.repeat(np.arange(len(counts)), occurrences)
    kept = np.bincount(word2vec.subsample(ids, keep, rng), minlength=len(counts))
    # Each word's kept count is Binomial(occurrences, keep): within 4 standard deviations of its mean.
    sd = np.sqrt(occurrences * keep * (1 - keep))
    assert np.all(np.abs(kept - occurrences * keep) <= 4 * sd + 1e-9)


def test_negatives_follow_unigram_to_the_three_quarters():
    counts = np.array([1000, 300, 100, 30, 10, 1])
    noise = word2vec.noise_distribution(counts)
    expected = counts ** 0.75 / (counts ** 0.75).sum()
    np.testing.assert_allclose(noise, expected)
    draws = 60000
    ids = word2vec.draw_negatives(noise, (draws // 4, 4), np.random.default_rng(4))
    assert ids.shape == (draws // 4, 4) and ids.dtype == np.int64
    observed = np.bincount(ids.ravel(), minlength=len(counts))
    chi2 = float(((observed - draws * expected) ** 2 / (draws * expected)).sum())
    assert chi2 < 20.52  # the 0.999 quantile of chi-square with 5 degrees of freedom
    # and the 0.75 power matters: plain unigram frequencies would be far off
    unigram = counts / counts.sum()
    assert float(((observed - draws * unigram) ** 2 / (draws * unigram)).sum()) > 1000


def test_skipgram_pairs_window():
    ids = np.arange(100, 120)  # distinct ids: a pair's distance is the difference of its ids
    centres, contexts = word2vec.skipgram_pairs(ids, 1, np.random.default_rng(0))
    expected = {(i, i + 1) for i in range(100, 119)} | {(i + 1, i) for i in range(100, 119)}
    assert set(zip(centres.tolist(), contexts.tolist())) == expected and len(centres) == len(expected)
    ids = np.arange(20000)
    centres, contexts = word2vec.skipgram_pairs(ids, 4, np.random.default_rng(1))
    distance = np.abs(centres - contexts)
    assert distance.min() == 1 and distance.max() == 4
    # dynamic window: distance d is used with probability (window - d + 1) / window, on both sides
    share = np.bincount(distance)[1:] / (2 * len(ids))
    np.testing.assert_allclose(share, [1, 0.75, 0.5, 0.25], atol=0.02)


def test_similarity_check_and_neighbours_by_hand():
    vocab = Vocab(["true"] * 3 + ["false"] * 2 + ["zzz"], specials=())
    vectors = np.array([[1.0, 0.0], [1.0, 0.1], [-1.0, 0.0]])  # true ~ false, zzz opposite
    check, pairs = word2vec.similarity_check(vectors, vocab, np.random.default_rng(0), random_pairs=20000)
    assert pairs == [("true", "false")]
    s = 1 / np.sqrt(1.01)  # cos(true, false); cos(true, zzz) = -1, cos(false, zzz) = -s
    np.testing.assert_allclose(check["related_similarity"], s)
    # random pairs drawn by frequency (3, 2, 1 of 6), distinct only: (true, false) 12/22, (true, zzz) 6/22,
    # (false, zzz) 4/22 of them
    np.testing.assert_allclose(check["random_similarity"], (12 * s - 6 - 4 * s) / 22, atol=0.04)
    np.testing.assert_allclose(check["related_minus_random"], s - check["random_similarity"])
    assert [w for w, _ in word2vec.nearest_neighbours(vectors, vocab, "true", k=2)] == ["false", "zzz"]


def test_corpus_words_drop_punctuation_and_numbers():
    assert word2vec.corpus_words("Print(x, 42); x_1 == True!") == ["print", "x", "x_1", "true"]


def test_smoke_run_writes_every_file(tmp_path, monkeypatch):
    monkeypatch.setattr(word2vec, "CORPUS_CHARS", 60000)
    monkeypatch.setattr(word2vec, "MIN_FREQ", 3)
    monkeypatch.setattr(word2vec, "BATCH_SIZE", 2048)
    out = tmp_path / "run"
    metrics = word2vec.run(RunConfig(epochs=2, out=str(out), verbose=0))
    for name in ("metrics.json", "history.csv", "curves.png", "neighbours.txt", "embeddings.png",
                 "embeddings.safetensors", "vocab.json"):
        assert os.path.getsize(out / name) > 0, name
    saved = json.loads((out / "metrics.json").read_text())
    for key in ("final_loss", "vocab_size", "train_pairs", "train_seconds", "related_similarity",
                "random_similarity", "related_minus_random"):
        assert key in saved and key in metrics
    assert np.isfinite(saved["final_loss"]) and saved["train_pairs"] > 0
    assert (out / "history.csv").read_text().count("\n") == 3  # header + 2 epochs
    tensors = gb.io.safetensors_io.load(out / "embeddings.safetensors")
    vocab = Vocab.load(out / "vocab.json")
    assert tensors["center.weight"].shape == (len(vocab), word2vec.EMBEDDING_DIM) == (saved["vocab_size"],
                                                                                     word2vec.EMBEDDING_DIM)
    assert len((out / "neighbours.txt").read_text().splitlines()) == len(word2vec.NEIGHBOUR_WORDS)


@pytest.mark.slow
def test_real_run_learns_related_words(tmp_path):
    metrics = word2vec.run(RunConfig(out=str(tmp_path), verbose=0))
    assert metrics["related_minus_random"] > 0.1
    assert metrics["related_pairs"] >= 12
