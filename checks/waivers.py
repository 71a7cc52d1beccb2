"""Waivers: failures a person has accepted, for a reason and until a date.

The waiver file (TOOLBOX_WAIVERS_FILE, default ``APP_DIR/toolbox-waivers.toml``) lists them::

    [[waiver]]
    check = "sec.pentest"
    reason = "Scheduled for 2026-12-10 with Acme"
    by = "alice"
    expires = 2026-12-31

All four keys are required; ``expires`` is a date, and a waiver counts through that day (UTC,
as every time the tool records). An active waiver marks a check's result waived
(:func:`waive`, which the runner calls once for each finished check): the status stays as the
check said, and exit codes and the release gate leave the result out. Nothing is waived by
accident: an entry that is malformed waives nothing, a file that cannot be read or parsed
waives nothing at all, and check ``release.waivers`` (checks/rollback/waivers_check.py) names
the line and the key. That check itself is never waived: a waiver of it is a problem too.

Provides :func:`load` (the file, read once per run through :func:`waivers_of`), :func:`waive`
and :func:`today`.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from checks.core import CheckResult, Status

if TYPE_CHECKING:
    from checks.context import CheckContext

CHECK_ID = "release.waivers"
"""The check of the waiver file itself: never waived, or a broken file could hide itself."""
KEYS = ("check", "reason", "by", "expires")
MAX_BYTES = 1024 * 1024
"""A waiver file is a few lines; anything bigger is refused, not read."""
_HEADER = re.compile(r"""^\s*\[\[\s*(waiver|"waiver"|'waiver')\s*\]\]""")


@dataclass(frozen=True)
class Waiver:
    check: str
    reason: str
    by: str
    expires: date
    line: int = 0
    """Where its ``[[waiver]]`` starts in the file (0 when that cannot be told)."""

    def active(self, on: date) -> bool:
        return self.expires >= on

    def text(self) -> str:
        """``by alice until 2026-12-31: reason``: what a waived result carries."""
        return f"by {self.by} until {self.expires.isoformat()}: {self.reason}"


@dataclass(frozen=True)
class WaiverFile:
    """What :func:`load` found: the well-formed waivers, and what is wrong with the rest."""

    path: Path
    waivers: tuple[Waiver, ...] = ()
    problems: tuple[str, ...] = ()
    """One sentence each, led by the line ("line 7: 'reason' is missing")."""
    exists: bool = True

    def active_for(self, check_id: str, on: date) -> Waiver | None:
        """The waiver of ``check_id`` that counts on ``on`` (the one lasting longest)."""
        found = [w for w in self.waivers if w.check == check_id and w.active(on)]
        return max(found, key=lambda w: w.expires) if found else None


def today(ctx: CheckContext) -> date:
    """The day waivers are judged on: the context's clock, in UTC."""
    return ctx.clock().astimezone(UTC).date()


async def waivers_of(ctx: CheckContext) -> WaiverFile:
    """The waiver file, read once per run of checks (and afresh outside a run)."""
    path = ctx.config.waivers_path
    return await ctx.shared(f"waivers:{path}", lambda: asyncio.to_thread(load, path))


async def waive(result: CheckResult, ctx: CheckContext) -> CheckResult:
    """``result``, marked with its active waiver if one applies (a pass needs none)."""
    if result.status is Status.PASS or result.id == CHECK_ID:
        return result
    try:
        waiver = (await waivers_of(ctx)).active_for(result.id, today(ctx))
    except Exception:
        # :func:`load` reports its own problems; whatever else goes wrong here, the result
        # must still be delivered (a run waits for every one), and unwaived is the safe side.
        return result
    return result if waiver is None else replace(result, waiver=waiver.text())


# -- reading the file ------------------------------------------------------------------------


