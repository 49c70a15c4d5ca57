"""Metrics against NumPy formulas and torch, streaming over uneven batches, the confusion matrix, and summary()."""

import numpy as np
import pytest

import glassbox as gb
import glassbox.nn as nn
from glassbox.train import (
    Accuracy,
    MeanAbsoluteError,
    MeanSquaredError,
    R2Score,
    TopKAccuracy,
    accuracy,
    confusion_matrix,
    r2_score,
    summary,
)
from glassbox.train.metrics import get_metric

RNG = np.random.default_rng(0)


def streamed(metric, output, target, cuts=(0, 3, 4, 11, 17)):
    """The metric accumulated over uneven batches [0:3], [3:4], [4:11], [11:17], [17:]."""
    metric.reset()
    bounds = list(cuts) + [len(output)]
    for start, stop in zip(bounds[:-1], bounds[1:]):
        metric.update(output[start:stop], target[start:stop])
    return metric.compute()


def one_shot(metric, output, target):
    metric.reset()
    metric.update(output, target)
    return metric.compute()


# ----- accuracy ------------------------------------------------------------------------------------------------------

def test_accuracy_of_logits_with_class_targets():
    logits = RNG.normal(size=(23, 5)).astype(np.float32)
    target = RNG.integers(0, 5, size=23)
    expected = np.mean(logits.argmax(1) == target)
    assert 0 < expected < 1
    assert accuracy(logits, target) == pytest.approx(expected)
    assert accuracy(gb.tensor(logits), gb.tensor(target)) == pytest.approx(expected)
    assert streamed(Accuracy(), logits, target) == pytest.approx(expected)


def test_accuracy_hand_example():
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [0.0, 1.0, 5.0], [9.0, 0.0, 0.0]])
    assert accuracy(logits, np.array([0, 1, 1, 2])) == 0.5


@pytest.mark.parametrize("shape", [(8,), (8, 1)])
@pytest.mark.parametrize("target_dtype", [np.int64, np.float32])
def test_accuracy_of_binary_logits(shape, target_dtype):
    logits = np.array([2.0, -1.0, 0.5, -3.0, 0.1, -0.2, 4.0, -0.5], np.float32).reshape(shape)
    predicted = np.array([1, 0, 1, 0, 1, 0, 1, 0])
    target = np.array([1, 0, 0, 0, 1, 1, 1, 1])  # 5 of 8 right
    for target_shape in ((8,), (8, 1)):
        assert accuracy(logits, target.astype(target_dtype).reshape(target_shape)) == 5 / 8
    assert accuracy(logits, predicted) == 1.0


@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_accuracy_with_one_hot_targets(dtype):
    logits = RNG.normal(size=(19, 4)).astype(np.float32)
    labels = RNG.integers(0, 4, size=19)
    one_hot = np.eye(4)[labels].astype(dtype)
    expected = np.mean(logits.argmax(1) == labels)
    assert accuracy(logits, one_hot) == pytest.approx(expected)
    assert streamed(Accuracy(), logits, one_hot) == pytest.approx(expected)


def test_accuracy_with_probability_targets():
    logits = RNG.normal(size=(19, 4)).astype(np.float32)
    probabilities = RNG.dirichlet(np.ones(4), size=19).astype(np.float32)
    expected = np.mean(logits.argmax(1) == probabilities.argmax(1))
    assert accuracy(logits, probabilities) == pytest.approx(expected)


def test_accuracy_against_torch(torch):
    logits = RNG.normal(size=(31, 6)).astype(np.float32)
    target = RNG.integers(0, 6, size=31)
    t = torch.from_numpy(logits)
    expected = (t.argmax(dim=1) == torch.from_numpy(target)).float().mean().item()
    assert accuracy(logits, target) == pytest.approx(expected)


# ----- top-k ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("k", [1, 2, 3])
def test_top_k_accuracy_against_numpy(k):
    scores = RNG.normal(size=(29, 7)).astype(np.float32)
    target = RNG.integers(0, 7, size=29)
    ranks = (scores > scores[np.arange(29), target][:, None]).sum(1)  # classes scoring above the target's
    expected = np.mean(ranks < k)
    metric = TopKAccuracy(k)
    assert metric.name == f"top{k}_accuracy"
    assert one_shot(metric, scores, target) == pytest.approx(expected)
    assert streamed(metric, scores, target) == pytest.approx(expected)
    if k == 1:
        assert expected == pytest.approx(accuracy(scores, target))


