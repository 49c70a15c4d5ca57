"""Tests of glassbox.automl: spaces, strategies' schedules against hand computations, the search driver and resume."""

import json
import math
import os

import numpy as np
import pytest

import glassbox as gb
from glassbox.automl import (
    Budget,
    Choice,
    Fixed,
    FloatRange,
    Hyperband,
    IntRange,
    OneOf,
    RandomSearch,
    RegularizedEvolution,
    Repeat,
    Search,
    Space,
    SuccessiveHalving,
    build_model,
    from_json,
    hyperband_brackets,
    image_classifier_space,
)
from glassbox.automl.strategies import Proposal


def flat_space():
    return Space(
        lr=FloatRange(1e-4, 1e-1, log=True),
        dropout=FloatRange(0.0, 0.5),
        width=IntRange(8, 64),
        depth=IntRange(1, 4, log=True),
        act=Choice(["relu", "tanh", "gelu"]),
        batch=Choice([32, 64]),
        seed=Fixed(3),
    )


def nested_space():
    return Space(
        layers=Repeat(OneOf(dense=Space(units=IntRange(4, 32)),
                            conv=Space(channels=Choice([4, 8]), kernel_size=Choice([3, 5]))), 1, 4),
        norm=Choice(["none", "batch", "layer"]),
        lr=FloatRange(1e-3, 1e-1, log=True),
    )


# A deterministic synthetic objective: score rises with the budget and depends on the config; no training.
CALLS = []


def synthetic_score(config, budget):
    return round(1.0 - 1.0 / (1 + budget) - abs(math.log10(config["lr"]) + 2) * 0.1 - abs(config["width"] - 40) / 400
                 + (0.05 if config["act"] == "gelu" else 0.0), 12)


def objective(config, budget, trial_dir):
    CALLS.append((json.dumps(config, sort_keys=True), budget))
    assert os.path.isdir(trial_dir)
    with open(os.path.join(trial_dir, "model.json"), "w") as f:
        json.dump(config, f)  # stands for the saved model
    return {"score": synthetic_score(config, budget), "epochs": budget}


class Interrupt(Exception):
    pass


FAIL_AT = {"n": None}


def failing_objective(config, budget, trial_dir):
    if FAIL_AT["n"] is not None and len(CALLS) >= FAIL_AT["n"]:
        raise Interrupt("simulated crash")
    return objective(config, budget, trial_dir)


# --- spaces ----------------------------------------------------------------------------------------------------------

def test_sampling_stays_inside_the_space_and_is_seeded():
    space = flat_space()
    a = [space.sample(np.random.default_rng(7)) for _ in range(3)]
    assert a[0] == a[1] == a[2]
    rng = np.random.default_rng(0)
    configs = [space.sample(rng) for _ in range(300)]
    assert len({json.dumps(c, sort_keys=True) for c in configs}) > 250  # really random
    for c in configs:
        space.validate(c)
        assert 1e-4 <= c["lr"] <= 1e-1 and 0 <= c["dropout"] <= 0.5
        assert isinstance(c["width"], int) and 8 <= c["width"] <= 64
        assert c["act"] in ("relu", "tanh", "gelu") and c["seed"] == 3
    assert {c["depth"] for c in configs} == {1, 2, 3, 4}  # log int range reaches both ends
    # log sampling: about half the learning rates fall below the geometric mean 10^-2.5
    frac = np.mean([c["lr"] < 10 ** -2.5 for c in configs])
    assert 0.4 < frac < 0.6
    nested = nested_space()
    for c in [nested.sample(rng) for _ in range(100)]:
        nested.validate(c)
        assert 1 <= len(c["layers"]) <= 4


