"""Optimizers: stepped side by side with torch.optim on one small MLP; state_dict format and round trip; errors."""

import numpy as np
import pytest

import glassbox as gb
import glassbox.nn.functional as F
import glassbox.optim as optim

STEPS = 50
SHAPES = [(16, 8), (16,), (4, 16), (4,), (3,)]  # w1, b1, w2, b2, and a parameter the loss never uses
CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.5)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.1, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.5, maximize=True)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.05, maximize=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1, initial_accumulator_value=0.5)),
    ("Adagrad", dict(lr=0.05, eps=1e-3, maximize=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=1e-3, centered=True)),
    ("RMSprop", dict(lr=1e-3, momentum=0.9)),
    ("RMSprop", dict(lr=1e-3, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.1)),
    ("RMSprop", dict(lr=1e-3, eps=1e-4, maximize=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=1e-2, amsgrad=True)),
    ("Adam", dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=1e-2, amsgrad=True, weight_decay=0.05, maximize=True)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=1e-2, amsgrad=True)),
    ("AdamW", dict(lr=1e-2, weight_decay=0.5, betas=(0.5, 0.9))),
    ("AdamW", dict(lr=1e-2, amsgrad=True, maximize=True)),
]
OPTIMIZERS = ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW"]


def config_id(config):
    name, kwargs = config
    return name + "".join(f"-{k}={v}" for k, v in kwargs.items())


def problem(seed=0):
    """Initial weights (nn.Linear's uniform init) and STEPS fixed batches of a 8 -> 16 -> 4 classification task."""
    rng = np.random.default_rng(seed)
    bounds = [1 / np.sqrt(8)] * 2 + [1 / np.sqrt(16)] * 2 + [1.0]
    init = [rng.uniform(-b, b, shape).astype(np.float32) for shape, b in zip(SHAPES, bounds)]
    batches = [(rng.standard_normal((16, 8)).astype(np.float32), rng.integers(0, 4, 16)) for _ in range(STEPS)]
    return init, batches


def gb_loss(params, x, y):
    w1, b1, w2, b2, _ = params
    return F.cross_entropy(F.linear(F.relu(F.linear(gb.tensor(x), w1, b1)), w2, b2), gb.tensor(y))


def torch_loss(torch, params, x, y):
    w1, b1, w2, b2, _ = params
    tf = torch.nn.functional
    return tf.cross_entropy(tf.linear(tf.relu(tf.linear(torch.tensor(x), w1, b1)), w2, b2), torch.tensor(y))


def groups(params, grouped):
    """All parameters in one group, or two groups where the second overrides lr (and weight_decay)."""
    if not grouped:
        return params
    return [{"params": params[:2]}, {"params": params[2:], "lr": 0.003, "weight_decay": 0.01}]


def assert_same_params(gb_params, torch_params, step):
    for i, (a, b) in enumerate(zip(gb_params, torch_params)):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-4, atol=1e-6,
                                   err_msg=f"parameter {i} after step {step}")


def train_side_by_side(torch, name, kwargs, grouped=False, steps=STEPS, schedule=None):
    """Train the same model with the same batches in both frameworks, comparing parameters after every step;
    `schedule` = (scheduler name, kwargs) also steps an lr scheduler after each optimizer step."""
    init, batches = problem()
    gb_params = [gb.tensor(a, requires_grad=True) for a in init]
    torch_params = [torch.tensor(a, requires_grad=True) for a in init]
    gb_opt = getattr(optim, name)(groups(gb_params, grouped), **kwargs)
    torch_opt = getattr(torch.optim, name)(groups(torch_params, grouped), **kwargs)
    if schedule is not None:
        gb_scheduler = getattr(optim.lr_scheduler, schedule[0])(gb_opt, **schedule[1])
        torch_scheduler = getattr(torch.optim.lr_scheduler, schedule[0])(torch_opt, **schedule[1])
    for step, (x, y) in enumerate(batches[:steps]):
        gb_opt.zero_grad()
        gb_loss(gb_params, x, y).backward()
        gb_opt.step()
        torch_opt.zero_grad()
        torch_loss(torch, torch_params, x, y).backward()
        torch_opt.step()
        assert_same_params(gb_params, torch_params, step)
        if schedule is not None:
            gb_scheduler.step()
            torch_scheduler.step()
    return gb_opt, torch_opt, gb_params


