"""Rollback pane, the services: every name in TOOLBOX_SERVICES is one the service manager
knows, so the rollback's restart cannot stop half-way on a typo.

Provides check ``rollback.services-known``. It asks the manager as the Health pane's
``services.running`` does (:mod:`checks.service_manager`), and judges only whether each name
resolves: a stopped service still resolves, and a restart starts it.
"""

from __future__ import annotations

from checks.checklist import ROLLBACK
from checks.context import CheckContext
from checks.core import Outcome, Status, check, failed, passed
from checks.service_manager import NO_MANAGER_HINT, manager, no_manager, services

PANE = "rollback"
CHECK_TIMEOUT = 20.0  # supervisorctl or systemctl answer within a second or two


@check(
    id="rollback.services-known",
    pane=PANE,
    title="Service units resolve",
    timeout=CHECK_TIMEOUT,
    checklist=(ROLLBACK, "Code rollback"),
    partial="the checkout of the previous release itself (rollback.previous-release)",
)
async def services_known(ctx: CheckContext) -> Outcome:
    found = manager(ctx)
    if found is None:
        return Outcome(Status.SKIP, no_manager(), hint=NO_MANAGER_HINT)
    names = ctx.config.service_names
    states = await services(ctx, found, names)
    evidence = {"manager": found.name, **{s.name: s.state for s in states}}
    unknown = [s for s in states if not s.known]
    if unknown:
        listing = "; ".join(f"{s.name} ({s.state})" for s in unknown)
        return failed(
            f"Unknown to {found.name}: {listing}; the rollback's restart would fail there.",
            found.unknown_hint(),
            **evidence,
        )
    return passed(
        f"All {len(names)} service names resolve under {found.name}: {', '.join(names)}.",
        **evidence,
    )
