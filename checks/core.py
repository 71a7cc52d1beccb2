"""Statuses, results, actions and the registry that the ``@check`` / ``@action`` decorators fill.

A check is an ``async def`` taking a :class:`~checks.context.CheckContext` and returning an
:class:`Outcome`; the runner turns it into a :class:`CheckResult` with the id, pane, title and
duration filled in. An action is a fix a person would otherwise type: it can always show
what it will do (its ``plan``, shown as the preview) before it does exactly that (``run``).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from checks.context import CheckContext


class Status(StrEnum):
    """What a check concluded. ``error`` means it could not decide (crash, timeout)."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"
    SKIP = "skip"
    MANUAL = "manual"

    @property
    def rank(self) -> int:
        """Higher is worse; used to sort and to pick a pane's overall status."""
        return _RANK[self]

    @property
    def satisfies_needs(self) -> bool:
        """A check that ``needs`` this one may run after it (a warning still counts)."""
        return self in (Status.PASS, Status.WARN)


_RANK = {
    Status.PASS: 0,
    Status.SKIP: 1,
    Status.MANUAL: 2,
    Status.WARN: 3,
    Status.ERROR: 4,
    Status.FAIL: 5,
}

STATUS_ORDER: tuple[Status, ...] = (
    Status.FAIL,
    Status.ERROR,
    Status.WARN,
    Status.MANUAL,
    Status.SKIP,
    Status.PASS,
)


@dataclass(frozen=True)
class Pane:
    """One tab of the dashboard and one ``--pane`` value of the CLI."""

    id: str
    title: str
    key: str


PANES: tuple[Pane, ...] = (
    Pane("environment", "Environment", "1"),
    Pane("migrations", "Migrations", "2"),
    Pane("integrations", "Integrations", "3"),
    Pane("health", "Health", "4"),
    Pane("security", "Security", "5"),
    Pane("rollback", "Rollback", "6"),
)
PANE_IDS: tuple[str, ...] = tuple(p.id for p in PANES)
_PANE_RANK = {pane: i for i, pane in enumerate(PANE_IDS)}


def pane_rank(pane: str) -> int:
    """Where ``pane`` comes in :data:`PANES` (the order lists and reports use); an unknown
    pane comes last."""
    return _PANE_RANK.get(pane, len(PANE_IDS))


@dataclass(frozen=True)
class Outcome:
    """What a check function returns: its verdict and what a person needs to act on it."""

    status: Status
    message: str
    hint: str = ""
    evidence: Mapping[str, str] = field(default_factory=dict)
    actions: tuple[str, ...] = ()


def passed(message: str, **evidence: object) -> Outcome:
    return Outcome(Status.PASS, message, evidence=_stringify(evidence))


def warned(
    message: str, hint: str = "", actions: Iterable[str] = (), **evidence: object
) -> Outcome:
    return Outcome(Status.WARN, message, hint, _stringify(evidence), tuple(actions))


def failed(
    message: str, hint: str = "", actions: Iterable[str] = (), **evidence: object
) -> Outcome:
    return Outcome(Status.FAIL, message, hint, _stringify(evidence), tuple(actions))


def noted(outcome: Outcome, note: str) -> Outcome:
    """``outcome`` with ``note`` added to its message; all else (hint, evidence, actions) kept."""
    return replace(outcome, message=f"{outcome.message} {note}")


def _stringify(evidence: Mapping[str, object]) -> dict[str, str]:
    return {key.replace("_", " "): str(value) for key, value in evidence.items()}


@dataclass(frozen=True)
class CheckResult:
    """A finished check, as every renderer and reporter sees it (already redacted)."""

    id: str
    pane: str
    title: str
    status: Status
    message: str
    hint: str = ""
    evidence: Mapping[str, str] = field(default_factory=dict)
    duration_ms: float = 0.0
    actions: tuple[str, ...] = ()
    waiver: str = ""
    """An accepted risk (:mod:`checks.waivers`): "by alice until 2026-12-31: reason", or ""
    when none applies. The status stays as the check said; exit codes and the release gate
    leave a waived result out."""

    @property
    def waived(self) -> bool:
        return bool(self.waiver)

    @classmethod
    def from_outcome(cls, spec: CheckSpec, outcome: Outcome, duration_ms: float) -> CheckResult:
        return cls(
            id=spec.id,
            pane=spec.pane,
            title=spec.title,
            status=outcome.status,
            message=outcome.message,
            hint=outcome.hint,
            evidence=dict(outcome.evidence),
            duration_ms=duration_ms,
            actions=outcome.actions,
        )


