"""Reinforcement learning: environments (and our own highway-driving one), replay, exploration schedules, DQN,
policy gradients and greedy evaluation."""

from .dqn import DQNAgent, build_q_network, mlp_spec, train_dqn
from .envs import make_env, num_actions, observation_shape, require_gymnasium
from .evaluation import evaluate
from .highway import HighwayEnv, heuristic_action, heuristic_policy_return, random_policy_return, to_gymnasium
from .policy_gradient import (
    A2CAgent,
    Episode,
    ReinforceAgent,
    Rollout,
    actor_critic_loss,
    discounted_returns,
    entropy,
    generalized_advantages,
    log_probs,
    reinforce_loss,
    sample_actions,
    train_a2c,
    train_reinforce,
)
from .replay import ReplayBuffer
from .schedules import ExponentialSchedule, LinearSchedule

__all__ = ["DQNAgent", "ExponentialSchedule", "LinearSchedule", "ReplayBuffer", "build_q_network", "evaluate",
           "HighwayEnv", "heuristic_action", "heuristic_policy_return", "random_policy_return", "to_gymnasium",
           "make_env", "mlp_spec", "num_actions", "observation_shape", "require_gymnasium", "train_dqn", "A2CAgent",
           "Episode", "ReinforceAgent", "Rollout", "actor_critic_loss", "discounted_returns", "entropy",
           "generalized_advantages", "log_probs", "reinforce_loss", "sample_actions", "train_a2c", "train_reinforce"]
