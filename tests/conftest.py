"""Shared test set-up: hypothesis profiles and small helpers."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from tests.helpers import ChildProcesses, reap

settings.register_profile(
    "ci",
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "dev",
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture
def procs() -> Iterator[ChildProcesses]:
    """Start child processes with ``procs.popen(args, ...)`` (like subprocess.Popen)."""
    children = ChildProcesses()
    try:
        yield children
    finally:
        children.reap()


@pytest.fixture(autouse=True)
def _reap_children_of_the_test() -> Iterator[None]:
    """Every child started during a test (``procs``, ``spawn``) is reaped when it ends,
    on every path; children of wider fixtures (started before it) are left to them."""
    before = {id(p) for p in ChildProcesses.started}
    yield
    reap([p for p in ChildProcesses.started if id(p) not in before])


@pytest.fixture(autouse=True, scope="session")
def _reap_children_of_the_session() -> Iterator[None]:
    yield
    reap(ChildProcesses.started)
