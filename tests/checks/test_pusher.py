"""pusher.credentials and pusher.test-event against a real soketi (Pusher's protocol): the check
passes, and fails for the reason its message names; the event reaches a subscribed client."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json

import pytest

import checks.integrations  # noqa: F401  (registers the pane's checks and actions)
from checks.context import CheckContext
from checks.core import CheckResult, Status, registry
from checks.events import ActionDone, Log
from checks.runner import run_action
from tests.checks.db_helpers import run_check
from tests.conftest import MakeContext
from tests.sandbox_fixtures import PUSHER_APP
from tests.web_servers import silent_port
from toolbox_tui.sandbox.ports import free_port
from toolbox_tui.sandbox.soketi import SoketiServer

APP_ID, KEY, SECRET = PUSHER_APP


def pusher_env(**changes: str) -> str:
    values = {
        "PUSHER_APP_ID": APP_ID,
        "PUSHER_KEY": KEY,
        "PUSHER_SECRET": SECRET,
        "PUSHER_CLUSTER": "eu",
        **changes,
    }
    return "".join(f"{name}={value}\n" for name, value in values.items())


def context(make_context: MakeContext, url: str, **changes: str) -> CheckContext:
    config = {k: v for k, v in changes.items() if not k.isupper()}
    env = {k: v for k, v in changes.items() if k.isupper()}
    return make_context(pusher_env(**env), pusher_api_url=url, **config)


async def credentials(make_context: MakeContext, url: str, **changes: str) -> CheckResult:
    return await run_check(context(make_context, url, **changes), "pusher.credentials")


async def test_the_app_keys_are_accepted(
    make_context: MakeContext, soketi_server: SoketiServer
) -> None:
    result = await credentials(make_context, soketi_server.url)
    assert result.status is Status.PASS, result.message
    assert result.message == (
        f"Pusher at {soketi_server.url} accepts app {APP_ID}'s key and secret (cluster eu)."
    )


async def test_a_wrong_secret_fails_even_though_the_server_says_200(
    make_context: MakeContext, soketi_server: SoketiServer
) -> None:
    planted = "another-apps-secret-PLANTED"
    result = await credentials(make_context, soketi_server.url, PUSHER_SECRET=planted)
    assert result.status is Status.FAIL
    assert result.message.startswith("Pusher refused the signature of PUSHER_SECRET at")
    assert "PUSHER_SECRET" in result.hint
    assert planted not in result.message + result.hint + str(result.evidence)


async def test_an_app_id_the_server_does_not_know_fails(
    make_context: MakeContext, soketi_server: SoketiServer
) -> None:
    result = await credentials(make_context, soketi_server.url, PUSHER_APP_ID="999")
    assert result.status is Status.FAIL
    assert result.message.startswith(f"Pusher has no app 999 at {soketi_server.url}")
    assert "PUSHER_CLUSTER" in result.hint


async def test_nothing_listening_fails_naming_the_setting(make_context: MakeContext) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = await credentials(make_context, url)
    assert result.status is Status.FAIL
    assert result.message == f"{url} refused the connection: nothing listens on that port."
    assert "TOOLBOX_PUSHER_API_URL" in result.hint


async def test_a_server_that_never_answers_fails_in_time(make_context: MakeContext) -> None:
    with silent_port() as port:
        url = f"http://127.0.0.1:{port}"
        result = await credentials(make_context, url, check_timeout=2)  # type: ignore[arg-type]
    assert result.status is Status.FAIL
    assert result.message.startswith(f"{url} accepted the connection but sent no answer")


async def test_plain_http_beyond_this_machine_is_refused(make_context: MakeContext) -> None:
    result = await credentials(make_context, "http://pusher.example.org")
    assert result.status is Status.FAIL
    assert "PUSHER_SECRET's signatures would cross the network in clear" in result.message


async def test_the_test_event_reaches_a_subscribed_client(
    make_context: MakeContext, soketi_server: SoketiServer
) -> None:
    import websockets

    channel = "private-toolbox-deploy"
    ws_url = f"ws://127.0.0.1:{soketi_server.port}/app/{KEY}?protocol=7"
    async with websockets.connect(ws_url) as ws:
        hello = json.loads(await ws.recv())
        socket_id = json.loads(hello["data"])["socket_id"]
        signature = hmac.new(
            SECRET.encode(), f"{socket_id}:{channel}".encode(), hashlib.sha256
        ).hexdigest()
        await ws.send(
            json.dumps(
                {
                    "event": "pusher:subscribe",
                    "data": {"channel": channel, "auth": f"{KEY}:{signature}"},
                }
            )
        )
        subscribed = json.loads(await ws.recv())
        assert subscribed["event"] == "pusher_internal:subscription_succeeded", subscribed

        ctx = context(make_context, soketi_server.url)
        ends: list[ActionDone] = []
        logged: list[str] = []
        async for event in run_action(
            registry.actions["pusher.test-event"], ctx, confirmed=True, on_end=ends.append
        ):
            if isinstance(event, Log):
                logged.append(event.line)
        assert ends[-1].outcome == "ok", ends[-1].message
        received = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
    assert received["event"] == "deploy-check" and received["channel"] == channel
    assert json.loads(received["data"])["sent_by"] == "toolbox-tui"
    assert SECRET not in " ".join(logged) + ends[-1].message


@pytest.mark.parametrize("missing", ["PUSHER_SECRET", "PUSHER_APP_ID"])
async def test_a_missing_variable_is_named(
    make_context: MakeContext, soketi_server: SoketiServer, missing: str
) -> None:
    env = pusher_env().replace(f"{missing}=", f"# {missing}=")
    result = await run_check(
        make_context(env, pusher_api_url=soketi_server.url), "pusher.credentials"
    )
    assert result.status is Status.FAIL
    assert f"{missing} is not set" in result.message
