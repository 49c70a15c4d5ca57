"""sequence-bilstm: a tagging task that needs both sides of each token, a bidirectional LSTM against a
unidirectional one of the same size.

The task ("sum of the neighbours"). A sequence holds digits x_0 .. x_{L-1}, each drawn uniformly from 1..K
(K = DIGITS = 9), with a length L drawn uniformly from MIN_LENGTH..MAX_LENGTH. The tag of position t is

    tag_t = x_{t-1} + x_{t+1},   a neighbour outside the sequence counting as 0 (the boundary convention),

so tags lie in 1..2K (0 only for a lone digit, which the lengths exclude). The tag needs one token of left context
and one of right context: two sequences that agree up to position t but differ at t+1 have different tags at t.

Why a sum and not a sum mod K: the tagger is Embedding -> LSTM -> Linear at every position, so with one
bidirectional layer the logit of tag c is a_c(left part) + b_c(right part), a score from the forward state plus a
score from the backward state. An argmax of such additive scores can express x_{t-1} + x_{t+1} (take
a_c + b_c = -(c - x_{t-1} - x_{t+1})^2, whose c-dependent terms split into a left and a right part) but not an
XOR-like (x_{t-1} + x_{t+1}) mod K, which would need a second layer or a hidden layer in the read-out.

What the left context alone allows (the unidirectional ceiling). A forward LSTM at position t has read
x_0 .. x_t: it knows x_{t-1} (and t) exactly, but x_{t+1} is a fresh uniform digit, independent of everything it
has read, unless t is the last position (then x_{t+1} counts 0). With p(l) the length distribution, the best a
left-to-right model can do at position t is max(P(L = t+1 | L > t), P(L > t+1 | L > t) / K), so its expected
per-token accuracy is at most

    ceiling = sum_t max(p(t+1), P(L > t+1) / K) / E[L]          (0.127 for K = 9, lengths 5..20),

while the bidirectional tagger can reach 1. Both taggers get the same budget (epochs, batches, optimizer, learning
rate, gradient clipping) and nearly the same number of parameters: the unidirectional one gets the hidden size
whose parameter count is closest to the bidirectional one's.

Variable lengths: the sequences of a batch are padded with pad_batch (pad id 0, digits are ids 1..K, the
embedding's padding_idx row stays zero) and the padded positions get the target IGNORE so that they count in
neither the loss (cross_entropy's ignore_index) nor the accuracy. The tagger packs each batch
(pack_padded_sequence), so neither direction ever reads the padding: the reverse direction starts at each
sequence's own last digit, from a zero state -- which is the "0 past the end" of the boundary convention.

Files: metrics.json, history.csv (both models per epoch), curves.png (loss and validation accuracy of both models
on shared axes), tagging.png (test sequences with true tags and both models' predictions), model.safetensors (the
bidirectional tagger) and unidirectional.safetensors.
"""

import csv
import os
import time

import numpy as np

from .. import nn, optim
from ..autograd import no_grad
from ..io import safetensors_io
from ..nn import functional as F
from ..nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from ..random import manual_seed, numpy_generator
from ..tensor import Tensor
from ..text import pad_batch
from ..train.plots import _pyplot
from .common import RunConfig, prepare_output, write_metrics

NAME = "sequence-bilstm"
DESCRIPTION = ("tag each digit with the sum of its two neighbours: a bidirectional LSTM against a unidirectional "
               "one of the same size (variable lengths as packed sequences)")
DEFAULT_EPOCHS = 10

# Knobs (module constants so that a test can shrink the run).
DIGITS = 9  # K: digits 1..K, token ids 1..K, id 0 is padding
MIN_LENGTH, MAX_LENGTH = 5, 20
TRAIN_SEQUENCES, VAL_SEQUENCES, TEST_SEQUENCES = 4000, 500, 1000
EMBEDDING_DIM = 16
HIDDEN_SIZE = 32  # per direction of the bidirectional tagger
BATCH_SIZE = 64
LR = 3e-2
CLIP_NORM = 1.0
PAD = 0
IGNORE = -100  # the target at padded positions
SHOWN_SEQUENCES = 6  # rows of tagging.png


def num_tags(digits=None):
    """Tags 0..2K (0 never occurs with lengths >= 2, but keeping it makes the tag the class index)."""
    return 2 * (digits or DIGITS) + 1


