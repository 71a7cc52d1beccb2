"""Manual sign-offs: a person vouches, in the audit log, for a checklist item no program can
judge; and the manual checks that read those sign-offs back.

A sign-off is an audit record (:mod:`checks.audit` is the single place that says who did
what): ``action`` is the check id, ``outcome`` is :data:`SIGNED_OFF`, ``user`` who signed
(the OS user, or the name given with ``--by``; then ``changes`` keeps the OS account it was
entered from), ``at`` when, ``message`` the note. It counts for a period from then: the
item's own cadence when the checklist gives one (a yearly penetration test), else
TOOLBOX_SIGNOFF_DAYS, read when the check runs, so shortening the setting shortens every
sign-off. The newest sign-off of a check decides.

:func:`manual_check` registers a check (``manual=True``) that passes while a sign-off is
valid and otherwise says MANUAL: what to review, and how to sign off. :func:`sign_off` writes
one, for the ``signoff`` command and the dashboard's sign-off dialog alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from checks import audit
from checks.core import Outcome, Registry, Status, check, passed, warned

if TYPE_CHECKING:
    from checks.config import ToolboxConfig
    from checks.context import CheckContext

SIGNED_OFF = "signed-off"
"""The audit outcome of a sign-off record."""

MAX_NOTE_CHARS = 500
DAYS_SETTING = "TOOLBOX_SIGNOFF_DAYS"
# Hosts' clocks disagree by a little: a sign-off stamped seconds "ahead" still counts.
CLOCK_SKEW = timedelta(minutes=5)


class SignoffRefused(Exception):
    """A sign-off that was not recorded; the message says why, for a person."""


@dataclass(frozen=True)
class Review:
    """What a person looks at before signing off a manual check."""

    what: str
    """One sentence: what is reviewed (the MANUAL message says it)."""
    steps: tuple[str, ...]
    """Concretely how: which code paths, which commands and tools."""
    lasts_days: int | None = None
    """The checklist's cadence for a recurring task; None: TOOLBOX_SIGNOFF_DAYS."""


REVIEWS: dict[str, Review] = {}
"""Every manual check registered through :func:`manual_check`, by id."""


@dataclass(frozen=True)
class SignOff:
    """A sign-off as read back (or just written): who, when, the note, and until when."""

    check_id: str
    by: str
    note: str
    at: datetime
    until: datetime

    def text(self) -> str:
        return f"signed off by {self.by} on {_day(self.at)}: {self.note} (until {_day(self.until)})"

    def counts(self, now: datetime) -> bool:
        """Whether it counts at ``now``: not expired, and not dated in the future (beyond
        :data:`CLOCK_SKEW`)."""
        return self.at <= now + CLOCK_SKEW and now < self.until


