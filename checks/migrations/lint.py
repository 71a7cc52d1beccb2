"""Risky PostgreSQL DDL in a migration's offline SQL, each with the safer alternative.

The rules look at tables that already exist in the database: creating an index on a table
made in the same migration locks nobody, doing it on ``users`` locks every write.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    rule: str
    table: str
    statement: str
    advice: str

    def summary(self) -> str:
        return f"{self.rule} on {self.table}"


_IDENT = r'"?([A-Za-z_][A-Za-z0-9_$]*)"?'
_TABLE = rf"(?:{_IDENT}\.)?{_IDENT}"

_CREATE_TABLE = re.compile(rf"^CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?{_TABLE}", re.I)
_CREATE_INDEX = re.compile(
    rf"^CREATE\s+(?:UNIQUE\s+)?INDEX\s+(CONCURRENTLY\s+)?.*?\bON\s+(?:ONLY\s+)?{_TABLE}",
    re.I | re.S,
)
_ALTER_TABLE = re.compile(
    rf"^ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?{_TABLE}\s+(.*)$", re.I | re.S
)
_DROP_TABLE = re.compile(rf"^DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?{_TABLE}", re.I)


def statements(sql: str) -> Iterable[str]:
    """The SQL's statements, without comments, whitespace-normalised."""
    without_comments = "\n".join(
        line for line in sql.splitlines() if not line.lstrip().startswith("--")
    )
    for raw in without_comments.split(";"):
        statement = " ".join(raw.split())
        if statement:
            yield statement


def lint(sql: str, existing_tables: set[str]) -> list[Finding]:
    existing = {t.lower() for t in existing_tables}
    created: set[str] = set()
    findings: list[Finding] = []
    for statement in statements(sql):
        if m := _CREATE_TABLE.match(statement):
            created.add(m.group(2).lower())
            continue
        if m := _DROP_TABLE.match(statement):
            findings.append(
                Finding(
                    "DROP TABLE",
                    m.group(2),
                    statement,
                    "Dropping a table loses its data for good: release code that no longer "
                    "uses it first, back up, and drop it in a later release.",
                )
            )
            continue
        table = _table_of(statement)
        if table is None or table.lower() not in existing or table.lower() in created:
            continue
        findings.extend(_risks_on_existing(statement, table))
    return findings


def _table_of(statement: str) -> str | None:
    for pattern, group in ((_CREATE_INDEX, 3), (_ALTER_TABLE, 2)):
        if m := pattern.match(statement):
            return m.group(group)
    return None


def _risks_on_existing(statement: str, table: str) -> list[Finding]:
    found: list[Finding] = []
    if (m := _CREATE_INDEX.match(statement)) and not m.group(1):
        found.append(
            Finding(
                "CREATE INDEX without CONCURRENTLY",
                table,
                statement,
                "It blocks writes to the table while it builds: use "
                "op.create_index(..., postgresql_concurrently=True) inside "
                "op.get_context().autocommit_block().",
            )
        )
        return found
    alter = _ALTER_TABLE.match(statement)
    if alter is None:
        return found
    action = alter.group(3)
    upper = action.upper()
    if re.search(r"\bADD\s+(COLUMN\s+)?", upper) and "NOT NULL" in upper and "DEFAULT" not in upper:
        found.append(
            Finding(
                "NOT NULL column without a default",
                table,
                statement,
                "It fails on a table that has rows: add the column nullable, backfill it, "
                "then SET NOT NULL (or give it a server default).",
            )
        )
    if re.search(r"\bDROP\s+COLUMN\b", upper):
        found.append(
            Finding(
                "DROP COLUMN",
                table,
                statement,
                "The running release may still read it, and the data is gone: stop using it "
                "in code first and drop it in a later release.",
            )
        )
    if re.search(r"\bALTER\s+(COLUMN\s+)?\S+\s+(SET\s+DATA\s+)?TYPE\b", upper):
        found.append(
            Finding(
                "column type change",
                table,
                statement,
                "It rewrites the table under an exclusive lock: add a new column, backfill, "
                "and switch over instead.",
            )
        )
    if re.search(r"\bSET\s+NOT\s+NULL\b", upper):
        found.append(
            Finding(
                "SET NOT NULL",
                table,
                statement,
                "It scans the whole table under an exclusive lock: add a CHECK (...) NOT VALID "
                "constraint, VALIDATE it, then SET NOT NULL.",
            )
        )
    if "FOREIGN KEY" in upper and "NOT VALID" not in upper:
        found.append(
            Finding(
                "foreign key validated under lock",
                table,
                statement,
                "Add it NOT VALID, then VALIDATE CONSTRAINT in a separate step.",
            )
        )
    return found
