"""BernoulliRBM and DBN against exact computations on tiny models (every visible and hidden state enumerated):
free energy, conditionals, the exact log-likelihood gradient (itself checked by finite differences), the expected
CD-1 estimate, PCD, pseudo-likelihood, Gibbs sampling; and the DBN's unrolled MLP against the RBM stack."""

import itertools

import numpy as np
import pytest

import glassbox as gb
from glassbox.errors import ShapeError
from glassbox.io import safetensors_io
from glassbox.models.dbn import DBN
from glassbox.models.rbm import BernoulliRBM


def _states(n):
    """All 2^n binary vectors (2^n, n), float64."""
    return np.array(list(itertools.product([0.0, 1.0], repeat=n)))


def _tiny(n_visible=3, n_hidden=2, seed=0, scale=1.0):
    """A float64 RBM with O(1) random weights and biases (so that every probability is far from 0 and 1)."""
    rbm = BernoulliRBM(n_visible, n_hidden, dtype=np.float64)
    rng = np.random.default_rng(seed)
    rbm.weight.data[...] = scale * rng.standard_normal((n_visible, n_hidden))
    rbm.visible_bias.data[...] = scale * rng.standard_normal(n_visible)
    rbm.hidden_bias.data[...] = scale * rng.standard_normal(n_hidden)
    return rbm


def _joint(rbm):
    """(V states, H states, p(v, h) (2^V, 2^H)) from the energy E = -v.b - h.c - v W h, by enumeration."""
    vs, hs = _states(rbm.n_visible), _states(rbm.n_hidden)
    W, b, c = rbm.weight.data, rbm.visible_bias.data, rbm.hidden_bias.data
    energy = -(vs @ b)[:, None] - (hs @ c)[None, :] - vs @ W @ hs.T
    p = np.exp(-energy)
    return vs, hs, p / p.sum()


def _exact_log_likelihood(rbm, data):
    """Mean log p(v) of binary data rows, by enumerating the partition function."""
    vs, _, p = _joint(rbm)
    pv = p.sum(axis=1)
    index = [int("".join(str(int(x)) for x in row), 2) for row in data]  # row -> its position in _states
    return float(np.log(pv[index]).mean())


def _exact_gradient(rbm, data):
    """<v h>_data - <v h>_model etc. by enumeration: (dW, db, dc) of the mean log-likelihood."""
    vs, hs, p = _joint(rbm)
    ph_data = 1 / (1 + np.exp(-(data @ rbm.weight.data + rbm.hidden_bias.data)))
    model_vh = np.einsum("vh,vi,hj->ij", p, vs, hs)
    dW = data.T @ ph_data / len(data) - model_vh
    db = data.mean(0) - p.sum(1) @ vs
    dc = ph_data.mean(0) - p.sum(0) @ hs
    return dW, db, dc


DATA = np.array([[1, 0, 1], [1, 1, 0], [0, 0, 1], [1, 0, 1]], dtype=np.float64)


def test_free_energy_is_minus_log_sum_over_hidden_states():
    rbm = _tiny(3, 2)
    vs, hs = _states(3), _states(2)
    W, b, c = rbm.weight.data, rbm.visible_bias.data, rbm.hidden_bias.data
    by_definition = -np.log((np.exp(vs @ b)[:, None] * np.exp(hs @ c)[None, :] * np.exp(vs @ W @ hs.T)).sum(1))
    np.testing.assert_allclose(rbm.free_energy(vs), by_definition, rtol=1e-12, atol=1e-12)


def test_free_energy_does_not_overflow_for_large_weights():
    rbm = _tiny(3, 2, scale=400.0)
    assert np.all(np.isfinite(rbm.free_energy(_states(3))))


