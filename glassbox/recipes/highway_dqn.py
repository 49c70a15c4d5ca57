"""highway-dqn: a Double DQN learns to drive on our own HighwayEnv, judged against random and scripted drivers."""

import csv
import os
import time

import numpy as np

from ..random import manual_seed, numpy_generator
from ..rl import (
    DQNAgent,
    HighwayEnv,
    LinearSchedule,
    ReplayBuffer,
    build_q_network,
    evaluate,
    heuristic_action,
    mlp_spec,
    train_dqn,
)
from .common import RunConfig, prepare_output, write_metrics
from .rl_plots import plot_frame_strip, plot_returns

NAME = "highway-dqn"
DESCRIPTION = ("Double DQN driving on our own 3-lane HighwayEnv (returns, crash rate and speed against random and "
               "scripted drivers, a strip of frames)")
DEFAULT_EPOCHS = 40  # the budget in units of STEPS_PER_EPOCH environment steps (an episode is at most 200 steps)
STEPS_PER_EPOCH = 1000

# Knobs (module constants so that a test can shrink the run). The environment is HighwayEnv's defaults.
HIDDEN_SIZES = (64, 64)
GAMMA = 0.95  # measured at seed 0: 70.6 with the selected weights; 0.99 gave 62.5 (steadier, but slower)
LR = 1e-3
BATCH_SIZE = 64
BUFFER_CAPACITY = 50_000
LEARNING_STARTS = 1000  # random-ish steps collected before the first update (capped at a tenth of the budget)
TRAIN_EVERY = 1
TARGET_UPDATE = 500  # hard copy of the online weights every this many updates
EPSILON_START, EPSILON_END = 1.0, 0.05
EPSILON_FRACTION = 0.4  # epsilon reaches EPSILON_END after this fraction of the budget
EVAL_EPISODES = 30
EVAL_SEED = 100_000  # evaluation episode i starts from env.reset(seed=EVAL_SEED + i), the same for every policy
# DQN's greedy policy swings from one target update to the next, so the run keeps the weights that drove best on
# validation episodes (seeds disjoint from the evaluation ones) checked every VALIDATE_EVERY steps.
VALIDATE_EVERY = 2500
VALIDATION_EPISODES = 10
VALIDATION_SEED = 50_000
LOG_EVERY = 25  # with verbose, print one line every this many training episodes


class _Recorder:
    """Wraps an env for `evaluate`: forwards reset/step and records, per episode, whether it crashed and the
    ego speed (m/s) of every step, which the returns alone do not tell."""

    def __init__(self, env):
        self.env, self.action_space, self.observation_space = env, env.action_space, env.observation_space
        self.crashed, self.speeds = [], []

    def reset(self, seed=None, options=None):
        self.crashed.append(False)
        return self.env.reset(seed=seed, options=options)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.crashed[-1] = self.crashed[-1] or bool(info["crashed"])
        self.speeds.append(float(info["speed"]))
        return obs, reward, terminated, truncated, info


def drive(policy, env, episodes=None, seed=None):
    """Greedy episodes of `policy` (an agent or a callable obs -> action) on the seeds EVAL_SEED + i.
    Returns {'mean_return', 'std_return', 'crash_rate' (fraction of episodes that ended in a crash),
    'mean_speed' (m/s, over all steps)}."""
    episodes = EVAL_EPISODES if episodes is None else episodes
    recorder = _Recorder(env)
    result = evaluate(policy, recorder, episodes, EVAL_SEED if seed is None else seed)
    return {"mean_return": result["mean_return"], "std_return": result["std_return"],
            "crash_rate": float(np.mean(recorder.crashed)), "mean_speed": float(np.mean(recorder.speeds)),
            "mean_length": float(np.mean(result["lengths"]))}


def make_agent(env):
    """A fresh Double DQN agent with an MLP Q network: obs (batch, lanes + 13) -> Q values (batch, 5)."""
    spec = mlp_spec(env.obs_size, env.action_space.n, HIDDEN_SIZES)
    return DQNAgent(build_q_network(spec), env.action_space.n, gamma=GAMMA, lr=LR, target_update=TARGET_UPDATE,
                    double=True, network_spec=spec)


def film(agent, env, seed):
    """Frames (H, W, 3) uint8 of one greedy episode of `agent` from env.reset(seed=seed), one per step (frame i is
    the road after step i), so that the strip's step labels are true step numbers and the last frame (a crash, if
    any) is always shown."""
    obs, _ = env.reset(seed=seed)
    frames, done = [env.render()], False
    while not done:
        obs, _, terminated, truncated, _ = env.step(agent.greedy_action(obs))
        done = terminated or truncated
        frames.append(env.render())
    return frames