CheckFunc = Callable[["CheckContext"], Awaitable[Outcome]]


@dataclass(frozen=True)
class ChecklistRef:
    """The place in the deployment checklist that a check automates."""

    section: str
    item: str


@dataclass(frozen=True)
class CheckSpec:
    """A registered check: the function plus everything the runner and the UI need."""

    id: str
    pane: str
    title: str
    func: CheckFunc
    timeout: float
    needs: tuple[str, ...]
    checklist: ChecklistRef | None
    manual: bool = False
    """A person signs it off; the check only gathers what they need to look at."""
    partial: str = ""
    """What of its checklist item this check does not verify ("" when it verifies all of it):
    the coverage map then says ``partial`` and names what is missing."""
    writes: bool = False
    """The check changes something in the deployment to prove it works (a test record, a
    token, failed logins): the runner skips it in read-only mode, and watch mode never
    repeats it."""


@dataclass(frozen=True)
class Plan:
    """What one run of an action will do, built once: the preview shows it, the audit records
    its digest, and ``run`` executes exactly it, or refuses because the world changed since.

    ``lines`` are for a person (they may name a secret the plan will write: the runner redacts
    them at the boundary like every event). ``payload`` holds what ``run`` needs (file names,
    values to write, the revision it expects) and is never shown. ``refusal`` says why the plan
    cannot run at all (a missing backup, an unreadable file): the preview shows it and the
    runner refuses without calling ``run``.
    """

    lines: tuple[str, ...]
    payload: Mapping[str, Any] = field(default_factory=dict, repr=False)
    refusal: str | None = None
    already_done: bool = False
    """The refusal means the world is already as the action would leave it ("the database is
    already at head"): nothing runs, and a runbook counts the step as done."""

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def digest(self, shown: str) -> str:
        """A short fingerprint of the plan as shown (``shown`` is the redacted text), for the
        audit log: two records with the same digest ran the same plan."""
        import hashlib  # here: the dashboard's first frame imports this module, not hashlib

        return hashlib.sha256(shown.encode("utf-8")).hexdigest()[:16]


def plan(*lines: str, refusal: str | None = None, **payload: Any) -> Plan:
    """``plan("line", "line", destination=path)``: the usual way to build a :class:`Plan`."""
    return Plan(tuple(lines), payload, refusal)


def refused_plan(reason: str, *lines: str) -> Plan:
    """A plan that cannot run; the preview shows ``lines`` and then the reason."""
    return Plan((*lines, reason), {}, reason)


def nothing_to_do(reason: str, *lines: str) -> Plan:
    """A plan that refuses because there is nothing left to do (``reason`` says why): a
    runbook step whose plan says so is done, not failed."""
    return Plan((*lines, reason), {}, reason, already_done=True)


PlanBuilder = Callable[["CheckContext"], Awaitable[Plan]]
ActionRun = Callable[["CheckContext", Plan], Coroutine[Any, Any, str]]


@dataclass(frozen=True)
class Action:
    """A remediation: ``plan`` says exactly what ``run`` will do; ``run`` does that plan.

    ``run`` returns a one-line summary and logs as it goes. It raises :class:`ActionFailed`
    with a readable message when it cannot do its job, and :class:`ActionRefused` when the
    world no longer matches the plan (nothing was changed).
    """

    id: str
    title: str
    key: str
    dangerous: bool
    pane: str
    plan: PlanBuilder
    run: ActionRun
    description: str = ""


class ActionFailed(Exception):
    """An action could not complete; the message is for a person."""


class ActionRefused(ActionFailed):
    """The action did nothing because the plan no longer fits the world (the file changed, the
    database moved on, someone else holds the lock); the message says which."""


class CheckFailed(Exception):
    """Raised from deep inside a check when the verdict is plainly FAIL (a server refused,
    a file is missing): the runner turns it into a failed result with this message and hint,
    so checks need no try/except around every connection."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


class CheckSkipped(Exception):
    """Raised from inside a check that finds it does not apply (what it needs is broken, and
    another check says so): the runner turns it into a skipped result with this reason."""

    def __init__(self, reason: str, hint: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint
        """What to do about it, when the runner's general one does not say enough."""


_ID = re.compile(r"^[a-z][a-z0-9]*(\.[a-z0-9]+(-[a-z0-9]+)*)+$")
DEFAULT_TIMEOUT = 10.0


