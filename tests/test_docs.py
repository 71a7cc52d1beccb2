"""The README and .env.example stay in step with the code."""

from __future__ import annotations

from pathlib import Path

from checks.envfile import parse_env_text
from checks.settings import ENV_GROUPS, ENV_VARS, ToolboxConfig
from toolbox_tui.readme import with_catalogue

ROOT = Path(__file__).resolve().parent.parent


def test_readme_catalogue_matches_the_registry() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert with_catalogue(readme) == readme, "run `make readme` to regenerate the catalogue"


def test_env_example_lists_every_variable_in_schema_order() -> None:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    parsed = parse_env_text(text)
    assert parsed.malformed_lines == ()
    assert list(parsed.values) == [var.name for var in ENV_VARS]


def test_env_example_groups_follow_the_checklist() -> None:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    positions = [text.index(f"# --- {group.title}") for group in ENV_GROUPS]
    assert positions == sorted(positions)


def test_env_example_documents_every_toolbox_setting() -> None:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in ToolboxConfig.model_fields:
        variable = f"TOOLBOX_{name.upper()}"
        assert variable in text, f"{variable} missing from .env.example"
        assert variable in readme, f"{variable} missing from the README"


def test_readme_gives_the_two_setup_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make demo" in readme and "make test" in readme