def _leaf_diffs(a, b, path=""):
    """Paths where two configs differ; a changed list length or branch counts once."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.get("type") != b.get("type") and ("type" in a or "type" in b):
            return [path + ".type"]
        return [d for k in a for d in _leaf_diffs(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [path + ".<length>"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _leaf_diffs(x, y, f"{path}.{i}")]
    return [] if a == b else [path]


@pytest.mark.parametrize("make", [flat_space, nested_space])
def test_mutate_changes_exactly_one_parameter(make):
    space = make()
    rng = np.random.default_rng(1)
    changed = set()
    for _ in range(200):
        c = space.sample(rng)
        before = json.dumps(c, sort_keys=True)
        m = space.mutate(c, rng)
        assert json.dumps(c, sort_keys=True) == before  # the parent is not modified
        space.validate(m)
        diffs = _leaf_diffs(c, m)
        assert len(diffs) == 1, diffs
        changed.add(diffs[0].split(".")[1])
    assert "seed" not in changed  # Fixed never mutates
    assert changed >= ({"lr", "width", "act"} if make is flat_space else {"layers", "norm", "lr"})


def test_validation_errors_name_the_parameter():
    space = flat_space()
    c = space.sample(np.random.default_rng(0))
    with pytest.raises(ValueError, match="width"):
        space.validate({**c, "width": 100})
    with pytest.raises(ValueError, match="act"):
        space.validate({**c, "act": "swish"})
    with pytest.raises(ValueError, match="unknown keys"):
        space.validate({**c, "extra": 1})
    with pytest.raises(ValueError, match="low must be <= high"):
        IntRange(5, 1)
    with pytest.raises(ValueError, match="log=True"):
        FloatRange(0.0, 1.0, log=True)
    with pytest.raises(ValueError, match="non-empty"):
        Choice([])
    with pytest.raises(TypeError, match="IntRange"):
        IntRange(1.5, 3)


def test_json_round_trip():
    for space in (flat_space(), nested_space(), image_classifier_space()):
        text = space.dumps()
        again = Space.loads(text)
        assert again == space and again.dumps() == text
        assert from_json(json.loads(text)).sample(np.random.default_rng(4)) == space.sample(np.random.default_rng(4))
    with pytest.raises(ValueError, match="unknown kind"):
        from_json({"kind": "gaussian"})


# --- build_model -----------------------------------------------------------------------------------------------------

def test_build_model_dense_and_conv_forward_shapes():
    gb.manual_seed(0)
    x_img = gb.randn(5, 1, 8, 8)
    conv_cfg = {"layers": [{"type": "conv", "channels": 4, "kernel_size": 3},
                           {"type": "conv", "channels": 6, "kernel_size": 5, "norm": "layer"},
                           {"type": "dense", "units": 12}],
                "activation": "gelu", "norm": "batch", "dropout": 0.1}
    model = build_model(conv_cfg, (1, 8, 8), 10)
    assert model(x_img).shape == (5, 10)
    convs = [m for m in model.modules() if type(m).__name__ == "Conv2d"]
    assert [c.out_channels for c in convs] == [4, 6]
    # 8x8 -> pool 4x4 -> pool 2x2: the dense layer sees 6*2*2 inputs
    linears = [m for m in model.modules() if type(m).__name__ == "Linear"]
    assert [(m.in_features, m.out_features) for m in linears] == [(24, 12), (12, 10)]
    dense = build_model({"layers": [{"type": "dense", "units": 16}, {"type": "dense", "units": 8}]}, (20,), 3)
    assert dense(gb.randn(7, 20)).shape == (7, 3)
    # sampled configs of the ready-made space all build and run
    space = image_classifier_space()
    rng = np.random.default_rng(0)
    for _ in range(4):
        m = build_model(space.sample(rng), (1, 8, 8), 10)
        m.eval()
        assert m(x_img).shape == (5, 10)
    mlp = build_model(image_classifier_space(conv=False).sample(rng), (1, 8, 8), 10)
    assert mlp(x_img).shape == (5, 10)
    with pytest.raises(ValueError, match="conv layers first"):
        build_model({"layers": [{"type": "dense", "units": 4}, {"type": "conv", "channels": 2}]}, (1, 8, 8), 2)
    with pytest.raises(ValueError, match="activation"):
        build_model({"layers": [{"type": "dense", "units": 3}], "activation": "swish"}, (4,), 2)


# --- strategies ------------------------------------------------------------------------------------------------------

def drive(strategy, space, score_fn, seed=0):
    """Run a strategy synchronously (one trial at a time) and return its proposals in order."""
    strategy.bind(space, np.random.default_rng(seed))
    out = []
    while True:
        p = strategy.ask()
        if p is None:
            assert strategy.done
            return out
        out.append(p)
        strategy.tell(p, score_fn(p.config, p.budget))


def test_successive_halving_promotion_schedule_by_hand():
    # min 1, max 9, eta 3: 9 configs x 1 epoch, the best 3 x 3 epochs, the best 1 x 9 epochs.
    space = Space(x=FloatRange(0.0, 1.0))
    score = lambda c, b: c["x"] + 0.001 * b  # noqa: E731 - rank by x inside a rung
    props = drive(SuccessiveHalving(1, 9, 3), space, score)
    by_budget = {}
    for p in props:
        by_budget.setdefault(p.budget, []).append(p.config["x"])
    assert [(b, len(v)) for b, v in sorted(by_budget.items())] == [(1, 9), (3, 3), (9, 1)]
    assert [p.budget for p in props] == [1] * 9 + [3] * 3 + [9]  # synchronous rungs
    xs = by_budget[1]
    assert sorted(by_budget[3]) == sorted(xs)[-3:]  # the top third is promoted
    assert by_budget[9] == [max(xs)]
    # n_configs=20, eta=2, budgets 2..16: 20@2, 10@4, 5@8, 2@16 (floor(20/2^i))
    props = drive(SuccessiveHalving(2, 16, 2, n_configs=20), space, score)
    counts = {}
    for p in props:
        counts[p.budget] = counts.get(p.budget, 0) + 1
    assert counts == {2: 20, 4: 10, 8: 5, 16: 2}
    with pytest.raises(ValueError, match="eta"):
        SuccessiveHalving(1, 9, 1)


def test_hyperband_brackets_follow_the_formula():
    # R=81, eta=3 (Li et al., table 1): s_max=4, n_s = ceil(5/(s+1) * 3^s), r_s = 81 * 3^-s
    expected = [[(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)],
                [(34, 3), (11, 9), (3, 27), (1, 81)],
                [(15, 9), (5, 27), (1, 81)],
                [(8, 27), (2, 81)],
                [(5, 81)]]
    assert hyperband_brackets(1, 81, 3) == expected
    for s, bracket in zip(range(4, -1, -1), expected):
        n = math.ceil(5 / (s + 1) * 3 ** s)
        assert bracket == [(n // 3 ** i, 81 // 3 ** (s - i)) for i in range(s + 1)]
    # the strategy runs exactly those brackets, one after another
    space = Space(x=FloatRange(0.0, 1.0))
    props = drive(Hyperband(1, 9, 3), space, lambda c, b: c["x"])
    runs = {}
    for p in props:
        key = (p.meta["bracket"], p.meta["rung"])
        runs.setdefault(key, []).append(p.budget)
    got = [[(len(runs[(b, r)]), runs[(b, r)][0]) for r in range(3) if (b, r) in runs] for b in range(3)]
    assert got == hyperband_brackets(1, 9, 3) == [[(9, 1), (3, 3), (1, 9)], [(5, 3), (1, 9)], [(3, 9)]]


def test_regularized_evolution_keeps_population_and_removes_oldest():
    space = flat_space()
    evo = RegularizedEvolution(population=5, sample_size=3, epochs=2, cycles=12)
    evo.bind(space, np.random.default_rng(0))
    told = []
    for step in range(17):
        p = evo.ask()
        assert p is not None and p.budget == 2
        if step < 5:
            assert p.meta["parent"] is None
        else:
            parent = p.meta["parent"]
            # the parent is a current member, and the child differs from it in exactly one parameter
            assert parent in [m[2] for m in evo.population]
            parent_cfg = next(m[1] for m in evo.population if m[2] == parent)
            assert len(_leaf_diffs(parent_cfg, p.config)) == 1
        evo.tell(p, synthetic_score(p.config, 1))
        told.append(p.meta["index"])
        assert len(evo.population) == min(5, len(told))
        assert [m[2] for m in evo.population] == told[-5:]  # the oldest left, whatever its score
    assert evo.ask() is None and evo.done


def test_regularized_evolution_waits_for_results():
    evo = RegularizedEvolution(population=2, sample_size=2).bind(flat_space(), np.random.default_rng(0))
    a, b = evo.ask(), evo.ask()
    assert evo.ask() is None and not evo.done  # must wait for a score before a tournament
    evo.tell(a, 0.5)
    assert isinstance(evo.ask(), Proposal)
    assert b is not None


# --- the search driver -----------------------------------------------------------------------------------------------

def board(search):
    return [(t.id, json.dumps(t.config, sort_keys=True), t.budget, t.score) for t in search.leaderboard()]


def read_log(directory):
    with open(os.path.join(directory, "trials.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def test_search_logs_every_trial_and_ranks_results(tmp_path):
    CALLS.clear()
    s = Search(flat_space(), objective, SuccessiveHalving(1, 9, 3), directory=tmp_path, seed=1).run()
    assert len(CALLS) == 13 and s.calls == 13
    log = read_log(tmp_path)
    assert [r["status"] for r in log] == ["running", "done"] * 13
    done = [r for r in log if r["status"] == "done"]
    for r in done:
        assert set(r) >= {"config", "budget", "result", "seconds", "status"}
        assert r["result"]["score"] == synthetic_score(r["config"], r["budget"])
    scores = [t.score for t in s.leaderboard()]
    assert scores == sorted(scores, reverse=True) and s.best().score == max(r["result"]["score"] for r in done)
    assert os.path.exists(os.path.join(s.best().trial_dir, "model.json"))
    assert len(s.leaderboard(3)) == 3
    # same seed, same trials; another seed, other trials
    CALLS.clear()
    again = Search(flat_space(), objective, SuccessiveHalving(1, 9, 3), directory=tmp_path / "b", seed=1).run()
    assert board(again) == [(i, c, b, sc) for i, c, b, sc in board(s)]
    other = Search(flat_space(), objective, SuccessiveHalving(1, 9, 3), directory=tmp_path / "c", seed=2).run()
    assert board(other) != board(s)


@pytest.mark.parametrize("budget, n_trials", [(Budget(trials=7), 7), (Budget(epochs=10), 5), (Budget(seconds=0), 0)])
def test_budgets_stop_the_search(tmp_path, budget, n_trials):
    CALLS.clear()
    s = Search(flat_space(), objective, RandomSearch(epochs=2), budget=budget, directory=tmp_path).run()
    assert len(CALLS) == n_trials == len(s.trials)
    assert sum(t.budget for t in s.trials) == 2 * n_trials


def test_seconds_budget_stops_a_running_search(tmp_path):
    import time

    def slow(config, budget, trial_dir):
        time.sleep(0.05)
        return {"score": 0.0}

    t0 = time.perf_counter()
    s = Search(flat_space(), slow, RandomSearch(), budget=Budget(seconds=0.3), directory=tmp_path).run()
    assert 3 <= len(s.trials) <= 8 and time.perf_counter() - t0 < 1.0


def test_unbounded_endless_strategy_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="never stops"):
        Search(flat_space(), objective, RandomSearch(), directory=tmp_path)


@pytest.mark.parametrize("make_strategy", [lambda: SuccessiveHalving(1, 9, 3),
                                           lambda: RegularizedEvolution(population=4, sample_size=2, cycles=8)])
def test_resume_does_not_rerun_finished_trials(tmp_path, make_strategy):
    CALLS.clear()
    full = Search(flat_space(), objective, make_strategy(), directory=tmp_path / "full", seed=3).run()
    n_total = len(CALLS)
    # interrupted after k finished trials: the (k+1)-th call raises
    k = 5
    CALLS.clear()
    FAIL_AT["n"] = k
    try:
        with pytest.raises(Interrupt):
            Search(flat_space(), failing_objective, make_strategy(), directory=tmp_path / "cut", seed=3).run()
    finally:
        FAIL_AT["n"] = None
    assert len(CALLS) == k
    log = read_log(tmp_path / "cut")
    assert [r["status"] for r in log].count("done") == k and log[-1]["status"] == "error"
    CALLS.clear()
    resumed = Search(flat_space(), objective, make_strategy(), directory=tmp_path / "cut", seed=3).run()
    assert len(CALLS) == n_total - k == resumed.calls  # the k finished trials were not run again
    assert board(resumed) == board(full)
    # a third run on a finished directory runs nothing
    CALLS.clear()
    Search(flat_space(), objective, make_strategy(), directory=tmp_path / "cut", seed=3).run()
    assert CALLS == []


def test_resume_reruns_a_trial_that_was_running(tmp_path):
    CALLS.clear()
    full = Search(flat_space(), objective, RandomSearch(max_trials=4), directory=tmp_path / "full").run()
    d = tmp_path / "cut"
    Search(flat_space(), objective, RandomSearch(max_trials=4), budget=Budget(trials=2), directory=d).run()
    # simulate a process killed during trial 2: its "running" line and a torn half line are in the log
    rec = full.trials[2].to_json()
    rec.update(status="running", result=None)
    with open(d / "trials.jsonl", "a") as f:
        f.write(json.dumps(rec) + "\n" + '{"id": 3, "conf')
    CALLS.clear()
    resumed = Search(flat_space(), objective, RandomSearch(max_trials=4), directory=d).run()
    assert len(CALLS) == 2  # trials 2 (was running) and 3
    assert board(resumed) == board(full)


def test_resume_refuses_a_different_space(tmp_path):
    Search(flat_space(), objective, RandomSearch(max_trials=1), directory=tmp_path).run()
    with pytest.raises(ValueError, match="different space"):
        Search(nested_space(), objective, RandomSearch(max_trials=1), directory=tmp_path).run()


def test_failed_trials_are_recorded_with_on_error_record(tmp_path):
    def sometimes(config, budget, trial_dir):
        if config["act"] == "tanh":
            raise RuntimeError("diverged")
        return {"score": synthetic_score(config, budget)}

    s = Search(flat_space(), sometimes, RandomSearch(max_trials=12), directory=tmp_path, on_error="record").run()
    failed = [t for t in s.trials if t.status == "failed"]
    assert failed and all("diverged" in t.result["error"] for t in failed)
    assert all(t.status == "done" for t in s.leaderboard()) and len(s.leaderboard()) == 12 - len(failed)


def test_bad_objective_result_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="'score'"):
        Search(flat_space(), lambda c, b, d: {"acc": 1.0}, RandomSearch(max_trials=1), directory=tmp_path).run()


def test_mode_min_ranks_low_scores_first(tmp_path):
    s = Search(flat_space(), objective, RandomSearch(max_trials=6), directory=tmp_path, mode="min").run()
    scores = [t.score for t in s.leaderboard()]
    assert scores == sorted(scores) and s.best().score == min(scores)


def test_trials_are_seeded_per_trial(tmp_path):
    def draw(config, budget, trial_dir):
        return {"score": float(gb.rand(1).numpy()[0])}

    a = Search(flat_space(), draw, RandomSearch(max_trials=3), directory=tmp_path / "a", seed=5).run()
    b = Search(flat_space(), draw, RandomSearch(max_trials=3), directory=tmp_path / "b", seed=5).run()
    assert [t.score for t in a.trials] == [t.score for t in b.trials]
    assert len({t.score for t in a.trials}) == 3  # a different seed per trial


@pytest.mark.parametrize("make_strategy", [lambda: SuccessiveHalving(1, 3, 3, n_configs=6),
                                           lambda: RandomSearch(epochs=1, max_trials=6)])
def test_two_workers_give_the_same_results_as_one(tmp_path, make_strategy):
    one = Search(flat_space(), objective, make_strategy(), directory=tmp_path / "one", seed=4).run()
    two = Search(flat_space(), objective, make_strategy(), directory=tmp_path / "two", seed=4, workers=2).run()
    assert two.calls == len(one.trials)
    strip = lambda s: sorted((c, b, sc) for _, c, b, sc in board(s))  # noqa: E731
    assert strip(two) == strip(one)
    assert board(two) == board(one)  # and the same trial ids, since results are told in trial order


def test_workers_need_a_picklable_objective(tmp_path):
    with pytest.raises(TypeError, match="picklable"):
        Search(flat_space(), lambda c, b, d: {"score": 0.0}, RandomSearch(max_trials=2), directory=tmp_path, workers=2)
    with pytest.raises(ValueError, match="directory"):
        Search(flat_space(), objective, RandomSearch(max_trials=2))
