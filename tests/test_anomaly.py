"""Anomaly mode: name the first op that produced NaN/Inf, forward or backward, and the user's line that called it."""

import inspect
import os
import re
import warnings

import numpy as np
import pytest

import glassbox as gb

THIS_FILE = os.path.basename(__file__)


@pytest.fixture(autouse=True)
def _quiet_numpy():
    """The NaNs here are on purpose: silence NumPy's RuntimeWarnings about them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with np.errstate(all="ignore"):
            yield
    assert gb.autograd.is_anomaly_enabled() is False, "a test left anomaly mode on"


def _line():
    """The line number of the caller's next line."""
    return inspect.currentframe().f_back.f_lineno + 1


def _assert_names_location(message, line):
    assert THIS_FILE in message, message
    assert re.search(rf"\b{line}\b", message), f"line {line} not in: {message}"


# ----- forward --------------------------------------------------------------------------------------------------


def test_forward_nan_from_log_of_negative_names_op_and_line():
    x = gb.tensor([-1.0, 2.0], requires_grad=True)
    with gb.autograd.detect_anomaly():
        with pytest.raises(RuntimeError) as info:
            line = _line()
            gb.log(x)
    message = str(info.value)
    assert "Log" in message
    assert "NaN" in message or "nan" in message
    _assert_names_location(message, line)


def test_forward_nan_from_zero_over_zero_names_div():
    a = gb.tensor([0.0, 1.0])
    b = gb.tensor([0.0, 1.0])
    with gb.autograd.detect_anomaly():
        with pytest.raises(RuntimeError) as info:
            line = _line()
            a / b
    message = str(info.value)
    assert "Div" in message
    _assert_names_location(message, line)


def test_forward_inf_is_reported():
    with gb.autograd.detect_anomaly():
        with pytest.raises(RuntimeError) as info:
            line = _line()
            gb.log(gb.tensor([0.0, 1.0]))
    message = str(info.value)
    assert "Log" in message
    assert "inf" in message.lower()
    _assert_names_location(message, line)


def test_forward_reports_first_bad_op_not_later_ones():
    x = gb.tensor([4.0, -1.0], requires_grad=True)
    with gb.autograd.detect_anomaly():
        y = x * 2
        with pytest.raises(RuntimeError) as info:
            gb.exp(gb.sqrt(y))  # sqrt makes the NaN; exp would only propagate it
    assert "Sqrt" in str(info.value)
    assert "Exp" not in str(info.value)


def test_forward_clean_ops_do_not_raise():
    x = gb.tensor([1.0, 2.0], requires_grad=True)
    with gb.autograd.detect_anomaly():
        y = (gb.log(x) * gb.exp(x) / (x + 1)).sum()
        y.backward()
    expected = (1 / np.array([1.0, 2.0]) * np.exp([1.0, 2.0]) + np.log([1.0, 2.0]) * np.exp([1.0, 2.0])) / np.array(
        [2.0, 3.0]) - np.log([1.0, 2.0]) * np.exp([1.0, 2.0]) / np.array([2.0, 3.0]) ** 2
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-5)


# ----- backward -------------------------------------------------------------------------------------------------


def test_backward_nan_from_sqrt_at_zero_names_op():
    x = gb.tensor([0.0, 1.0], requires_grad=True)
    with gb.autograd.detect_anomaly():
        line = _line()
        y = (gb.sqrt(x) * 0).sum()  # forward is finite; backward computes 0 / (2 * sqrt(0)) = NaN
        with pytest.raises(RuntimeError) as info:
            y.backward()
    message = str(info.value)
    assert "Sqrt" in message
    assert "Mul" not in message.split("\n")[0]  # the op blamed is the one whose backward made the NaN
    _assert_names_location(message, line)


def test_backward_nan_from_custom_function_names_it():
    class NanBackward(gb.autograd.Function):
        def forward(self, a):
            return a * 2

        def backward(self, grad):
            return grad * np.nan

    x = gb.tensor([1.0, 2.0], requires_grad=True)
    with gb.autograd.detect_anomaly():
        line = _line()
        y = NanBackward.apply(x)
        with pytest.raises(RuntimeError) as info:
            (y * 3).sum().backward()
    message = str(info.value)
    assert "NanBackward" in message
    _assert_names_location(message, line)


def test_backward_inf_from_custom_function_is_reported():
    class InfBackward(gb.autograd.Function):
        def forward(self, a):
            return a + 0

        def backward(self, grad):
            return grad / np.zeros_like(grad)

    x = gb.tensor([1.0], requires_grad=True)
    with gb.autograd.detect_anomaly():
        y = InfBackward.apply(x)
        with pytest.raises(RuntimeError) as info:
            y.sum().backward()
    assert "InfBackward" in str(info.value)
    assert "inf" in str(info.value).lower()


# ----- outside the context and state handling -------------------------------------------------------------------


def test_no_error_outside_context():
    x = gb.tensor([-1.0, 0.0], requires_grad=True)
    y = gb.log(x)  # NaN and -Inf, silently, as in torch without anomaly mode
    assert np.isnan(y.detach().numpy()[0])
    assert np.isinf(y.detach().numpy()[1])
    z = gb.tensor([0.0], requires_grad=True)
    (gb.sqrt(z) * 0).sum().backward()
    assert np.isnan(z.grad.numpy()[0])


def test_context_restores_previous_state():
    assert gb.autograd.is_anomaly_enabled() is False
    with gb.autograd.detect_anomaly():
        assert gb.autograd.is_anomaly_enabled() is True
        with gb.autograd.detect_anomaly():
            assert gb.autograd.is_anomaly_enabled() is True
        assert gb.autograd.is_anomaly_enabled() is True
    assert gb.autograd.is_anomaly_enabled() is False


def test_context_restores_state_after_anomaly_error():
    with pytest.raises(RuntimeError):
        with gb.autograd.detect_anomaly():
            gb.log(gb.tensor([-1.0]))
    assert gb.autograd.is_anomaly_enabled() is False
    gb.log(gb.tensor([-1.0]))  # no error any more


def test_check_nan_false_disables_checks_inside():
    with gb.autograd.detect_anomaly():
        with gb.autograd.detect_anomaly(check_nan=False):
            gb.log(gb.tensor([-1.0]))  # no error
        with pytest.raises(RuntimeError):
            gb.log(gb.tensor([-1.0]))
    assert gb.autograd.is_anomaly_enabled() is False


def test_top_level_alias():
    assert gb.detect_anomaly is gb.autograd.detect_anomaly
