"""Learning-rate schedules: the lr (and momentum) sequences equal torch's step by step; state_dict round trips."""

import math
import warnings

import numpy as np
import pytest

import glassbox as gb
import glassbox.optim as optim
from glassbox.optim import lr_scheduler

STEPS = 80
CONFIGS = [
    ("StepLR", dict(step_size=7, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[5, 10, 10, 30], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.95)),
    ("CosineAnnealingLR", dict(T_max=10)),
    ("CosineAnnealingLR", dict(T_max=25, eta_min=0.001)),
    ("LinearLR", dict()),
    ("LinearLR", dict(start_factor=0.25, end_factor=1.0, total_iters=20)),
    ("LinearLR", dict(start_factor=1.0, end_factor=0.1, total_iters=30)),
    ("LambdaLR", dict(lr_lambda=lambda epoch: 0.97**epoch)),
    ("LambdaLR", dict(lr_lambda=[lambda epoch: 1 / (1 + epoch), lambda epoch: epoch % 5])),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=STEPS)),
    ("OneCycleLR", dict(max_lr=[1.0, 0.5], total_steps=STEPS, three_phase=True, pct_start=0.25)),
    ("OneCycleLR", dict(max_lr=0.3, epochs=8, steps_per_epoch=10, anneal_strategy="linear", base_momentum=0.8,
                        max_momentum=[0.9, 0.99], div_factor=10.0, final_div_factor=100.0)),
    ("OneCycleLR", dict(max_lr=0.3, total_steps=STEPS, cycle_momentum=False)),
]
OPTIMIZERS = [("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=0.1))]


def config_id(config):
    name, kwargs = config
    return name + "".join(f"-{k}={v}" for k, v in kwargs.items() if k != "lr_lambda")


def make_optimizer(module, tensor, opt_config):
    """An optimizer over two groups (lr 0.1 and 0.05) of one-element parameters that never get gradients."""
    name, kwargs = opt_config
    groups = [{"params": [tensor([1.0], requires_grad=True)]},
              {"params": [tensor([2.0], requires_grad=True)], "lr": 0.05}]
    return getattr(module, name)(groups, **kwargs)


def record(opt, scheduler):
    """What a step leaves behind: the scheduler's last lrs, the groups' lrs, and the momentum or beta1 of each group."""
    momentum = [g["momentum"] if "momentum" in g else g["betas"][0] for g in opt.param_groups]
    return scheduler.get_last_lr(), [g["lr"] for g in opt.param_groups], momentum


def run(opt, scheduler, steps, metrics=None):
    history = [record(opt, scheduler)]
    for i in range(steps):
        opt.step()
        scheduler.step() if metrics is None else scheduler.step(metrics[i])
        history.append(record(opt, scheduler))
    return history


def assert_same_history(ours, theirs):
    assert len(ours) == len(theirs)
    for step, (a, b) in enumerate(zip(ours, theirs)):
        for x, y in zip(a, b):
            assert x == pytest.approx(y, rel=1e-12, abs=1e-15), f"step {step}: {a} != {b}"


@pytest.mark.parametrize("opt_config", OPTIMIZERS, ids=[c[0] for c in OPTIMIZERS])
@pytest.mark.parametrize("config", CONFIGS, ids=config_id)
def test_schedule_matches_torch(torch, config, opt_config):
    name, kwargs = config
    ours = run(*side(optim, gb.tensor, opt_config, name, kwargs), STEPS)
    theirs = run(*side(torch.optim, torch.tensor, opt_config, name, kwargs), STEPS)
    assert_same_history(ours, theirs)
    assert len({tuple(h[0]) for h in ours}) > 1  # the schedule did change the lr


def side(module, tensor, opt_config, name, kwargs):
    opt = make_optimizer(module, tensor, opt_config)
    return opt, getattr(module.lr_scheduler, name)(opt, **kwargs)


PLATEAU_CONFIGS = [
    dict(patience=2),
    dict(mode="max", factor=0.5, patience=1, threshold=0.05, threshold_mode="abs"),
    dict(factor=0.5, patience=0, cooldown=3, min_lr=[0.02, 0.01]),
    dict(factor=0.2, patience=1, threshold=0.1, min_lr=0.004, eps=1e-3),
]


@pytest.mark.parametrize("kwargs", PLATEAU_CONFIGS)
def test_reduce_lr_on_plateau_matches_torch(torch, kwargs):
    rng = np.random.default_rng(0)
    # a loss curve that falls, wobbles on plateaus and rises again: every branch of the rule gets exercised
    metrics = [2 * math.exp(-i / 10) + 0.05 * rng.standard_normal() + (0.02 * (i - 60) if i > 60 else 0.0)
               for i in range(STEPS)]
    ours = run(*side(optim, gb.tensor, OPTIMIZERS[0], "ReduceLROnPlateau", kwargs), STEPS,
               metrics=[gb.tensor(m) for m in metrics])  # a 0-d tensor is accepted like a number
    theirs = run(*side(torch.optim, torch.tensor, OPTIMIZERS[0], "ReduceLROnPlateau", kwargs), STEPS, metrics)
    assert_same_history(ours, theirs)
    assert ours[-1][1] != ours[0][1]


ROUND_TRIP = [CONFIGS[i] for i in (0, 1, 2, 3, 7, 11)] + [("ReduceLROnPlateau", PLATEAU_CONFIGS[2])]


@pytest.mark.parametrize("config", ROUND_TRIP, ids=config_id)
def test_state_dict_round_trip_continues_the_same_sequence(config):
    name, kwargs = config
    metrics = [1.0 / (1 + i % 13) for i in range(STEPS)] if name == "ReduceLROnPlateau" else None
    opt, scheduler = side(optim, gb.tensor, OPTIMIZERS[0], name, kwargs)
    run(opt, scheduler, 30, metrics)
    saved_opt, saved_scheduler = opt.state_dict(), scheduler.state_dict()
    assert "optimizer" not in saved_scheduler
    # torch's order: construct the new scheduler, then load the optimizer (lrs) and the scheduler (counters)
    fresh_opt, fresh_scheduler = side(optim, gb.tensor, OPTIMIZERS[0], name, kwargs)
    fresh_opt.load_state_dict(saved_opt)
    fresh_scheduler.load_state_dict(saved_scheduler)
    rest = None if metrics is None else metrics[30:]
    assert_same_history(run(fresh_opt, fresh_scheduler, 40, rest), run(opt, scheduler, 40, rest))


def test_scheduler_state_dict_is_a_copy():
    opt = make_optimizer(optim, gb.tensor, OPTIMIZERS[0])
    scheduler = lr_scheduler.MultiStepLR(opt, milestones=[2, 4])
    saved = scheduler.state_dict()
    scheduler.milestones[9] = 1
    opt.step()
    scheduler.step()
    assert saved["last_epoch"] == 0 and 9 not in saved["milestones"]


def test_multistep_milestones_survive_a_plain_dict_round_trip():
    """Checkpoint formats (JSON) turn the Counter of milestones into a plain dict; loading restores the Counter."""
    scheduler = lr_scheduler.MultiStepLR(make_optimizer(optim, gb.tensor, OPTIMIZERS[0]), milestones=[2, 4, 4])
    saved = scheduler.state_dict()
    saved["milestones"] = dict(saved["milestones"])
    fresh = lr_scheduler.MultiStepLR(make_optimizer(optim, gb.tensor, OPTIMIZERS[0]), milestones=[1])
    fresh.load_state_dict(saved)
    assert sorted(fresh.milestones.elements()) == [2, 4, 4]


class WarmUp:
    """A callable object: unlike a lambda, its attributes are saved in LambdaLR's state_dict."""

    def __init__(self, warmup):
        self.warmup = warmup

    def __call__(self, epoch):
        return min(1.0, (epoch + 1) / self.warmup)


def test_lambda_lr_state_dict_omits_functions_and_keeps_callable_objects():
    opt = make_optimizer(optim, gb.tensor, OPTIMIZERS[0])
    scheduler = lr_scheduler.LambdaLR(opt, [lambda epoch: 0.5, WarmUp(5)])
    saved = scheduler.state_dict()
    assert saved["lr_lambdas"] == [None, {"warmup": 5}]
    other = WarmUp(100)
    fresh = lr_scheduler.LambdaLR(make_optimizer(optim, gb.tensor, OPTIMIZERS[0]), [lambda epoch: 0.5, other])
    fresh.load_state_dict(saved)
    assert other.warmup == 5 and saved["lr_lambdas"] == [None, {"warmup": 5}]


def test_construction_records_initial_lr_and_takes_the_first_step():
    opt = make_optimizer(optim, gb.tensor, OPTIMIZERS[0])
    scheduler = lr_scheduler.LinearLR(opt, start_factor=0.5, total_iters=4)
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.05] == scheduler.base_lrs
    assert scheduler.last_epoch == 0 and scheduler.get_last_lr() == [0.05, 0.025]


def test_resuming_with_last_epoch_needs_initial_lr():
    opt = make_optimizer(optim, gb.tensor, OPTIMIZERS[0])
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(opt, step_size=3, last_epoch=5)


def test_warnings_match_torch_usage_rules():
    opt = make_optimizer(optim, gb.tensor, OPTIMIZERS[0])
    scheduler = lr_scheduler.StepLR(opt, step_size=3)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        scheduler.step()
    with pytest.warns(UserWarning, match="get_last_lr"):
        scheduler.get_lr()
    opt = make_optimizer(optim, gb.tensor, OPTIMIZERS[0])
    scheduler = lr_scheduler.StepLR(opt, step_size=3)
    opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scheduler.step()


def test_step_with_an_epoch_uses_the_closed_form(torch):
    ours = lr_scheduler.CosineAnnealingLR(make_optimizer(optim, gb.tensor, OPTIMIZERS[0]), T_max=10)
    theirs = torch.optim.lr_scheduler.CosineAnnealingLR(make_optimizer(torch.optim, torch.tensor, OPTIMIZERS[0]),
                                                        T_max=10)
    for scheduler in (ours, theirs):
        scheduler.optimizer.step()
        with pytest.warns(UserWarning, match="epoch parameter"):
            scheduler.step(7)
    assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12)


