"""Rosenblatt's perceptron: the update rule against a hand computation, Novikoff's mistake bound on separable data,
and XOR, which no line separates (an algebraic identity, an enumeration of all labellings, and the rule cycling)."""

import itertools

import numpy as np
import pytest

from glassbox.errors import ShapeError
from glassbox.models.perceptron import Perceptron, PerceptronFit
from glassbox.random import Generator

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([-1, 1, 1, -1])


def test_two_updates_by_hand():
    x = np.array([[1.0, 2.0], [-1.0, 0.5]])
    y = np.array([1, -1])
    p = Perceptron(2, learning_rate=0.5)
    trace = []
    result = p.fit(x, y, max_epochs=10, trace=trace)
    # Epoch 1, example 0: score 0 counts as a mistake -> w = 0.5 * (+1) * (1, 2) = (0.5, 1), b = 0.5.
    # Example 1: score = -0.5 + 0.5 + 0.5 = 0.5 but y = -1 -> w = (0.5, 1) - 0.5 * (-1, 0.5) = (1, 0.75), b = 0.
    # Epoch 2: scores 1 + 1.5 = 2.5 (y = +1) and -1 + 0.375 = -0.625 (y = -1): no mistake, converged.
    assert result == PerceptronFit(updates=2, converged=True, epochs=2)
    np.testing.assert_allclose(trace[0][2], [0.5, 1.0])
    assert trace[0][:2] == (1, 0) and trace[0][3] == 0.5
    np.testing.assert_allclose(p.weight, [1.0, 0.75])
    assert p.bias == 0.0 and trace[1][:2] == (1, 1) and trace[1][3] == 0.0
    assert p.updates == 2 and p.updates_per_epoch == [2, 0]
    np.testing.assert_allclose(p.decision_function(x), [2.5, -0.625])
    assert p.predict(x).tolist() == [1, -1]
    state = p.state_dict()
    assert state["weight"].shape == (1, 2) and state["bias"].shape == (1,)


def test_correct_examples_leave_the_unit_alone_and_a_zero_score_is_a_mistake():
    p = Perceptron(2)
    p.weight[:] = [1.0, -1.0]
    p.bias = 0.5
    assert p.train_epoch(np.array([[2.0, 0.0], [0.0, 3.0]]), np.array([1, -1])) == 0  # both on their side
    np.testing.assert_allclose(p.weight, [1.0, -1.0])
    # score of (0.5, 1) is 0.5 - 1 + 0.5 = 0: on the boundary, so an update, even though y = -1 and "sign 0"
    assert p.train_epoch(np.array([[0.5, 1.0]]), np.array([-1])) == 1
    np.testing.assert_allclose(p.weight, [0.5, -2.0])
    assert p.bias == -0.5 and p.predict(np.array([[0.5, 1.0]])).tolist() == [-1]


def separable_set(seed, n=80, dim=3, margin=0.15):
    """Points in [-1, 1]^dim labelled by a random unit (u, c) in the augmented space (x, 1), with every point at
    augmented margin >= `margin`; returns x, y, and Novikoff's (R / gamma)^2 for that separator."""
    rng = np.random.default_rng(seed)
    normal = rng.standard_normal(dim)
    through = rng.uniform(-0.5, 0.5, dim)  # the plane passes through this point, so both classes get points
    direction = np.append(normal, -normal @ through)
    direction /= np.linalg.norm(direction)
    x = rng.uniform(-1, 1, (20 * n, dim))
    augmented = np.concatenate([x, np.ones((len(x), 1))], axis=1)
    score = augmented @ direction
    keep = np.abs(score) >= margin
    x, score, augmented = x[keep][:n], score[keep][:n], augmented[keep][:n]
    y = np.where(score > 0, 1, -1)
    gamma = np.min(y * score)  # u has unit norm: this is the geometric margin of u
    radius = np.linalg.norm(augmented, axis=1).max()
    return x, y, (radius / gamma) ** 2


@pytest.mark.parametrize("seed", range(6))
def test_converges_on_separable_data_within_novikoffs_bound(seed):
    x, y, bound = separable_set(seed)
    assert len(x) == 80 and 0 < (y > 0).sum() < 80
    for rng in (None, np.random.default_rng(seed)):
        p = Perceptron(3)
        result = p.fit(x, y, max_epochs=int(bound) + 2, rng=rng)  # every epoch before the last has a mistake
        assert result.converged and result.updates == p.updates == sum(p.updates_per_epoch)
        assert result.updates <= bound  # Novikoff (1962): at most (R / gamma)^2 mistakes, from a zero start
        assert np.all(p.predict(x) == y) and np.all(y * p.decision_function(x) > 0)
        assert p.updates_per_epoch[-1] == 0 and all(m > 0 for m in p.updates_per_epoch[:-1])


