"""Module mechanics against PyTorch's: registration and traversal order, shared parameters, buffers, state_dict and
strict loading reports, train/eval, zero_grad, freezing, apply, dtype casts, repr, hooks, attribute errors, and
the containers (Sequential, ModuleList, ModuleDict). Models are written once and built in both libraries."""

from collections import OrderedDict

import numpy as np
import pytest

import glassbox as gb
import glassbox.nn as gnn

torch = pytest.importorskip("torch")


def _lib(nn):
    """The tensor library that goes with an nn package."""
    return torch if nn is torch.nn else gb


def _build(nn):
    """A nested model with a direct parameter, a ModuleList of blocks, a Sequential head, buffers of both kinds."""
    lib = _lib(nn)

    class Block(nn.Module):
        def __init__(self, width, eps):
            super().__init__()
            self.fc = nn.Linear(width, width)
            self.norm = nn.LayerNorm(width, eps=eps)
            self.act = nn.ReLU()

        def forward(self, x):
            return x + self.act(self.norm(self.fc(x)))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(10, 6)
            self.scale = nn.Parameter(lib.ones(6))
            self.blocks = nn.ModuleList([Block(6, 1e-5), Block(6, 1e-3)])
            self.head = nn.Sequential(nn.Linear(6, 4), nn.BatchNorm1d(4), nn.Tanh(), nn.Linear(4, 3))
            self.register_buffer("offset", lib.zeros(3))
            self.register_buffer("cache", lib.zeros(2), persistent=False)

        def forward(self, tokens):
            x = self.embed(tokens).sum(1) * self.scale
            for block in self.blocks:
                x = block(x)
            return self.head(x) + self.offset

    return Net()


def _same_model():
    """The model in both libraries, glassbox's weights loaded from torch's."""
    theirs = _build(torch.nn)
    ours = _build(gnn)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


TOKENS = np.array([[1, 2, 3], [4, 4, 9], [0, 5, 2], [7, 8, 1], [3, 3, 3]])


# ----- traversal order and names --------------------------------------------------------------------------------------
def test_named_parameters_order_and_names_equal_torch():
    ours, theirs = _build(gnn), _build(torch.nn)
    assert [(n, p.shape) for n, p in ours.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    assert len(list(ours.parameters())) == len(list(theirs.parameters()))
    assert [n for n, _ in ours.named_parameters(recurse=False)] == ["scale"]
    assert [n for n, _ in ours.head.named_parameters(prefix="head")] == \
        [n for n, _ in theirs.head.named_parameters(prefix="head")]


def test_named_buffers_children_and_modules_equal_torch():
    ours, theirs = _build(gnn), _build(torch.nn)
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert [type(m).__name__ for m in ours.children()] == [type(m).__name__ for m in theirs.children()]
    assert [(n, type(m).__name__) for n, m in ours.named_modules()] == \
        [(n, type(m).__name__) for n, m in theirs.named_modules()]
    assert len(list(ours.modules())) == len(list(theirs.modules()))
    assert ours.get_submodule("blocks.1.norm") is ours.blocks[1].norm


def _shared(nn):
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Linear(4, 4)
            self.same = self.encoder  # one module under two names
            self.decoder = nn.Linear(4, 4, bias=True)
            self.decoder.weight = self.encoder.weight  # weight tying

        def forward(self, x):
            return self.decoder(self.same(x))

    return Tied()


def test_shared_modules_and_parameters_are_listed_once_like_torch():
    ours, theirs = _shared(gnn), _shared(torch.nn)
    names = [n for n, _ in ours.named_parameters()]
    assert names == [n for n, _ in theirs.named_parameters()] == ["encoder.weight", "encoder.bias", "decoder.bias"]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())  # state_dict keeps every name, like torch
    x = gb.randn(2, 4, requires_grad=True)
    ours(x).sum().backward()
    assert ours.encoder.weight.grad is ours.decoder.weight.grad  # one tensor, one accumulated gradient


# ----- buffers and state_dict -----------------------------------------------------------------------------------------
def test_persistent_and_non_persistent_buffers():
    ours, theirs = _build(gnn), _build(torch.nn)
    assert "offset" in ours.state_dict() and "cache" not in ours.state_dict()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert {n for n, _ in ours.named_buffers()} >= {"offset", "cache"}
    assert not any(b.requires_grad for b in ours.buffers())
    ours.register_buffer("cache", gb.ones(2))  # re-registered as persistent
    assert "cache" in ours.state_dict()
    with pytest.raises(TypeError, match=r"Tensor"):
        ours.register_buffer("bad", np.zeros(2))


