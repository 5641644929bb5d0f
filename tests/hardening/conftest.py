"""tests/hardening: the long variants (marked ``soak``) run only when asked for,
with ``-m soak`` or ``STREAMVIS_SOAK=1``; the access-control tests' fixtures (the token
server, started once per module that asks for it; no credentials from the environment)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.hardening.access_support import TOKEN, Server
from tests.hardening.fuzz_support import base, fuzz_report  # noqa: F401 - the fuzz tests' fixtures


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("STREAMVIS_SOAK") == "1" or "soak" in (config.option.markexpr or ""):
        return
    skip = pytest.mark.skip(reason="soak run: use -m soak or STREAMVIS_SOAK=1")
    for item in items:
        if "soak" in item.keywords and str(item.path).startswith(os.path.dirname(__file__)):
            item.add_marker(skip)


@pytest.fixture
def no_ambient_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STREAMVIS_TOKEN", raising=False)
    monkeypatch.delenv("STREAMVIS_TLS_CA", raising=False)


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("tok") / "log.svl", "--token", TOKEN)
    yield srv
    srv.stop()
