"""Database backups as facts on disk, not as memory of one process.

``db.backup`` writes a ``pg_dump`` file and, beside it, a manifest: which server and database
it holds (the cluster's system identifier and the database's oid, so a database of the same
name elsewhere does not count), at which alembic revision, when, its size and sha256, and how
many entries ``pg_restore --list`` read back from it. ``db.upgrade`` then accepts a backup
from any process, CLI or dashboard, when its manifest matches the database it is about to
change, at its current revision, recent enough.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from checks.core import ActionFailed
from checks.envfile import atomic_write
from checks.postgres import DatabaseTarget, redacted_location
from checks.subprocesses import run

MANIFEST_SUFFIX = ".manifest.json"
DUMP_SUFFIX = ".dump"
# Hosts' clocks disagree by a little: a manifest a few minutes "ahead" is still recent.
CLOCK_SKEW = timedelta(minutes=5)

if TYPE_CHECKING:
    import asyncpg


@dataclass(frozen=True)
class DatabaseIdentity:
    """Which database this is, beyond its name: the cluster and the database's own oid."""

    server: str
    database: str
    oid: int
    location: str

    def same_as(self, other: DatabaseIdentity) -> bool:
        return (self.server, self.database, self.oid) == (other.server, other.database, other.oid)


async def identify(conn: asyncpg.Connection, target: DatabaseTarget) -> DatabaseIdentity:
    row = await conn.fetchrow(
        "SELECT (SELECT system_identifier::text FROM pg_control_system()) AS server, "
        "current_database() AS database, "
        "(SELECT oid::int FROM pg_database WHERE datname = current_database()) AS oid"
    )
    return DatabaseIdentity(row["server"], row["database"], row["oid"], redacted_location(target))


@dataclass(frozen=True)
class Manifest:
    """What a dump holds; written beside it as ``<dump>.manifest.json``."""

    dump: str
    server: str
    database: str
    database_oid: int
    location: str
    revisions: list[str]
    taken_at: str
    size: int
    sha256: str
    toc_entries: int
    tool: str = "toolbox-tui"
    notes: list[str] = field(default_factory=list)

    @property
    def identity(self) -> DatabaseIdentity:
        return DatabaseIdentity(self.server, self.database, self.database_oid, self.location)

    @property
    def taken(self) -> datetime:
        return datetime.fromisoformat(self.taken_at)


def manifest_path(dump: Path) -> Path:
    return dump.with_name(dump.name + MANIFEST_SUFFIX)


def write_manifest(dump: Path, manifest: Manifest) -> Path:
    """The manifest beside ``dump``, written atomically (a new file is private: 0600)."""
    path = manifest_path(dump)
    atomic_write(path, json.dumps(asdict(manifest), indent=2) + "\n", backup=False)
    return path


def read_manifest(dump: Path) -> Manifest | None:
    """The manifest of ``dump``; None when it is missing or unreadable (then the dump is not
    trusted: a half-written backup has no manifest)."""
    try:
        data = json.loads(manifest_path(dump).read_text(encoding="utf-8"))
        return Manifest(**data)
    except (OSError, ValueError, TypeError):
        return None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


async def count_toc_entries(pg_restore: str, dump: Path) -> int:
    """How many entries ``pg_restore --list`` reads from ``dump``: proof it can be restored
    from; ActionFailed when it cannot be read."""
    result = await run([pg_restore, "--list", str(dump)], capture_stdout=True)
    if not result.ok:
        reason = result.stderr_lines[-1] if result.stderr_lines else f"exit {result.returncode}"
        raise ActionFailed(f"pg_restore cannot read the backup {dump.name}: {reason}")
    return sum(1 for line in result.stdout.splitlines() if line and not line.startswith(";"))


@dataclass(frozen=True)
class UsableBackup:
    dump: Path
    manifest: Manifest


def find_usable_backup(
    backup_dir: Path,
    identity: DatabaseIdentity,
    revisions: set[str],
    now: datetime,
    max_age: timedelta | None,
) -> UsableBackup | None:
    """The newest backup in ``backup_dir`` of this very database at ``revisions``, taken within
    ``max_age`` of ``now`` (None: at any time before it), whose dump is still there at the size
    it was written."""
    candidates = []
    with contextlib.suppress(OSError):
        candidates = sorted(backup_dir.glob(f"*{DUMP_SUFFIX}"), reverse=True)
    for dump in candidates:
        manifest = read_manifest(dump)
        if manifest is None or not manifest.identity.same_as(identity):
            continue
        if set(manifest.revisions) != revisions:
            continue
        try:
            age = now - manifest.taken
            size = dump.stat().st_size
        except (OSError, ValueError, TypeError):
            continue
        recent = max_age is None or age <= max_age
        if age >= -CLOCK_SKEW and recent and size == manifest.size:
            return UsableBackup(dump, manifest)
    return None
