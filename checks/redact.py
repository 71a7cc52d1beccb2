"""Masking secret values in everything the engine emits.

One :class:`Redactor` is built from every secret value of the env file. The runner passes
each event through it before any renderer, log, report or audit line can see it, so the
rest of the code never has to remember to. After masking, it also makes control characters
visible (:func:`escape_controls`), so nothing from the env file can drive the terminal.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Any, TypeVar

from checks.literals import GRAM, LiteralSet

# Prefixes that say what kind of secret it is without helping anyone use it.
_KNOWN_PREFIXES = ("sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_", "SG.", "sb_secret_")
_MIN_SECRET_LENGTH = GRAM  # shorter values are common words, not secrets
_SHOW_TAIL_FROM = 20
MASK = "••••"

T = TypeVar("T")


def mask(value: str) -> str:
    """``sk_live_…9f2c`` for long secrets, a bare mask for short ones."""
    if len(value) < _SHOW_TAIL_FROM:
        return MASK
    prefix = next((p for p in _KNOWN_PREFIXES if value.startswith(p)), "")
    return f"{prefix}{MASK}{value[-4:]}"


# C0 controls but newline and tab, DEL, C1 controls, and the bidirectional overrides and
# isolates that make text display in another order than it is written.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def escape_controls(text: str) -> str:
    """``text`` with each control character written out (``\\x1b``, ``\\u202e``); newline and
    tab stay. Returns ``text`` itself when there is nothing to escape."""
    if _CONTROLS.search(text) is None:
        return text
    return _CONTROLS.sub(_escape_one, text)


def _escape_one(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class Redactor:
    """Replaces every known secret value in text (and in events, field by field)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._literals = LiteralSet(())
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        """Learn more secrets, e.g. a key an action has just generated."""
        forms = {s for s in secrets if s and len(s) >= _MIN_SECRET_LENGTH}
        # The escaped form too: a repr() in an exception message doubles backslashes and
        # escapes quotes and newlines.
        forms |= {repr(s)[1:-1] for s in forms}
        new = forms - self._secrets
        if not new:
            return
        self._secrets |= new
        self._literals = LiteralSet(self._secrets)

    def text(self, text: str) -> str:
        """``text`` with every secret masked and every control character made visible."""
        if not text:
            return text
        masked = self._mask(text)
        escaped = escape_controls(masked)
        # Escaping can spell out a secret that itself contains a written-out escape.
        return masked if escaped is masked else self._mask(escaped)

    def _mask(self, text: str) -> str:
        # Where several secrets start at one place, the longest is masked: one that
        # contains another is masked whole.
        return self._literals.sub(lambda m: mask(m.group(0)), text)

    def value(self, obj: T) -> T:
        """A copy of ``obj`` with every string inside it redacted (dataclasses, maps, tuples)."""
        return self._walk(obj)

    def _walk(self, obj: Any) -> Any:
        if isinstance(obj, Enum):
            return obj  # a status is a str too, but never a secret; keep its type
        if isinstance(obj, str):
            return self.text(obj)
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            changes = {f.name: self._walk(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
            return dataclasses.replace(obj, **changes)
        if isinstance(obj, Mapping):
            return {self._walk(k): self._walk(v) for k, v in obj.items()}
        if isinstance(obj, tuple | list):
            return type(obj)(self._walk(item) for item in obj)
        return obj
