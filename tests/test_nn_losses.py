"""Loss modules against PyTorch's: every module, reduction and option (class-index and probability targets, weight,
ignore_index, label_smoothing, pos_weight, beta, delta, log_target) gives the same loss (float32, atol 1e-5 rtol
1e-4) and the same input gradient (atol 1e-4 rtol 1e-3); weight buffers appear in state_dict as in torch; targets
that would broadcast silently raise ShapeError."""

import warnings
from dataclasses import dataclass

import numpy as np
import pytest

import glassbox as gb
import glassbox.nn as gnn

torch = pytest.importorskip("torch")

FORWARD_TOL = dict(atol=1e-5, rtol=1e-4)
GRAD_TOL = dict(atol=1e-4, rtol=1e-3)
REDUCTIONS = ["mean", "sum", "none"]


def _rng(seed=0):
    return np.random.default_rng(seed)


def _normal(*shape, seed=0):
    return _rng(seed).standard_normal(shape).astype(np.float32)


def _probabilities(*shape, seed=1, axis=1):
    e = np.exp(_rng(seed).standard_normal(shape))
    return (e / e.sum(axis=axis, keepdims=True)).astype(np.float32)


def _log_probabilities(*shape, seed=0):
    return np.log(_probabilities(*shape, seed=seed, axis=-1))


def _classes(num_classes, *shape, seed=2, ignore=None):
    target = _rng(seed).integers(0, num_classes, shape)
    if ignore is not None:
        target.reshape(-1)[::3] = ignore
    return target


def _uniform(*shape, low=0.0, high=1.0, seed=3):
    return _rng(seed).uniform(low, high, shape).astype(np.float32)


@dataclass
class LossCase:
    """make(nn, t) builds the loss in either library (t converts a NumPy array to that library's tensor)."""

    id: str
    make: object
    input: np.ndarray
    target: np.ndarray
    target_grad: bool = False  # also compare the gradient with respect to a float target


