"""seq2seq-dates: translate dates written the ways people write them ("Fri 3 Mar 2017", "03/03/2017", ...) into ISO
form ("2017-03-03") with a character-level encoder-decoder with attention; test dates are never seen in training."""

import os
import re
import time

import numpy as np

from .. import optim
from ..autograd import no_grad
from ..models.seq2seq import Seq2Seq
from ..nn import functional as F
from ..nn.utils import clip_grad_norm_
from ..random import manual_seed, numpy_generator
from ..train.callbacks import History
from ..train.plots import _pyplot
from . import dates_data
from .common import RunConfig, prepare_output, write_run

NAME = "seq2seq-dates"
DESCRIPTION = "character-level seq2seq with attention: human-written dates -> ISO 8601 (attention maps)"
DEFAULT_EPOCHS = 4

# Knobs (module constants so that a test can shrink the run).
TRAIN_EXAMPLES = 24000  # pairs drawn from the training dates, each in a random format and case
VAL_EXAMPLES = 500  # from the validation dates: greedy exact match after every epoch
TEST_EXAMPLES = None  # None: every test date once (3652 dates), each in a random format
EMBEDDING_DIM = 32
HIDDEN_SIZE = 64  # per encoder direction; the decoder state is 2 * HIDDEN_SIZE
BATCH_SIZE = 64
LR = 3e-3  # Adam, annealed to LR / 100 over the run (cosine, every batch): no late spikes in the loss
CLIP_NORM = 1.0
MAX_LEN = 12  # decoding steps: 10 ISO characters, "</s>", one spare to show a model that does not stop
SHOWN_ATTENTION = 4  # test examples drawn in attention.png
SHOWN_TRANSLATIONS = 60  # test examples listed in translations.txt (plus every mistake, up to MAX_MISTAKES)
MAX_MISTAKES = 200


def batches(sources, rng, batch_size):
    """Index arrays of shuffled batches in which the sources have similar lengths (less padding to run through the
    encoder): shuffle, sort chunks of 20 batches by length, cut them into batches, shuffle the batches."""
    order = rng.permutation(len(sources))
    lengths = np.array([len(s) for s in sources])
    chunk = 20 * batch_size
    result = []
    for start in range(0, len(order), chunk):
        piece = order[start:start + chunk]
        piece = piece[np.argsort(lengths[piece], kind="stable")]
        result += [piece[i:i + batch_size] for i in range(0, len(piece), batch_size)]
    return [result[i] for i in rng.permutation(len(result))]


def sequence_loss(model, src, tgt_in, tgt_out):
    """Mean cross-entropy over the real target tokens, and the number of them predicted right (teacher forced)."""
    logits = model(src, tgt_in)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1), ignore_index=model.pad_index)
    real = tgt_out != model.pad_index
    correct = int(((logits.data.argmax(axis=-1) == tgt_out) & real).sum())
    return loss, correct, int(real.sum())


def translate_all(model, sources, source_vocab, target_vocab, batch_size=512):
    """Greedy translations of the source strings: (output strings, attention maps), the map of example i an array
    (steps, len(source) + 1) whose rows are the output tokens up to and including "</s>" (all MAX_LEN when the
    model never ended) and whose columns are the source characters and the source's "</s>"."""
    outputs, attentions = [], []
    end = target_vocab.stoi["</s>"]
    for start in range(0, len(sources), batch_size):
        chunk = sources[start:start + batch_size]
        ids, attention = model.translate(dates_data.encode_sources(chunk, source_vocab), MAX_LEN)
        for row, source in enumerate(chunk):
            ended = np.nonzero(ids.data[row] == end)[0]
            steps = ended[0] + 1 if len(ended) else ids.shape[1]
            outputs.append(dates_data.decode_ids(ids.data[row], target_vocab))
            attentions.append(attention.data[row, :steps, :len(source) + 1])
    return outputs, attentions


def scores(outputs, targets):
    """exact_match: share of outputs equal to their target; char_accuracy: share of target characters matched at
    the same position (a missing character counts as wrong, extra ones are ignored)."""
    exact = np.mean([o == t for o, t in zip(outputs, targets)])
    right = sum(sum(a == b for a, b in zip(o, t)) for o, t in zip(outputs, targets))
    return float(exact), right / sum(len(t) for t in targets)


