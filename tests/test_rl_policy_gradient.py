"""Policy gradients: returns/GAE by hand, REINFORCE's estimator against the exact bandit gradient, A2C's loss
against gradcheck and torch, and short learning runs on tiny environments written here."""

import numpy as np
import pytest

import glassbox as gb
import glassbox.nn as nn
from glassbox.autograd.gradient_check import gradcheck
from glassbox.rl.policy_gradient import (
    A2CAgent,
    Episode,
    ReinforceAgent,
    Rollout,
    actor_critic_loss,
    discounted_returns,
    entropy,
    generalized_advantages,
    log_probs,
    sample_actions,
    train_a2c,
    train_reinforce,
)

# ------------------------------------------------------------------------------------------ tiny environments


class Bandit:
    """One state (obs [1.]), episodes of one step; arm a pays rewards[a] (deterministic)."""

    def __init__(self, rewards):
        self.rewards = list(rewards)

    def reset(self, seed=None):
        return np.ones(1), {}

    def step(self, action):
        return np.ones(1), self.rewards[action], True, False, {}


class Chain:
    """States 0..n-1 as one-hot obs, start at 0; action 1 moves right, 0 left (floored at 0); reaching n-1 pays +1
    and terminates; a time limit truncates. Random start noise comes from the env's own seeded generator."""

    def __init__(self, n=5, limit=30):
        self.n, self.limit = n, limit
        self.rng = np.random.default_rng(0)

    def _obs(self):
        obs = np.zeros(self.n)
        obs[self.state] = 1.0
        return obs

    def reset(self, seed=None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.state, self.t = 0, 0
        return self._obs(), {}

    def step(self, action):
        self.t += 1
        self.state = min(self.state + 1, self.n - 1) if action == 1 else max(self.state - 1, 0)
        terminated = self.state == self.n - 1
        return self._obs(), float(terminated), terminated, self.t >= self.limit and not terminated, {}


def mlp(inputs, outputs, hidden=16, dtype=None):
    net = nn.Sequential(nn.Linear(inputs, hidden), nn.Tanh(), nn.Linear(hidden, outputs))
    return net.double() if dtype == "double" else net


# ----------------------------------------------------------------------------------------- returns and GAE

def test_discounted_returns_by_hand():
    np.testing.assert_allclose(discounted_returns([1.0, 2.0, 3.0], 0.9), [5.23, 4.7, 3.0])
    # Truncated: the bootstrap value enters discounted by gamma^(T-t).
    np.testing.assert_allclose(discounted_returns([1.0, 2.0, 3.0], 0.9, terminated_last=False, bootstrap=10.0),
                               [5.23 + 7.29, 4.7 + 8.1, 3.0 + 9.0])
    # With terminated_last=True the bootstrap is ignored.
    np.testing.assert_allclose(discounted_returns([1.0, 2.0], 0.5, terminated_last=True, bootstrap=100.0), [2.0, 2.0])


def test_discounted_returns_trailing_dims_are_independent_streams():
    rewards = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 1.0]])
    out = discounted_returns(rewards, 0.5, terminated_last=False, bootstrap=np.array([4.0, -2.0]))
    for j, b in enumerate([4.0, -2.0]):
        np.testing.assert_allclose(out[:, j], discounted_returns(rewards[:, j], 0.5, False, b))


def test_gae_by_hand():
    r, v = [1.0, 0.0, 2.0], [0.5, 1.0, 1.5]
    # deltas 1.4, 0.35, 2.3; gamma * lam = 0.45
    no_end = generalized_advantages(r, v, 2.0, 0.9, 0.5, [False, False, False])
    np.testing.assert_allclose(no_end, [1.4 + 0.45 * 1.385, 1.385, 2.3])
    # Termination after step 1: no bootstrap there (delta_1 = 0 - 1.0) and no carry from step 2.
    terminated = generalized_advantages(r, v, 2.0, 0.9, 0.5, [False, True, False])
    np.testing.assert_allclose(terminated, [1.4 - 0.45, -1.0, 2.3])
    # Truncation after step 1 with per-step next values: bootstrap from V(final obs) = 3, still no carry.
    truncated = generalized_advantages(r, v, [1.0, 3.0, 2.0], 0.9, 0.5, [False, False, False],
                                       truncated=[False, True, False])
    np.testing.assert_allclose(truncated, [1.4 + 0.45 * 1.7, 1.7, 2.3])


