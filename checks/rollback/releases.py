"""The app's git checkout and its release tags, as the rollback needs them.

Provides :func:`repository` (a :class:`Repository` for ``config.app_dir``, or CheckFailed
saying why there is none) and :func:`migration_heads_at` (the alembic heads of the scripts as
committed at a tag). A release tag is ``vMAJOR.MINOR.PATCH``; tags are ordered by those numbers,
never by name or date (v1.10.0 comes after v1.9.0). The deployed release is HEAD; the previous
release is the newest release tag that is an ancestor of HEAD and not at HEAD's commit.

git runs through :func:`checks.subprocesses.run` with explicit formats (``--format``,
``--porcelain``) and colour and path quoting off, so what a user's git config says does not
change what is read here; ``core.fsmonitor`` is off because a repository's own config could
name a program to run.
"""

from __future__ import annotations

import ast
import configparser
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from checks.context import CheckContext
from checks.core import CheckFailed
from checks.subprocesses import Completed, run

RELEASE_TAG = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")
SHORT_SHA = 7
# The environment every git command gets: never a prompt for a password (it would wait
# forever behind the dashboard), messages in English (they are read), no optional locks
# (a status only reads; it must not take the index lock from the person at the terminal).
GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GIT_OPTIONAL_LOCKS": "0"}
GIT_OPTIONS = ("-c", "core.fsmonitor=false", "-c", "core.quotepath=off", "-c", "color.ui=false")
NOT_A_CHECKOUT_HINT = (
    "Point TOOLBOX_APP_DIR (--app-dir) at the app's git clone, the one the release tags "
    "(v1.4.0, ...) are in."
)


def release_version(tag: str) -> tuple[int, int, int] | None:
    """``(1, 4, 0)`` for ``v1.4.0``; None for a tag that is not a release tag."""
    match = RELEASE_TAG.match(tag)
    if match is None:
        return None
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def in_version_order(tags: Iterable[str]) -> list[str]:
    """The release tags among ``tags``, oldest version first."""
    versions = {tag: version for tag in tags if (version := release_version(tag)) is not None}
    return sorted(versions, key=versions.__getitem__)


def short(sha: str) -> str:
    return sha[:SHORT_SHA]


def _refuse_option(rev: str) -> None:
    """A revision from a person (a tag parameter) never reaches git as an option."""
    if not rev or rev.startswith("-"):
        raise CheckFailed(f"{rev!r} is not a revision git can look up.")


