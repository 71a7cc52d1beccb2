"""The demo app's migrations: a copy of the release's alembic directory, which the sandbox's
scenarios may then break (a second head, a risky migration) without touching the original.
"""

from __future__ import annotations

import shutil
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]

BRANCH_REVISION = '''"""Add a nickname to users (a branch made in parallel with the release).

Revision ID: 0003_user_nickname
Revises: 0001_baseline
Create Date: 2025-10-09 00:00:00
"""

import sqlalchemy as sa

from alembic import op

revision = "0003_user_nickname"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("nickname", sa.String(60), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "nickname")
'''


def copy_alembic(app_dir: Path) -> Path:
    """``app_dir/alembic.ini`` and ``app_dir/alembic/``, copied from the release."""
    target = app_dir / "alembic"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(PROJECT_ROOT / "alembic", target, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(PROJECT_ROOT / "alembic.ini", app_dir / "alembic.ini")
    return app_dir / "alembic.ini"


def add_revision(app_dir: Path, name: str, source: str) -> Path:
    path = app_dir / "alembic" / "versions" / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    return path


def add_second_head(app_dir: Path) -> Path:
    """A revision that branches from the baseline: the scripts then have two heads."""
    return add_revision(app_dir, "0003_user_nickname", BRANCH_REVISION)
