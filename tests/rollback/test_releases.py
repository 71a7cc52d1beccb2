"""The app's releases in real git repositories: the repository model, rollback.previous-release
and rollback.clean-tree passing and failing for each reason they name, and code.checkout
previewed, run, and refused when the world moved since the preview."""

from __future__ import annotations

from pathlib import Path

import pytest

from checks.core import Status, registry
from checks.rollback.releases import (
    Repository,
    in_version_order,
    migration_heads_at,
    parse_revision,
    repository,
)
from checks.runner import build_plan
from tests.integrations.running import assert_fails, check, fix, run
from tests.rollback.repos import context, git, release_app
from toolbox_tui.sandbox.app_repo import REGION_REVISION

CHECKOUT = "code.checkout"


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """The demo app's checkout: v1.3.0, v1.4.0 (HEAD, detached), v1.5.0 (main)."""
    return release_app(tmp_path / "app").app_dir


async def repo_of(app_dir: Path) -> Repository:
    return await repository(context(app_dir))


def commit_file(app_dir: Path, name: str, text: str, message: str) -> str:
    (app_dir / name).write_text(text)
    git(app_dir, "add", name)
    git(app_dir, "commit", "-q", "-m", message)
    return git(app_dir, "rev-parse", "HEAD")


def test_release_tags_sort_by_version_numbers_not_by_name() -> None:
    tags = ["v1.10.0", "v1.9.0", "release-1", "v2.0.0-rc1", "v1.9.10", "v0.9.0"]
    assert in_version_order(tags) == ["v0.9.0", "v1.9.0", "v1.9.10", "v1.10.0"]


async def test_the_demo_repository_as_the_model_reads_it(app: Path) -> None:
    repo = await repo_of(app)
    assert repo.root == app
    assert await repo.release_tags() == ["v1.3.0", "v1.4.0", "v1.5.0"]
    assert await repo.head() == await repo.tag_sha("v1.4.0")
    assert await repo.describe_head() == "v1.4.0"
    assert await repo.previous_release() == "v1.3.0"
    assert await repo.tag_sha("v9.9.9") is None
    assert await repo.is_ancestor("v1.3.0") and not await repo.is_ancestor("v1.5.0")
    assert await repo.dirty() == []
    [commit] = await repo.commits("HEAD", "v1.5.0")
    assert commit.endswith(" Release 1.5.0: a region for each Roblox environment")
    assert await repo.changed_files("v1.4.0", "v1.5.0") == [
        "alembic/versions/0003_roblox_environment_region.py",
        "requirements.txt",
        "toolboxai/__init__.py",
    ]


async def test_ten_comes_after_nine_and_a_release_at_head_is_not_the_previous_one(
    app: Path,
) -> None:
    git(app, "checkout", "-q", "main")  # v1.5.0
    head = git(app, "rev-parse", "HEAD")
    git(app, "tag", "v1.10.0", "v1.4.0")  # lightweight, on an older commit: still the newest
    git(app, "tag", "v1.9.0", "v1.3.0")
    git(app, "tag", "-a", "-m", "same commit as v1.5.0", "v1.5.1", head)
    repo = await repo_of(app)
    assert await repo.release_tags() == [
        "v1.3.0",
        "v1.4.0",
        "v1.5.0",
        "v1.5.1",
        "v1.9.0",
        "v1.10.0",
    ]
    assert await repo.describe_head() == "v1.5.1"
    assert await repo.previous_release() == "v1.10.0"


async def test_commits_after_a_release_describe_it_plus_their_count(app: Path) -> None:
    head = commit_file(app, "NOTES.md", "hotfix\n", "Hotfix: a note")
    repo = await repo_of(app)
    assert await repo.describe_head() == f"v1.4.0+1 ({head[:7]})"
    assert await repo.previous_release() == "v1.4.0"


async def test_migration_heads_as_each_release_committed_them(app: Path) -> None:
    ctx = context(app)
    assert await migration_heads_at(ctx, "v1.3.0") == {"0001_baseline"}
    assert await migration_heads_at(ctx, "v1.4.0") == {"0002_roblox_email_queue"}
    assert await migration_heads_at(ctx, "v1.5.0") == {REGION_REVISION}
    # The work tree is at v1.4.0 and is left as it is.
    assert not (app / "alembic/versions/0003_roblox_environment_region.py").exists()


