"""text-lstm: a character-level LSTM language model of Python's own documentation, trained with truncated BPTT."""

import math
import os
import time

import numpy as np

from .. import nn, optim
from ..autograd import no_grad
from ..models.char_rnn import CharRNN, detach_state
from ..nn import functional as F
from ..optim.lr_scheduler import CosineAnnealingLR
from ..random import manual_seed
from ..tensor import Tensor
from ..text import CharTokenizer, lm_batches, python_docs_text, split_text
from ..train.callbacks import History
from .common import RunConfig, prepare_output, write_run

NAME = "text-lstm"
DESCRIPTION = "character-level LSTM language model of Python's documentation (truncated BPTT, bits per char, samples)"
DEFAULT_EPOCHS = 6  # 1.66 bits/char on the test text in about 2 minutes on 2 cores (2 epochs: 2.06)

# Knobs (module constants so that a test can shrink the run).
CORPUS_CHARS = None  # use only the first this many characters of the text (None = all)
SPLIT = (0.9, 0.05, 0.05)  # contiguous train / val / test pieces
EMBEDDING_DIM = 64
HIDDEN_SIZE = 256
BATCH_SIZE = 32  # parallel streams of the training text
SEQ_LEN = 64  # time steps per window: how far back the gradient reaches (truncated BPTT)
EVAL_BATCH_SIZE = 8  # few streams, so the carried state restarts from zeros only 8 times over the held-out text
EVAL_SEQ_LEN = 256
LR = 3e-3
MIN_LR = 3e-4  # cosine decay of the learning rate from LR down to this over the whole run
CLIP_NORM = 1.0
PROMPT = "The built-in function "
SAMPLE_LENGTH = 400
TEMPERATURES = (0.5, 0.8, 1.0)
UNK = "<unk>"  # characters of the val/test text never seen in training map here


def load_text(path=None):
    """The Python documentation, or a user's UTF-8 text file, cut to CORPUS_CHARS when that is set."""
    if path is None:
        text = python_docs_text()
    else:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    return text if CORPUS_CHARS is None else text[:CORPUS_CHARS]


def unigram_bpc(train_ids, test_ids, vocab_size):
    """Bits per token of a unigram model fitted on train_ids with add-one smoothing, on test_ids:
    p(c) = (count_train(c) + 1) / (N_train + V), bpc = -mean over the test ids of log2 p(c)."""
    counts = np.bincount(np.asarray(train_ids), minlength=vocab_size).astype(np.float64)
    probabilities = (counts + 1) / (counts.sum() + vocab_size)
    return float(-np.log2(probabilities[np.asarray(test_ids)]).mean())


def window_loss(model, inputs, targets, state):
    """Mean cross-entropy (nats) of one window (B, T) and the state after it."""
    logits, state = model(inputs, state)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), Tensor._make(targets.reshape(-1)))
    return loss, state


