"""Policy gradients: discounted returns, GAE, categorical-policy helpers, REINFORCE (with baseline) and A2C.

A policy is any `nn.Module` mapping observations (N, D) to action logits (N, A) (categorical actions); a value
network maps (N, D) to (N, 1) or (N,). Environments follow the Gymnasium API: `reset(seed=) -> (obs, info)` and
`step(action) -> (obs, reward, terminated, truncated, info)`; nothing here imports gymnasium.
"""

from dataclasses import dataclass

import numpy as np

from .. import nn, optim
from ..autograd import no_grad
from ..io.checkpoint import load_checkpoint, save_checkpoint
from ..nn import functional as F
from ..nn.utils import clip_grad_norm_
from ..random import Generator, numpy_generator
from ..tensor import Tensor

__all__ = ["discounted_returns", "generalized_advantages", "sample_actions", "log_probs", "entropy",
           "reinforce_loss", "actor_critic_loss", "Episode", "Rollout", "ReinforceAgent", "A2CAgent",
           "train_reinforce", "train_a2c"]


# ----------------------------------------------------------------------------------------------- returns and GAE

def discounted_returns(rewards, gamma, terminated_last=True, bootstrap=0.0):
    """G_t = r_t + gamma r_{t+1} + ... + gamma^(T-1-t) r_{T-1} (+ gamma^(T-t) * bootstrap if not terminated_last).

    rewards: (T,) or (T, ...) (trailing dims are independent streams, e.g. parallel envs). When the episode was
    cut short (truncated by a time limit, or a rollout ends mid-episode), pass terminated_last=False and the
    value estimate of the next state as `bootstrap` (a scalar or shape (...)). Returns float64 array like rewards.
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    if rewards.ndim == 0:
        raise ValueError("discounted_returns: rewards must have a time dim (T,) or (T, ...), got a scalar")
    _check_gamma(gamma, "discounted_returns")
    returns = np.empty_like(rewards)
    # A reverse scan, vectorised over the trailing dims; the closed form gamma^-t * cumsum(gamma^k r_k)
    # would be one line but overflows/loses precision for long episodes.
    running = np.zeros(rewards.shape[1:]) if terminated_last else np.broadcast_to(
        np.asarray(bootstrap, dtype=np.float64), rewards.shape[1:]).copy()
    for t in range(len(rewards) - 1, -1, -1):
        running = rewards[t] + gamma * running
        returns[t] = running
    return returns


def generalized_advantages(rewards, values, next_value, gamma, lam, terminated, truncated=None):
    """GAE(gamma, lambda) advantages A_t = sum_k (gamma lam)^k delta_{t+k}, delta_t = r_t + gamma V(s_{t+1}) - V(s_t).

    rewards, values (V(s_t)), terminated: (T,) or (T, ...). next_value: V of the state after each step, either
    shape (...) -- the value after the LAST step, the others being values[1:] -- or (T, ...) per step, which is
    what a rollout that crosses a time-limit truncation needs (V of the truncated final observation, not of the
    reset one). terminated[t]: s_{t+1} is terminal, so V(s_{t+1}) = 0. truncated[t] (optional): the episode was
    cut after step t; the bootstrap V(s_{t+1}) is kept but the sum stops there. Returns float64 (T, ...); the
    value targets (lambda-returns) are advantages + values. lam=1 gives the discounted returns minus values.
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    if values.shape != rewards.shape:
        raise ValueError(f"generalized_advantages: values must have the rewards' shape {rewards.shape}, "
                         f"got {values.shape}")
    _check_gamma(gamma, "generalized_advantages")
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"generalized_advantages: lam must be in [0, 1], got {lam}")
    next_value = np.asarray(next_value, dtype=np.float64)
    if next_value.shape == rewards.shape[1:]:
        next_values = np.concatenate([values[1:], next_value[None]], axis=0)
    elif next_value.shape == rewards.shape:
        next_values = next_value
    else:
        raise ValueError(f"generalized_advantages: next_value must have shape {rewards.shape[1:]} (after the last "
                         f"step) or {rewards.shape} (per step), got {next_value.shape}")
    terminated = _flags(terminated, rewards.shape, "terminated")
    done = terminated if truncated is None else terminated | _flags(truncated, rewards.shape, "truncated")
    deltas = rewards + gamma * np.where(terminated, 0.0, next_values) - values
    advantages = np.empty_like(rewards)
    running = np.zeros(rewards.shape[1:])
    for t in range(len(rewards) - 1, -1, -1):
        running = deltas[t] + gamma * lam * np.where(done[t], 0.0, running)
        advantages[t] = running
    return advantages


