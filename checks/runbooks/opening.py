"""Opens a release or a rollback runbook: a new one, or the unfinished one the journal holds.

Only the journal's last runbook run can be unfinished in a way that matters: a release that
failed and was then rolled back is over. An unfinished run that had changed nothing (it
stopped at the gate) may be left behind and a new one started; one that had changed
something is resumed (``resume=None``: whenever there is one), or refused when the caller
asked for a new one (``resume=False``), so that a second release never runs over a first one's
half-done steps.

A rollback undoes what the journal's last release did ("from wherever it stopped"): its
steps whose release step never started are skipped. With no release in the journal (the
release was done by hand), it takes every step back to the previous release.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from typing import TypeVar

from checks import catalog
from checks.context import CheckContext
from checks.core import CheckFailed
from checks.rollback.releases import Repository, migration_heads_at, release_version, repository
from checks.runbooks import journal, steps
from checks.runbooks.journal import RunbookRun
from checks.runbooks.lock import runbook_lock
from checks.runbooks.model import Runbook, RunbookError, Step, StepState, StepStatus

T = TypeVar("T")

RELEASE, ROLLBACK = "release", "rollback"


async def open_release(
    ctx: CheckContext, to_tag: str, *, fail_level: str | None = None, resume: bool | None = None
) -> Runbook:
    """The release of ``to_tag``: resumed if one is unfinished in the journal.

    ``resume``: None resumes an unfinished one if there is one; True requires one
    (RunbookError when there is none); False requires a new one (RunbookError when an
    unfinished one had changed something). ``fail_level``: "warn" or "fail"; None: the one
    the resumed run was started with, else "fail"."""
    runs = await _read_runs(ctx)
    seen = journal.records_in(runs)
    last = _resumable(runs, RELEASE, resume)
    if last is not None:
        if last.kind == ROLLBACK:
            raise RunbookError(
                f"A rollback ({last.release}) is unfinished: finish it first with "
                "`toolbox-tui rollback --resume`."
            )
        if last.target != to_tag:
            raise RunbookError(
                f"The release {last.release} is unfinished: resume it with `toolbox-tui "
                f"release --to {last.target} --resume`, or undo it with `toolbox-tui rollback`."
            )
        return _resumed(RELEASE, last, steps.release_steps(to_tag), {}, fail_level, seen)
    repo = await _repository(ctx)
    await _require_tag(repo, to_tag)
    deployed = await _git(repo.describe_head())
    if await _git(repo.tag_sha(to_tag)) == await _git(repo.head()):
        raise RunbookError(f"{to_tag} is already deployed (HEAD is at it): nothing to release.")
    if await _git(repo.is_ancestor(to_tag)):
        raise RunbookError(
            f"{to_tag} is older than the deployed {deployed}: going back is a rollback "
            f"(its migrations go down, not up): `toolbox-tui rollback --to {to_tag}`."
        )
    release = f"{deployed} -> {to_tag}"
    return new_runbook(RELEASE, release, steps.release_steps(to_tag), {}, fail_level, seen)


async def open_rollback(
    ctx: CheckContext,
    to_tag: str | None = None,
    *,
    fail_level: str | None = None,
    resume: bool | None = None,
) -> Runbook:
    """The rollback to ``to_tag`` (default: the release the journal's last release came
    from, else the one before the deployed commit); resumed if one is unfinished
    (``resume`` and ``fail_level`` as for :func:`open_release`)."""
    runs = await _read_runs(ctx)
    seen = journal.records_in(runs)
    last = _resumable(runs, ROLLBACK, resume)
    if last is not None and last.kind == RELEASE:
        last = None  # an unfinished release is what a rollback is for
    undone = _release_undone(runs, last)
    if last is None and undone is not None and not undone.changed_something:
        if to_tag is None or to_tag == undone.origin:
            raise RunbookError(
                f"The release {undone.release} changed nothing (it stopped at the gate): "
                "nothing to roll back. To go back to an older release, name it with --to."
            )
        undone = None  # not what this rollback undoes: it goes back from the deployed commit
    repo = await _repository(ctx)
    if last is not None:
        if to_tag is not None and to_tag != last.target:
            raise RunbookError(
                f"The rollback {last.release} is unfinished: resume it with `toolbox-tui "
                "rollback --resume` (without --to, or with the same one)."
            )
        defined = await _rollback_steps(ctx, last.target)
        return _resumed(ROLLBACK, last, defined, _skips(undone), fail_level, seen)
    target = to_tag or (_release_tag(undone.origin) if undone else None)
    target = target or await _git(repo.previous_release())
    if target is None:
        raise RunbookError(
            "There is no previous release to roll back to: no release tag below the deployed "
            "commit. Name one with --to."
        )
    await _require_tag(repo, target)
    release = f"{await _git(repo.describe_head())} -> {target}"
    defined = await _rollback_steps(ctx, target)
    return new_runbook(ROLLBACK, release, defined, _skips(undone), fail_level, seen)


async def _read_runs(ctx: CheckContext) -> list[RunbookRun]:
    """The journal, read while no other process runs a runbook (its running step would read
    as cut off); RunbookError if one does. A last run whose steps all ended done or skipped
    but whose own end was never written (the process died in between) gets it now."""
    with runbook_lock(ctx.config.audit_path):
        runs = await asyncio.to_thread(journal.read_runs, ctx)
        last = runs[-1] if runs else None
        if last is not None and last.complete and last.outcome != "ok":
            await asyncio.to_thread(_record_finished, ctx, last)
        return runs


def _record_finished(ctx: CheckContext, run: RunbookRun) -> bool:
    """Write ``run``'s runbook-level ``ok``; False when it cannot be (read-only, the log not
    writable): the run reads as finished all the same."""
    if ctx.config.read_only:
        return False
    try:
        journal.write(
            ctx,
            run,
            "ok",
            f"{_title(run.kind, run.release)}: every step is done (this end was written "
            "later: the process had stopped before it could).",
        )
    except OSError:
        return False
    run.outcome = "ok"
    run.records += 1
    return True


def _resumable(runs: list[RunbookRun], kind: str, resume: bool | None) -> RunbookRun | None:
    """The journal's last run when it is unfinished and should be resumed (see the module
    docstring); RunbookError when ``resume`` says otherwise."""
    last = runs[-1] if runs else None
    unfinished = last is not None and not last.finished
    if resume is True and not (unfinished and last is not None and last.kind == kind):
        raise RunbookError(f"There is no unfinished {kind} to resume in the audit log.")
    if not unfinished or last is None:
        return None
    changed = last.changed_something
    if resume is False and changed and last.kind == kind:
        undo = ", or undo it with `toolbox-tui rollback`" if kind == RELEASE else ""
        raise RunbookError(
            f"The {kind} {last.release} is unfinished ({_where(last)}): continue it with "
            f"--resume (done steps are not repeated){undo}."
        )
    return last if changed or resume else None


_HAPPENED = {
    "started": "was cut off",
    journal.CUT_OFF: "was cut off",
    "cancelled": "was interrupted",
    "failed": "failed",
}


def _where(run: RunbookRun) -> str:
    record = run.last
    if record is None:
        return "it had not started a step"
    happened = _HAPPENED.get(record.outcome, "ended")
    return f"its step '{record.step}' {happened} at {record.at}"


def _release_undone(runs: list[RunbookRun], rollback: RunbookRun | None) -> RunbookRun | None:
    """The release a rollback undoes: the run just before ``rollback`` (a resumed one), or
    the last run (a new one), when that is a release."""
    index = runs.index(rollback) - 1 if rollback is not None else len(runs) - 1
    if index >= 0 and runs[index].kind == RELEASE:
        return runs[index]
    return None


def _skips(release: RunbookRun | None) -> dict[str, str]:
    if release is None:
        return {}
    return steps.rollback_skips(step for step in release.steps if release.started(step))


def _release_tag(name: str) -> str | None:
    return name if release_version(name) is not None else None


async def _rollback_steps(ctx: CheckContext, target: str) -> tuple[Step, ...]:
    heads = sorted(await _git(migration_heads_at(ctx, target)))
    if len(heads) > 1:
        raise RunbookError(
            f"{target}'s migrations have {len(heads)} heads ({', '.join(heads)}): a rollback "
            "cannot pick one; downgrade by hand (alembic downgrade), then roll back the rest."
        )
    return steps.rollback_steps(target, heads[0] if heads else "base")


def new_runbook(
    kind: str,
    release: str,
    defined: tuple[Step, ...],
    skips: dict[str, str] | None = None,
    fail_level: str | None = None,
    journal_seen: int = 0,
) -> Runbook:
    """A runbook that has not run yet, with a new id; ``skips``: step id -> why it is
    skipped; ``journal_seen``: how many runbook records the journal held when it was read.
    RunbookError when a step names an action or check this toolbox-tui lacks."""
    skips = skips or {}
    statuses = [
        StepStatus(step, StepState.SKIPPED, f"skipped: {skips[step.id]}")
        if step.id in skips
        else StepStatus(step, StepState.PENDING)
        for step in steps.bind(defined, catalog.load(), kind)
    ]
    return Runbook(
        kind,
        _title(kind, release),
        statuses,
        release=release,
        run_id=uuid.uuid4().hex[:12],
        fail_level=fail_level or "fail",
        journal_seen=journal_seen,
    )


def _resumed(
    kind: str,
    run: RunbookRun,
    defined: tuple[Step, ...],
    skips: dict[str, str],
    fail_level: str | None,
    journal_seen: int,
) -> Runbook:
    statuses = []
    notes = []
    for step in steps.bind(defined, catalog.load(), kind):
        state, record = run.state(step.id)
        if record is None and step.id in skips:
            statuses.append(StepStatus(step, StepState.SKIPPED, f"skipped: {skips[step.id]}"))
            continue
        message = record.message if record is not None else ""
        if state is StepState.CUT_OFF and record is not None:
            message = f"cut off at {record.at}: its effect is unknown."
            notes.append(
                f"step '{step.id}' ({step.title}) was cut off at {record.at} "
                f"({record.user}@{record.host}, pid {record.pid}); check by hand: "
                f"{step.check_by_hand or 'what it was doing.'} It runs again, planned "
                "against the deployment as it is now."
            )
        elif state is StepState.FAILED:
            notes.append(f"step '{step.id}' failed: {message} It runs again.")
        elif record is not None and record.outcome == "cancelled":
            notes.append(f"step '{step.id}' was interrupted: {message} It runs again.")
        statuses.append(StepStatus(step, state, message))
    next_step = next((s for s in statuses if s.state not in _OVER), None)
    if not notes and next_step is not None:
        notes.append(f"from step '{next_step.step.id}' ({next_step.step.title}).")
    return Runbook(
        kind,
        _title(kind, run.release),
        statuses,
        resumed_note="Resumed: " + " ".join(notes) if notes else "",
        release=run.release,
        run_id=run.run_id,
        fail_level=fail_level or run.fail_level or "fail",
        journal_seen=journal_seen,
    )


_OVER = (StepState.DONE, StepState.SKIPPED)


def _title(kind: str, release: str) -> str:
    return f"{kind.capitalize()} {release}"


async def _repository(ctx: CheckContext) -> Repository:
    return await _git(repository(ctx))


async def _require_tag(repo: Repository, tag: str) -> None:
    if release_version(tag) is None:
        raise RunbookError(f"{tag!r} is not a release tag: release tags look like v1.5.0.")
    if await _git(repo.tag_sha(tag)) is None:
        known = await _git(repo.release_tags())
        raise RunbookError(
            f"There is no release tag {tag} in {repo.root}; known: {', '.join(known) or 'none'}."
        )


async def _git(work: Awaitable[T]) -> T:
    """``await work``, a CheckFailed from git (not a checkout, git missing) made a
    RunbookError with the same words."""
    try:
        return await work
    except CheckFailed as exc:
        raise RunbookError(f"{exc} {exc.hint}".strip()) from None
