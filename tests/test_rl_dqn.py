"""Tests of glassbox.rl core: replay buffer, schedules, DQN targets/updates/saving, the training loop, evaluate."""

import numpy as np
import pytest

import glassbox as gb
import glassbox.nn as nn
from glassbox.errors import ShapeError
from glassbox.io.errors import ModelFileError
from glassbox.rl import (
    DQNAgent,
    ExponentialSchedule,
    LinearSchedule,
    ReplayBuffer,
    build_q_network,
    evaluate,
    make_env,
    mlp_spec,
    train_dqn,
)


# ----- tiny environments written here, so the core is tested without gymnasium ----------------------------------------
class _Space:
    def __init__(self, shape=None, n=None):
        self.shape, self.n = shape, n


class ChainEnv:
    """Positions 0..length-1, start at 0; action 1 moves right, 0 left (walls clip). Reaching the right end gives
    reward 1 and terminates; otherwise reward 0 and truncation after max_steps. Obs: one-hot position."""

    def __init__(self, length=6, max_steps=20):
        self.length, self.max_steps = length, max_steps
        self.observation_space, self.action_space = _Space(shape=(length,)), _Space(n=2)
        self.reset_seeds = []

    def _obs(self):
        obs = np.zeros(self.length, dtype=np.float32)
        obs[self.pos] = 1.0
        return obs

    def reset(self, seed=None, options=None):
        self.reset_seeds.append(seed)
        self.pos, self.t = 0, 0
        return self._obs(), {}

    def step(self, action):
        self.pos = int(np.clip(self.pos + (1 if action == 1 else -1), 0, self.length - 1))
        self.t += 1
        terminated = self.pos == self.length - 1
        truncated = not terminated and self.t >= self.max_steps
        return self._obs(), float(terminated), terminated, truncated, {}


class ScriptedEnv:
    """Plays a fixed script of (terminated, truncated) flags, one list per episode; obs = [episode, t]."""

    def __init__(self, script):
        self.script, self.episode = script, -1

    def reset(self, seed=None, options=None):
        self.episode, self.t = self.episode + 1, 0
        return np.array([self.episode, 0.0], dtype=np.float32), {}

    def step(self, action):
        terminated, truncated = self.script[self.episode][self.t]
        self.t += 1
        return np.array([self.episode, self.t], dtype=np.float32), 10.0 * self.episode + self.t, terminated, \
            truncated, {}


# ----- replay buffer --------------------------------------------------------------------------------------------------
def _fill(buffer, n):
    for i in range(n):
        buffer.add(np.full(buffer.obs_shape, i, dtype=np.float32), i % 3, float(i),
                   np.full(buffer.obs_shape, i + 1, dtype=np.float32), i % 2 == 1)


def test_replay_capacity_and_overwrite_order():
    buffer = ReplayBuffer(5, (2,), rng=0)
    _fill(buffer, 3)
    assert len(buffer) == 3
    np.testing.assert_array_equal(buffer.ordered()["reward"], [0, 1, 2])
    for i in range(3, 8):
        buffer.add(np.full(2, i), i % 3, float(i), np.full(2, i + 1), i % 2 == 1)
    assert len(buffer) == 5  # never grows past capacity
    ordered = buffer.ordered()
    np.testing.assert_array_equal(ordered["reward"], [3, 4, 5, 6, 7])  # the three oldest were overwritten
    np.testing.assert_array_equal(ordered["obs"][:, 0], [3, 4, 5, 6, 7])
    np.testing.assert_array_equal(ordered["terminated"], [1, 0, 1, 0, 1])
    # ring layout: transitions 5, 6, 7 went into slots 0, 1, 2 (the oldest ones)
    np.testing.assert_array_equal(buffer.reward, [5, 6, 7, 3, 4])


