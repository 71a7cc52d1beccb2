"""The env-file reader agrees with python-dotenv, and an edit changes one value and nothing else.

Both are property tests against ``dotenv.parser.parse_stream`` itself, over generated files
full of quotes, escapes, comments, ``export``, every line ending, blank and broken lines.
"""

from __future__ import annotations

import io
import re
from unittest import mock

from dotenv.parser import _newline, parse_stream
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from checks import envsyntax
from checks.envsyntax import (
    ParsedEnv,
    dominant_newline,
    format_assignment,
    parse_env_text,
    updated_text,
)

BOM = "\ufeff"


def physical_line(text: str, pos: int) -> int:
    """The 1-based line of ``pos``, each of CRLF, LF and a lone CR ending a line."""
    return 1 + len(_newline.findall(text, 0, pos))


def dotenv_parse(text: str) -> ParsedEnv:
    """What python-dotenv reads: values (last wins), and each broken chunk's first
    non-blank character numbered by the line it is on."""
    values: dict[str, str] = {}
    malformed: list[int] = []
    pos = 1 if text.startswith(BOM) else 0  # dotenv drops one BOM
    for binding in parse_stream(io.StringIO(text)):
        chunk = binding.original.string
        if binding.error:
            blank = len(chunk) - len(chunk.lstrip())
            malformed.append(physical_line(text, pos + blank))
        elif binding.key is not None:
            values[binding.key] = binding.value or ""
        pos += len(chunk)
    assert pos == len(text)  # the chunks tile the text
    return ParsedEnv(values, tuple(malformed))


# --- the reader --------------------------------------------------------------------------------

FRAGMENTS = [
    "export ",
    "export",
    "KEY",
    "K_2",
    "a",
    "=",
    "==",
    " ",
    "\t",
    "#",
    " #",
    "# note",
    "'",
    '"',
    "\\",
    "\\'",
    '\\"',
    "\\n",
    "\n",
    "\r\n",
    "\r",
    BOM,
    "\x0b",
    "\x0c",
    "\x85",
    "\u2028",
    "\xa0",
    "x y",
    "'k'",
    "=#",
    "KEY=value\n",
    'Q="a\nb"\n',
]
env_texts = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=3), max_size=40).map("".join)


@settings(max_examples=800, deadline=None, database=None)
@given(env_texts)
def test_parse_matches_dotenv_on_any_text(text: str) -> None:
    assert parse_env_text(text) == dotenv_parse(text)


@settings(max_examples=500, deadline=None, database=None)
@given(env_texts)
def test_the_step_by_step_reader_alone_matches_dotenv(text: str) -> None:
    # The one-expression reader takes every well-formed binding; the step-by-step one
    # (broken lines, trailing blanks) is checked on everything by turning the first off:
    # it must agree with dotenv, and with the fast reader down to every position.
    with mock.patch.object(envsyntax, "_BINDING", re.compile("(?!)")):
        assert parse_env_text(text) == dotenv_parse(text)
    assert [*envsyntax.scan(text)] == _stepwise_scan(text)


def _stepwise_scan(text: str) -> list[envsyntax.Binding]:
    with mock.patch.object(envsyntax, "_BINDING", re.compile("(?!)")):
        return [*envsyntax.scan(text)]


@settings(max_examples=300, deadline=None, database=None)
@given(env_texts)
def test_parse_matches_dotenv_after_a_bom(text: str) -> None:
    assert parse_env_text(BOM + text) == dotenv_parse(BOM + text)


def test_broken_lines_are_numbered_as_an_editor_shows_them() -> None:
    # dotenv's own counter says 4 for the last line: its error recovery stops between the
    # CR and the LF of line 1 and counts them as two line breaks.
    text = 'BROKEN="open\r\nX=1\r\nno equals\r\n'
    assert parse_env_text(text).malformed_lines == (1, 3)
    assert parse_env_text("A=1\r\rbad line\r").malformed_lines == (3,)


def _sample_line(i: int) -> str:
    kind = i % 10
    if kind == 0:
        return f"# comment {i}"
    if kind == 1:
        return ""
    if kind == 2:
        return f'QUOTED_{i}="two words"'
    if kind == 3:
        return f"export EXPORTED_{i}=v  # note"
    return f"VAR_{i}=value-{i}"


def test_a_100k_line_file_parses_whole() -> None:
    # How fast is measured in benchmarks/env_file_size.py, never asserted here.
    text = "\n".join(_sample_line(i) for i in range(100_000)) + "\n"
    parsed = parse_env_text(text)
    assert len(parsed.values) == 80_000
    assert parsed.values["VAR_99999"] == "value-99999" and parsed.malformed_lines == ()


# --- edits -------------------------------------------------------------------------------------

KEYS = ["A", "B", "C_1", "lower.case"]
_value_chars = st.sampled_from(["a", "b", " ", "#", "'", '"', "\\", "=", "\t", "\n", "é", "$"])
_unquoted = st.lists(_value_chars.filter(lambda c: c != "\n"), max_size=6).map("".join)
_quoted_body = st.lists(_value_chars, max_size=6).map("".join)


