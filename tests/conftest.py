"""Shared fixtures. torch is a test-only oracle: tests that need it take the `torch` fixture (skipped without it)."""

import pytest


@pytest.fixture(scope="session")
def torch():
    return pytest.importorskip("torch")