def _check_gamma(gamma, fn):
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"{fn}: gamma must be in [0, 1], got {gamma}")


def _flags(flags, shape, name):
    flags = np.asarray(flags, dtype=bool)
    if flags.shape != shape:
        raise ValueError(f"generalized_advantages: {name} must have the rewards' shape {shape}, got {flags.shape}")
    return flags


# ------------------------------------------------------------------------------------- categorical policy helpers

def _rng(rng):
    """A NumPy Generator from a NumPy Generator, a glassbox Generator, an int seed, or None (the default one)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, Generator):
        return numpy_generator(rng)
    if isinstance(rng, (int, np.integer)):
        return np.random.default_rng(int(rng))
    raise TypeError(f"expected rng to be a numpy Generator, a glassbox Generator, an int or None, "
                    f"got {type(rng).__name__}")


def _check_logits(logits, fn):
    if logits.ndim != 2:
        raise ValueError(f"{fn}: logits must have shape (N, num_actions), got {tuple(logits.shape)}")


def sample_actions(logits, rng=None):
    """Draw one action per row from softmax(logits): logits (N, A) Tensor or array -> int64 array (N,)."""
    array = np.asarray(logits.data if isinstance(logits, Tensor) else logits, dtype=np.float64)
    _check_logits(array, "sample_actions")
    probs = np.exp(array - array.max(axis=1, keepdims=True))
    cdf = np.cumsum(probs, axis=1)
    u = _rng(rng).random((len(array), 1)) * cdf[:, -1:]  # scaling u replaces normalising the probabilities
    # Inverse CDF: the first action whose cumulative mass exceeds u (min() guards rounding at the top).
    return np.minimum((cdf <= u).sum(axis=1), array.shape[1] - 1).astype(np.int64)


def log_probs(logits, actions):
    """log pi(a_i | s_i): logits Tensor (N, A), actions int (N,) -> Tensor (N,), differentiable in the logits."""
    _check_logits(logits, "log_probs")
    actions = np.asarray(actions.data if isinstance(actions, Tensor) else actions).astype(np.int64, copy=False)
    if actions.shape != (logits.shape[0],):
        raise ValueError(f"log_probs: actions must have shape ({logits.shape[0]},), got {actions.shape}")
    return F.log_softmax(logits, dim=1).gather(1, actions[:, None]).squeeze(1)


def entropy(logits):
    """Entropy of each row's categorical distribution: logits Tensor (N, A) -> Tensor (N,)."""
    _check_logits(logits, "entropy")
    logp = F.log_softmax(logits, dim=1)
    return -(logp.exp() * logp).sum(dim=1)


def reinforce_loss(logits, actions, weights, num_episodes=1):
    """-sum_t log pi(a_t|s_t) * w_t / num_episodes: its gradient is minus the REINFORCE estimate of grad J.

    logits (N, A) Tensor; actions (N,); weights (N,) array of G_t - b(s_t) (constants, no gradient).
    """
    weights = np.asarray(weights, dtype=logits.dtype)
    return -(log_probs(logits, actions) * Tensor._make(weights)).sum() / num_episodes


