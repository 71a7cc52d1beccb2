"""A minimal terminal screen: enough of a VT100/xterm to know what a Textual app shows.

Bytes read from a pty go in (:meth:`Screen.feed`); out come each row's text and each cell's
style, so a benchmark can tell when a frame shows a given text, or when a key has moved a
highlight. It understands what Textual and Rich write: UTF-8 text, cursor positioning,
erasing, SGR styles, the alternate screen; everything else (OSC titles, mode switches,
queries) is consumed and ignored. Double-width characters take two cells.
"""

from __future__ import annotations

import codecs
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

ESC = "\x1b"
BLANK = (" ", "")


@dataclass
class Screen:
    width: int = 80
    height: int = 24
    _cells: list[list[tuple[str, str]]] = field(init=False)
    _x: int = field(default=0, init=False)
    _y: int = field(default=0, init=False)
    _style: list[str] = field(default_factory=list, init=False)
    _pending: str = field(default="", init=False)  # an escape sequence cut by a read
    _autowrap: bool = field(default=True, init=False)  # Textual turns it off (DECAWM)

    def __post_init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._cells = self._blank_rows(self.height)

    # -- what a benchmark asks -------------------------------------------------------

    def line(self, y: int) -> str:
        """Row ``y``'s text, no-break spaces read as spaces (a double-width character is one
        character of the text and two cells of the row: see :meth:`column`)."""
        return "".join(ch for ch, _ in self._cells[y]).replace("\u00a0", " ")

    def column(self, y: int, index: int) -> int:
        """The cell column of character ``index`` of :meth:`line` ``y``."""
        seen = -1
        for x, (ch, _) in enumerate(self._cells[y]):
            seen += bool(ch)  # the right half of a double-width character holds ""
            if seen == index:
                return x
        raise IndexError(f"row {y} has no character {index}")

    def lines(self) -> list[str]:
        return [self.line(y) for y in range(self.height)]

    def shows(self, text: str) -> bool:
        return any(text in line for line in self.lines())

    def find(self, text: str) -> tuple[int, int] | None:
        """The first (row, column) where ``text`` appears, or None."""
        for y, line in enumerate(self.lines()):
            index = line.find(text)
            if index >= 0:
                return y, self.column(y, index)
        return None

    def style(self, y: int, x: int) -> str:
        """The SGR parameters in force when cell (``y``, ``x``) was drawn; "" is plain."""
        return self._cells[y][x][1]

    def row_styles(self, y: int) -> list[str]:
        return [style for _, style in self._cells[y]]

    def row_background(self, y: int) -> str:
        """The background most of row ``y`` is drawn on (a highlighted row has its own)."""
        counts = Counter(background(style) for style in self.row_styles(y))
        return counts.most_common(1)[0][0]

    # -- feeding ---------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        text = self._pending + self._decoder.decode(data)
        self._pending = ""
        i, n = 0, len(text)
        while i < n:
            ch = text[i]
            if ch == ESC:
                end = _sequence_end(text, i)
                if end is None:
                    self._pending = text[i:]  # the rest arrives with the next read
                    return
                self._escape(text[i:end])
                i = end
                continue
            if ch == "\r":
                self._x = 0
            elif ch == "\n":
                self._line_feed()
            elif ch == "\b":
                self._x = max(self._x - 1, 0)
            elif ch >= " ":
                self._put(ch)
            i += 1

    def _put(self, ch: str) -> None:
        if unicodedata.combining(ch):
            return  # drawn on the previous cell; no cell of its own
        wide = unicodedata.east_asian_width(ch) in ("W", "F")
        if self._x >= self.width:
            if not self._autowrap:
                self._x = self.width - 1  # without autowrap the last column is overwritten
            else:
                self._x = 0
                self._line_feed()
        style = ";".join(self._style)
        self._cells[self._y][self._x] = (ch, style)
        if wide and self._x + 1 < self.width:
            self._cells[self._y][self._x + 1] = ("", style)
        self._x += 2 if wide else 1

    def _line_feed(self) -> None:
        if self._y + 1 < self.height:
            self._y += 1
        else:
            del self._cells[0]
            self._cells.extend(self._blank_rows(1))

    def _blank_rows(self, count: int) -> list[list[tuple[str, str]]]:
        return [[BLANK] * self.width for _ in range(count)]

    def _escape(self, seq: str) -> None:
        if len(seq) < 2 or seq[1] != "[":
            return  # OSC, charset selection, keypad modes, save/restore: nothing drawn
        final, body = seq[-1], seq[2:-1]
        if body.startswith(("?", ">", "<", "=")):
            modes = body[1:].split(";")
            if final in "hl" and ("1049" in modes or "47" in modes):
                self._cells = self._blank_rows(self.height)  # alternate screen in or out
            if final in "hl" and "7" in modes:
                self._autowrap = final == "h"
            return
        params = [int(p) if p.isdigit() else 0 for p in body.split(";")] if body else []
        first = params[0] if params else 0
        if final in "Hf":
            row = params[0] if params else 1
            col = params[1] if len(params) > 1 else 1
            self._move(max(row, 1) - 1, max(col, 1) - 1)
        elif final in "ABCD":
            step = max(first, 1)
            dy = {"A": -step, "B": step}.get(final, 0)
            dx = {"C": step, "D": -step}.get(final, 0)
            self._move(self._y + dy, self._x + dx)
        elif final == "G":
            self._move(self._y, max(first, 1) - 1)
        elif final == "d":
            self._move(max(first, 1) - 1, self._x)
        elif final == "K":
            self._erase_line(first)
        elif final == "J":
            self._erase_display(first)
        elif final == "m":
            self._sgr(body)

    def _move(self, y: int, x: int) -> None:
        self._y = min(max(y, 0), self.height - 1)
        self._x = min(max(x, 0), self.width - 1)

    def _erase_line(self, mode: int) -> None:
        row = self._cells[self._y]
        start, stop = {0: (self._x, self.width), 1: (0, self._x + 1)}.get(mode, (0, self.width))
        row[start:stop] = [BLANK] * (stop - start)

    def _erase_display(self, mode: int) -> None:
        if mode == 0:
            self._erase_line(0)
            self._cells[self._y + 1 :] = self._blank_rows(self.height - self._y - 1)
        elif mode == 1:
            self._erase_line(1)
            self._cells[: self._y] = self._blank_rows(self._y)
        else:
            self._cells = self._blank_rows(self.height)

    def _sgr(self, body: str) -> None:
        # Rich writes a reset before each new style, so "what was said since the last reset"
        # names a style well enough to compare two cells.
        for param in body.split(";") if body else ["0"]:
            if param in ("", "0"):
                self._style = []
            else:
                self._style.append(param)


