"""The syntax of ``KEY=value`` env files: a fast reader with python-dotenv's results, and
edits that change one variable's value and not a byte besides.

The grammar is python-dotenv's (the format the app itself reads): this module reads with
dotenv's own compiled regular expressions, in dotenv's order, so values, last-one-wins and
which lines are malformed agree with ``dotenv.parser.parse_stream``. It is 6-10x faster:
it tracks positions only (dotenv re-counts newlines after every token, and numbers lines
even when none is broken), and reads each well-formed binding in one match of those
expressions chained. Unlike dotenv it also knows where each value is written, which is
what lets :func:`updated_text` replace a value in place.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from dotenv.parser import (
    _comment,
    _double_quote_escapes,
    _double_quoted_value,
    _end_of_line,
    _equal_sign,
    _export,
    _multiline_whitespace,
    _rest_of_line,
    _single_quote_escapes,
    _single_quoted_key,
    _single_quoted_value,
    _unquoted_key,
    _unquoted_value,
    _whitespace,
    decode_escapes,
)

BOM = "\ufeff"
NO_SPAN = -1


def _atomic(regex: re.Pattern[str]) -> str:
    # An atomic group matches exactly what the regex alone would match at that point and
    # never gives any of it back, so a chain of them is the same as dotenv's match calls
    # one after another. Flags travel with the pattern (the quoted values are DOTALL).
    flags = "s" if regex.flags & re.DOTALL else ""
    return f"(?>(?{flags}:{regex.pattern}))" if flags else f"(?>{regex.pattern})"


# dotenv's parse_binding as one regular expression: each branch is taken on the character
# dotenv peeks at, so a match reads exactly what dotenv reads. Groups: 1 single-quoted key,
# 2 key, 3 equal sign, 4 single-quoted value, 5 double-quoted value, 6 unquoted value (its
# comment and trailing blanks included). It does not match where dotenv fails (a broken
# line) nor blanks at the very end: :func:`_binding` reads those step by step.
_BINDING = re.compile(
    _atomic(_multiline_whitespace)
    + _atomic(_export)
    + f"(?:(?=#)|(?='){_atomic(_single_quoted_key)}|(?=[^'#]){_atomic(_unquoted_key)})"
    + _atomic(_whitespace)
    + f"(?:(?==){_atomic(_equal_sign)}"
    # 'KEY= #note' is empty: a '#' right after the blanks of the equal sign starts a comment.
    + "(?:(?<!=)(?=#)"
    + f"|(?='){_atomic(_single_quoted_value)}"
    + f'|(?="){_atomic(_double_quoted_value)}'
    + r"|(?=[\r\n]|\Z)"
    + f"|(?=[^'\"\r\n]){_atomic(_unquoted_value)})"
    + "|(?!=))"
    + _atomic(_comment)
    + _atomic(_end_of_line)
)
# dotenv strips an inline comment from an unquoted value with this very expression.
_INLINE_COMMENT = re.compile(r"\s+#.*")


class Binding(NamedTuple):
    """One chunk of the file as dotenv splits it, with where its parts are written.

    ``start:end`` is the chunk (blank lines before it included, as in dotenv). ``key_end`` is
    just past the key; ``value_start:value_end`` is the value as written (quotes included),
    both ``NO_SPAN`` when there is no ``=``. ``quote`` is ``'``, ``"`` or ``""``.
    """

    key: str | None
    value: str | None
    start: int
    end: int
    error: bool = False
    key_end: int = NO_SPAN
    value_start: int = NO_SPAN
    value_end: int = NO_SPAN
    quote: str = ""


# Every field given: skips the generated __new__ (a tenth of the reader's time).
def _binding_of(fields: tuple[Any, ...]) -> Binding:
    return tuple.__new__(Binding, fields)


def scan(text: str) -> Iterator[Binding]:
    """Every chunk of ``text`` in order, as ``dotenv.parser.parse_stream`` would yield it."""
    pos = 1 if text.startswith(BOM) else 0
    size = len(text)
    match = _BINDING.match
    while pos < size:
        found = match(text, pos)
        binding = _binding(text, pos) if found is None else _matched_binding(found, pos)
        yield binding
        pos = binding.end


def _matched_binding(match: re.Match[str], start: int) -> Binding:
    end, group = match.end(), match.lastindex  # the last group matched tells the branch
    if group is None:
        return _binding_of((None, None, start, end, False, NO_SPAN, NO_SPAN, NO_SPAN, ""))
    quoted_key, key, _, _, _, raw = match.groups()
    if quoted_key is None:
        key_end = match.end(2)
    else:
        key, key_end = quoted_key, match.end(1) + 1  # past the closing quote
    if group <= 2:  # 'KEY' without '='
        return _binding_of((key, None, start, end, False, key_end, NO_SPAN, NO_SPAN, ""))
    value_start = match.end(3)
    if group == 6:
        value = _strip_unquoted(raw)
        value_end = value_start + len(value)
        return _binding_of((key, value, start, end, False, key_end, value_start, value_end, ""))
    if group == 3:
        return _binding_of((key, "", start, end, False, key_end, value_start, value_start, ""))
    raw = match.group(group)
    quote, escapes = ("'", _single_quote_escapes) if group == 4 else ('"', _double_quote_escapes)
    value = decode_escapes(escapes, raw) if "\\" in raw else raw
    value_end = match.end(group) + 1
    return _binding_of((key, value, start, end, False, key_end, value_start, value_end, quote))


def _strip_unquoted(raw: str) -> str:
    return (_INLINE_COMMENT.sub("", raw) if "#" in raw else raw).rstrip()


def _binding(text: str, start: int) -> Binding:
    """dotenv's ``parse_binding``, step by step, keeping positions: for what ``_BINDING``
    does not match (a broken line, blanks at the end), as it tells where reading failed."""
    pos = _matched(_multiline_whitespace, text, start)
    if pos >= len(text):
        return Binding(None, None, start, pos)
    pos = _matched(_export, text, pos)
    key: str | None = None
    key_end = NO_SPAN
    char = text[pos : pos + 1]
    if char != "#":
        match = (_single_quoted_key if char == "'" else _unquoted_key).match(text, pos)
        if match is None:
            return _broken(text, start, pos)
        key, pos = match.group(1), match.end()
        key_end = pos
    pos = _matched(_whitespace, text, pos)
    value: str | None = None
    value_start = value_end = NO_SPAN
    quote = ""
    if text[pos : pos + 1] == "=":
        equal_sign = _equal_sign.match(text, pos)
        assert equal_sign is not None  # it starts with the '=' just seen
        pos = equal_sign.end()
        char = text[pos : pos + 1]
        value_start = value_end = pos
        if (len(equal_sign.group(1)) > 1 and char == "#") or char in ("", "\n", "\r"):
            value = ""
        elif char in ("'", '"'):
            regex, escapes = (
                (_single_quoted_value, _single_quote_escapes)
                if char == "'"
                else (_double_quoted_value, _double_quote_escapes)
            )
            match = regex.match(text, pos)
            if match is None:
                return _broken(text, start, pos)
            raw = match.group(1)
            value = decode_escapes(escapes, raw) if "\\" in raw else raw
            pos = value_end = match.end()
            quote = char
        else:
            match = _unquoted_value.match(text, pos)
            assert match is not None  # it matches any run, even an empty one
            value = _strip_unquoted(match.group(1))
            value_end = pos + len(value)
            pos = match.end()
    pos = _matched(_comment, text, pos)
    end_of_line = _end_of_line.match(text, pos)
    if end_of_line is None:
        return _broken(text, start, pos)
    return Binding(
        key, value, start, end_of_line.end(), False, key_end, value_start, value_end, quote
    )


def _matched(regex: re.Pattern[str], text: str, pos: int) -> int:
    """Where ``regex`` (one that always matches, maybe emptily) stops when started at ``pos``."""
    match = regex.match(text, pos)
    assert match is not None
    return match.end()


def _broken(text: str, start: int, pos: int) -> Binding:
    # Like dotenv: skip the rest of the line from wherever reading failed.
    return Binding(None, None, start, _matched(_rest_of_line, text, pos), error=True)


@dataclass(frozen=True)
class ParsedEnv:
    values: dict[str, str] = field(default_factory=dict)
    malformed_lines: tuple[int, ...] = ()


def parse_env_text(text: str) -> ParsedEnv:
    """Values by name (last one wins, like the app) and the 1-based numbers of bad lines."""
    values: dict[str, str] = {}
    malformed: list[int] = []
    lines = _LineCounter(text)
    for binding in scan(text):
        if binding.error:
            # The chunk starts at any blank lines before the bad one: number the bad one.
            first = _matched(_multiline_whitespace, text, binding.start)
            malformed.append(lines.line_at(first))
        elif binding.key is not None:
            values[binding.key] = binding.value or ""
    return ParsedEnv(values, tuple(malformed))


class _LineCounter:
    """1-based line numbers of increasing positions, counted only when asked for.

    ``\\r\\n``, ``\\n`` and a lone ``\\r`` each end a line, as in dotenv. (dotenv's own counter
    counts a ``\\r\\n`` twice when its error recovery stops between the two characters; this
    one numbers the line a person sees in an editor.)
    """

    def __init__(self, text: str) -> None:
        self._text = text
        self._pos = 0
        self._line = 1

    def line_at(self, pos: int) -> int:
        text, last = self._text, self._pos
        crlf = text.count("\r\n", last, pos)
        self._line += text.count("\n", last, pos) + text.count("\r", last, pos) - crlf
        self._pos = pos
        return self._line


# --- writing values -------------------------------------------------------------------------

_PLAIN_CHARS = frozenset("_-.:/@+=%,~")


def format_value(value: str) -> str:
    """``value`` as written in an env file, quoted only when it needs it."""
    if value and all(ch.isalnum() or ch in _PLAIN_CHARS for ch in value):
        return value
    if "'" not in value and "\\" not in value:
        # Single quotes keep everything literal (for a shell that sources the file, too).
        return f"'{value}'"
    return _double_quoted(value)


def format_assignment(name: str, value: str) -> str:
    """``NAME=value``, quoted only when the value needs it."""
    return f"{name}={format_value(value)}"


def _double_quoted(value: str) -> str:
    # dotenv decodes \\ and \" inside double quotes; every other character stands for itself.
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _value_token(value: str, quote: str) -> str:
    """``value`` written in the quote style it had, when that style can hold it."""
    if quote == '"':
        return _double_quoted(value)
    if quote == "'" and "'" not in value and "\\" not in value:
        return f"'{value}'"
    if quote == "" and _fits_unquoted(value):
        return value
    return format_value(value)


def _fits_unquoted(value: str) -> bool:
    # Unquoted, dotenv cuts a value at '\s+#', strips trailing blanks and treats a leading
    # quote as quoting: a value without blanks, quotes or '#' in front reads back as itself.
    # Empty is fine too: what follows an unquoted value is blanks or an inline comment.
    if not value:
        return True
    return value[0] not in "'\"#" and not any(ch.isspace() for ch in value)


def updated_text(text: str, updates: Mapping[str, str]) -> str:
    """``text`` with each name in ``updates`` set; new names are appended at the end.

    Only the value of each binding of an updated name changes (every duplicate: the app
    reads the last one, a person may read the first, and both must say the same); ``export``,
    spacing, the inline comment and the line ending stay. New names go at the end, with the
    file's most common line ending.
    """
    remaining = dict(updates)
    pieces: list[str] = []
    done = 0
    for binding in scan(text):
        if binding.error or binding.key is None or binding.key not in updates:
            continue
        remaining.pop(binding.key, None)
        new = updates[binding.key]
        if binding.value_start == NO_SPAN:  # ``KEY`` alone: give it an '=' and the value
            start = end = binding.key_end
            token = "=" + _value_token(new, "")
        else:
            start, end = binding.value_start, binding.value_end
            token = _value_token(new, binding.quote)
        if text[end : end + 1] == "#":
            token += " "  # 'KEY= # note' set to 'v': without a blank, '#' would join the value
        pieces += (text[done:start], token)
        done = end
    pieces.append(text[done:])
    result = "".join(pieces)
    if remaining:
        newline = dominant_newline(text)
        if result and not result.endswith(("\n", "\r")):
            result += newline
        result += "".join(format_assignment(k, v) + newline for k, v in remaining.items())
    return result


def dominant_newline(text: str) -> str:
    """The line ending ``text`` uses most (``\\n`` when it has none, or on a tie)."""
    crlf = text.count("\r\n")
    counts = {"\n": text.count("\n") - crlf, "\r\n": crlf, "\r": text.count("\r") - crlf}
    return max(counts, key=lambda ending: counts[ending])