def _day(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


def lasts_days(check_id: str, config: ToolboxConfig) -> int:
    """How many days a sign-off of ``check_id`` counts."""
    review = REVIEWS.get(check_id)
    if review is not None and review.lasts_days is not None:
        return review.lasts_days
    return config.signoff_days


def _lasts_text(check_id: str, config: ToolboxConfig) -> str:
    review = REVIEWS.get(check_id)
    days = lasts_days(check_id, config)
    if review is not None and review.lasts_days is not None:
        return f"{days} days (the checklist's cadence)"
    return f"{days} days ({DAYS_SETTING})"


# -- writing ---------------------------------------------------------------------------------


def refusal(config: ToolboxConfig, registry: Registry, check_id: str) -> str | None:
    """Why ``check_id`` cannot be signed off here and now, or None."""
    manual = sorted(spec.id for spec in registry.checks.values() if spec.manual)
    known = f"the manual checks are: {', '.join(manual)}" if manual else "there are none"
    spec = registry.checks.get(check_id)
    if spec is None:
        return f"no check {check_id!r}; {known}"
    if not spec.manual:
        return f"{check_id} is not a manual check (it decides by itself); {known}"
    if config.read_only:
        # Read-only writes nothing, not even the audit log; and a sign-off turns a check
        # green, which a look-only session must not do.
        return (
            "toolbox-tui is in read-only mode (--read-only, TOOLBOX_READ_ONLY), and a sign-off "
            "writes the audit log"
        )
    return None


def clean_note(note: str) -> str:
    """The note on one line; SignoffRefused when empty or too long."""
    text = " ".join(note.split())
    if not text:
        raise SignoffRefused(
            "a note is required: say what you reviewed and where the details are "
            "(a ticket, a report)"
        )
    if len(text) > MAX_NOTE_CHARS:
        raise SignoffRefused(
            f"the note is {len(text)} characters; keep it under {MAX_NOTE_CHARS} and point "
            "to the details (a ticket, a report)"
        )
    return text


def sign_off(
    ctx: CheckContext, registry: Registry, check_id: str, note: str, by: str | None = None
) -> SignOff:
    """Record that ``by`` (the OS user when None) signed off ``check_id`` now, with ``note``.

    The note and the name are redacted before they are written, as the audit log expects.
    Raises SignoffRefused (nothing written) for an unknown or automatic check, read-only
    mode, an empty note or name, or an audit log that cannot be written.
    """
    problem = refusal(ctx.config, registry, check_id)
    if problem is not None:
        raise SignoffRefused(problem)
    text = clean_note(note)
    account = audit.os_user()
    signer = account if by is None else " ".join(by.split())
    if not signer:
        raise SignoffRefused("--by is empty: name who signs, or leave it out to sign as you")
    now = ctx.clock()
    path = ctx.config.audit_path
    record = audit.AuditRecord(
        at=now.isoformat(timespec="seconds"),
        action=check_id,
        outcome=SIGNED_OFF,
        message=ctx.redactor.text(text),
        dangerous=False,
        env_file=str(ctx.config.env_file),
        user=ctx.redactor.text(signer),
        changes=[] if signer == account else [f"entered from the OS account {account}"],
    )
    try:
        audit.append(path, record)
    except OSError as exc:
        raise SignoffRefused(
            f"the audit log {path} cannot be written ({exc.strerror or exc}); "
            "set TOOLBOX_AUDIT_LOG to a writable path"
        ) from None
    until = now + timedelta(days=lasts_days(check_id, ctx.config))
    return SignOff(check_id, record.user, record.message, now, until)


# -- reading ---------------------------------------------------------------------------------


def newest(records: Sequence[audit.AuditRecord], check_id: str, days: int) -> SignOff | None:
    """The last sign-off of ``check_id`` in the log (records are appended in time order);
    a record whose time cannot be read (a hand edit) is not one."""
    for record in reversed(records):
        if record.action != check_id or record.outcome != SIGNED_OFF:
            continue
        at = audit.parse_at(record.at)
        if at is not None:
            return SignOff(check_id, record.user, record.message, at, at + timedelta(days=days))
    return None


async def judge(ctx: CheckContext, check_id: str, review: Review) -> Outcome:
    """PASS while a sign-off of ``check_id`` is valid; otherwise MANUAL, saying what to
    review and how to sign off."""
    path = ctx.config.audit_path
    try:
        # Every manual check of a run reads the same log: once.
        log = await ctx.shared(f"audit-log:{path}", lambda: asyncio.to_thread(audit.read_log, path))
    except OSError as exc:
        return warned(
            f"The audit log {path} cannot be read ({exc.strerror or exc}), so no sign-off of "
            "this review can be seen.",
            "Sign-offs are recorded there: set TOOLBOX_AUDIT_LOG to a file this user may read.",
        )
    now = ctx.clock()
    found = newest(log.records, check_id, lasts_days(check_id, ctx.config))
    # A hand edit may have broken the line of the sign-off sought: say so beside the verdict.
    skipped = {"unreadable audit lines": f"{log.skipped} (skipped)"} if log.skipped else {}
    if found is not None and found.counts(now):
        text = found.text()
        return passed(
            text[:1].upper() + text[1:] + ".",
            signed_off_by=found.by,
            at=found.at.isoformat(timespec="seconds"),
            note=found.note,
            until=found.until.isoformat(timespec="seconds"),
            covers=review.what,
            **skipped,
        )
    if found is None:
        why = "Not signed off yet"
    elif found.at > now + CLOCK_SKEW:
        why = (
            f"The last sign-off (by {found.by}) is dated in the future ({_day(found.at)}), "
            "so it does not count"
        )
    else:
        why = f"The sign-off by {found.by} on {_day(found.at)} expired on {_day(found.until)}"
    evidence = {f"step {i}": step for i, step in enumerate(review.steps, 1)}
    evidence["a sign-off lasts"] = _lasts_text(check_id, ctx.config)
    if found is not None:
        evidence["last sign-off"] = found.text()
    evidence.update(skipped)
    return Outcome(
        Status.MANUAL,
        f"{why}. Review: {review.what}",
        hint=(
            "Review as its evidence says, step by step (its detail in the dashboard, or "
            "check --format json), then sign off: press s on this check, or run "
            f"toolbox-tui signoff {check_id} --note 'what you checked, where the details are'."
        ),
        evidence=evidence,
    )


def manual_check(
    *, id: str, pane: str, title: str, checklist: tuple[str, str], review: Review
) -> None:
    """Register a manual check: a person reviews (``review``) and signs off."""
    REVIEWS[id] = review

    async def signed_off(ctx: CheckContext) -> Outcome:
        return await judge(ctx, id, review)

    signed_off.__name__ = signed_off.__qualname__ = id.replace(".", "_").replace("-", "_")
    check(id=id, pane=pane, title=title, checklist=checklist, manual=True)(signed_off)
