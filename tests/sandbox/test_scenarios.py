"""The sandbox's scenarios: each makes exactly its check fail, and the fix (where there is
one) makes it pass; every process stops when the sandbox does, also on an error."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from checks import catalog
from checks.context import CheckContext
from checks.core import Status
from checks.events import ActionDone, Finished
from checks.runner import run_action, run_checks
from checks.settings import ToolboxConfig
from tests.sandbox.procs import Proc, left_behind
from toolbox_tui.sandbox.errors import SandboxError
from toolbox_tui.sandbox.stack import SCENARIOS, Sandbox

PANES = ("migrations", "integrations", "health", "security")
# A scenario may fail more than its own check when the app shows it too: with PostgreSQL
# down, the app's /api/v1/health/db rightly says disconnected; with the release's migration
# pending, the app has no roblox_environments table to create an environment in.
ALSO_FAILS = {
    "db-down": {"api.db-health"},
    "pending-migration": {"smoke.roblox-environment"},
}


async def statuses(sandbox: Sandbox) -> tuple[dict[str, Status], CheckContext]:
    ctx = CheckContext.create(ToolboxConfig(**sandbox.config_overrides()))  # type: ignore[arg-type]
    found = {}
    async for event in run_checks(catalog.load().select(panes=PANES), ctx):
        if isinstance(event, Finished):
            found[event.result.id] = event.result.status
    return found, ctx


def failing(found: dict[str, Status]) -> set[str]:
    return {check_id for check_id, status in found.items() if status is Status.FAIL}


async def test_healthy_sandbox_fails_nothing(tmp_path: Path) -> None:
    with Sandbox(tmp_path) as sandbox:
        found, _ = await statuses(sandbox)
    assert failing(found) == set()
    assert found["db.revision-state"] is Status.PASS and found["redis.reachable"] is Status.PASS
    assert found["vault.fernet-backup"] is Status.PASS
    # The reference app answers every check of the running app: none of them skips.
    for check_id in ("api.latency", "tls.https-redirect", "services.running", "logs.errors"):
        assert found[check_id] is Status.PASS, check_id
    for check_id in ("smoke.roblox-environment", "sec.rate-limit", "sec.token-revocation"):
        assert found[check_id] is Status.PASS, check_id


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
async def test_each_scenario_fails_exactly_its_check(tmp_path: Path, scenario: str) -> None:
    breaks = SCENARIOS[scenario].breaks
    with Sandbox(tmp_path, [scenario]) as sandbox:
        found, _ = await statuses(sandbox)
    assert failing(found) == {breaks, *ALSO_FAILS.get(scenario, ())}


async def test_pending_migration_is_fixed_by_backup_then_upgrade(tmp_path: Path) -> None:
    registry = catalog.load()
    with Sandbox(tmp_path, ["pending-migration"]) as sandbox:
        _, ctx = await statuses(sandbox)
        for action_id in ("db.backup", "db.upgrade"):
            async for event in run_action(registry.actions[action_id], ctx, confirmed=True):
                if isinstance(event, ActionDone):
                    assert event.outcome == "ok", event.message
        found, _ = await statuses(sandbox)
    assert failing(found) == set()


@pytest.mark.parametrize(
    ("scenario", "fix"),
    [
        ("fernet-not-in-vault", "vault.store-fernet-key"),
        ("bucket-missing", "storage.create-bucket"),
        ("stripe-webhook-events", "stripe.fix-webhook"),
        ("service-down", "services.restart"),
    ],
)
async def test_an_integration_scenario_is_fixed_by_its_action(
    tmp_path: Path, scenario: str, fix: str
) -> None:
    registry = catalog.load()
    with Sandbox(tmp_path, [scenario]) as sandbox:
        found, ctx = await statuses(sandbox)
        assert failing(found) == {SCENARIOS[scenario].breaks}
        async for event in run_action(registry.actions[fix], ctx, confirmed=True):
            if isinstance(event, ActionDone):
                assert event.outcome == "ok", event.message
        await until_the_app_listens(sandbox)
        found, _ = await statuses(sandbox)
    assert failing(found) == set()


async def until_the_app_listens(sandbox: Sandbox, seconds: float = 30.0) -> None:
    """A restarted backend listens a moment after supervisord reports it RUNNING (systemd's
    ``restart`` returns as early): wait for its port, as a person would before checking."""
    target = urlsplit(str(sandbox.config_overrides()["target_url"]))
    assert target.hostname is not None and target.port is not None
    deadline = time.monotonic() + seconds
    while True:
        try:
            _, writer = await asyncio.open_connection(target.hostname, target.port)
        except OSError:
            assert time.monotonic() < deadline, f"the app is not listening after {seconds} s"
            await asyncio.sleep(0.1)
        else:
            writer.close()
            return


def test_unknown_scenario_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match="unknown scenario"):
        Sandbox(tmp_path, ["kitchen-fire"])


def test_an_error_inside_the_sandbox_stops_every_process(tmp_path: Path) -> None:
    procs: list[Proc] = []
    folders: list[Path] = []
    with pytest.raises(RuntimeError, match="boom"), Sandbox(tmp_path) as sandbox:
        for server in (sandbox.postgres, sandbox.redis, sandbox.vault):
            procs.append(Proc.of(server.pid))
            assert server.directory is not None
            folders.append(server.directory)
        raise RuntimeError("boom")
    # Stopped on the way out, not later by the watchdog: nothing to wait for.
    assert left_behind(procs, folders) == []


async def test_db_down_can_be_brought_back_with_its_data(tmp_path: Path) -> None:
    with Sandbox(tmp_path, ["db-down"]) as sandbox:
        found, _ = await statuses(sandbox)
        assert failing(found) == {"db.reachable", *ALSO_FAILS["db-down"]}
        assert sandbox.postgres.directory is not None
        assert sandbox.postgres.directory.exists()

        sandbox.postgres.start()

        found, _ = await statuses(sandbox)
        assert failing(found) == set()
        assert found["db.revision-state"] is Status.PASS  # the migrated database is still there
        folder = sandbox.postgres.directory
    assert not folder.exists()


async def test_postgres_stopping_in_the_middle_of_a_run(tmp_path: Path) -> None:
    """The server dies while the pane runs: every check ends with a verdict, none crashes."""
    with Sandbox(tmp_path) as sandbox:
        ctx = CheckContext.create(ToolboxConfig(**sandbox.config_overrides()))  # type: ignore[arg-type]
        results = {}
        async for event in run_checks(catalog.load().select(panes=PANES), ctx):
            if isinstance(event, Finished):
                results[event.result.id] = event.result
                if event.result.id == "db.reachable":
                    sandbox.postgres.stop()
    assert results["db.reachable"].status is Status.PASS
    assert all(r.message for r in results.values())
    broken = [r for r in results.values() if r.status is Status.ERROR]
    assert not [r for r in broken if "crashed" in r.message], [r.message for r in broken]
    assert any(r.status is Status.FAIL for r in results.values())


# Which peer to stop once the check that first reaches it has passed: the checks after it
# then meet a service that went away between two requests of one run.
STOP_AFTER = {
    "vault.health": lambda sandbox: sandbox.vault.stop(),
    "email.sendgrid-key": lambda sandbox: sandbox.sendgrid.stop(),
    "storage.reachable": lambda sandbox: sandbox.storage.stop(),
}


async def test_integration_peers_stopping_in_the_middle_of_a_run(tmp_path: Path) -> None:
    """Vault, SendGrid and Supabase go away while the pane runs: every check that still
    needed them fails with a sentence (no crash, no hang), naming the service."""
    with Sandbox(tmp_path) as sandbox:
        ctx = CheckContext.create(ToolboxConfig(**sandbox.config_overrides()))  # type: ignore[arg-type]
        results = {}
        async for event in run_checks(catalog.load().select(panes=["integrations"]), ctx):
            if isinstance(event, Finished):
                results[event.result.id] = event.result
                if event.result.id in STOP_AFTER and event.result.status is Status.PASS:
                    STOP_AFTER[event.result.id](sandbox)
    assert all(results[first].status is Status.PASS for first in STOP_AFTER)
    crashed = [r.message for r in results.values() if r.status is Status.ERROR]
    assert crashed == []
    after = ["vault.app-login", "email.sender-verified", "storage.bucket-private"]
    for check_id in after:
        assert results[check_id].status is Status.FAIL, results[check_id].message
        assert "refused the connection" in results[check_id].message, results[check_id].message