def evaluate_bpc(model, ids, batch_size=EVAL_BATCH_SIZE, seq_len=EVAL_SEQ_LEN):
    """Bits per character of model on the stream ids (N,): the stream is cut into batch_size rows read window by
    window with the recurrent state carried across windows (each row starts from a zero state), as in training."""
    batch_size = max(1, min(batch_size, len(ids) // 2))
    model.eval()
    total_nats, count, state = 0.0, 0, None
    with no_grad():
        for inputs, targets in lm_batches(ids, batch_size, seq_len):
            loss, state = window_loss(model, inputs, targets, state)
            total_nats += float(loss.data) * targets.size
            count += targets.size
    model.train()
    return total_nats / count / math.log(2)


def train_epoch(model, optimizer, scheduler, ids, epoch, epochs, verbose):
    """One pass of truncated BPTT over the training stream; returns the mean training loss in nats per char."""
    model.train()
    batches = lm_batches(ids, BATCH_SIZE, SEQ_LEN)
    total_nats, count, state = 0.0, 0, None
    for step, (inputs, targets) in enumerate(batches):
        # Carry the state into the next window but cut the graph: gradients stop at the window's start.
        loss, state = window_loss(model, inputs, targets, detach_state(state))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)
        optimizer.step()
        scheduler.step()
        total_nats += float(loss.data) * targets.size
        count += targets.size
        if verbose >= 2 and (step + 1) % 50 == 0:
            print(f"{NAME} epoch {epoch + 1}/{epochs} window {step + 1}/{len(batches)}: "
                  f"{float(loss.data) / math.log(2):.3f} bits/char")
    return total_nats / count


def write_samples(path, model, vocab, tokenizer, seed):
    """samples.txt: SAMPLE_LENGTH generated characters after PROMPT at each of TEMPERATURES (seeded)."""
    prompt_ids = tokenizer.encode(PROMPT, vocab)
    rng = np.random.default_rng(seed)
    with open(path, "w", encoding="utf-8") as handle:
        for temperature in TEMPERATURES:
            ids = model.generate(prompt_ids, SAMPLE_LENGTH, temperature=temperature, rng=rng)
            handle.write(f"=== temperature {temperature} ===\n{PROMPT}{tokenizer.decode(ids, vocab)}\n\n")


def run(config: RunConfig):
    out = prepare_output(config.out)
    manual_seed(config.seed)
    tokenizer = CharTokenizer()
    train_text, val_text, test_text = split_text(load_text(config.data), SPLIT)
    vocab = tokenizer.build_vocab(train_text, specials=(UNK,))
    train_ids, val_ids, test_ids = (tokenizer.encode(t, vocab) for t in (train_text, val_text, test_text))
    if min(len(val_ids), len(test_ids)) < 2 or len(train_ids) < 2 * BATCH_SIZE:
        raise ValueError(f"{NAME}: the text is too short ({len(train_ids)} train, {len(val_ids)} val, "
                         f"{len(test_ids)} test characters)")
    model = CharRNN(len(vocab), EMBEDDING_DIM, HIDDEN_SIZE)
    optimizer = optim.Adam(model.parameters(), lr=LR)
    epochs = config.epochs or DEFAULT_EPOCHS
    steps = epochs * len(lm_batches(train_ids, BATCH_SIZE, SEQ_LEN))
    scheduler = CosineAnnealingLR(optimizer, T_max=steps, eta_min=MIN_LR)
    history = History()
    started = time.perf_counter()
    for epoch in range(epochs):
        train_nats = train_epoch(model, optimizer, scheduler, train_ids, epoch, epochs, config.verbose)
        val_bpc = evaluate_bpc(model, val_ids)
        logs = {"loss": train_nats, "val_loss": val_bpc * math.log(2), "bpc": train_nats / math.log(2),
                "val_bpc": val_bpc}
        history.on_epoch_end(epoch, logs)
        if config.verbose:
            print(f"{NAME} epoch {epoch + 1}/{epochs}: train {logs['bpc']:.3f} bits/char, val {val_bpc:.3f} "
                  f"({time.perf_counter() - started:.0f} s)")
    seconds = time.perf_counter() - started
    test_bpc = evaluate_bpc(model, test_ids)
    baseline = unigram_bpc(train_ids, test_ids, len(vocab))
    metrics = {"test_bpc": test_bpc, "baseline_bpc": baseline, "val_bpc": history.history["val_bpc"][-1],
               "train_bpc": history.history["bpc"][-1], "train_seconds": round(seconds, 3),
               "parameters": model.num_parameters(), "epochs": epochs, "vocab_size": len(vocab),
               "train_chars": len(train_ids), "val_chars": len(val_ids), "test_chars": len(test_ids),
               "hidden_size": HIDDEN_SIZE, "seq_len": SEQ_LEN, "batch_size": BATCH_SIZE}
    write_run(out, model, history, metrics,
              title=f"{NAME}: test {test_bpc:.2f} bits/char (unigram {baseline:.2f})")
    vocab.save(os.path.join(out, "vocab.json"))
    write_samples(os.path.join(out, "samples.txt"), model, vocab, tokenizer, config.seed)
    return metrics
