"""The steps of a release and of a rollback: the checklist's "Deployment steps" and
"Rollback plan", as actions and checks.

A release backs up what it changes before changing it (the env file, the database), then
moves the code, its dependencies, the env and the schema, restarts the services and verifies
their health. A rollback undoes that in reverse: the schema first, while the code that holds
the downgrade scripts is still checked out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from checks.core import PANE_IDS, Registry
from checks.runbooks.model import RunbookError, Step

GATE_PANES = ("environment", "migrations", "integrations", "health", "security")
GATE_LEAVES = {"env.backup-present": "env-backup", "db.backup-verified": "db-backup"}
"""The gate's checks that the release's own next steps make pass: the gate shows them but
does not wait for them."""
VERIFY_PANES = ("health",)

_RESTART = Step(
    "restart",
    "Restart the services",
    "services.restart",
    check_by_hand="are the app's services running (supervisorctl status / systemctl status)?",
)
VERIFY_WITHIN = 30.0
"""Seconds the restarted services get to pass the health checks (supervisord calls a program
running before it listens)."""
_VERIFY = Step(
    "verify", "Verify the services' health", checks=VERIFY_PANES, retry_for=VERIFY_WITHIN
)
_DB_BACKUP = Step(
    "db-backup",
    "Back up the database",
    "db.backup",
    check_by_hand="a partial dump in the backup directory has no manifest and is never used.",
)


def _code(to_tag: str, check_by_hand: str) -> Step:
    return Step(
        "code",
        f"Check out {to_tag}",
        "code.checkout",
        {"tag": to_tag},
        check_by_hand=(
            "`git status` and `git describe` in the app directory: which commit is checked out"
            + check_by_hand
        ),
    )


def _deps(check_by_hand: str) -> Step:
    return Step(
        "deps",
        "Install the requirements",
        "deps.install",
        check_by_hand="`pip check` and `pip list` in the app's venv" + check_by_hand,
    )


def release_steps(to_tag: str) -> tuple[Step, ...]:
    return (
        Step("gate", "Gate: every check passes", checks=GATE_PANES, left_to=GATE_LEAVES),
        Step(
            "env-backup",
            "Snapshot .env to .env.backup",
            "env.snapshot-backup",
            check_by_hand="does .env.backup hold the same values as .env?",
        ),
        _DB_BACKUP,
        _code(to_tag, ", and is the tree clean?"),
        _deps(": a half-done install can leave a package missing."),
        Step(
            "env",
            "Apply the staged env file",
            "env.apply-staged",
            check_by_hand="is .env complete (the staged one, or still the old one)?",
        ),
        Step(
            "migrations",
            "Upgrade the database",
            "db.upgrade",
            check_by_hand="`alembic current`: which revision is the database at? An upgrade "
            "that was killed rolls back in PostgreSQL, unless a migration committed itself.",
        ),
        _RESTART,
        _VERIFY,
    )


ROLLBACK_UNDOES = ("migrations", "code", "deps", "env")
"""The rollback steps that undo the release step of the same id: each runs only when that
one started."""


def rollback_steps(to_tag: str, downgrade_to: str) -> tuple[Step, ...]:
    return (
        _DB_BACKUP,
        Step(
            "migrations",
            f"Downgrade the schema to {to_tag}",
            "db.downgrade",
            {"to": downgrade_to},
            check_by_hand="`alembic current`: which revision is the database at?",
        ),
        _code(to_tag, "?"),
        _deps("."),
        Step(
            "env",
            "Restore .env from .env.backup",
            "env.restore-backup",
            check_by_hand="does .env hold the values of .env.backup? The one it replaced is "
            "kept as .env.before-restore-*.",
        ),
        _RESTART,
        _VERIFY,
    )


def step_ids(kind: str) -> tuple[str, ...]:
    """The ids of a release's or a rollback's steps, in order (they do not depend on the
    tags)."""
    defined = release_steps("v0.0.0") if kind == "release" else rollback_steps("v0.0.0", "base")
    return tuple(step.id for step in defined)


def rollback_skips(release_started: Iterable[str]) -> dict[str, str]:
    """The rollback steps that have nothing to undo, given the steps of the release that
    started (step id -> why it is skipped). The database backup goes with the downgrade."""
    started = set(release_started)
    skips = {
        step: "the release did not get to this step"
        for step in ROLLBACK_UNDOES
        if step not in started
    }
    if "migrations" in skips:
        skips["db-backup"] = "the release did not change the database"
    return skips


def bind(steps: Iterable[Step], registry: Registry, kind: str) -> tuple[Step, ...]:
    """``steps`` with each action step's ``dangerous`` as its action says; RunbookError naming
    the step when an action or check is not registered."""
    bound = []
    for step in steps:
        if step.action_id is not None:
            action = registry.actions.get(step.action_id)
            if action is None:
                raise RunbookError(
                    f"The {kind} runbook cannot run: its step '{step.id}' ({step.title}) runs "
                    f"the action {step.action_id}, which this toolbox-tui does not have. "
                    "Update toolbox-tui, or do that step by hand."
                )
            step = replace(step, dangerous=action.dangerous)
        else:
            check_selection(step, registry)
        bound.append(step)
    return tuple(bound)


def check_selection(step: Step, registry: Registry) -> Mapping[str, list[str]]:
    """What a gate or verify step selects: ``{"panes": [...], "ids": [...]}``."""
    panes = [name for name in step.checks if name in PANE_IDS]
    ids = [name for name in step.checks if name not in PANE_IDS]
    unknown = [name for name in ids if name not in registry.checks]
    if unknown:
        raise RunbookError(
            f"The step '{step.id}' ({step.title}) runs the check(s) {', '.join(unknown)}, "
            "which this toolbox-tui does not have."
        )
    return {"panes": panes, "ids": ids}