@pytest.mark.parametrize("config", CONFIGS, ids=config_id)
def test_matches_torch_step_by_step(torch, config):
    gb_opt, torch_opt, gb_params = train_side_by_side(torch, *config)
    assert np.array_equal(gb_params[4].data, problem()[0][4])  # its grad stayed None: never touched
    assert_same_state_dict(gb_opt.state_dict(), torch_opt.state_dict())


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_param_groups_match_torch(torch, name):
    kwargs = dict(lr=0.05, momentum=0.9) if name == "SGD" else {}
    gb_opt, torch_opt, _ = train_side_by_side(torch, name, kwargs, grouped=True, steps=20)
    assert [g["lr"] for g in gb_opt.param_groups] == [g["lr"] for g in torch_opt.param_groups]


@pytest.mark.parametrize("name, kwargs, schedule", [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True), ("OneCycleLR", dict(max_lr=0.5, total_steps=STEPS))),
    ("Adam", dict(lr=0.01), ("OneCycleLR", dict(max_lr=0.05, total_steps=STEPS, three_phase=True))),
    ("AdamW", dict(lr=0.01), ("CosineAnnealingLR", dict(T_max=20))),
    ("RMSprop", dict(lr=0.003, momentum=0.5), ("StepLR", dict(step_size=10, gamma=0.5))),
])  # fmt: skip
def test_training_with_a_schedule_matches_torch(torch, name, kwargs, schedule):
    """The scheduler changes lr (and momentum or beta1) between steps; the optimizers must read the new values."""
    train_side_by_side(torch, name, kwargs, grouped=True, schedule=schedule)


def assert_same_state_dict(ours, theirs):
    """Same per-parameter entries and values as torch's state_dict; every group key we keep is torch's, same value."""
    assert sorted(ours["state"]) == sorted(theirs["state"])
    for index, state in ours["state"].items():
        assert sorted(state) == sorted(theirs["state"][index])
        for key, value in state.items():
            assert isinstance(value, gb.Tensor)
            expected = theirs["state"][index][key].numpy()
            assert value.shape == expected.shape and value.dtype == expected.dtype, key
            np.testing.assert_allclose(value.data, expected, rtol=1e-4, atol=1e-6, err_msg=key)
    assert len(ours["param_groups"]) == len(theirs["param_groups"])
    for group, torch_group in zip(ours["param_groups"], theirs["param_groups"]):
        assert set(group) <= set(torch_group)
        assert {k: torch_group[k] for k in group} == group


# ----- step(closure), zero_grad, versions ---------------------------------------------------------------------------
def test_step_runs_the_closure_with_grad_enabled_and_returns_its_loss():
    w = gb.tensor([1.0, -2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)

    def closure():
        opt.zero_grad()
        assert gb.is_grad_enabled()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with gb.no_grad():
        loss = opt.step(closure)
    assert loss.item() == pytest.approx(5.0)
    np.testing.assert_allclose(w.data, [0.8, -1.6], rtol=1e-6)
    assert opt.step() is None


def test_zero_grad_sets_to_none_by_default_or_zeroes_in_place():
    w = gb.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    grad = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is grad and not grad.requires_grad
    np.testing.assert_array_equal(grad.data, [0.0, 0.0])
    (w * 3).sum().backward()  # accumulates onto the zeros
    np.testing.assert_array_equal(w.grad.data, [3.0, 3.0])
    opt.zero_grad()
    assert w.grad is None


def test_step_bumps_version_and_keeps_float32_params_and_state():
    w = gb.tensor(np.ones(3, np.float32), requires_grad=True)
    opt = optim.Adam([w], lr=np.float64(0.1), betas=(np.float64(0.9), 0.99), weight_decay=0.1, amsgrad=True)
    (w * w).sum().backward()
    version = w._version[0]
    opt.step()
    assert w._version[0] == version + 1
    assert w.data.dtype == np.float32
    assert all(v.dtype == np.float32 for v in opt.state[w].values())


def test_updated_parameter_invalidates_a_graph_that_saved_it():
    w = gb.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    stale = (w * w).sum()  # saved w before the update below
    opt.step()
    with pytest.raises(RuntimeError):
        stale.backward()


def test_a_gradient_of_the_wrong_shape_is_refused():
    w = gb.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"assigned grad has shape \(3,\), but the tensor has shape \(2, 3\)"):
        w.grad = gb.ones(3)
    with pytest.raises(RuntimeError, match="dtype"):
        w.grad = gb.ones(2, 3, dtype=gb.float64)
    w._grad = gb.ones(3)  # bypassing the check: the optimizer still refuses to broadcast it into an update
    with pytest.raises(RuntimeError, match=r"shape \(2, 3\) has a gradient of shape \(3,\)"):
        optim.SGD([w], lr=0.1).step()


