"""Running the Security pane's checks of the running app in its tests: planted secrets, one
check's result (or its result and log) through the real runner, assertions that name what
was said, and test-server routes that answer one path differently request after request."""

from __future__ import annotations

from collections.abc import Callable

from checks import catalog
from checks.context import CheckContext
from checks.core import CheckResult, Status
from tests.integrations.running import Ran, run
from tests.web_servers import Reply

catalog.load(["security"])

API_TOKEN = "tbx_api_PLANTED_" + "t0k3n" * 6
USER_EMAIL = "smoke-test@toolboxai.com"
WEBHOOK_SECRET = "whsec_PLANTED_" + "s3cr3t" * 5

SecurityContext = Callable[..., CheckContext]


async def check(ctx: CheckContext, check_id: str) -> CheckResult:
    return (await run(ctx, check_id))[check_id].result


async def check_with_log(ctx: CheckContext, check_id: str) -> Ran:
    return (await run(ctx, check_id))[check_id]


def said(result: CheckResult) -> str:
    return f"{result.message} {result.hint}"


def everything(ran: Ran) -> str:
    """All a person could see of a check: message, hint, evidence and log."""
    result = ran.result
    return "\n".join([said(result), repr(dict(result.evidence)), *ran.logs])


def assert_status(result: CheckResult, status: Status, *phrases: str) -> None:
    assert result.status is status, (result.status, result.message, result.hint)
    for phrase in phrases:
        assert phrase in said(result), (phrase, said(result))


class InTurn(dict[str, Reply]):
    """Routes for a :class:`~tests.web_servers.WebServer` (set as its ``routes``) answering
    ``path`` with each reply in turn, the last one from then on: the server picks a reply by
    path alone, whatever the method or the body."""

    def __init__(self, path: str, *replies: Reply) -> None:
        super().__init__({path: replies[0]})
        self._replies = list(replies)

    def get(self, path: str, default: Reply | None = None) -> Reply | None:  # type: ignore[override]
        if path not in self:
            return default
        return self._replies.pop(0) if len(self._replies) > 1 else self._replies[0]
