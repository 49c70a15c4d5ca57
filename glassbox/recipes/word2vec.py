"""word2vec: skip-gram word vectors with negative sampling (SGNS), learned from Python's own documentation."""

import csv
import os
import time

import numpy as np

from .. import nn, optim
from ..io import safetensors_io
from ..nn import functional as F
from ..nn import init
from ..random import manual_seed, numpy_generator
from ..text import Vocab, WordTokenizer, python_docs_text
from ..train import plots, text_plots
from .common import RunConfig, prepare_output, write_metrics

NAME = "word2vec"
DESCRIPTION = "skip-gram word vectors with negative sampling on Python's documentation (nearest neighbours, PCA map)"
DEFAULT_EPOCHS = 30

# Knobs (module constants so that a test can shrink the run).
CORPUS_CHARS = None  # use only the first this many characters of the corpus (None = all)
MIN_FREQ = 5  # rarer words are dropped from the text: too few contexts to learn a vector from
EMBEDDING_DIM = 64
WINDOW = 5  # the largest distance between a centre word and a context word
NEGATIVES = 5  # noise words per (centre, context) pair
SUBSAMPLE = 1e-3  # t in the subsampling formula; the corpus is small, so larger than the paper's 1e-5
BATCH_SIZE = 4096
LR = 0.005

# Word pairs that any reader of the Python docs would call related; those missing from the vocabulary are skipped.
RELATED_PAIRS = [("true", "false"), ("list", "tuple"), ("read", "write"), ("int", "float"), ("key", "value"),
                 ("get", "set"), ("start", "end"), ("min", "max"), ("open", "close"), ("upper", "lower"),
                 ("first", "last"), ("input", "output"), ("keys", "values"), ("left", "right"), ("break", "continue"),
                 ("async", "await"), ("__getattr__", "__setattr__"), ("__enter__", "__exit__"), ("str", "bytes"),
                 ("positional", "keyword"), ("local", "global"), ("try", "except")]
NEIGHBOUR_WORDS = ["list", "dict", "int", "string", "file", "class", "function", "true", "error", "read", "loop",
                   "import"]


def corpus_words(text):
    """The words of text, lowercased: word tokens that contain a letter (punctuation and bare numbers dropped)."""
    return [t for t in WordTokenizer(lower=True).tokenize(text) if not t.isdigit() and any(c.isalpha() for c in t)]


def keep_probabilities(counts, t=SUBSAMPLE):
    """(V,) probability of keeping each occurrence of a word of count counts[w] (Mikolov et al. 2013): a word of
    frequency f = count / total is dropped with probability 1 - sqrt(t / f), so very frequent words ("the", "a")
    lose most of their occurrences while words rarer than t are always kept."""
    counts = np.asarray(counts, dtype=np.float64)
    frequency = counts / counts.sum()
    with np.errstate(divide="ignore"):
        return np.minimum(1.0, np.sqrt(t / frequency))


def subsample(ids, keep, rng):
    """The ids (N,) that survive subsampling: each occurrence kept with probability keep[id], independently."""
    return ids[rng.random(len(ids)) < keep[ids]]


def skipgram_pairs(ids, window, rng):
    """(centres, contexts), int64 (P,): every pair of positions at distance d <= r_i, where the reach r_i of centre
    i is uniform in 1..window (word2vec's dynamic window: near words count more often than far ones)."""
    n = len(ids)
    reach = rng.integers(1, window + 1, size=n)
    centres, contexts = [], []
    for d in range(1, window + 1):
        right = np.nonzero(reach[:n - d] >= d)[0]  # centre i, context i + d
        left = np.nonzero(reach[d:] >= d)[0] + d  # centre i, context i - d
        centres += [ids[right], ids[left]]
        contexts += [ids[right + d], ids[left - d]]
    return np.concatenate(centres), np.concatenate(contexts)


def noise_distribution(counts, power=0.75):
    """(V,) float64: the unigram distribution raised to `power` and renormalised, from which negatives are drawn
    (0.75 gives rare words more chances than their frequency)."""
    weights = np.asarray(counts, dtype=np.float64) ** power
    return weights / weights.sum()