def load(path: Path) -> WaiverFile:
    """The waivers in ``path``; never raises: what cannot be read or parsed is a problem."""
    # The env file's reader: it refuses a FIFO or a device without blocking, and bounds the read.
    from checks.envfile import EnvFileTooLarge, EnvFileUnsafe, read_env_bytes

    try:
        data = read_env_bytes(path, MAX_BYTES)
    except FileNotFoundError:
        return WaiverFile(path, exists=False)
    except EnvFileUnsafe:
        return _unreadable(path, "it is not a regular file (a directory, a FIFO or a device)")
    except EnvFileTooLarge:
        return _unreadable(path, f"it is larger than {MAX_BYTES // 1024} KiB")
    except OSError as exc:
        return _unreadable(path, f"it cannot be read ({exc.strerror or exc})")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return _unreadable(path, "it is not UTF-8 text")
    return parse(path, text)


def _unreadable(path: Path, why: str) -> WaiverFile:
    return WaiverFile(path, problems=(f"{path.name}: {why}; nothing is waived",))


def parse(path: Path, text: str) -> WaiverFile:
    """The waivers in ``text`` (the content of ``path``)."""
    import tomllib

    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # Its message ends "(at line 3, column 9)", and quotes nothing from the file.
        return WaiverFile(path, problems=(f"not valid TOML: {exc}; nothing is waived",))
    lines = text.splitlines()
    problems = [
        f"{_where(lines, key, 1, len(lines) + 1, 'the top level')}: {key!r} is not a waiver "
        "table; the file holds only [[waiver]] entries"
        for key in document
        if key != "waiver"
    ]
    entries = document.get("waiver", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        line = _where(lines, "waiver", 1, len(lines) + 1, "the top level")
        problems.append(f"{line}: 'waiver' must be [[waiver]] tables; nothing is waived")
        return WaiverFile(path, problems=tuple(problems))
    headers = [n for n, line in enumerate(lines, 1) if _HEADER.match(line)]
    if len(headers) != len(entries):
        headers = []  # written another way (an inline array): count the entries instead
    waivers = []
    for index, entry in enumerate(entries):
        start = headers[index] if headers else 0
        end = headers[index + 1] if index + 1 < len(headers) else len(lines) + 1
        waiver, found = _entry(entry, index + 1, lines, start, end)
        problems.extend(found)
        if waiver is not None:
            waivers.append(waiver)
    return WaiverFile(path, tuple(waivers), tuple(problems))


def _entry(
    entry: dict[str, Any], number: int, lines: list[str], start: int, end: int
) -> tuple[Waiver | None, list[str]]:
    """The waiver an entry makes, or None and why not (an entry with a problem waives nothing)."""
    here = f"line {start} (waiver {number})" if start else f"waiver {number}"
    problems = [f"{here}: {key!r} is missing" for key in KEYS if key not in entry]
    for key in entry:
        if key not in KEYS:
            problems.append(
                f"{_where(lines, key, start, end, here)}: {key!r} is not a waiver key "
                "(they are check, reason, by and expires)"
            )
    texts: dict[str, str] = {}
    for key in ("check", "reason", "by"):
        value = entry.get(key)
        if key not in entry:
            continue
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{_where(lines, key, start, end, here)}: {key!r} must be quoted text")
        else:
            texts[key] = " ".join(value.split())
    if texts.get("check") == CHECK_ID:
        problems.append(
            f"{_where(lines, 'check', start, end, here)}: {CHECK_ID} cannot be waived "
            "(it is the check that the waiver file is valid)"
        )
    expires = _date(entry.get("expires"))
    if "expires" in entry and expires is None:
        problems.append(
            f"{_where(lines, 'expires', start, end, here)}: 'expires' must be a date like "
            "2026-12-31 (the waiver counts through that day)"
        )
    if problems or expires is None:
        return None, problems
    return Waiver(texts["check"], texts["reason"], texts["by"], expires, start), []


def _date(value: object) -> date | None:
    """A TOML date, or text holding one; a date *and time* is refused (which day is meant?)."""
    if isinstance(value, datetime):
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _where(lines: list[str], key: str, start: int, end: int, fallback: str) -> str:
    """``line N`` of ``key = ...`` between lines ``start`` and ``end``, else ``fallback``."""
    pattern = re.compile(rf"""^\s*(?:{re.escape(key)}|"{re.escape(key)}"|'{re.escape(key)}')\s*=""")
    for number in range(max(start, 1), min(end, len(lines) + 1)):
        if pattern.match(lines[number - 1]):
            return f"line {number}"
    return fallback