def test_state_dict_shares_memory_and_detaches():
    model = gnn.Linear(3, 2)
    state = model.state_dict()
    assert not state["weight"].requires_grad and np.shares_memory(state["weight"].data, model.weight.data)
    assert model.state_dict(keep_vars=True)["weight"] is model.weight


def test_loading_torch_state_dict_gives_identical_outputs():
    ours, theirs = _same_model()
    ours.eval()
    theirs.eval()
    out = ours(gb.from_numpy(TOKENS)).data
    expected = theirs(torch.from_numpy(TOKENS)).detach().numpy()
    np.testing.assert_allclose(out, expected, atol=1e-5, rtol=1e-4)
    ours.train()
    theirs.train()  # training mode: BatchNorm uses the batch, both update the same running statistics
    np.testing.assert_allclose(ours(gb.from_numpy(TOKENS)).data, theirs(torch.from_numpy(TOKENS)).detach().numpy(),
                               atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(ours.head[1].running_var.data, theirs.head[1].running_var.numpy(), rtol=1e-5)


def test_strict_load_lists_missing_unexpected_and_mismatched_keys_by_name():
    model = _build(gnn)
    state = {k: v.data.copy() for k, v in model.state_dict().items()}
    del state["head.0.bias"]
    del state["blocks.1.norm.weight"]
    state["head.9.weight"] = np.zeros(3)
    state["embed.weight"] = np.zeros((11, 6))
    with pytest.raises(RuntimeError) as error:
        model.load_state_dict(state)
    message = str(error.value)
    assert "Error(s) in loading state_dict for Net" in message
    assert 'Missing key(s) in state_dict: "blocks.1.norm.weight", "head.0.bias".' in message \
        or 'Missing key(s) in state_dict: "head.0.bias", "blocks.1.norm.weight".' in message
    assert 'Unexpected key(s) in state_dict: "head.9.weight".' in message
    assert "size mismatch for embed.weight: copying a param with shape (11, 6)" in message
    assert "(10, 6)" in message
    # torch reports the same problems for the same dict
    torch_state = {k: torch.from_numpy(np.asarray(v)) for k, v in state.items()}
    with pytest.raises(RuntimeError) as torch_error:
        _build(torch.nn).load_state_dict(torch_state)
    for key in ("blocks.1.norm.weight", "head.0.bias", "head.9.weight", "embed.weight"):
        assert key in str(torch_error.value)


def test_non_strict_load_returns_missing_and_unexpected_keys():
    model, reference = _build(gnn), _build(gnn)
    state = {k: v.data.copy() for k, v in reference.state_dict().items() if k != "scale"}
    state["extra.weight"] = np.ones(2)
    result = model.load_state_dict(state, strict=False)
    assert result.missing_keys == ["scale"] and result.unexpected_keys == ["extra.weight"]
    missing, unexpected = result  # a named tuple, like torch's _IncompatibleKeys
    np.testing.assert_array_equal(model.embed.weight.data, reference.embed.weight.data)  # the rest was loaded
    state["embed.weight"] = np.zeros((3, 3))
    with pytest.raises(RuntimeError, match=r"size mismatch for embed\.weight"):  # shapes are checked even then
        model.load_state_dict(state, strict=False)


def test_load_copies_values_in_place():
    model = gnn.Linear(3, 2)
    weight = model.weight
    source = np.arange(6, dtype=np.float64).reshape(2, 3)
    model.load_state_dict({"weight": source, "bias": np.zeros(2)})
    assert model.weight is weight and model.weight.dtype == np.float32  # same Parameter, same dtype
    source[0, 0] = 99  # a copy, not a view of the source
    assert model.weight.data[0, 0] == 0


# ----- modes and bulk changes -----------------------------------------------------------------------------------------
def _with_dropout(nn):
    return nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 4))


