"""HighwayEnv: seeding, spaces, crash / lane-change / truncation rules (hand-computed), render, baselines, gymnasium."""

import sys

import numpy as np
import pytest

from glassbox.rl import highway as hw
from glassbox.rl.evaluation import evaluate
from glassbox.rl.highway import (
    ACCELERATE,
    BRAKE,
    CAR_LENGTH,
    KEEP,
    LEFT,
    RIGHT,
    HighwayEnv,
    heuristic_action,
    heuristic_policy_return,
    random_policy_return,
    to_gymnasium,
)


def rollout(env, seed, actions_seed, steps=60):
    """(obs, reward, terminated, truncated) of a random-action run, resetting whenever an episode ends."""
    rng = np.random.default_rng(actions_seed)
    obs, _ = env.reset(seed=seed)
    out = [obs]
    for _ in range(steps):
        obs, reward, terminated, truncated, _ = env.step(int(rng.integers(5)))
        out.append((obs, reward, terminated, truncated))
        if terminated or truncated:
            out.append(env.reset()[0])
    return out


def assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        if isinstance(x, tuple):
            np.testing.assert_array_equal(x[0], y[0])
            assert x[1:] == y[1:]
        else:
            np.testing.assert_array_equal(x, y)


# ------------------------------------------------------------------------------------------------------ seeding
def test_same_seed_same_trajectory_and_different_seed_differs():
    a = rollout(HighwayEnv(max_steps=25), seed=7, actions_seed=1)
    b = rollout(HighwayEnv(max_steps=25), seed=7, actions_seed=1)
    assert_same(a, b)
    c = rollout(HighwayEnv(max_steps=25), seed=8, actions_seed=1)
    assert not np.array_equal(a[0], c[0])


def test_constructor_seed_and_unseeded_reset_continue_the_stream():
    first = HighwayEnv(seed=5)
    second = HighwayEnv()
    np.testing.assert_array_equal(first.reset()[0], second.reset(seed=5)[0])
    # reset() without a seed continues the generator: a new traffic layout, but the same one in both envs.
    o1, o2 = first.reset()[0], second.reset()[0]
    np.testing.assert_array_equal(o1, o2)
    np.testing.assert_array_equal(first.car_x, second.car_x)
    fresh = HighwayEnv(seed=5)
    fresh.reset()
    assert not np.array_equal(first.car_x, fresh.car_x)  # the second episode is not a replay of the first


# ------------------------------------------------------------------------------------------------------- spaces
@pytest.mark.parametrize("lanes", [1, 3, 4])
def test_spaces_contain_every_observation(lanes):
    env = HighwayEnv(lanes=lanes, max_steps=40, traffic_density=3.0)
    assert env.observation_space.shape == (lanes + 13,)
    assert env.action_space.n == 5
    for episode in range(3):
        for item in rollout(env, seed=episode, actions_seed=episode, steps=80):
            obs = item[0] if isinstance(item, tuple) else item
            assert obs.dtype == np.float32 and obs.shape == (lanes + 13,)
            assert env.observation_space.contains(obs), obs


def test_shim_spaces_without_gymnasium(monkeypatch):
    monkeypatch.setitem(sys.modules, "gymnasium", None)  # makes `import gymnasium` raise ImportError
    env = HighwayEnv(max_steps=30)
    assert isinstance(env.action_space, hw.DiscreteSpace) and isinstance(env.observation_space, hw.BoxSpace)
    rng = np.random.default_rng(0)
    assert all(env.action_space.contains(env.action_space.sample(rng)) for _ in range(50))
    assert not env.action_space.contains(5) and not env.action_space.contains(1.0)
    env.action_space.seed(3)
    draws = [env.action_space.sample() for _ in range(20)]
    env.action_space.seed(3)
    assert draws == [env.action_space.sample() for _ in range(20)] and len(set(draws)) == 5
    assert env.observation_space.contains(env.observation_space.sample(rng))
    assert not env.observation_space.contains(np.full(16, 2.0, np.float32))
    for item in rollout(env, seed=0, actions_seed=0, steps=60):
        assert env.observation_space.contains(item[0] if isinstance(item, tuple) else item)
    with pytest.raises(ImportError, match=r"glassbox\[rl\]"):
        to_gymnasium(env)