def test_conditionals_match_the_joint_distribution():
    rbm = _tiny(3, 2, seed=1)
    vs, hs, p = _joint(rbm)
    p_h_given_v = p / p.sum(axis=1, keepdims=True)  # (V states, H states)
    np.testing.assert_allclose(rbm.hidden_probabilities(vs), p_h_given_v @ hs, rtol=1e-10)
    p_v_given_h = (p / p.sum(axis=0, keepdims=True)).T  # (H states, V states)
    np.testing.assert_allclose(rbm.visible_probabilities(hs), p_v_given_h @ vs, rtol=1e-10)


def test_exact_gradient_helper_matches_finite_differences_of_the_log_likelihood():
    """The enumeration oracle itself, against central differences of the exact log-likelihood."""
    rbm = _tiny(3, 2, seed=2)
    grads = _exact_gradient(rbm, DATA)
    for param, grad in zip((rbm.weight, rbm.visible_bias, rbm.hidden_bias), grads):
        numerical = np.zeros_like(grad)
        for index in np.ndindex(grad.shape):
            saved = param.data[index]
            param.data[index] = saved + 1e-6
            plus = _exact_log_likelihood(rbm, DATA)
            param.data[index] = saved - 1e-6
            minus = _exact_log_likelihood(rbm, DATA)
            param.data[index] = saved
            numerical[index] = (plus - minus) / 2e-6
        np.testing.assert_allclose(grad, numerical, atol=1e-7)


def test_cd1_estimate_has_the_expectation_computed_by_enumerating_one_gibbs_step():
    """E[CD-1] = <v0 p(h|v0)>_data - sum_h0 p(h0|v0) sum_v1 p(v1|h0) v1 p(h|v1), enumerated exactly; the estimator
    is averaged over 100000 chains (each term is in [-1, 1]: standard error < 0.004, tolerance 0.015)."""
    rbm = _tiny(3, 2, seed=3)
    vs, hs = _states(3), _states(2)
    ph = rbm.hidden_probabilities(vs)  # (8, 2): p(h_j = 1 | v) for every visible state
    p_h_states = np.prod(np.where(hs[None] == 1, ph[:, None], 1 - ph[:, None]), axis=2)  # (8 v, 4 h) p(h | v)
    pv = rbm.visible_probabilities(hs)  # (4, 3)
    p_v_states = np.prod(np.where(vs[None] == 1, pv[:, None], 1 - pv[:, None]), axis=2)  # (4 h, 8 v) p(v | h)
    transition = p_h_states @ p_v_states  # (8, 8): p(v1 | v0) of one Gibbs step
    index = [int("".join(str(int(x)) for x in row), 2) for row in DATA]
    p_v1 = transition[index].mean(axis=0)  # distribution of v1 over the data's chains
    expected_dW = DATA.T @ ph[index] / len(DATA) - np.einsum("v,vi,vj->ij", p_v1, vs, ph)
    expected_db = DATA.mean(0) - p_v1 @ vs
    expected_dc = ph[index].mean(0) - p_v1 @ ph
    batch = np.tile(DATA, (25000, 1))
    dW, db, dc = rbm.contrastive_divergence(batch, k=1, rng=np.random.default_rng(0))
    np.testing.assert_allclose(dW, expected_dW, atol=0.015)
    np.testing.assert_allclose(db, expected_db, atol=0.015)
    np.testing.assert_allclose(dc, expected_dc, atol=0.015)
    # ...and CD-1 is biased: here its expectation is measurably not the log-likelihood gradient
    assert np.abs(expected_dW - _exact_gradient(rbm, DATA)[0]).max() > 0.05


def test_long_persistent_chains_estimate_the_exact_log_likelihood_gradient():
    """PCD with 40000 chains run for 60 steps samples the model: its estimate approaches the exact gradient."""
    rbm = _tiny(3, 2, seed=3)
    rng = np.random.default_rng(1)
    chains = (rng.random((40000, 3)) < 0.5).astype(np.float64)
    before = chains.copy()
    dW, db, dc = rbm.contrastive_divergence(DATA, k=60, persistent=chains, rng=rng)
    assert not np.array_equal(chains, before)  # the chain state was advanced in place
    for ours, exact in zip((dW, db, dc), _exact_gradient(rbm, DATA)):
        np.testing.assert_allclose(ours, exact, atol=0.02)


