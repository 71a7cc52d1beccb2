"""The benchmarks' terminal screen reads Textual's output as a terminal would show it."""

from __future__ import annotations

from benchmarks.keypress import checks_finished
from benchmarks.keys_during_run import became_active, key_looks
from benchmarks.screen import Screen, background

CSI = "\x1b["


def fed(*chunks: str | bytes, width: int = 20, height: int = 4) -> Screen:
    screen = Screen(width, height)
    for chunk in chunks:
        screen.feed(chunk.encode() if isinstance(chunk, str) else chunk)
    return screen


def test_text_lands_where_the_cursor_was_moved() -> None:
    screen = fed(f"{CSI}2;3Hhi{CSI}1;1Htop")
    assert screen.line(0).startswith("top")
    assert screen.line(1)[2:4] == "hi"
    assert screen.find("hi") == (1, 2)


def test_relative_moves_and_carriage_return_newline() -> None:
    screen = fed("ab\r\ncd", f"{CSI}A{CSI}2Cx", f"{CSI}4G{CSI}3dz")
    assert screen.line(0).startswith("ab  x")  # up from after "cd", then two to the right
    assert screen.line(1).startswith("cd")
    assert screen.line(2)[3] == "z"


def test_styles_are_what_was_said_since_the_last_reset() -> None:
    screen = fed(f"{CSI}1;38;5;253;48;5;233mA{CSI}0mB{CSI}7mC{CSI}mD")
    assert screen.style(0, 0) == "1;38;5;253;48;5;233"
    assert screen.style(0, 1) == ""
    assert screen.style(0, 2) == "7"
    assert screen.style(0, 3) == ""


def test_a_sequence_or_a_character_cut_between_two_reads_is_joined() -> None:
    accented = "é".encode()
    screen = fed(b"\x1b[", b"2;", b"5Hx", accented[:1], accented[1:], b"\x1b]22;def", b"ault\x07!")
    assert screen.line(1)[4:7] == "xé!"


def test_titles_modes_and_queries_draw_nothing() -> None:
    screen = fed("\x1b]0;title\x07\x1b[?25l\x1b[>1u\x1b[?2026$p\x1b=\x1b(Bok")
    assert screen.line(0).startswith("ok")


def test_the_alternate_screen_starts_blank_and_erasing_clears() -> None:
    screen = fed("old text", "\x1b[?1049h", f"{CSI}1;1Hnew")
    assert not screen.shows("old")
    assert screen.shows("new")
    screen.feed(f"{CSI}1;2H{CSI}K".encode())
    assert screen.line(0).strip() == "n"
    screen.feed(f"{CSI}2J".encode())
    assert not screen.shows("n")


def test_without_autowrap_the_last_column_is_overwritten() -> None:
    wrapped = fed("x" * 5 + "y", width=5)
    assert wrapped.line(1).startswith("y")
    clipped = fed("\x1b[?7l", "x" * 5 + "y", width=5)
    assert clipped.line(0) == "xxxxy"
    assert clipped.line(1).strip() == ""


def test_writing_past_the_bottom_scrolls() -> None:
    screen = fed("1\r\n2\r\n3\r\n4\r\n5", height=4)
    assert [line.strip() for line in screen.lines()] == ["2", "3", "4", "5"]


def test_wide_characters_take_two_cells_and_no_break_spaces_read_as_spaces() -> None:
    screen = fed("漢x", f"{CSI}1;4Hy", f"{CSI}2;1H1\u00a0Environment")
    assert screen.line(0).startswith("漢xy")
    assert screen.find("x") == (0, 2)  # a cell column, not an index into the text
    assert screen.column(0, 2) == 3
    assert screen.shows("1 Environment")


def test_background_reads_every_colour_form() -> None:
    assert background("1;38;5;16;48;5;203") == "5;203"
    assert background("48;2;0;85;179") == "2;0;85;179"
    assert background("44") == "44"
    assert background("48;5;17;49") == ""
    # A foreground of colour 48 is not a background.
    assert background("38;5;48") == ""
    assert background("38;2;48;5;1;1") == ""
    assert background("") == ""


def test_a_rows_background_is_the_one_most_of_it_has() -> None:
    screen = fed(f"{CSI}48;5;25m" + " " * 15 + f"{CSI}0m{CSI}1;48;5;203mFAIL", width=20)
    assert screen.row_background(0) == "5;25"


def test_keys_wait_for_a_summary_with_results_and_nothing_running() -> None:
    assert not checks_finished(fed(" toolbox-tui", width=60))  # checks not registered yet
    assert not checks_finished(fed(" toolbox-tui  4 pass  running 62", width=60))
    assert checks_finished(fed(" toolbox-tui  16 fail 2 warn 30 pass", width=60))
    assert checks_finished(fed(" 3 fail  4 warn  20 pass  1 manual", width=60))  # the anchor


def tab_bar(active: str = "", look: str = "1;38;5;253") -> Screen:
    """The six tab keys and titles on row 0; ``active`` drawn in ``look``, the rest dim."""
    cells = []
    for key, title in zip(
        "123456",
        ("Environment", "Migrations", "Integrations", "Health", "Security", "Rollback"),
        strict=True,
    ):
        style = look if key == active else "1;38;5;248"
        cells.append(f"{CSI}{style}m{key}{CSI}0m {title}  ")
    return fed(" " + "".join(cells), width=80, height=2)


def test_a_tab_is_active_when_its_key_looks_unlike_the_others_and_unlike_before() -> None:
    before = key_looks(tab_bar(active="1"), 0)["2"]
    assert became_active(0, "2", before)(tab_bar(active="2"))
    assert not became_active(0, "2", before)(tab_bar(active="1"))  # not yet
    # The first frame's active look (its own background) is not the later one: still active.
    assert became_active(0, "1", key_looks(tab_bar(active="2"), 0)["1"])(
        tab_bar(active="1", look="1;38;5;253;48;5;32")
    )
    # Pressing the key of the tab already active changes nothing to wait for.
    same = key_looks(tab_bar(active="3"), 0)["3"]
    assert not became_active(0, "3", same)(tab_bar(active="3"))