def test_gae_limits_lambda_one_and_zero():
    rng = np.random.default_rng(0)
    r, v = rng.normal(size=6), rng.normal(size=6)
    last = 0.7
    np.testing.assert_allclose(generalized_advantages(r, v, last, 0.95, 1.0, np.zeros(6, bool)),
                               discounted_returns(r, 0.95, terminated_last=False, bootstrap=last) - v)
    next_v = np.append(v[1:], last)
    np.testing.assert_allclose(generalized_advantages(r, v, last, 0.95, 0.0, np.zeros(6, bool)),
                               r + 0.95 * next_v - v)


def test_gae_rejects_bad_shapes():
    with pytest.raises(ValueError, match="next_value"):
        generalized_advantages([1.0, 2.0], [0.0, 0.0], [1.0, 2.0, 3.0], 0.9, 0.9, [False, False])
    with pytest.raises(ValueError, match="values"):
        generalized_advantages([1.0, 2.0], [0.0], 0.0, 0.9, 0.9, [False, False])
    with pytest.raises(ValueError, match="gamma"):
        discounted_returns([1.0], 1.5)


# ---------------------------------------------------------------------------------------- categorical helpers

def test_log_probs_and_entropy_match_torch(torch):
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(5, 4)).astype(np.float32) * 3
    actions = rng.integers(0, 4, size=5)
    x = gb.tensor(logits, requires_grad=True)
    (log_probs(x, actions).sum() + entropy(x).sum()).backward()
    tx = torch.tensor(logits, requires_grad=True)
    dist = torch.distributions.Categorical(logits=tx)
    (dist.log_prob(torch.tensor(actions)).sum() + dist.entropy().sum()).backward()
    expected = dist.log_prob(torch.tensor(actions)).detach().numpy()
    np.testing.assert_allclose(log_probs(x, actions).detach().numpy(), expected, atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(entropy(x).detach().numpy(), dist.entropy().detach().numpy(), atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), atol=1e-4, rtol=1e-3)


def test_entropy_by_hand():
    np.testing.assert_allclose(entropy(gb.zeros(2, 4, dtype=gb.float64)).numpy(), [np.log(4)] * 2)


def test_sample_actions_frequencies_and_seeding():
    logits = np.log(np.array([[0.2, 0.5, 0.3]]))
    actions = sample_actions(np.repeat(logits, 20000, axis=0), np.random.default_rng(0))
    freq = np.bincount(actions, minlength=3) / len(actions)
    np.testing.assert_allclose(freq, [0.2, 0.5, 0.3], atol=0.015)  # 4+ standard errors
    again = sample_actions(np.repeat(logits, 20000, axis=0), np.random.default_rng(0))
    assert np.array_equal(actions, again)
    with pytest.raises(ValueError, match="N, num_actions"):
        sample_actions(np.zeros(3))


# -------------------------------------------------------------- THE key test: REINFORCE's estimator on a bandit

THETA = np.array([0.3, -0.5, 0.8])
ARM_REWARDS = np.array([1.0, 2.0, 4.0])


def bandit_agent(baseline=None, baseline_value=0.0):
    """A policy whose logits are a Linear layer's bias (weight 0, obs [[0.]]), in float64."""
    policy = nn.Linear(1, 3).double()
    policy.weight.data[...] = 0.0
    policy.bias.data[...] = THETA
    value = None
    if baseline == "value":
        value = nn.Linear(1, 1).double()
        value.weight.data[...] = 0.0
        value.bias.data[...] = baseline_value
    return ReinforceAgent(policy, lr=0.1, gamma=1.0, baseline=baseline, value_network=value)


def estimate(agent, episodes):
    """The REINFORCE estimate of grad_theta J = -grad of the agent's policy loss."""
    agent.policy.zero_grad()
    policy_loss, _, _ = agent.loss(episodes)
    policy_loss.backward()
    return -agent.policy.bias.grad.numpy().copy()


