"""What ``--since`` (of ``audit`` and ``report``) accepts: :func:`parse_since` reads an ISO
date, or date and time, or a span back from now such as ``30m``, ``2h``, ``1d``, into a
:class:`Since`.

Apart from :mod:`toolbox_tui.audit_view`, which reads the log: the command line builds its
parser with :data:`SINCE_HELP` and this parser, and every command, the dashboard too, pays
for what that imports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

SINCE_HELP = (
    "an ISO date (2026-11-28) or date and time (2026-11-28T14:00; UTC unless it gives an "
    "offset), or a span back from now: 30m, 2h, 1d"
)
_SPAN = re.compile(r"^\s*(\d{1,6})\s*([mhd])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


@dataclass(frozen=True)
class Since:
    """``--since`` as given: a moment, or a span back from whenever it is asked."""

    moment: datetime | None = None
    span: timedelta | None = None
    text: str = ""

    def start(self, now: datetime) -> datetime:
        if self.moment is not None:
            return self.moment
        assert self.span is not None
        return now - self.span


class BadSince(ValueError):
    """``--since`` is not a time; ``str()`` says what is expected."""


def parse_since(text: str) -> Since:
    """``--since``'s value; :class:`BadSince` (a sentence) when it is none of the forms."""
    span = _SPAN.match(text)
    if span is not None:
        amount, unit = span.groups()
        back = timedelta(**{_UNITS[unit]: int(amount)})
        try:
            datetime.now(UTC) - back
        except OverflowError:
            # 999999d reaches back before the year 1: no time at all.
            raise BadSince(f"{text!r} is not a time: give {SINCE_HELP}") from None
        return Since(span=back, text=text.strip())
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadSince(f"{text!r} is not a time: give {SINCE_HELP}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return Since(moment=moment, text=text.strip())