def _cases():
    cases = []
    for r in REDUCTIONS:
        cases += [
            LossCase(f"MSELoss[{r}]", lambda nn, t, r=r: nn.MSELoss(reduction=r), _normal(3, 4), _normal(3, 4, seed=1),
                     target_grad=True),
            LossCase(f"L1Loss[{r}]", lambda nn, t, r=r: nn.L1Loss(reduction=r), _normal(3, 4), _normal(3, 4, seed=1),
                     target_grad=True),
            LossCase(f"SmoothL1Loss[{r}]", lambda nn, t, r=r: nn.SmoothL1Loss(reduction=r), _normal(3, 4) * 2,
                     _normal(3, 4, seed=1), target_grad=True),
            LossCase(f"SmoothL1Loss[beta=0.3,{r}]", lambda nn, t, r=r: nn.SmoothL1Loss(reduction=r, beta=0.3),
                     _normal(5, 2), _normal(5, 2, seed=1)),
            LossCase(f"SmoothL1Loss[beta=0,{r}]", lambda nn, t, r=r: nn.SmoothL1Loss(reduction=r, beta=0.0),
                     _normal(5, 2), _normal(5, 2, seed=1)),
            LossCase(f"HuberLoss[{r}]", lambda nn, t, r=r: nn.HuberLoss(reduction=r), _normal(3, 4) * 2,
                     _normal(3, 4, seed=1), target_grad=True),
            LossCase(f"HuberLoss[delta=2.5,{r}]", lambda nn, t, r=r: nn.HuberLoss(reduction=r, delta=2.5),
                     _normal(3, 4) * 3, _normal(3, 4, seed=1)),
            LossCase(f"CrossEntropyLoss[{r}]", lambda nn, t, r=r: nn.CrossEntropyLoss(reduction=r), _normal(6, 5),
                     _classes(5, 6)),
            LossCase(f"CrossEntropyLoss[spatial,{r}]", lambda nn, t, r=r: nn.CrossEntropyLoss(reduction=r),
                     _normal(2, 4, 3, 2), _classes(4, 2, 3, 2)),
            LossCase(f"CrossEntropyLoss[weight,{r}]",
                     lambda nn, t, r=r: nn.CrossEntropyLoss(weight=t(_uniform(5, low=0.2, high=2)), reduction=r),
                     _normal(6, 5), _classes(5, 6)),
            LossCase(f"CrossEntropyLoss[ignore_index,{r}]",
                     lambda nn, t, r=r: nn.CrossEntropyLoss(ignore_index=3, reduction=r), _normal(6, 5),
                     _classes(5, 6, ignore=3)),
            LossCase(f"CrossEntropyLoss[label_smoothing,{r}]",
                     lambda nn, t, r=r: nn.CrossEntropyLoss(reduction=r, label_smoothing=0.1), _normal(6, 5),
                     _classes(5, 6)),
            LossCase(f"CrossEntropyLoss[weight,ignore_index,label_smoothing,{r}]",
                     lambda nn, t, r=r: nn.CrossEntropyLoss(weight=t(_uniform(5, low=0.2, high=2)), ignore_index=-1,
                                                            reduction=r, label_smoothing=0.2),
                     _normal(2, 5, 3), _classes(5, 2, 3, ignore=-1)),
            LossCase(f"CrossEntropyLoss[probabilities,{r}]", lambda nn, t, r=r: nn.CrossEntropyLoss(reduction=r),
                     _normal(6, 5), _probabilities(6, 5)),
            LossCase(f"CrossEntropyLoss[probabilities,weight,label_smoothing,{r}]",
                     lambda nn, t, r=r: nn.CrossEntropyLoss(weight=t(_uniform(4, low=0.2, high=2)), reduction=r,
                                                            label_smoothing=0.15),
                     _normal(2, 4, 3), _probabilities(2, 4, 3)),
            LossCase(f"NLLLoss[{r}]", lambda nn, t, r=r: nn.NLLLoss(reduction=r), _log_probabilities(6, 5),
                     _classes(5, 6)),
            LossCase(f"NLLLoss[weight,ignore_index,{r}]",
                     lambda nn, t, r=r: nn.NLLLoss(weight=t(_uniform(5, low=0.2, high=2)), ignore_index=0,
                                                   reduction=r),
                     _normal(2, 5, 4), _classes(5, 2, 4, ignore=0)),
            LossCase(f"BCELoss[{r}]", lambda nn, t, r=r: nn.BCELoss(reduction=r), _uniform(3, 4, low=0.05, high=0.95),
                     _uniform(3, 4, seed=4), target_grad=True),
            LossCase(f"BCELoss[weight,{r}]", lambda nn, t, r=r: nn.BCELoss(weight=t(_uniform(4, high=2)), reduction=r),
                     _uniform(3, 4, low=0.05, high=0.95), (_uniform(3, 4, seed=4) > 0.5).astype(np.float32)),
            LossCase(f"BCEWithLogitsLoss[{r}]", lambda nn, t, r=r: nn.BCEWithLogitsLoss(reduction=r),
                     _normal(3, 4) * 3, _uniform(3, 4, seed=4), target_grad=True),
            LossCase(f"BCEWithLogitsLoss[weight,pos_weight,{r}]",
                     lambda nn, t, r=r: nn.BCEWithLogitsLoss(weight=t(_uniform(3, 4, high=2)), reduction=r,
                                                             pos_weight=t(_uniform(4, low=0.5, high=3))),
                     _normal(3, 4) * 3, (_uniform(3, 4, seed=4) > 0.5).astype(np.float32), target_grad=True),
        ]
    for r in REDUCTIONS + ["batchmean"]:
        cases += [
            LossCase(f"KLDivLoss[{r}]", lambda nn, t, r=r: nn.KLDivLoss(reduction=r), _log_probabilities(4, 5),
                     _probabilities(4, 5), target_grad=True),
            LossCase(f"KLDivLoss[log_target,{r}]", lambda nn, t, r=r: nn.KLDivLoss(reduction=r, log_target=True),
                     _log_probabilities(4, 5), _log_probabilities(4, 5, seed=5), target_grad=True),
        ]
    return cases


CASES = _cases()


def _tensors(array, backend, requires_grad):
    if backend == "torch":
        t = torch.from_numpy(array.copy())
    else:
        t = gb.from_numpy(array.copy())
    return t.requires_grad_() if requires_grad else t


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_loss_module_matches_torch(case):
    ours = case.make(gnn, gb.from_numpy)
    theirs = case.make(torch.nn, torch.from_numpy)
    target_grad = case.target_grad and case.target.dtype.kind == "f"
    gx, tx = _tensors(case.input, "glassbox", True), _tensors(case.input, "torch", True)
    gy, ty = _tensors(case.target, "glassbox", target_grad), _tensors(case.target, "torch", target_grad)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="reduction: 'mean' divides", category=UserWarning)  # KLDivLoss
        loss, expected = ours(gx, gy), theirs(tx, ty)
    assert loss.shape == tuple(expected.shape) and loss.dtype == expected.detach().numpy().dtype
    np.testing.assert_allclose(loss.data, expected.detach().numpy(), **FORWARD_TOL, err_msg="loss")
    u = _normal(*loss.shape, seed=7)
    (loss * gb.from_numpy(u)).sum().backward()
    (expected * torch.from_numpy(u)).sum().backward()
    np.testing.assert_allclose(gx.grad.data, tx.grad.numpy(), **GRAD_TOL, err_msg="input gradient")
    if target_grad:
        np.testing.assert_allclose(gy.grad.data, ty.grad.numpy(), **GRAD_TOL, err_msg="target gradient")
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    assert repr(ours) == repr(theirs)