async def test_files_at_a_commit_are_read_back_as_committed(app: Path) -> None:
    """Sizes count bytes: CRLF endings, bytes that are not UTF-8, a last line without a
    newline and a file ending in blank lines all come back as committed; a path that is not
    there is None; names with a space or a newline are read too."""
    files = {
        "crlf.py": b"revision = 'a'\r\ndown_revision = None\r\n",
        "latin1 name.py": b"# caf\xe9\nrevision = 'b'",
        "blank.py": b"revision = 'c'\n\n\n",
        "new\nline.py": b"revision = 'd'",  # asked alone: the batch reads a name a line
    }
    for name, data in files.items():
        (app / name).write_bytes(data)
    git(app, "add", "--all")
    git(app, "commit", "-q", "-m", "Files to read back")
    repo = await repo_of(app)
    head = await repo.head()

    texts = await repo.texts_at(head, [*files, "no_such_file.py"])

    assert texts == [data.decode("utf-8", "replace") for data in files.values()] + [None]


def test_revision_files_are_read_with_or_without_annotations_and_with_merges() -> None:
    merge = 'revision = "m1"\ndown_revision = ("a", "b")\n'
    annotated = 'revision: str = "x"\ndown_revision: str | None = None\n'
    assert parse_revision(merge) is not None and parse_revision(merge).down == ("a", "b")  # type: ignore[union-attr]
    assert parse_revision(annotated) is not None and parse_revision(annotated).down == ()  # type: ignore[union-attr]
    assert parse_revision('"""No revision here."""\n') is None


# -- rollback.previous-release ---------------------------------------------------------------


async def test_previous_release_passes_naming_both_releases(app: Path) -> None:
    result = await check(context(app), "rollback.previous-release")
    assert result.status is Status.PASS, result.message
    assert result.message == "Previous release v1.3.0 (deployed v1.4.0, 1 commit between)."
    assert result.evidence["previous"] == "v1.3.0"


async def test_previous_release_fails_without_release_tags(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    git(app, "init", "-q")
    commit_file(app, "README.md", "app\n", "First commit")
    git(app, "tag", "build-42")  # not a release tag
    result = await check(context(app), "rollback.previous-release")
    assert_fails(result, "No previous release", "has no release tag")


async def test_previous_release_fails_at_the_first_release(app: Path) -> None:
    git(app, "checkout", "-q", "--detach", "v1.3.0")
    result = await check(context(app), "rollback.previous-release")
    assert_fails(result, "No previous release: v1.3.0 is the first release")


async def test_previous_release_fails_on_a_branch_without_the_releases(app: Path) -> None:
    git(app, "checkout", "-q", "--orphan", "experiment")
    head = commit_file(app, "README.md", "unrelated\n", "Unrelated history")
    result = await check(context(app), "rollback.previous-release")
    assert_fails(result, "no release tag is an ancestor of HEAD", head[:7])


@pytest.mark.parametrize("check_id", ["rollback.previous-release", "rollback.clean-tree"])
async def test_a_directory_that_is_not_a_git_checkout_fails(tmp_path: Path, check_id: str) -> None:
    (tmp_path / ".env").write_text("APP_ENV=production\n")
    result = await check(context(tmp_path), check_id)
    assert_fails(result, f"{tmp_path} is not a git checkout", "TOOLBOX_APP_DIR")


async def test_every_check_of_a_run_hears_that_the_directory_is_not_a_git_checkout(
    tmp_path: Path,
) -> None:
    # The repository is looked up once per run; its failure still reaches each check.
    (tmp_path / ".env").write_text("APP_ENV=production\n")
    ran = await run(context(tmp_path), "rollback.previous-release", "rollback.clean-tree")
    for check_id in ("rollback.previous-release", "rollback.clean-tree"):
        assert_fails(ran[check_id].result, f"{tmp_path} is not a git checkout", "TOOLBOX_APP_DIR")


# -- rollback.clean-tree ---------------------------------------------------------------------


async def test_clean_tree_passes_with_untracked_and_ignored_files_around(app: Path) -> None:
    (app / "alembic/versions/0003_user_nickname.py").write_text("# untracked\n")
    (app / "toolbox-audit.log").write_text("")
    result = await check(context(app), "rollback.clean-tree")
    assert result.status is Status.PASS, result.message


async def test_clean_tree_fails_naming_changed_tracked_files(app: Path) -> None:
    (app / "requirements.txt").write_text("toolboxai-sdk==1.4.1\n")
    (app / "toolboxai/__init__.py").unlink()
    git(app, "add", "toolboxai/__init__.py")  # a staged deletion counts too
    result = await check(context(app), "rollback.clean-tree")
    assert_fails(result, "2 tracked files changed", "requirements.txt", "toolboxai/__init__.py")


# -- code.checkout ---------------------------------------------------------------------------


async def test_checkout_goes_back_to_the_previous_release(app: Path) -> None:
    ctx = context(app)
    lines, done = await fix(ctx, CHECKOUT)
    assert done.outcome == "ok", done.message
    shown = "\n".join(lines)
    assert "git checkout --detach v1.3.0" in shown
    assert "Leaves out 1 commit:" in shown and "Release 1.4.0" in shown
    assert "alembic/versions/0002_roblox_environments_email_queue.py" in shown
    assert "git fetch" not in shown  # no origin
    assert done.changes == ("checked out v1.3.0 (was v1.4.0)",)
    assert git(app, "rev-parse", "HEAD") == git(app, "rev-parse", "v1.3.0^{commit}")
    assert (app / "requirements.txt").read_text().splitlines()[-1] == "toolboxai-sdk==1.3.0"
    assert not (app / "alembic/versions/0002_roblox_environments_email_queue.py").exists()


async def test_checkout_of_a_newer_tag_brings_its_commits_in(app: Path) -> None:
    plan = await build_plan(registry.actions[CHECKOUT], context(app, tag="v1.5.0"))
    assert plan.refusal is None, plan.text
    assert "Brings in 1 commit:" in plan.text and "Changes 3 files" in plan.text
    _, done = await fix(context(app, tag="v1.5.0"), CHECKOUT, plan)
    assert done.outcome == "ok", done.message
    assert done.changes == ("checked out v1.5.0 (was v1.4.0)",)
    assert (app / "alembic/versions/0003_roblox_environment_region.py").is_file()


async def test_checkout_fetches_the_tags_of_origin_first(tmp_path: Path, app: Path) -> None:
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(app), str(clone))
    git(app, "tag", "v1.6.0", "main")  # a tag the clone learns of only by fetching
    ctx = context(clone, tag="v1.3.0")
    lines, done = await fix(ctx, CHECKOUT)
    assert done.outcome == "ok", done.message
    assert "  git fetch --tags origin" in "\n".join(lines).splitlines()[1]
    assert "v1.6.0" in git(clone, "tag", "--list")


