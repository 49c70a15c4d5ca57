"""The search driver: runs a strategy's trials (inline or in worker processes), logs them to JSONL, resumes a search.

Directory layout:
    directory/search.json      the space (JSON) and settings, checked when a search resumes
    directory/trials.jsonl     one JSON line per trial event: status "running" when it starts, then "done",
                               "failed" (objective raised, on_error="record") or "error" (objective raised,
                               on_error="raise": the trial is re-run on resume)
    directory/trials/0007/     trial_dir handed to the objective (save the model here)
"""

import json
import math
import multiprocessing
import os
import pickle
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from ..io.atomic import write_atomically
from .space import Space
from .strategies import Proposal, Strategy

_FINAL = ("done", "failed")


@dataclass(frozen=True)
class Budget:
    """Limits of a whole search; None means no limit. The search stops before starting a trial that would pass one.

    trials:  number of trials (a resumed search counts the trials of its log)
    epochs:  the sum of the trials' budgets in epochs (also counting the log)
    seconds: wall-clock seconds of this run() call; checked before each trial starts (running trials finish)
    """

    trials: int = None
    epochs: int = None
    seconds: float = None

    def __post_init__(self):
        for name in ("trials", "epochs", "seconds"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0):
                raise ValueError(f"Budget: {name} must be a non-negative number or None, got {v!r}")

    @property
    def unlimited(self):
        return self.trials is None and self.epochs is None and self.seconds is None


@dataclass
class Trial:
    """One trial of a search: what ran (config, budget epochs), how it went (status, result, seconds), where."""

    id: int
    config: dict
    budget: int
    status: str
    result: dict = None
    seconds: float = 0.0
    meta: dict = field(default_factory=dict)
    trial_dir: str = ""

    @property
    def score(self):
        """result["score"], or None for a trial without a result."""
        return None if not self.result else self.result.get("score")

    def to_json(self):
        return {"id": self.id, "config": self.config, "budget": self.budget, "status": self.status,
                "result": self.result, "seconds": self.seconds, "meta": self.meta, "trial_dir": self.trial_dir}


def _json_default(value):
    # NumPy scalars and arrays from an objective's result: log them as plain numbers/lists.
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"Search: objective result value {value!r} ({type(value).__name__}) is not JSON serialisable")


def _canonical(value):
    return json.loads(json.dumps(value, default=_json_default))


def _write_text(path, text):
    def write(tmp):
        with open(tmp, "w") as f:
            f.write(text)

    write_atomically(path, write)


def _run_trial(objective, config, budget, trial_dir, seed):
    """Run one trial (in this process or a worker): seed glassbox, call the objective, check its result, time it."""
    from .. import random as gb_random

    gb_random.manual_seed(seed)  # a trial's weights/dropout depend on (search seed, trial id), not on the worker
    start = time.perf_counter()
    result = objective(config, budget, trial_dir)
    seconds = time.perf_counter() - start
    if not isinstance(result, dict) or "score" not in result:
        raise ValueError(f"Search: the objective must return a dict with a 'score' key, got {result!r}")
    score = result["score"]
    if isinstance(score, bool) or not isinstance(score, (int, float, np.integer, np.floating)):
        raise ValueError(f"Search: the objective's score must be a number, got {score!r}")
    return _canonical(result), seconds


