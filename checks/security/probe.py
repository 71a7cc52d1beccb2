"""The login probe: failed logins for a made-up account at TOOLBOX_LOGIN_PATH, sent only when
TOOLBOX_RATE_LIMIT_PROBE allows them.

sec.rate-limit sends a burst of them (:func:`failed_login`); its first one is shared with
sec.cookies, which reads the cookies of that answer (:func:`first_failed_login`), so that a
run of both never sends more than TOOLBOX_RATE_LIMIT_MAX_REQUESTS failed logins.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from checks.web import Answer, Target, fetch

if TYPE_CHECKING:
    import httpx

    from checks.context import CheckContext

PROBE_EMAIL = "toolbox-rate-limit-probe@invalid.example"
"""The made-up account of the failed logins (``.invalid`` never exists, RFC 6761)."""


async def failed_login(
    ctx: CheckContext, where: Target, session: httpx.AsyncClient | None = None
) -> Answer:
    """One login at TOOLBOX_LOGIN_PATH for :data:`PROBE_EMAIL` with a random password: it
    can only fail."""
    if session is not None:
        # An attacker keeps no cookies between guesses, and a limit must not depend on them.
        session.cookies.clear()
    body = {"email": PROBE_EMAIL, "password": secrets.token_urlsafe(18)}
    return await fetch(
        ctx, where, ctx.config.login_path, method="POST", json_body=body, client=session
    )


async def first_failed_login(ctx: CheckContext, where: Target) -> Answer:
    """The probe's first failed login, sent once per run whichever check asks first (the log
    shows it under that check): sec.rate-limit counts it as its first attempt."""
    return await ctx.shared(
        f"security:failed login at {where.endpoint(ctx.config.login_path)}",
        lambda: failed_login(ctx, where),
    )