def train_epoch(model, optimizer, scheduler, pairs, source_vocab, rng):
    """One pass over the training pairs (the scheduler steps every batch); returns (mean loss per token,
    teacher-forced token accuracy)."""
    sources, tgt_in, tgt_out = pairs  # source strings, encoded targets (N, T_out) twice
    model.train()
    total, correct, tokens = 0.0, 0, 0
    for index in batches(sources, rng, BATCH_SIZE):
        src = dates_data.encode_sources([sources[i] for i in index], source_vocab)
        loss, right, count = sequence_loss(model, src, tgt_in[index], tgt_out[index])
        optimizer.zero_grad()
        loss.backward()
        clip_grad_norm_(model.parameters(), CLIP_NORM)
        optimizer.step()
        scheduler.step()
        total += float(loss.data) * count
        correct += right
        tokens += count
    return total / tokens, correct / tokens


def evaluate_loss(model, sources, targets, source_vocab, target_vocab):
    """Teacher-forced (loss per token, token accuracy) on a list of pairs, without a graph."""
    model.eval()
    tgt_in, tgt_out = dates_data.encode_targets(targets, target_vocab)
    with no_grad():
        loss, right, count = sequence_loss(model, dates_data.encode_sources(sources, source_vocab), tgt_in, tgt_out)
    return float(loss.data), right / count


def write_translations(path, sources, outputs, targets, formats):
    """translations.txt: the first SHOWN_TRANSLATIONS test examples, then every mistake (up to MAX_MISTAKES)."""
    mistakes = [i for i, (o, t) in enumerate(zip(outputs, targets)) if o != t]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(f"# {len(outputs)} test dates, {len(mistakes)} mistranslated\n")
        handle.write(f"# {'source':<32} {'output':<12} {'target':<12} format\n")
        line = "{mark} {source:<32} {output:<12} {target:<12} {format}\n"
        for i in range(min(SHOWN_TRANSLATIONS, len(outputs))):
            mark = " " if outputs[i] == targets[i] else "x"
            handle.write(line.format(mark=mark, source=sources[i], output=outputs[i], target=targets[i],
                                     format=formats[i]))
        cut = f", the first {MAX_MISTAKES} shown" if len(mistakes) > MAX_MISTAKES else ""
        handle.write(f"\n# mistakes ({len(mistakes)}{cut})\n")
        for i in mistakes[:MAX_MISTAKES]:
            handle.write(line.format(mark="x", source=sources[i], output=outputs[i], target=targets[i],
                                     format=formats[i]))
    return len(mistakes)


