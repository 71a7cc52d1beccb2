"""Health pane, the deployed app over HTTPS: the checklist's three post-deployment ``curl``s.

``api.health`` asks ``/api/health`` for ``{"status": "healthy"}``, ``api.dashboard`` asks
``/`` for a 200 page, and ``api.db-health`` asks ``/api/v1/health/db`` for
``{"database": "connected"}``, all below TOOLBOX_TARGET_URL (see :mod:`checks.web`). Every
failure says what came back: the status, a short cut of the body.
"""

from __future__ import annotations

from checks.checklist import VERIFY
from checks.context import CheckContext
from checks.core import Outcome, check, failed, passed, warned
from checks.health import PANE
from checks.web import CHECK_TIMEOUT, expect_json, fetch, no_target, target


@check(
    id="api.health",
    pane=PANE,
    title="API /api/health says healthy",
    timeout=CHECK_TIMEOUT,
    checklist=(VERIFY, "Backend API health"),
)
async def api_health(ctx: CheckContext) -> Outcome:
    where = target(ctx)
    if where is None:
        return no_target()
    answer = await fetch(ctx, where, "/api/health")
    return expect_json(
        answer,
        "status",
        "healthy",
        "The backend is up but reports a problem: its logs (and the body above) say which.",
    )


@check(
    id="api.dashboard",
    pane=PANE,
    title="Dashboard / answers 200",
    timeout=CHECK_TIMEOUT,
    checklist=(VERIFY, "Dashboard reachable"),
)
async def api_dashboard(ctx: CheckContext) -> Outcome:
    where = target(ctx)
    if where is None:
        return no_target()
    answer = await fetch(ctx, where, "/")
    facts = {**answer.evidence(), "content_type": answer.shown(answer.content_type) or "(none)"}
    if answer.status_code != 200:
        return failed(
            answer.unexpected_status(),
            "The checklist expects / itself to answer 200: look at the web server's "
            "configuration and logs (a redirect is not followed, as curl does not).",
            **facts,
        )
    if "html" not in answer.content_type.lower():
        return warned(
            f"Answered 200, but with {facts['content_type']}, not an HTML page, at "
            f"{answer.endpoint}.",
            "Is / routed to the API instead of the dashboard? Open it in a browser.",
            **facts,
        )
    return passed(f"Answered 200 in {answer.elapsed_ms:.0f} ms at {answer.endpoint}.", **facts)


@check(
    id="api.db-health",
    pane=PANE,
    title="API says its database is connected",
    timeout=CHECK_TIMEOUT,
    checklist=(VERIFY, "Database connection"),
)
async def api_db_health(ctx: CheckContext) -> Outcome:
    where = target(ctx)
    if where is None:
        return no_target()
    answer = await fetch(ctx, where, "/api/v1/health/db")
    return expect_json(
        answer,
        "database",
        "connected",
        "The app cannot use its database: check DATABASE_URL on the app host, and the "
        "db.* checks of this tool.",
    )