def test_replay_sample_fields_are_aligned_and_unique():
    buffer = ReplayBuffer(50, (3,), rng=1)
    _fill(buffer, 80)
    for _ in range(100):
        batch = buffer.sample(16)
        assert set(batch) >= {"obs", "action", "reward", "next_obs", "terminated"}
        assert batch["obs"].shape == (16, 3) and batch["action"].shape == (16,) and batch["action"].dtype == np.int64
        ids = batch["reward"].astype(int)
        assert len(np.unique(ids)) == 16  # without replacement within a batch
        assert ids.min() >= 30  # only the 50 newest transitions remain
        np.testing.assert_array_equal(batch["obs"], np.repeat(ids[:, None], 3, axis=1))
        np.testing.assert_array_equal(batch["next_obs"][:, 0], ids + 1)
        np.testing.assert_array_equal(batch["action"], ids % 3)
        np.testing.assert_array_equal(batch["terminated"], ids % 2)


def test_replay_sampling_is_uniform():
    buffer = ReplayBuffer(10, (1,), rng=np.random.default_rng(2))
    _fill(buffer, 10)
    counts = np.zeros(10)
    draws = 4000
    for _ in range(draws):
        counts += np.bincount(buffer.sample(5)["reward"].astype(int), minlength=10)
    expected = draws * 5 / 10
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 27.88  # chi-square with 9 degrees of freedom, p = 0.001


def test_replay_errors():
    buffer = ReplayBuffer(4, (2,))
    with pytest.raises(ValueError, match="batch_size"):
        buffer.sample(1)  # empty
    with pytest.raises(ShapeError, match=r"obs must have shape \(2,\)"):
        buffer.add(np.zeros(3), 0, 0.0, np.zeros(2), False)
    with pytest.raises(ValueError, match="capacity"):
        ReplayBuffer(0, (2,))


# ----- schedules ------------------------------------------------------------------------------------------------------
def test_schedules():
    linear = LinearSchedule(1.0, 0.1, 10)
    assert linear(0) == 1.0 and linear(10) == pytest.approx(0.1) and linear(1000) == pytest.approx(0.1)
    assert linear(5) == pytest.approx(0.55)
    exponential = ExponentialSchedule(1.0, 0.1, 0.5)
    assert exponential(0) == 1.0
    assert exponential(2) == pytest.approx(0.1 + 0.9 * 0.25)
    assert exponential(10**9) == pytest.approx(0.1)
    with pytest.raises(ValueError):
        LinearSchedule(1.0, 0.1, 0)
    with pytest.raises(ValueError):
        ExponentialSchedule(1.0, 0.1, 1.5)


# ----- DQN targets against a hand computation -------------------------------------------------------------------------
def _linear_agent(double, gamma=0.9, **kwargs):
    agent = DQNAgent(nn.Linear(2, 3), 3, gamma=gamma, double=double, **kwargs)
    # online Q(s) = W_o s + b_o, target Q(s) = W_t s + b_t; chosen so the two networks prefer different actions
    agent.q_network.weight.data[...] = [[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]
    agent.q_network.bias.data[...] = [0.0, 0.0, 0.1]
    agent.target_network.weight.data[...] = [[2.0, 0.0], [0.0, 0.5], [-1.0, 1.0]]
    agent.target_network.bias.data[...] = [0.0, 1.0, 0.0]
    return agent


def _batch():
    return {"obs": np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32),
            "action": np.array([0, 2]),
            "reward": np.array([1.0, -1.0], dtype=np.float32),
            "next_obs": np.array([[1.0, 2.0], [3.0, 1.0]], dtype=np.float32),
            "terminated": np.array([0.0, 0.0], dtype=np.float32)}


def test_dqn_target_hand_computed():
    agent = _linear_agent(double=False)
    # target Q(s'=[1,2]) = [2, 2, 1] -> max 2;  target Q(s'=[3,1]) = [6, 1.5, -2] -> max 6
    np.testing.assert_allclose(agent.compute_targets(_batch()), [1 + 0.9 * 2, -1 + 0.9 * 6], rtol=1e-6)


