"""Add Roblox environment models and the email queue.

Revision ID: 0002_roblox_email_queue
Revises: 0001_baseline
Create Date: 2025-10-10 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0002_roblox_email_queue"
down_revision: str | Sequence[str] | None = "0001_baseline"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamps() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "environment_templates",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("category", sa.String(60), nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("config", postgresql.JSONB, nullable=False, server_default="{}"),
        sa.Column("is_public", sa.Boolean, nullable=False, server_default=sa.true()),
        *_timestamps(),
        sa.UniqueConstraint("name", name="uq_environment_templates_name"),
    )
    op.create_table(
        "roblox_environments",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "owner_id", sa.BigInteger, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "template_id",
            sa.BigInteger,
            sa.ForeignKey("environment_templates.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("config", postgresql.JSONB, nullable=False, server_default="{}"),
        sa.Column("status", sa.String(20), nullable=False, server_default="draft"),
        *_timestamps(),
    )
    op.create_index("ix_roblox_environments_owner_id", "roblox_environments", ["owner_id"])
    op.create_table(
        "roblox_sessions",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "environment_id",
            sa.BigInteger,
            sa.ForeignKey("roblox_environments.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "user_id", sa.BigInteger, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "started_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_roblox_sessions_environment_id", "roblox_sessions", ["environment_id"])
    op.create_index("ix_roblox_sessions_user_id", "roblox_sessions", ["user_id"])
    op.create_table(
        "environment_shares",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "environment_id",
            sa.BigInteger,
            sa.ForeignKey("roblox_environments.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "shared_with_user_id",
            sa.BigInteger,
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("permission", sa.String(20), nullable=False, server_default="view"),
        *_timestamps(),
        sa.UniqueConstraint(
            "environment_id", "shared_with_user_id", name="uq_environment_shares_pair"
        ),
        sa.CheckConstraint("permission IN ('view', 'edit')", name="ck_environment_shares_perm"),
    )
    op.create_table(
        "email_queue",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("to_email", sa.String(320), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("template_name", sa.String(120), nullable=False),
        sa.Column("template_context", postgresql.JSONB, nullable=False, server_default="{}"),
        sa.Column("status", sa.String(20), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column(
            "scheduled_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'failed')", name="ck_email_queue_status"
        ),
    )
    op.create_index("ix_email_queue_status_scheduled", "email_queue", ["status", "scheduled_at"])


def downgrade() -> None:
    op.drop_index("ix_email_queue_status_scheduled", table_name="email_queue")
    op.drop_table("email_queue")
    op.drop_table("environment_shares")
    op.drop_index("ix_roblox_sessions_user_id", table_name="roblox_sessions")
    op.drop_index("ix_roblox_sessions_environment_id", table_name="roblox_sessions")
    op.drop_table("roblox_sessions")
    op.drop_index("ix_roblox_environments_owner_id", table_name="roblox_environments")
    op.drop_table("roblox_environments")
    op.drop_table("environment_templates")
