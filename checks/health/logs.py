"""Health pane, the app's log: ``logs.errors``.

Reads the tail of TOOLBOX_APP_LOG (at most its last 50 MiB: a log is often gigabytes) and
counts the entries since TOOLBOX_DEPLOYED_AT (UTC when it has no offset; unset: the last 24
hours) and, among them, the errors (level ERROR, CRITICAL or FATAL). An entry is a line that
starts with an ISO 8601 timestamp and a level, as the app writes them
(``2026-11-29T07:34:33.123Z ERROR toolboxai.app ...``); the lines after it without one (a
traceback) belong to it, so a traceback counts once. Above TOOLBOX_LOG_ERROR_RATE_MAX
percent of errors it fails; any error below it warns. Error lines are shown redacted and
cut, as every answer is, and with what looks like a credential masked too (a bearer token,
``password=...``, a JWT, the password in a URL): a log holds secrets this tool was never
told.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from checks.audit import os_user
from checks.checklist import MONITORING
from checks.context import CheckContext
from checks.core import CheckFailed, Outcome, Status, check, failed, passed, warned
from checks.health import PANE
from checks.redact import MASK
from checks.units import size_text
from checks.web import printable

MAX_TAIL_BYTES = 50 * 1024 * 1024
SHOWN_ERRORS = 3
DEFAULT_WINDOW = timedelta(hours=24)
ERROR_LEVELS = frozenset({"ERROR", "CRITICAL", "FATAL"})
_SETTING = "TOOLBOX_APP_LOG"
_RATE_SETTING = "TOOLBOX_LOG_ERROR_RATE_MAX"
_CHUNK = 1024 * 1024
_KEPT_CHARS = 1000  # of a shown line, before printable() cuts it to its 200
# A timestamp (T or space between date and time, "." or "," before the fraction, as Python's
# logging writes it), then a level, maybe in brackets.
_ENTRY = re.compile(
    rb"(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?)"
    rb"\s+\[?([A-Za-z]+)\]?[\s:]"
)


@dataclass
class Tally:
    """What the tail of the log holds since a moment."""

    entries: int = 0
    errors: int = 0
    stamped: int = 0
    """Entries at any time: 0 in a non-empty log means its format is not understood."""
    lines: int = 0
    first_stamp: datetime | None = None
    shown: list[list[str]] = field(default_factory=list)
    """The first errors since the moment: [their line, the last line of their traceback]."""

    @property
    def rate(self) -> float:
        return 100 * self.errors / self.entries if self.entries else 0.0


def tally(lines: Iterator[bytes], since: datetime) -> Tally:
    """Count the entries and error entries in ``lines`` stamped at or after ``since``."""
    found = Tally()
    following: list[str] | None = None  # the shown error whose traceback lines follow
    for raw in lines:
        found.lines += 1
        match = _ENTRY.match(raw)
        stamp = _stamp(match.group(1)) if match else None
        if match is None or stamp is None:
            if following is not None and raw.strip():
                following[1] = _text(raw).strip()
            continue
        found.stamped += 1
        if found.first_stamp is None:
            found.first_stamp = stamp
        following = None
        if stamp < since:
            continue
        found.entries += 1
        if match.group(2).upper().decode() in ERROR_LEVELS:
            found.errors += 1
            if len(found.shown) < SHOWN_ERRORS:
                following = [_text(raw).rstrip(), ""]
                found.shown.append(following)
    return found


def _stamp(text: bytes) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.decode().replace(",", "."))
    except ValueError:  # 2026-13-45: not a timestamp after all
        return None
    # A timestamp without an offset is taken as UTC, as the app writes its own.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _text(raw: bytes) -> str:
    return raw[:_KEPT_CHARS].decode("utf-8", "replace")


@dataclass(frozen=True)
class Tail:
    """The end of the log that was read."""

    size: int
    start: int
    found: Tally


def read_tail(path: Path, since: datetime, max_bytes: int = MAX_TAIL_BYTES) -> Tail:
    """Tally the last ``max_bytes`` of ``path`` (as it was when opened: a log that grows
    meanwhile is not chased). Raises :class:`CheckFailed` saying why it cannot be read."""
    try:
        # O_NONBLOCK: a FIFO in its place must not hang the check (it is refused below).
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except FileNotFoundError:
        raise _unreadable(path, "it does not exist") from None
    except PermissionError:
        raise _unreadable(path, f"it is not readable by this user ({os_user()})") from None
    except OSError as exc:
        raise _unreadable(path, exc.strerror or type(exc).__name__) from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise _unreadable(path, "it is not a regular file (a directory, a FIFO or a device)")
    with open(fd, "rb", buffering=0) as log:
        size = st.st_size
        start = max(0, size - max_bytes)
        # Starting inside a line, that first part is not a line of its own.
        partial = start > 0 and os.pread(fd, 1, start - 1) != b"\n"
        log.seek(start)
        lines = _lines(log, size - start)
        if partial:
            next(lines, None)
        try:
            return Tail(size, start, tally(lines, since))
        except OSError as exc:
            raise _unreadable(path, exc.strerror or type(exc).__name__) from None


def _lines(log: io.FileIO, limit: int) -> Iterator[bytes]:
    pending = b""
    while limit > 0:
        chunk = log.read(min(_CHUNK, limit))
        if not chunk:
            break
        limit -= len(chunk)
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from complete
    if pending:
        yield pending


def _unreadable(path: Path, why: str) -> CheckFailed:
    return CheckFailed(
        f"The app log {path} cannot be read: {why}.",
        f"Point {_SETTING} at the file the app writes its log to, readable by the user "
        "running toolbox-tui (e.g. its group, or setfacl -m u:USER:r).",
    )


# What looks like a credential in a log line, whoever's it is. Group 1 is kept, the rest
# masked: "password=hunter2" shows as "password=••••".
_CREDENTIALS = (
    re.compile(r"(\bBearer\s+)\S+", re.IGNORECASE),
    # key=value, key: value, "key": "value"; access_token and client_secret end in these.
    re.compile(
        r"((?:password|passwd|pwd|token|secret|api[_-]?key)[\"']?\s*[=:]\s*[\"']?)\S+",
        re.IGNORECASE,
    ),
    re.compile(r"()\beyJ[\w-]+\.eyJ[\w-]+\.[\w-]*"),  # a JWT: header.payload.signature
    re.compile(r"(://[^/\s:@]+:)[^/\s@]+(?=@)"),  # the password of user:password@host
)


def mask_credentials(text: str) -> str:
    """``text`` with whatever looks like a credential masked (see ``_CREDENTIALS``)."""
    for pattern in _CREDENTIALS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


@check(
    id="logs.errors",
    pane=PANE,
    title="Errors in the app log",
    timeout=30,
    checklist=(MONITORING, "Error rates in logs"),
)
async def log_errors(ctx: CheckContext) -> Outcome:
    path = ctx.config.app_log
    if path is None:
        return Outcome(
            Status.SKIP,
            f"No {_SETTING}: the app's log file is not known, so it was not read.",
            hint=f"Set {_SETTING}=/var/log/toolboxai/app.log (where the app logs).",
        )
    deployed = ctx.config.deployed_at
    if deployed is not None:
        since = deployed if deployed.tzinfo is not None else deployed.replace(tzinfo=UTC)
        window = f"since the deploy at {_when(since)} (TOOLBOX_DEPLOYED_AT)"
    else:
        since = ctx.clock() - DEFAULT_WINDOW
        window = f"in the last 24 h (since {_when(since)}; TOOLBOX_DEPLOYED_AT is unset)"
    ctx.log(f"reading the end of {path}: entries {window}")
    # Up to 50 MiB read and parsed: on a thread, the dashboard keeps drawing meanwhile.
    tail = await asyncio.to_thread(read_tail, path, since, MAX_TAIL_BYTES)
    return judge(ctx, path, tail, since, window)


def judge(ctx: CheckContext, path: Path, tail: Tail, since: datetime, window: str) -> Outcome:
    found = tail.found
    limit = ctx.config.log_error_rate_max
    shown = [
        printable(mask_credentials(line + (f" … {last}" if last else "")), ctx.redactor)
        for line, last in found.shown
    ]
    read = (
        f"all {size_text(tail.size)}"
        if tail.start == 0
        else f"the last {size_text(tail.size - tail.start)} of {size_text(tail.size)}"
    )
    facts: dict[str, str] = {
        "log": str(path),
        "read": read,
        "since": _when(since),
        "entries": str(found.entries),
        "errors": str(found.errors),
        "error rate": _percent(found.rate),
        "limit": f"{limit:g} %",
    }
    facts.update({f"error {i}": line for i, line in enumerate(shown, 1)})
    cut_short = ""
    if tail.start > 0 and found.first_stamp is not None and found.first_stamp > since:
        cut_short = (
            f" Only {read} was read: it begins at {_when(found.first_stamp)}, so earlier "
            "entries were not counted."
        )
    if found.stamped == 0:
        if found.lines == 0:
            return warned(
                f"The app log {path} is empty: nothing was logged {window}.",
                f"Is {_SETTING} the file the app writes to now (not a rotated one)?",
                **facts,
            )
        return warned(
            f"None of the {found.lines:,} lines read of {path} starts with an ISO 8601 "
            "timestamp and a level, so no entry could be counted.",
            "The app's log format should begin each entry with its time and level "
            "(2026-11-29T07:34:33.123Z ERROR logger message).",
            **facts,
        )
    if found.entries == 0:
        return warned(
            f"The app log {path} has no entries {window}.{cut_short}",
            f"Is {_SETTING} the file the app writes to now (not a rotated one), and is "
            "TOOLBOX_DEPLOYED_AT right?",
            **facts,
        )
    counted = (
        f"{found.errors:,} of {found.entries:,} entries in {path} {window} are errors "
        f"({_percent(found.rate)}"
    )
    examples = " The first: " + " | ".join(shown) if shown else ""
    if found.rate > limit:
        return failed(
            f"{counted}, above the {limit:g} % limit, {_RATE_SETTING}).{examples}{cut_short}",
            "The release is failing at run time: read the errors (and their tracebacks) in "
            "the log, then fix forward or roll back.",
            **facts,
        )
    if found.errors:
        return warned(
            f"{counted}, within the {limit:g} % limit).{examples}{cut_short}",
            "Few, but read them: a new error after a release is worth a look.",
            **facts,
        )
    return passed(
        f"No errors among {found.entries:,} entries in {path} {window}.{cut_short}", **facts
    )


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _percent(rate: float) -> str:
    if 0 < rate < 0.01:
        return "< 0.01 %"
    return f"{rate:.2f} %".replace(".00 %", " %")
