"""rollback.downgrades, rollback.database-backup and db.downgrade against a real PostgreSQL and
a real git repository holding the app's releases (v1.3.0, v1.4.0, v1.5.0 as the sandbox makes
them; a test may add v1.6.0 with a migration of its own)."""

from __future__ import annotations

import inspect
import json
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from checks import audit
from checks.core import CheckResult, Status, registry
from checks.migrations.alembic_cli import STEP_MARK
from checks.migrations.backups import manifest_path, read_manifest
from checks.rollback.database import DOWNGRADE_ID
from checks.runner import build_plan
from tests.checks.db_helpers import db_context, execute, fetchval, migrate, run_check
from tests.conftest import FIXED_NOW, MakeContext
from tests.integrations.running import fix
from tests.rollback.repos import git
from toolbox_tui.sandbox.app_alembic import add_revision, copy_alembic
from toolbox_tui.sandbox.app_repo import REGION_FILE, REGION_REVISION, create_repository

DOWNGRADES = "rollback.downgrades"
BACKUP_CHECK = "rollback.database-backup"
V14_HEAD = "0002_roblox_email_queue"


def revision_0004(
    name: str, upgrade: str, downgrade: str, down: str | tuple[str, ...] = REGION_REVISION
) -> str:
    return f'''"""{name.replace("_", " ")}.

Revision ID: {name}
Revises: {down}
"""

import sqlalchemy as sa

from alembic import op

revision = "{name}"
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    {upgrade}


def downgrade() -> None:
    {downgrade}
'''


# A downgrade whose SQL fails: the rollback stops at it.
BROKEN_DOWN = revision_0004(
    "0004_broken_down",
    'op.add_column("users", sa.Column("badge", sa.String(20), nullable=True))',
    'op.execute("ALTER TABLE no_such_table DROP COLUMN badge")',
)
# A downgrade that forgets its work: upgrading again trips on what it left behind.
ONE_WAY = revision_0004(
    "0004_one_way",
    'op.add_column("users", sa.Column("legacy_flag", sa.Boolean, nullable=True))',
    "pass",
)


# A downgrade that ends alembic's process, successfully: the upgrade after it never runs.
EXITS = revision_0004(
    "0004_exits",
    'op.add_column("users", sa.Column("exit_flag", sa.Boolean, nullable=True))',
    "import sys; sys.exit(0)",
)


def app_at(app: Path, extra: str = "") -> Path:
    """The app's repository with HEAD at v1.5.0, or, given ``extra`` (a revision 0004's
    source), at a v1.6.0 that adds it; returns its alembic.ini."""
    ini = copy_alembic(app)
    create_repository(app)
    git(app, "checkout", "--quiet", "--detach", "v1.5.0")
    if extra:
        add_revision(app, extra.split('revision = "')[1].split('"')[0], extra)
        release(app, "v1.6.0")
    return ini


def release(app: Path, tag: str) -> None:
    """Commit the changes to the migration scripts as release ``tag``, checked out."""
    git(app, "add", "--all", "alembic")
    git(app, "commit", "--quiet", "-m", f"Release {tag}")
    git(app, "tag", tag)