@st.composite
def _binding_line(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.sampled_from(["", "# a comment", "  # indented 'comment'"]))
    key = draw(st.sampled_from(KEYS))
    if draw(st.integers(0, 4)) == 0:
        key = f"'{key}'"  # dotenv reads a quoted name as the name
    lead = draw(st.sampled_from(["", " ", "\t"]))
    export = draw(st.sampled_from(["", "", "export "]))
    if kind == 1:  # a name alone
        return f"{lead}{export}{key}{draw(st.sampled_from(['', ' ', ' # why']))}"
    spacing = draw(st.sampled_from(["", " "]))
    equal = draw(st.sampled_from(["=", "= ", "=\t"]))
    style = draw(st.sampled_from(["plain", "single", "double", "empty"]))
    if style == "plain":
        token = draw(_unquoted)
    elif style == "empty":
        token = ""
    else:
        quote = "'" if style == "single" else '"'
        body = draw(_quoted_body).replace("\\", "\\\\").replace(quote, "\\" + quote)
        token = quote + body + quote
    comment = draw(st.sampled_from(["", " # note", "  #x", "\t# it's"]))
    return f"{lead}{export}{key}{spacing}{equal}{token}{comment}"


@st.composite
def parseable_files(draw: st.DrawFn) -> str:
    lines = draw(st.lists(_binding_line(), max_size=8))
    endings = draw(st.lists(st.sampled_from(["\n", "\r\n", "\r"]), min_size=len(lines)))
    text = "".join(line + end for line, end in zip(lines, endings, strict=False))
    if text and draw(st.booleans()):
        text = text.rstrip("\r\n")  # the last line without a line ending
    if draw(st.integers(0, 9)) == 0:
        text = BOM + text
    assume(dotenv_parse(text).malformed_lines == ())
    return text


def _other_chunks(text: str, key: str) -> list[str]:
    """The text of every binding and comment not of ``key``, without the blank lines
    before it (those belong to the gap, which an appended line may take over)."""
    return [
        b.original.string.lstrip()
        for b in parse_stream(io.StringIO(text))
        if b.key != key and b.original.string.strip()
    ]


@settings(max_examples=400, deadline=None, database=None)
@given(parseable_files(), st.sampled_from([*KEYS, "NEW_NAME"]), st.text(max_size=8))
def test_an_update_changes_that_value_and_nothing_else(text: str, key: str, value: str) -> None:
    old = dotenv_parse(text)
    new_text = updated_text(text, {key: value})
    new = dotenv_parse(new_text)
    assert new.malformed_lines == ()
    assert new.values == {**old.values, key: value}
    before, after = _other_chunks(text, key), _other_chunks(new_text, key)
    if key not in old.values and before and not text.endswith(("\n", "\r")):
        # Appending ends the last line first, with the file's own line ending.
        assert after[-1] == before[-1] + dominant_newline(text)
        before, after = before[:-1], after[:-1]
    assert after == before
    assert new_text.startswith(BOM) == text.startswith(BOM)


@settings(max_examples=500, deadline=None, database=None)
@given(st.text(max_size=12))
def test_format_assignment_reads_back_as_the_value(value: str) -> None:
    assert dotenv_parse(format_assignment("KEY", value) + "\n").values == {"KEY": value}


def test_a_rewrite_keeps_export_spacing_quotes_comment_and_line_ending() -> None:
    text = (
        "# settings\r\n"
        "export KEY = 'old' # rotated monthly\r\n"
        'OTHER="keep me"\r\n'
        "KEY=old2\tkept trailing # and comment\r\n"
    )
    new = updated_text(text, {"KEY": "new"})
    assert new == (
        "# settings\r\n"
        "export KEY = 'new' # rotated monthly\r\n"
        'OTHER="keep me"\r\n'
        "KEY=new # and comment\r\n"
    )


def test_a_value_the_quote_style_cannot_hold_gets_format_assignments_quoting() -> None:
    assert updated_text("KEY=plain\n", {"KEY": "two words"}) == "KEY='two words'\n"
    assert updated_text("KEY='single'\n", {"KEY": "it's"}) == 'KEY="it\'s"\n'
    assert updated_text('KEY="double"\n', {"KEY": 'say "hi"'}) == 'KEY="say \\"hi\\""\n'


def test_empty_values_and_bare_names_get_their_value_in_place() -> None:
    assert updated_text("KEY= # note\n", {"KEY": "v"}) == "KEY= v # note\n"
    assert updated_text("KEY#note\n", {"KEY": "v"}) == "KEY=v #note\n"
    assert updated_text("KEY\nB=1\n", {"KEY": "v"}) == "KEY=v\nB=1\n"
    assert updated_text("KEY=old # note\n", {"KEY": ""}) == "KEY= # note\n"


def test_a_multi_line_value_is_replaced_whole() -> None:
    text = 'A=1\nCERT="-----BEGIN-----\nabc\n-----END-----"\nB=2\n'
    assert updated_text(text, {"CERT": "short"}) == 'A=1\nCERT="short"\nB=2\n'


def test_new_names_use_the_dominant_line_ending() -> None:
    assert updated_text("A=1\r\nB=2\r\nC=3\n", {"N": "v"}) == "A=1\r\nB=2\r\nC=3\nN=v\r\n"
    assert updated_text("A=1\rB=2", {"N": "v"}) == "A=1\rB=2\rN=v\r"
    assert updated_text("", {"N": "v"}) == "N=v\n"
