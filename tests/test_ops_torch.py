"""Oracle 2: glassbox means what PyTorch means. For each row of the op table (op_specs.py) and each shape set, the
same float32 inputs go through glassbox and torch: forward values must match (atol 1e-5, rtol 1e-4) and so must the
gradient of every input under the same random cotangent (atol 1e-4, rtol 1e-3), unless the row gives a reason."""

import numpy as np
import pytest
from op_specs import SPECS, make_lib

torch = pytest.importorskip("torch")


def _params():
    return [pytest.param(spec, c, id=f"{spec.name}-{c.id}") for spec in SPECS if spec.torch for c in spec.cases]


def _as_tuple(out):
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


@pytest.mark.parametrize("spec,case", _params())
def test_matches_torch(spec, case):
    arrays, extras = spec.sample(case)
    gm, tm = make_lib("glassbox", extras, np.float32), make_lib("torch", extras, np.float32)
    g_inputs = spec.inputs("glassbox", arrays, case, np.float32)
    t_inputs = spec.inputs("torch", arrays, case, np.float32)

    g_out, t_out = _as_tuple(spec.fn(gm, *g_inputs)), _as_tuple(spec.fn(tm, *t_inputs))
    assert len(g_out) == len(t_out), "number of outputs"
    atol, rtol = spec.fwd_tol
    for k, (g, t) in enumerate(zip(g_out, t_out)):
        expected = t.detach().numpy()
        assert g.shape == expected.shape, f"output {k}: shape {g.shape}, torch {expected.shape}"
        assert g.dtype == expected.dtype, f"output {k}: dtype {g.dtype}, torch {expected.dtype}"
        np.testing.assert_allclose(g.detach().numpy(), expected, atol=atol, rtol=rtol, equal_nan=False,
                                   err_msg=f"forward, output {k}")

    rng = np.random.default_rng(12345)
    cotangents = [rng.standard_normal(t.shape).astype(np.float32) for t in t_out]
    g_loss = sum((g * gm.from_numpy(u)).sum() for g, u in zip(g_out, cotangents))
    t_loss = sum((t * torch.from_numpy(u)).sum() for t, u in zip(t_out, cotangents))
    g_loss.backward()
    t_loss.backward()
    atol, rtol = spec.grad_tol
    for i, (g, t) in enumerate(zip(g_inputs, t_inputs)):
        if t.grad is None:
            assert g.grad is None or not g.grad.data.any(), f"input {i}: torch has no gradient, glassbox does"
            continue
        assert g.grad is not None, f"input {i}: glassbox computed no gradient"
        assert g.grad.shape == tuple(t.grad.shape) and g.grad.dtype == t.grad.numpy().dtype, f"input {i}"
        np.testing.assert_allclose(g.grad.data, t.grad.numpy(), atol=atol, rtol=rtol, equal_nan=False,
                                   err_msg=f"gradient of input {i}")
