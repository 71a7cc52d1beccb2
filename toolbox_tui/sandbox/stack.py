"""The sandbox: a demo deployment wired to real local PostgreSQL and Redis, optionally broken.

``with Sandbox(app_dir, breaks=["pending-migration"]) as sandbox:`` starts both servers,
writes the demo's env file pointing at them, copies the release's migrations into the
app directory, brings the database to head and then applies each scenario. Leaving the
block stops every process it started, whatever happened inside; if this process is killed
instead, the servers' watchdog does it (see local_server.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from types import TracebackType

from checks.migrations.alembic_cli import alembic
from checks.postgres import parse_database_url
from toolbox_tui.sandbox.app_alembic import add_second_head, copy_alembic
from toolbox_tui.sandbox.demo import Demo, write_demo
from toolbox_tui.sandbox.errors import SandboxError
from toolbox_tui.sandbox.postgres import PostgresServer
from toolbox_tui.sandbox.redis import RedisServer
from toolbox_tui.sandbox.scenarios import DEMO_BREAKS, SCENARIOS, Scenario

__all__ = ["DEMO_BREAKS", "SCENARIOS", "Sandbox", "Scenario"]

DATABASE = "toolboxai_prod"
BASELINE = "0001_baseline"


class Sandbox:
    def __init__(
        self,
        app_dir: Path,
        breaks: Iterable[str] = (),
        now: datetime | None = None,
        seed: int | None = None,
    ) -> None:
        self.breaks = tuple(breaks)
        unknown = [b for b in self.breaks if b not in SCENARIOS]
        if unknown:
            known = ", ".join(SCENARIOS)
            raise SandboxError(f"unknown scenario(s) {', '.join(unknown)}; known: {known}")
        self.app_dir = app_dir.resolve()
        self._now, self._seed = now, seed
        self.postgres = PostgresServer()
        self.redis = RedisServer()
        self.demo: Demo | None = None

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start both servers and set the scenarios up; on failure nothing is left running."""
        try:
            self.postgres.start()
            self.redis.start()
            database_url = self.postgres.create_database(DATABASE)
            self.demo = write_demo(
                self.app_dir, self._now, self._seed, database_url, self.redis.url()
            )
            ini = copy_alembic(self.app_dir)
            revision = BASELINE if "pending-migration" in self.breaks else "heads"
            _migrate(ini, database_url, revision)
            for name in self.breaks:
                _APPLY[name](self)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> list[str]:
        """Stop both servers and remove their directories; one sentence per server."""
        done = [self.redis.stop(), self.postgres.stop()]
        return [sentence for sentence in done if sentence is not None]

    def config_overrides(self) -> dict[str, object]:
        assert self.demo is not None, "the sandbox is not started"
        return self.demo.config_overrides()


def _migrate(ini: Path, database_url: str, revision: str) -> None:
    target = parse_database_url(database_url)
    # In a thread with its own loop, so the sandbox can start from async code (tests) too.
    with ThreadPoolExecutor(max_workers=1) as pool:
        result = pool.submit(
            asyncio.run, alembic(ini, ini.parent / "venv", target, ["upgrade", revision])
        ).result()
    if not result.ok:
        raise SandboxError("alembic upgrade failed: " + " ".join(result.stderr_lines[-3:]))


_APPLY: dict[str, Callable[[Sandbox], object]] = {
    # The database was left at the baseline by start(); nothing more to do.
    "pending-migration": lambda sandbox: None,
    "multiple-heads": lambda sandbox: add_second_head(sandbox.app_dir),
    # Halted, not removed: `sandbox.postgres.start()` brings it back, data included.
    "db-down": lambda sandbox: sandbox.postgres.halt(),
}
