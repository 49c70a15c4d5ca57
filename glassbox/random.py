"""Random number generation: an explicit Generator and the process-wide default that manual_seed resets."""

import numpy as np

# Like PyTorch on the CPU, a fresh process starts from a fixed seed, so two runs of the same script agree
# unless the user asks otherwise; manual_seed(n) makes that choice explicit.
_DEFAULT_SEED = 67280421310721


class Generator:
    """A source of random numbers (PCG64) that ops take as `generator=` so that a run is reproducible."""

    def __init__(self, seed=None):
        self.manual_seed(np.random.SeedSequence().entropy if seed is None else seed)

    def manual_seed(self, seed):
        """Restart the stream from `seed` (a non-negative int); returns the generator."""
        seed = int(seed)
        if seed < 0:
            raise ValueError(f"Generator.manual_seed: seed must be non-negative, got {seed}")
        self._seed = seed
        self.numpy = np.random.Generator(np.random.PCG64(seed))
        return self

    def initial_seed(self):
        """The seed this generator was last started from."""
        return self._seed

    def get_state(self):
        """A copy of the full generator state (a dict), for set_state."""
        return {"seed": self._seed, "bit_generator": self.numpy.bit_generator.state}

    def set_state(self, state):
        """Restore a state returned by get_state."""
        self._seed = state["seed"]
        self.numpy.bit_generator.state = state["bit_generator"]
        return self

    def __repr__(self):
        return f"Generator(seed={self._seed})"


default_generator = Generator(_DEFAULT_SEED)


def manual_seed(seed):
    """Seed the default generator (used by rand, randn, dropout, init ...); returns it."""
    return default_generator.manual_seed(seed)


def initial_seed():
    """The seed of the default generator."""
    return default_generator.initial_seed()


def numpy_generator(generator=None):
    """The NumPy generator behind `generator`, or behind the default one when it is None."""
    if generator is None:
        return default_generator.numpy
    if not isinstance(generator, Generator):
        raise TypeError(f"expected generator to be a glassbox.Generator, got {type(generator).__name__}")
    return generator.numpy