# --------------------------------------------------------------------------------------------- observation (hand)
def test_observation_by_hand():
    env = HighwayEnv(lanes=3)
    # Ego in lane 1 at 20 m/s; a car 25 m ahead at 10 m/s in lane 1; a car 40 m behind at 25 m/s in lane 2.
    obs, info = env.reset(options={"ego_lane": 1, "ego_speed": 20.0, "cars": [[1, 25.0, 10.0], [2, -40.0, 25.0]]})
    expected = np.array([0, 1, 0, 20 / 30,
                         1, 0, 1, 0,  # left lane: empty
                         (25 - CAR_LENGTH) / 100, (10 - 20) / 30, 1, 0,  # current lane: car ahead only
                         1, 0, (40 - CAR_LENGTH) / 100, (25 - 20) / 30], np.float32)  # right lane: car behind
    np.testing.assert_allclose(obs, expected, rtol=1e-6)
    assert info["lane"] == 1 and info["speed"] == 20.0
    # Off the road reads as blocked (all zeros); a car beyond the sensor range is not seen.
    obs, _ = HighwayEnv(lanes=1).reset(options={"ego_lane": 0, "cars": [[0, 150.0, 10.0]]})
    np.testing.assert_array_equal(obs[2:6], 0.0)
    np.testing.assert_array_equal(obs[10:14], 0.0)
    np.testing.assert_array_equal(obs[6:10], [1, 0, 1, 0])


# ------------------------------------------------------------------------------------------------------ crashes
@pytest.mark.parametrize("action", range(5))
def test_crash_when_braking_cannot_help(action):
    # 30 m/s with a stopped car 8 m ahead (3 m bumper gap) in every lane: even braking to 26 m/s covers 13 m.
    env = HighwayEnv(lanes=3)
    env.reset(options={"ego_lane": 1, "ego_speed": 30.0, "cars": [[lane, 8.0, 0.0] for lane in range(3)]})
    _, reward, terminated, truncated, info = env.step(action)
    assert terminated and not truncated and info["crashed"]
    assert reward == env.crash_penalty
    with pytest.raises(RuntimeError, match="reset"):
        env.step(KEEP)


def test_crash_cannot_be_tunnelled_through_and_a_safe_gap_is_no_crash():
    env = HighwayEnv(lanes=1)
    # rel goes 7 -> 7 - 30 * 0.5 = -8: both ends outside the overlap, but the ego car passed through the car.
    env.reset(options={"ego_lane": 0, "ego_speed": 30.0, "cars": [[0, 7.0, 0.0]]})
    assert env.step(KEEP)[2]
    # 10 m/s for 0.5 s: 20 -> 15 m, still more than a car length: no crash, reward = speed / max_speed.
    env.reset(options={"ego_lane": 0, "ego_speed": 10.0, "cars": [[0, 20.0, 0.0]]})
    _, reward, terminated, _, info = env.step(KEEP)
    assert not terminated and not info["crashed"] and reward == pytest.approx(10 / 30)


def test_changing_lane_into_a_car_beside_crashes_keeping_lane_does_not():
    options = {"ego_lane": 1, "ego_speed": 15.0, "cars": [[0, 1.0, 15.0]]}
    env = HighwayEnv(lanes=3)
    env.reset(options=options)
    assert not env.step(KEEP)[2]
    env.reset(options=options)
    assert not env.step(RIGHT)[2]
    env.reset(options=options)
    _, reward, terminated, _, _ = env.step(LEFT)
    assert terminated and reward == env.crash_penalty


def test_traffic_never_hits_the_ego_car_or_each_other():
    # The ego car stops dead with a fast car 20 m behind: the car behind must stop too.
    env = HighwayEnv(lanes=1, max_steps=30)
    env.reset(options={"ego_lane": 0, "ego_speed": 0.0, "cars": [[0, -20.0, 25.0]]})
    for _ in range(30):
        _, _, terminated, truncated, _ = env.step(KEEP)
        assert not terminated
    assert truncated and env._relative(env.car_x)[0] <= -CAR_LENGTH
    # Dense random traffic: cars in a lane never overlap.
    env = HighwayEnv(lanes=3, traffic_density=5.0, max_steps=100)
    env.reset(seed=3, options={"ego_speed": 0.0})
    for _ in range(100):
        if env.step(KEEP)[3]:
            break
        for lane in range(3):
            x = np.sort(env.car_x[env.car_lane == lane])
            gaps = np.diff(np.append(x, x[0] + env.length))
            assert gaps.min() >= CAR_LENGTH - 1e-9


# ------------------------------------------------------------------------------------- lane changes, speed, time
def test_lane_changes_at_the_edge_are_free_no_ops():
    env = HighwayEnv(lanes=3)
    for lane, action in ((0, LEFT), (2, RIGHT)):
        env.reset(options={"ego_lane": lane, "ego_speed": 12.0, "cars": []})
        obs, reward, _, _, info = env.step(action)
        assert info["lane"] == lane and not info["lane_change"]
        assert reward == pytest.approx(12 / 30)  # no lane-change cost
        keep = HighwayEnv(lanes=3)
        keep.reset(options={"ego_lane": lane, "ego_speed": 12.0, "cars": []})
        np.testing.assert_array_equal(obs, keep.step(KEEP)[0])
    # A real lane change moves one lane and pays the cost.
    env.reset(options={"ego_lane": 1, "ego_speed": 12.0, "cars": []})
    obs, reward, _, _, info = env.step(LEFT)
    assert info["lane"] == 0 and info["lane_change"] and obs[0] == 1.0
    assert reward == pytest.approx(12 / 30 - env.lane_change_cost)