def test_train_and_eval_propagate_to_every_module():
    model = _with_dropout(gnn)
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    x = gb.randn(32, 8)
    a, b = model(x).data, model(x).data
    np.testing.assert_array_equal(a, b)  # eval: no dropout, running statistics: deterministic
    running = model[1].running_mean.data.copy()
    model(x)
    np.testing.assert_array_equal(model[1].running_mean.data, running)  # eval leaves running statistics alone
    model.train()
    assert all(m.training for m in model.modules())
    hidden = model[:4](x).data
    assert (hidden == 0).mean() > 0.5  # ReLU zeros about half, dropout half of the rest
    assert not np.array_equal(model[1].running_mean.data, running)
    with pytest.raises(ValueError, match="bool"):
        model.train("no")


def test_train_eval_outputs_match_torch():
    ours, theirs = _with_dropout(gnn), _with_dropout(torch.nn)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((6, 8)).astype(np.float32)
    ours.eval()
    theirs.eval()
    np.testing.assert_allclose(ours(gb.from_numpy(x)).data, theirs(torch.from_numpy(x)).detach().numpy(),
                               atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad(set_to_none):
    model = _with_dropout(gnn)
    model(gb.randn(4, 8)).sum().backward()
    assert all(p.grad is not None and p.grad.data.any() for p in model.parameters())
    model.zero_grad(set_to_none=set_to_none)
    for p in model.parameters():
        if set_to_none:
            assert p.grad is None
        else:
            assert p.grad.shape == p.shape and not p.grad.data.any()
    model(gb.randn(4, 8)).sum().backward()  # accumulates from zero again
    assert all(p.grad is not None for p in model.parameters())


def test_zero_grad_default_sets_to_none_like_torch():
    model = gnn.Linear(2, 2)
    model(gb.ones(1, 2)).sum().backward()
    model.zero_grad()
    assert model.weight.grad is None


def test_requires_grad_false_freezes_parameters():
    model = _with_dropout(gnn)
    assert model[0].requires_grad_(False) is model[0]
    x = gb.randn(4, 8, requires_grad=True)
    model(x).sum().backward()
    assert model[0].weight.grad is None and model[0].bias.grad is None
    assert model[4].weight.grad is not None and x.grad is not None  # gradients still flow through frozen layers
    assert model.num_parameters(trainable_only=True) == model.num_parameters() - 8 * 16 - 16
    model.requires_grad_()
    assert all(p.requires_grad for p in model.parameters())


def test_apply_visits_children_first_like_torch():
    ours, theirs = _build(gnn), _build(torch.nn)
    order, torch_order = [], []
    assert ours.apply(lambda m: order.append(type(m).__name__)) is ours
    theirs.apply(lambda m: torch_order.append(type(m).__name__))
    assert order == torch_order


def test_apply_for_custom_initialisation():
    model = _with_dropout(gnn)

    def init_linear(module):
        if isinstance(module, gnn.Linear):
            gnn.init.constant_(module.weight, 0.5)
            gnn.init.zeros_(module.bias)

    model.apply(init_linear)
    assert np.all(model[0].weight.data == 0.5) and np.all(model[4].bias.data == 0)


def test_to_float64_casts_parameters_and_buffers():
    model = _build(gnn)
    assert model.to(gb.float64) is model
    assert all(p.dtype == np.float64 for p in model.parameters())
    bn = model.head[1]
    assert bn.running_mean.dtype == np.float64 and model.offset.dtype == np.float64
    assert bn.num_batches_tracked.dtype == np.int64  # integer buffers keep their dtype, as in torch
    assert model(gb.from_numpy(TOKENS)).dtype == np.float64
    model.float()
    assert all(p.dtype == np.float32 for p in model.parameters()) and model.offset.dtype == np.float32
    assert model.to("cpu") is model
    with pytest.raises(TypeError, match="floating"):
        model.to(gb.int64)


def test_to_float64_matches_torch_double():
    ours, theirs = _same_model()
    ours.double().eval()
    theirs.double().eval()
    assert [(k, v.dtype) for k, v in ours.state_dict().items()] == \
        [(k, v.numpy().dtype) for k, v in theirs.state_dict().items()]
    np.testing.assert_allclose(ours(gb.from_numpy(TOKENS)).data, theirs(torch.from_numpy(TOKENS)).detach().numpy(),
                               atol=1e-10, rtol=1e-10)


# ----- repr -----------------------------------------------------------------------------------------------------------
def test_sequential_repr_equals_torch():
    make = lambda nn: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.25), nn.Linear(8, 2))  # noqa: E731
    assert repr(make(gnn)) == repr(make(torch.nn))