def test_double_dqn_target_hand_computed():
    agent = _linear_agent(double=True)
    # online Q([1,2]) = [1, 2, 1.6] -> argmax 1 -> target Q([1,2])[1] = 2 (= the target's max as well)
    batch = _batch()
    batch["next_obs"] = np.array([[1.0, 2.0], [0.0, 4.0]], dtype=np.float32)
    # online Q([0,4]) = [0, 4, 2.1] -> argmax 1 -> target Q = 0.5*4 + 1 = 3, while max target = max(0, 3, 4) = 4
    np.testing.assert_allclose(agent.compute_targets(batch), [1 + 0.9 * 2, -1 + 0.9 * 3], rtol=1e-6)
    standard = _linear_agent(double=False)
    np.testing.assert_allclose(standard.compute_targets(batch), [1 + 0.9 * 2, -1 + 0.9 * 4], rtol=1e-6)


def test_terminated_transitions_do_not_bootstrap():
    for double in (False, True):
        batch = _batch()
        batch["terminated"] = np.array([1.0, 0.0], dtype=np.float32)
        targets = _linear_agent(double=double).compute_targets(batch)
        assert targets[0] == pytest.approx(1.0)  # reward only
        assert targets[1] == pytest.approx(-1 + 0.9 * 6)


def test_update_is_one_adam_step_on_the_huber_loss():
    agent = _linear_agent(double=False, lr=0.1, grad_clip=None, target_update=1000)
    batch = _batch()
    w, b = agent.q_network.weight.data.copy(), agent.q_network.bias.data.copy()
    targets = agent.compute_targets(batch)
    q_taken = (batch["obs"] @ w.T + b)[[0, 1], batch["action"]]  # [1, 0.6]
    diff = q_taken - targets
    huber = np.where(np.abs(diff) < 1, 0.5 * diff**2, np.abs(diff) - 0.5).mean()
    info = agent.update(batch)
    assert info["loss"] == pytest.approx(huber, rel=1e-6)
    assert info["q_mean"] == pytest.approx(q_taken.mean(), rel=1e-6)
    # Adam's first step moves each parameter with a non-zero gradient by lr * sign(grad)
    dq = np.clip(diff, -1, 1) / 2
    grad_w = np.zeros_like(w)
    for i, a in enumerate(batch["action"]):
        grad_w[a] += dq[i] * batch["obs"][i]
    moved = grad_w != 0
    np.testing.assert_allclose(agent.q_network.weight.data[moved], (w - 0.1 * np.sign(grad_w))[moved], rtol=1e-5)
    np.testing.assert_array_equal(agent.q_network.weight.data[~moved], w[~moved])
    assert agent.updates == 1


def test_hard_target_sync_every_n_updates():
    gb.manual_seed(0)
    agent = DQNAgent(build_q_network(mlp_spec(2, 3, (8,))), 3, target_update=3, lr=0.05)
    initial = {k: v.data.copy() for k, v in agent.target_network.state_dict().items()}
    batch = _batch()
    for _ in range(2):
        agent.update(batch)
    for k, v in agent.target_network.state_dict().items():
        np.testing.assert_array_equal(v.data, initial[k])
    assert not np.array_equal(agent.q_network.state_dict()["0.weight"].data, initial["0.weight"])
    agent.update(batch)
    online = agent.q_network.state_dict()
    for k, v in agent.target_network.state_dict().items():
        np.testing.assert_array_equal(v.data, online[k].data)
    # the copy is a copy: training the online network further leaves the target alone
    agent.update(batch)
    assert not np.array_equal(agent.target_network.state_dict()["0.weight"].data, online["0.weight"].data)


def test_soft_target_update_and_sync_target():
    agent = _linear_agent(double=True, target_update=0.25, lr=0.1)
    before = agent.target_network.weight.data.copy()
    agent.update(_batch())
    expected = 0.75 * before + 0.25 * agent.q_network.weight.data
    np.testing.assert_allclose(agent.target_network.weight.data, expected, rtol=1e-6)
    agent.sync_target()
    np.testing.assert_array_equal(agent.target_network.weight.data, agent.q_network.weight.data)
    assert agent.target_network.weight is not agent.q_network.weight