@dataclass(frozen=True)
class Repository:
    """The git repository holding the app directory; every method asks git afresh."""

    root: Path
    """The repository's top directory (the app directory, or a directory above it)."""

    async def git(
        self,
        *args: str,
        log: Callable[[str], None] | None = None,
        ok_codes: Sequence[int] = (0,),
        check: bool = True,
        stdin: bytes | None = None,
        decode_errors: str = "replace",
    ) -> Completed:
        """``git ARGS`` in :attr:`root`, stdout captured and stderr to ``log``; CheckFailed
        naming git's complaint if it exits with a status outside ``ok_codes`` (unless
        ``check`` is false: then any status is the caller's to judge). ``stdin`` and
        ``decode_errors`` are :func:`~checks.subprocesses.run`'s."""
        return await _git(
            self.root,
            args,
            log=log,
            ok_codes=ok_codes if check else None,
            stdin=stdin,
            decode_errors=decode_errors,
        )

    async def texts_at(self, commit: str, paths: Sequence[str]) -> list[str | None]:
        """The text of each of ``paths`` as committed at ``commit`` (None for one that is not
        there), all read by one ``git cat-file --batch``: one process, not one per file."""
        _refuse_option(commit)
        # The batch reads one object name a line: a path holding a newline is asked alone.
        batched = [path for path in paths if "\n" not in path]
        request = "".join(f"{commit}:{path}\n" for path in batched)
        answer = await self.git(
            "cat-file",
            "--batch",
            stdin=request.encode("utf-8", "surrogateescape"),
            decode_errors="surrogateescape",  # kept byte for byte: the sizes count bytes
        )
        # Every byte as git wrote it: run() drops only the answer's last newline.
        blobs = dict(
            zip(
                batched,
                _batch_objects(answer.stdout.encode("utf-8", "surrogateescape"), len(batched)),
                strict=True,
            )
        )
        texts: list[str | None] = []
        for path in paths:
            if path in blobs:
                blob = blobs[path]
                texts.append(None if blob is None else blob.decode("utf-8", "replace"))
            else:
                shown = await self.git("show", f"{commit}:{path}", ok_codes=(0, 128))
                texts.append(shown.stdout if shown.ok else None)
        return texts

    async def head(self) -> str:
        """HEAD's full commit sha."""
        result = await self.git("rev-parse", "--verify", "HEAD^{commit}", ok_codes=(0, 128))
        if not result.ok:
            raise CheckFailed(
                f"The git repository {self.root} has no commit checked out (HEAD is unborn).",
                NOT_A_CHECKOUT_HINT,
            )
        return result.stdout.strip()

    async def _tags(self, *extra: str) -> dict[str, str]:
        """Each tag (``for-each-ref`` filtered by ``extra``) with the commit it points at."""
        result = await self.git(
            "for-each-ref",
            "--format=%(refname:strip=2) %(objectname) %(*objectname)",
            *extra,
            "refs/tags",
        )
        tags: dict[str, str] = {}
        for line in result.stdout.splitlines():
            name, *shas = line.split()
            if shas:
                tags[name] = shas[-1]  # the commit an annotated tag points at, when it has one
        return tags

    async def release_tags(self) -> list[str]:
        """Every release tag, oldest version first."""
        return list(await self.releases())

    async def releases(self) -> dict[str, str]:
        """Every release tag with the commit it points at, oldest version first."""
        tags = await self._tags()
        return {tag: tags[tag] for tag in in_version_order(tags)}

    async def tag_sha(self, tag: str) -> str | None:
        """The commit ``tag`` points at; None when there is no such tag."""
        _refuse_option(tag)
        result = await self.git(
            "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}^{{commit}}", ok_codes=(0, 1, 128)
        )
        return result.stdout.strip() if result.ok else None

    async def _ancestor_releases(self) -> list[tuple[str, str]]:
        """(tag, commit) of the release tags that are ancestors of HEAD (or at it), oldest
        version first."""
        tags = await self._tags("--merged=HEAD")
        return [(tag, tags[tag]) for tag in in_version_order(tags)]

    async def previous_release(self) -> str | None:
        """The newest release tag that is an ancestor of HEAD and not at HEAD's commit."""
        head = await self.head()
        earlier = [tag for tag, sha in await self._ancestor_releases() if sha != head]
        return earlier[-1] if earlier else None

    async def describe_head(self) -> str:
        """``v1.4.0`` (HEAD is that release), ``v1.4.0+3 (abc1234)`` (three commits after it)
        or ``abc1234`` (no release tag below HEAD)."""
        head = await self.head()
        releases = await self._ancestor_releases()
        at_head = [tag for tag, sha in releases if sha == head]
        if at_head:
            return at_head[-1]
        if not releases:
            return short(head)
        tag = releases[-1][0]
        return f"{tag}+{await self.count(tag, head)} ({short(head)})"

    async def is_ancestor(self, rev: str) -> bool:
        """Whether ``rev`` is HEAD or one of its ancestors."""
        _refuse_option(rev)
        result = await self.git("merge-base", "--is-ancestor", rev, "HEAD", ok_codes=(0, 1))
        return result.ok

    async def dirty(self) -> list[str]:
        """Tracked files changed in the work tree or the index, as ``git status --porcelain``
        lines (``' M requirements.txt'``); untracked files do not count."""
        result = await self.git("status", "--porcelain", "--untracked-files=no")
        return [line for line in result.stdout.splitlines() if line.strip()]

    async def count(self, a: str, b: str) -> int:
        """How many commits ``a..b`` holds (in ``b``, not in ``a``)."""
        _refuse_option(a)
        _refuse_option(b)
        result = await self.git("rev-list", "--count", f"{a}..{b}")
        return int(result.stdout.strip() or 0)

    async def commits(self, a: str, b: str) -> list[str]:
        """``abc1234 subject`` of each commit in ``a..b``, newest first."""
        _refuse_option(a)
        _refuse_option(b)
        result = await self.git(
            "log", "--no-show-signature", "--no-decorate", "--format=%h %s", f"{a}..{b}"
        )
        return [line for line in result.stdout.splitlines() if line]

    async def changed_files(self, a: str, b: str) -> list[str]:
        """The paths that differ between commits ``a`` and ``b``."""
        _refuse_option(a)
        _refuse_option(b)
        result = await self.git("diff", "--name-only", "--no-renames", "--no-ext-diff", a, b)
        return [line for line in result.stdout.splitlines() if line]

    async def has_remote(self, name: str) -> bool:
        result = await self.git("remote")
        return name in result.stdout.split()


