"""Health pane, the checklist's feature tests run against the deployed app with the operator's
test-account token (TOOLBOX_API_TOKEN): ``smoke.upload-init`` and ``smoke.roblox-environment``.

``smoke.upload-init`` starts a multipart upload of a 12 MiB file and checks the upload id and
the part count the API answers (no byte is uploaded). ``smoke.roblox-environment`` creates an
environment through the API, sees it in the API's list and its row in the database's
``roblox_environments`` (DATABASE_URL of the env file), deletes it through the API and sees
the row gone; it fails at the first step that goes wrong, naming it, and always tries to
delete what it created, saying when that failed too.

Both skip without TOOLBOX_TARGET_URL or TOOLBOX_API_TOKEN, and in read-only mode: they write
to the app. The token goes in the Authorization header only (never in a message, the
evidence or the log), redirects are not followed (the header would follow them), and the
token is masked in every answer shown, even by a context that did not know it.
"""

from __future__ import annotations

import asyncio
import json
import math
import secrets
from typing import TYPE_CHECKING, Any

from checks.checklist import PRE_DEPLOY
from checks.context import CheckContext
from checks.core import CheckFailed, Outcome, Status, check, failed, noted, passed
from checks.health import PANE
from checks.postgres import connection, redacted_location
from checks.postgres import target as database_target
from checks.units import size_text
from checks.web import (
    API_TOKEN_SETTING,
    Answer,
    Target,
    api_token,
    bearer,
    fetch,
    no_target,
    target,
)

if TYPE_CHECKING:
    import asyncpg

UPLOAD_SIZE = 12 * 1024 * 1024
UPLOAD_PATH = "/api/v1/uploads/multipart/init"
CREATE_PATH = "/api/v1/roblox/environment/create"
LIST_PATH = "/api/v1/roblox/environment/list"
ENVIRONMENT_PATH = "/api/v1/roblox/environment/{id}"
NAME_PREFIX = "toolbox-smoke-"
UPLOAD_TIMEOUT = 20.0
TRIAL_TIMEOUT = 45.0
CLEAN_UP_SECONDS = 10.0
_TOKEN_SETTING = API_TOKEN_SETTING
_TOKEN_HINT = (
    f"Is {_TOKEN_SETTING} a valid, unrevoked API token of the test account? Create a new one "
    "in the app if it expired."
)
_STEPS = (
    "create it through the API",
    "see it in the API's list",
    "see its row in roblox_environments",
    "delete it through the API",
    "see its row gone",
)


def _cannot_run(ctx: CheckContext) -> Outcome | tuple[Target, str]:
    """Where to send the smoke test and the token, or the skip that says why not."""
    where = target(ctx)
    if where is None:
        return no_target()
    token = api_token(ctx)
    if token is None:
        return Outcome(
            Status.SKIP,
            f"No {_TOKEN_SETTING}: the feature smoke tests need a test account's API token, "
            "so they were not run.",
            hint=f"Set {_TOKEN_SETTING} to an API token of a test account (never a real "
            "user's); it is never shown.",
        )
    return where, token


def _status_problem(answer: Answer, wanted: tuple[int, ...]) -> CheckFailed | None:
    """Why ``answer``'s status is not one of ``wanted`` (a refused token named as such), or
    None when it is."""
    if answer.status_code in (401, 403):
        return CheckFailed(
            f"{answer.endpoint} refused the token: {answer.status_text}: {answer.excerpt()}",
            _TOKEN_HINT,
        )
    if answer.status_code not in wanted:
        return CheckFailed(
            f"{answer.endpoint} answered {answer.status_text}, not "
            f"{' or '.join(map(str, wanted))}: {answer.excerpt()}",
            "The app's log says why (look for the request's time).",
        )
    return None


def _document(answer: Answer, wanted: tuple[int, ...] = (200,)) -> dict[str, Any]:
    """The JSON object ``answer`` carries; raises :class:`CheckFailed` saying what came back
    instead."""
    problem = _status_problem(answer, wanted)
    if problem is not None:
        raise problem
    try:
        document = json.loads(answer.body) if answer.complete else None
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise CheckFailed(
            f"{answer.endpoint} answered {answer.status_text}, but not with a JSON object: "
            f"{answer.excerpt()}",
            "Is TOOLBOX_TARGET_URL the app's API, or a page in front of it?",
        )
    return document


