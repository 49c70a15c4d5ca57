"""DistributedSampler: each rank's share of the data set, without overlap, reshuffled per epoch from one seed."""

import math

import numpy as np

from ..data.sampler import Sampler
from .process_group import get_rank, get_world_size


class DistributedSampler(Sampler):
    """The indices of `dataset` that rank `rank` of `num_replicas` visits this epoch (torch's semantics).

    Every rank draws the same permutation of 0 .. n-1 (from `seed + epoch`, so call `set_epoch(epoch)` before each
    epoch for a new order; fit() does it for you) and takes every num_replicas-th index starting at its rank. The
    shards are disjoint and together cover the data set. Rank r's k-th batch of size B/N therefore holds
    positions r, r+N, ... of the permutation's k-th block of B: the ranks' batches together are exactly the batch
    a single process with batch size B would see.

    When n is not a multiple of num_replicas: drop_last=False (default) pads the permutation with its first
    indices so every rank gets ceil(n / N) samples (a few examples count twice in that epoch, as in torch);
    drop_last=True drops the tail so every rank gets floor(n / N); pad=False (a glassbox extra, used for
    validation) gives the first n mod N ranks one sample more, so that every example is seen exactly once.
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False, *, pad=True):
        num_replicas = get_world_size() if num_replicas is None else num_replicas
        rank = get_rank() if rank is None else rank
        if not isinstance(num_replicas, (int, np.integer)) or num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be a positive integer, got {num_replicas!r}")
        if not isinstance(rank, (int, np.integer)) or not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: invalid rank {rank!r}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        if drop_last and not pad:
            raise ValueError("DistributedSampler: drop_last=True and pad=False contradict each other; choose one")
        self.dataset = dataset
        self.num_replicas, self.rank = int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last, self.pad = shuffle, int(seed), drop_last, pad
        self.epoch = 0
        n = len(dataset)
        if drop_last:
            self.num_samples = n // self.num_replicas
        elif pad:
            self.num_samples = math.ceil(n / self.num_replicas)
        else:
            self.num_samples = n // self.num_replicas + (1 if self.rank < n % self.num_replicas else 0)
        self.total_size = self.num_samples * self.num_replicas if pad else n

    def set_epoch(self, epoch):
        """Make the next pass use the order of epoch `epoch` (the same on every rank)."""
        self.epoch = int(epoch)

    def state_dict(self):
        """The seed and epoch: all a resumed run needs to draw the same orders (fit's checkpoints keep it)."""
        return {"seed": self.seed, "epoch": self.epoch}

    def load_state_dict(self, state):
        self.seed, self.epoch = int(state["seed"]), int(state["epoch"])

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(n)
        else:
            order = np.arange(n)
        if self.pad and not self.drop_last and self.total_size > n:
            repeats = math.ceil((self.total_size - n) / n)
            order = np.concatenate([order] + [order] * repeats)[:self.total_size]
        elif self.drop_last:
            order = order[:self.total_size]
        return iter(order[self.rank::self.num_replicas].tolist())

    def __len__(self):
        return self.num_samples