def test_act_is_epsilon_greedy():
    agent = _linear_agent(double=True)
    obs = np.array([0.0, 1.0], dtype=np.float32)  # online Q = [0, 1, 0.6] -> greedy action 1
    assert agent.act(obs, 0.0) == 1 and agent.greedy_action(obs) == 1
    rng = np.random.default_rng(0)
    actions = np.array([agent.act(obs, 1.0, rng) for _ in range(3000)])
    counts = np.bincount(actions, minlength=3)
    assert np.all(np.abs(counts - 1000) < 120)  # uniform over the 3 actions (about 4 standard deviations)
    rng = np.random.default_rng(1)
    share_greedy = np.mean([agent.act(obs, 0.3, rng) == 1 for _ in range(3000)])
    assert share_greedy == pytest.approx(0.7 + 0.3 / 3, abs=0.04)


def test_bad_arguments():
    with pytest.raises(ShapeError, match=r"\(2, 4\)"):
        DQNAgent(nn.Linear(2, 3), 4).compute_targets(_batch())
    with pytest.raises(ValueError, match="tau"):
        DQNAgent(nn.Linear(2, 3), 3, target_update=1.5)
    with pytest.raises(ValueError, match="loss"):
        DQNAgent(nn.Linear(2, 3), 3, loss="l1")
    with pytest.raises(TypeError, match="nn.Module"):
        DQNAgent(lambda x: x, 3)
    with pytest.raises(TypeError, match="env id"):
        make_env(42)


# ----- saving ---------------------------------------------------------------------------------------------------------
def test_save_load_round_trip(tmp_path):
    gb.manual_seed(3)
    spec = mlp_spec(2, 3, (16, 16))
    agent = DQNAgent(build_q_network(spec), 3, gamma=0.95, target_update=0.5, network_spec=spec)
    for _ in range(3):
        agent.update(_batch())
    weights, sidecar = agent.save(tmp_path / "agent.safetensors")
    assert weights.exists() and sidecar.name == "agent.json"
    obs = np.random.default_rng(0).normal(size=(32, 2)).astype(np.float32)
    for loaded in (DQNAgent.load(weights), DQNAgent.load(weights, lambda: build_q_network(spec))):
        np.testing.assert_array_equal(loaded.q_values(obs), agent.q_values(obs))
        np.testing.assert_array_equal(loaded.compute_targets(_batch()), agent.compute_targets(_batch()))
        assert [loaded.greedy_action(o) for o in obs] == [agent.greedy_action(o) for o in obs]
        assert loaded.config() == agent.config()
    with pytest.raises(ModelFileError):
        DQNAgent.load(tmp_path / "missing.safetensors")
    plain = DQNAgent(nn.Linear(2, 3), 3)
    plain.save(tmp_path / "plain.safetensors")
    with pytest.raises(ValueError, match="q_network_factory"):
        DQNAgent.load(tmp_path / "plain.safetensors")


# ----- the training loop and evaluation -------------------------------------------------------------------------------
def test_train_dqn_stores_terminated_not_truncated():
    script = [[(False, False), (False, True)],  # episode 0 ends by truncation
              [(False, False), (True, False)],  # episode 1 ends in a terminal state
              [(False, False)] * 10]
    buffer = ReplayBuffer(10, (2,))
    agent = DQNAgent(nn.Linear(2, 2), 2)
    history = train_dqn(agent, ScriptedEnv(script), 5, buffer, 0.5, batch_size=2, learning_starts=100, rng=0)
    stored = buffer.ordered()
    np.testing.assert_array_equal(stored["terminated"], [0, 0, 0, 1, 0])
    # next_obs of the truncated step is that episode's last observation, and the next obs is the reset one
    np.testing.assert_array_equal(stored["next_obs"][1], [0, 2])
    np.testing.assert_array_equal(stored["obs"][2], [1, 0])
    np.testing.assert_array_equal(stored["reward"], [1, 2, 11, 12, 21])
    assert history["episode_returns"] == [3.0, 23.0] and history["episode_lengths"] == [2, 2]
    assert history["episode_end_steps"] == [2, 4] and history["losses"] == []
    # so the learner bootstraps after the truncation and not after the termination
    batch = {k: v[[1, 3]] for k, v in stored.items()}
    targets = agent.compute_targets(batch)
    assert targets[1] == pytest.approx(12.0)
    assert targets[0] == pytest.approx(2.0 + 0.99 * agent.target_network(gb.tensor(stored["next_obs"][1:2])).data.max())