def draw_negatives(noise, shape, rng):
    """int64 array of `shape` with ids drawn independently from the distribution noise (V,) (inverse CDF)."""
    cdf = np.cumsum(noise)
    ids = np.searchsorted(cdf, rng.random(shape) * cdf[-1], side="right")
    return np.minimum(ids, len(noise) - 1).astype(np.int64)


def sgns_loss(centre, context, negatives):
    """Skip-gram negative-sampling loss, averaged over the batch.

    centre (B, D): input vectors u_c; context (B, D): output vectors v_o; negatives (B, K, D): output vectors v_k.
    loss = mean_b [ -log sigmoid(u_c . v_o) - sum_k log sigmoid(-u_c . v_k) ], written with
    -log sigmoid(x) = softplus(-x), which never overflows.
    """
    positive = (centre * context).sum(dim=-1)  # (B,)
    negative = (negatives * centre.unsqueeze(1)).sum(dim=-1)  # (B, K)
    return (F.softplus(-positive) + F.softplus(negative).sum(dim=-1)).mean()


class SkipGram(nn.Module):
    """Two tables of word vectors, (V, D) each: `center` for a word as the centre, `context` for a word seen
    around it. Initialised as word2vec: centre vectors small and uniform, context vectors zero."""

    def __init__(self, vocab_size, embedding_dim):
        super().__init__()
        self.center = nn.Embedding(vocab_size, embedding_dim)
        self.context = nn.Embedding(vocab_size, embedding_dim)
        init.uniform_(self.center.weight, -0.5 / embedding_dim, 0.5 / embedding_dim)
        init.zeros_(self.context.weight)

    def forward(self, centres, contexts, negatives):
        """centres (B,), contexts (B,), negatives (B, K) int64 ids -> the scalar SGNS loss."""
        return sgns_loss(self.center(centres), self.context(contexts), self.context(negatives))


