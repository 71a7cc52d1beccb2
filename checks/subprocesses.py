"""Running a command (alembic, pg_dump, psql) with its output streamed into a log.

Commands are argv lists — never a shell string — and credentials travel in the
environment, not on the command line where ``ps`` would show them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: str
    stderr_lines: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.returncode == 0


async def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    log: Callable[[str], None] | None = None,
    stdin: bytes | None = None,
    capture_stdout: bool = False,
) -> Completed:
    """Run ``argv``; stderr (and stdout unless captured) goes line by line to ``log``.

    Cancelling the awaiting task kills the process, so a quit or a timeout leaves nothing
    behind.
    """
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(env) if env is not None else None,
        cwd=cwd,
    )
    stderr_lines: list[str] = []
    stdout_chunks: list[str] = []

    async def pump(stream: asyncio.StreamReader, sink: list[str], to_log: bool) -> None:
        async for raw in stream:
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            sink.append(line)
            if to_log and log is not None:
                log(line)

    try:
        if stdin is not None and process.stdin is not None:
            process.stdin.write(stdin)
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                await process.stdin.drain()
            process.stdin.close()
        assert process.stdout is not None and process.stderr is not None
        await asyncio.gather(
            pump(process.stdout, stdout_chunks, not capture_stdout),
            pump(process.stderr, stderr_lines, True),
        )
        returncode = await process.wait()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        with contextlib.suppress(Exception):
            await asyncio.shield(process.wait())
        raise
    return Completed(returncode, "\n".join(stdout_chunks), tuple(stderr_lines))