def test_top_k_accuracy_against_torch(torch):
    scores = RNG.normal(size=(40, 10)).astype(np.float32)
    target = RNG.integers(0, 10, size=40)
    top = torch.topk(torch.from_numpy(scores), 5, dim=1).indices
    expected = (top == torch.from_numpy(target)[:, None]).any(dim=1).float().mean().item()
    assert one_shot(get_metric("top5_accuracy"), scores, target) == pytest.approx(expected)


def test_top_k_with_k_at_least_the_number_of_classes_is_always_right():
    scores = RNG.normal(size=(6, 3))
    target = RNG.integers(0, 3, size=6)
    assert one_shot(TopKAccuracy(3), scores, target) == 1.0
    assert one_shot(TopKAccuracy(5), scores, target) == 1.0


# ----- regression metrics --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("target_shape", [(21,), (21, 1)])
def test_mae_mse_r2_against_formulas(target_shape):
    output = RNG.normal(size=(21, 1)).astype(np.float32)
    target = (output[:, 0] * 0.8 + RNG.normal(scale=0.5, size=21)).astype(np.float32)
    o, t = output[:, 0].astype(np.float64), target.astype(np.float64)
    mae, mse = np.abs(o - t).mean(), ((o - t) ** 2).mean()
    r2 = 1 - ((t - o) ** 2).sum() / ((t - t.mean()) ** 2).sum()
    target = target.reshape(target_shape)
    for metric, expected in ((MeanAbsoluteError(), mae), (MeanSquaredError(), mse), (R2Score(), r2)):
        assert one_shot(metric, output, target) == pytest.approx(expected, rel=1e-6)
        assert streamed(metric, output, target) == pytest.approx(expected, rel=1e-6)
    assert r2_score(output, target) == pytest.approx(r2, rel=1e-6)


def test_regression_metrics_against_torch(torch):
    output = RNG.normal(size=(33, 1)).astype(np.float32)
    target = RNG.normal(size=(33, 1)).astype(np.float32)
    o, t = torch.from_numpy(output), torch.from_numpy(target)
    assert one_shot(MeanAbsoluteError(), output, target) == pytest.approx(torch.nn.functional.l1_loss(o, t).item(),
                                                                          rel=1e-5)
    assert one_shot(MeanSquaredError(), output, target) == pytest.approx(torch.nn.functional.mse_loss(o, t).item(),
                                                                         rel=1e-5)
    r2 = 1 - ((t - o) ** 2).sum() / ((t - t.mean()) ** 2).sum()
    assert one_shot(R2Score(), output, target) == pytest.approx(r2.item(), rel=1e-5)


def test_r2_hand_values():
    target = np.array([1.0, 2.0, 3.0, 4.0])
    assert r2_score(target, target) == 1.0
    assert r2_score(np.full(4, 2.5), target) == 0.0  # predicting the mean
    assert r2_score(np.array([4.0, 3.0, 2.0, 1.0]), target) == pytest.approx(1 - 20 / 5)
    # a far-off mean: the running sums must not lose the variance to cancellation
    assert r2_score(target + 1e6 + 0.5, target + 1e6) == pytest.approx(1 - 1.0 / 5, rel=1e-9)


def test_metric_names_and_lookup():
    assert [get_metric(name).name for name in ("accuracy", "acc", "mae", "mse", "r2", "top3_accuracy")] == \
        ["accuracy", "accuracy", "mae", "mse", "r2", "top3_accuracy"]
    with pytest.raises(ValueError, match="unknown metric 'f1'"):
        get_metric("f1")


@pytest.mark.parametrize("make", [Accuracy, lambda: TopKAccuracy(2), MeanAbsoluteError, MeanSquaredError, R2Score])
def test_a_new_metric_is_ready_to_use(make):
    """Like Keras's and torchmetrics' metrics: no reset() needed before the first update; nothing seen -> NaN."""
    assert np.isnan(make().compute())
    output, target = np.array([[2.0, 1.0], [0.0, 1.0], [3.0, 0.0]]), np.array([0, 1, 1])
    metric = make()
    metric.update(output if isinstance(metric, (Accuracy, TopKAccuracy)) else output[:, 0], target)
    assert np.isfinite(metric.compute())


# ----- confusion matrix ----------------------------------------------------------------------------------------------

