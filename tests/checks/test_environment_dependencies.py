"""env.dependencies: the app's virtualenv, read from real dist-info metadata on disk."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fake_deployment import GOOD_VERSIONS, Deployment, RunCheck, write_site_packages

from checks.core import Status
from checks.environment.dependencies import (
    REQUIREMENTS,
    installed_versions,
    package_and_minimum,
    site_packages_dirs,
)


async def test_dependencies_pass_at_good_versions(deployment: Deployment, check: RunCheck) -> None:
    result = await check("env.dependencies")
    assert result.status == Status.PASS, result
    assert "python3.11/site-packages" in result.evidence["site-packages"]


@pytest.mark.parametrize(
    ("versions", "says"),
    [
        ({"stripe": "6.5.0"}, "stripe 6.5.0 < 7.0.0"),
        ({"pusher": None}, "pusher missing"),
        ({"cryptography": "3.4.8", "SQLAlchemy": "1.4.52"}, "sqlalchemy 1.4.52 < 2.0.0"),
        ({"cryptography": "3.4.8"}, "cryptography 3.4.8 < 41.0.0"),
        ({"fastapi": "0.104.0rc1"}, "fastapi 0.104.0rc1 < 0.104.0"),
        ({"uvicorn": "banana"}, "uvicorn has an unreadable version 'banana'"),
    ],
)
async def test_dependencies_fail_naming_each_missing_or_old_package(
    deployment: Deployment, check: RunCheck, versions: dict[str, str | None], says: str
) -> None:
    venv = deployment.config.venv_path
    shutil.rmtree(venv)
    wanted = {**GOOD_VERSIONS, **versions}
    write_site_packages(venv, {name: v for name, v in wanted.items() if v is not None})
    result = await check("env.dependencies")
    assert result.status == Status.FAIL
    assert says in result.message
    assert "pip install" in result.hint


async def test_dependencies_report_every_problem_with_an_install_line(
    deployment: Deployment, check: RunCheck
) -> None:
    venv = deployment.config.venv_path
    shutil.rmtree(venv)
    write_site_packages(venv, {**GOOD_VERSIONS, "stripe": "6.5.0", "Jinja2": "3.0.3"})
    result = await check("env.dependencies")
    assert result.message == "jinja2 3.0.3 < 3.1.0; stripe 6.5.0 < 7.0.0."
    assert "'jinja2>=3.1.0' 'stripe>=7.0.0'" in result.hint


async def test_dependencies_fail_without_a_virtualenv(
    deployment: Deployment, check: RunCheck
) -> None:
    shutil.rmtree(deployment.config.venv_path)
    result = await check("env.dependencies")
    assert result.status == Status.FAIL
    assert f"No virtualenv at {deployment.config.venv_path}; set TOOLBOX_APP_VENV" in result.message


async def test_dependencies_fail_for_a_directory_that_is_not_a_virtualenv(
    deployment: Deployment, check: RunCheck
) -> None:
    venv = deployment.config.venv_path
    shutil.rmtree(venv)
    venv.mkdir()
    result = await check("env.dependencies")
    assert result.status == Status.FAIL
    assert "has no site-packages" in result.message


async def test_dependencies_default_to_the_checklists_venv_in_the_app_dir(
    deployment: Deployment, check: RunCheck
) -> None:
    ctx = deployment.context(app_venv=None)
    assert ctx.config.venv_path == deployment.root / "venv"
    assert (await check("env.dependencies", ctx)).status == Status.PASS


def test_windows_layout_and_name_normalisation(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    site = venv / "Lib" / "site-packages"
    info = site / "Jinja2-3.1.4.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: Jinja2\nVersion: 3.1.4\n")
    assert site_packages_dirs(venv) == [site]
    assert installed_versions([site]) == {"jinja2": "3.1.4"}


def test_the_requirements_are_the_checklists() -> None:
    assert [str(r) for r in REQUIREMENTS] == [
        "fastapi>=0.104.0",
        "uvicorn[standard]>=0.24.0",
        "sqlalchemy>=2.0.0",
        "alembic>=1.12.0",
        "cryptography>=41.0.0",
        "jinja2>=3.1.0",
        "sendgrid>=6.10.0",
        "stripe>=7.0.0",
        "supabase>=2.0.0",
        "pusher>=3.3.0",
    ]


def test_each_requirement_reads_as_pep_508_reads_it() -> None:
    """The check reads each line as a package and its minimum, without packaging's PEP 508
    parser (~10 ms to import): a line of another form would be misread, and fails here."""
    from packaging.requirements import Requirement

    for line in REQUIREMENTS:
        parsed = Requirement(line)
        (spec,) = parsed.specifier  # one bound each, a minimum
        assert spec.operator == ">="
        assert package_and_minimum(line) == (parsed.name, spec.version)
    assert package_and_minimum("uvicorn[standard]>=0.24.0") == ("uvicorn", "0.24.0")
