"""The cartpole-pg recipe: a tiny smoke run writes every file and metric, the saved agent reloads to the same
greedy returns, and (slow) the default run solves CartPole-v1."""

import csv
import json

import numpy as np
import pytest

from glassbox.recipes import cartpole_pg
from glassbox.recipes.common import RunConfig
from glassbox.rl import evaluate, make_env

METRIC_KEYS = {"eval_mean_return", "eval_std_return", "eval_min_return", "eval_episodes", "solved", "train_seconds",
               "eval_seconds", "episodes", "train_steps", "updates", "best_check_return", "best_check_episode",
               "budget_episodes", "seed"}


@pytest.fixture
def tiny(monkeypatch):
    pytest.importorskip("gymnasium")
    pytest.importorskip("pygame")  # render_mode="rgb_array" for frames.png
    monkeypatch.setattr(cartpole_pg, "CHECK_EVERY", 2)
    monkeypatch.setattr(cartpole_pg, "CHECK_EPISODES", 2)
    monkeypatch.setattr(cartpole_pg, "EVAL_EPISODES", 5)
    monkeypatch.setattr(cartpole_pg, "HIDDEN", 8)


def test_smoke_run_writes_every_file_and_metric_and_the_agent_reloads(tiny, tmp_path):
    metrics = cartpole_pg.run(RunConfig(epochs=10, seed=3, out=str(tmp_path), verbose=0))
    for name in ("metrics.json", "history.csv", "returns.png", "frames.png", "agent.safetensors"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert set(metrics) == METRIC_KEYS
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics
    # 10 episodes in batches of 4: updates after episodes 4, 8 and 10; checks after updates 2 and 3 (the last).
    assert metrics["episodes"] == 10 and metrics["updates"] == 3 and metrics["budget_episodes"] == 10
    assert metrics["best_check_episode"] in (8, 10)
    rows = list(csv.DictReader(open(tmp_path / "history.csv")))
    assert [int(r["episode"]) for r in rows] == list(range(1, 11))
    assert metrics["train_steps"] == sum(int(r["length"]) for r in rows)
    # CartPole pays 1 per step, so each episode's return is its length.
    assert all(float(r["return"]) == int(r["length"]) for r in rows)
    assert [r["episode"] for r in rows if r["policy_loss"]] == ["4", "8", "10"]
    assert [r["episode"] for r in rows if r["greedy_check"]] == ["8", "10"]
    assert max(float(r["greedy_check"]) for r in rows if r["greedy_check"]) == metrics["best_check_return"]
    assert 1 <= metrics["eval_min_return"] <= metrics["eval_mean_return"] <= 500
    assert metrics["solved"] == (metrics["eval_mean_return"] >= 475)

    # The saved agent reloads to the same greedy evaluation returns.
    agent = cartpole_pg.build_agent().load(tmp_path / "agent.safetensors")
    result = evaluate(agent, make_env("CartPole-v1"), episodes=cartpole_pg.EVAL_EPISODES, seed=cartpole_pg.EVAL_SEED)
    assert result["mean_return"] == metrics["eval_mean_return"]
    assert result["std_return"] == pytest.approx(metrics["eval_std_return"], abs=1e-12)
    # And a fresh, untrained agent is a different policy (so the reload is what made the returns equal).
    fresh = cartpole_pg.build_agent()
    obs = np.random.default_rng(0).normal(size=(64, 4))
    assert not np.array_equal(fresh.policy(fresh._obs(obs)).data, agent.policy(agent._obs(obs)).data)


def test_seeded_runs_repeat(tiny, tmp_path):
    first = cartpole_pg.run(RunConfig(epochs=4, seed=5, out=str(tmp_path / "a"), verbose=0))
    second = cartpole_pg.run(RunConfig(epochs=4, seed=5, out=str(tmp_path / "b"), verbose=0))
    drop = {"train_seconds", "eval_seconds"}
    assert {k: v for k, v in first.items() if k not in drop} == {k: v for k, v in second.items() if k not in drop}


@pytest.mark.slow
def test_default_run_solves_cartpole(tmp_path):
    pytest.importorskip("gymnasium")
    pytest.importorskip("pygame")
    metrics = cartpole_pg.run(RunConfig(seed=0, out=str(tmp_path), verbose=0))
    assert metrics["solved"] and metrics["eval_mean_return"] >= 475
    assert metrics["episodes"] <= cartpole_pg.DEFAULT_EPOCHS
