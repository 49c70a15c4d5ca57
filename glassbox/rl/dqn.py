"""Deep Q-learning: DQNAgent (online + target Q networks, Double DQN, Huber loss) and the train_dqn loop."""

import copy
import json
import os
from pathlib import Path

import numpy as np

from .. import nn
from ..autograd import no_grad
from ..errors import ShapeError
from ..io.atomic import write_atomically
from ..io.errors import ModelFileError
from ..io.safetensors_io import load as load_safetensors
from ..io.safetensors_io import save as save_safetensors
from ..nn import functional as F
from ..nn.utils.clip_grad import clip_grad_norm_
from ..optim import Adam
from ..random import numpy_generator
from ..tensor import Tensor

FORMAT_NAME = "glassbox-dqn-agent"
FORMAT_VERSION = 1
_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}


# ----- architecture specs: a JSON-able description from which load() can rebuild the Q network ---------------------
def mlp_spec(in_features, num_actions, hidden_sizes=(64, 64), activation="relu"):
    """A JSON-able spec of an MLP Q network: obs (batch, in_features) -> Q values (batch, num_actions)."""
    if activation not in _ACTIVATIONS:
        raise ValueError(f"mlp_spec: activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
    return {"type": "mlp", "in_features": int(in_features), "num_actions": int(num_actions),
            "hidden_sizes": [int(h) for h in hidden_sizes], "activation": activation}


def build_q_network(spec):
    """The nn.Module described by `spec` (from mlp_spec); fresh random weights."""
    if not isinstance(spec, dict) or spec.get("type") != "mlp":
        raise ValueError(f"build_q_network: unknown network spec {spec!r}; expected one made by mlp_spec")
    layers, width = [], spec["in_features"]
    for hidden in spec["hidden_sizes"]:
        layers += [nn.Linear(width, hidden), _ACTIVATIONS[spec["activation"]]()]
        width = hidden
    layers.append(nn.Linear(width, spec["num_actions"]))
    return nn.Sequential(*layers)


# ----- the agent ------------------------------------------------------------------------------------------------------
class DQNAgent:
    """A DQN learner around `q_network`, a Module mapping obs (batch, *obs_shape) to Q values (batch, num_actions).

    - target_update: an int N >= 1 copies the online weights into the target network every N gradient updates
      (hard update); a float tau in (0, 1) blends them after every update, target <- tau*online + (1-tau)*target
      (soft / Polyak update).
    - double: Double DQN targets (the online network picks the next action, the target network scores it).
    - loss: "huber" (smooth L1 with delta 1, the DQN paper's clipped error) or "mse".
    - grad_clip: max global L2 norm of the gradients before each Adam step (None: no clipping).
    - network_spec: optional spec (mlp_spec) stored by save() so that load() can rebuild the network unaided.
    """

    def __init__(self, q_network, num_actions, gamma=0.99, lr=1e-3, target_update=1000, double=True, loss="huber",
                 grad_clip=10.0, network_spec=None):
        if not isinstance(q_network, nn.Module):
            raise TypeError(f"DQNAgent: q_network must be an nn.Module, got {type(q_network).__name__}")
        if int(num_actions) != num_actions or num_actions < 1:
            raise ValueError(f"DQNAgent: num_actions must be a positive int, got {num_actions}")
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"DQNAgent: gamma must be in [0, 1], got {gamma}")
        if loss not in ("huber", "mse"):
            raise ValueError(f"DQNAgent: loss must be 'huber' or 'mse', got {loss!r}")
        target_update = _check_target_update(target_update)
        if grad_clip is not None and grad_clip <= 0:
            raise ValueError(f"DQNAgent: grad_clip must be positive or None, got {grad_clip}")
        self.q_network = q_network
        self.target_network = copy.deepcopy(q_network)
        self.target_network.requires_grad_(False)  # never trained directly: no graph is built through it
        self.num_actions = int(num_actions)
        self.gamma, self.lr, self.double, self.loss = float(gamma), float(lr), bool(double), loss
        self.target_update = target_update
        self.grad_clip = None if grad_clip is None else float(grad_clip)
        self.network_spec = network_spec
        self.optimizer = Adam(self.q_network.parameters(), lr=lr)
        self.updates = 0  # gradient updates done so far (hard target updates count these)
        self._dtype = next(iter(self.q_network.parameters())).data.dtype

    # ----- acting --------------------------------------------------------------------------------------------------
    def q_values(self, obs):
        """Q values of the online network as an ndarray: obs (batch, *obs_shape) -> (batch, num_actions)."""
        with no_grad():
            return self._forward(self.q_network, np.asarray(obs, dtype=self._dtype))

    def greedy_action(self, obs):
        """argmax_a Q(obs, a) for one observation, as a Python int."""
        return int(np.argmax(self.q_values(np.asarray(obs)[None])[0]))

    def act(self, obs, epsilon=0.0, rng=None):
        """Epsilon-greedy action (a Python int) for one observation: uniformly random with probability epsilon,
        greedy otherwise. `rng` is a np.random.Generator (default: glassbox's default generator)."""
        if epsilon > 0.0:
            rng = numpy_generator() if rng is None else rng
            if rng.random() < epsilon:
                return int(rng.integers(self.num_actions))
        return self.greedy_action(obs)

    # ----- learning ------------------------------------------------------------------------------------------------
    def compute_targets(self, batch):
        """TD targets, shape (batch,): r + gamma * (1 - terminated) * V(next_obs), where V is
        max_a Q_target(s', a) for DQN and Q_target(s', argmax_a Q_online(s', a)) for Double DQN."""
        next_obs = np.asarray(batch["next_obs"], dtype=self._dtype)
        reward = np.asarray(batch["reward"], dtype=self._dtype)
        terminated = np.asarray(batch["terminated"], dtype=self._dtype)
        with no_grad():
            q_target = self._forward(self.target_network, next_obs)
            if self.double:
                best = np.argmax(self._forward(self.q_network, next_obs), axis=1)
                next_value = q_target[np.arange(len(best)), best]
            else:
                next_value = q_target.max(axis=1)
        return (reward + self.gamma * (1.0 - terminated) * next_value).astype(self._dtype)

    def update(self, batch):
        """One gradient step on a batch (dict with obs, action, reward, next_obs, terminated, e.g. from
        ReplayBuffer.sample); then the target update. Returns {'loss': float, 'q_mean': float} where q_mean is
        the mean Q(s, a) of the batch's actions before the step."""
        obs = Tensor._make(np.asarray(batch["obs"], dtype=self._dtype))
        action = np.asarray(batch["action"], dtype=np.int64)
        targets = Tensor._make(self.compute_targets(batch))
        q = self.q_network(obs)
        self._check_q_shape(q.shape, len(action))
        if action.min() < 0 or action.max() >= self.num_actions:
            raise ValueError(f"DQNAgent.update: actions must be in [0, {self.num_actions}), "
                             f"got range [{action.min()}, {action.max()}]")
        q_taken = q.gather(1, Tensor._make(action[:, None])).squeeze(1)
        loss = F.huber_loss(q_taken, targets) if self.loss == "huber" else F.mse_loss(q_taken, targets)
        self.optimizer.zero_grad()
        loss.backward()
        if self.grad_clip is not None:
            clip_grad_norm_(self.q_network.parameters(), self.grad_clip)
        self.optimizer.step()
        self.updates += 1
        self._update_target()
        return {"loss": float(loss.data), "q_mean": float(q_taken.data.mean())}

    def sync_target(self):
        """Copy every online weight (and buffer) into the target network."""
        online = self.q_network.state_dict()
        for name, value in self.target_network.state_dict().items():
            value.data[...] = online[name].data

    def _update_target(self):
        if isinstance(self.target_update, float) and self.target_update < 1.0:  # tau = 1.0 is a hard copy
            tau = self.target_update
            online = self.q_network.state_dict()
            for name, value in self.target_network.state_dict().items():
                if np.issubdtype(value.data.dtype, np.floating):
                    value.data *= 1.0 - tau
                    value.data += tau * online[name].data
                else:  # integer buffers (counters) cannot be blended: copy them
                    value.data[...] = online[name].data
        elif self.updates % max(int(self.target_update), 1) == 0:
            self.sync_target()

    # ----- saving --------------------------------------------------------------------------------------------------
    def config(self):
        """The hyperparameters and counters saved in the JSON sidecar (a JSON-able dict)."""
        return {"format": FORMAT_NAME, "version": FORMAT_VERSION, "num_actions": self.num_actions,
                "gamma": self.gamma, "lr": self.lr, "target_update": self.target_update, "double": self.double,
                "loss": self.loss, "grad_clip": self.grad_clip, "updates": self.updates,
                "network_spec": self.network_spec}

    def save(self, path):
        """Write the online and target weights to `path` (safetensors, keys 'online.*' and 'target.*') and the
        config to the sidecar `path` with suffix .json. The optimizer state is not saved."""
        weights, sidecar = _paths(path)
        state = {f"online.{k}": v for k, v in self.q_network.state_dict().items()}
        state.update({f"target.{k}": v for k, v in self.target_network.state_dict().items()})
        save_safetensors(state, weights, metadata={"format": FORMAT_NAME})
        text = json.dumps(self.config(), indent=2)

        def write(tmp):
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text + "\n")
        write_atomically(sidecar, write)
        return weights, sidecar

    @classmethod
    def load(cls, path, q_network_factory=None):
        """An agent restored from save(path): `q_network_factory()` builds the network (fresh Module of the same
        architecture), or, when it is None, the network_spec stored in the sidecar does."""
        weights, sidecar = _paths(path)
        try:
            with open(sidecar, encoding="utf-8") as f:
                config = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            raise ModelFileError(sidecar, f"cannot read the DQN agent config: {e}") from e
        if not isinstance(config, dict) or config.get("format") != FORMAT_NAME:
            raise ModelFileError(sidecar, f"not a glassbox DQN agent config (format {FORMAT_NAME!r} expected)")
        if config.get("version") != FORMAT_VERSION:
            raise ModelFileError(sidecar, f"format version {config.get('version')} is not supported "
                                          f"(this glassbox reads version {FORMAT_VERSION})")
        if q_network_factory is not None:
            q_network = q_network_factory()
        elif config.get("network_spec") is not None:
            q_network = build_q_network(config["network_spec"])
        else:
            raise ValueError(f"DQNAgent.load: {sidecar} stores no network_spec; pass q_network_factory, a function "
                             f"returning a fresh Q network of the saved architecture")
        agent = cls(q_network, config["num_actions"], gamma=config["gamma"], lr=config["lr"],
                    target_update=config["target_update"], double=config["double"], loss=config["loss"],
                    grad_clip=config["grad_clip"], network_spec=config.get("network_spec"))
        state = load_safetensors(weights)
        agent.q_network.load_state_dict({k[7:]: v for k, v in state.items() if k.startswith("online.")})
        agent.target_network.load_state_dict({k[7:]: v for k, v in state.items() if k.startswith("target.")})
        agent.updates = int(config["updates"])
        return agent

    # ----- helpers -------------------------------------------------------------------------------------------------
    def _forward(self, network, obs):
        q = network(Tensor._make(np.ascontiguousarray(obs))).data
        self._check_q_shape(q.shape, obs.shape[0])
        return q

    def _check_q_shape(self, shape, batch):
        if tuple(shape) != (batch, self.num_actions):
            raise ShapeError(f"DQNAgent: the Q network must map a batch of {batch} observations to Q values of shape "
                             f"({batch}, {self.num_actions}), got {tuple(shape)}")

    def __repr__(self):
        return (f"DQNAgent(num_actions={self.num_actions}, gamma={self.gamma}, lr={self.lr}, "
                f"target_update={self.target_update}, double={self.double}, loss={self.loss!r}, "
                f"grad_clip={self.grad_clip}, updates={self.updates})")