class Registry:
    """Every known check and action, in registration order."""

    def __init__(self) -> None:
        self.checks: dict[str, CheckSpec] = {}
        self.actions: dict[str, Action] = {}

    def add_check(self, spec: CheckSpec) -> None:
        _validate_id(spec.id, self.checks)
        if spec.pane not in PANE_IDS:
            raise ValueError(f"check {spec.id}: unknown pane {spec.pane!r}")
        self.checks[spec.id] = spec

    def add_action(self, action: Action) -> None:
        _validate_id(action.id, self.actions)
        self.actions[action.id] = action

    def check(
        self,
        *,
        id: str,
        pane: str,
        title: str,
        timeout: float = DEFAULT_TIMEOUT,
        needs: Iterable[str] = (),
        checklist: tuple[str, str] | None = None,
        manual: bool = False,
        partial: str = "",
        writes: bool = False,
    ) -> Callable[[CheckFunc], CheckFunc]:
        """Register the decorated coroutine function as a check.

        ``checklist`` names the item it verifies; ``partial`` says what of that item it does
        not verify, so the coverage map never calls an item automated on a check's word alone.
        ``writes``: the check changes something in the deployment to prove it works (a test
        record, a token, failed logins); read-only mode skips it and watch mode leaves it out.
        """

        def register(func: CheckFunc) -> CheckFunc:
            ref = ChecklistRef(*checklist) if checklist else None
            if partial and ref is None:
                raise ValueError(f"check {id}: partial= needs a checklist item")
            spec = CheckSpec(
                id, pane, title, func, timeout, tuple(needs), ref, manual, partial, writes
            )
            self.add_check(spec)
            return func

        return register

    def select(self, panes: Iterable[str] = (), ids: Iterable[str] = ()) -> list[CheckSpec]:
        """Checks in the given panes and with the given ids (all when both are empty).

        Checks that a selected check ``needs`` are added, so a dependency is never
        silently missing.
        """
        panes, ids = set(panes), set(ids)
        unknown = ids - self.checks.keys()
        if unknown:
            raise KeyError(f"unknown check id(s): {', '.join(sorted(unknown))}")
        wanted = {
            spec.id
            for spec in self.checks.values()
            if (not panes and not ids) or spec.pane in panes or spec.id in ids
        }
        self.validate_needs()
        pending = list(wanted)
        while pending:
            for need in self.checks[pending.pop()].needs:
                if need not in wanted:
                    wanted.add(need)
                    pending.append(need)
        return [spec for spec in self.in_pane_order() if spec.id in wanted]

    def in_pane_order(self) -> list[CheckSpec]:
        """Every check, pane by pane; within a pane, in registration order.

        Import order decides registration order across modules, so sorting by pane keeps
        lists, reports and the README the same however the modules were first imported.
        """
        return sorted(self.checks.values(), key=lambda spec: pane_rank(spec.pane))

    def actions_in_pane_order(self) -> list[Action]:
        return sorted(self.actions.values(), key=lambda action: pane_rank(action.pane))

    def validate_needs(self) -> None:
        """Raise ValueError for a need that names no check, or a cycle of needs.

        Either would make a run wait forever (a cycle) or run a check unguarded (a typo).
        """
        for spec in self.checks.values():
            unknown = [n for n in spec.needs if n not in self.checks]
            if unknown:
                raise ValueError(f"check {spec.id} needs unknown check(s): {', '.join(unknown)}")
        visiting: set[str] = set()
        done: set[str] = set()

        def visit(check_id: str, path: tuple[str, ...]) -> None:
            if check_id in done:
                return
            if check_id in visiting:
                cycle = " -> ".join((*path[path.index(check_id) :], check_id))
                raise ValueError(f"checks need each other in a cycle: {cycle}")
            visiting.add(check_id)
            for need in self.checks[check_id].needs:
                visit(need, (*path, check_id))
            visiting.discard(check_id)
            done.add(check_id)

        for check_id in self.checks:
            visit(check_id, ())


def _validate_id(new_id: str, existing: Mapping[str, Any]) -> None:
    if not _ID.match(new_id):
        raise ValueError(f"{new_id!r} is not a kebab-case id under its area, e.g. env.fernet-key")
    if new_id in existing:
        raise ValueError(f"{new_id!r} is registered twice")


registry = Registry()
"""The registry that ``checks.catalog`` fills with every built-in check and action."""

check = registry.check


def action(
    *,
    id: str,
    title: str,
    pane: str,
    key: str = "",
    dangerous: bool = False,
    plan: PlanBuilder,
    description: str = "",
) -> Callable[[ActionRun], ActionRun]:
    """Register the decorated coroutine function ``run(ctx, plan)`` as an action."""

    def register(run: ActionRun) -> ActionRun:
        registry.add_action(Action(id, title, key, dangerous, pane, plan, run, description))
        return run

    return register
