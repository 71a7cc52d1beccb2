"""How the Security pane's checks ask the running app: their time limits, the pages several
checks judge (fetched once per run, :func:`page`) and a client for a sequence of requests
(:func:`client`).

The requests themselves go through :func:`checks.web.fetch`, so every failure to connect
reads as it does in the Health pane. The login probe's requests are in
:mod:`checks.security.probe`; what the checks make of the answers, in
:mod:`checks.security.verdicts`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from checks.net import open_http_client
from checks.web import CHECK_TIMEOUT, Answer, Target, fetch

if TYPE_CHECKING:
    import httpx

    from checks.context import CheckContext

SINGLE_TIMEOUT = CHECK_TIMEOUT
"""One request: above the client's connect + read time limits, so its own, clearer error
comes first."""
SEQUENCE_TIMEOUT = 2 * CHECK_TIMEOUT
"""A short sequence of requests (a preflight and a GET, two pages, the token round trip)."""


async def page(ctx: CheckContext, where: Target, path: str) -> Answer:
    """GET ``path`` below the target, once per run: sec.hsts, sec.headers and sec.cookies
    judge the same answer (the log shows the request under the check that asked first)."""
    return await ctx.shared(f"security:GET {where.endpoint(path)}", lambda: fetch(ctx, where, path))


async def client(ctx: CheckContext) -> httpx.AsyncClient:
    """A client for several requests in a row (``async with``)."""
    return await open_http_client(ctx)