def test_gibbs_chains_reach_the_model_distribution():
    rbm = _tiny(3, 2, seed=4)
    vs, _, p = _joint(rbm)
    rng = np.random.default_rng(2)
    v = (rng.random((40000, 3)) < 0.5).astype(np.float64)
    for _ in range(40):
        v = rbm.gibbs_step(v, rng)
    counts = np.bincount((v @ np.array([4, 2, 1])).astype(int), minlength=8) / len(v)
    np.testing.assert_allclose(counts, p.sum(axis=1), atol=0.015)


def test_pseudo_likelihood_exact_and_stochastic_match_enumeration():
    rbm = _tiny(4, 3, seed=5)
    vs, _, p = _joint(rbm)
    pv = p.sum(axis=1)
    data = vs[[1, 6, 9, 15, 15]]
    expected = []
    for row in data:
        total = 0.0
        for i in range(4):
            flipped = row.copy()
            flipped[i] = 1 - flipped[i]
            p_row, p_flip = (pv[int("".join(str(int(x)) for x in r), 2)] for r in (row, flipped))
            total += np.log(p_row / (p_row + p_flip))  # log p(v_i | v_-i)
        expected.append(total)
    assert rbm.pseudo_likelihood(data) == pytest.approx(np.mean(expected), rel=1e-10)
    # probabilities are rounded to binary states first
    assert rbm.pseudo_likelihood(0.2 + 0.6 * data) == pytest.approx(np.mean(expected), rel=1e-10)
    stochastic = rbm.pseudo_likelihood(np.tile(data, (20000, 1)), rng=np.random.default_rng(3))
    assert stochastic == pytest.approx(np.mean(expected), abs=0.05)


def test_reconstruction_error_by_hand():
    rbm = _tiny(3, 2, seed=6)
    W, b, c = rbm.weight.data, rbm.visible_bias.data, rbm.hidden_bias.data
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    reconstruction = sig(sig(DATA @ W + c) @ W.T + b)
    assert rbm.reconstruction_error(DATA) == pytest.approx(((DATA - reconstruction) ** 2).sum(1).mean())


@pytest.mark.parametrize("persistent", [False, True])
def test_fit_raises_the_exact_log_likelihood(persistent):
    gb.random.manual_seed(0)
    rbm = BernoulliRBM(4, 3, dtype=np.float64)
    data = np.tile(np.array([[1, 1, 0, 0], [0, 0, 1, 1], [1, 1, 0, 0]], dtype=np.float64), (20, 1))
    before = _exact_log_likelihood(rbm, data)
    history = rbm.fit(data, epochs=30, batch_size=10, lr=0.1, momentum=0.5, persistent=persistent,
                      rng=np.random.default_rng(0))
    after = _exact_log_likelihood(rbm, data)
    assert after > before + 1.0, (before, after)
    assert len(history["reconstruction_error"]) == 30 and len(history["pseudo_likelihood"]) == 30
    assert history["pseudo_likelihood"][-1] > history["pseudo_likelihood"][0]


def test_fit_update_rule_momentum_and_weight_decay_by_hand():
    """fit's update, velocity <- momentum * velocity + lr * (grad - wd * W); W <- W + velocity, checked with the
    gradient estimate stubbed to zero so that only the decay and momentum act (a real CD estimate is random)."""
    rbm = _tiny(3, 2, seed=7)
    start = rbm.weight.data.copy()
    rbm.contrastive_divergence = lambda v, k=1, persistent=None, rng=None: (
        np.zeros((3, 2)), np.zeros(3), np.zeros(2))
    rbm.fit(DATA, epochs=1, batch_size=4, lr=0.5, momentum=0.0, weight_decay=0.1, rng=np.random.default_rng(0))
    np.testing.assert_allclose(rbm.weight.data, start * (1 - 0.5 * 0.1))  # one batch: one decay step
    rbm.weight.data[...] = start
    rbm.fit(DATA, epochs=2, batch_size=4, lr=0.5, momentum=0.5, weight_decay=0.1, rng=np.random.default_rng(0))
    v1 = -0.05 * start  # velocity after step 1; step 2: v2 = 0.5 v1 - 0.05 W1
    w1 = start + v1
    np.testing.assert_allclose(rbm.weight.data, w1 + 0.5 * v1 - 0.05 * w1)


