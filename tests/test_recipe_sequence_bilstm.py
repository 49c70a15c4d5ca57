"""The sequence-bilstm recipe: the neighbour-sum tags by hand, their two-sidedness, the left-context ceiling
against a simulated Bayes-optimal left-to-right tagger, masking of padding in loss and accuracy (torch oracle),
parameter matching, a smoke run that writes every file, and (slow) the real run's claim."""

import csv
import json

import numpy as np
import pytest

import glassbox as gb
from glassbox.recipes import sequence_bilstm as recipe
from glassbox.recipes.common import RunConfig

PNG = b"\x89PNG\r\n\x1a\n"


def test_tags_are_the_sum_of_both_neighbours_with_zero_outside():
    # x = 3 1 4 1 5: t=0: 0+1, t=1: 3+4, t=2: 1+1, t=3: 4+5, t=4: 1+0
    assert recipe.neighbour_sum_tags([3, 1, 4, 1, 5]).tolist() == [1, 7, 2, 9, 1]
    assert recipe.neighbour_sum_tags([2, 7]).tolist() == [7, 2]
    with pytest.raises(ValueError, match="1-D"):
        recipe.neighbour_sum_tags([[1, 2], [3, 4]])


def test_tag_is_not_a_function_of_the_left_context():
    # Equal prefixes x_0..x_2, different x_3: the tag at t = 2 differs, so no left-to-right tagger can get both.
    first, second = [5, 2, 8, 1, 6], [5, 2, 8, 7, 6]
    tags_first, tags_second = recipe.neighbour_sum_tags(first), recipe.neighbour_sum_tags(second)
    assert tags_first[:2].tolist() == tags_second[:2].tolist()
    assert tags_first[2] != tags_second[2]
    # And the same for the end of a sequence: a prefix that stops (right neighbour 0) versus one that continues.
    assert recipe.neighbour_sum_tags([5, 2, 8])[2] != recipe.neighbour_sum_tags([5, 2, 8, 1])[2]
    # The left side matters too: equal suffixes, different x_1, different tag at t = 2.
    assert recipe.neighbour_sum_tags([5, 2, 8, 1])[2] != recipe.neighbour_sum_tags([5, 4, 8, 1])[2]


def test_generated_sequences_follow_the_stated_distribution():
    rng = np.random.default_rng(0)
    sequences, tags = recipe.generate_sequences(3000, rng, digits=4, min_length=3, max_length=6)
    lengths = np.array([len(s) for s in sequences])
    assert set(lengths.tolist()) == {3, 4, 5, 6}
    digits = np.concatenate(sequences)
    assert digits.min() == 1 and digits.max() == 4
    counts = np.bincount(digits, minlength=5)[1:]
    assert np.all(np.abs(counts / counts.sum() - 0.25) < 0.02)
    for x, y in zip(sequences[:50], tags[:50]):
        assert y.tolist() == [(x[t - 1] if t else 0) + (x[t + 1] if t + 1 < len(x) else 0) for t in range(len(x))]
    with pytest.raises(ValueError, match="min_length"):
        recipe.generate_sequences(2, rng, min_length=1, max_length=3)


def test_ceiling_by_hand_for_fixed_lengths():
    # Every sequence has length 4 and K = 3: positions 0..2 have a uniform right neighbour (accuracy 1/3 at best),
    # the last one is known to be last (right neighbour 0, accuracy 1): (3 * 1/3 + 1) / 4 = 0.5.
    assert recipe.unidirectional_ceiling(digits=3, min_length=4, max_length=4) == pytest.approx(0.5)


def test_ceiling_matches_a_simulated_bayes_optimal_left_to_right_tagger():
    """The best left-only tagger guesses x_{t-1} + (0 if "t is last" is likelier than any one digit, else 1):
    its measured accuracy on many sampled sequences agrees with the formula."""
    digits, low, high = 3, 2, 6
    rng = np.random.default_rng(1)
    sequences, tags = recipe.generate_sequences(10000, rng, digits=digits, min_length=low, max_length=high)
    p = np.zeros(high + 2)
    p[low:high + 1] = 1 / (high - low + 1)
    correct = total = 0
    for x, y in zip(sequences, tags):
        for t in range(len(x)):
            alive = p[t + 1:].sum()  # P(L > t)
            last = p[t + 1] / alive  # P(L = t + 1 | L > t)
            right = 0 if last > (1 - last) / digits else 1
            guess = (x[t - 1] if t else 0) + right
            correct += guess == y[t]
            total += 1
    ceiling = recipe.unidirectional_ceiling(digits=digits, min_length=low, max_length=high)
    assert correct / total == pytest.approx(ceiling, abs=0.01)
    assert ceiling > 1 / digits  # the ends of sequences help a little
    assert recipe.unidirectional_ceiling() < 0.2  # the default task: far below the 0.95 the bidirectional model gets


def test_batch_pads_ids_and_ignores_targets_at_padding():
    ids, targets, mask = recipe.batch([np.array([1, 2, 3]), np.array([4])], [np.array([2, 4, 2]), np.array([0])])
    assert ids.tolist() == [[1, 2, 3], [4, recipe.PAD, recipe.PAD]]
    assert targets.tolist() == [[2, 4, 2], [0, recipe.IGNORE, recipe.IGNORE]]
    assert mask.tolist() == [[True, True, True], [True, False, False]]