@pytest.mark.parametrize("name, kwargs, error, message", [
    ("OneCycleLR", dict(max_lr=0.1), ValueError, "total_steps OR"),
    ("OneCycleLR", dict(max_lr=0.1, total_steps=0), ValueError, "positive integer total_steps"),
    ("OneCycleLR", dict(max_lr=0.1, total_steps=10, pct_start=1), ValueError, "pct_start"),
    ("OneCycleLR", dict(max_lr=0.1, total_steps=10, anneal_strategy="exp"), ValueError, "anneal_strategy"),
    ("OneCycleLR", dict(max_lr=[0.1], total_steps=10), ValueError, "same length as optimizer.param_groups"),
    ("LinearLR", dict(start_factor=0), ValueError, "Starting multiplicative factor"),
    ("LinearLR", dict(end_factor=1.5), ValueError, "Ending multiplicative factor"),
    ("LambdaLR", dict(lr_lambda=[lambda e: 1.0]), ValueError, "Expected 2 lr_lambdas"),
    ("ReduceLROnPlateau", dict(factor=1.0), ValueError, "Factor should be < 1.0"),
    ("ReduceLROnPlateau", dict(mode="up"), ValueError, "mode up is unknown"),
    ("ReduceLROnPlateau", dict(threshold_mode="pct"), ValueError, "threshold mode pct is unknown"),
    ("ReduceLROnPlateau", dict(min_lr=[0.1]), ValueError, "expected 2 min_lrs"),
])  # fmt: skip
def test_invalid_arguments_raise(name, kwargs, error, message):
    with pytest.raises(error, match=message):
        getattr(lr_scheduler, name)(make_optimizer(optim, gb.tensor, OPTIMIZERS[0]), **kwargs)


def test_one_cycle_refuses_to_step_past_total_steps_and_optimizers_without_momentum():
    opt = make_optimizer(optim, gb.tensor, OPTIMIZERS[0])
    scheduler = lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=3)
    for _ in range(3):
        opt.step()
        scheduler.step()
    with pytest.raises(ValueError, match="Tried to step 4 times"):
        scheduler.step()
    with pytest.raises(ValueError, match="momentum or beta1"):
        lr_scheduler.OneCycleLR(make_optimizer(optim, gb.tensor, ("Adagrad", {})), max_lr=0.1, total_steps=3)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.StepLR(object(), step_size=2)
