"""Outgoing email through SendGrid: SMTP transport, API key shape and sender address.

Provides checks ``env.smtp``, ``env.sendgrid-key`` and ``env.from-email``.
"""

from __future__ import annotations

import re

from checks.checklist import ENVIRONMENT
from checks.context import CheckContext
from checks.core import Outcome, check
from checks.environment.values import ENV_FILE_CHECK, PANE
from checks.findings import Findings, is_production, require, require_bool, require_int

SENDGRID_HOST = "smtp.sendgrid.net"
SENDGRID_USER = "apikey"
STARTTLS_PORT = 587
IMPLICIT_TLS_PORT = 465
PLAIN_PORT = 25
# SendGrid keys: "SG." then a 22-character id and a 43-character secret, both base64url.
_SENDGRID_KEY = re.compile(r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}")

ITEM = (ENVIRONMENT, "Email service")


@check(id="env.smtp", pane=PANE, title="SMTP uses TLS", needs=(ENV_FILE_CHECK,), checklist=ITEM)
async def smtp(ctx: CheckContext) -> Outcome:
    env, findings = ctx.env, Findings()
    host = require(env, "SMTP_HOST", findings)
    port = require_int(env, "SMTP_PORT", findings)
    use_tls = require_bool(env, "SMTP_USE_TLS", findings)
    if port is not None:
        if not 0 < port < 65536:
            findings.fail(f"SMTP_PORT {port} is not a port number", "Use 587.")
        elif port == STARTTLS_PORT and use_tls is False:
            findings.fail(
                "SMTP_PORT 587 needs SMTP_USE_TLS=true (STARTTLS)",
                "Set SMTP_USE_TLS=true; without it mail and the API key travel unencrypted.",
            )
        elif port == PLAIN_PORT:
            findings.warn(
                "SMTP_PORT is 25: often blocked by cloud hosts and unencrypted by default",
                "Use 587 with SMTP_USE_TLS=true.",
            )
        elif port not in (STARTTLS_PORT, IMPLICIT_TLS_PORT):
            findings.warn(f"SMTP_PORT {port} is unusual", "SendGrid expects 587 (or 465).")
    if use_tls is False and is_production(env) and port != STARTTLS_PORT:
        findings.fail(
            "SMTP_USE_TLS is false in production",
            "Set SMTP_USE_TLS=true; without it mail and the API key travel unencrypted.",
        )
    user = env.get("SMTP_USER")
    if host is not None and host.strip().lower() == SENDGRID_HOST and user != SENDGRID_USER:
        findings.fail(
            f"SMTP_USER must be '{SENDGRID_USER}' for {SENDGRID_HOST}",
            f"SendGrid's SMTP user is literally '{SENDGRID_USER}'; the key is the password.",
        )
    return findings.outcome("SMTP is set up with TLS.", host=host, port=port, tls=use_tls)


@check(
    id="env.sendgrid-key",
    pane=PANE,
    title="SENDGRID_API_KEY is shaped like a SendGrid key",
    needs=(ENV_FILE_CHECK,),
    checklist=ITEM,
)
async def sendgrid_key(ctx: CheckContext) -> Outcome:
    findings = Findings()
    key = require(ctx.env, "SENDGRID_API_KEY", findings)
    if key is not None and not _SENDGRID_KEY.fullmatch(key.strip()):
        findings.fail(
            "SENDGRID_API_KEY is not shaped like a SendGrid key (SG.<22 characters>.<43 "
            "characters>)",
            "Paste the whole key from SendGrid > Settings > API Keys (it is shown once; create "
            "a new one with Mail Send permission if it is lost).",
        )
    return findings.outcome("SENDGRID_API_KEY is shaped like a SendGrid key.")


@check(
    id="env.from-email",
    pane=PANE,
    title="FROM_EMAIL is a valid address",
    needs=(ENV_FILE_CHECK,),
    checklist=ITEM,
)
async def from_email(ctx: CheckContext) -> Outcome:
    findings = Findings()
    raw = require(ctx.env, "FROM_EMAIL", findings)
    if raw is not None:
        problem = address_problem(raw.strip())
        if problem:
            findings.fail(
                f"FROM_EMAIL {raw.strip()!r} {problem}",
                "Use a bare address such as noreply@toolboxai.com (the name goes in FROM_NAME), "
                "verified as a sender in SendGrid.",
            )
    return findings.outcome("FROM_EMAIL is a valid address.", address=raw)


def address_problem(value: str) -> str | None:
    """Why ``value`` is not a bare ``user@domain.tld`` address, or None."""
    # The email package costs ~5 ms: paid by the check that reads an address, not at import.
    import email.errors
    from email.headerregistry import Address

    try:
        address = Address(addr_spec=value)
    except (ValueError, IndexError, email.errors.MessageError):
        return "is not an email address"
    if not address.username:
        return "has nothing before the @"
    labels = address.domain.split(".")
    if len(labels) < 2 or not all(labels):
        return "has no domain with a dot after the @"
    return None