def test_masked_loss_and_accuracy_skip_padding(torch):
    rng = np.random.default_rng(2)
    sequences = [rng.integers(1, 10, size=n) for n in (5, 2, 4)]
    tags = [recipe.neighbour_sum_tags(s) for s in sequences]
    ids, targets, mask = recipe.batch(sequences, tags)
    logits = rng.standard_normal((3, 5, recipe.num_tags())).astype(np.float32)
    logits[~mask] = 1e3 * rng.standard_normal((int((~mask).sum()), recipe.num_tags()))  # garbage at padding
    ours = gb.tensor(logits, requires_grad=True)
    loss = recipe.masked_loss(ours, targets)
    loss.backward()
    # Oracle: torch's cross-entropy over the real tokens only (gathered, no padding at all).
    theirs = torch.tensor(logits, requires_grad=True)
    expected = torch.nn.functional.cross_entropy(theirs[torch.tensor(mask)], torch.tensor(targets[mask]))
    expected.backward()
    np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-5)
    np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), atol=1e-6)
    assert np.all(ours.grad.data[~mask] == 0)
    predictions = logits.argmax(-1)
    right, count = recipe.masked_accuracy(predictions, targets)
    assert count == 11 and right == int((predictions[mask] == targets[mask]).sum())


def test_parameter_formula_and_matching_hidden_size():
    for hidden, bidirectional in ((32, True), (7, False), (49, False)):
        model = recipe.Tagger(hidden, bidirectional)
        assert model.num_parameters() == recipe.tagger_parameters(hidden, bidirectional)
    target = recipe.tagger_parameters(recipe.HIDDEN_SIZE, True)
    hidden = recipe.matching_hidden_size(target)
    gap = abs(recipe.tagger_parameters(hidden, False) - target)
    assert gap <= abs(recipe.tagger_parameters(hidden - 1, False) - target)
    assert gap <= abs(recipe.tagger_parameters(hidden + 1, False) - target)
    assert gap / target < 0.02


@pytest.mark.parametrize("bidirectional", [False, True])
def test_outputs_at_real_tokens_do_not_see_trailing_padding(bidirectional):
    # The tagger packs its batch: neither direction reads the padding, so extra padding changes nothing at the real
    # tokens, and a short sequence batched with a long one gets what it gets alone.
    gb.random.manual_seed(0)
    model = recipe.Tagger(8, bidirectional)
    short, _, _ = recipe.batch([np.array([3, 1, 4])], [np.array([1, 7, 1])])
    padded = np.concatenate([short, np.zeros((1, 2), dtype=np.int64)], axis=1)
    both, _, _ = recipe.batch([np.array([3, 1, 4]), np.array([2, 2, 5, 9, 1])],
                             [np.zeros(3, dtype=np.int64), np.zeros(5, dtype=np.int64)])
    with gb.no_grad():
        alone = model(short).data
        np.testing.assert_allclose(model(padded).data[:, :3], alone, atol=1e-6)
        np.testing.assert_allclose(model(both).data[:1, :3], alone, atol=1e-6)
    assert np.all(recipe.Tagger(8, True).embedding.weight.data[recipe.PAD] == 0)


def test_smoke_run_writes_every_file(tmp_path, monkeypatch):
    monkeypatch.setattr(recipe, "TRAIN_SEQUENCES", 64)
    monkeypatch.setattr(recipe, "VAL_SEQUENCES", 16)
    monkeypatch.setattr(recipe, "TEST_SEQUENCES", 16)
    monkeypatch.setattr(recipe, "HIDDEN_SIZE", 8)
    metrics = recipe.run(RunConfig(epochs=2, out=str(tmp_path), verbose=0))
    assert json.loads((tmp_path / "metrics.json").read_text()) == pytest.approx(metrics)
    for key in ("bidirectional_accuracy", "unidirectional_accuracy", "unidirectional_ceiling",
                "parameters_bidirectional", "parameters_unidirectional", "train_seconds"):
        assert key in metrics, key
    assert 0 <= metrics["bidirectional_accuracy"] <= 1 and 0 <= metrics["unidirectional_accuracy"] <= 1
    assert metrics["parameters_bidirectional"] == recipe.tagger_parameters(8, True)
    assert metrics["parameters_unidirectional"] == recipe.tagger_parameters(metrics["hidden_unidirectional"], False)
    assert metrics["epochs"] == 2
    with open(tmp_path / "history.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert {"bidirectional_loss", "unidirectional_loss", "bidirectional_val_accuracy",
            "unidirectional_val_accuracy"} <= set(rows[0])
    for name in ("curves.png", "tagging.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG, name
    # The saved bidirectional tagger reproduces the reported test accuracy on the regenerated test set.
    model = recipe.Tagger(8, True)
    model.load_state_dict(gb.load(tmp_path / "model.safetensors"))
    uni = recipe.Tagger(metrics["hidden_unidirectional"], False)
    uni.load_state_dict(gb.load(tmp_path / "unidirectional.safetensors"))
    gb.random.manual_seed(0)
    rng = gb.random.numpy_generator()
    for count in (64, 16):  # train and validation come first from the seeded stream
        recipe.generate_sequences(count, rng)
    test = recipe.generate_sequences(16, rng)
    assert metrics["test_tokens"] == sum(len(s) for s in test[0])
    assert recipe.evaluate_tagger(model, *test)[1] == pytest.approx(metrics["bidirectional_accuracy"])
    assert recipe.evaluate_tagger(uni, *test)[1] == pytest.approx(metrics["unidirectional_accuracy"])


@pytest.mark.slow
def test_real_run_bidirectional_solves_it_and_unidirectional_stays_under_its_ceiling(tmp_path):
    metrics = recipe.run(RunConfig(out=str(tmp_path), verbose=0))
    assert metrics["bidirectional_accuracy"] >= 0.95
    # Bayes bound up to sampling noise of ~12k test tokens (sd about 0.003).
    assert metrics["unidirectional_accuracy"] <= metrics["unidirectional_ceiling"] + 0.015
    assert abs(metrics["parameters_unidirectional"] / metrics["parameters_bidirectional"] - 1) < 0.02