def actor_critic_loss(logits, values, actions, advantages, returns, value_coef=0.5, entropy_coef=0.0):
    """A2C loss = -mean(log pi(a|s) A) + value_coef * mean((V(s) - R)^2) - entropy_coef * mean(H(pi(.|s))).

    logits (N, A) and values (N,) are Tensors; actions (N,), advantages (N,) and returns (N,) are constants.
    Returns (loss Tensor, dict of the three terms as floats).
    """
    if values.ndim != 1 or values.shape[0] != logits.shape[0]:
        raise ValueError(f"actor_critic_loss: values must have shape ({logits.shape[0]},), got {values.shape}")
    advantages = Tensor._make(np.asarray(advantages, dtype=logits.dtype))
    policy_loss = -(log_probs(logits, actions) * advantages).mean()
    value_loss = F.mse_loss(values, Tensor._make(np.asarray(returns, dtype=values.dtype)))
    mean_entropy = entropy(logits).mean()
    loss = policy_loss + value_coef * value_loss - entropy_coef * mean_entropy
    return loss, {"policy_loss": policy_loss.item(), "value_loss": value_loss.item(), "entropy": mean_entropy.item()}


# ----------------------------------------------------------------------------------------------------- data

@dataclass
class Episode:
    """One episode: obs (T, D), actions (T,), rewards (T,); terminated=False means it was cut short (time limit),
    and then final_obs (D,), the observation after the last step, lets a value baseline bootstrap the returns."""

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminated: bool = True
    final_obs: np.ndarray = None

    def __len__(self):
        return len(self.rewards)


@dataclass
class Rollout:
    """n consecutive steps of one env (may cross episode ends): obs (T, D), actions (T,), rewards (T,),
    next_obs (T, D) (the observation each step returned, before any reset), terminated (T,), truncated (T,)."""

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_obs: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray

    def __len__(self):
        return len(self.rewards)


# ----------------------------------------------------------------------------------------------------- agents

def _param_dtype(module):
    for p in module.parameters():
        return p.dtype
    return np.float32


def _state_values(value_network, obs):
    """V(s): the value network's output (N, 1) or (N,) as a Tensor (N,)."""
    out = value_network(obs)
    if out.ndim == 2 and out.shape[1] == 1:
        return out.squeeze(1)
    if out.ndim != 1:
        raise ValueError(f"value network must return shape (N, 1) or (N,), got {tuple(out.shape)}")
    return out


class _Agent:
    """What both agents share: acting, the obs -> Tensor conversion and save/load."""

    def _obs(self, obs):
        return Tensor._make(np.asarray(obs, dtype=_param_dtype(self.policy)))

    def act(self, obs, rng=None, greedy=False):
        """An action for one observation (D,) -> int, or a batch (N, D) -> int64 array (N,); sampled from the
        policy, or its most likely action when greedy=True."""
        obs = np.asarray(obs)
        single = obs.ndim == 1
        with no_grad():
            logits = self.policy(self._obs(obs[None] if single else obs))
        actions = logits.data.argmax(axis=1) if greedy else sample_actions(logits, rng)
        return int(actions[0]) if single else actions

    def _modules(self):
        return {"policy": self.policy, **({"value": self.value} if self.value is not None else {})}

    def save(self, path):
        """Write the networks, the optimizer state(s) and the config to one safetensors file (config as JSON)."""
        model_state = {f"{name}.{k}": v for name, m in self._modules().items() for k, v in m.state_dict().items()}
        optimizer_state = {name: opt.state_dict() for name, opt in self._optimizers().items()}
        save_checkpoint(path, model_state=model_state, optimizer_state=optimizer_state,
                        extra={"agent": type(self).__name__, "config": self.config})

    def load(self, path):
        """Restore what save wrote into this agent (built with the same networks); returns self."""
        checkpoint = load_checkpoint(path)
        saved = checkpoint["extra"]["agent"]
        if saved != type(self).__name__:
            raise ValueError(f"{type(self).__name__}.load: {path} holds a {saved}, not a {type(self).__name__}")
        for name, module in self._modules().items():
            prefix = name + "."
            module.load_state_dict({k[len(prefix):]: v for k, v in checkpoint["model_state"].items()
                                    if k.startswith(prefix)})
        for name, opt in self._optimizers().items():
            opt.load_state_dict(checkpoint["optimizer_state"][name])
        self.config = dict(checkpoint["extra"]["config"])
        for key, value in self.config.items():
            setattr(self, key, value)
        return self


