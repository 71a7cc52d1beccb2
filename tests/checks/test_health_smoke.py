"""The feature smoke tests with the operator's token: against the reference app over HTTPS and
the sandbox PostgreSQL with the release's schema, where they pass and leave nothing behind,
and against canned servers, where each step fails for the reason its message names and the
test environment is removed (or said not to be). The planted token never shows: the contexts
here do not know it, so only the check itself can mask it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from checks.core import CheckResult, Status
from checks.health import smoke as smoke_module
from tests.checks.db_helpers import execute, fetchval
from tests.checks.reference import API_TOKEN, USER_EMAIL, migrated_database, reference_app
from tests.conftest import MakeContext
from tests.integrations.running import Ran, run
from tests.web_servers import HANG, Reply, WebServer, json_reply
from toolbox_tui.sandbox.ports import free_port
from toolbox_tui.sandbox.postgres import PostgresServer
from toolbox_tui.sandbox.reference_app import ReferenceApp
from toolbox_tui.sandbox.tls import CertificateAuthority

UPLOAD, ROBLOX = "smoke.upload-init", "smoke.roblox-environment"
INIT = "/api/v1/uploads/multipart/init"
CREATE = "/api/v1/roblox/environment/create"
LIST = "/api/v1/roblox/environment/list"
SMOKE_ROWS = "SELECT count(*) FROM roblox_environments WHERE name LIKE 'toolbox-smoke-%'"


@pytest.fixture(scope="module")
def app_database(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with migrated_database(postgres_server, tmp_path_factory.mktemp("alembic")) as url:
        yield url


@pytest.fixture(scope="module")
def app(
    sandbox_ca: CertificateAuthority, app_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ReferenceApp]:
    folder = tmp_path_factory.mktemp("app")
    with reference_app(sandbox_ca, folder, database_url=app_database) as server:
        yield server


@pytest.fixture
def ca_bundle(sandbox_ca: CertificateAuthority, tmp_path: Path) -> Path:
    return sandbox_ca.write_bundle(tmp_path / "ca.pem")


@pytest.fixture
async def canned(sandbox_ca: CertificateAuthority, tmp_path: Path) -> AsyncIterator[WebServer]:
    """An HTTPS server with canned answers; tests set its routes."""
    directory = tmp_path / "server"
    directory.mkdir()
    tls = sandbox_ca.issue("127.0.0.1", "localhost").server_context(directory)
    async with WebServer({}, tls) as server:
        yield server


async def smoke(
    make_context: MakeContext,
    check_id: str,
    url: str,
    ca_bundle: Path | None,
    database: str | None = None,
    **config: object,
) -> Ran:
    env = f"DATABASE_URL={database}\n" if database else ""
    config.setdefault("api_token", API_TOKEN)
    ctx = make_context(env, target_url=url, ca_bundle=ca_bundle, **config)
    return (await run(ctx, check_id))[check_id]


def everything(ran: Ran) -> str:
    """All a person could see of a check: message, hint, evidence and log."""
    result = ran.result
    return "\n".join([result.message, result.hint, repr(dict(result.evidence)), *ran.logs])


def assert_status(result: CheckResult, status: Status, *phrases: str) -> None:
    said = f"{result.message} {result.hint}"
    assert result.status is status, (result.status, said)
    for phrase in phrases:
        assert phrase in said, (phrase, said)


# --- against the reference app ------------------------------------------------------------


async def test_upload_init_passes_against_the_app(
    make_context: MakeContext, app: ReferenceApp, ca_bundle: Path
) -> None:
    ran = await smoke(make_context, UPLOAD, app.url, ca_bundle)
    assert_status(
        ran.result,
        Status.PASS,
        "Started a multipart upload of 12.0 MiB in parts of 5.0 MiB: 3 parts, upload id ",
        f", at {app.url}{INIT}.",
    )
    assert API_TOKEN not in everything(ran)


async def test_roblox_environment_passes_and_leaves_nothing_behind(
    make_context: MakeContext, app: ReferenceApp, ca_bundle: Path, app_database: str
) -> None:
    ran = await smoke(make_context, ROBLOX, app.url, ca_bundle, app_database)
    assert_status(
        ran.result,
        Status.PASS,
        "All 5 steps worked: created the environment toolbox-smoke-",
        "saw it in the API's list and its row in roblox_environments, deleted it, and its "
        "row is gone",
    )
    assert ran.result.evidence["environment"].startswith("toolbox-smoke-")
    assert await fetchval(app_database, SMOKE_ROWS) == 0
    # The row was the token's user's, created through the API.
    assert await fetchval(app_database, f"SELECT count(*) FROM users WHERE email = '{USER_EMAIL}'")
    assert API_TOKEN not in everything(ran)


async def test_a_database_the_app_does_not_use_fails_step_3_and_cleans_up(
    make_context: MakeContext,
    app: ReferenceApp,
    ca_bundle: Path,
    app_database: str,
    postgres_server: PostgresServer,
    tmp_path: Path,
) -> None:
    with migrated_database(postgres_server, tmp_path) as other:
        ran = await smoke(make_context, ROBLOX, app.url, ca_bundle, other)
    assert_status(
        ran.result,
        Status.FAIL,
        "Step 3 of 5 (see its row in roblox_environments) failed",
        "though the API created it",
        "was deleted again",
        "Does the env file's DATABASE_URL point at the database the app uses?",
    )
    assert await fetchval(app_database, SMOKE_ROWS) == 0


async def test_a_token_the_app_does_not_know_fails_step_1(
    make_context: MakeContext, app: ReferenceApp, ca_bundle: Path, app_database: str
) -> None:
    wrong = "tbx_api_UNKNOWN_" + "z" * 24
    for check_id in (UPLOAD, ROBLOX):
        ran = await smoke(make_context, check_id, app.url, ca_bundle, app_database, api_token=wrong)
        assert_status(ran.result, Status.FAIL, "refused the token: 401 Unauthorized")
        assert "TOOLBOX_API_TOKEN" in ran.result.hint
        assert wrong not in everything(ran)


async def test_a_slow_app_still_passes_a_smoke_test(
    make_context: MakeContext, app: ReferenceApp, ca_bundle: Path
) -> None:
    app.settings.delay_ms = 300
    try:
        ran = await smoke(make_context, UPLOAD, app.url, ca_bundle)
    finally:
        app.settings.delay_ms = 0
    assert ran.result.status is Status.PASS, ran.result.message


# --- smoke.upload-init against canned answers ---------------------------------------------


async def test_upload_init_sends_the_size_and_the_token_in_its_header(
    make_context: MakeContext, canned: WebServer, ca_bundle: Path
) -> None:
    canned.routes[INIT] = json_reply({"upload_id": "u-1", "part_size": 4 << 20, "part_count": 3})
    ran = await smoke(make_context, UPLOAD, canned.url, ca_bundle)
    assert_status(ran.result, Status.PASS, "3 parts, upload id u-1")
    (request,) = canned.requests
    assert (request.method, request.headers["authorization"]) == ("POST", f"Bearer {API_TOKEN}")
    assert json.loads(request.body)["size"] == 12 * 1024 * 1024


@pytest.mark.parametrize(
    ("document", "phrase"),
    [
        (
            {"upload_id": "u-1", "part_size": 5 << 20, "part_count": 2},
            "counts 2 part(s) for 12.0 MiB in parts of 5.0 MiB; 3 were expected",
        ),
        ({"part_size": 5 << 20, "part_count": 3}, "answered without an upload_id"),
        ({"upload_id": "u-1", "part_count": 3}, "without a usable part_size and part_count"),
        ({"upload_id": "u-1", "part_size": 0, "part_count": 3}, "without a usable part_size"),
        (["u-1"], "but not with a JSON object"),
    ],
)
async def test_upload_init_fails_on_an_answer_that_does_not_add_up(
    make_context: MakeContext, canned: WebServer, ca_bundle: Path, document: object, phrase: str
) -> None:
    canned.routes[INIT] = json_reply(document)
    ran = await smoke(make_context, UPLOAD, canned.url, ca_bundle)
    assert_status(ran.result, Status.FAIL, phrase)


async def test_a_refused_token_echoed_back_never_shows(
    make_context: MakeContext, canned: WebServer, ca_bundle: Path
) -> None:
    echo = json.dumps({"error": f"invalid token {API_TOKEN}"}).encode()
    canned.routes[INIT] = Reply(401, echo)
    ran = await smoke(make_context, UPLOAD, canned.url, ca_bundle)
    assert_status(ran.result, Status.FAIL, "refused the token: 401 Unauthorized", "invalid token")
    assert API_TOKEN not in everything(ran)
    assert API_TOKEN[:12] not in everything(ran)


@pytest.mark.parametrize(
    ("reply", "phrase"),
    [
        (
            Reply(502, b"bad gateway", "text/plain"),
            "answered 502 Bad Gateway, not 200: bad gateway",
        ),
        (HANG, "accepted the connection but sent no answer within 1 s"),
    ],
)
async def test_upload_init_fails_on_a_5xx_or_no_answer(
    make_context: MakeContext, canned: WebServer, ca_bundle: Path, reply: Reply, phrase: str
) -> None:
    canned.routes[INIT] = reply
    ran = await smoke(make_context, UPLOAD, canned.url, ca_bundle, check_timeout=2)
    assert_status(ran.result, Status.FAIL, phrase)


async def test_fails_when_the_connection_is_refused(make_context: MakeContext) -> None:
    url = f"https://127.0.0.1:{free_port()}"
    ran = await smoke(make_context, UPLOAD, url, None)
    assert_status(ran.result, Status.FAIL, f"{url}{INIT} refused the connection")


@pytest.mark.parametrize("check_id", [UPLOAD, ROBLOX])
@pytest.mark.parametrize(
    ("config", "phrases"),
    [
        ({"api_token": None}, ("No TOOLBOX_API_TOKEN", "Set TOOLBOX_API_TOKEN")),
        ({"target_url": None}, ("No TOOLBOX_TARGET_URL",)),
        ({"read_only": True}, ("read-only mode (TOOLBOX_READ_ONLY)", "writes to the app")),
    ],
)
async def test_skips_without_a_token_a_target_or_in_read_only_mode(
    make_context: MakeContext,
    database: str,
    check_id: str,
    config: dict[str, object],
    phrases: tuple[str, ...],
) -> None:
    settings = {"target_url": "https://app.example.com", "api_token": API_TOKEN, **config}
    ctx = make_context(f"DATABASE_URL={database}\n", **settings)
    result = (await run(ctx, check_id))[check_id].result
    assert_status(result, Status.SKIP, *phrases)


async def test_the_environment_test_waits_for_its_database(make_context: MakeContext) -> None:
    ctx = make_context("", target_url="https://app.example.com", api_token=API_TOKEN)
    result = (await run(ctx, ROBLOX))[ROBLOX].result
    assert_status(result, Status.SKIP, "needs db.reachable (fail)")


# --- smoke.roblox-environment against canned answers --------------------------------------


def created(env_id: int = 7) -> Reply:
    return json_reply({"id": env_id, "name": "x", "status": "draft"}, status=201)


async def test_a_failing_create_fails_step_1_with_nothing_to_remove(
    make_context: MakeContext, canned: WebServer, ca_bundle: Path, database: str
) -> None:
    canned.routes[CREATE] = Reply(500, b'{"error": "internal server error"}')
    ran = await smoke(make_context, ROBLOX, canned.url, ca_bundle, database)
    assert_status(
        ran.result,
        Status.FAIL,
        "Step 1 of 5 (create it through the API) failed",
        "answered 500 Internal Server Error, not 201 or 200",
    )
    assert "removing" not in "\n".join(ran.logs)
    assert [r.method for r in canned.requests] == ["POST"]


async def test_a_missing_list_entry_fails_step_2_and_removes_the_environment(
    make_context: MakeContext, canned: WebServer, ca_bundle: Path, database: str
) -> None:
    canned.routes[CREATE] = created(7)
    canned.routes[LIST] = json_reply({"environments": [{"id": 3, "name": "other"}]})
    canned.routes["/api/v1/roblox/environment/7"] = Reply(204)
    ran = await smoke(make_context, ROBLOX, canned.url, ca_bundle, database)
    assert_status(
        ran.result,
        Status.FAIL,
        "Step 2 of 5 (see it in the API's list) failed",
        "does not list the environment 7 it has just created (1 listed)",
        "The test environment 7 (toolbox-smoke-",
        "was deleted again.",
    )
    assert [(r.method, r.path) for r in canned.requests][-1] == (
        "DELETE",
        "/api/v1/roblox/environment/7",
    )
    assert canned.requests[-1].headers["authorization"] == f"Bearer {API_TOKEN}"


async def test_says_so_when_the_environment_cannot_be_removed(
    make_context: MakeContext, canned: WebServer, ca_bundle: Path, database: str
) -> None:
    canned.routes[CREATE] = created(7)
    canned.routes[LIST] = Reply(503, b"maintenance", "text/plain")
    # No route for the DELETE: it answers 404.
    ran = await smoke(make_context, ROBLOX, canned.url, ca_bundle, database)
    assert_status(
        ran.result,
        Status.FAIL,
        "Step 2 of 5",
        "answered 503 Service Unavailable, not 200: maintenance",
        "Removing the test environment 7 (toolbox-smoke-",
        "failed too (",
        "answered 404 Not Found): delete it by hand.",
    )


async def test_a_database_without_the_table_fails_step_3_plainly(
    make_context: MakeContext, canned: WebServer, ca_bundle: Path, database: str
) -> None:
    canned.routes[CREATE] = created(7)
    canned.routes[LIST] = json_reply({"environments": [{"id": 7}]})
    canned.routes["/api/v1/roblox/environment/7"] = Reply(204)
    ran = await smoke(make_context, ROBLOX, canned.url, ca_bundle, database)
    assert_status(
        ran.result,
        Status.FAIL,
        "Step 3 of 5 (see its row in roblox_environments) failed: Reading roblox_environments",
        'relation "roblox_environments" does not exist',
        "was deleted again",
        "db.revision-state",
    )


async def test_a_row_left_after_the_delete_fails_step_5(
    make_context: MakeContext,
    canned: WebServer,
    ca_bundle: Path,
    app_database: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The API says it deleted the environment; the database still has its row."""
    monkeypatch.setattr(smoke_module, "secrets", SimpleNamespace(token_hex=lambda n: "cafe0001"))
    env_id = int(
        str(
            await fetchval(
                app_database,
                "WITH owner AS (INSERT INTO users (email, display_name, hashed_password) "
                "VALUES ('step5@toolboxai.com', 'step5', '!') RETURNING id) "
                "INSERT INTO roblox_environments (owner_id, name) "
                "SELECT id, 'toolbox-smoke-cafe0001' FROM owner RETURNING id",
            )
        )
    )
    try:
        canned.routes[CREATE] = created(env_id)
        canned.routes[LIST] = json_reply({"environments": [{"id": env_id}]})
        canned.routes[f"/api/v1/roblox/environment/{env_id}"] = Reply(204)
        ran = await smoke(make_context, ROBLOX, canned.url, ca_bundle, app_database)
    finally:
        await execute(
            app_database,
            f"DELETE FROM roblox_environments WHERE id = {env_id}",
            "DELETE FROM users WHERE email = 'step5@toolboxai.com'",
        )
    assert_status(
        ran.result,
        Status.FAIL,
        "Step 5 of 5 (see its row gone) failed: The API answered 204 No Content to the delete,",
        f"but row {env_id} is still in roblox_environments",
        f"Remove the row {env_id} (toolbox-smoke-cafe0001) by hand",
    )
    assert "deleted again" not in ran.result.message  # the API said it was: no second try