def test_every_loss_module_has_a_case():
    losses = {name for name in gnn.__all__ if name.endswith("Loss")}
    assert losses == {c.id.split("[")[0] for c in CASES}


# ----- weights are buffers --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,kwargs", [("CrossEntropyLoss", {}), ("CrossEntropyLoss", {"weight": 3}),
                                         ("NLLLoss", {"weight": 3}), ("BCELoss", {"weight": 3}),
                                         ("BCEWithLogitsLoss", {"pos_weight": 3}),
                                         ("BCEWithLogitsLoss", {"weight": 3, "pos_weight": 3}), ("MSELoss", {})])
def test_weight_buffers_and_state_dict_keys_equal_torch(name, kwargs):
    ours = getattr(gnn, name)(**{k: gb.ones(n) for k, n in kwargs.items()})
    theirs = getattr(torch.nn, name)(**{k: torch.ones(n) for k, n in kwargs.items()})
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert list(ours.parameters()) == []


def test_weight_buffer_follows_to_and_load_state_dict():
    loss = gnn.CrossEntropyLoss(weight=gb.tensor([1.0, 2.0, 3.0]))
    loss.load_state_dict({"weight": np.array([3.0, 2.0, 1.0])})
    np.testing.assert_array_equal(loss.weight.data, [3, 2, 1])
    loss.to(gb.float64)
    assert loss.weight.dtype == np.float64
    x = gb.from_numpy(_normal(4, 3).astype(np.float64))
    assert loss(x, gb.tensor([0, 1, 2, 0])).dtype == np.float64


def test_legacy_size_average_and_reduce_translate_like_torch():
    for size_average, reduce in [(None, None), (True, None), (False, None), (None, False), (False, True),
                                 (True, True)]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = gnn.MSELoss(size_average, reduce)
            theirs = torch.nn.MSELoss(size_average, reduce)
        assert ours.reduction == theirs.reduction, (size_average, reduce)


def test_reduction_is_validated():
    with pytest.raises(ValueError, match="avg"):
        gnn.MSELoss(reduction="avg")(gb.ones(3), gb.ones(3))
    with pytest.raises(ValueError, match="batchmean"):
        gnn.MSELoss(reduction="batchmean")(gb.ones(3), gb.ones(3))  # only KLDivLoss knows batchmean


# ----- targets that would broadcast silently ---------------------------------------------------------------------
ELEMENTWISE = [("MSELoss", "mse_loss"), ("L1Loss", "l1_loss"), ("SmoothL1Loss", "smooth_l1_loss"),
               ("HuberLoss", "huber_loss"), ("BCELoss", "binary_cross_entropy"),
               ("BCEWithLogitsLoss", "binary_cross_entropy_with_logits"), ("KLDivLoss", "kl_div")]


@pytest.mark.parametrize("name,op", ELEMENTWISE, ids=[n for n, _ in ELEMENTWISE])
@pytest.mark.parametrize("input_shape,target_shape", [((4,), (4, 1)), ((4, 1), (4,)), ((2, 3), (3,))])
def test_broadcasting_target_raises_shape_error(name, op, input_shape, target_shape):
    loss = getattr(gnn, name)()
    x, y = gb.ones(*input_shape) * 0.5, gb.ones(*target_shape) * 0.5
    with pytest.raises(gb.ShapeError, match=rf"{op}: target shape .* differs from input shape .*broadcast"):
        loss(x, y)


def test_class_index_target_shape_errors():
    with pytest.raises(gb.ShapeError, match=r"cross_entropy.*\(4, 3\).*\(4, 1\)"):
        gnn.CrossEntropyLoss()(gb.ones(4, 3), gb.tensor([[0], [1], [2], [0]]))
    with pytest.raises(IndexError, match=r"nll_loss.*3"):
        gnn.NLLLoss()(gb.ones(2, 3), gb.tensor([0, 3]))
