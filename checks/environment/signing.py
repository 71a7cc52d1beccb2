"""The app's two signing keys, SECRET_KEY and JWT_SECRET_KEY: strong, distinct, replaceable.

Provides checks ``env.secret-key`` and ``env.jwt-secret-key`` and the actions
``env.generate-secret-key`` and ``env.generate-jwt-secret-key``.
"""

from __future__ import annotations

import re
import secrets

from checks.checklist import ENVIRONMENT
from checks.context import CheckContext
from checks.core import Outcome, Plan, action, check
from checks.environment.editing import current_env, unreadable_plan, update_plan, write_planned
from checks.environment.values import ENV_FILE_CHECK, PANE
from checks.findings import Findings, require

KEY_BYTES = 32
MIN_HEX_CHARS = 2 * KEY_BYTES
# 32 bytes in base64 without padding; any base64 of >= 32 bytes is at least this long, so one
# length rule covers standard and urlsafe base64 and other long random strings alike.
MIN_CHARS = 43
MIN_DISTINCT_CHARS = 10
_HEX = re.compile(r"[0-9a-fA-F]+")


def weakness(value: str) -> str | None:
    """Why ``value`` is not at least 32 random bytes, or None when it looks strong."""
    value = value.strip()
    if _HEX.fullmatch(value):
        if len(value) < MIN_HEX_CHARS:
            return (
                f"only {len(value) // 2} bytes of hex; it needs {KEY_BYTES} "
                f"({MIN_HEX_CHARS} hex characters)"
            )
    elif len(value) < MIN_CHARS:
        return (
            f"only {len(value)} characters; it needs {KEY_BYTES} random bytes "
            f"({MIN_HEX_CHARS} hex or {MIN_CHARS} base64 characters)"
        )
    if len(set(value)) < MIN_DISTINCT_CHARS:
        return "made of too few different characters to be random"
    # A string is a unit repeated twice or more exactly when it occurs inside itself doubled
    # (minus the ends): linear time, unlike a backtracking regex on a long pasted value.
    if value in (value + value)[1:-1]:
        return "a repeated pattern, not random"
    return None


def _register_key(
    *,
    name: str,
    check_id: str,
    action_id: str,
    key: str,
    item: str,
    consequence: str,
    distinct_from: str | None = None,
) -> None:
    """A check that ``name`` is strong (and distinct), and the action that regenerates it."""
    fix = f"Run 'Generate {name}' ({consequence}), or: openssl rand -hex {KEY_BYTES}."

    @check(
        id=check_id,
        pane=PANE,
        title=f"{name} is strong",
        needs=(ENV_FILE_CHECK,),
        checklist=(ENVIRONMENT, item),
    )
    async def key_is_strong(ctx: CheckContext) -> Outcome:
        findings = Findings()
        value = require(ctx.env, name, findings, action_id)
        if value is not None:
            problem = weakness(value)
            if problem:
                findings.fail(f"{name} is weak: {problem}", fix, action_id)
            if distinct_from is not None and value == ctx.env.get(distinct_from):
                findings.fail(
                    f"{name} equals {distinct_from}; they must be distinct, so that one leak "
                    "does not unlock both",
                    fix,
                    action_id,
                )
        return findings.outcome(f"{name} is a strong random key.")

    async def plan_new_key(ctx: CheckContext) -> Plan:
        env = current_env(ctx)
        if (refusal := unreadable_plan(env)) is not None:
            return refusal
        new_value = secrets.token_hex(KEY_BYTES)
        ctx.redactor.add(new_value)
        now = "replaces the current value" if env.get(name) else "sets it (it is empty now)"
        return update_plan(
            env,
            {name: new_value},
            f"{name}: {new_value}, {KEY_BYTES} new random bytes ({MIN_HEX_CHARS} hex "
            f"characters); this {now}.",
            f"Consequence: {consequence}.",
            f"{env.path.name} is kept as a timestamped backup; restart the app afterwards.",
        )

    @action(
        id=action_id,
        title=f"Generate {name}",
        pane=PANE,
        key=key,
        dangerous=True,
        plan=plan_new_key,
        description=f"Write {KEY_BYTES} new random bytes to {name}; {consequence}.",
    )
    async def generate(ctx: CheckContext, planned: Plan) -> str:
        await write_planned(ctx, planned)
        return f"{name} replaced with {KEY_BYTES} random bytes; restart the app ({consequence})."


_register_key(
    name="SECRET_KEY",
    check_id="env.secret-key",
    action_id="env.generate-secret-key",
    key="g",
    item="Core application",
    consequence="every user is signed out",
)
_register_key(
    name="JWT_SECRET_KEY",
    check_id="env.jwt-secret-key",
    action_id="env.generate-jwt-secret-key",
    key="j",
    item="JWT authentication",
    consequence="every issued token stops working",
    distinct_from="SECRET_KEY",
)