@pytest.fixture(scope="module")
def v15(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One repository at v1.5.0 for the tests that only read it."""
    return app_at(tmp_path_factory.mktemp("v15") / "app")


def on(make_context: MakeContext, database: str, ini: Path, tmp_path: Path, **config: object):  # type: ignore[no-untyped-def]
    """A context over ``database`` and the app whose alembic.ini is ``ini``; backups and the
    audit log are the test's own."""
    return db_context(
        make_context,
        database,
        alembic_ini=ini,
        app_dir=ini.parent,
        backup_dir=tmp_path / "backups",
        audit_log=tmp_path / "audit.log",
        **config,
    )


async def version(url: str) -> object:
    return await fetchval(url, "SELECT string_agg(version_num, ',') FROM alembic_version")


async def scratch_databases(url: str) -> object:
    query = "SELECT count(*) FROM pg_database WHERE datname LIKE 'toolbox_rehearsal_%'"
    return await fetchval(url, query)


async def downgrades_of_v160(
    make_context: MakeContext, database: str, tmp_path: Path, revision: str
) -> CheckResult:
    """rollback.downgrades on a database upgraded to a v1.6.0 that adds ``revision``."""
    ini = app_at(tmp_path / "app", revision)
    await migrate(ini, database, "upgrade", "head")
    return await run_check(on(make_context, database, ini, tmp_path), DOWNGRADES)


# -- rollback.downgrades ----------------------------------------------------------------------


async def test_the_downgrades_since_the_previous_release_are_rehearsed_and_pass(
    make_context: MakeContext, database: str, v15: Path, tmp_path: Path
) -> None:
    await migrate(v15, database, "upgrade", "head")
    log: list[str] = []
    result = await run_check(on(make_context, database, v15, tmp_path), DOWNGRADES, log)

    assert result.status is Status.PASS, result.message
    # Both steps ran in one alembic process; the log reads as two, each with its time.
    headers = [line for line in log if line.startswith(("── ", "   "))]
    assert headers[0] == f"── downgrade: alembic downgrade {V14_HEAD}", log
    assert headers[1].startswith("   downgrade took ") and headers[1].endswith(" s")
    assert headers[2] == f"── upgrade again: alembic upgrade {REGION_REVISION}"
    assert headers[3].startswith("   upgrade again took ")
    assert not [line for line in log if "toolbox-tui: alembic step" in line]
    assert result.message.startswith(
        f"1 downgrade(s) back to v1.4.0 work: {REGION_REVISION} (Add a region to Roblox"
    ), result.message
    assert result.message.endswith("on a scratch copy; the upgrade runs again on top).")
    assert result.evidence["downgrade to"] == V14_HEAD
    assert await scratch_databases(database) == 0
    assert await version(database) == REGION_REVISION  # the real database was only read


async def test_a_release_whose_tables_have_check_constraints_rehearses_cleanly(
    make_context: MakeContext, database: str, tmp_path: Path
) -> None:
    """v1.4.0's 0002 makes CHECK (status IN (...)) constraints, which PostgreSQL prints
    otherwise once they went through a dump and a load: its downgrade on the copy and the
    upgrade again pass, as they do on the real database."""
    app = tmp_path / "app"
    ini = copy_alembic(app)
    create_repository(app)  # HEAD at v1.4.0
    await migrate(ini, database, "upgrade", "head")
    result = await run_check(on(make_context, database, ini, tmp_path), DOWNGRADES)

    assert result.status is Status.PASS, result.message
    assert result.message.startswith(f"1 downgrade(s) back to v1.3.0 work: {V14_HEAD}")
    assert await scratch_databases(database) == 0


async def test_nothing_to_undo_at_the_previous_release(
    make_context: MakeContext, database: str, v15: Path, tmp_path: Path
) -> None:
    await migrate(v15, database, "upgrade", V14_HEAD)
    result = await run_check(on(make_context, database, v15, tmp_path), DOWNGRADES)
    assert result.status is Status.PASS, result.message
    assert result.message == f"Nothing to undo: no migration since v1.4.0 is applied ({V14_HEAD})."


async def test_a_failing_downgrade_fails_naming_its_revision_and_statement(
    make_context: MakeContext, database: str, tmp_path: Path
) -> None:
    result = await downgrades_of_v160(make_context, database, tmp_path, BROKEN_DOWN)

    assert result.status is Status.FAIL
    assert result.message == (
        "The downgrade of 0004_broken_down fails: ALTER TABLE no_such_table DROP COLUMN badge"
    )
    assert "0004_broken_down's downgrade()" in result.hint and "v1.5.0" in result.hint
    assert await scratch_databases(database) == 0
    assert await version(database) == "0004_broken_down"


async def test_a_downgrade_that_leaves_something_behind_fails(
    make_context: MakeContext, database: str, tmp_path: Path
) -> None:
    result = await downgrades_of_v160(make_context, database, tmp_path, ONE_WAY)

    assert result.status is Status.FAIL
    assert result.message.startswith(
        "After the downgrade, upgrading 0004_one_way again fails: ALTER TABLE users ADD COLUMN "
        "legacy_flag"
    ), result.message
    assert await scratch_databases(database) == 0


async def test_a_downgrade_that_ends_the_process_fails_saying_so(
    make_context: MakeContext, database: str, tmp_path: Path
) -> None:
    result = await downgrades_of_v160(make_context, database, tmp_path, EXITS)

    assert result.status is Status.FAIL
    assert result.message.startswith(
        "The downgrade of 0004_exits fails: alembic's process ended"
    ), result.message
    assert "sys.exit()" in result.message
    assert await scratch_databases(database) == 0


async def test_nothing_to_undo_makes_no_scratch_copy(
    make_context: MakeContext, database: str, v15: Path, tmp_path: Path
) -> None:
    """The database at the previous release's head: decided without a scratch database."""
    await migrate(v15, database, "upgrade", V14_HEAD)
    log: list[str] = []
    result = await run_check(on(make_context, database, v15, tmp_path), DOWNGRADES, log)
    assert result.status is Status.PASS, result.message
    assert result.message.startswith("Nothing to undo")
    assert not [line for line in log if "scratch database" in line], log


async def test_an_unreachable_database_skips_it_naming_db_reachable(
    make_context: MakeContext, database: str, v15: Path, tmp_path: Path
) -> None:
    missing = database.rsplit("/", 1)[0] + "/toolbox_no_such_database"
    result = await run_check(on(make_context, missing, v15, tmp_path), DOWNGRADES)
    assert result.status is Status.SKIP
    assert result.message.startswith(
        "Skipped: the database cannot be reached (db.reachable): The database "
        "'toolbox_no_such_database' does not exist"
    ), result.message
    assert result.message.endswith(".") and not result.message.endswith(".."), result.message
    assert result.hint == "Create it, or fix the database name in DATABASE_URL."


async def test_an_app_directory_outside_git_skips_it_naming_previous_release(
    make_context: MakeContext, database: str, tmp_path: Path
) -> None:
    ini = copy_alembic(tmp_path / "app")  # the scripts, and no repository around them
    result = await run_check(on(make_context, database, ini, tmp_path), DOWNGRADES)
    assert result.status is Status.SKIP
    assert result.message.startswith(
        "Skipped: the previous release is unknown (rollback.previous-release): "
    ), result.message
    assert "is not a git checkout" in result.message and not result.message.endswith("..")
    assert result.hint.startswith("Point TOOLBOX_APP_DIR (--app-dir) at the app's git clone")


def rehearsal_processes(parent: int) -> list[int]:
    """The pids of ``parent``'s children that are alembic processes started for a rehearsal
    (their command line holds the step mark)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            # /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces and parens.
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == parent and STEP_MARK.encode() in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except (OSError, ValueError, IndexError):
            continue  # it ended while we looked
    return found


# A pg_dump that fails, once alembic's process has started beside it (a sibling: both are
# the test process's children), or saying that it never did.
FAILS_BESIDE_ALEMBIC = """#!{python}
import sys, time
sys.path.insert(0, {tests!r})
from test_database_rollback_helpers import rehearsal_processes
import os
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    if rehearsal_processes(os.getppid()):
        sys.exit("pg_dump: error: permission denied")
    time.sleep(0.01)
sys.exit("pg_dump: error: no alembic process started beside the copy")
"""


async def test_a_scratch_copy_that_cannot_be_made_fails_and_ends_alembics_process(
    make_context: MakeContext,
    database: str,
    v15: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """alembic's process starts while the copy is made; the copy failing ends it unused."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "test_database_rollback_helpers.py").write_text(
        f"from pathlib import Path\nSTEP_MARK = {STEP_MARK!r}\n\n"
        + inspect.getsource(rehearsal_processes)
    )
    pg_dump = bin_dir / "pg_dump"
    pg_dump.write_text(FAILS_BESIDE_ALEMBIC.format(python=sys.executable, tests=str(bin_dir)))
    pg_dump.chmod(0o755)
    monkeypatch.setenv("TOOLBOX_PG_BIN", str(bin_dir))
    await migrate(v15, database, "upgrade", "head")
    log: list[str] = []
    result = await run_check(on(make_context, database, v15, tmp_path), DOWNGRADES, log)

    assert result.status is Status.FAIL
    assert result.message == (
        "The rehearsal failed: pg_dump --schema-only failed: pg_dump: error: permission denied"
    )
    assert not [line for line in log if line.startswith("── ")], log  # no step ran
    assert await scratch_databases(database) == 0
    assert rehearsal_processes(os.getpid()) == []
    assert await version(database) == REGION_REVISION


