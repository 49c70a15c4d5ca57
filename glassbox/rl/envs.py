"""Environments: make_env (a Gymnasium id, imported lazily, or an env object passed through) and space helpers."""

import numpy as np


def require_gymnasium():
    """The gymnasium module, or an ImportError that says how to install it (it is an optional extra)."""
    try:
        import gymnasium
    except ImportError as e:
        raise ImportError("glassbox.rl: this needs Gymnasium, an optional dependency; install it with "
                          "pip install 'glassbox[rl]' (or pip install gymnasium)") from e
    return gymnasium


def make_env(name_or_env, seed=None, **kwargs):
    """A Gymnasium environment by id (`gymnasium.make(name, **kwargs)`), or `name_or_env` itself when it is an env
    object (anything with reset() and step()).

    With `seed`, the env is reset once with reset(seed=seed) and its action space (if it has one with seed()) is
    seeded, so random actions sampled from it are reproducible too. The env follows the Gymnasium API:
    reset(seed=None) -> (obs, info); step(action) -> (obs, reward, terminated, truncated, info).
    """
    if isinstance(name_or_env, str):
        env = require_gymnasium().make(name_or_env, **kwargs)
    elif callable(getattr(name_or_env, "reset", None)) and callable(getattr(name_or_env, "step", None)):
        if kwargs:
            raise TypeError(f"make_env: keyword arguments {sorted(kwargs)} apply only when making an env by id, "
                            f"but an env object ({type(name_or_env).__name__}) was passed")
        env = name_or_env
    else:
        raise TypeError(f"make_env: expected a Gymnasium env id (str) or an env with reset() and step(), "
                        f"got {type(name_or_env).__name__}")
    if seed is not None:
        env.reset(seed=int(seed))
        action_space = getattr(env, "action_space", None)
        if callable(getattr(action_space, "seed", None)):
            action_space.seed(int(seed))
    return env


def observation_shape(env):
    """The shape (a tuple) of the env's observations, from env.observation_space.shape."""
    space = getattr(env, "observation_space", None)
    shape = getattr(space, "shape", None)
    if shape is None:
        raise TypeError(f"observation_shape: {type(env).__name__} has no observation_space with a shape")
    return tuple(int(d) for d in shape)


def num_actions(env):
    """The number of actions of an env with a discrete action space (env.action_space.n)."""
    n = getattr(getattr(env, "action_space", None), "n", None)
    if n is None:
        raise TypeError(f"num_actions: {type(env).__name__} needs a discrete action space (with .n); got "
                        f"{getattr(env, 'action_space', None)!r}")
    return int(np.asarray(n))