def plot_attention(path, sources, tokens, attentions):
    """attention.png: one panel per example, output tokens down (tokens[i]: one per row of attentions[i]), source
    characters across."""
    plt = _pyplot()
    widths = [len(s) + 1 for s in sources]  # one column per source character and "</s>": panels as wide as that
    figure, axes = plt.subplots(1, len(sources), figsize=(1.2 * len(sources) + 0.2 * sum(widths), 3.8),
                                squeeze=False, gridspec_kw={"width_ratios": widths})
    for axis, source, rows, weights in zip(axes[0], sources, tokens, attentions):
        axis.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
        columns = list(source) + ["</s>"]
        axis.set_xticks(range(len(columns)), columns, fontsize=7)
        axis.set_yticks(range(len(rows)), rows, fontsize=7)
        axis.set_xlabel("source")
        axis.set_ylabel("output")
        axis.set_title(source, fontsize=9)
    figure.suptitle(f"{NAME}: attention weights on test dates")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def run(config: RunConfig):
    out = prepare_output(config.out)
    manual_seed(config.seed)
    rng = numpy_generator()
    split = dates_data.split_dates(config.seed)
    source_vocab, target_vocab = dates_data.source_vocab(), dates_data.target_vocab()
    train_sources, train_targets, _ = dates_data.make_pairs(split["train"], rng, TRAIN_EXAMPLES)
    val_sources, val_targets, _ = dates_data.make_pairs(split["val"], rng, VAL_EXAMPLES)
    test_sources, test_targets, test_formats = dates_data.make_pairs(split["test"], rng, TEST_EXAMPLES)
    tgt_in, tgt_out = dates_data.encode_targets(train_targets, target_vocab)
    model = Seq2Seq(len(source_vocab), len(target_vocab), embedding_dim=EMBEDDING_DIM, hidden_size=HIDDEN_SIZE,
                    pad_index=target_vocab.pad_index, start_index=target_vocab.stoi["<s>"],
                    end_index=target_vocab.stoi["</s>"])
    optimizer = optim.Adam(model.parameters(), lr=LR)
    epochs = config.epochs or DEFAULT_EPOCHS
    steps = epochs * len(batches(train_sources, np.random.default_rng(0), BATCH_SIZE))
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps, eta_min=LR / 100)
    history = History()
    started = time.perf_counter()
    for epoch in range(epochs):
        loss, accuracy = train_epoch(model, optimizer, scheduler, (train_sources, tgt_in, tgt_out), source_vocab,
                                     rng)
        val_loss, val_accuracy = evaluate_loss(model, val_sources, val_targets, source_vocab, target_vocab)
        val_outputs, _ = translate_all(model, val_sources, source_vocab, target_vocab)
        val_exact, _ = scores(val_outputs, val_targets)
        logs = {"loss": loss, "val_loss": val_loss, "accuracy": accuracy, "val_accuracy": val_accuracy,
                "val_exact_match": val_exact, "seconds": time.perf_counter() - started}
        history.on_epoch_end(epoch, logs)
        if config.verbose:
            print(f"{NAME} epoch {epoch + 1}/{epochs}: loss {loss:.4f} val_loss {val_loss:.4f} "
                  f"val_exact_match {val_exact:.3f} ({logs['seconds']:.0f}s)")
    seconds = time.perf_counter() - started
    outputs, attentions = translate_all(model, test_sources, source_vocab, target_vocab)
    exact, char_accuracy = scores(outputs, test_targets)
    by_format = {}
    for output, target, name in zip(outputs, test_targets, test_formats):
        by_format.setdefault(name, []).append(output == target)
    metrics = {"test_exact_match": exact, "test_char_accuracy": char_accuracy, "test_examples": len(outputs),
               "train_examples": len(train_sources), "epochs": epochs, "train_seconds": round(seconds, 3),
               "parameters": model.num_parameters(), "final_loss": history.history["loss"][-1],
               "val_exact_match": history.history["val_exact_match"][-1],
               "worst_format": min(by_format, key=lambda k: np.mean(by_format[k])),
               "worst_format_exact_match": float(min(np.mean(v) for v in by_format.values()))}
    write_run(out, model, history, metrics, title=f"{NAME}: loss and teacher-forced character accuracy")
    source_vocab.save(os.path.join(out, "source_vocab.json"))
    target_vocab.save(os.path.join(out, "target_vocab.json"))
    write_translations(os.path.join(out, "translations.txt"), test_sources, outputs, test_targets, test_formats)
    shown = _attention_examples(test_sources, test_formats, SHOWN_ATTENTION)
    plot_attention(os.path.join(out, "attention.png"), [test_sources[i] for i in shown],
                   [_output_tokens(outputs[i], len(attentions[i])) for i in shown], [attentions[i] for i in shown])
    return metrics


def _output_tokens(output, steps):
    """The row labels of an attention map with `steps` rows: the output's tokens, then "</s>" if it ended."""
    tokens = re.findall(r"<[^<>]+>|.", output)  # a stray special such as "<pad>" is one token, one row
    return (tokens + ["</s>"])[:steps]


def _attention_examples(sources, formats, count):
    """Indices of `count` test examples in different formats, preferring formats with month names (the most
    interesting maps: the model must read the month word and the day in whichever order they come)."""
    chosen, seen = [], set()
    for i, name in enumerate(formats):
        if name not in seen and "MMM" in name:
            chosen.append(i)
            seen.add(name)
        if len(chosen) == count:
            return chosen
    return (chosen + [i for i in range(len(sources)) if i not in chosen])[:count]
