"""Fixtures for the examples' tests: one live `veil serve` (simulated platform)
per test session, an owner connection (uploads) and an end-user connection
(inference only), both attested."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


@pytest.fixture(scope="session")
def veil_server(tmp_path_factory):
    s = common.Server(tmp_path_factory.mktemp("veil-examples"))
    yield s
    s.stop()


@pytest.fixture(scope="session")
def owner(veil_server):
    import veil

    with veil.connect(veil_server.url, allow_simulation=True, owner_token=veil_server.owner_token) as c:
        yield c


@pytest.fixture(scope="session")
def user(veil_server):
    import veil

    with veil.connect(veil_server.url, allow_simulation=True) as c:
        yield c