class ReinforceAgent(_Agent):
    """REINFORCE: grad J ~ (1/E) sum_episodes sum_t grad log pi(a_t|s_t) (G_t - b(s_t)).

    baseline: "value" (a learned V(s), trained by MSE to G_t; needs value_network), "mean" (the mean return of
    the batch's steps: a cheap variance reducer, biased by O(1/steps)), or None. Both networks use Adam(lr).
    """

    def __init__(self, policy, lr=1e-2, gamma=0.99, baseline="value", value_network=None, entropy_coef=0.0,
                 value_lr=None):
        if not isinstance(policy, nn.Module):
            raise TypeError(f"ReinforceAgent: policy must be an nn.Module, got {type(policy).__name__}")
        if baseline not in ("value", "mean", None):
            raise ValueError(f"ReinforceAgent: baseline must be 'value', 'mean' or None, got {baseline!r}")
        if (baseline == "value") != (value_network is not None):
            raise ValueError("ReinforceAgent: baseline='value' needs a value_network (obs (N, D) -> (N, 1)), and a "
                             f"value_network needs baseline='value'; got baseline={baseline!r}, value_network="
                             f"{type(value_network).__name__}")
        _check_gamma(gamma, "ReinforceAgent")
        self.policy, self.value = policy, value_network
        self.config = {"lr": lr, "gamma": gamma, "baseline": baseline, "entropy_coef": entropy_coef,
                       "value_lr": lr if value_lr is None else value_lr}
        self.lr, self.gamma, self.baseline, self.entropy_coef = lr, gamma, baseline, entropy_coef
        self.policy_optimizer = optim.Adam(policy.parameters(), lr=lr)
        self.value_optimizer = (optim.Adam(value_network.parameters(), lr=self.config["value_lr"])
                                if value_network is not None else None)

    def _optimizers(self):
        return {"policy": self.policy_optimizer,
                **({"value": self.value_optimizer} if self.value_optimizer is not None else {})}

    def returns(self, episodes):
        """The discounted returns G_t of each episode, concatenated (float64 (sum T,)); a truncated episode with a
        final_obs bootstraps from V(final_obs) when the agent has a value network."""
        out = []
        for ep in episodes:
            bootstrap = 0.0
            if not ep.terminated and ep.final_obs is not None and self.value is not None:
                with no_grad():
                    bootstrap = float(_state_values(self.value, self._obs(np.asarray(ep.final_obs)[None])).item())
            out.append(discounted_returns(ep.rewards, self.gamma, ep.terminated, bootstrap))
        return np.concatenate(out)

    def loss(self, episodes):
        """(policy loss Tensor, value loss Tensor or None, stats) for a batch of episodes; see update."""
        episodes = [episodes] if isinstance(episodes, Episode) else list(episodes)
        if not episodes or any(len(ep) == 0 for ep in episodes):
            raise ValueError("ReinforceAgent.update: needs at least one episode, each of at least one step")
        obs = self._obs(np.concatenate([np.asarray(ep.obs) for ep in episodes]))
        actions = np.concatenate([np.asarray(ep.actions, dtype=np.int64) for ep in episodes])
        returns = self.returns(episodes)
        value_loss = None
        if self.baseline == "value":
            values = _state_values(self.value, obs)
            value_loss = F.mse_loss(values, Tensor._make(returns.astype(values.dtype)))
            weights = returns - values.data  # the baseline is a constant for the policy gradient
        elif self.baseline == "mean":
            weights = returns - returns.mean()
        else:
            weights = returns
        logits = self.policy(obs)
        policy_loss = reinforce_loss(logits, actions, weights, num_episodes=len(episodes))
        mean_entropy = entropy(logits).mean()
        if self.entropy_coef:
            policy_loss = policy_loss - self.entropy_coef * mean_entropy
        stats = {"policy_loss": policy_loss.item(), "entropy": mean_entropy.item(),
                 "mean_return": float(np.mean([np.sum(ep.rewards) for ep in episodes])),
                 "episodes": len(episodes), "steps": len(actions)}
        if value_loss is not None:
            stats["value_loss"] = value_loss.item()
        return policy_loss, value_loss, stats

    def update(self, episodes):
        """One gradient step on a batch of episodes (an Episode or a list of them); returns a dict of floats:
        policy_loss, value_loss (with a value baseline), entropy, mean_return (undiscounted), episodes, steps."""
        policy_loss, value_loss, stats = self.loss(episodes)
        self.policy_optimizer.zero_grad()
        policy_loss.backward()
        self.policy_optimizer.step()
        if value_loss is not None:
            self.value_optimizer.zero_grad()
            value_loss.backward()
            self.value_optimizer.step()
        return stats


