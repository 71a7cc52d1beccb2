"""Running a command (alembic, pg_dump, psql) with its output streamed into a log.

Commands are argv lists — never a shell string — and credentials travel in the
environment, not on the command line where ``ps`` would show them.

A command never outlives us. It runs in its own process group, so a Ctrl-C typed at the
terminal reaches only us and we decide how it stops; the kernel kills it if we die, even
by kill -9 (the parent-death signal: see :func:`death_signal_argv`); and a cancelled
``run`` first interrupts it (SIGINT: alembic and SQLAlchemy roll their transaction back and
exit), then kills what is left. A command still waiting for its input is killed at once: it
has done nothing yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import inspect
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

INTERRUPT_GRACE = 5.0  # seconds a cancelled command gets to stop on SIGINT before SIGKILL
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_CHUNK = 64 * 1024  # bytes read from a command's stdout or stderr at a time


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
    stdin: bytes | Awaitable[bytes] | None = None,
    capture_stdout: bool = False,
    interrupt_grace: float = INTERRUPT_GRACE,
    decode_errors: str = "replace",
) -> Completed:
    """Run ``argv``; stderr (and stdout unless captured) goes line by line to ``log``.

    Captured stdout is decoded as UTF-8 with ``decode_errors``: "surrogateescape" keeps
    bytes that are not UTF-8 (file names) so that they encode back as they were. What is
    logged is for people: undecodable bytes show as \ufffd.

    ``stdin`` may be awaitable: the command starts at once and is given its input once that
    is ready, so that its own start-up overlaps whatever the input waits for. Should awaiting
    it raise or be cancelled, the command is killed at once, without the SIGINT below: it was
    given nothing to act on. What awaiting it raised is raised.

    Cancelling the awaiting task sends SIGINT to the command's process group, SIGKILL to
    whatever of it is left ``interrupt_grace`` seconds later (at once on a second
    cancellation), reaps it and re-raises: a quit or a timeout leaves nothing behind.
    """
    try:
        wrapper = await _death_signal_argv()
        if wrapper:
            _require_program(argv[0], env, cwd)
            wrapper = (*wrapper, str(os.getpid()))
        if sys.version_info < (3, 12):  # later versions watch children by pidfd already
            from checks import child_watcher

            child_watcher.install()  # no thread per command (see there)
        process = await asyncio.create_subprocess_exec(
            *wrapper,
            *argv,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=None if wrapper else die_with_parent(),
        )
    except BaseException:
        if inspect.iscoroutine(stdin):
            stdin.close()  # it will never be awaited now
        raise
    stderr_lines: list[str] = []
    stdout_chunks: list[str] = []

    async def pump(stream: asyncio.StreamReader, sink: list[str], to_log: bool) -> None:
        def said(raw: bytes) -> None:
            line = raw.decode("utf-8", errors="replace" if to_log else decode_errors)
            sink.append(line)
            if to_log and log is not None:
                log(line)

        # Read in chunks and split the lines here: a line longer than the stream's
        # buffer limit (64 KiB) makes StreamReader's own line reading raise ValueError.
        pending = bytearray()  # the start of a line whose end has not come yet
        while chunk := await stream.read(_CHUNK):
            end = chunk.rfind(b"\n")
            if end < 0:
                pending += chunk  # a long line goes on: no need to look at it again
                continue
            pending += chunk[:end]
            for raw in pending.split(b"\n"):
                said(bytes(raw))
            pending = bytearray(chunk[end + 1 :])
        if pending:
            said(bytes(pending))

    async def feed(sink: asyncio.StreamWriter, given: bytes | Awaitable[bytes]) -> None:
        try:
            data = given if isinstance(given, bytes) else await given
        except BaseException:  # a failure, or a cancellation: it must not wait for input
            sink.close()
            _signal_group(process.pid, signal.SIGKILL)
            raise
        sink.write(data)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            await sink.drain()
        sink.close()

    feeding = None
    if stdin is not None and process.stdin is not None:
        feeding = asyncio.ensure_future(feed(process.stdin, stdin))
    try:
        assert process.stdout is not None and process.stderr is not None
        await asyncio.gather(
            pump(process.stdout, stdout_chunks, not capture_stdout),
            pump(process.stderr, stderr_lines, True),
        )
        returncode = await process.wait()
        if feeding is not None:
            await feeding  # what awaiting the input raised, once the killed command is reaped
    except BaseException:
        if feeding is not None:
            feeding.cancel()
        await _interrupt(process, interrupt_grace)
        raise
    return Completed(returncode, "\n".join(stdout_chunks), tuple(stderr_lines))


async def _interrupt(process: asyncio.subprocess.Process, grace: float) -> None:
    """SIGINT to the process group, SIGKILL to what is left of it after ``grace``; reaped."""
    # The group's id is the child's pid (start_new_session). The kernel does not hand it
    # out again while any member of the group lives.
    _signal_group(process.pid, signal.SIGINT)
    # Too slow, or cancelled once more: either way, stop waiting.
    with contextlib.suppress(TimeoutError, asyncio.CancelledError):
        await asyncio.wait_for(asyncio.shield(process.wait()), grace)
    # Also after a clean exit: a grandchild it left behind must not go on alone.
    _signal_group(process.pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        await asyncio.shield(process.wait())


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


SYSTEM_BIN = "/usr/bin:/bin:/usr/sbin:/sbin"
"""Where setpriv is looked for: not the tool's PATH, which root's shell may have changed."""
# Run by /bin/sh under setpriv, once the death signal is set: if we died before that, our
# pid is no longer its parent and nobody would send the signal, so it stops there. $1 is
# our pid, then the command.
_STILL_OURS = '[ "$PPID" = "$1" ] || exit 125; shift; exec "$@"'


@functools.cache
def death_signal_argv() -> tuple[str, ...]:
    """The words that start a command with the kernel's parent-death signal set: util-linux's
    ``setpriv --pdeathsig KILL`` (2.33+), then ``/bin/sh`` checking that we are still its
    parent; our pid comes next, then the command. () where there is no such setpriv (or not
    Linux): :func:`die_with_parent` sets the signal instead.

    Why not always ``die_with_parent``: any ``preexec_fn`` makes Python fork the whole
    process rather than vfork it, copying its page tables with the GIL held. For the
    dashboard in the middle of a run (~350 MB) that is ~20 ms per command, during which no
    thread of ours moves, the screen's included; this way, ~1 ms. Asked once, by running
    ``/bin/sh -c "exit 0"`` so; :func:`run` asks off the event loop.
    """
    if not sys.platform.startswith("linux"):
        return ()
    setpriv = shutil.which("setpriv", path=SYSTEM_BIN)
    if setpriv is None or not os.access("/bin/sh", os.X_OK):
        return ()
    argv = (setpriv, "--pdeathsig", "KILL", "--", "/bin/sh", "-c", _STILL_OURS, "toolbox-tui")
    try:
        probe = subprocess.run(
            [*argv, str(os.getpid()), "/bin/sh", "-c", "exit 0"],
            capture_output=True,
            timeout=10,
            cwd="/",
        )
    except (OSError, subprocess.SubprocessError):
        return ()
    return argv if probe.returncode == 0 else ()


_probing = threading.Lock()


async def _death_signal_argv() -> tuple[str, ...]:
    if death_signal_argv.cache_info().currsize:  # asked already: the answer is at hand
        return death_signal_argv()
    return await asyncio.to_thread(_probed_once)


def _probed_once() -> tuple[str, ...]:
    with _probing:  # commands starting together wait for one probe, not one each
        return death_signal_argv()


def _require_program(program: str, env: Mapping[str, str] | None, cwd: Path | None) -> None:
    """Raise as Popen would when ``program`` cannot be run (callers turn FileNotFoundError
    into "git is not installed"): under the wrapper, the shell would only exit 127.

    FileNotFoundError when there is no such file, PermissionError when there is one but it
    may not be run. A script whose interpreter is missing is not caught here: the shell
    says so on stderr and exits 127.
    """
    if os.sep in program:
        candidates = [os.path.join(cwd, program) if cwd is not None else program]
    else:
        search = os.get_exec_path(dict(env) if env is not None else None)
        # A relative PATH entry counts from where the command runs, as it will for exec.
        candidates = [os.path.join(cwd or "", folder, program) for folder in search]
    present = [c for c in candidates if os.path.isfile(c)]
    if any(os.access(c, os.X_OK) for c in present):
        return
    if present:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), program)
    raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), program)


@functools.cache
def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # here, not at the top: `toolbox-tui check` need not load it

    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return prctl


def die_with_parent(signum: int = signal.SIGKILL) -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the kernel send ``signum`` to the child when we die, by
    kill -9 too; None where the kernel cannot (not Linux). :func:`run` uses it where there
    is no :func:`death_signal_argv`; the sandbox's servers use it directly.

    Two things to know. The kernel sends it when the *thread* that started the child ends,
    so start a long-lived child from a thread that lives as long as it should. And a
    change of user clears it: Popen switches ``user``/``group`` before it calls
    ``preexec_fn``, so a child started as another user keeps it.
    """
    prctl = _prctl()
    if prctl is None:
        return None
    parent, number = os.getpid(), int(signum)

    def arm() -> None:  # runs in the child between fork and exec: keep it to system calls
        prctl(_PR_SET_PDEATHSIG, number, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)  # we died before the line above: nobody would send the signal

    return arm