async def test_a_list_that_never_answers_fails_step_2_and_removes_the_environment(
    make_context: MakeContext, canned: WebServer, ca_bundle: Path, database: str
) -> None:
    canned.routes[CREATE] = created(9)
    canned.routes[LIST] = HANG
    canned.routes["/api/v1/roblox/environment/9"] = Reply(204)
    ran = await smoke(make_context, ROBLOX, canned.url, ca_bundle, database, check_timeout=3)
    assert_status(
        ran.result,
        Status.FAIL,
        "Step 2 of 5 (see it in the API's list) failed",
        "accepted the connection but sent no answer within 2 s",
        "The test environment 9 (toolbox-smoke-",
        "was deleted again.",
    )


async def test_a_cancelled_trial_logs_what_became_of_its_environment(
    make_context: MakeContext, canned: WebServer, ca_bundle: Path
) -> None:
    """Cancelled (the runner's timeout, a quit), the check returns no message: the clean-up's
    sentence must reach the log."""
    canned.routes[CREATE] = created(9)
    canned.routes[LIST] = HANG
    canned.routes["/api/v1/roblox/environment/9"] = Reply(204)
    lines: list[str] = []
    ctx = make_context("", target_url=canned.url, ca_bundle=ca_bundle, api_token=API_TOKEN)
    trial = asyncio.ensure_future(smoke_module.roblox_environment(ctx.bound(lines.append)))
    async with asyncio.timeout(10):
        while not any(r.path == LIST for r in canned.requests):
            await asyncio.sleep(0.01)  # until step 2 waits for its answer
    trial.cancel()
    with pytest.raises(asyncio.CancelledError):
        await trial
    assert (canned.requests[-1].method, canned.requests[-1].path) == (
        "DELETE",
        "/api/v1/roblox/environment/9",
    )
    assert any(line.startswith("The test environment 9 (toolbox-smoke-") for line in lines)
    assert lines[-1].endswith("was deleted again.")


