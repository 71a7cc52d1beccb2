"""Real-time messaging, live: Pusher accepts the app's credentials on its cluster, and a test
event can be sent to a private deploy channel.

Provides check ``pusher.credentials`` and action ``pusher.test-event``.
"""

from __future__ import annotations

from checks.checklist import ENVIRONMENT
from checks.context import CheckContext
from checks.core import (
    ActionFailed,
    CheckFailed,
    Outcome,
    Plan,
    action,
    check,
    passed,
    plan,
    refused_plan,
)
from checks.integrations import PANE
from checks.integrations.pusher_client import call, pusher_app

CREDENTIALS = "pusher.credentials"
DEPLOY_CHANNEL = "private-toolbox-deploy"
TEST_EVENT = "deploy-check"


@check(
    id=CREDENTIALS,
    pane=PANE,
    title="Pusher accepts the keys",
    # Not env.pusher: a frontend copy that drifted says nothing about the server's keys.
    needs=("env.file",),
    checklist=(ENVIRONMENT, "Real-time (Pusher)"),
)
async def credentials(ctx: CheckContext) -> Outcome:
    app = pusher_app(ctx)
    # A signed read that changes nothing: GET /apps/<id>/channels.
    answer = await call(ctx, app, lambda client: client.channels_info())
    channels = answer.get("channels")
    occupied = len(channels) if isinstance(channels, dict) else None
    return passed(
        f"Pusher at {app.endpoint} accepts app {app.app_id}'s key and secret "
        f"(cluster {app.cluster}).",
        occupied_channels=occupied,
    )


async def _plan_test_event(ctx: CheckContext) -> Plan:
    try:
        app = pusher_app(ctx)
    except CheckFailed as exc:
        return refused_plan(f"The Pusher settings cannot be used: {exc}")
    at = ctx.clock().strftime("%Y-%m-%dT%H:%M:%SZ")
    return plan(
        f"Trigger event {TEST_EVENT!r} on channel {DEPLOY_CHANNEL} of app {app.app_id} at "
        f"{app.endpoint}, with {{'sent_by': 'toolbox-tui', 'at': '{at}'}}.",
        "Private channel: only the app's own authorised clients receive it.",
        at=at,
    )


@action(
    id="pusher.test-event",
    title="Send a test Pusher event",
    pane=PANE,
    key="e",
    plan=_plan_test_event,
    description="Trigger a test event on a private deploy channel through Pusher's API.",
)
async def send_test_event(ctx: CheckContext, planned: Plan) -> str:
    app = pusher_app(ctx)
    payload = {"sent_by": "toolbox-tui", "at": planned.payload["at"]}
    try:
        await call(ctx, app, lambda client: client.trigger(DEPLOY_CHANNEL, TEST_EVENT, payload))
    except CheckFailed as exc:
        raise ActionFailed(str(exc)) from exc
    ctx.changed(f"triggered {TEST_EVENT} on {DEPLOY_CHANNEL} at {app.endpoint}")
    return f"Pusher took event {TEST_EVENT!r} on {DEPLOY_CHANNEL}."
