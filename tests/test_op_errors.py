"""Error inputs are data: each row of op_specs.ERRORS must raise its exception type with a message a person can act
on (the op, the shapes, the fix). Where torch is installed, the same input must also fail in torch, which proves the
row describes a genuinely bad input (rows where glassbox is deliberately stricter say why)."""

import numpy as np
import pytest
from op_specs import ERRORS, make_lib


@pytest.mark.parametrize("spec", ERRORS, ids=lambda spec: spec.name)
def test_glassbox_raises(spec):
    with pytest.raises(spec.exc, match=spec.match):
        spec.fn(make_lib("glassbox", {}, np.float32))


@pytest.mark.parametrize("spec", [e for e in ERRORS if e.torch], ids=lambda spec: spec.name)
def test_input_is_invalid_in_torch_too(spec, torch):
    with pytest.raises(Exception):  # noqa: B017  (any exception: torch's types and messages differ)
        spec.fn(make_lib("torch", {}, np.float32))


def test_stricter_rows_give_a_reason():
    assert all(e.reason for e in ERRORS if not e.torch)
