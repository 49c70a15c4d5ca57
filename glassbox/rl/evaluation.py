"""Evaluate a policy: greedy episodes on fixed seeds, so two evaluations of one policy give the same returns."""

import numpy as np


def evaluate(policy, env, episodes=100, seed=0, max_steps=None):
    """Run `episodes` episodes, episode i starting from env.reset(seed=seed + i), acting greedily.

    `policy` is an agent with a `greedy_action(obs) -> int` method (DQNAgent), an agent whose
    `act(obs, greedy=True)` returns its most likely action (the policy-gradient agents), or a callable obs -> action.
    `max_steps` caps each episode's length (None: rely on the env's own time limit).
    Returns {'mean_return': float, 'std_return': float, 'returns': list of floats, 'lengths': list of ints}.
    """
    if episodes < 1:
        raise ValueError(f"evaluate: episodes must be >= 1, got {episodes}")
    if callable(getattr(policy, "greedy_action", None)):
        choose = policy.greedy_action
    elif callable(getattr(policy, "act", None)):
        def choose(obs):
            return policy.act(obs, greedy=True)
    elif callable(policy):
        choose = policy
    else:
        raise TypeError(f"evaluate: policy must have a greedy_action(obs) or act(obs, greedy=True) method, "
                        f"or be a callable obs -> action; got {type(policy).__name__}")
    returns, lengths = [], []
    for i in range(episodes):
        obs, _ = env.reset(seed=int(seed) + i)
        total, length, done = 0.0, 0, False
        while not done and (max_steps is None or length < max_steps):
            obs, reward, terminated, truncated, _ = env.step(choose(obs))
            total += float(reward)
            length += 1
            done = terminated or truncated
        returns.append(total)
        lengths.append(length)
    return {"mean_return": float(np.mean(returns)), "std_return": float(np.std(returns)), "returns": returns,
            "lengths": lengths}
