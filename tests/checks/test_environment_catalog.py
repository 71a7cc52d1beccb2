"""The Environment pane as a whole: what it registers, that a good deployment passes every
check, and that no check ever puts a secret value in what it reports."""

from __future__ import annotations

import pytest
from fake_deployment import NOW, Deployment, RunCheck, supabase_key

from checks.checklist import CHECKLIST
from checks.context import CheckContext
from checks.core import CheckResult, Status, registry
from checks.events import Finished
from checks.redact import Redactor
from checks.runner import run_checks
from checks.settings import ENV_GROUPS, ENV_VARS, DeploymentEnv

ENV_CHECKS = [spec for spec in registry.checks.values() if spec.id.startswith("env.")]
# The Rollback pane has env.* actions of its own (restore the backup, apply the staged file).
ENV_ACTIONS = [a for a in registry.actions.values() if a.pane == "environment"]


def test_every_environment_check_is_in_the_pane_and_the_checklist() -> None:
    assert len(ENV_CHECKS) >= 30
    for spec in ENV_CHECKS:
        assert spec.pane == "environment", spec.id
        assert spec.checklist is not None, spec.id
        assert spec.checklist.item in CHECKLIST[spec.checklist.section], spec.id
        assert all(need in registry.checks for need in spec.needs), spec.id


def test_every_group_has_its_required_check() -> None:
    for group in ENV_GROUPS:
        assert f"env.required-{group.id}" in registry.checks


def test_the_actions() -> None:
    assert {a.id: a.dangerous for a in ENV_ACTIONS} == {
        "env.tighten-permissions": False,
        "env.generate-secret-key": True,
        "env.generate-jwt-secret-key": True,
        "env.rotate-fernet-key": True,
        "env.snapshot-backup": False,
    }
    assert all(a.id.startswith("env.") and a.key for a in ENV_ACTIONS)
    assert len({a.key for a in ENV_ACTIONS}) == len(ENV_ACTIONS)


@pytest.mark.parametrize("check_id", [spec.id for spec in ENV_CHECKS])
async def test_a_good_production_deployment_passes(check: RunCheck, check_id: str) -> None:
    result = await check(check_id)
    assert result.status == Status.PASS, result
    assert result.message and not result.actions


def broken(deployment: Deployment) -> dict[str, str | None]:
    """Every secret wrong in a way its check reports, so each message is written."""
    values = deployment.values
    changes: dict[str, str | None] = {
        var.name: f"Wr0ng-{var.name.lower()}-value-9f8e7d" for var in ENV_VARS if var.secret
    }
    changes.update(
        SECRET_KEY="tooShort-but-secret-4c1",
        JWT_SECRET_KEY="tooShort-but-secret-4c1",
        DATABASE_URL="mysql://toolbox:Pg-Secret-77x@db.internal/",
        REDIS_URL="http://:Redis-Secret-88y@cache.internal/zero",
        SUPABASE_KEY=values["SUPABASE_SERVICE_KEY"],
        SUPABASE_SERVICE_KEY=values["SUPABASE_KEY"],
        PUSHER_SECRET=values["PUSHER_KEY"],
        STRIPE_SECRET_KEY=f"sk_test_{'9z' * 30}",
        DATA_ENCRYPTION_KEY_OLD_1=values["DATA_ENCRYPTION_KEY"],
        DEBUG="true",
        LAST_KEY_ROTATION="2020-01-01T00:00:00Z",
    )
    return changes


@pytest.mark.parametrize("variant", ["good", "broken", "placeholders", "swapped-supabase-jwt"])
async def test_no_check_reports_a_secret_value_even_unredacted(
    deployment: Deployment, variant: str
) -> None:
    if variant == "broken":
        deployment.write(**broken(deployment))
    elif variant == "placeholders":
        deployment.write(**{var.name: f"<your_{var.name.lower()}>" for var in ENV_VARS})
    elif variant == "swapped-supabase-jwt":
        deployment.write(SUPABASE_KEY=supabase_key("service_role"))
    env = DeploymentEnv.load(deployment.env_file)
    # A redactor that knows nothing: the checks themselves must never say a secret.
    ctx = CheckContext(env, deployment.config, Redactor(), clock=lambda: NOW)
    events = [e async for e in run_checks(registry.select(panes=["environment"]), ctx)]
    text = repr(events)
    secrets = [v for v in env.secret_values() if len(v) >= 6 and v not in ("production",)]
    assert secrets
    leaked = [name for name, value in env.values.items() if value in secrets and value in text]
    assert leaked == []
    results: list[CheckResult] = [e.result for e in events if isinstance(e, Finished)]
    if variant != "good":
        assert any(r.status == Status.FAIL for r in results)
    for result in results:
        assert all(a in registry.actions for a in result.actions), result
        assert result.status != Status.ERROR, result


ODD_VALUES = [
    " ",
    "é ü 😀",
    "=",
    "://",
    "http://[::1",
    "postgresql://u:p@[bad/db",
    "redis://:pw@host:99999/0",
    "https://:@/",
    "a" * 5000,
    "@@@",
    "SG..",
    "eyJ.eyJ.sig",
    "0001-01-01",
    "-0",
]


@pytest.mark.parametrize("odd", ODD_VALUES)
async def test_odd_values_fail_checks_but_never_crash_them(
    deployment: Deployment, odd: str
) -> None:
    deployment.write(**{var.name: odd for var in ENV_VARS})
    ctx = deployment.context()
    events = [e async for e in run_checks(registry.select(panes=["environment"]), ctx)]
    results = [e.result for e in events if isinstance(e, Finished)]
    assert [r for r in results if r.status == Status.ERROR] == []
    assert any(r.status == Status.FAIL for r in results)
