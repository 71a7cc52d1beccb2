"""The DDL rules on their own, statement by statement."""

from __future__ import annotations

import pytest

from checks.migrations.lint import lint

EXISTING = {"users"}


@pytest.mark.parametrize(
    ("sql", "rule"),
    [
        ("ALTER TABLE users ADD COLUMN age INTEGER NOT NULL", "NOT NULL column without a default"),
        ("CREATE INDEX ix ON users (email)", "CREATE INDEX without CONCURRENTLY"),
        ("CREATE UNIQUE INDEX ix ON public.users (email)", "CREATE INDEX without CONCURRENTLY"),
        ("ALTER TABLE users DROP COLUMN display_name", "DROP COLUMN"),
        ("ALTER TABLE users ALTER COLUMN email TYPE TEXT", "column type change"),
        ("ALTER TABLE users ALTER COLUMN email SET NOT NULL", "SET NOT NULL"),
        ("DROP TABLE users", "DROP TABLE"),
        (
            "ALTER TABLE users ADD CONSTRAINT fk FOREIGN KEY (org) REFERENCES orgs (id)",
            "foreign key validated under lock",
        ),
    ],
)
def test_risky_statement_on_existing_table(sql: str, rule: str) -> None:
    assert [f.rule for f in lint(sql + ";", EXISTING)] == [rule]


@pytest.mark.parametrize(
    "sql",
    [
        "ALTER TABLE users ADD COLUMN nick TEXT NOT NULL DEFAULT 'x'",
        "CREATE INDEX CONCURRENTLY ix ON users (email)",
        "ALTER TABLE users ADD COLUMN nick TEXT",
        "CREATE TABLE fresh (id int); CREATE INDEX ix ON fresh (id)",
        "-- CREATE INDEX ix ON users (email)\nSELECT 1",
    ],
)
def test_safe_statements(sql: str) -> None:
    assert lint(sql, EXISTING) == []
