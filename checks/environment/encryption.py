"""Fernet data-encryption keys: valid, distinct, rotated monthly, and a safe rotation.

Provides checks ``env.fernet-key`` and ``env.key-rotation`` and action
``env.rotate-fernet-key``. The app decrypts with ``MultiFernet`` over the current key and the
``_OLD_`` keys, so a rotation keeps the previous keys rather than replacing them.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from checks.checklist import ENVIRONMENT, SECURITY
from checks.context import CheckContext
from checks.core import Outcome, Plan, action, check
from checks.environment.editing import current_env, unreadable_plan, update_plan, write_planned
from checks.environment.values import ENV_FILE_CHECK, PANE
from checks.findings import Findings, require
from checks.offloop import import_off_loop
from checks.settings import DeploymentEnv

CURRENT = "DATA_ENCRYPTION_KEY"
OLD_SLOTS = ("DATA_ENCRYPTION_KEY_OLD_1", "DATA_ENCRYPTION_KEY_OLD_2")
LAST_ROTATION = "LAST_KEY_ROTATION"
ROTATE = "env.rotate-fernet-key"
# Hosts' clocks disagree by a little; a rotation stamped seconds "ahead" is not an error.
CLOCK_SKEW = timedelta(minutes=5)

ROTATE_HINT = "Run 'Rotate encryption key': old data stays readable through the _OLD_ keys."


def is_fernet_key(value: str) -> bool:
    """Whether ``Fernet(value)`` would accept it: 32 bytes in url-safe base64.

    That is the whole of Fernet's own test (a test proves the two agree); written out here
    because importing cryptography costs 10-35 ms of every check run. The rotation, which
    makes a key, does use cryptography.
    """
    try:
        return len(base64.urlsafe_b64decode(value.strip())) == 32
    except (ValueError, TypeError):  # binascii.Error is a ValueError
        return False


@check(
    id="env.fernet-key",
    pane=PANE,
    title="Fernet keys valid",
    needs=(ENV_FILE_CHECK,),
    checklist=(ENVIRONMENT, "Data encryption"),
)
async def fernet_key(ctx: CheckContext) -> Outcome:
    env, findings = ctx.env, Findings()
    current = require(env, CURRENT, findings, ROTATE)
    if current is not None and not is_fernet_key(current):
        findings.fail(
            f"{CURRENT} is not a valid Fernet key (32 url-safe base64 bytes)",
            "If data was already encrypted, restore the exact key from your key vault; on a new "
            "deployment, run 'Rotate encryption key' to generate one.",
            ROTATE,
        )
    seen: dict[str, str] = {} if current is None else {current.strip(): CURRENT}
    for slot in OLD_SLOTS:
        old = env.get(slot)
        if old is None:
            continue
        if not is_fernet_key(old):
            findings.fail(
                f"{slot} is not a valid Fernet key",
                f"Restore {slot} from your key vault, or delete it if nothing was encrypted "
                "with it.",
            )
        elif old.strip() in seen:
            findings.fail(
                f"{slot} equals {seen[old.strip()]}; every key must be distinct",
                "A rotation was probably half done. " + ROTATE_HINT,
                ROTATE,
            )
        seen.setdefault(old.strip(), slot)
    old_count = sum(env.get(slot) is not None for slot in OLD_SLOTS)
    return findings.outcome(
        f"{CURRENT} is a valid Fernet key ({old_count} old key(s) kept for decryption).",
        old_keys=old_count,
    )


def parse_timestamp(raw: str) -> datetime | None:
    """An ISO 8601 timestamp (``Z`` accepted; no zone means UTC), or None."""
    try:
        value = datetime.fromisoformat(raw.strip())
        # Normalised here, where a year-1 date with a positive offset can still overflow.
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def format_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@check(
    id="env.key-rotation",
    pane=PANE,
    title="Fernet key rotated monthly",
    needs=(ENV_FILE_CHECK,),
    checklist=(SECURITY, "Monthly encryption key rotation"),
)
async def key_rotation(ctx: CheckContext) -> Outcome:
    findings = Findings()
    raw = require(ctx.env, LAST_ROTATION, findings, ROTATE)
    last = parse_timestamp(raw) if raw is not None else None
    limit = ctx.config.key_rotation_days
    age = ctx.clock() - last if last is not None else timedelta(0)
    evidence: dict[str, object] = {"limit": f"{limit} days"}
    if raw is not None and last is None:
        findings.fail(
            f"{LAST_ROTATION} is not an ISO 8601 timestamp",
            f"Write it like 2025-10-10T00:00:00Z, the moment the key was last rotated. "
            f"Rotating writes it for you. {ROTATE_HINT}",
            ROTATE,
        )
    if last is not None:
        evidence.update(last_rotation=format_timestamp(last), age=f"{age.days} days")
        if age < -CLOCK_SKEW:
            findings.fail(
                f"{LAST_ROTATION} is in the future ({format_timestamp(last)})",
                "Write the real time of the last rotation: a future date hides an overdue one.",
            )
        elif age > timedelta(days=limit):
            findings.warn(
                f"Key rotation due (last {age.days} days ago; the checklist rotates every "
                f"{limit} days)",
                ROTATE_HINT,
                ROTATE,
            )
    return findings.outcome(f"{CURRENT} was rotated {max(age.days, 0)} days ago.", **evidence)


@dataclass(frozen=True)
class RotationPlan:
    """Which current slot each old slot receives; what falls off the end, and why."""

    moves: tuple[tuple[str, str | None], ...]  # (old slot, source slot or None = emptied)
    dropped: tuple[str, ...]  # slots whose key is no longer kept
    discarded: tuple[str, ...]  # human notes: keys not kept because they never worked

    @classmethod
    def of(cls, env: DeploymentEnv) -> RotationPlan:
        sources: list[str] = []
        discarded: list[str] = []
        seen: set[str] = set()
        for slot in (CURRENT, *OLD_SLOTS):
            value = env.get(slot)
            if value is None:
                continue
            if slot == CURRENT and not is_fernet_key(value):
                discarded.append(
                    f"The current {CURRENT} is not a valid Fernet key, so nothing can have "
                    "been encrypted with it: it is replaced, not kept."
                )
            elif value.strip() in seen:
                discarded.append(f"{slot} repeats a newer key; the duplicate is not kept.")
            else:
                seen.add(value.strip())
                sources.append(slot)
        kept, dropped = sources[: len(OLD_SLOTS)], sources[len(OLD_SLOTS) :]
        moves = tuple(
            (slot, kept[i] if i < len(kept) else None)
            for i, slot in enumerate(OLD_SLOTS)
            if i < len(kept) or slot in env.values
        )
        return cls(moves, tuple(dropped), tuple(discarded))

    def updates(self, env: DeploymentEnv, new_key: str, now: datetime) -> dict[str, str]:
        values = {CURRENT: new_key}
        for slot, source in self.moves:
            values[slot] = (env.get(source) or "").strip() if source else ""
        values[LAST_ROTATION] = format_timestamp(now)
        return values


async def _plan_rotation(ctx: CheckContext) -> Plan:
    await import_off_loop("cryptography.fernet")  # ~35 ms the dashboard would stand still
    from cryptography.fernet import Fernet

    env = current_env(ctx)
    if (refusal := unreadable_plan(env)) is not None:
        return refusal
    rotation = RotationPlan.of(env)
    # The new key and the timestamp are chosen now, so the preview shows what is written.
    new_key = Fernet.generate_key().decode("ascii")
    ctx.redactor.add(new_key)
    now = ctx.clock()
    lines = [f"{CURRENT}: a new Fernet key ({new_key})."]
    for slot, source in rotation.moves:
        lines.append(f"{slot}: " + (f"the current {source}." if source else "left empty."))
    lines.extend(rotation.discarded)
    for slot in rotation.dropped:
        lines.append(
            f"WARNING: the current {slot} is dropped. Data still encrypted only with it "
            "becomes unreadable: re-encrypt that data before rotating."
        )
    lines.append(f"{LAST_ROTATION}: {format_timestamp(now)}.")
    lines.append(
        "Restart the app and its workers afterwards so they encrypt with the new key; "
        "a timestamped backup of the env file is kept."
    )
    return update_plan(env, rotation.updates(env, new_key, now), *lines)


@action(
    id=ROTATE,
    title="Rotate encryption key",
    pane=PANE,
    key="r",
    dangerous=True,
    plan=_plan_rotation,
    description=(
        f"New {CURRENT}; the current key moves to {OLD_SLOTS[0]}, that one to {OLD_SLOTS[1]} "
        "(the oldest is dropped); stamps LAST_KEY_ROTATION."
    ),
)
async def rotate_fernet_key(ctx: CheckContext, planned: Plan) -> str:
    await write_planned(ctx, planned)
    updates = planned.payload["updates"]
    kept = ", ".join(slot for slot in OLD_SLOTS if updates.get(slot)) or "no old keys"
    return f"{CURRENT} rotated (kept: {kept}); restart the app and its workers."
