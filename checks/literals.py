"""Finding any of many literal strings in text, the longest where several start at one place.

:class:`LiteralSet` replaces what a regular expression of N alternatives does (try each in
turn at every position) with work that does not grow with N. A few strings become one
regex shaped as a trie (shared prefixes factored out), which the engine follows down one
path. Many strings are indexed by their first GRAM characters: C code lists the text's
GRAM-character runs and intersects them with the index, which leaves no string (the usual
case: the text holds no secret) or the few that may occur, searched for with a small trie
regex (cached, as the same secrets tend to come back).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Collection
from itertools import groupby

GRAM = 4
"""Every string must be at least this long: the index holds their first GRAM characters."""

INDEX_FROM = 64
"""From this many strings on, the index is cheaper than one trie regex over all of them
(whose upper levels fill up, so each position costs a scan of most of the alphabet)."""

_MAX_NESTING = 100  # deeper tries end in a flat alternation: the regex compiler recurses

Gram = tuple[str, ...]


class LiteralSet:
    """An immutable set of literal strings (each at least GRAM long) to search text for."""

    def __init__(self, strings: Collection[str]) -> None:
        if any(len(s) < GRAM for s in strings):
            raise ValueError(f"every string must be at least {GRAM} characters long")
        self._pattern: re.Pattern[str] | None = None
        self._index: dict[Gram, list[str]] | None = None
        if len(strings) >= INDEX_FROM:
            self._index = {}
            for string in strings:
                self._index.setdefault(tuple(string[:GRAM]), []).append(string)
        elif strings:
            self._pattern = re.compile(trie_pattern(strings))

    def sub(self, replace: Callable[[re.Match[str]], str], text: str) -> str:
        """``text`` with each occurrence (leftmost first, longest at a place) replaced."""
        pattern = self._pattern if self._index is None else self._candidates(text)
        return text if pattern is None else pattern.sub(replace, text)

    def _candidates(self, text: str) -> re.Pattern[str] | None:
        """A pattern for the strings that may occur in ``text``: any string found at a place
        starts with the GRAM characters there, so it is among them and the matches are the
        same as with all the strings."""
        assert self._index is not None
        index = self._index
        found = index.keys() & _grams(text)
        if not found:
            return None
        return _compiled(frozenset(s for gram in found for s in index[gram]))


def _grams(text: str) -> zip[Gram]:
    # Each run of GRAM characters as a tuple, produced by C code, no Python loop.
    return zip(*(text[i:] for i in range(GRAM)), strict=False)


@functools.lru_cache(maxsize=256)
def _compiled(strings: frozenset[str]) -> re.Pattern[str]:
    return re.compile(trie_pattern(strings))


def trie_pattern(strings: Collection[str]) -> str:
    """A pattern matching any of ``strings``, preferring the longest at a position."""
    return _pattern(sorted(set(strings)), 0)


def _pattern(strings: list[str], depth: int) -> str:
    """``strings``: sorted, distinct, not empty (``""`` may be one: the match may end here)."""
    if len(strings) == 1:
        return re.escape(strings[0])
    if depth >= _MAX_NESTING:
        return _flat(strings)
    optional = strings[0] == ""  # sorts first
    rest = strings[1:] if optional else strings
    # Sorted, so what the first and the last share, all share. (Character by character,
    # which is what is wanted here: these are not paths.)
    prefix = os.path.commonprefix([rest[0], rest[-1]])  # noqa: RUF071
    if prefix:
        body = re.escape(prefix) + _pattern([s[len(prefix) :] for s in rest], depth + 1)
    else:
        branches = [
            re.escape(first) + _pattern([s[1:] for s in group], depth + 1)
            for first, group in groupby(rest, key=lambda s: s[0])
        ]
        body = f"(?:{'|'.join(branches)})"
    # Greedy '?' tries the longer strings first and falls back to the one ending here, so
    # the longest wins, as with an alternation sorted longest first.
    return f"(?:{body})?" if optional else body


def _flat(strings: list[str]) -> str:
    ordered = sorted(strings, key=len, reverse=True)  # "" last: the fallback
    return f"(?:{'|'.join(re.escape(s) for s in ordered)})"