async def test_a_database_on_several_branches_has_no_downgrade(
    make_context: MakeContext, database: str, v15: Path, tmp_path: Path
) -> None:
    await migrate(v15, database, "upgrade", "head")
    await execute(database, f"INSERT INTO alembic_version VALUES ('{V14_HEAD}')")
    log: list[str] = []
    result = await run_check(on(make_context, database, v15, tmp_path), DOWNGRADES, log)
    assert result.status is Status.FAIL
    assert result.message.startswith(
        "No downgrade to v1.4.0: the database is on several branches"
    ), result.message
    assert not [line for line in log if "scratch database" in line], log


def previous_head_dropped(app: Path) -> Path:
    """v1.6.0 drops v1.5.0's migration: the deployed scripts lack the previous head."""
    ini = app_at(app)
    (app / REGION_FILE).unlink()
    release(app, "v1.6.0")
    return ini


def previous_with_two_heads(app: Path) -> Path:
    """v1.6.0 branches off v1.4.0's head (two heads); v1.7.0, deployed, merges them."""
    ini = app_at(app, revision_0004("0004_side", "pass", "pass", down=V14_HEAD))
    merge = revision_0004("0005_merge", "pass", "pass", down=(REGION_REVISION, "0004_side"))
    add_revision(app, "0005_merge", merge)
    release(app, "v1.7.0")
    return ini