@pytest.mark.parametrize("check_id", [UPLOAD, ROBLOX])
async def test_a_token_that_is_not_visible_ascii_fails_naming_the_setting(
    make_context: MakeContext, canned: WebServer, ca_bundle: Path, database: str, check_id: str
) -> None:
    odd = "tbx_api_PLANTED_\u00e9t\u00e9_" + "t0k3n" * 4
    ran = await smoke(make_context, check_id, canned.url, ca_bundle, database, api_token=odd)
    assert_status(
        ran.result,
        Status.FAIL,
        "TOOLBOX_API_TOKEN holds a character that is not visible ASCII",
        "Set TOOLBOX_API_TOKEN to the API token exactly as the app issued it",
    )
    assert odd not in everything(ran)
    assert canned.requests == []


async def test_the_token_is_sent_without_the_whitespace_around_it(
    make_context: MakeContext, canned: WebServer, ca_bundle: Path
) -> None:
    canned.routes[INIT] = json_reply({"upload_id": "u-1", "part_size": 4 << 20, "part_count": 3})
    ran = await smoke(make_context, UPLOAD, canned.url, ca_bundle, api_token=f" {API_TOKEN}\n")
    assert ran.result.status is Status.PASS, ran.result.message
    assert canned.requests[0].headers["authorization"] == f"Bearer {API_TOKEN}"
