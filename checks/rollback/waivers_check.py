"""Check ``release.waivers``: the waiver file (:mod:`checks.waivers`) is well-formed, and every
waiver in it is current and names a real check. A malformed file fails (nothing in it waives
anything until it is fixed); an expired waiver, or one for a check that does not exist, warns.
"""

from __future__ import annotations

from checks.context import CheckContext
from checks.core import Outcome, check, failed, passed, registry, warned
from checks.waivers import CHECK_ID

TEMPLATE = (
    'Each entry reads: [[waiver]] check = "sec.pentest", reason = "...", by = "alice", '
    "expires = 2026-12-31 (a date, no quotes)."
)


@check(id=CHECK_ID, pane="rollback", title="Waivers valid and current")
async def waivers_valid(ctx: CheckContext) -> Outcome:
    from checks import catalog, waivers

    found = await waivers.waivers_of(ctx)
    path = found.path
    if not found.exists:
        return passed(f"No waivers: {path.name} does not exist, so every failure counts.")
    if found.problems:
        more = f" (and {len(found.problems) - 1} more)" if len(found.problems) > 1 else ""
        return failed(
            f"Waiver file invalid: {found.problems[0]}{more}.",
            f"Fix {path}: until then, its malformed entries waive nothing. {TEMPLATE}",
            file=path,
            **{f"problem {i}": problem for i, problem in enumerate(found.problems, 1)},
        )
    on = waivers.today(ctx)
    # A waiver may name a check of any pane, not only of the panes this run loaded: the
    # others are loaded only when an id is not among those already registered.
    known = registry.checks
    if any(w.check not in known for w in found.waivers):
        known = catalog.load().checks
    expired = [w for w in found.waivers if not w.active(on) and w.check in known]
    unknown = [w for w in found.waivers if w.check not in known]
    active = [w for w in found.waivers if w.active(on) and w.check in known]
    evidence = {f"{w.check} (line {w.line})" if w.line else w.check: w.text() for w in active}
    if expired or unknown:
        parts = []
        if expired:
            parts.append(
                f"{len(expired)} expired: "
                + ", ".join(f"{w.check} on {w.expires.isoformat()}" for w in expired)
            )
        if unknown:
            parts.append(
                f"{len(unknown)} for no known check: {', '.join(w.check for w in unknown)}"
            )
        return warned(
            f"Waivers need attention: {'; '.join(parts)}.",
            f"In {path}, renew an expired waiver (a new date, and the reason it still holds) or "
            "delete it; an expired waiver no longer counts. Correct or delete a waiver whose "
            "check id is wrong (`toolbox-tui list` shows the ids).",
            file=path,
            **{f"expired: {w.check}": w.text() for w in expired},
            **{f"unknown: {w.check}": w.text() for w in unknown},
            **evidence,
        )
    if not active:
        return passed(f"No waivers in {path.name}, so every failure counts.", file=path)
    listed = ", ".join(f"{w.check} until {w.expires.isoformat()}" for w in active)
    return passed(f"{len(active)} waiver(s) active: {listed}.", file=path, **evidence)
