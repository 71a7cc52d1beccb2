"""The reference app under a real supervisord, in the sandbox: its four programs RUN, toolbox-tui
is pointed at it (and at nothing example.com), and stopping the sandbox leaves no process of
theirs behind."""

from __future__ import annotations

import re
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from tests.sandbox.procs import Proc, left_behind
from toolbox_tui.sandbox import local_server
from toolbox_tui.sandbox.ports import free_port
from toolbox_tui.sandbox.reference_app import ReferenceAppSettings
from toolbox_tui.sandbox.stack import Sandbox
from toolbox_tui.sandbox.supervisor import PROGRAMS, SupervisorServer
from toolbox_tui.sandbox.tls import CertificateAuthority

STATUS_LINE = re.compile(r"^(\S+)\s+RUNNING\s+pid (\d+), uptime \S+$")


def supervisorctl(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    from toolbox_tui.sandbox.supervisor import find_binary

    ctl = find_binary().with_name("supervisorctl")
    return subprocess.run(
        [str(ctl), "-c", str(config), *args], capture_output=True, text=True, timeout=30
    )


def test_the_sandbox_runs_the_four_programs_and_stopping_it_leaves_none(tmp_path: Path) -> None:
    with Sandbox(tmp_path / "app") as sandbox:
        assert sandbox.app is not None and sandbox.app.directory is not None
        status = supervisorctl(sandbox.app.config_file, "status")
        running = {
            match[1]: int(match[2])
            for line in status.stdout.splitlines()
            if (match := STATUS_LINE.match(line))
        }
        assert sorted(running) == sorted(PROGRAMS), status.stdout
        procs = [Proc.of(pid) for pid in running.values()] + [Proc.of(sandbox.app.pid)]
        folder = sandbox.app.directory
    # Stopped on the way out, not later by the watchdog: nothing to wait for.
    assert left_behind(procs, [folder]) == []


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(tmp_path_factory.mktemp("sandbox") / "app") as started:
        yield started


def test_toolbox_is_pointed_at_the_running_app(sandbox: Sandbox) -> None:
    overrides = sandbox.config_overrides()
    token = overrides["api_token"]
    assert isinstance(token, SecretStr)
    context = ssl.create_default_context(cafile=str(overrides["ca_bundle"]))
    with httpx.Client(verify=context, timeout=10) as client:
        base = str(overrides["target_url"])
        assert client.get(f"{base}/api/health").json() == {"status": "healthy"}
        assert client.get(f"{base}/api/v1/health/db").json() == {"database": "connected"}
        me = client.get(
            f"{base}/api/v1/auth/me",
            headers={"Authorization": f"Bearer {token.get_secret_value()}"},
        )
        assert me.status_code == 200
        assert client.get(str(overrides["target_http_url"])).status_code == 301
    assert overrides["service_manager"] == "supervisord"
    assert Path(str(overrides["supervisor_config"])).is_file()
    assert "toolboxai.access GET /api/health 200" in Path(str(overrides["app_log"])).read_text()
    assert overrides["rate_limit_probe"] is True
    assert overrides["deployed_at"] is not None


def test_stripe_sends_its_events_to_the_app(sandbox: Sandbox) -> None:
    assert sandbox.stripe is not None
    [endpoint] = sandbox.stripe.webhook_endpoints
    url = sandbox.config_overrides()["stripe_webhook_url"]
    assert (
        endpoint.url == url == f"{sandbox.config_overrides()['target_url']}/api/v1/stripe/webhooks"
    )
    assert "example.com" not in str(url)


def test_the_exports_read_the_token_from_its_private_file(sandbox: Sandbox) -> None:
    exports = sandbox.shell_exports()
    secret = sandbox.api_token
    assert not [line for line in exports if secret in line]
    assert sandbox.api_token_file.stat().st_mode & 0o777 == 0o600
    script = "\n".join(
        [*exports, 'printf %s "$TOOLBOX_API_TOKEN"; echo; echo "$TOOLBOX_DEPLOYED_AT"']
    )
    shown = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    token, deployed = shown.stdout.splitlines()
    assert token == secret
    assert deployed == sandbox.config_overrides()["deployed_at"].isoformat()  # type: ignore[union-attr]


def test_a_taken_port_is_given_up_for_another(
    sandbox_ca: CertificateAuthority, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        offered = iter([busy])
        monkeypatch.setattr(local_server, "free_port", lambda: next(offered, None) or free_port())

        with SupervisorServer(ReferenceAppSettings(), sandbox_ca.issue("127.0.0.1")) as server:
            assert server.port != busy
            assert server.states() == dict.fromkeys(PROGRAMS, "RUNNING")


def test_one_program_is_stopped_and_started(sandbox_ca: CertificateAuthority) -> None:
    with SupervisorServer(ReferenceAppSettings(), sandbox_ca.issue("127.0.0.1")) as server:
        server.stop_program("toolboxai-celery-beat")
        assert server.states()["toolboxai-celery-beat"] == "STOPPED"
        status = supervisorctl(server.config_file, "status", "toolboxai-celery-beat")
        assert status.stdout.split()[:2] == ["toolboxai-celery-beat", "STOPPED"]

        server.start_program("toolboxai-celery-beat")

        assert server.states() == dict.fromkeys(PROGRAMS, "RUNNING")