def test_nested_repr_equals_torch():
    assert repr(_build(gnn)) == repr(_build(torch.nn))
    make = lambda nn: nn.Sequential(OrderedDict([("features", nn.Sequential(nn.Linear(4, 8), nn.ReLU())),  # noqa
                                                 ("classifier", nn.ModuleDict({"out": nn.Linear(8, 2)}))]))
    assert repr(make(gnn)) == repr(make(torch.nn))


def test_module_list_repr_folds_repeated_modules_like_torch():
    make = lambda nn: nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU()])  # noqa: E731
    assert repr(make(gnn)) == repr(make(torch.nn))


# ----- hooks ----------------------------------------------------------------------------------------------------------
def _hooked(nn):
    """A model with a pre-hook that doubles the input and a forward hook that adds one; calls are logged."""
    lib = _lib(nn)
    model = nn.Sequential(nn.Linear(3, 2), nn.Tanh())
    log = []
    pre = model[0].register_forward_pre_hook(lambda m, args: (log.append("pre"), (args[0] * 2,))[1])
    post = model[0].register_forward_hook(lambda m, args, out: (log.append(("post", tuple(args[0].shape))),
                                                                  out + 1)[1])
    seen = model.register_forward_hook(lambda m, args, out: log.append("outer") or None)
    return model, log, (pre, post, seen), lib


def test_forward_hooks_and_pre_hooks_like_torch():
    (ours, log, handles, _), (theirs, torch_log, torch_handles, _) = _hooked(gnn), _hooked(torch.nn)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    out, expected = ours(gb.from_numpy(x)), theirs(torch.from_numpy(x))
    np.testing.assert_allclose(out.data, expected.detach().numpy(), atol=1e-5, rtol=1e-4)
    assert log == torch_log == ["pre", ("post", (4, 3)), "outer"]
    for handle, torch_handle in zip(handles, torch_handles):
        handle.remove()
        torch_handle.remove()
    np.testing.assert_allclose(ours(gb.from_numpy(x)).data, theirs(torch.from_numpy(x)).detach().numpy(),
                               atol=1e-5, rtol=1e-4)
    assert len(log) == 3  # removed hooks are not called again


def test_forward_hook_sees_gradients_flow():
    model = gnn.Linear(3, 2)
    model.register_forward_hook(lambda m, args, out: out * 3)
    x = gb.ones(1, 3, requires_grad=True)
    model(x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 3 * model.weight.data.sum(0, keepdims=True), rtol=1e-6)


# ----- attribute rules ------------------------------------------------------------------------------------------------
def test_assigning_a_non_parameter_to_a_parameter_attribute_raises_like_torch():
    for nn, lib in ((gnn, gb), (torch.nn, torch)):
        layer = nn.Linear(2, 2)
        with pytest.raises(TypeError, match="weight"):
            layer.weight = lib.ones(2, 2)
        layer.bias = None  # None is allowed: it removes the parameter
        assert [n for n, _ in layer.named_parameters()] == ["weight"]
        layer.weight = nn.Parameter(lib.zeros(2, 2))
        assert layer(lib.ones(1, 2)).sum().item() == 0


def test_forgetting_super_init_gives_a_clear_error():
    class Broken(gnn.Module):
        def __init__(self):
            self.fc = gnn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"super\(\)\.__init__\(\).*Broken"):
        Broken()


def test_registration_through_attributes_and_deletion():
    model = gnn.Module()
    model.fc = gnn.Linear(2, 3)
    model.w = gnn.Parameter(gb.ones(3))
    model.plain = 5  # neither: a normal attribute
    assert [n for n, _ in model.named_parameters()] == ["w", "fc.weight", "fc.bias"]
    assert "plain" not in model.state_dict()
    del model.fc
    assert [n for n, _ in model.named_parameters()] == ["w"]
    with pytest.raises(AttributeError, match="fc"):
        _ = model.fc
    with pytest.raises(KeyError, match=r"\."):
        model.register_parameter("a.b", None)


def test_forward_must_be_defined():
    with pytest.raises(NotImplementedError, match="forward"):
        gnn.Module()(gb.ones(1))


# ----- containers -----------------------------------------------------------------------------------------------------
def _sequential(nn):
    return nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 4), nn.Tanh())


