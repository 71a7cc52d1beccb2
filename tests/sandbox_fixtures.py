"""Real local PostgreSQL, Redis and Vault (OpenBao) servers for the tests, and a fresh database
(or Vault namespace) per test; supervisord running the reference app, per test module.

A pytest plugin (``pytest_plugins`` in tests/conftest.py). Each server starts the first time
a test asks for it and once per session (supervisord: per module): a run that needs neither
starts neither. The servers are stopped when the session or module ends, whatever the tests
did.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from toolbox_tui.sandbox.openbao import OpenBaoServer
from toolbox_tui.sandbox.postgres import PostgresServer
from toolbox_tui.sandbox.redis import RedisServer
from toolbox_tui.sandbox.reference_app import ReferenceAppSettings
from toolbox_tui.sandbox.soketi import SoketiServer
from toolbox_tui.sandbox.supervisor import SupervisorServer
from toolbox_tui.sandbox.tls import CertificateAuthority


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster for the whole session; connect with ``postgres_server.url()``."""
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A Redis server for the whole session; connect with ``redis_server.url()``."""
    with RedisServer() as server:
        yield server


@pytest.fixture
def database(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a new, empty database on the session's server, dropped after the test."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    url = postgres_server.create_database(name)
    yield url
    # Ends any connection the test left open: a leaked pool must not keep the drop waiting.
    postgres_server.drop_database(name)


@pytest.fixture(scope="session")
def sandbox_ca() -> CertificateAuthority:
    """The CA that issues the certificates of the session's TLS servers."""
    return CertificateAuthority()


@pytest.fixture(scope="session")
def vault_server(sandbox_ca: CertificateAuthority) -> Iterator[OpenBaoServer]:
    """An initialised, unsealed OpenBao over TLS for the whole session; tests that change it
    work in a namespace of their own (see tests/checks/test_vault.py)."""
    with OpenBaoServer(sandbox_ca) as server:
        yield server


PUSHER_APP = ("1874321", "pusher-test-key-0001", "pusher-test-secret-PLANTED")


@pytest.fixture(scope="session")
def soketi_server() -> Iterator[SoketiServer]:
    """soketi serving the Pusher app ``PUSHER_APP`` (id, key, secret) for the whole session."""
    with SoketiServer(*PUSHER_APP) as server:
        yield server


@pytest.fixture(scope="module")
def supervisor(sandbox_ca: CertificateAuthority) -> Iterator[SupervisorServer]:
    """supervisord running the reference app's four programs. Per module, not per session: a
    module's tests stop, restart and break programs, and one module must not see another's."""
    with SupervisorServer(ReferenceAppSettings(), sandbox_ca.issue("127.0.0.1")) as server:
        yield server


@pytest.fixture
def no_systemd(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """As on these machines: no /run/systemd/system (whatever the host has). A module asks for
    it with ``pytestmark = pytest.mark.usefixtures("no_systemd")``."""
    import checks.service_manager as service_manager

    monkeypatch.setattr(service_manager, "SYSTEMD_RUNTIME", tmp_path / "no-systemd")