def test_confusion_matrix_counts():
    target = np.array([0, 0, 1, 1, 1, 2, 2, 0])
    predicted = np.array([0, 1, 1, 1, 2, 2, 0, 0])
    expected = np.array([[2, 1, 0],
                         [0, 2, 1],
                         [1, 0, 1]])
    matrix = confusion_matrix(predicted, target)
    assert matrix.dtype == np.int64
    np.testing.assert_array_equal(matrix, expected)
    bigger = confusion_matrix(gb.tensor(predicted), gb.tensor(target), num_classes=5)
    assert bigger.shape == (5, 5)
    np.testing.assert_array_equal(bigger[:3, :3], expected)
    assert bigger[3:].sum() == 0 and bigger[:, 3:].sum() == 0


def test_confusion_matrix_against_a_loop():
    target, predicted = RNG.integers(0, 6, size=200), RNG.integers(0, 6, size=200)
    expected = np.zeros((6, 6), np.int64)
    for t, p in zip(target, predicted):
        expected[t, p] += 1
    np.testing.assert_array_equal(confusion_matrix(predicted, target, 6), expected)
    assert confusion_matrix(predicted, target, 6).sum() == 200


def test_confusion_matrix_length_mismatch():
    with pytest.raises(ValueError, match="3 predictions but 2 targets"):
        confusion_matrix([0, 1, 2], [0, 1])


# ----- summary -------------------------------------------------------------------------------------------------------

def table_rows(text):
    """(line, params) of each layer row: the lines between the second and third rule."""
    lines = text.splitlines()
    rules = [i for i, line in enumerate(lines) if line and set(line) == {"-"}]
    rows = lines[rules[1] + 1:rules[2]]
    return [(row, int(row.split()[-1].replace(",", ""))) for row in rows]


def test_summary_lists_every_leaf_with_shapes_and_parameter_counts():
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Sequential(nn.Linear(16, 4), nn.Tanh()),
                          nn.BatchNorm1d(4), nn.Dropout(0.5), nn.Linear(4, 300))
    printed = []
    text = summary(model, (2, 8), print_fn=printed.append)
    assert printed == [text]
    rows = table_rows(text)
    expected = [("0", "Linear", "(2, 16)", 8 * 16 + 16), ("1", "ReLU", "(2, 16)", 0),
                ("2.0", "Linear", "(2, 4)", 16 * 4 + 4), ("2.1", "Tanh", "(2, 4)", 0),
                ("3", "BatchNorm1d", "(2, 4)", 8), ("4", "Dropout", "(2, 4)", 0),
                ("5", "Linear", "(2, 300)", 4 * 300 + 300)]
    assert len(rows) == len(expected)
    for (row, params), (name, kind, shape, count) in zip(rows, expected):
        assert row.split()[:2] == [name, kind]
        assert shape in row
        assert params == count
    total = model.num_parameters()
    assert sum(params for _, params in rows) == total
    assert f"Total params: {total:,}" in text
    assert "1,500" in text  # thousands separators
    assert f"Trainable params: {total:,}" in text and "Non-trainable params: 0" in text
    model[0].requires_grad_(False)
    text = summary(model, (2, 8), print_fn=None)
    assert f"Trainable params: {total - 144:,}" in text and "Non-trainable params: 144" in text


def test_summary_counts_parameters_held_by_a_container_itself():
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(gb.ones(3))
            self.body = nn.Sequential(nn.Linear(5, 3), nn.ReLU())

        def forward(self, x):
            return self.body(x) * self.scale

    model = nn.Sequential(Scaled(), nn.Linear(3, 2))
    rows = table_rows(summary(model, (4, 5), print_fn=None))
    assert sum(params for _, params in rows) == model.num_parameters() == 3 + 18 + 8
    assert any(row.split()[0] == "0.body.0" and params == 18 for row, params in rows)


@pytest.mark.parametrize("mode", ["train", "eval", "mixed"])
def test_summary_restores_modes_and_changes_no_state(mode):
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Dropout(0.5), nn.Linear(4, 2))
    model.train(mode != "eval")
    if mode == "mixed":
        model[1].eval()  # e.g. frozen batch-norm statistics
    before_modes = [m.training for m in model.modules()]
    before_state = {k: v.data.copy() for k, v in model.state_dict().items()}
    summary(model, (5, 3), print_fn=None)
    assert [m.training for m in model.modules()] == before_modes
    after = model.state_dict()
    for key, value in before_state.items():
        assert np.array_equal(after[key].data, value), key  # running statistics untouched