def test_float64_params_stay_float64():
    w = gb.tensor(np.linspace(-1, 1, 5), requires_grad=True)
    assert w.dtype == np.float64
    opt = optim.RMSprop([w], lr=0.01, centered=True, momentum=0.9)
    for _ in range(3):
        opt.zero_grad()
        (w * w * w).sum().backward()
        opt.step()
    assert w.dtype == np.float64 and opt.state[w]["square_avg"].dtype == np.float64


# ----- state_dict ----------------------------------------------------------------------------------------------------
def train_steps(opt, params, batches):
    for x, y in batches:
        opt.zero_grad()
        gb_loss(params, x, y).backward()
        opt.step()


@pytest.mark.parametrize("config", [CONFIGS[i] for i in (2, 9, 14, 19, 23)], ids=config_id)
def test_state_dict_round_trip_continues_identically(config):
    name, kwargs = config
    init, batches = problem()
    params = [gb.tensor(a, requires_grad=True) for a in init]
    opt = getattr(optim, name)(groups(params, True), **kwargs)
    train_steps(opt, params, batches[:10])
    saved = opt.state_dict()
    copies = [gb.tensor(p.data.copy(), requires_grad=True) for p in params]
    fresh = getattr(optim, name)(groups(copies, True), lr=0.5)  # the loaded groups replace these hyper-parameters
    fresh.load_state_dict(saved)
    assert fresh.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    train_steps(opt, params, batches[10:20])
    train_steps(fresh, copies, batches[10:20])
    for a, b in zip(params, copies):
        np.testing.assert_array_equal(a.data, b.data)


def test_state_dict_is_a_deep_copy():
    init, batches = problem()
    params = [gb.tensor(a, requires_grad=True) for a in init]
    opt = optim.SGD(params, lr=0.1, momentum=0.9)
    train_steps(opt, params, batches[:3])
    saved = opt.state_dict()
    before = {i: s["momentum_buffer"].data.copy() for i, s in saved["state"].items()}
    train_steps(opt, params, batches[3:6])
    opt.param_groups[0]["lr"] = 1.0
    for i, s in saved["state"].items():
        np.testing.assert_array_equal(s["momentum_buffer"].data, before[i])
    assert saved["param_groups"][0]["lr"] == 0.1


def test_state_dict_format():
    w, b = gb.tensor(np.ones((2, 3), np.float32), requires_grad=True), gb.tensor([0.0, 0.0], requires_grad=True)
    unused = gb.tensor([1.0], requires_grad=True)
    opt = optim.Adam([{"params": [w]}, {"params": [unused, b], "lr": 0.1}])
    (w.sum() + b.sum()).backward()
    opt.step()
    sd = opt.state_dict()
    assert sorted(sd) == ["param_groups", "state"]
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1, 2]]
    assert sorted(sd["state"]) == [0, 2]  # the parameter without a gradient has no state yet
    assert sorted(sd["state"][0]) == ["exp_avg", "exp_avg_sq", "step"]
    assert sd["state"][0]["step"].shape == () and float(sd["state"][0]["step"]) == 1.0
    assert sd["param_groups"][1]["lr"] == 0.1 and sd["param_groups"][1]["betas"] == (0.9, 0.999)


def test_load_state_dict_casts_to_param_dtype_and_accepts_a_numeric_step():
    w = gb.tensor(np.zeros(3, np.float32), requires_grad=True)
    opt = optim.Adagrad([w])
    state = {"step": 4, "sum": gb.tensor(np.full(3, 2.0))}  # float64 sum, plain-number step
    opt.load_state_dict({"state": {0: state}, "param_groups": opt.state_dict()["param_groups"]})
    assert opt.state[w]["sum"].dtype == np.float32 and float(opt.state[w]["step"]) == 4.0
    assert state["sum"].dtype == np.float64  # the caller's dict is not touched


