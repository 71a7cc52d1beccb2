"""Security pane, revoked tokens stay revoked: ``sec.token-revocation``.

With TOOLBOX_API_TOKEN (a test account's API token) it walks the token's life below
TOOLBOX_TARGET_URL: asks ``/api/v1/auth/token`` for a fresh access token (any 2xx), uses it on
``/api/v1/auth/me`` (200), revokes it at ``/api/v1/auth/revoke`` (RFC 7009), and uses it
again (must be refused, 401 or 403). A failure names the step that went wrong; when the walk
stops before the revocation (a failure, a timeout, a quit), the fresh token is revoked all the
same, and the log says how that went. Both tokens are masked before any message is built,
and no message, hint or log line shows either.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from checks.checklist import VERIFY
from checks.context import CheckContext
from checks.core import CheckFailed, Outcome, Status, check, failed, noted, passed
from checks.security import PANE
from checks.security.asking import SEQUENCE_TIMEOUT, client
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
    import httpx

ISSUE = "/api/v1/auth/token"
ME = "/api/v1/auth/me"
REVOKE = "/api/v1/auth/revoke"
_SETTING = API_TOKEN_SETTING
CLEAN_UP_SECONDS = 10.0
_STEPS = 4
_REFUSED = (401, 403)
_AGAIN = f"GET {ME} with the revoked token"
# A token as a body may write it (JSON, a form), as it is written there: what an excerpt shows.
_WRITTEN_TOKEN = re.compile(r"""access_token["']?\s*[:=]\s*["']?([^"'&\s,;}]{8,})""")


def _step(number: int, what: str, answer: Answer, expected: str, hint: str) -> Outcome:
    """FAIL at step ``number`` (``what`` it did), saying what came back instead."""
    if answer.status_code >= 500:
        hint = "The app (or the proxy in front of it) is failing: look at its logs."
    return failed(
        f"Step {number} of {_STEPS} ({what}) failed: {answer.endpoint} answered "
        f"{answer.status_text}, not {expected}: {answer.excerpt()}",
        hint,
        step=number,
        **answer.evidence(),
    )


def _success(answer: Answer) -> bool:
    return 200 <= answer.status_code < 300


def _access_token(ctx: CheckContext, answer: Answer) -> str | None:
    """The ``access_token`` string of the answer's JSON object, whatever its status (None
    without one), masked from now on with anything else written as one in the body (a form
    body, a JSON body cut at MAX_BODY_BYTES): call it before any message shows the answer."""
    try:
        document = json.loads(answer.body)
    except ValueError:  # UnicodeDecodeError is one too
        document = None
    token = document.get("access_token") if isinstance(document, dict) else None
    access = token if isinstance(token, str) and token.strip() else None
    written = _WRITTEN_TOKEN.findall(answer.body.decode("utf-8", "replace"))
    ctx.redactor.add(*written, *([access] if access else []))
    return access


@check(
    id="sec.token-revocation",
    writes=True,
    pane=PANE,
    title="Revoked access tokens are refused",
    timeout=SEQUENCE_TIMEOUT,
    checklist=(VERIFY, "Feature verification"),
    partial="only OAuth token revocation of the features to verify",
)
async def token_revocation(ctx: CheckContext) -> Outcome:
    token = api_token(ctx)  # masked from here on
    if token is None:
        return Outcome(
            Status.SKIP,
            f"No {_SETTING}: revoking a token needs a test account's API token.",
            hint=f"Set {_SETTING} to an API token of a test account (it is never shown).",
        )
    where = target(ctx)
    if where is None:
        return no_target()
    async with await client(ctx) as session:
        issued = await fetch(
            ctx, where, ISSUE, method="POST", headers=bearer(token), client=session
        )
        # Before any message shows this answer: whatever its status, it may carry a token.
        access = _access_token(ctx, issued)
        if not _success(issued):
            refused = (
                f"The app does not accept {_SETTING}: set it to a current API token of a test "
                "account."
            )
            hint = (
                refused
                if issued.status_code in _REFUSED
                else f"Is TOOLBOX_TARGET_URL the app? Its {ISSUE} must issue access tokens."
            )
            return _step(1, f"POST {ISSUE}, a fresh access token", issued, "a 2xx success", hint)
        if access is None:
            # The body is not shown: it may hold a token under another name.
            return failed(
                f"Step 1 of {_STEPS} (POST {ISSUE}, a fresh access token) failed: "
                f'{issued.endpoint} answered {issued.status_text} without an "access_token" '
                "string in a JSON object.",
                "The app's token endpoint should answer as OAuth 2 does: "
                '{"access_token": ..., "token_type": "bearer", "expires_in": ...}.',
                step=1,
                **issued.evidence(),
            )
        ctx.log("got a fresh access token (not shown)")
        walk = _Walk(ctx, where, session, token, access)
        try:
            outcome = await walk.use_and_revoke()
        finally:
            # Also on a failure, a timeout or a quit: the fresh token must not stay valid.
            cleaned = await walk.clean_up()
            if cleaned:
                ctx.log(cleaned)
    if not cleaned:
        return outcome
    return noted(outcome, cleaned)


class _Walk:
    """Steps 2 to 4 with one fresh access token, and its revocation when they stop short."""

    def __init__(
        self,
        ctx: CheckContext,
        where: Target,
        session: httpx.AsyncClient,
        api_token: str,
        access: str,
    ) -> None:
        self.ctx = ctx
        self.where = where
        self.session = session
        self.api_token = api_token
        self.access = access
        self.revocation_answered = False

    async def _revoke(self) -> Answer:
        answer = await fetch(
            self.ctx,
            self.where,
            REVOKE,
            method="POST",
            # RFC 7009: the token in a form body, the caller authenticated by its own token.
            content=urlencode({"token": self.access, "token_type_hint": "access_token"}).encode(),
            headers={
                **bearer(self.api_token),
                "Content-Type": "application/x-www-form-urlencoded",
            },
            client=self.session,
        )
        self.revocation_answered = True
        return answer

    async def use_and_revoke(self) -> Outcome:
        ctx, where, session = self.ctx, self.where, self.session
        me = await fetch(ctx, where, ME, headers=bearer(self.access), client=session)
        if me.status_code != 200:
            return _step(
                2,
                f"GET {ME} with the fresh access token",
                me,
                "200",
                "A token the app has just issued must work.",
            )
        revoked = await self._revoke()
        if not _success(revoked):
            return _step(
                3,
                f"POST {REVOKE} for that token",
                revoked,
                "a 2xx success",
                "See RFC 7009 (revocation). The fresh access token stays valid until it expires.",
            )
        again = await fetch(ctx, where, ME, headers=bearer(self.access), client=session)
        if _success(again):
            return failed(
                f"Step 4 of {_STEPS} ({_AGAIN}) failed: {again.endpoint} answered "
                f"{again.status_text} to a token revoked a moment before: revoked tokens are "
                "still accepted.",
                "Check the revocation list on every request (not only at login), and drop any "
                "cached token check when a token is revoked.",
                step=4,
                **again.evidence(),
            )
        if again.status_code not in _REFUSED:
            return _step(
                4, _AGAIN, again, "401 or 403", "A revoked token must be refused with 401 or 403."
            )
        return passed(
            f"Revoked tokens are refused: a fresh access token worked on {me.endpoint} "
            f"({me.status_text}), was revoked at "
            f"{revoked.endpoint} and then refused ({again.status_text}).",
            **again.evidence(),
        )

    async def clean_up(self) -> str:
        """Revoke the fresh token when the walk stopped before its revocation was answered:
        what became of it, in a sentence ("" when there was nothing to do)."""
        if self.revocation_answered:
            return ""
        self.ctx.log("revoking the fresh access token, as the walk stopped before step 3")
        stays = "it stays valid until it expires"
        try:
            async with asyncio.timeout(CLEAN_UP_SECONDS):
                answer = await self._revoke()
        except (CheckFailed, TimeoutError) as exc:
            why = str(exc) or f"no answer within {CLEAN_UP_SECONDS:g} s"
            return f"Revoking the fresh access token afterwards failed too ({why}): {stays}."
        if _success(answer):
            return "The fresh access token was revoked afterwards."
        return (
            f"Revoking the fresh access token afterwards failed too ({answer.endpoint} answered "
            f"{answer.status_text}): {stays}."
        )
