"""The app's alembic scripts, read without running its env.py.

``ScriptDirectory`` is blocking file I/O, so callers go through :func:`load` in a thread.
"""

from __future__ import annotations

import ast
import asyncio
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from checks.core import CheckFailed
from checks.offloop import import_off_loop

if TYPE_CHECKING:
    from alembic.script import Script, ScriptDirectory

    from checks.context import CheckContext


class ScriptsUnavailable(CheckFailed):
    """The alembic.ini or its script directory cannot be read; the message says why."""

    def __init__(self, message: str) -> None:
        super().__init__(
            message, "Point TOOLBOX_ALEMBIC_INI (--alembic-ini) at the app's alembic.ini."
        )


@dataclass(frozen=True)
class Revision:
    id: str
    message: str
    path: Path
    down_revisions: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.id} ({self.message})" if self.message else self.id


@dataclass(frozen=True)
class Scripts:
    ini: Path
    heads: tuple[str, ...]
    revisions: dict[str, Revision]
    _directory: ScriptDirectory

    def pending(self, current: set[str]) -> list[Revision]:
        """Revisions between ``current`` and the heads, oldest first."""
        applied = self.applied(current)
        order = self._oldest_first()
        return [self.revisions[r] for r in order if r not in applied]

    def applied(self, current: Iterable[str]) -> set[str]:
        """Every revision a database at ``current`` has applied: those and their ancestors."""
        applied: set[str] = set()
        for rev in current:
            if rev in self.revisions:
                applied |= self._ancestors(rev)
        return applied

    def undone(self, current: Iterable[str], target: Iterable[str]) -> list[Revision]:
        """The revisions a downgrade from ``current`` to ``target`` reverses, newest first
        (the order alembic runs their ``downgrade()``)."""
        applied, kept = self.applied(current), self.applied(target)
        order = reversed(self._oldest_first())
        return [self.revisions[r] for r in order if r in applied and r not in kept]

    def unknown(self, current: Iterable[str]) -> set[str]:
        return {rev for rev in current if rev not in self.revisions}

    def _ancestors(self, rev: str) -> set[str]:
        seen, stack = set(), [rev]
        while stack:
            node = stack.pop()
            if node in seen or node not in self.revisions:
                continue
            seen.add(node)
            stack.extend(self.revisions[node].down_revisions)
        return seen

    def _oldest_first(self) -> list[str]:
        walked = [script.revision for script in self._directory.walk_revisions()]
        return list(reversed(walked))


def _revision(script: Script) -> Revision:
    down = script.down_revision
    downs = (down,) if isinstance(down, str) else tuple(down or ())
    return Revision(script.revision, (script.doc or "").strip(), Path(script.path), downs)


def load_blocking(ini: Path) -> Scripts:
    # Imported here, in the worker thread: alembic pulls in SQLAlchemy (~0.4 s), which the
    # dashboard's first frame should not wait for.
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    # ScriptDirectory imports every revision file; the import system would then write
    # __pycache__ into the app's directory. This tool writes nothing there when it only looks,
    # so bytecode writing stays off for the rest of the process (our own modules ship compiled).
    sys.dont_write_bytecode = True

    if not ini.is_file():
        raise ScriptsUnavailable(f"No alembic.ini at {ini}.")
    try:
        config = Config(str(ini))
        directory = ScriptDirectory.from_config(config)
        revisions = {s.revision: _revision(s) for s in directory.walk_revisions()}
        heads = tuple(directory.get_heads())
    except CommandError as exc:
        raise ScriptsUnavailable(f"alembic cannot read {ini}: {exc}") from None
    except Exception as exc:  # a broken revision file raises whatever its import raises
        raise ScriptsUnavailable(
            f"alembic cannot load the scripts of {ini}: {type(exc).__name__}: {exc}"
        ) from None
    return Scripts(ini, heads, revisions, directory)


async def load(ctx: CheckContext) -> Scripts:
    """The app's scripts (``TOOLBOX_ALEMBIC_INI``), read once per run of checks and shared."""
    ini = ctx.config.alembic_ini_path
    await import_off_loop("alembic.config", "alembic.script")
    return await ctx.shared(f"alembic-scripts:{ini}", lambda: asyncio.to_thread(load_blocking, ini))


def downgrade_is_empty(path: Path) -> bool:
    """True when the file's ``downgrade()`` does nothing (only ``pass``, ``...`` or a docstring)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "downgrade":
            return all(_is_noop(stmt) for stmt in node.body)
    return True  # no downgrade() at all


def _is_noop(stmt: ast.stmt) -> bool:
    if isinstance(stmt, ast.Pass):
        return True
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