def test_learning_rate_only_rescales_the_weights_from_a_zero_start():
    x, y, _ = separable_set(11)
    one, tenth = Perceptron(3, learning_rate=1.0), Perceptron(3, learning_rate=0.1)
    r1, r2 = one.fit(x, y), tenth.fit(x, y)
    assert r1 == r2
    np.testing.assert_allclose(tenth.weight, 0.1 * one.weight, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(tenth.bias, 0.1 * one.bias, rtol=1e-9, atol=1e-12)


def test_shuffling_is_reproducible_with_a_seeded_generator():
    x, y, _ = separable_set(3)
    results = []
    for _ in range(2):
        p = Perceptron(3)
        results.append((p.fit(x, y, rng=Generator(5)), p.weight.copy()))
    assert results[0][0] == results[1][0]
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_no_line_separates_xor_the_algebra():
    # For every line, score(0,1) + score(1,0) = w1 + w2 + 2b = score(0,0) + score(1,1). A separating line would need
    # the left side > 0 (both XOR = 1 points positive) and the right side <= 0 (both XOR = 0 points not): impossible.
    # So every line misclassifies at least one of the four points: accuracy <= 3/4.
    rng = np.random.default_rng(0)
    for _ in range(200):
        w, b = rng.standard_normal(2), rng.standard_normal()
        s = XOR_X @ w + b
        assert np.isclose(s[1] + s[2], s[0] + s[3])
        assert np.mean(np.where(s > 0, 1, -1) == XOR_Y) <= 0.75


def test_of_all_16_labellings_of_the_square_only_xor_and_xnor_defeat_the_perceptron():
    # A converged run's own line separates its labelling (checked), so the 14 others are linearly separable;
    # XOR and its complement (XNOR) never converge, as the identity in the test above says they cannot.
    failures = []
    for labels in itertools.product([-1, 1], repeat=4):
        p = Perceptron(2)
        result = p.fit(XOR_X, np.array(labels), max_epochs=200)
        if result.converged:
            assert np.all(p.predict(XOR_X) == np.array(labels))
        else:
            failures.append(labels)
    assert sorted(failures) == sorted([tuple(XOR_Y), tuple(-XOR_Y)])


def test_on_xor_the_rule_cycles_forever():
    # In a fixed order the next epoch depends only on (weight, bias) at the start of the epoch; once a start state
    # repeats, the epochs repeat forever, each with mistakes, so the rule never converges.
    p = Perceptron(2)
    seen = {}
    for epoch in range(100):
        state = (*p.weight, p.bias)
        if state in seen:
            break
        seen[state] = epoch
        assert p.train_epoch(XOR_X, XOR_Y) > 0
    else:
        pytest.fail("no repeated state within 100 epochs")
    assert all(m > 0 for m in p.updates_per_epoch)
    # and in a shuffled order it also never converges (it cannot: no separator exists), with any seed
    for seed in range(3):
        q = Perceptron(2)
        result = q.fit(XOR_X, XOR_Y, max_epochs=300, rng=np.random.default_rng(seed))
        assert not result.converged and result.epochs == 300 and min(q.updates_per_epoch) >= 1
        assert np.mean(q.predict(XOR_X) == XOR_Y) <= 0.75


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="n_features"):
        Perceptron(0)
    with pytest.raises(ValueError, match="learning_rate"):
        Perceptron(2, learning_rate=0.0)
    p = Perceptron(2)
    with pytest.raises(ShapeError, match=r"Perceptron.fit: expected inputs of shape \(N, 2\), got \(4, 3\)"):
        p.fit(np.zeros((4, 3)), np.ones(4))
    with pytest.raises(ShapeError, match=r"expected labels of shape \(4,\)"):
        p.fit(np.zeros((4, 2)), np.ones((4, 1)))
    with pytest.raises(ValueError, match="labels must be -1 or \\+1"):
        p.fit(XOR_X, np.array([0, 1, 1, 0]))
    with pytest.raises(ValueError, match="max_epochs"):
        p.fit(XOR_X, XOR_Y, max_epochs=0)
    with pytest.raises(TypeError, match="rng"):
        p.fit(XOR_X, XOR_Y, rng=3)
    with pytest.raises(ShapeError, match="Perceptron.predict"):
        p.predict(np.zeros(2))