@pytest.mark.parametrize(
    ("history", "message", "hint"),
    [
        (
            previous_head_dropped,
            f"v1.5.0's migration head {REGION_REVISION} is not in the deployed scripts: there "
            "is no downgrade path back to it.",
            "restore the previous release's backup",
        ),
        (
            previous_with_two_heads,
            f"v1.6.0 has 2 migration heads ({REGION_REVISION}, 0004_side): a downgrade goes to "
            "one revision.",
            "alembic downgrade BRANCH@REVISION",
        ),
    ],
    ids=["head-dropped", "two-heads"],
)
async def test_no_single_downgrade_target_at_the_previous_release_fails(
    make_context: MakeContext,
    database: str,
    tmp_path: Path,
    history: Callable[[Path], Path],
    message: str,
    hint: str,
) -> None:
    ini = history(tmp_path / "app")
    result = await run_check(on(make_context, database, ini, tmp_path), DOWNGRADES)
    assert result.status is Status.FAIL
    assert result.message == message
    assert hint in result.hint
    assert await scratch_databases(database) == 0


# -- rollback.database-backup -------------------------------------------------------------------


async def test_the_backup_of_this_release_is_found_re_verified_and_aged(
    make_context: MakeContext, database: str, v15: Path, tmp_path: Path
) -> None:
    await migrate(v15, database, "upgrade", "head")
    ctx = on(make_context, database, v15, tmp_path)

    missing = await run_check(ctx, BACKUP_CHECK)
    assert missing.status is Status.FAIL
    assert (
        missing.message.startswith("No verified backup of ") and REGION_REVISION in missing.message
    )
    assert missing.actions == ("db.backup",)

    assert (await fix(ctx, "db.backup"))[1].outcome == "ok"
    three_days_on = replace(ctx, clock=lambda: FIXED_NOW + timedelta(days=3))  # no age limit
    found = await run_check(three_days_on, BACKUP_CHECK)
    assert found.status is Status.PASS, found.message
    [dump] = (tmp_path / "backups").glob("*.dump")
    manifest = read_manifest(dump)
    assert manifest is not None
    assert found.message.startswith(f"Verified backup, taken 3 days ago: {dump.name} (")
    assert found.message.endswith(
        f" at {REGION_REVISION}, {manifest.toc_entries} entries read back now)."
    )
    dump.write_bytes(b"\0" * dump.stat().st_size)  # same size, unreadable
    broken = await run_check(ctx, BACKUP_CHECK)
    assert broken.status is Status.FAIL
    assert broken.message.startswith(f"pg_restore cannot read the backup {dump.name}")


async def test_a_backup_that_reads_back_other_entries_than_written_fails(
    make_context: MakeContext, database: str, v15: Path, tmp_path: Path
) -> None:
    await migrate(v15, database, "upgrade", "head")
    ctx = on(make_context, database, v15, tmp_path)
    assert (await fix(ctx, "db.backup"))[1].outcome == "ok"
    [dump] = (tmp_path / "backups").glob("*.dump")
    manifest_file = manifest_path(dump)
    recorded = json.loads(manifest_file.read_text())
    written = recorded["toc_entries"]
    manifest_file.write_text(json.dumps({**recorded, "toc_entries": written + 5}))

    changed = await run_check(ctx, BACKUP_CHECK)
    assert changed.status is Status.FAIL
    assert changed.message == (
        f"{dump.name} now reads back {written} entries, not the {written + 5} written: "
        "it changed since it was taken."
    )
    assert changed.actions == ("db.backup",)


# -- db.downgrade -------------------------------------------------------------------------------