def one_step(action):
    return Episode(np.zeros((1, 1)), np.array([action]), np.array([ARM_REWARDS[action]]))


def exact_moments(agent):
    p = np.exp(THETA) / np.exp(THETA).sum()
    grads = np.stack([estimate(agent, [one_step(a)]) for a in range(3)])
    mean = p @ grads
    variance = p @ (grads ** 2).sum(axis=1) - (mean ** 2).sum()  # trace of the estimator's covariance
    return mean, variance


def test_reinforce_expectation_equals_exact_gradient_and_baseline_reduces_variance():
    p = np.exp(THETA) / np.exp(THETA).sum()
    expected_reward = p @ ARM_REWARDS
    exact = p * (ARM_REWARDS - expected_reward)  # d/dtheta_i sum_a softmax(theta)_a r_a
    mean_plain, var_plain = exact_moments(bandit_agent(None))
    mean_base, var_base = exact_moments(bandit_agent("value", baseline_value=expected_reward))
    mean_off, var_off = exact_moments(bandit_agent("value", baseline_value=-3.0))  # a poor baseline
    np.testing.assert_allclose(mean_plain, exact, atol=1e-12)
    np.testing.assert_allclose(mean_base, exact, atol=1e-12)  # a state-only baseline adds no bias...
    np.testing.assert_allclose(mean_off, exact, atol=1e-12)
    assert var_base < 0.5 * var_plain  # ...and b = E[r] cuts the variance
    assert var_off > var_plain


def test_reinforce_sampled_batch_average_matches_exact_gradient():
    p = np.exp(THETA) / np.exp(THETA).sum()
    exact = p * (ARM_REWARDS - p @ ARM_REWARDS)
    agent = bandit_agent(None)
    n = 4000
    actions = agent.act(np.zeros((n, 1)), np.random.default_rng(3))
    batch = [one_step(a) for a in actions]
    _, var = exact_moments(agent)
    # The batch loss averages over episodes: its gradient is the mean of n independent estimates.
    np.testing.assert_allclose(estimate(agent, batch), exact, atol=5 * np.sqrt(var / n))


def test_reinforce_value_baseline_is_trained_toward_returns():
    agent = bandit_agent("value", baseline_value=0.0)
    for _ in range(200):
        agent.update([one_step(2)])
    assert abs(agent.value.bias.item() - ARM_REWARDS[2]) < 0.2


def test_reinforce_truncated_episode_bootstraps_from_value():
    agent = bandit_agent("value", baseline_value=5.0)
    ep = Episode(np.zeros((2, 1)), np.array([0, 1]), np.array([1.0, 1.0]), terminated=False,
                 final_obs=np.zeros(1))
    agent.gamma = 0.5
    np.testing.assert_allclose(agent.returns([ep]), [1 + 0.5 + 0.25 * 5.0, 1 + 0.5 * 5.0])


def test_reinforce_config_errors():
    with pytest.raises(ValueError, match="value_network"):
        ReinforceAgent(nn.Linear(1, 2), baseline="value")
    with pytest.raises(ValueError, match="baseline"):
        ReinforceAgent(nn.Linear(1, 2), baseline="median")
    with pytest.raises(TypeError, match="nn.Module"):
        ReinforceAgent(lambda x: x, baseline=None)


# --------------------------------------------------------------------------------------------------- A2C loss

def test_actor_critic_loss_gradcheck():
    rng = np.random.default_rng(0)
    logits = gb.tensor(rng.normal(size=(4, 3)), requires_grad=True)
    values = gb.tensor(rng.normal(size=4), requires_grad=True)
    actions, adv, ret = np.array([0, 2, 1, 2]), rng.normal(size=4), rng.normal(size=4)
    assert gradcheck(lambda lg, v: actor_critic_loss(lg, v, actions, adv, ret, 0.5, 0.1)[0], (logits, values))