def unit_vectors(vectors):
    """Rows scaled to unit length (a zero row stays zero), so that dot products are cosine similarities."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def nearest_neighbours(vectors, vocab, word, k=8):
    """The k words with the highest cosine similarity to `word` (itself excluded): list of (word, similarity)."""
    unit = unit_vectors(vectors)
    similarity = unit @ unit[vocab.stoi[word]]
    similarity[vocab.stoi[word]] = -np.inf
    best = np.argsort(-similarity, kind="stable")[:k]
    return [(vocab.itos[i], float(similarity[i])) for i in best]


def similarity_check(vectors, vocab, rng, random_pairs=5000):
    """related_similarity: mean cosine of RELATED_PAIRS (those in the vocabulary); random_similarity: mean cosine
    of random pairs of distinct words drawn by frequency (each word as often as it occurs in the text, like the
    related words themselves), so that the gap measures relatedness, not just "both words are frequent"."""
    unit = unit_vectors(vectors)
    pairs = [(a, b) for a, b in RELATED_PAIRS if a in vocab.stoi and b in vocab.stoi]
    if not pairs:
        raise ValueError(f"{NAME}: none of the related word pairs is in the vocabulary ({len(vocab)} words)")
    related = np.array([unit[vocab.stoi[a]] @ unit[vocab.stoi[b]] for a, b in pairs])
    frequency = vocab.frequencies() / vocab.frequencies().sum()
    first = rng.choice(len(vocab), size=random_pairs, p=frequency)
    second = rng.choice(len(vocab), size=random_pairs, p=frequency)
    distinct = first != second
    random = np.einsum("ij,ij->i", unit[first[distinct]], unit[second[distinct]])
    return {"related_similarity": float(related.mean()), "random_similarity": float(random.mean()),
            "related_minus_random": float(related.mean() - random.mean()), "related_pairs": len(pairs)}, pairs


def build_vocab(words):
    """The vocabulary of the corpus words seen at least MIN_FREQ times, no specials (rarer words are dropped)."""
    return Vocab(words, min_freq=MIN_FREQ, specials=())


def train_epoch(model, optimizer, ids, keep, noise, rng):
    """One pass over freshly subsampled pairs in shuffled batches; returns (mean loss, number of pairs)."""
    centres, contexts = skipgram_pairs(subsample(ids, keep, rng), WINDOW, rng)
    order = rng.permutation(len(centres))
    centres, contexts = centres[order], contexts[order]
    total = 0.0
    for start in range(0, len(centres), BATCH_SIZE):
        c, o = centres[start:start + BATCH_SIZE], contexts[start:start + BATCH_SIZE]
        negatives = draw_negatives(noise, (len(c), NEGATIVES), rng)
        optimizer.zero_grad()
        loss = model(c, o, negatives)
        loss.backward()
        optimizer.step()
        total += float(loss.data) * len(c)
    return total / max(len(centres), 1), len(centres)


def write_neighbours(path, vectors, vocab):
    with open(path, "w", encoding="utf-8") as handle:
        for word in NEIGHBOUR_WORDS:
            if word not in vocab.stoi:
                handle.write(f"{word}: (not in the vocabulary)\n")
                continue
            near = ", ".join(f"{w} {s:.2f}" for w, s in nearest_neighbours(vectors, vocab, word))
            handle.write(f"{word}: {near}\n")


def run(config: RunConfig):
    out = prepare_output(config.out)
    manual_seed(config.seed)
    rng = numpy_generator()
    if config.data is None:
        text = python_docs_text()
    else:  # --data: any UTF-8 text file instead of the Python docs
        with open(config.data, encoding="utf-8") as handle:
            text = handle.read()
    if CORPUS_CHARS is not None:
        text = text[:CORPUS_CHARS]
    words = corpus_words(text)
    vocab = build_vocab(words)
    if len(vocab) < 2:
        raise ValueError(f"{NAME}: only {len(vocab)} word(s) occur at least {MIN_FREQ} times; need a longer text")
    ids = np.array([vocab.stoi[w] for w in words if w in vocab.stoi], dtype=np.int64)
    counts = vocab.frequencies()
    keep, noise = keep_probabilities(counts), noise_distribution(counts)
    model = SkipGram(len(vocab), EMBEDDING_DIM)
    optimizer = optim.Adam(model.parameters(), lr=LR)
    epochs = config.epochs or DEFAULT_EPOCHS
    losses, pairs_seen = [], 0
    started = time.perf_counter()
    for epoch in range(epochs):
        loss, pairs = train_epoch(model, optimizer, ids, keep, noise, rng)
        losses.append(loss)
        pairs_seen += pairs
        if config.verbose:
            print(f"{NAME} epoch {epoch + 1}/{epochs}: loss {loss:.4f} ({pairs} pairs)")
    seconds = time.perf_counter() - started
    vectors = model.center.weight.data.astype(np.float64)
    check, _ = similarity_check(vectors, vocab, np.random.default_rng(config.seed))
    metrics = {"final_loss": losses[-1], "vocab_size": len(vocab), "corpus_words": len(ids),
               "train_pairs": pairs_seen, "train_pairs_per_epoch": pairs_seen // epochs, "epochs": epochs,
               "train_seconds": round(seconds, 3), "embedding_dim": EMBEDDING_DIM, **check}
    write_metrics(metrics, os.path.join(out, "metrics.json"))
    with open(os.path.join(out, "history.csv"), "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["epoch", "loss"])
        writer.writerows([epoch + 1, loss] for epoch, loss in enumerate(losses))
    plots.plot_curves({"loss": losses}, os.path.join(out, "curves.png"), title=f"{NAME}: SGNS loss")
    safetensors_io.save(model.state_dict(), os.path.join(out, "embeddings.safetensors"),
                        metadata={"vocab": "vocab.json", "vectors": "center.weight"})
    vocab.save(os.path.join(out, "vocab.json"))
    write_neighbours(os.path.join(out, "neighbours.txt"), vectors, vocab)
    shown = min(150, len(vocab))  # ids are in order of frequency: the first ones are the most frequent words
    text_plots.plot_embeddings(vectors[:shown], vocab.itos[:shown], os.path.join(out, "embeddings.png"),
                               title=f"{NAME}: the {shown} most frequent words (PCA of the centre vectors)")
    return metrics