def background(style: str) -> str:
    """The background colour an SGR parameter string sets: ``5;203`` (256 colours),
    ``2;0;85;179`` (true colour), ``44`` (16 colours); "" for the terminal's default."""
    params = style.split(";") if style else []
    found, i = "", 0
    while i < len(params):
        param = params[i]
        if param in ("38", "48", "58"):  # extended colour: 5;N or 2;R;G;B follow
            length = 2 if params[i + 1 : i + 2] == ["5"] else 4
            if param == "48":
                found = ";".join(params[i + 1 : i + 1 + length])
            i += 1 + length
            continue
        if param == "49":
            found = ""
        elif param.isdigit() and (40 <= int(param) <= 47 or 100 <= int(param) <= 107):
            found = param
        i += 1
    return found


def _sequence_end(text: str, start: int) -> int | None:
    """Index just past the escape sequence at ``start``; None if it is not complete yet."""
    n = len(text)
    if start + 1 >= n:
        return None
    kind = text[start + 1]
    if kind == "[":
        for i in range(start + 2, n):
            if "\x40" <= text[i] <= "\x7e":
                return i + 1
        return None
    if kind in "]PX^_":
        # OSC / DCS and friends: up to BEL or ST (ESC \).
        for i in range(start + 2, n):
            if text[i] == "\x07":
                return i + 1
            if text[i] == ESC:
                return i + 2 if i + 1 < n else None
        return None
    if kind in "()*+#%":
        return start + 3 if start + 2 < n else None
    return start + 2