def test_actor_critic_loss_matches_torch(torch):
    rng = np.random.default_rng(2)
    lg, v = rng.normal(size=(6, 3)).astype(np.float32), rng.normal(size=6).astype(np.float32)
    actions, adv, ret = rng.integers(0, 3, size=6), rng.normal(size=6), rng.normal(size=6)
    x, y = gb.tensor(lg, requires_grad=True), gb.tensor(v, requires_grad=True)
    loss, _ = actor_critic_loss(x, y, actions, adv, ret, value_coef=0.5, entropy_coef=0.01)
    loss.backward()
    tx, ty = torch.tensor(lg, requires_grad=True), torch.tensor(v, requires_grad=True)
    dist = torch.distributions.Categorical(logits=tx)
    t_adv, t_ret = torch.tensor(adv, dtype=torch.float32), torch.tensor(ret, dtype=torch.float32)
    t_loss = (-(dist.log_prob(torch.tensor(actions)) * t_adv).mean() + 0.5 * ((ty - t_ret) ** 2).mean()
              - 0.01 * dist.entropy().mean())
    t_loss.backward()
    np.testing.assert_allclose(loss.item(), t_loss.item(), atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), atol=1e-4, rtol=1e-3)
    np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy(), atol=1e-4, rtol=1e-3)


def test_a2c_agent_loss_gradcheck_in_parameters():
    gb.manual_seed(0)
    policy, value = mlp(4, 2, hidden=5, dtype="double"), mlp(4, 1, hidden=5, dtype="double")
    agent = A2CAgent(policy, value, gamma=0.9, gae_lambda=0.8, entropy_coef=0.05)
    rng = np.random.default_rng(0)
    rollout = Rollout(rng.normal(size=(5, 4)), rng.integers(0, 2, size=5), rng.normal(size=5),
                      rng.normal(size=(5, 4)), np.array([0, 0, 1, 0, 0], bool), np.array([0, 0, 0, 0, 1], bool))
    adv, ret = agent.targets(rollout)  # fixed targets: the loss treats them as constants
    params = list(policy.parameters()) + list(value.parameters())
    assert gradcheck(lambda *ps: agent.loss(rollout, adv, ret)[0], params)


def test_a2c_targets_bootstrap_truncation_from_next_obs():
    value = nn.Linear(2, 1).double()
    value.weight.data[...] = [[1.0, 10.0]]
    value.bias.data[...] = 0.0
    agent = A2CAgent(nn.Linear(2, 2).double(), value, gamma=0.5, gae_lambda=1.0)
    # step 0 truncated with next_obs worth 10; step 1 terminated.
    rollout = Rollout(np.array([[1.0, 0.0], [2.0, 0.0]]), np.array([0, 1]), np.array([1.0, 1.0]),
                      np.array([[0.0, 1.0], [0.0, 1.0]]), np.array([False, True]), np.array([True, False]))
    adv, ret = agent.targets(rollout)
    np.testing.assert_allclose(ret, [1 + 0.5 * 10, 1.0])
    np.testing.assert_allclose(adv, [6.0 - 1.0, 1.0 - 2.0])


# -------------------------------------------------------------------------------------------- learning runs

def test_reinforce_learns_bandit_and_chain():
    gb.manual_seed(0)
    agent = ReinforceAgent(mlp(1, 3), lr=0.05, gamma=1.0, baseline="mean")
    arm_rewards = np.array([0.0, 0.5, 1.0])

    def expected_reward():
        with gb.no_grad():
            return nn.functional.softmax(agent.policy(gb.ones(1, 1)), dim=1).numpy()[0] @ arm_rewards

    before = expected_reward()
    history = train_reinforce(agent, Bandit(arm_rewards), episodes=400, rng=0, batch_episodes=8)
    assert expected_reward() > max(0.95, before + 0.3), (before, expected_reward())
    assert np.mean([e["return"] for e in history["episodes"][-50:]]) > 0.9

    gb.manual_seed(0)
    agent = ReinforceAgent(mlp(5, 2), lr=0.03, gamma=0.9, baseline="value", value_network=mlp(5, 1))
    history = train_reinforce(agent, Chain(), episodes=150, rng=1)
    lengths = [e["length"] for e in history["episodes"]]
    # The shortest path takes 4 steps; a uniform random walk needs ~16 on average (capped at 30).
    assert np.mean(lengths[-20:]) < 4.5 and np.mean(lengths[:10]) > np.mean(lengths[-20:]), lengths
    assert _greedy_length(agent, Chain()) == 4