def test_accelerate_and_brake_are_clipped():
    env = HighwayEnv(lanes=1)
    env.reset(options={"ego_speed": 29.0, "cars": []})
    assert env.step(ACCELERATE)[4]["speed"] == 30.0
    env.reset(options={"ego_speed": 3.0, "cars": []})
    _, reward, _, _, info = env.step(BRAKE)
    assert info["speed"] == 0.0 and reward == 0.0 and info["distance"] == 0.0


def test_truncation_at_max_steps():
    env = HighwayEnv(lanes=2, max_steps=5)
    env.reset(options={"ego_speed": 15.0, "cars": []})
    total = 0.0
    for t in range(5):
        _, reward, terminated, truncated, info = env.step(KEEP)
        total += reward
        assert not terminated and truncated == (t == 4) and info["step"] == t + 1
    assert total == pytest.approx(5 * 15 / 30)
    assert info["distance"] == pytest.approx(5 * 15 * env.dt)
    with pytest.raises(RuntimeError):
        env.step(KEEP)


# ------------------------------------------------------------------------------------------------------- render
def test_render_shape_dtype_and_colours():
    env = HighwayEnv(lanes=3)
    env.reset(options={"ego_lane": 1, "ego_speed": 10.0, "cars": [[0, 30.0, 10.0]]})
    img = env.render()
    assert img.dtype == np.uint8 and img.shape == (3 * 20 + 16, 480, 3)
    red = (img[..., 0] == 220) & (img[..., 1] == 30) & (img[..., 2] == 30)
    blue = (img[..., 0] == 60) & (img[..., 1] == 110) & (img[..., 2] == 230)
    ys, xs = np.nonzero(red)
    assert red.any() and 8 + 20 <= ys.min() and ys.max() < 8 + 40  # ego in the middle lane
    assert xs.mean() == pytest.approx(30 * 4, abs=1)  # 30 m of road behind, 4 px per metre
    ys, xs = np.nonzero(blue)
    assert blue.any() and ys.max() < 8 + 20 and xs.mean() == pytest.approx(60 * 4, abs=1)


# ---------------------------------------------------------------------------------------------------- baselines
def test_heuristic_beats_random_clearly():
    env = HighwayEnv(max_steps=150)
    random_mean = random_policy_return(env, episodes=4, seed=0)
    heuristic_mean = heuristic_policy_return(env, episodes=4, seed=0)
    # Driving at top speed for the whole episode would give 150; random driving crashes early.
    assert heuristic_mean > random_mean + 40, (heuristic_mean, random_mean)
    np.testing.assert_array_equal(evaluate(heuristic_action, env, 2, 0)["returns"],
                                  evaluate(heuristic_action, env, 2, 0)["returns"])


def test_heuristic_passes_a_slow_car_and_brakes_when_boxed_in():
    env = HighwayEnv(lanes=3)
    obs, _ = env.reset(options={"ego_lane": 1, "ego_speed": 25.0, "cars": [[1, 15.0, 10.0]]})
    assert heuristic_action(obs) in (LEFT, RIGHT)
    boxed = [[lane, 15.0, 10.0] for lane in range(3)]
    obs, _ = env.reset(options={"ego_lane": 1, "ego_speed": 25.0, "cars": boxed})
    assert heuristic_action(obs) == BRAKE
    obs, _ = env.reset(options={"ego_lane": 1, "ego_speed": 10.0, "cars": []})
    assert heuristic_action(obs) == ACCELERATE


# ------------------------------------------------------------------------------------------------------- errors
def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="lanes"):
        HighwayEnv(lanes=0)
    with pytest.raises(ValueError, match="length"):
        HighwayEnv(length=50.0, traffic_density=10.0)
    env = HighwayEnv()
    with pytest.raises(RuntimeError, match="reset"):
        env.step(KEEP)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(5)
    with pytest.raises(ValueError, match="cars"):
        env.reset(options={"cars": [[0, 1.0]]})
    with pytest.raises(ValueError, match="unknown options"):
        env.reset(options={"ego_lan": 0})
    with pytest.raises(ValueError, match="heuristic_action"):
        heuristic_action(np.zeros(3))


# ---------------------------------------------------------------------------------------------------- gymnasium
@pytest.mark.filterwarnings("ignore:.*not having a spec")  # we check a wrapped instance, not a registered id
def test_gymnasium_check_env_passes():
    gymnasium = pytest.importorskip("gymnasium")
    from gymnasium.utils.env_checker import check_env

    env = to_gymnasium(HighwayEnv(seed=0, render_mode="rgb_array", max_steps=50))
    assert isinstance(env, gymnasium.Env)
    assert isinstance(env.action_space, gymnasium.spaces.Discrete)
    check_env(env, skip_render_check=False)
    obs, _ = env.reset(seed=1)
    assert env.step(env.action_space.sample())[0] in env.observation_space