async def test_downgrade_needs_a_backup_then_goes_one_down_and_reads_it_back(
    make_context: MakeContext, database: str, v15: Path, tmp_path: Path
) -> None:
    await migrate(v15, database, "upgrade", "head")
    ctx = on(make_context, database, v15, tmp_path)
    _, refused = await fix(ctx, DOWNGRADE_ID)
    assert refused.outcome == "refused" and "no verified backup" in refused.message
    assert await version(database) == REGION_REVISION

    assert (await fix(ctx, "db.backup"))[1].outcome == "ok"
    lines, done = await fix(ctx, DOWNGRADE_ID)

    assert done.outcome == "ok", done.message
    assert lines[0].startswith(f"alembic downgrade {V14_HEAD} on ") and lines[0].endswith(
        f"from {REGION_REVISION} to {V14_HEAD}: undoes {REGION_REVISION} "
        "(Add a region to Roblox environments (where the environment's servers run).)."
    )
    assert any("ALTER TABLE roblox_environments DROP COLUMN region" in line for line in lines)
    assert any(line.startswith("Backup: ") for line in lines)
    assert any(f"Running downgrade {REGION_REVISION} -> {V14_HEAD}" in line for line in lines)
    assert done.message.startswith(f"Downgraded to {V14_HEAD} in ")
    assert await version(database) == V14_HEAD
    [end] = audit.endings(audit.read(ctx.config.audit_path))[-1:]
    assert end.action == DOWNGRADE_ID and end.outcome == "ok"
    assert f"from {REGION_REVISION} to {V14_HEAD}" in end.changes[0]


async def test_downgrade_to_where_the_database_is_has_nothing_to_do(
    make_context: MakeContext, database: str, v15: Path, tmp_path: Path
) -> None:
    await migrate(v15, database, "upgrade", V14_HEAD)
    ctx = on(make_context, database, v15, tmp_path).with_params(to=V14_HEAD)
    planned = await build_plan(registry.actions[DOWNGRADE_ID], ctx)
    assert planned.already_done
    assert planned.refusal is not None
    assert planned.refusal.startswith("Nothing to downgrade: ") and planned.refusal.endswith(
        f"is already at {V14_HEAD}."
    )


BAD_TARGETS = {
    "0009_nope": "no revision '0009_nope' in the migration scripts",
    REGION_REVISION: f"{REGION_REVISION} is not below the database's revision {V14_HEAD}",
    "0001_baseline,0002_roblox_email_queue": "names several revisions",
    "-3": f"there are only 2 revision(s) below {V14_HEAD}",
}


async def test_a_target_that_is_no_downgrade_is_refused_saying_why(
    make_context: MakeContext, database: str, v15: Path, tmp_path: Path
) -> None:
    await migrate(v15, database, "upgrade", V14_HEAD)
    ctx = on(make_context, database, v15, tmp_path, require_backup=False)
    for to, reason in BAD_TARGETS.items():
        _, done = await fix(ctx.with_params(to=to), DOWNGRADE_ID)
        assert done.outcome == "refused"
        assert done.message.startswith(f"Refused: cannot downgrade to {to!r}: "), done.message
        assert reason in done.message
    assert await version(database) == V14_HEAD


async def test_a_failing_downgrade_stops_with_the_database_at_a_known_revision(
    make_context: MakeContext, database: str, tmp_path: Path
) -> None:
    ini = app_at(tmp_path / "app", BROKEN_DOWN)
    await migrate(ini, database, "upgrade", "head")
    # Two revisions down: 0004's downgrade fails first, and everything rolls back.
    ctx = on(make_context, database, ini, tmp_path, require_backup=False).with_params(to=V14_HEAD)
    _, done = await fix(ctx, DOWNGRADE_ID)

    assert done.outcome == "failed"
    assert done.message == (
        "The downgrade failed at 0004_broken_down: ALTER TABLE no_such_table DROP COLUMN "
        "badge — it was rolled back: the database is still at 0004_broken_down; nothing "
        "changed."
    )
    assert await version(database) == "0004_broken_down"
    assert await fetchval(database, "SELECT to_regclass('users')::text") == "users"


async def test_downgrade_refuses_when_the_database_moved_since_the_preview(
    make_context: MakeContext, database: str, v15: Path, tmp_path: Path
) -> None:
    await migrate(v15, database, "upgrade", "head")
    ctx = on(make_context, database, v15, tmp_path, require_backup=False)
    downgrade = registry.actions[DOWNGRADE_ID]
    planned = await build_plan(downgrade, ctx)
    assert planned.refusal is None
    # Someone else moved it meanwhile (as a downgrade would leave it, without its wait).
    await execute(database, f"UPDATE alembic_version SET version_num = '{V14_HEAD}'")
    _, done = await fix(ctx, DOWNGRADE_ID, planned)
    assert done.outcome == "refused"
    assert f"moved from {REGION_REVISION} to {V14_HEAD} since the preview" in done.message
    assert await version(database) == V14_HEAD
