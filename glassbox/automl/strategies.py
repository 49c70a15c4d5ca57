"""Search strategies: propose (config, budget-in-epochs) trials and learn from their scores (higher is better).

Protocol (what Search calls):
    strategy.bind(space, rng)    reset the state; rng is a NumPy Generator owned by the search
    strategy.ask() -> Proposal   the next trial, or None when it must wait for results of trials in flight
    strategy.tell(proposal, score)  the score of a finished trial (a failed trial is told -inf)
    strategy.done                True when the strategy has nothing more to propose
    strategy.finite              False for strategies that never finish by themselves (they need a Search budget)
"""

import math
from collections import deque
from dataclasses import dataclass, field


@dataclass
class Proposal:
    """One trial to run: a config, a budget in epochs, and bookkeeping (bracket, rung ...) for the strategy."""

    config: dict
    budget: int
    meta: dict = field(default_factory=dict)


def _check_budget(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int (epochs), got {value!r}")


class Strategy:
    """Base class; see the module docstring for the protocol."""

    finite = True

    def bind(self, space, rng):
        self.space, self.rng = space, rng
        self.reset()
        return self

    def reset(self):
        pass

    @property
    def done(self):
        return False

    def ask(self):
        raise NotImplementedError

    def tell(self, proposal, score):
        pass


class RandomSearch(Strategy):
    """Independent random configs, each trained for `epochs`; stops after `max_trials` (None: the Search budget)."""

    def __init__(self, epochs=1, max_trials=None):
        _check_budget("RandomSearch: epochs", epochs)
        if max_trials is not None:
            _check_budget("RandomSearch: max_trials", max_trials)
        self.epochs, self.max_trials = epochs, max_trials
        self.finite = max_trials is not None

    def reset(self):
        self.asked = 0

    @property
    def done(self):
        return self.max_trials is not None and self.asked >= self.max_trials

    def ask(self):
        if self.done:
            return None
        self.asked += 1
        return Proposal(self.space.sample(self.rng), self.epochs, {"index": self.asked - 1})


def rung_schedule(n, min_budget, eta, rungs):
    """[(configs, budget), ...] of successive halving: n configs at min_budget, then n//eta at eta*min_budget, ...

    (n_i, r_i) = (floor(n / eta^i), min_budget * eta^i) for i = 0 .. rungs-1 (budgets rounded to whole epochs)."""
    # Integer division repeated is floor(n / eta^i) exactly and avoids float round-off in eta**-i.
    out, count = [], n
    for i in range(rungs):
        out.append((count, max(1, int(round(min_budget * eta ** i)))))
        count //= eta
    return out


class _Bracket:
    """One run of successive halving: rung by rung, each rung's top 1/eta is promoted to the next budget."""

    def __init__(self, index, schedule, eta, space, rng):
        self.index, self.schedule, self.eta = index, schedule, eta
        self.rung = 0
        self.queue = deque(space.sample(rng) for _ in range(schedule[0][0]))  # configs still to ask in this rung
        self.results = []  # (score, position, config) of the current rung
        self.asked_in_rung = 0

    @property
    def done(self):
        return self.rung >= len(self.schedule)

    def ask(self):
        if self.done or not self.queue:
            return None
        config = self.queue.popleft()
        pos = self.asked_in_rung
        self.asked_in_rung += 1
        budget = self.schedule[self.rung][1]
        return Proposal(config, budget, {"bracket": self.index, "rung": self.rung, "position": pos})

    def tell(self, proposal, score):
        self.results.append((score, proposal.meta["position"], proposal.config))
        n_rung = self.schedule[self.rung][0]
        if len(self.results) < n_rung:
            return
        # Rung complete: promote the best floor(n/eta); ties go to the earlier position (a stable, seed-free rule).
        self.rung += 1
        if self.rung < len(self.schedule):
            keep = self.schedule[self.rung][0]
            ranked = sorted(self.results, key=lambda r: (-_finite(r[0]), r[1]))
            self.queue = deque(r[2] for r in ranked[:keep])
        self.results, self.asked_in_rung = [], 0


def _finite(score):
    return -math.inf if score is None or (isinstance(score, float) and math.isnan(score)) else score


def _num_rungs(min_budget, max_budget, eta):
    # s = floor(log_eta(max/min)); the epsilon keeps exact powers (9/1 with eta 3) from flooring to one less.
    return int(math.floor(math.log(max_budget / min_budget) / math.log(eta) + 1e-9)) + 1


class SuccessiveHalving(Strategy):
    """Successive halving (Jamieson & Talwalkar): n configs at min_budget, the best 1/eta go on at eta x budget...

    rungs = floor(log_eta(max_budget / min_budget)) + 1; rung i trains floor(n / eta^i) configs for
    max_budget * eta^(i - rungs + 1) epochs (rounded); n_configs defaults to eta^(rungs-1), so the last rung trains
    one config at max_budget. Rungs are synchronous: rung i+1
    starts when every trial of rung i has a score, so results do not depend on the number of workers.
    """

    def __init__(self, min_budget=1, max_budget=9, eta=3, n_configs=None):
        _check_budget("SuccessiveHalving: min_budget", min_budget)
        _check_budget("SuccessiveHalving: max_budget", max_budget)
        if max_budget < min_budget:
            raise ValueError(f"SuccessiveHalving: max_budget must be >= min_budget, got {max_budget} < {min_budget}")
        if isinstance(eta, bool) or not isinstance(eta, int) or eta < 2:
            raise ValueError(f"SuccessiveHalving: eta must be an int >= 2, got {eta!r}")
        self.min_budget, self.max_budget, self.eta = min_budget, max_budget, eta
        rungs = _num_rungs(min_budget, max_budget, eta)
        n = eta ** (rungs - 1) if n_configs is None else n_configs
        _check_budget("SuccessiveHalving: n_configs", n)
        # Budgets count down from max_budget (as in Hyperband) so that the last rung trains for max_budget exactly.
        self.schedule = rung_schedule(n, max_budget / eta ** (rungs - 1), eta, rungs)
        while self.schedule and self.schedule[-1][0] == 0:  # too few configs to fill the last rungs
            self.schedule.pop()

    def reset(self):
        self.bracket = _Bracket(0, self.schedule, self.eta, self.space, self.rng)

    @property
    def done(self):
        return self.bracket.done

    def ask(self):
        return self.bracket.ask()

    def tell(self, proposal, score):
        self.bracket.tell(proposal, score)


def hyperband_brackets(min_budget, max_budget, eta):
    """The brackets of Hyperband (Li et al.) as lists of (configs, budget) rungs, most exploratory first.

    s_max = floor(log_eta(R / min_budget)) with R = max_budget; bracket s = s_max .. 0 starts
    n = ceil((s_max + 1) / (s + 1) * eta^s) configs at r = R * eta^-s, then successive halving with s + 1 rungs."""
    s_max = _num_rungs(min_budget, max_budget, eta) - 1
    brackets = []
    for s in range(s_max, -1, -1):
        # (s_max + 1) * eta^s / (s + 1) in integers: exact ceil without float error
        n = -(-(s_max + 1) * eta ** s // (s + 1))
        r = max_budget / eta ** s
        brackets.append(rung_schedule(n, r, eta, s + 1))
    return brackets


class Hyperband(Strategy):
    """Hyperband: successive halving brackets from many configs at min_budget to few at max_budget, in turn.

    `iterations` repeats the whole set of brackets (with new configs). Brackets run one after another."""

    def __init__(self, min_budget=1, max_budget=27, eta=3, iterations=1):
        SuccessiveHalving(min_budget, max_budget, eta)  # same argument checks
        _check_budget("Hyperband: iterations", iterations)
        self.min_budget, self.max_budget, self.eta, self.iterations = min_budget, max_budget, eta, iterations
        self.brackets = hyperband_brackets(min_budget, max_budget, eta)

    def reset(self):
        self.index = 0  # over iterations * len(brackets)
        self.current = self._new_bracket()

    def _new_bracket(self):
        if self.index >= self.iterations * len(self.brackets):
            return None
        return _Bracket(self.index, self.brackets[self.index % len(self.brackets)], self.eta, self.space, self.rng)

    @property
    def done(self):
        return self.current is None

    def ask(self):
        if self.current is None:
            return None
        proposal = self.current.ask()
        return proposal

    def tell(self, proposal, score):
        if self.current is None or proposal.meta.get("bracket") != self.current.index:
            raise ValueError(f"Hyperband.tell: result for bracket {proposal.meta.get('bracket')} but the current "
                             f"bracket is {None if self.current is None else self.current.index}")
        self.current.tell(proposal, score)
        if self.current.done:
            self.index += 1
            self.current = self._new_bracket()


class RegularizedEvolution(Strategy):
    """Regularized (aging) evolution, Real et al. 2019.

    The first `population` trials are random configs. Then each trial: draw `sample_size` members of the current
    population at random (without replacement), mutate the best one's config (space.mutate: one parameter), and
    train the child for `epochs`. When a child's score arrives it joins the population and the OLDEST member
    leaves (not the worst): age-based removal is the regularisation. `cycles` caps the number of children.
    """

    def __init__(self, population=20, sample_size=5, epochs=1, cycles=None):
        _check_budget("RegularizedEvolution: population", population)
        _check_budget("RegularizedEvolution: sample_size", sample_size)
        _check_budget("RegularizedEvolution: epochs", epochs)
        if sample_size > population:
            raise ValueError(f"RegularizedEvolution: sample_size must be <= population, got {sample_size} > "
                             f"{population}")
        if cycles is not None:
            _check_budget("RegularizedEvolution: cycles", cycles)
        self.population_size, self.sample_size, self.epochs, self.cycles = population, sample_size, epochs, cycles
        self.finite = cycles is not None

    def reset(self):
        self.population = deque()  # (score, config, proposal index), oldest on the left
        self.history = []  # every told (score, config, index), in order
        self.asked = 0

    @property
    def done(self):
        return self.cycles is not None and self.asked >= self.population_size + self.cycles

    def ask(self):
        if self.done:
            return None
        index = self.asked
        if index < self.population_size:
            self.asked += 1
            return Proposal(self.space.sample(self.rng), self.epochs, {"index": index, "parent": None})
        if not self.population:
            return None  # the initial population is still training: wait for a result
        k = min(self.sample_size, len(self.population))
        picks = self.rng.choice(len(self.population), size=k, replace=False)
        # Best of the tournament; ties go to the lower pick index so the choice is seed-determined.
        parent = max((self.population[int(i)] for i in picks), key=lambda m: (_finite(m[0]), -m[2]))
        self.asked += 1
        child = self.space.mutate(parent[1], self.rng)
        return Proposal(child, self.epochs, {"index": index, "parent": parent[2]})

    def tell(self, proposal, score):
        member = (_finite(score), proposal.config, proposal.meta["index"])
        self.history.append(member)
        self.population.append(member)
        if len(self.population) > self.population_size:
            self.population.popleft()  # remove the oldest

    def best(self):
        """(score, config, index) of the best member ever seen."""
        return max(self.history, key=lambda m: m[0]) if self.history else None