class A2CAgent(_Agent):
    """Advantage actor-critic (synchronous, one env): n-step rollouts, GAE(gamma, gae_lambda) advantages, and one
    Adam step on -mean(log pi A) + value_coef * MSE(V, R) - entropy_coef * mean(H) per rollout."""

    def __init__(self, policy, value, lr=7e-4, gamma=0.99, n_steps=5, gae_lambda=1.0, value_coef=0.5,
                 entropy_coef=0.01, max_grad_norm=None):
        for name, module in (("policy", policy), ("value", value)):
            if not isinstance(module, nn.Module):
                raise TypeError(f"A2CAgent: {name} must be an nn.Module, got {type(module).__name__}")
        if int(n_steps) < 1:
            raise ValueError(f"A2CAgent: n_steps must be >= 1, got {n_steps}")
        _check_gamma(gamma, "A2CAgent")
        self.policy, self.value = policy, value
        self.config = {"lr": lr, "gamma": gamma, "n_steps": int(n_steps), "gae_lambda": gae_lambda,
                       "value_coef": value_coef, "entropy_coef": entropy_coef, "max_grad_norm": max_grad_norm}
        for key, val in self.config.items():
            setattr(self, key, val)
        # One optimizer over both networks; a parameter shared by both (a common trunk) is listed once.
        params = list({id(p): p for p in (*policy.parameters(), *value.parameters())}.values())
        self.params = params
        self.optimizer = optim.Adam(params, lr=lr)

    def _optimizers(self):
        return {"optimizer": self.optimizer}

    def targets(self, rollout):
        """(advantages, returns) float64 (T,) for a Rollout: GAE with V of each step's next_obs as bootstrap."""
        with no_grad():
            values = _state_values(self.value, self._obs(rollout.obs)).data
            next_values = _state_values(self.value, self._obs(rollout.next_obs)).data
        advantages = generalized_advantages(rollout.rewards, values, next_values, self.gamma, self.gae_lambda,
                                            rollout.terminated, rollout.truncated)
        return advantages, advantages + values

    def loss(self, rollout, advantages=None, returns=None):
        """(loss Tensor, stats dict) for a Rollout; advantages/returns default to self.targets(rollout)."""
        if advantages is None or returns is None:
            advantages, returns = self.targets(rollout)
        obs = self._obs(rollout.obs)
        loss, stats = actor_critic_loss(self.policy(obs), _state_values(self.value, obs), rollout.actions,
                                        advantages, returns, self.value_coef, self.entropy_coef)
        stats["loss"] = loss.item()
        return loss, stats

    def update(self, rollout):
        """One gradient step on a Rollout; returns a dict: loss, policy_loss, value_loss, entropy, steps."""
        if len(rollout) == 0:
            raise ValueError("A2CAgent.update: the rollout is empty")
        loss, stats = self.loss(rollout)
        self.optimizer.zero_grad()
        loss.backward()
        if self.max_grad_norm is not None:
            clip_grad_norm_(self.params, self.max_grad_norm)
        self.optimizer.step()
        stats["steps"] = len(rollout)
        return stats


# ----------------------------------------------------------------------------------------------- training loops

def _first_seed(rng):
    return int(rng.integers(2**31 - 1))