def _batch_objects(answer: bytes, count: int) -> list[bytes | None]:
    """The contents of each of the ``count`` objects in ``git cat-file --batch``'s answer:
    ``<oid> <type> <size>``, a newline, the contents and a newline, or ``<name> missing``
    (None). CheckFailed when the answer is not in that form."""
    objects: list[bytes | None] = []
    at = 0
    for _ in range(count):
        end = answer.find(b"\n", at)
        end = len(answer) if end < 0 else end
        line, at = answer[at:end], end + 1
        header = line.split(b" ")
        if header[-1] in (b"missing", b"ambiguous"):
            objects.append(None)
            continue
        if len(header) != 3 or not header[2].isdigit():
            raise CheckFailed(f"git cat-file answered {line[:80]!r}, not an object's size.")
        size = int(header[2])
        objects.append(answer[at : at + size])
        at += size + 1
    return objects


async def _git(
    root: Path,
    args: Sequence[str],
    *,
    log: Callable[[str], None] | None = None,
    ok_codes: Sequence[int] | None = (0,),
    stdin: bytes | None = None,
    decode_errors: str = "replace",
) -> Completed:
    try:
        result = await run(
            ["git", *GIT_OPTIONS, *args],
            env={**os.environ, **GIT_ENV},
            cwd=root,
            log=log,
            stdin=stdin,
            capture_stdout=True,
            decode_errors=decode_errors,
        )
    except FileNotFoundError:
        raise CheckFailed(
            "git is not installed on this host, so the app's releases cannot be read.",
            "Install git (apt-get install git).",
        ) from None
    if ok_codes is not None and result.returncode not in ok_codes:
        said = " ".join(result.stderr_lines).strip() or f"exit status {result.returncode}"
        raise CheckFailed(f"git {args[0]} failed in {root}: {said}")
    return result


async def repository(ctx: CheckContext) -> Repository:
    """The git repository of ``config.app_dir``; CheckFailed when it is not a git checkout
    (or git is missing, or refuses the directory as another user's).

    Several checks of a run ask for it: git is asked once per run, and its CheckFailed
    reaches every one of them."""
    app_dir = ctx.config.app_dir
    return await ctx.shared(f"git-repository:{app_dir}", lambda: _find_repository(app_dir))


async def previous_release_of(ctx: CheckContext) -> tuple[Repository, str | None]:
    """The app's repository and its previous release (:meth:`Repository.previous_release`),
    asked of git once per run of checks."""
    repo = await repository(ctx)
    return repo, await ctx.shared(f"git-previous-release:{repo.root}", repo.previous_release)