def run(config: RunConfig):
    out = prepare_output(config.out)
    manual_seed(config.seed)  # the Q network's initial weights
    rng = np.random.default_rng(numpy_generator().integers(2**63))  # exploration, replay, training episodes
    if config.data is not None:
        raise ValueError(f"{NAME}: --data is not used (the environment is HighwayEnv, generated on the fly)")
    env = HighwayEnv(seed=config.seed, render_mode="rgb_array")
    epochs = config.epochs or DEFAULT_EPOCHS
    total_steps = int(epochs) * STEPS_PER_EPOCH
    agent = make_agent(env)
    buffer = ReplayBuffer(BUFFER_CAPACITY, (env.obs_size,), rng=rng)
    epsilon = LinearSchedule(EPSILON_START, EPSILON_END, max(int(EPSILON_FRACTION * total_steps), 1))
    rows = []
    validation_env = HighwayEnv(seed=config.seed)  # its own env: train_dqn's env is mid-episode in a callback
    best = {"return": -np.inf, "step": 0, "weights": None, "checked": 0}

    def validate(step):
        score = evaluate(agent, validation_env, VALIDATION_EPISODES, VALIDATION_SEED)["mean_return"]
        best["checked"] = step
        if score > best["return"]:
            weights = {k: v.data.copy() for k, v in agent.q_network.state_dict().items()}
            best.update({"return": score, "step": step, "weights": weights})
        if config.verbose:
            print(f"{NAME} step {step}: validation return {score:.1f} (best {best['return']:.1f} at step "
                  f"{best['step']})")

    def log(step, logs):
        if step - best["checked"] >= VALIDATE_EVERY:
            validate(step)
        rows.append([logs["episode"], step, logs["return"], logs["length"], logs["epsilon"],
                     "" if logs["loss"] is None else logs["loss"]])
        if config.verbose and logs["episode"] % LOG_EVERY == 0:
            recent = np.mean([r[2] for r in rows[-LOG_EVERY:]])
            print(f"{NAME} step {step}/{total_steps}: episode {logs['episode']}, mean return of the last "
                  f"{LOG_EVERY} {recent:.1f}, epsilon {logs['epsilon']:.2f}")

    started = time.perf_counter()
    history = train_dqn(agent, env, total_steps, buffer, epsilon, batch_size=BATCH_SIZE,
                        learning_starts=min(LEARNING_STARTS, total_steps // 10), train_every=TRAIN_EVERY, rng=rng,
                        callback=log)
    validate(total_steps)
    seconds = time.perf_counter() - started
    final = drive(agent, env)  # the last weights, before the best ones replace them
    agent.q_network.load_state_dict(best["weights"])
    agent.sync_target()

    # Every policy drives the same seeded episodes; the random driver has its own seeded generator.
    trained = drive(agent, env)
    action_rng = np.random.default_rng(config.seed)
    random = drive(lambda obs: int(action_rng.integers(env.action_space.n)), env)
    scripted = drive(lambda obs: heuristic_action(obs, env.lanes), env)
    returns = history["episode_returns"]
    metrics = {"agent_mean_return": trained["mean_return"], "agent_std_return": trained["std_return"],
               "random_mean_return": random["mean_return"], "heuristic_mean_return": scripted["mean_return"],
               "agent_crash_rate": trained["crash_rate"], "random_crash_rate": random["crash_rate"],
               "heuristic_crash_rate": scripted["crash_rate"], "agent_mean_speed": trained["mean_speed"],
               "random_mean_speed": random["mean_speed"], "heuristic_mean_speed": scripted["mean_speed"],
               "agent_mean_length": trained["mean_length"], "max_steps": env.max_steps,
               "selected_step": best["step"], "validation_return": best["return"],
               "last_weights_mean_return": final["mean_return"], "last_weights_crash_rate": final["crash_rate"],
               "train_seconds": round(seconds, 3), "train_steps": total_steps, "train_episodes": len(returns),
               "updates": agent.updates, "eval_episodes": EVAL_EPISODES, "epochs": epochs,
               "final_train_return": float(np.mean(returns[-LOG_EVERY:])) if returns else float("nan")}
    if config.verbose:
        print(f"{NAME}: agent {trained['mean_return']:.1f} (crash rate {trained['crash_rate']:.2f}, "
              f"{trained['mean_speed']:.1f} m/s), random {random['mean_return']:.1f}, "
              f"heuristic {scripted['mean_return']:.1f}, {seconds:.0f} s of training")

    write_metrics(metrics, os.path.join(out, "metrics.json"))
    with open(os.path.join(out, "history.csv"), "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["episode", "step", "return", "length", "epsilon", "loss"])
        writer.writerows(rows)
    agent.save(os.path.join(out, "agent.safetensors"))
    plot_returns(returns, os.path.join(out, "returns.png"), title=f"{NAME}: training returns ({total_steps} steps)",
                 solved=None, references={"random (eval)": random["mean_return"],
                                          "heuristic (eval)": scripted["mean_return"],
                                          "trained agent (eval)": trained["mean_return"]})
    plot_frame_strip(film(agent, env, EVAL_SEED), os.path.join(out, "frames.png"),
                     title=f"{NAME}: the trained agent, evaluation episode 1 (red: ego car)")
    return metrics