def neighbour_sum_tags(sequence):
    """tag_t = x_{t-1} + x_{t+1} for one sequence (L,) of digits, an out-of-range neighbour counting as 0."""
    x = np.asarray(sequence, dtype=np.int64)
    if x.ndim != 1:
        raise ValueError(f"{NAME}: neighbour_sum_tags expects one 1-D sequence, got shape {x.shape}")
    padded = np.concatenate([[0], x, [0]])
    return padded[:-2] + padded[2:]


def generate_sequences(count, rng, digits=None, min_length=None, max_length=None):
    """`count` sequences (a list of int64 arrays) with uniform lengths in min_length..max_length and uniform digits
    in 1..digits, and their tags (a list of the same shapes)."""
    digits = digits or DIGITS
    low, high = min_length or MIN_LENGTH, max_length or MAX_LENGTH
    if not 2 <= low <= high:
        raise ValueError(f"{NAME}: lengths need 2 <= min_length <= max_length, got {low}..{high}")
    lengths = rng.integers(low, high + 1, size=count)
    sequences = [rng.integers(1, digits + 1, size=n).astype(np.int64) for n in lengths]
    return sequences, [neighbour_sum_tags(s) for s in sequences]


def unidirectional_ceiling(digits=None, min_length=None, max_length=None):
    """The best expected per-token accuracy of any model that sees only x_0 .. x_t at position t (see the module
    docstring): sum_t max(p(t+1), P(L > t+1) / K) / E[L], with L uniform in min_length..max_length."""
    digits = digits or DIGITS
    low, high = min_length or MIN_LENGTH, max_length or MAX_LENGTH
    lengths = np.arange(high + 1)
    p = np.where(lengths >= low, 1.0 / (high - low + 1), 0.0)  # p[l] = P(L = l)
    longer = p[::-1].cumsum()[::-1] - p  # longer[l] = P(L > l)
    correct = sum(max(p[t + 1], longer[t + 1] / digits) for t in range(high))
    return float(correct / (p * lengths).sum())


def batch(sequences, tags):
    """Pad a list of sequences and their tags: ids (B, T) int64 with PAD after each sequence, targets (B, T) int64
    with IGNORE at the padding, mask (B, T) bool, True at real tokens."""
    ids, _, mask = pad_batch(sequences, pad_index=PAD)
    targets, _, _ = pad_batch(tags, pad_index=IGNORE)
    return ids, targets, mask


class Tagger(nn.Module):
    """Embedding -> one-layer LSTM -> Linear at every position: ids (B, T) -> tag logits (B, T, num_tags)."""

    def __init__(self, hidden_size, bidirectional, digits=None, embedding_dim=None):
        super().__init__()
        digits, embedding_dim = digits or DIGITS, embedding_dim or EMBEDDING_DIM
        self.embedding = nn.Embedding(digits + 1, embedding_dim, padding_idx=PAD)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, batch_first=True, bidirectional=bidirectional)
        self.head = nn.Linear(hidden_size * (2 if bidirectional else 1), num_tags(digits))

    def forward(self, ids):
        """ids (B, T), PAD after each sequence -> logits (B, T, num_tags); the padded positions' logits are those
        of a zero LSTM output (they are ignored by the loss and the accuracy)."""
        lengths = (np.asarray(ids.data if isinstance(ids, Tensor) else ids) != PAD).sum(axis=1)
        packed = pack_padded_sequence(self.embedding(ids), lengths, batch_first=True, enforce_sorted=False)
        output, _ = self.lstm(packed)
        output, _ = pad_packed_sequence(output, batch_first=True, total_length=ids.shape[1])
        return self.head(output)


def tagger_parameters(hidden_size, bidirectional, digits=None, embedding_dim=None):
    """The parameter count of Tagger(hidden_size, bidirectional), by formula: embedding (K+1)E, per direction
    4H(E + H) weights and 2 * 4H biases, head D*H*C + C."""
    digits, embedding_dim = digits or DIGITS, embedding_dim or EMBEDDING_DIM
    directions = 2 if bidirectional else 1
    lstm = directions * (4 * hidden_size * (embedding_dim + hidden_size) + 8 * hidden_size)
    tags = num_tags(digits)
    return (digits + 1) * embedding_dim + lstm + directions * hidden_size * tags + tags