class Search:
    """Search `space` with `strategy`, calling `objective(config, budget_epochs, trial_dir) -> {"score": ...}`.

        search = Search(space, objective, Hyperband(1, 27), budget=Budget(seconds=600), directory="runs/nas",
                        workers=2, seed=0)
        search.run()
        best = search.best()          # Trial with .config, .score, .trial_dir (where the objective saved its model)

    score is maximised (mode="max", e.g. val_accuracy) or minimised (mode="min", e.g. val_loss).
    Reproducible: the strategy draws from a Generator seeded by `seed`; each trial runs after
    glassbox.random.manual_seed(a seed derived from `seed` and the trial id); results are handed to the strategy
    in trial order, so a seeded search with a deterministic objective gives the same trials for the same `workers`
    (and for any `workers` with RandomSearch, SuccessiveHalving and Hyperband, which do not depend on timing).
    Resumable: a new Search on the same directory replays the log; finished trials are not run again, a trial
    that was running (or raised) is run again.
    workers > 1 runs trials in worker processes (`mp_context`, default "spawn"): the objective must be picklable,
    i.e. a function defined at the top level of an importable module (not a lambda or a closure).
    on_error: "raise" (default) stops the search and re-raises; "record" logs the trial as failed (it counts as a
    score of -inf for the strategy) and goes on.
    """

    def __init__(self, space, objective, strategy, budget=None, directory=None, workers=1, seed=0,
                 mode="max", on_error="raise", mp_context="spawn"):
        if not isinstance(space, Space):
            raise TypeError(f"Search: space must be a glassbox.automl.Space, got {type(space).__name__}")
        if not callable(objective):
            raise TypeError(f"Search: objective must be callable, got {objective!r}")
        if not isinstance(strategy, Strategy):
            raise TypeError(f"Search: strategy must be a glassbox.automl Strategy, got {type(strategy).__name__}")
        budget = Budget() if budget is None else budget
        if not isinstance(budget, Budget):
            raise TypeError(f"Search: budget must be a Budget, got {type(budget).__name__}")
        if budget.unlimited and not strategy.finite:
            raise ValueError(f"Search: {type(strategy).__name__} never stops by itself: give "
                             f"budget=Budget(trials=..., epochs=... or seconds=...)")
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"Search: workers must be an int >= 1, got {workers!r}")
        if directory is None:
            raise ValueError("Search: give directory= (where trials.jsonl and the trial directories go)")
        if workers > 1:
            try:  # fail now with a clear message rather than once per trial inside the pool
                pickle.dumps(objective)
            except Exception as e:
                raise TypeError(f"Search: workers={workers} needs a picklable objective (a function defined at the "
                                f"top level of an importable module, not a lambda or closure): {e}") from None
        if mode not in ("max", "min"):
            raise ValueError(f"Search: mode must be 'max' or 'min', got {mode!r}")
        if on_error not in ("raise", "record"):
            raise ValueError(f"Search: on_error must be 'raise' or 'record', got {on_error!r}")
        self.space, self.objective, self.strategy, self.budget = space, objective, strategy, budget
        self.directory, self.workers, self.seed = os.fspath(directory), workers, int(seed)
        self.mode, self.on_error, self.mp_context = mode, on_error, mp_context
        self.log_path = os.path.join(self.directory, "trials.jsonl")
        self.trials = []  # finished trials (done or failed) of this search, in trial order
        self.calls = 0  # objective calls made by this Search object (replayed trials excluded)

    # --- the log ---------------------------------------------------------------------------------------------------
    def _prepare_directory(self):
        os.makedirs(os.path.join(self.directory, "trials"), exist_ok=True)
        meta_path = os.path.join(self.directory, "search.json")
        settings = {"space": self.space.to_json(), "seed": self.seed, "mode": self.mode,
                    "strategy": type(self.strategy).__name__}
        if os.path.exists(meta_path):
            with open(meta_path) as f:
                try:
                    old = json.load(f)
                except json.JSONDecodeError as e:
                    raise ValueError(f"Search: {meta_path} is not valid JSON ({e})") from None
            if json.dumps(old.get("space")) != json.dumps(settings["space"]):  # order-sensitive, like sampling
                raise ValueError(f"Search: {self.directory} holds a search over a different space; use a new "
                                 f"directory or the same space")
        else:
            text = json.dumps(settings, indent=1)
            _write_text(meta_path, text)

    def _read_log(self):
        """The latest record of each trial id in trials.jsonl (a torn last line from a crash is ignored)."""
        latest = {}
        if not os.path.exists(self.log_path):
            return latest
        with open(self.log_path) as f:
            lines = f.read().split("\n")
        for n, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                if n >= len(lines) - 2:  # the last line may be half written by a killed process
                    continue
                raise ValueError(f"Search: {self.log_path} line {n + 1} is not valid JSON") from None
            latest[int(rec["id"])] = rec
        return latest

    def _append(self, trial):
        # One write of one line, flushed and fsynced: a crash leaves whole lines and at most a torn last line.
        line = json.dumps(_canonical(trial.to_json()), sort_keys=True) + "\n"
        with open(self.log_path, "a") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    # --- running ---------------------------------------------------------------------------------------------------
    def _trial_seed(self, trial_id):
        return int(np.random.SeedSequence([self.seed, trial_id]).generate_state(1)[0])

    def _score_for_strategy(self, trial):
        score = trial.score if trial.status == "done" else None
        if score is None or (isinstance(score, float) and math.isnan(score)):
            return -math.inf
        return float(score) if self.mode == "max" else -float(score)

    def run(self):
        """Run the search until the strategy is done or the budget is spent; returns self.

        Proposals are asked while fewer than `workers` trials are in flight and their results are handed back in
        trial-id order, which makes a seeded search repeatable."""
        self._prepare_directory()
        logged = self._read_log()
        self.strategy.bind(self.space, np.random.default_rng(self.seed))
        self.trials, self.calls = [], 0
        started, epochs_used, t0 = 0, 0, time.perf_counter()
        pending = deque()  # (trial, proposal, future or None for a replayed trial)
        pool = None
        if self.workers > 1:
            ctx = multiprocessing.get_context(self.mp_context)
            pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx)
        try:
            stopped = False
            while True:
                while not stopped and len(pending) < self.workers:
                    proposal = self.strategy.ask()
                    if proposal is None:
                        stopped = self.strategy.done
                        break
                    if not isinstance(proposal, Proposal):
                        raise TypeError(f"Search: strategy.ask() must return a Proposal or None, got {proposal!r}")
                    if self._over_budget(started, epochs_used, proposal.budget, t0):
                        stopped = True
                        break
                    trial = self._start(started, proposal, logged, pool, pending)
                    started += 1
                    epochs_used += trial.budget
                if not pending:
                    if not stopped and not self.strategy.done:
                        raise RuntimeError(f"Search: {type(self.strategy).__name__}.ask() returned None with no "
                                           f"trial in flight: the strategy is stuck")
                    break
                trial, proposal, future = pending.popleft()
                if future is not None:
                    self._finish(trial, future)
                self.trials.append(trial)
                self.strategy.tell(proposal, self._score_for_strategy(trial))
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        return self

    def _over_budget(self, started, epochs_used, next_budget, t0):
        b = self.budget
        return ((b.trials is not None and started >= b.trials)
                or (b.epochs is not None and epochs_used + next_budget > b.epochs)
                or (b.seconds is not None and time.perf_counter() - t0 >= b.seconds))

    def _start(self, trial_id, proposal, logged, pool, pending):
        config = _canonical(proposal.config)
        trial_dir = os.path.join(self.directory, "trials", f"{trial_id:04d}")
        trial = Trial(trial_id, config, int(proposal.budget), "running", meta=_canonical(proposal.meta),
                      trial_dir=trial_dir)
        old = logged.get(trial_id)
        if (old is not None and old.get("status") in _FINAL and old.get("config") == config
                and old.get("budget") == trial.budget):
            # Finished in an earlier run with the same proposal: replay its result, do not call the objective.
            trial.status, trial.result, trial.seconds = old["status"], old.get("result"), old.get("seconds", 0.0)
            pending.append((trial, proposal, None))
            return trial
        os.makedirs(trial_dir, exist_ok=True)
        self._append(trial)
        self.calls += 1
        args = (self.objective, config, trial.budget, trial_dir, self._trial_seed(trial_id))
        if pool is None:
            future = _Immediate(_run_trial, *args)
        else:
            future = pool.submit(_run_trial, *args)
        pending.append((trial, proposal, future))
        return trial

    def _finish(self, trial, future):
        try:
            trial.result, trial.seconds = future.result()
            trial.status = "done"
        except Exception as e:  # the objective failed (KeyboardInterrupt and the like propagate untouched)
            trial.result = {"error": f"{type(e).__name__}: {e}"}
            if self.on_error == "raise":
                trial.status = "error"
                self._append(trial)
                raise
            trial.status = "failed"
        self._append(trial)

    # --- results ---------------------------------------------------------------------------------------------------
    def leaderboard(self, k=None):
        """Finished trials with a score, best first (ties: larger budget, then earlier trial); the top k if given."""
        sign = -1.0 if self.mode == "max" else 1.0
        scored = [t for t in self.trials if t.status == "done" and t.score is not None
                  and not (isinstance(t.score, float) and math.isnan(t.score))]
        ranked = sorted(scored, key=lambda t: (sign * t.score, -t.budget, t.id))
        return ranked if k is None else ranked[:k]

    def best(self):
        """The best finished trial (see leaderboard); raises RuntimeError when no trial has a score yet."""
        board = self.leaderboard(1)
        if not board:
            raise RuntimeError("Search.best: no finished trial with a score yet (call run() first)")
        return board[0]

    def save_summary(self, path=None):
        """Write the leaderboard as JSON (default directory/leaderboard.json); returns the path."""
        path = path or os.path.join(self.directory, "leaderboard.json")
        text = json.dumps([t.to_json() for t in self.leaderboard()], indent=1, sort_keys=True)
        _write_text(path, text)
        return path


class _Immediate:
    """A finished 'future' for inline trials (workers=1): the call happens now, result() returns or raises."""

    def __init__(self, fn, *args):
        try:
            self._value, self._error = fn(*args), None
        except Exception as e:
            self._value, self._error = None, e

    def result(self):
        if self._error is not None:
            raise self._error
        return self._value
