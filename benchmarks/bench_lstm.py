"""One training step of a character-level recurrent language model (issue 5's workload) in glassbox and PyTorch,
timed in one process: Embedding(65,64) -> LSTM(64,256, batch_first) -> Linear(256,65), a batch of 32 sequences of
64 tokens, cross-entropy over every position, Adam, float32. Variants: the same with a GRU, and with a
bidirectional LSTM (whose Linear then reads 512 features)."""

import argparse

import numpy as np
import torch
from bench_mlp import report, warm_and_time
from machine import describe

import glassbox as gb

BATCH, STEPS, VOCAB, EMBED, HIDDEN = 32, 64, 65, 64, 256


def build(lib, cell, bidirectional):
    """The model from either library: a small Module with the same layers and state_dict keys."""
    nn = lib.nn
    recurrent = {"lstm": nn.LSTM, "gru": nn.GRU}[cell]

    class CharModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(VOCAB, EMBED)
            self.rnn = recurrent(EMBED, HIDDEN, batch_first=True, bidirectional=bidirectional)
            self.head = nn.Linear(HIDDEN * (2 if bidirectional else 1), VOCAB)

        def forward(self, tokens):
            output, _ = self.rnn(self.embed(tokens))
            return self.head(output)

    return CharModel()


def step_fn(lib, model, x_np, y_np):
    x, y = lib.from_numpy(x_np), lib.from_numpy(y_np.reshape(-1))
    optimizer = lib.optim.Adam(model.parameters(), lr=1e-3)
    criterion = lib.nn.CrossEntropyLoss()

    def step():
        logits = model(x)
        loss = criterion(logits.reshape(-1, VOCAB), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss

    return step


def run(cell, bidirectional, args):
    rng = np.random.default_rng(0)
    x = rng.integers(0, VOCAB, (BATCH, STEPS), dtype=np.int64)
    y = rng.integers(0, VOCAB, (BATCH, STEPS), dtype=np.int64)
    torch_model = build(torch, cell, bidirectional)
    glassbox_model = build(gb, cell, bidirectional)
    glassbox_model.load_state_dict({k: v.detach().numpy() for k, v in torch_model.state_dict().items()})
    steps = {"glassbox": step_fn(gb, glassbox_model, x, y), "pytorch": step_fn(torch, torch_model, x, y)}
    times, gap = warm_and_time(steps, args)
    label = ("bi" if bidirectional else "") + cell
    print(f"workload: Embedding({VOCAB},{EMBED}) -> {label.upper()}({EMBED},{HIDDEN}) -> Linear, batch {BATCH} x "
          f"{STEPS} tokens, Adam, float32; loss gap over {args.warmup} warm-up steps: {gap:.1e}")
    report(label, times, gap)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rewarm", type=int, default=1)
    parser.add_argument("--variant", choices=("lstm", "gru", "bilstm", "all"), default="all")
    args = parser.parse_args()
    print("\n".join(describe(torch)))
    variants = {"lstm": ("lstm", False), "gru": ("gru", False), "bilstm": ("lstm", True)}
    for name, (cell, bidirectional) in variants.items():
        if args.variant in (name, "all"):
            run(cell, bidirectional, args)


if __name__ == "__main__":
    main()
