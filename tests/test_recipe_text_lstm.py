"""The text-lstm recipe: the unigram baseline and the bits-per-char evaluation by hand, a smoke run that writes every
file, and (slow) the real run's claim: far below the unigram baseline."""

import json
import math
import os

import numpy as np
import pytest

import glassbox as gb
from glassbox.models.char_rnn import CharRNN
from glassbox.recipes import text_lstm
from glassbox.recipes.common import RunConfig
from glassbox.text import CharTokenizer, Vocab, split_text


def test_unigram_baseline_by_hand():
    # train counts 3, 2, 0 over a vocabulary of 3 -> add-one probabilities 4/8, 3/8, 1/8
    train = np.array([0, 1, 0, 1, 0])
    test = np.array([0, 2, 1, 0])
    expected = -(2 * math.log2(4 / 8) + math.log2(1 / 8) + math.log2(3 / 8)) / 4
    assert text_lstm.unigram_bpc(train, test, 3) == pytest.approx(expected)
    # a uniform train set gives log2(V) bits whatever the test text
    assert text_lstm.unigram_bpc(np.arange(8), np.array([1, 1, 7]), 8) == pytest.approx(3.0)


def test_evaluate_bpc_equals_one_pass_over_each_stream():
    gb.manual_seed(0)
    model = CharRNN(7, embedding_dim=4, hidden_size=5)
    ids = np.random.default_rng(0).integers(0, 7, size=203)
    got = text_lstm.evaluate_bpc(model, ids, batch_size=4, seq_len=9)  # windows of 9: the state must carry over
    # By hand: the 4 streams of lm_batches (50 ids each, the tail dropped), each read in one forward from zeros.
    streams = ids[:200].reshape(4, 50)
    with gb.no_grad():
        logits, _ = model(streams[:, :-1])
    logits = logits.data.astype(np.float64)
    log_probs = logits - logits.max(-1, keepdims=True)
    log_probs -= np.log(np.exp(log_probs).sum(-1, keepdims=True))
    chosen = np.take_along_axis(log_probs, streams[:, 1:, None], axis=-1)
    assert got == pytest.approx(-chosen.mean() / math.log(2), rel=1e-5)
    assert model.training  # evaluation puts the model back in training mode


def test_smoke_run_writes_every_file(tmp_path, monkeypatch):
    for name, value in (("CORPUS_CHARS", 8000), ("HIDDEN_SIZE", 32), ("EMBEDDING_DIM", 8), ("SEQ_LEN", 16),
                        ("BATCH_SIZE", 8), ("SAMPLE_LENGTH", 40)):
        monkeypatch.setattr(text_lstm, name, value)
    out = tmp_path / "run"
    metrics = text_lstm.run(RunConfig(epochs=2, out=str(out), verbose=0))
    for name in ("metrics.json", "history.csv", "curves.png", "model.safetensors", "vocab.json", "samples.txt"):
        assert os.path.getsize(out / name) > 0, name
    saved = json.loads((out / "metrics.json").read_text())
    for key in ("test_bpc", "baseline_bpc", "val_bpc", "train_seconds", "parameters"):
        assert key in saved and key in metrics
        assert np.isfinite(saved[key])
    assert (out / "history.csv").read_text().count("\n") == 3  # header + 2 epochs
    vocab = Vocab.load(out / "vocab.json")
    assert len(vocab) == saved["vocab_size"]
    # the saved weights load into a fresh CharRNN of the same size and give the same test_bpc
    model = CharRNN(len(vocab), 8, 32)
    model.load_state_dict(gb.io.safetensors_io.load(out / "model.safetensors"))
    assert saved["parameters"] == model.num_parameters()
    text = text_lstm.load_text()
    _, _, test_text = split_text(text, text_lstm.SPLIT)
    test_ids = CharTokenizer().encode(test_text, vocab)
    assert text_lstm.evaluate_bpc(model, test_ids) == pytest.approx(saved["test_bpc"], rel=1e-5)
    samples = (out / "samples.txt").read_text(encoding="utf-8")
    for temperature in text_lstm.TEMPERATURES:
        assert f"=== temperature {temperature} ===\n{text_lstm.PROMPT}" in samples
    assert samples.count("=== temperature") == len(text_lstm.TEMPERATURES)
    # seeded: a second run writes the same samples
    again = tmp_path / "again"
    text_lstm.run(RunConfig(epochs=2, out=str(again), verbose=0))
    assert (again / "samples.txt").read_text(encoding="utf-8") == samples


@pytest.mark.slow
def test_real_run_is_far_below_the_unigram_baseline(tmp_path):
    metrics = text_lstm.run(RunConfig(out=str(tmp_path), verbose=0))
    assert 4.3 < metrics["baseline_bpc"] < 5.0
    assert metrics["test_bpc"] < 2.5
    assert metrics["val_bpc"] < 2.7