def matching_hidden_size(target, digits=None, embedding_dim=None):
    """The hidden size of a unidirectional tagger whose parameter count is closest to `target` (ties: smaller)."""
    best = None
    for hidden in range(1, 4 * int(np.sqrt(target)) + 2):
        gap = abs(tagger_parameters(hidden, False, digits, embedding_dim) - target)
        if best is None or gap < best[0]:
            best = (gap, hidden)
    return best[1]


def masked_loss(logits, targets):
    """Mean cross-entropy over the real tokens: logits (B, T, C), targets (B, T) with IGNORE at the padding."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORE)


def masked_accuracy(predictions, targets):
    """(correct real tokens, real tokens) for predictions and targets (B, T); padded positions (IGNORE) skipped."""
    real = targets != IGNORE
    return int((predictions[real] == targets[real]).sum()), int(real.sum())


def evaluate_tagger(model, sequences, tags):
    """(mean loss per real token, per-token accuracy, predictions as a list of arrays) over sequences and tags."""
    model.eval()
    total_loss, correct, count, predictions = 0.0, 0, 0, []
    with no_grad():
        for start in range(0, len(sequences), 256):
            ids, targets, mask = batch(sequences[start:start + 256], tags[start:start + 256])
            logits = model(ids)
            real = int(mask.sum())
            total_loss += float(masked_loss(logits, targets).data) * real
            predicted = logits.data.argmax(axis=-1)
            right, real = masked_accuracy(predicted, targets)
            correct, count = correct + right, count + real
            predictions += [row[:n] for row, n in zip(predicted, mask.sum(axis=1))]
    model.train()
    return total_loss / count, correct / count, predictions


def train_epoch(model, optimizer, sequences, tags, rng):
    """One pass over the training set in shuffled batches; returns (mean loss per real token, accuracy)."""
    order = rng.permutation(len(sequences))
    total_loss, correct, count = 0.0, 0, 0
    for start in range(0, len(order), BATCH_SIZE):
        chosen = order[start:start + BATCH_SIZE]
        ids, targets, mask = batch([sequences[i] for i in chosen], [tags[i] for i in chosen])
        optimizer.zero_grad()
        logits = model(ids)
        loss = masked_loss(logits, targets)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)
        optimizer.step()
        real = int(mask.sum())
        total_loss += float(loss.data) * real
        right, _ = masked_accuracy(logits.data.argmax(axis=-1), targets)
        correct, count = correct + right, count + real
    return total_loss / count, correct / count


def plot_comparison(logs, path, ceiling):
    """Loss (train and validation) and validation accuracy of both taggers, per epoch, on shared axes."""
    plt = _pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    for kind, color in (("bidirectional", "tab:blue"), ("unidirectional", "tab:orange")):
        epochs = np.arange(1, len(logs[f"{kind}_loss"]) + 1)
        left.plot(epochs, logs[f"{kind}_loss"], color=color, marker="o", markersize=3, label=f"{kind} train")
        left.plot(epochs, logs[f"{kind}_val_loss"], color=color, linestyle="--", label=f"{kind} validation")
        right.plot(epochs, logs[f"{kind}_val_accuracy"], color=color, marker="o", markersize=3, label=kind)
    right.axhline(ceiling, color="gray", linestyle=":", label=f"left-context ceiling {ceiling:.3f}")
    left.set(xlabel="epoch", ylabel="cross-entropy per token", title="loss")
    right.set(xlabel="epoch", ylabel="per-token accuracy", title="validation accuracy", ylim=(0, 1.02))
    for axis in (left, right):
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.suptitle(f"{NAME}: tag = left neighbour + right neighbour")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_tagging(sequences, tags, bidirectional, unidirectional, path):
    """One table per sequence: the digits, the true tags and each tagger's predictions (wrong ones in red)."""
    plt = _pyplot()
    width = max(len(s) for s in sequences)
    figure, axes = plt.subplots(len(sequences), 1, figsize=(0.42 * width + 1.6, 1.15 * len(sequences)),
                                squeeze=False)
    rows = ("digit", "true tag", "bidirectional", "unidirectional")
    for axis, x, y, bi, uni in zip(axes[:, 0], sequences, tags, bidirectional, unidirectional):
        axis.set_xlim(-2.4, width)
        axis.set_ylim(len(rows) - 0.5, -0.5)
        axis.axis("off")
        for r, name in enumerate(rows):
            axis.text(-0.7, r, name, ha="right", va="center", fontsize=8)
        for t in range(len(x)):
            axis.text(t, 0, str(x[t]), ha="center", va="center", fontsize=9, fontweight="bold")
            axis.text(t, 1, str(y[t]), ha="center", va="center", fontsize=8)
            for r, predicted in ((2, bi[t]), (3, uni[t])):
                axis.text(t, r, str(predicted), ha="center", va="center", fontsize=8,
                          color="black" if predicted == y[t] else "red")
    figure.suptitle("test sequences: tag_t = x[t-1] + x[t+1] (red = wrong)", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_history(logs, path):
    keys = list(logs)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["epoch"] + keys)
        writer.writerows([epoch + 1] + [logs[k][epoch] for k in keys] for epoch in range(len(logs[keys[0]])))