def train_reinforce(agent, env, episodes, rng=None, callback=None, batch_episodes=1, max_episode_steps=None):
    """Run `episodes` episodes on a Gymnasium-API env, updating the agent every `batch_episodes` episodes.

    rng (NumPy/glassbox Generator or int) seeds the env's first reset and every action, so a seeded run repeats.
    max_episode_steps cuts an episode (as truncation) if the env has no time limit of its own. callback(logs) is
    called after each update with its stats plus 'update', 'episode', 'total_steps' and 'recent_return' (mean
    return of the last 10 episodes); returning True stops training. Returns {'episodes': [{'episode', 'return',
    'length'}...], 'updates': [logs...]}.
    """
    rng = _rng(rng)
    history = {"episodes": [], "updates": []}
    batch, total_steps, seed = [], 0, _first_seed(rng)
    for index in range(int(episodes)):
        obs, _ = env.reset(seed=seed) if index == 0 else env.reset()
        observations, actions, rewards = [], [], []
        terminated = truncated = False
        while not (terminated or truncated):
            action = agent.act(obs, rng)
            observations.append(np.asarray(obs))
            actions.append(action)
            obs, reward, terminated, truncated, _ = env.step(action)
            rewards.append(float(reward))
            if max_episode_steps is not None and len(rewards) >= max_episode_steps:
                truncated = True
        total_steps += len(rewards)
        batch.append(Episode(np.stack(observations), np.array(actions), np.array(rewards), bool(terminated),
                             np.asarray(obs)))
        history["episodes"].append({"episode": index, "return": float(sum(rewards)), "length": len(rewards)})
        if len(batch) == batch_episodes or index == episodes - 1:
            logs = agent.update(batch)
            batch = []
            recent = [e["return"] for e in history["episodes"][-10:]]
            logs.update(update=len(history["updates"]), episode=index, total_steps=total_steps,
                        recent_return=float(np.mean(recent)))
            history["updates"].append(logs)
            if callback is not None and callback(logs):
                break
    return history


def train_a2c(agent, env, total_steps, rng=None, callback=None, max_episode_steps=None):
    """Run `total_steps` env steps on a Gymnasium-API env, updating the agent every agent.n_steps steps.

    Rollouts run across episode ends (the env is reset in place); rng, max_episode_steps, callback and the
    returned history are as in train_reinforce (update logs carry 'update', 'total_steps', 'episodes' done and
    'recent_return').
    """
    rng = _rng(rng)
    history = {"episodes": [], "updates": []}
    obs, _ = env.reset(seed=_first_seed(rng))
    episode_return, episode_length, step = 0.0, 0, 0
    while step < total_steps:
        buffer = {k: [] for k in ("obs", "actions", "rewards", "next_obs", "terminated", "truncated")}
        for _ in range(min(agent.n_steps, total_steps - step)):
            action = agent.act(obs, rng)
            next_obs, reward, terminated, truncated, _ = env.step(action)
            step, episode_return, episode_length = step + 1, episode_return + float(reward), episode_length + 1
            truncated = bool(truncated) or (max_episode_steps is not None and episode_length >= max_episode_steps)
            for key, value in zip(buffer, (np.asarray(obs), action, float(reward), np.asarray(next_obs),
                                           bool(terminated), truncated)):
                buffer[key].append(value)
            obs = next_obs
            if terminated or truncated:
                history["episodes"].append({"episode": len(history["episodes"]), "return": episode_return,
                                            "length": episode_length})
                obs, _ = env.reset()
                episode_return, episode_length = 0.0, 0
        rollout = Rollout(np.stack(buffer["obs"]), np.array(buffer["actions"]), np.array(buffer["rewards"]),
                          np.stack(buffer["next_obs"]), np.array(buffer["terminated"]), np.array(buffer["truncated"]))
        logs = agent.update(rollout)
        recent = [e["return"] for e in history["episodes"][-10:]]
        logs.update(update=len(history["updates"]), total_steps=step, episodes=len(history["episodes"]),
                    recent_return=float(np.mean(recent)) if recent else float("nan"))
        history["updates"].append(logs)
        if callback is not None and callback(logs):
            break
    return history