def test_a2c_learns_chain():
    gb.manual_seed(0)
    agent = A2CAgent(mlp(5, 2), mlp(5, 1), lr=0.01, gamma=0.9, n_steps=5, gae_lambda=0.95, entropy_coef=0.01)
    history = train_a2c(agent, Chain(), total_steps=1500, rng=2)
    lengths = [e["length"] for e in history["episodes"]]
    assert np.mean(lengths[-20:]) < 4.5 and np.mean(lengths[:10]) > np.mean(lengths[-20:]), lengths
    assert _greedy_length(agent, Chain()) == 4
    assert history["updates"][-1]["total_steps"] == 1500


def _greedy_length(agent, env):
    obs, _ = env.reset(seed=0)
    for t in range(1, env.limit + 1):
        obs, _, terminated, truncated, _ = env.step(agent.act(obs, greedy=True))
        if terminated or truncated:
            return t if terminated else None
    return None


def test_seeded_training_is_reproducible():
    runs = []
    for _ in range(2):
        gb.manual_seed(5)
        agent = ReinforceAgent(mlp(5, 2), lr=0.03, gamma=0.9, baseline="value", value_network=mlp(5, 1))
        runs.append(train_reinforce(agent, Chain(), episodes=10, rng=7))
    assert runs[0] == runs[1]


def test_callback_can_stop_training():
    gb.manual_seed(0)
    agent = A2CAgent(mlp(5, 2), mlp(5, 1))
    history = train_a2c(agent, Chain(), total_steps=100, rng=0, callback=lambda logs: logs["update"] == 2)
    assert len(history["updates"]) == 3


# -------------------------------------------------------------------------------------------------- save/load

@pytest.mark.parametrize("kind", ["reinforce", "a2c"])
def test_save_load_round_trip(tmp_path, kind):
    def build(seed):
        gb.manual_seed(seed)
        if kind == "reinforce":
            return ReinforceAgent(mlp(5, 2), lr=0.02, gamma=0.8, baseline="value", value_network=mlp(5, 1))
        return A2CAgent(mlp(5, 2), mlp(5, 1), lr=0.02, gamma=0.8, n_steps=3)

    agent = build(0)
    (train_reinforce(agent, Chain(), episodes=3, rng=0) if kind == "reinforce"
     else train_a2c(agent, Chain(), total_steps=12, rng=0))
    agent.save(tmp_path / "agent.safetensors")
    other = build(1).load(tmp_path / "agent.safetensors")
    for a, b in zip(agent._modules().values(), other._modules().values()):
        for (k, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
            np.testing.assert_array_equal(x.numpy(), y.numpy(), err_msg=k)
    assert other.config == agent.config and other.gamma == 0.8
    for name, opt in agent._optimizers().items():
        state, other_state = opt.state_dict()["state"], other._optimizers()[name].state_dict()["state"]
        assert state.keys() == other_state.keys() and state
        for k in state:
            np.testing.assert_array_equal(np.asarray(state[k]["exp_avg"].numpy()),
                                          np.asarray(other_state[k]["exp_avg"].numpy()))
    obs = np.eye(5)
    assert np.array_equal(agent.act(obs, greedy=True), other.act(obs, greedy=True))
    wrong = A2CAgent(mlp(5, 2), mlp(5, 1)) if kind == "reinforce" else ReinforceAgent(mlp(5, 2), baseline=None)
    with pytest.raises(ValueError, match="holds a"):
        wrong.load(tmp_path / "agent.safetensors")


# ------------------------------------------------------------------------------------------------- gymnasium

def test_runs_on_gymnasium_cartpole():
    gym = pytest.importorskip("gymnasium")
    env = gym.make("CartPole-v1")
    gb.manual_seed(0)
    agent = A2CAgent(mlp(4, 2), mlp(4, 1), n_steps=8)
    history = train_a2c(agent, env, total_steps=64, rng=0)
    assert len(history["updates"]) == 8 and all(np.isfinite(u["loss"]) for u in history["updates"])
    agent = ReinforceAgent(mlp(4, 2), baseline="mean")
    history = train_reinforce(agent, env, episodes=2, rng=0)
    assert len(history["episodes"]) == 2
