"""Rollback pane, the code: is there a release to go back to, and can git check it out.

Provides checks ``rollback.previous-release`` and ``rollback.clean-tree`` and the action
``code.checkout`` (the rollback plan's ``git checkout <previous-release-tag>``; a release runbook
uses it with ``tag=`` the new release). The repository model is :mod:`checks.rollback.releases`.
"""

from __future__ import annotations

import asyncio

from checks.checklist import ROLLBACK
from checks.context import CheckContext
from checks.core import (
    ActionFailed,
    ActionRefused,
    Outcome,
    Plan,
    action,
    check,
    failed,
    nothing_to_do,
    passed,
    plan,
    refused_plan,
)
from checks.environment.backup import names_text
from checks.rollback.releases import (
    Repository,
    previous_release_of,
    release_version,
    repository,
    short,
)

PANE = "rollback"
CHECKOUT = "code.checkout"
CHECKLIST = (ROLLBACK, "Code rollback")
SHOWN_PATHS = 6  # changed tracked files named in a message
SHOWN_COMMITS = 5  # commit subjects in a preview
SHOWN_FILES = 10  # changed files in a preview
REMOTE = "origin"


def _porcelain_path(line: str) -> str:
    """The path of a ``git status --porcelain`` line (``' M a.py'``, ``'R  old -> new'``)."""
    return line[3:]


async def _changed_paths(repo: Repository) -> list[str]:
    """The tracked files changed in the work tree (none when it is clean)."""
    return [_porcelain_path(line) for line in await repo.dirty()]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


@check(
    id="rollback.previous-release",
    pane=PANE,
    title="Previous release to roll back to",
    checklist=CHECKLIST,
)
async def previous_release(ctx: CheckContext) -> Outcome:
    repo, previous = await previous_release_of(ctx)
    deployed = await repo.describe_head()
    if previous is not None:
        between = await repo.count(previous, "HEAD")
        return passed(
            f"Previous release {previous} (deployed {deployed}, "
            f"{_plural(between, 'commit')} between).",
            previous=previous,
            repository=repo.root,
            deployed=deployed,
        )
    tags = await repo.release_tags()
    if not tags:
        return failed(
            f"No previous release: {repo.root} has no release tag (vX.Y.Z) to roll back to.",
            "Tag each release as it is deployed (git tag -a v1.4.0), and fetch the tags "
            "(git fetch --tags).",
            repository=repo.root,
            deployed=deployed,
        )
    if release_version(deployed) is not None:
        # HEAD is a release, and no release before it is an ancestor: the first one.
        return failed(
            f"No previous release: {deployed} is the first release; no tag comes before it.",
            "A first release rolls back by hand; tag the next one from here.",
            repository=repo.root,
            deployed=deployed,
            release_tags=", ".join(tags),
        )
    return failed(
        f"No previous release: no release tag is an ancestor of HEAD ({deployed}); "
        f"HEAD is on a branch without the releases {names_text(tags, SHOWN_PATHS)}.",
        "Check out the deployed release (git checkout --detach vX.Y.Z), or fetch the tags "
        "of the branch that was deployed (git fetch --tags).",
        repository=repo.root,
        deployed=deployed,
        release_tags=", ".join(tags),
    )


@check(id="rollback.clean-tree", pane=PANE, title="Work tree clean", checklist=CHECKLIST)
async def clean_tree(ctx: CheckContext) -> Outcome:
    repo = await repository(ctx)
    paths = await _changed_paths(repo)
    if not paths:
        return passed(f"No tracked file changed in {repo.root}.", repository=repo.root)
    return failed(
        f"{_plural(len(paths), 'tracked file')} changed: {names_text(paths, SHOWN_PATHS)}.",
        "A checkout of a release would refuse, or carry the changes along. Commit or stash "
        "them (git stash), or discard them (git checkout -- PATH), in " + str(repo.root) + ".",
        repository=repo.root,
        changed="; ".join(paths),
    )


# -- code.checkout -------------------------------------------------------------------------------


async def _target_tag(ctx: CheckContext, repo: Repository) -> tuple[str | None, str | None]:
    """(tag, None) to check out, or (None, why not): the ``tag`` parameter, else the previous
    release."""
    wanted = ctx.params.get("tag", "").strip()
    if wanted:
        return wanted, None
    previous = await repo.previous_release()
    if previous is None:
        return None, (
            "Refused: there is no previous release to check out (no release tag is an "
            "ancestor of HEAD); name one with the tag parameter (--param tag=v1.4.0)."
        )
    return previous, None