def run(config: RunConfig):
    out = prepare_output(config.out)
    manual_seed(config.seed)
    rng = numpy_generator()
    train = generate_sequences(TRAIN_SEQUENCES, rng)
    val = generate_sequences(VAL_SEQUENCES, rng)
    test = generate_sequences(TEST_SEQUENCES, rng)
    epochs = config.epochs or DEFAULT_EPOCHS
    bi_parameters = tagger_parameters(HIDDEN_SIZE, True)
    uni_hidden = matching_hidden_size(bi_parameters)
    models = {"bidirectional": Tagger(HIDDEN_SIZE, True), "unidirectional": Tagger(uni_hidden, False)}
    logs, results, seconds = {}, {}, 0.0
    for kind, model in models.items():
        optimizer = optim.Adam(model.parameters(), lr=LR)
        # Annealing the step size to 0 lets the last epochs settle instead of hopping between nearby solutions.
        schedule = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
        batches = np.random.default_rng(config.seed + 1)  # both taggers see the same batches in the same order
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            logs[f"{kind}_{key}"] = []
        started = time.perf_counter()
        for epoch in range(epochs):
            loss, accuracy = train_epoch(model, optimizer, *train, batches)
            schedule.step()
            val_loss, val_accuracy, _ = evaluate_tagger(model, *val)
            for key, value in (("loss", loss), ("accuracy", accuracy), ("val_loss", val_loss),
                               ("val_accuracy", val_accuracy)):
                logs[f"{kind}_{key}"].append(value)
            if config.verbose:
                print(f"{NAME} {kind} epoch {epoch + 1}/{epochs}: loss {loss:.4f} accuracy {accuracy:.4f} "
                      f"val_loss {val_loss:.4f} val_accuracy {val_accuracy:.4f}")
        seconds += time.perf_counter() - started
        results[kind] = evaluate_tagger(model, *test)
    ceiling = unidirectional_ceiling()
    metrics = {"bidirectional_accuracy": results["bidirectional"][1],
               "unidirectional_accuracy": results["unidirectional"][1],
               "unidirectional_ceiling": ceiling, "chance_accuracy": 1.0 / DIGITS,
               "bidirectional_test_loss": results["bidirectional"][0],
               "unidirectional_test_loss": results["unidirectional"][0],
               "parameters_bidirectional": models["bidirectional"].num_parameters(),
               "parameters_unidirectional": models["unidirectional"].num_parameters(),
               "hidden_bidirectional": HIDDEN_SIZE, "hidden_unidirectional": uni_hidden,
               "train_seconds": round(seconds, 3), "epochs": epochs, "train_sequences": TRAIN_SEQUENCES,
               "test_sequences": TEST_SEQUENCES, "test_tokens": int(sum(len(s) for s in test[0]))}
    write_metrics(metrics, os.path.join(out, "metrics.json"))
    write_history(logs, os.path.join(out, "history.csv"))
    plot_comparison(logs, os.path.join(out, "curves.png"), ceiling)
    shown = min(SHOWN_SEQUENCES, TEST_SEQUENCES)
    plot_tagging(test[0][:shown], test[1][:shown], results["bidirectional"][2][:shown],
                 results["unidirectional"][2][:shown], os.path.join(out, "tagging.png"))
    safetensors_io.save(models["bidirectional"].state_dict(), os.path.join(out, "model.safetensors"),
                        metadata={"hidden_size": str(HIDDEN_SIZE), "bidirectional": "true"})
    safetensors_io.save(models["unidirectional"].state_dict(), os.path.join(out, "unidirectional.safetensors"),
                        metadata={"hidden_size": str(uni_hidden), "bidirectional": "false"})
    return metrics
