"""catalog.load(panes): a headless run registers the selected panes' checks, and what they need.

The registry is one per process, so what a partial load registers is seen in a fresh one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from checks import catalog
from checks.core import PANE_IDS
from toolbox_tui import cli
from toolbox_tui.reporters import EXIT_FAILED


def registered_after_loading(panes: list[str]) -> dict[str, list[str]]:
    """Check ids by pane after ``catalog.load(panes)`` in a fresh interpreter, whose needs
    must all be registered (``select`` raises otherwise)."""
    code = (
        "import json; from checks import catalog\n"
        f"registry = catalog.load({panes!r})\n"
        "registry.validate_needs()\n"
        "by_pane = {}\n"
        "for spec in registry.in_pane_order():\n"
        "    by_pane.setdefault(spec.pane, []).append(spec.id)\n"
        "print(json.dumps(by_pane))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded: dict[str, list[str]] = json.loads(out.stdout)
    return loaded


@pytest.fixture(scope="module")
def every_pane() -> dict[str, list[str]]:
    return registered_after_loading([])


def test_loading_everything_registers_every_pane_with_checks(every_pane) -> None:  # type: ignore[no-untyped-def]
    assert {"environment", "migrations", "integrations", "health", "rollback"} <= every_pane.keys()


@pytest.mark.parametrize("pane", PANE_IDS)
def test_a_pane_alone_registers_all_its_checks_and_their_needs(pane: str, every_pane) -> None:  # type: ignore[no-untyped-def]
    loaded = registered_after_loading([pane])
    # Exactly the pane's checks, in the same order, as when everything is loaded...
    assert loaded.get(pane, []) == every_pane.get(pane, [])
    # ...plus only the panes of the checks they need (health's database checks need
    # db.reachable, from migrations; the Vault checks and the encryption round trip need
    # env.vault and env.fernet-key; the rollback's db.reachable and env.file).
    needed = {
        "health": {"health", "migrations"},
        "integrations": {"integrations", "environment"},
        "security": {"security", "environment"},
        "rollback": {"rollback", "environment", "migrations"},
    }.get(pane, {pane})
    assert set(loaded) <= needed


def test_modules_for_names_each_package_once_in_pane_order() -> None:
    assert catalog.modules_for(["health", "environment"]) == (
        "checks.environment",
        "checks.migrations",
        "checks.health",
    )
    assert catalog.modules_for(["health", "migrations"]) == ("checks.migrations", "checks.health")
    assert catalog.modules_for([]) == catalog.BUILTIN_MODULES
    assert catalog.modules_for(["rollback"]) == (
        "checks.environment",
        "checks.migrations",
        "checks.rollback",
    )


def test_an_unknown_pane_is_refused_not_ignored() -> None:
    with pytest.raises(ValueError, match="unknown pane"):
        catalog.modules_for(["enviroment"])


@pytest.mark.parametrize(
    ("argv", "panes"),
    [
        (["check", "--pane", "environment"], ("environment",)),
        (["check", "--pane", "health", "--pane", "rollback"], ("health", "rollback")),
        (["check"], ()),
        # An id may live in any pane: --only loads them all.
        (["check", "--pane", "environment", "--only", "db.reachable"], ()),
        (["list"], ()),
        (["fix", "env.snapshot-backup"], ()),
        ([], ()),
    ],
)
def test_the_command_line_loads_the_panes_it_selects(argv: list[str], panes: tuple[str]) -> None:
    assert cli.panes_to_load(cli.build_parser().parse_args(argv)) == panes


def test_check_of_one_pane_runs_the_checks_it_needs_from_another(tmp_path: Path) -> None:
    # db.query-latency needs db.reachable: loading the health pane alone must bring it, or
    # the run would be an internal error. In a fresh process, so nothing was loaded before.
    env = tmp_path / ".env"
    env.write_text("APP_ENV=production\n")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "toolbox_tui.cli",
            "check",
            "--pane",
            "health",
            "--format",
            "json",
            f"--env-file={env}",
            f"--app-dir={tmp_path}",
        ],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("TOOLBOX_")},
    )
    assert out.returncode == EXIT_FAILED, out.stderr
    ids = {result["id"] for result in json.loads(out.stdout)["results"]}
    assert {"db.reachable", "db.query-latency", "redis.reachable"} <= ids
