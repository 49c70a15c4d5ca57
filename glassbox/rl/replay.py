"""Experience replay: a fixed-capacity ring buffer of transitions in preallocated NumPy arrays."""

import numpy as np

from ..errors import ShapeError


class ReplayBuffer:
    """Stores transitions (obs, action, reward, next_obs, terminated) and samples uniform mini-batches.

    Arrays are allocated once: obs and next_obs are (capacity, *obs_shape) of `obs_dtype`, action is (capacity,)
    int64, reward and terminated are (capacity,) float32 (terminated is 1.0 where the episode ended in a terminal
    state; a time-limit truncation is stored as 0.0 so that the learner still bootstraps from next_obs).
    When full, each add overwrites the oldest transition. `rng` (a np.random.Generator, or an int seed) is used by
    `sample` unless a generator is passed to it.
    """

    FIELDS = ("obs", "action", "reward", "next_obs", "terminated")

    def __init__(self, capacity, obs_shape, obs_dtype=np.float32, rng=None):
        if int(capacity) != capacity or capacity <= 0:
            raise ValueError(f"ReplayBuffer: capacity must be a positive int, got {capacity}")
        self.capacity = int(capacity)
        self.obs_shape = tuple(int(d) for d in (obs_shape if np.iterable(obs_shape) else (obs_shape,)))
        self.obs = np.zeros((self.capacity, *self.obs_shape), dtype=obs_dtype)
        self.next_obs = np.zeros_like(self.obs)
        self.action = np.zeros(self.capacity, dtype=np.int64)
        self.reward = np.zeros(self.capacity, dtype=np.float32)
        self.terminated = np.zeros(self.capacity, dtype=np.float32)
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self._next = 0  # the slot the next add writes (the oldest transition once the buffer is full)
        self._size = 0

    def __len__(self):
        return self._size

    def add(self, obs, action, reward, next_obs, terminated):
        """Store one transition; obs and next_obs must have shape obs_shape. Overwrites the oldest when full."""
        obs, next_obs = np.asarray(obs), np.asarray(next_obs)
        for name, value in (("obs", obs), ("next_obs", next_obs)):
            if value.shape != self.obs_shape:
                raise ShapeError(f"ReplayBuffer.add: {name} must have shape {self.obs_shape}, got {value.shape}")
        i = self._next
        self.obs[i] = obs
        self.next_obs[i] = next_obs
        self.action[i] = int(action)
        self.reward[i] = float(reward)
        self.terminated[i] = float(bool(terminated))
        self._next = (i + 1) % self.capacity
        self._size = min(self._size + 1, self.capacity)

    def sample(self, batch_size, rng=None):
        """A dict of arrays (copies), keys FIELDS plus 'index', each with leading dim batch_size.

        Indices are drawn uniformly without replacement within the batch, so batch_size <= len(self).
        """
        if batch_size <= 0 or batch_size > self._size:
            raise ValueError(f"ReplayBuffer.sample: batch_size must be in [1, {self._size}] (the number of stored "
                             f"transitions), got {batch_size}")
        rng = self.rng if rng is None else rng
        index = rng.choice(self._size, size=batch_size, replace=False)
        batch = {name: getattr(self, name)[index] for name in self.FIELDS}
        batch["index"] = index
        return batch

    def ordered(self):
        """All stored transitions, oldest first, as a dict of arrays (for inspection and tests)."""
        order = (np.arange(self._size) + (self._next if self._size == self.capacity else 0)) % self.capacity
        return {name: getattr(self, name)[order] for name in self.FIELDS}

    def __repr__(self):
        return f"ReplayBuffer(capacity={self.capacity}, obs_shape={self.obs_shape}, size={self._size})"