def _check_target_update(target_update):
    if isinstance(target_update, bool) or not isinstance(target_update, (int, float, np.integer, np.floating)):
        raise TypeError(f"DQNAgent: target_update must be an int (hard update period) or a float tau in (0, 1), "
                        f"got {target_update!r}")
    if isinstance(target_update, (float, np.floating)) and not 0.0 < target_update <= 1.0:
        raise ValueError(f"DQNAgent: a soft target_update tau must be in (0, 1], got {target_update}")
    if isinstance(target_update, (int, np.integer)) and target_update < 1:
        raise ValueError(f"DQNAgent: a hard target_update period must be >= 1 update, got {target_update}")
    return float(target_update) if isinstance(target_update, (float, np.floating)) else int(target_update)


def _paths(path):
    """The weights file and its JSON sidecar: 'agent.safetensors' -> ('agent.safetensors', 'agent.json')."""
    weights = Path(os.fspath(path))
    if weights.suffix == ".json":
        raise ValueError(f"DQNAgent: path {weights} must name the weights file (e.g. agent.safetensors), "
                         f"not the .json sidecar")
    return weights, weights.with_suffix(".json")


# ----- the training loop ----------------------------------------------------------------------------------------------
def train_dqn(agent, env, total_steps, buffer, epsilon_schedule, batch_size=32, learning_starts=1000, train_every=1,
              rng=None, callback=None):
    """Train `agent` for `total_steps` environment steps with epsilon-greedy exploration and experience replay.

    env follows the Gymnasium API. Every step's transition goes into `buffer`; its `terminated` flag is the env's
    terminated only, so a time-limit truncation still bootstraps from next_obs (the state was not terminal), while
    both end the episode and reset the env. Once `learning_starts` steps are done (and the buffer holds a batch),
    every `train_every` steps one batch of `batch_size` is sampled and agent.update runs.
    `epsilon_schedule` is a callable step -> epsilon (LinearSchedule, ExponentialSchedule) or a constant.
    `rng` (np.random.Generator or int seed) drives exploration, replay sampling and the first env reset's seed, so a
    seeded run is reproducible. `callback(step, logs)` runs after each episode, logs = {'episode', 'return',
    'length', 'step', 'epsilon', 'loss'} (loss: mean over the episode's updates, or None); returning True stops.

    Returns the history: {'episode_returns', 'episode_lengths', 'episode_end_steps', 'losses', 'q_means',
    'loss_steps'} (lists; losses/q_means one entry per update, at env step loss_steps).
    """
    if total_steps < 0 or batch_size < 1 or train_every < 1 or learning_starts < 0:
        raise ValueError(f"train_dqn: need total_steps >= 0, batch_size >= 1, train_every >= 1, learning_starts >= 0;"
                         f" got {total_steps}, {batch_size}, {train_every}, {learning_starts}")
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    schedule = epsilon_schedule if callable(epsilon_schedule) else (lambda step: float(epsilon_schedule))
    history = {"episode_returns": [], "episode_lengths": [], "episode_end_steps": [], "losses": [], "q_means": [],
               "loss_steps": []}
    obs, _ = env.reset(seed=int(rng.integers(2**31 - 1)))
    episode_return, episode_length, episode_losses = 0.0, 0, []
    for step in range(total_steps):
        epsilon = schedule(step)
        action = agent.act(obs, epsilon, rng)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        buffer.add(obs, action, reward, next_obs, terminated)
        episode_return += float(reward)
        episode_length += 1
        done_steps = step + 1
        if done_steps >= learning_starts and done_steps % train_every == 0 and len(buffer) >= batch_size:
            info = agent.update(buffer.sample(batch_size, rng))
            history["losses"].append(info["loss"])
            history["q_means"].append(info["q_mean"])
            history["loss_steps"].append(done_steps)
            episode_losses.append(info["loss"])
        if terminated or truncated:
            history["episode_returns"].append(episode_return)
            history["episode_lengths"].append(episode_length)
            history["episode_end_steps"].append(done_steps)
            logs = {"episode": len(history["episode_returns"]), "return": episode_return, "length": episode_length,
                    "step": done_steps, "epsilon": epsilon,
                    "loss": float(np.mean(episode_losses)) if episode_losses else None}
            obs, _ = env.reset()
            episode_return, episode_length, episode_losses = 0.0, 0, []
            if callback is not None and callback(done_steps, logs):
                break
        else:
            obs = next_obs
    return history
