"""vault.rotation-workflow on the app repository's workflow file: passes for the demo's, and
fails for each way a workflow would leave the secrets unrotated."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import checks.integrations  # noqa: F401  (registers the pane's checks)
from checks.core import CheckResult, Status
from checks.integrations import rotation_workflow
from tests.checks.db_helpers import run_check
from tests.conftest import MakeContext
from toolbox_tui.sandbox.demo import ROTATION_WORKFLOW

CHECK = "vault.rotation-workflow"


async def check_workflow(
    make_context: MakeContext, tmp_path: Path, text: str | None, name: str = "vault-rotation.yml"
) -> CheckResult:
    if text is not None:
        folder = tmp_path / ".github" / "workflows"
        folder.mkdir(parents=True)
        (folder / name).write_text(text, encoding="utf-8")
    return await run_check(make_context(""), CHECK)


@pytest.mark.parametrize("name", ["vault-rotation.yml", "vault-rotation.yaml"])
async def test_the_demo_workflow_passes(
    make_context: MakeContext, tmp_path: Path, name: str
) -> None:
    result = await check_workflow(make_context, tmp_path, ROTATION_WORKFLOW, name)
    assert result.status is Status.PASS, result.message
    assert result.evidence["schedule"] == "0 3 * * *"
    assert "check on GitHub that it is enabled" in result.message


async def test_a_missing_workflow_fails(make_context: MakeContext, tmp_path: Path) -> None:
    result = await check_workflow(make_context, tmp_path, None)
    assert result.status is Status.FAIL
    assert result.message.startswith(
        "The app repository has no .github/workflows/vault-rotation.yml"
    )


async def test_a_workflow_without_a_schedule_fails(
    make_context: MakeContext, tmp_path: Path
) -> None:
    manual_only = ROTATION_WORKFLOW.replace('  schedule:\n    - cron: "0 3 * * *"\n', "")
    result = await check_workflow(make_context, tmp_path, manual_only)
    assert result.status is Status.FAIL
    assert result.message == (
        "vault-rotation.yml has no schedule: rotation runs only when someone starts it."
    )


async def test_a_workflow_missing_a_secret_names_it(
    make_context: MakeContext, tmp_path: Path
) -> None:
    text = ROTATION_WORKFLOW.replace("${{ secrets.VAULT_SECRET_ID }}", "hard-coded")
    result = await check_workflow(make_context, tmp_path, text)
    assert result.status is Status.FAIL
    assert result.message == (
        "vault-rotation.yml does not pass VAULT_SECRET_ID from the repository's secrets."
    )


async def test_broken_yaml_fails_with_its_line(make_context: MakeContext, tmp_path: Path) -> None:
    result = await check_workflow(make_context, tmp_path, "on:\n  schedule: [\n")
    assert result.status is Status.FAIL
    assert result.message.startswith("vault-rotation.yml is not valid YAML at line")


async def test_a_workflow_that_is_a_directory_is_refused(
    make_context: MakeContext, tmp_path: Path
) -> None:
    (tmp_path / ".github" / "workflows" / "vault-rotation.yml").mkdir(parents=True)
    result = await run_check(make_context(""), CHECK)
    assert result.status is Status.FAIL
    assert result.message.endswith("vault-rotation.yml cannot be read: it is not a regular file.")


async def test_the_workflow_is_read_and_parsed_off_the_event_loop(
    make_context: MakeContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PyYAML's import and the parse took 30-40 ms of the dashboard's loop during a run."""
    imported: list[tuple[str, ...]] = []
    loaded_on: list[str] = []
    load, import_off_loop = rotation_workflow._load, rotation_workflow.import_off_loop

    async def importing(*names: str) -> None:
        imported.append(names)
        await import_off_loop(*names)

    def loading(path: Path) -> object:
        loaded_on.append(threading.current_thread().name)
        return load(path)

    monkeypatch.setattr(rotation_workflow, "import_off_loop", importing)
    monkeypatch.setattr(rotation_workflow, "_load", loading)
    result = await check_workflow(make_context, tmp_path, ROTATION_WORKFLOW)
    assert result.status is Status.PASS, result.message
    assert imported == [("yaml",)]
    assert loaded_on and loaded_on != [threading.current_thread().name]