async def _find_repository(app_dir: Path) -> Repository:
    if not app_dir.is_dir():
        raise CheckFailed(
            f"{app_dir} is not a git checkout: there is no such directory.", NOT_A_CHECKOUT_HINT
        )
    result = await _git(app_dir, ["rev-parse", "--show-toplevel"], ok_codes=(0, 128))
    said = " ".join(result.stderr_lines)
    if "dubious ownership" in said:
        raise CheckFailed(
            f"git refuses {app_dir}: it belongs to another user (dubious ownership).",
            f"Run toolbox-tui as the app's user, or: git config --global --add "
            f"safe.directory {app_dir.resolve()}",
        )
    if not result.ok:
        raise CheckFailed(
            f"{app_dir} is not a git checkout, so there are no releases to roll back to.",
            NOT_A_CHECKOUT_HINT,
        )
    return Repository(Path(result.stdout.strip()))


# -- alembic heads at a release ----------------------------------------------------------------


def versions_directory(ini: Path) -> Path:
    """The directory of the revision files that ``ini``'s ``script_location`` names."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        if not parser.read(ini, encoding="utf-8"):
            raise CheckFailed(
                f"No alembic.ini at {ini}.",
                "Point TOOLBOX_ALEMBIC_INI (--alembic-ini) at the app's alembic.ini.",
            )
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise CheckFailed(f"{ini} cannot be read as an ini file: {exc}") from None
    location = parser.get("alembic", "script_location", fallback="").strip()
    if not location:
        raise CheckFailed(f"{ini} names no script_location in its [alembic] section.")
    location = location.replace("%(here)s", str(ini.parent))
    if ":" in location and not Path(location).is_absolute():
        raise CheckFailed(
            f"{ini} names its scripts as a package resource ({location}); only a directory "
            "in the repository can be read at a release."
        )
    return (ini.parent / location / "versions").resolve()


@dataclass(frozen=True)
class _Revision:
    id: str
    down: tuple[str, ...]


def parse_revision(source: str) -> _Revision | None:
    """``revision`` and ``down_revision`` of a revision file's module-level assignments (with
    or without a type annotation); None for a file that assigns no revision."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    values: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
            try:
                values[target.id] = ast.literal_eval(value)
            except ValueError:
                return None
    revision, down = values.get("revision"), values.get("down_revision")
    if not isinstance(revision, str):
        return None
    if isinstance(down, str):
        downs: tuple[str, ...] = (down,)
    elif isinstance(down, (tuple, list)):
        downs = tuple(str(d) for d in down)
    else:
        downs = ()
    return _Revision(revision, downs)


async def migration_heads_at(ctx: CheckContext, rev: str) -> frozenset[str]:
    """The alembic head revision id(s) of the migration scripts as committed at ``rev`` (a
    tag or a commit), read with git ls-tree and git show: the work tree is not touched."""
    repo = await repository(ctx)
    _refuse_option(rev)
    verified = await repo.git(
        "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", ok_codes=(0, 1, 128)
    )
    if not verified.ok:
        raise CheckFailed(f"{rev} is not a tag or commit of the repository {repo.root}.")
    commit = verified.stdout.strip()
    versions = versions_directory(ctx.config.alembic_ini_path)
    try:
        relative = versions.relative_to(repo.root.resolve()).as_posix()
    except ValueError:
        raise CheckFailed(
            f"The migration scripts ({versions}) are outside the repository {repo.root}, "
            "so git cannot show them as a release had them."
        ) from None
    listed = await repo.git("ls-tree", "-z", "--name-only", commit, "--", relative + "/")
    names = [
        name
        for name in listed.stdout.split("\0")
        if name.strip() and PurePosixPath(name.strip()).suffix == ".py"
    ]
    sources = await repo.texts_at(commit, [name.strip() for name in names])
    revisions = [r for r in map(parse_revision, filter(None, sources)) if r is not None]
    downs = {down for r in revisions for down in r.down}
    return frozenset(r.id for r in revisions if r.id not in downs)