def _train_chain(total_steps, seed):
    gb.manual_seed(seed)
    env = ChainEnv()
    spec = mlp_spec(env.length, 2, (32,))
    agent = DQNAgent(build_q_network(spec), 2, gamma=0.9, lr=5e-3, target_update=50, network_spec=spec)
    buffer = ReplayBuffer(5000, (env.length,), rng=seed)
    history = train_dqn(agent, env, total_steps, buffer, LinearSchedule(1.0, 0.05, total_steps // 2), batch_size=32,
                        learning_starts=100, train_every=1, rng=seed)
    return agent, env, history


def test_dqn_learns_to_walk_right_on_a_chain():
    agent, env, history = _train_chain(2000, seed=0)
    result = evaluate(agent, env, episodes=3, seed=0)
    assert result["returns"] == [1.0, 1.0, 1.0]
    assert result["lengths"] == [env.length - 1] * 3  # the shortest path: always right
    assert len(history["losses"]) == 2000 - 99
    assert history["loss_steps"][0] == 100


def test_seeded_training_is_reproducible():
    _, _, first = _train_chain(300, seed=5)
    _, _, second = _train_chain(300, seed=5)
    assert first == second
    _, _, other = _train_chain(300, seed=6)
    assert other != first


def test_evaluate_with_a_callable_policy_and_fixed_seeds():
    env = ChainEnv(length=4, max_steps=7)
    right = evaluate(lambda obs: 1, env, episodes=3, seed=10)
    assert right == {"mean_return": 1.0, "std_return": 0.0, "returns": [1.0] * 3, "lengths": [3] * 3}
    assert env.reset_seeds == [10, 11, 12]
    left = evaluate(lambda obs: 0, env, episodes=2, seed=0)
    assert left["returns"] == [0.0, 0.0] and left["lengths"] == [7, 7]  # ended by truncation
    class SampledPolicyAgent:  # like the policy-gradient agents: act(obs, greedy=True) is the greedy action
        def act(self, obs, rng=None, greedy=False):
            return 1 if greedy else 0

    assert evaluate(SampledPolicyAgent(), env, episodes=2)["returns"] == [1.0, 1.0]
    capped = evaluate(lambda obs: 0, env, episodes=1, max_steps=3)
    assert capped["lengths"] == [3]
    with pytest.raises(TypeError, match="greedy_action"):
        evaluate(42, env)


def test_make_env_passes_an_env_object_through():
    env = ChainEnv()
    assert make_env(env, seed=7) is env and env.reset_seeds == [7]
    with pytest.raises(TypeError, match="keyword"):
        make_env(env, render_mode="human")


def test_cartpole_smoke():
    pytest.importorskip("gymnasium")
    env = make_env("CartPole-v1", seed=0)
    spec = mlp_spec(4, 2, (16,))
    agent = DQNAgent(build_q_network(spec), 2, network_spec=spec, target_update=10)
    buffer = ReplayBuffer(200, env.observation_space.shape, rng=0)
    history = train_dqn(agent, env, 60, buffer, LinearSchedule(1.0, 0.1, 50), batch_size=8, learning_starts=20, rng=0)
    assert len(history["losses"]) == 41 and all(np.isfinite(history["losses"]))
    result = evaluate(agent, env, episodes=2, seed=0)
    assert len(result["returns"]) == 2 and all(r >= 1 for r in result["returns"])
    env.close()