def test_state_round_trips_through_safetensors(tmp_path):
    rbm = _tiny(5, 4, seed=8)
    safetensors_io.save(rbm.state_dict(), tmp_path / "rbm.safetensors")
    other = BernoulliRBM(5, 4, dtype=np.float64)
    other.load_state_dict(safetensors_io.load(tmp_path / "rbm.safetensors"))
    assert set(rbm.state_dict()) == {"weight", "visible_bias", "hidden_bias"}
    np.testing.assert_array_equal(other.free_energy(_states(5)), rbm.free_energy(_states(5)))


def test_bad_shapes_raise():
    rbm = BernoulliRBM(6, 3)
    with pytest.raises(ShapeError, match=r"BernoulliRBM.free_energy: expected visible states of shape \(N, 6\)"):
        rbm.free_energy(np.zeros((2, 5)))
    with pytest.raises(ShapeError, match="visible_probabilities"):
        rbm.visible_probabilities(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="k must be >= 1"):
        rbm.contrastive_divergence(np.zeros((2, 6)), k=0)


def test_dbn_to_mlp_computes_the_stack_hidden_probabilities():
    gb.random.manual_seed(0)
    dbn = DBN([6, 5, 4], dtype=np.float64)
    rng = np.random.default_rng(9)
    for rbm in dbn.rbms:
        rbm.weight.data[...] = rng.standard_normal(rbm.weight.shape)
        rbm.hidden_bias.data[...] = rng.standard_normal(rbm.hidden_bias.shape)
    x = rng.random((7, 6))
    mlp = dbn.to_mlp(None)
    by_hand = x
    for rbm in dbn.rbms:  # the up-pass written out: sigmoid(x W + c), layer by layer
        by_hand = 1 / (1 + np.exp(-(by_hand @ rbm.weight.data + rbm.hidden_bias.data)))
    np.testing.assert_allclose(mlp(gb.tensor(x)).data, by_hand, rtol=1e-12)
    np.testing.assert_allclose(dbn.transform(x), by_hand, rtol=1e-12)
    classifier = dbn.to_mlp(3)
    assert classifier[0].weight.shape == (5, 6) and classifier[-1].weight.shape == (3, 4)
    classifier[0].weight.data[...] = 0  # a copy: fine-tuning the MLP leaves the DBN alone
    assert np.abs(dbn.rbms[0].weight.data).sum() > 0


def test_dbn_pretrain_feeds_each_rbm_the_previous_probabilities():
    gb.random.manual_seed(0)
    dbn = DBN([6, 4, 3], dtype=np.float64)
    seen = []
    for rbm in dbn.rbms:
        original = rbm.fit
        rbm.fit = (lambda fit: lambda x, **kw: (seen.append(np.array(x)), fit(x, **kw))[1])(original)
    data = (np.random.default_rng(0).random((30, 6)) < 0.5).astype(np.float64)
    histories = dbn.pretrain(data, epochs=[2, 1], batch_size=10, rng=np.random.default_rng(1))
    assert len(histories[0]["pseudo_likelihood"]) == 2 and len(histories[1]["pseudo_likelihood"]) == 1
    np.testing.assert_array_equal(seen[0], data)
    np.testing.assert_allclose(seen[1], dbn.rbms[0].hidden_probabilities(data))
    with pytest.raises(ValueError, match="one entry per RBM"):
        dbn.pretrain(data, epochs=[1, 1, 1])