def test_sequential_indexing_slicing_len_and_append_like_torch():
    ours, theirs = _sequential(gnn), _sequential(torch.nn)
    assert len(ours) == len(theirs) == 4
    assert isinstance(ours[0], gnn.Linear) and isinstance(ours[-1], gnn.Tanh)
    head = ours[1:3]
    assert isinstance(head, gnn.Sequential) and list(head._modules) == list(theirs[1:3]._modules) == ["1", "2"]
    assert head[1] is ours[2]  # a slice shares the modules
    assert [type(m).__name__ for m in ours] == [type(m).__name__ for m in theirs]
    assert ours.append(gnn.Sigmoid()) is ours
    theirs.append(torch.nn.Sigmoid())
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    with pytest.raises(IndexError, match="out of range"):
        ours[5]
    with pytest.raises(TypeError, match="instance"):
        gnn.Sequential(gnn.ReLU)



def test_reassigning_a_parameter_keeps_its_place_like_torch():
    ours, theirs = gnn.Linear(2, 2), torch.nn.Linear(2, 2)
    ours.weight = gnn.Parameter(gb.ones(2, 2))
    theirs.weight = torch.nn.Parameter(torch.ones(2, 2))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight", "bias"]


def test_sequential_setitem_replaces_in_place_like_torch():
    ours = _sequential(gnn)
    replacement = gnn.Linear(2, 3)
    ours[0] = replacement
    assert ours[0] is replacement and list(ours._modules) == ["0", "1", "2", "3"]
    assert [type(m).__name__ for m in ours] == ["Linear", "ReLU", "Linear", "Tanh"]


def test_sequential_delete_renumbers_like_torch():
    ours, theirs = _sequential(gnn), _sequential(torch.nn)
    del ours[1]
    del theirs[1]
    assert list(ours._modules) == list(theirs._modules)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    ours.append(gnn.Sigmoid())  # with the gap, append reuses the last key and silently replaces that module
    assert [type(m).__name__ for m in ours] == ["Linear", "Linear", "Tanh", "Sigmoid"]


def test_sequential_from_ordered_dict_uses_the_names():
    make = lambda nn: nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.ReLU())]))  # noqa: E731
    assert list(make(gnn).state_dict()) == list(make(torch.nn).state_dict()) == ["fc.weight", "fc.bias"]
    assert isinstance(make(gnn).act, gnn.ReLU)


def test_module_list_like_torch():
    for nn in (gnn, torch.nn):
        layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
        layers.append(nn.Linear(2, 5))
        layers.extend([nn.ReLU()])
        layers.insert(1, nn.Tanh())
        assert len(layers) == 6
        assert [type(m).__name__ for m in layers] == ["Linear", "Tanh", "Linear", "Linear", "Linear", "ReLU"]
        assert isinstance(layers[-2], nn.Linear) and layers[-2].out_features == 5
        assert len(layers[1:4]) == 3 and list(layers[1:4]._modules) == ["0", "1", "2"]
        assert [n for n, _ in layers.named_parameters()][:2] == ["0.weight", "0.bias"]
        assert len(list(layers.parameters())) == 8
    with pytest.raises(NotImplementedError):
        gnn.ModuleList()(gb.ones(1))


def test_module_dict_like_torch():
    for nn in (gnn, torch.nn):
        layers = nn.ModuleDict({"encoder": nn.Linear(2, 3), "act": nn.ReLU()})
        layers["decoder"] = nn.Linear(3, 2)
        layers.update({"out": nn.Sigmoid()})
        assert list(layers.keys()) == ["encoder", "act", "decoder", "out"] and len(layers) == 4
        assert "act" in layers and isinstance(layers["decoder"], nn.Linear)
        assert [n for n, _ in layers.named_parameters()] == ["encoder.weight", "encoder.bias", "decoder.weight",
                                                             "decoder.bias"]
        del layers["act"]
        assert list(layers) == ["encoder", "decoder", "out"]
        assert [type(v).__name__ for v in layers.values()] == ["Linear", "Linear", "Sigmoid"]
        assert [k for k, _ in layers.items()] == ["encoder", "decoder", "out"]


def test_parameters_in_plain_lists_are_invisible_which_is_why_module_list_exists():
    class Hidden(gnn.Module):
        def __init__(self):
            super().__init__()
            self.layers = [gnn.Linear(2, 2)]

    assert list(Hidden().parameters()) == []