def _whole(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# --- smoke.upload-init ----------------------------------------------------------------------


@check(
    id="smoke.upload-init",
    writes=True,
    pane=PANE,
    title="Upload: a multipart upload starts",
    timeout=UPLOAD_TIMEOUT,
    checklist=(PRE_DEPLOY, "File upload"),
    partial="no byte is uploaded: the parts, their completion and the virus scan are not tried",
)
async def upload_init(ctx: CheckContext) -> Outcome:
    ready = _cannot_run(ctx)
    if isinstance(ready, Outcome):
        return ready
    where, token = ready
    # Both spellings: the API's (size, content_type) and the deployment checklist's curl
    # (file_size, mime_type); the API ignores the fields it does not know.
    body = {
        "filename": "toolbox-smoke-test.bin",
        "size": UPLOAD_SIZE,
        "content_type": "application/octet-stream",
        "file_size": UPLOAD_SIZE,
        "mime_type": "application/octet-stream",
    }
    answer = await fetch(
        ctx, where, UPLOAD_PATH, method="POST", json_body=body, headers=bearer(token)
    )
    document = _document(answer)
    facts = answer.evidence()
    upload_id = document.get("upload_id")
    part_size, part_count = _whole(document.get("part_size")), _whole(document.get("part_count"))
    hint = "The upload service answers, but not as the dashboard expects: see the app's log."
    if not isinstance(upload_id, str) or not upload_id.strip():
        return failed(
            f"{answer.endpoint} answered without an upload_id: {answer.excerpt()}", hint, **facts
        )
    facts["upload_id"] = answer.shown(upload_id)
    if part_size is None or part_size <= 0 or part_count is None:
        return failed(
            f"{answer.endpoint} answered without a usable part_size and part_count: "
            f"{answer.excerpt()}",
            hint,
            **facts,
        )
    expected = math.ceil(UPLOAD_SIZE / part_size)
    facts.update(part_size=size_text(part_size), part_count=str(part_count))
    of = f"{size_text(UPLOAD_SIZE)} in parts of {size_text(part_size)}"
    if part_count != expected:
        return failed(
            f"{answer.endpoint} counts {part_count} part(s) for {of}; {expected} were expected.",
            "Uploads would stop short or overrun: check how the app computes part_count.",
            **facts,
        )
    return passed(
        f"Started a multipart upload of {of}: {part_count} parts, upload id "
        f"{facts['upload_id']}, at {answer.endpoint}.",
        **facts,
    )


# --- smoke.roblox-environment ---------------------------------------------------------------


@check(
    id="smoke.roblox-environment",
    writes=True,
    pane=PANE,
    title="Roblox environment: create, list, delete",
    timeout=TRIAL_TIMEOUT,
    needs=("db.reachable",),
    checklist=(PRE_DEPLOY, "Roblox environment"),
)
async def roblox_environment(ctx: CheckContext) -> Outcome:
    ready = _cannot_run(ctx)
    if isinstance(ready, Outcome):
        return ready
    where, token = ready
    trial = _Trial(ctx, where, token, NAME_PREFIX + secrets.token_hex(4))
    try:
        outcome = await trial.attempt()
    finally:
        # Also when the check is cancelled or crashes: the test environment must not stay.
        cleaned = await trial.clean_up()
        if cleaned:
            # Cancelled (the runner's timeout, a quit), no message is returned: the log says it.
            ctx.log(cleaned)
    if not cleaned:
        return outcome
    return noted(outcome, cleaned)


class _Trial:
    """One run of the five steps on one test environment."""

    def __init__(self, ctx: CheckContext, where: Target, token: str, name: str) -> None:
        self.ctx = ctx
        self.where = where
        self.headers = bearer(token)
        self.name = name
        self.step = 0
        self.created: int | None = None
        self.deleted = False
        self.facts: dict[str, str] = {"environment": name}

    async def attempt(self) -> Outcome:
        try:
            await self._steps()
        except CheckFailed as exc:
            return failed(
                f"Step {self.step} of {len(_STEPS)} ({_STEPS[self.step - 1]}) failed: {exc}",
                exc.hint,
                **self.facts,
            )
        return passed(
            f"All {len(_STEPS)} steps worked: created the environment {self.name} (id "
            f"{self.created}) through "
            f"{self.where.base}, saw it in the API's list and its row in roblox_environments, "
            "deleted it, and its row is gone.",
            **self.facts,
        )

    def _next(self) -> None:
        self.step += 1
        self.ctx.log(f"step {self.step}: {_STEPS[self.step - 1]}")

    async def _request(self, method: str, path: str, body: object = None) -> Answer:
        return await fetch(
            self.ctx, self.where, path, method=method, json_body=body, headers=self.headers
        )

    async def _steps(self) -> None:
        self._next()
        answer = await self._request(
            "POST", CREATE_PATH, {"name": self.name, "description": "toolbox-tui smoke test"}
        )
        document = _document(answer, (201, 200))
        created = _whole(document.get("id"))
        if created is None:
            raise CheckFailed(
                f"{answer.endpoint} answered {answer.status_text} without an id: "
                f"{answer.excerpt()}",
                "The API must return the new environment's id.",
            )
        self.created = created
        self.facts["id"] = str(created)

        self._next()
        answer = await self._request("GET", LIST_PATH)
        listed = _document(answer).get("environments")
        if not isinstance(listed, list):
            raise CheckFailed(
                f"{answer.endpoint} answered without an environments list: {answer.excerpt()}",
                "The dashboard reads this list: see the app's log.",
            )
        if not any(isinstance(e, dict) and e.get("id") == created for e in listed):
            raise CheckFailed(
                f"{answer.endpoint} does not list the environment {created} it has just "
                f"created ({len(listed)} listed).",
                "The list may read another database or filter by the wrong owner: see the "
                "app's log.",
            )

        self._next()
        database = redacted_location(database_target(self.ctx))
        self.facts["database"] = database
        async with connection(self.ctx) as conn:
            self.ctx.log(f"looking for row {created} in roblox_environments at {database}")
            name = await self._select(conn, database, "SELECT name", created)
            if name != self.name:
                raise CheckFailed(
                    f"roblox_environments at {database} has no row {created} named {self.name}, "
                    "though the API created it.",
                    "Does the env file's DATABASE_URL point at the database the app uses?",
                )

            self._next()
            answer = await self._request("DELETE", ENVIRONMENT_PATH.format(id=created))
            problem = _status_problem(answer, (204, 200))
            if problem is not None:
                raise problem
            self.deleted = True

            self._next()
            left = await self._select(conn, database, "SELECT count(*)", created)
            if left:
                raise CheckFailed(
                    f"The API answered {answer.status_text} to the delete, but row {created} "
                    f"is still in roblox_environments at {database}.",
                    "The delete does not reach the database: see the app's log. Remove the "
                    f"row {created} ({self.name}) by hand.",
                )

    async def _select(
        self, conn: asyncpg.Connection, database: str, select: str, created: int
    ) -> object:
        """``select`` from the test environment's row; a database error becomes a
        :class:`CheckFailed` saying where."""
        import asyncpg

        try:
            return await conn.fetchval(f"{select} FROM roblox_environments WHERE id = $1", created)
        except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise CheckFailed(
                f"Reading roblox_environments at {database} failed: {exc}",
                "Is the release's schema migrated (db.revision-state), and may DATABASE_URL's "
                "user read the table?",
            ) from None

    async def clean_up(self) -> str:
        """Delete the test environment when it was created and not deleted: what became of
        it, in a sentence ("" when there was nothing to do)."""
        if self.created is None or self.deleted:
            return ""
        what = f"the test environment {self.created} ({self.name})"
        self.ctx.log(f"removing {what}")
        try:
            async with asyncio.timeout(CLEAN_UP_SECONDS):
                answer = await self._request("DELETE", ENVIRONMENT_PATH.format(id=self.created))
        except (CheckFailed, TimeoutError) as exc:
            why = str(exc) or f"no answer within {CLEAN_UP_SECONDS:g} s"
            return f"Removing {what} failed too ({why}): delete it by hand."
        if answer.status_code in (200, 204):
            self.deleted = True
            return f"{what[0].upper()}{what[1:]} was deleted again."
        return (
            f"Removing {what} failed too ({answer.endpoint} answered {answer.status_text}): "
            "delete it by hand."
        )
