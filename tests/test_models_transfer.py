"""Transfer learning helpers: load reports, strict errors, renaming, freezing, head replacement, per-group lrs."""

import numpy as np
import pytest

import glassbox as gb
import glassbox.nn as nn
import glassbox.optim as optim
from glassbox.io import save
from glassbox.models.transfer import (
    LoadError,
    freeze,
    load_pretrained,
    param_groups,
    replace_head,
    trainable_parameters,
    unfreeze,
)
from glassbox.train import fit


class SmallCNN(nn.Module):
    """(N, 1, 8, 8) -> (N, num_classes): features conv-relu-pool, classifier a Sequential ending in a Linear."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


class FcNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(6, 5)
        self.fc = nn.Linear(5, 3, bias=False)

    def forward(self, x):
        return self.fc(self.body(x).relu())


def arrays(model):
    return {k: v.data.copy() for k, v in model.state_dict().items()}


def test_report_lists_loaded_missing_unexpected_and_shape_mismatches():
    gb.manual_seed(0)
    source = arrays(SmallCNN(10))
    del source["features.0.bias"]
    source["extra.weight"] = np.zeros(3, dtype=np.float32)
    model = SmallCNN(5)
    head_before = model.classifier[3].weight.data.copy()
    report = load_pretrained(model, source, strict=False)
    assert report.missing == ["features.0.bias"]
    assert report.unexpected == ["extra.weight"]
    assert report.shape_mismatch == [("classifier.3.weight", (5, 16), (10, 16)), ("classifier.3.bias", (5,), (10,))]
    assert report.loaded == ["features.0.weight", "classifier.1.weight", "classifier.1.bias"]
    assert not report.ok
    for key in report.loaded:
        assert np.array_equal(model.state_dict()[key].data, source[key])
    assert np.array_equal(model.classifier[3].weight.data, head_before)  # the new head keeps its init
    text = str(report)
    for key in ("features.0.bias", "extra.weight", "classifier.3.weight", "(5, 16)", "(10, 16)"):
        assert key in text


def test_strict_raises_naming_the_keys_and_loads_nothing():
    gb.manual_seed(0)
    source = arrays(SmallCNN(10))
    model = SmallCNN(5)
    before = arrays(model)
    with pytest.raises(LoadError) as info:
        load_pretrained(model, source)
    assert "classifier.3.weight" in str(info.value) and "classifier.3.bias" in str(info.value)
    assert info.value.report.shape_mismatch[0][0] == "classifier.3.weight"
    for key, value in arrays(model).items():
        assert np.array_equal(value, before[key])


def test_skip_leaves_the_head_and_strict_passes():
    gb.manual_seed(0)
    source = SmallCNN(10)
    model = SmallCNN(5)
    report = load_pretrained(model, source.state_dict(), skip=["classifier.3"])
    assert report.ok and report.skipped == ["classifier.3.weight", "classifier.3.bias"]
    assert np.array_equal(model.features[0].weight.data, source.features[0].weight.data)


def test_key_map_dict_callable_and_prefix_from_a_file(tmp_path):
    gb.manual_seed(0)
    source = FcNet()
    renamed = {"backbone.dense.weight": source.body.weight, "backbone.dense.bias": source.body.bias,
               "backbone.out.weight": source.fc.weight}
    path = tmp_path / "w.safetensors"
    save(renamed, path)
    model = FcNet()
    mapping = {"dense.weight": "body.weight", "dense.bias": "body.bias", "out.weight": "fc.weight"}
    report = load_pretrained(model, path, strip_prefix="backbone.", key_map=mapping)
    assert report.ok and sorted(report.loaded) == ["body.bias", "body.weight", "fc.weight"]
    assert np.array_equal(model.fc.weight.data, source.fc.weight.data)

    other = FcNet()
    report = load_pretrained(other, renamed, strict=False,
                             key_map=lambda k: None if k.endswith("bias") else k.replace("backbone.dense", "body")
                             .replace("backbone.out", "fc"))
    assert report.missing == ["body.bias"] and report.unexpected == []
    assert np.array_equal(other.body.weight.data, source.body.weight.data)


def test_data_parallel_prefix_stripped_only_when_uniform():
    gb.manual_seed(0)
    source = FcNet()
    model = FcNet()
    report = load_pretrained(model, {"module." + k: v for k, v in source.state_dict().items()})
    assert report.ok
    with pytest.raises(LoadError, match="module.body.weight"):
        load_pretrained(FcNet(), {"module.body.weight": source.body.weight, "fc.weight": source.fc.weight})


def test_replace_head_on_a_sequential_classifier():
    model = SmallCNN(10)
    first = model.classifier[1]
    new = replace_head(model, 3)
    assert model.classifier[3] is new and model.classifier[1] is first
    assert (new.in_features, new.out_features) == (16, 3)
    assert model(gb.randn(2, 1, 8, 8)).shape == (2, 3)
    assert list(model.state_dict())[-2:] == ["classifier.3.weight", "classifier.3.bias"]


def test_replace_head_on_fc_keeps_bias_setting_and_dtype():
    model = FcNet().double()
    new = replace_head(model, 7)
    assert model.fc is new and new.bias is None and new.weight.dtype == np.float64 and new.in_features == 5


def test_replace_head_falls_back_to_the_last_linear_and_errors_without_one():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    new = replace_head(model, 6)
    assert model[2] is new and model(gb.randn(3, 4)).shape == (3, 6)
    with pytest.raises(ValueError, match="no classifier"):
        replace_head(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()), 4)


def test_freeze_unfreeze_and_summary():
    model = SmallCNN(5)
    assert freeze(model.features) is model.features
    summary = trainable_parameters(model)
    assert summary.rows == [("features", 0, 40), ("classifier", 64 * 16 + 16 + 16 * 5 + 5, 0)]
    assert summary.frozen == 40 and summary.trainable == model.num_parameters(trainable_only=True)
    assert "features" in str(summary) and "total" in str(summary)
    unfreeze([model.features[0].weight])
    assert model.features[0].weight.requires_grad and not model.features[0].bias.requires_grad


def test_param_groups_assigns_every_trainable_parameter_once():
    model = SmallCNN(5)
    freeze(model.features[0].bias)
    groups = param_groups(model, {"classifier": 1e-2, "classifier.3": 1e-1}, default_lr=1e-4)
    by_name = {g["name"]: g for g in groups}
    assert [p is q for p, q in zip(by_name["classifier.3"]["params"], model.classifier[3].parameters())] == [True] * 2
    assert {id(p) for p in by_name["classifier"]["params"]} == {id(p) for p in model.classifier[1].parameters()}
    assert [id(p) for p in by_name["default"]["params"]] == [id(model.features[0].weight)]
    assert (by_name["classifier"]["lr"], by_name["classifier.3"]["lr"], by_name["default"]["lr"]) == (1e-2, 1e-1, 1e-4)
    every = [id(p) for g in groups for p in g["params"]]
    trainable = [id(p) for p in model.parameters() if p.requires_grad]
    assert sorted(every) == sorted(trainable)  # each trainable parameter exactly once, the frozen bias left out
    optim.Adam(groups)  # the optimizer accepts them (it also refuses a parameter in two groups)


def test_param_groups_rejects_unknown_prefixes():
    with pytest.raises(ValueError, match="'layer4'.*features"):
        param_groups(SmallCNN(), {"layer4": 1e-3})
    with pytest.raises(ValueError, match="'classifier.9'"):
        param_groups(SmallCNN(), {"classifier.9": 1e-3})


def test_fine_tuning_leaves_frozen_parameters_bit_for_bit_unchanged():
    gb.manual_seed(0)
    pretrained = SmallCNN(10)
    model = SmallCNN(10)
    load_pretrained(model, pretrained.state_dict())
    freeze(model.features)
    head = replace_head(model, 3)
    frozen_before = {k: v.data.copy() for k, v in model.features.state_dict().items()}
    trainable_before = {k: v.data.copy() for k, v in model.classifier.state_dict().items()}
    rng = np.random.default_rng(0)
    x, y = rng.random((24, 1, 8, 8)).astype(np.float32), rng.integers(0, 3, 24)
    fit(model, (x, y), epochs=3, batch_size=8, loss=nn.CrossEntropyLoss(),
        optimizer=optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-3), verbose=0)
    for key, value in model.features.state_dict().items():
        assert np.array_equal(value.data, frozen_before[key]), key
    assert all(p.grad is None for p in model.features.parameters())
    for key, value in model.classifier.state_dict().items():
        assert not np.array_equal(value.data, trainable_before[key]), key
    assert head.weight.grad is not None


def test_param_groups_use_their_own_learning_rates_in_sgd():
    gb.manual_seed(0)
    model = SmallCNN(3)
    freeze(model.features)
    lrs = {"classifier.3": 0.5, "classifier.1": 0.01}
    optimizer = optim.SGD(param_groups(model, lrs))
    before = {name: p.data.copy() for name, p in model.named_parameters()}
    x = gb.tensor(np.random.default_rng(1).random((5, 1, 8, 8)).astype(np.float32))
    loss = nn.CrossEntropyLoss()(model(x), gb.tensor(np.array([0, 1, 2, 0, 1])))
    loss.backward()
    grads = {name: p.grad.data.copy() for name, p in model.named_parameters() if p.grad is not None}
    optimizer.step()
    after = dict(model.named_parameters())
    for name, value in before.items():
        if name.startswith("features"):
            assert np.array_equal(after[name].data, value)
            continue
        lr = lrs[name.rsplit(".", 1)[0]]
        expected = value - np.float32(lr) * grads[name]  # the hand update, in float32 like the parameter
        np.testing.assert_allclose(after[name].data, expected, rtol=1e-6, atol=1e-7)
    # Non-zero gradients in both groups, so one lr used for both would fail one of the comparisons above.
    assert np.abs(grads["classifier.3.weight"]).max() > 0 and np.abs(grads["classifier.1.weight"]).max() > 0