async def test_checkout_of_an_unknown_tag_is_refused_naming_the_release_tags(app: Path) -> None:
    plan = await build_plan(registry.actions[CHECKOUT], context(app, tag="v9.9.9"))
    assert plan.refusal is not None and not plan.already_done
    assert "v9.9.9 is not a release tag" in plan.refusal
    assert "v1.3.0, v1.4.0, v1.5.0" in plan.refusal


async def test_checkout_of_the_release_at_head_has_nothing_to_do(app: Path) -> None:
    plan = await build_plan(registry.actions[CHECKOUT], context(app, tag="v1.4.0"))
    assert plan.already_done, plan.text
    assert "already at v1.4.0" in plan.text


async def test_checkout_without_a_previous_release_is_refused(app: Path) -> None:
    git(app, "checkout", "-q", "--detach", "v1.3.0")
    plan = await build_plan(registry.actions[CHECKOUT], context(app))
    assert plan.refusal is not None and "no previous release" in plan.refusal


async def test_checkout_of_a_dirty_tree_is_refused(app: Path) -> None:
    (app / "requirements.txt").write_text("toolboxai-sdk==1.4.1\n")
    plan = await build_plan(registry.actions[CHECKOUT], context(app))
    assert plan.refusal is not None and "requirements.txt" in plan.refusal


async def test_checkout_refuses_when_head_moved_since_the_preview(app: Path) -> None:
    ctx = context(app)
    plan = await build_plan(registry.actions[CHECKOUT], ctx)
    git(app, "checkout", "-q", "--detach", "v1.5.0")
    _, done = await fix(ctx, CHECKOUT, plan)
    assert done.outcome == "refused" and "HEAD moved" in done.message, done.message
    assert git(app, "describe", "--tags") == "v1.5.0"  # nothing was done


async def test_checkout_refuses_when_the_tree_got_dirty_since_the_preview(app: Path) -> None:
    ctx = context(app)
    plan = await build_plan(registry.actions[CHECKOUT], ctx)
    (app / "alembic.ini").write_text("# edited by hand\n")
    _, done = await fix(ctx, CHECKOUT, plan)
    assert done.outcome == "refused" and "alembic.ini" in done.message, done.message
    assert git(app, "describe", "--tags") == "v1.4.0"


async def test_checkout_refuses_when_the_tag_moved_since_the_preview(app: Path) -> None:
    ctx = context(app)
    plan = await build_plan(registry.actions[CHECKOUT], ctx)
    git(app, "tag", "-f", "v1.3.0", "main")
    _, done = await fix(ctx, CHECKOUT, plan)
    assert done.outcome == "refused" and "tag v1.3.0 moved" in done.message, done.message


async def test_checkout_outside_a_git_checkout_is_refused(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("")
    plan = await build_plan(registry.actions[CHECKOUT], context(tmp_path))
    assert plan.refusal is not None and "is not a git checkout" in plan.refusal