def test_load_state_dict_rejects_mismatched_groups():
    a, b, c = (gb.tensor([1.0], requires_grad=True) for _ in range(3))
    saved = optim.SGD([a, b], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).load_state_dict(saved)
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.SGD([a, b, c], lr=0.1).load_state_dict(saved)
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        optim.SGD([a, b], lr=0.1).load_state_dict({"state": {}})
    bad = {"state": {0: {"momentum_buffer": gb.zeros(5)}}, "param_groups": saved["param_groups"]}
    with pytest.raises(ValueError, match="shape"):
        optim.SGD([a, b], lr=0.1).load_state_dict(bad)


def test_adamw_stays_decoupled_after_loading_an_adam_state():
    w = gb.tensor([1.0], requires_grad=True)
    opt = optim.AdamW([w])
    opt.load_state_dict(optim.Adam([gb.tensor([1.0], requires_grad=True)]).state_dict())
    assert opt.param_groups[0]["decoupled_weight_decay"] is True


# ----- construction --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, kwargs, message", [
    ("SGD", dict(lr=-1), "Invalid learning rate: -1"),
    ("SGD", dict(momentum=-0.1), "Invalid momentum value: -0.1"),
    ("SGD", dict(weight_decay=-1), "Invalid weight_decay value"),
    ("SGD", dict(nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    ("SGD", dict(momentum=0.9, dampening=0.1, nesterov=True), "Nesterov"),
    ("Adam", dict(lr=-0.1), "Invalid learning rate: -0.1"),
    ("Adam", dict(betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    ("Adam", dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    ("AdamW", dict(eps=-1e-8), "Invalid epsilon value"),
    ("AdamW", dict(weight_decay=-0.01), "Invalid weight_decay value"),
    ("Adagrad", dict(lr_decay=-1), "Invalid lr_decay value"),
    ("Adagrad", dict(initial_accumulator_value=-1), "Invalid initial_accumulator_value value"),
    ("RMSprop", dict(alpha=-0.5), "Invalid alpha value"),
    ("RMSprop", dict(momentum=-1), "Invalid momentum value"),
])  # fmt: skip
def test_invalid_hyper_parameters_raise_value_error(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        getattr(optim, name)([gb.tensor([1.0], requires_grad=True)], **kwargs)


def test_invalid_params_raise():
    w = gb.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="iterable of Tensors"):
        optim.SGD(w, lr=0.1)
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        optim.SGD([np.ones(2)], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([w * 2], lr=0.1)
    with pytest.raises(ValueError, match="duplicate parameters"):
        optim.SGD([w, w], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD([{"params": {w}}], lr=0.1)


def test_add_param_group_fills_defaults_and_rejects_known_params():
    w, b = gb.tensor([1.0], requires_grad=True), gb.tensor([2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.01})
    assert opt.param_groups[1]["params"][0] is b
    assert opt.param_groups[1]["lr"] == 0.01 and opt.param_groups[1]["momentum"] == 0.9
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [w]})
    with pytest.raises(TypeError, match="must be a dict"):
        opt.add_param_group([b])


def test_a_required_hyper_parameter_must_be_given():
    from glassbox.optim.optimizer import required

    w = gb.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="required optimization parameter lr"):
        optim.Optimizer([w], {"lr": required})
    assert optim.Optimizer([{"params": [w], "lr": 0.5}], {"lr": required}).param_groups[0]["lr"] == 0.5
    with pytest.raises(NotImplementedError):
        w.grad = gb.ones(1)
        optim.Optimizer([w], {}).step()


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_defaults_and_repr_match_torch(torch, name):
    gb_opt = getattr(optim, name)([gb.tensor([1.0], requires_grad=True)])
    torch_opt = getattr(torch.optim, name)([torch.tensor([1.0], requires_grad=True)])
    assert {k: torch_opt.defaults[k] for k in gb_opt.defaults} == gb_opt.defaults
    # torch's repr lists device-related switches glassbox does not have; the rest must be line for line the same
    skipped = ("capturable", "differentiable", "foreach", "fused")
    torch_lines = [line for line in repr(torch_opt).splitlines() if line.strip().split(":")[0] not in skipped]
    assert repr(gb_opt).splitlines() == torch_lines