async def _plan_checkout(ctx: CheckContext) -> Plan:
    repo = await repository(ctx)
    tag, why_not = await _target_tag(ctx, repo)
    if tag is None:
        return refused_plan(why_not or "Refused: no tag to check out.")
    releases = await repo.releases()
    tags = list(releases)
    tag_sha = releases.get(tag)
    if tag_sha is None:
        known = ", ".join(tags) if tags else "none"
        fetch = f" (A tag only on {REMOTE}: git fetch --tags {REMOTE} first.)"
        return refused_plan(
            f"Refused: {tag} is not a release tag of {repo.root}; the release tags are: "
            f"{known}." + (fetch if await repo.has_remote(REMOTE) else "")
        )
    head = await repo.head()
    was = await repo.describe_head()
    if head == tag_sha:
        return nothing_to_do(f"Nothing to check out: HEAD is already at {tag} ({short(head)}).")
    if paths := await _changed_paths(repo):
        return refused_plan(
            f"Refused: {_plural(len(paths), 'tracked file')} changed in {repo.root}: "
            f"{names_text(paths, SHOWN_PATHS)}. Commit, stash or discard them first."
        )
    remote = await repo.has_remote(REMOTE)
    lines = [f"In {repo.root}, now at {was} ({short(head)}):"]
    if remote:
        lines.append(
            f"  git fetch --tags {REMOTE}  (a failed fetch is reported, and the checkout "
            f"goes on only if {tag} still points at {short(tag_sha)})"
        )
    lines.append(f"  git checkout --detach {tag}  (commit {short(tag_sha)})")
    lines += await _range_lines(repo, head, tag, tag_sha)
    return plan(*lines, tag=tag, tag_sha=tag_sha, head=head, was=was, fetch=remote)


async def _range_lines(repo: Repository, head: str, tag: str, tag_sha: str) -> list[str]:
    """What the checkout brings in and leaves out, commit by commit, and the files it changes."""
    lines: list[str] = []
    for label, a, b in (("Brings in", head, tag_sha), ("Leaves out", tag_sha, head)):
        commits = await repo.commits(a, b)
        if commits:
            lines.append(f"{label} {_plural(len(commits), 'commit')}:")
            lines += [f"  {c}" for c in commits[:SHOWN_COMMITS]]
            if len(commits) > SHOWN_COMMITS:
                lines.append(f"  ... and {len(commits) - SHOWN_COMMITS} more")
    files = await repo.changed_files(head, tag_sha)
    lines.append(f"Changes {_plural(len(files), 'file')} in the work tree:")
    lines += [f"  {f}" for f in files[:SHOWN_FILES]]
    if len(files) > SHOWN_FILES:
        lines.append(f"  ... and {len(files) - SHOWN_FILES} more")
    return lines


@action(
    id=CHECKOUT,
    title="Check out a release (git checkout)",
    pane=PANE,
    key="c",
    dangerous=True,
    plan=_plan_checkout,
    description="git checkout --detach of the previous release tag (or the tag parameter).",
)
async def checkout(ctx: CheckContext, planned: Plan) -> str:
    tag: str = planned.payload["tag"]
    tag_sha: str = planned.payload["tag_sha"]
    head: str = planned.payload["head"]
    was: str = planned.payload["was"]
    repo = await repository(ctx)
    if planned.payload["fetch"]:
        ctx.log(f"git fetch --tags {REMOTE}")
        fetched = await repo.git("fetch", "--tags", REMOTE, log=ctx.log, check=False)
        if not fetched.ok:
            ctx.log(f"The fetch failed (exit {fetched.returncode}); going on with the local tags.")
    await _require_unchanged(repo, tag, tag_sha, head)
    ctx.log(f"git checkout --detach {tag}")
    try:
        result = await repo.git("checkout", "--detach", tag_sha, log=ctx.log, check=False)
    except asyncio.CancelledError:
        await _say_if_moved(ctx, repo, head, tag, was)
        raise
    if not result.ok:
        await _say_if_moved(ctx, repo, head, tag, was)
        said = result.stderr_lines[-1] if result.stderr_lines else f"exit {result.returncode}"
        raise ActionFailed(f"git checkout of {tag} failed: {said}")
    now = await repo.head()
    if now != tag_sha:
        raise ActionFailed(f"After the checkout HEAD is at {short(now)}, not at {tag}.")
    ctx.changed(f"checked out {tag} (was {was})")
    return f"Checked out {tag} ({short(tag_sha)}); it was {was}."


async def _require_unchanged(repo: Repository, tag: str, tag_sha: str, head: str) -> None:
    """ActionRefused if HEAD, the tag or the work tree moved since the preview."""
    now = await repo.head()
    if now != head:
        raise ActionRefused(
            f"Refused: HEAD moved from {short(head)} to {short(now)} since the preview; "
            "nothing was done. Preview again."
        )
    tag_now = await repo.tag_sha(tag)
    if tag_now != tag_sha:
        moved = short(tag_now) if tag_now else "nowhere (deleted)"
        raise ActionRefused(
            f"Refused: the tag {tag} moved from {short(tag_sha)} to {moved} since the preview; "
            "nothing was done. Preview again."
        )
    if paths := await _changed_paths(repo):
        raise ActionRefused(
            "Refused: the work tree changed since the preview "
            f"({names_text(paths, SHOWN_PATHS)}); "
            "nothing was done. Preview again."
        )


async def _say_if_moved(ctx: CheckContext, repo: Repository, head: str, tag: str, was: str) -> None:
    """After a checkout that failed or was interrupted: record it if HEAD moved anyway."""
    try:
        now = await asyncio.shield(repo.head())
    except Exception:  # the failure being reported matters more than this one
        return
    if now != head:
        ctx.changed(f"HEAD moved to {short(now)} while checking out {tag} (was {was})")
