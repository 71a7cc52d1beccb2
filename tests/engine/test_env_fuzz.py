"""Fuzzing the environment pane with hostile env files, end to end.

Generated files hold planted secrets (in secret variables and in URL passwords), control
characters and escape sequences (in names, values and the file's own name), huge numbers,
odd quoting, broken lines and every line ending. Each one is loaded, every environment check
runs through the real runner, and every report format is rendered. No check may crash, the
run must finish, no planted secret may show in any format, and the reports meant for a
terminal (text, markdown) may carry no raw control character.
"""

from __future__ import annotations

import asyncio
import os
import re
import string
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checks import catalog
from checks.context import CheckContext
from checks.core import CheckResult, Status
from checks.events import Finished
from checks.redact import Redactor
from checks.runner import run_checks
from checks.settings import ENV_VARS, DeploymentEnv, ToolboxConfig
from toolbox_tui.reporters import FORMATTERS, Report

RUN_TIMEOUT = 30.0
TERMINAL_FORMATS = ("text", "markdown")
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

SECRET_NAMES = [v.name for v in ENV_VARS if v.secret and not v.name.endswith("_URL")] + [
    "CUSTOM_API_TOKEN",
    "SMTP_PASSWORD",
]
PLAIN_NAMES = [v.name for v in ENV_VARS if not v.secret]
URL_NAMES = ["DATABASE_URL", "REDIS_URL"]

NASTY = [
    "\x1b[2J\x1b[H",
    "\x1b]0;owned\x07",
    "\x1b[31m",
    "\u202e",
    "\u2066",
    "\x9b31m",
    "\x7f",
    "\x00",
    "\x08",
    "\r",
    "\x0b",
]
ODD_VALUES = [
    "9" * 5000,
    "-" + "9" * 40,
    "1e999",
    "0x10",
    "\uff11\uff12\uff13",  # fullwidth digits
    "9999-12-31T23:59:59+14:00",
    "0001-01-01T00:00:00-23:59",
    "2026-13-45",
    "http://host:99999/x",
    "https://[::1/",
    "postgresql://u@:notaport/db",
    "redis://:@/-1",
    "true",
    "production",
    "",
]


@dataclass(frozen=True)
class Case:
    env_name: str
    text: str
    backup_text: str | None
    secrets: tuple[str, ...]


def _double_quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


_secret_body = st.text(
    alphabet=string.ascii_letters + string.digits + "-_./+=", min_size=12, max_size=40
)
_odd_secret_body = st.lists(
    st.sampled_from([*string.ascii_letters, " ", "#", "'", '"', "\\", "\n", *NASTY]),
    min_size=12,
    max_size=30,
).map("".join)
_junk = st.one_of(
    st.sampled_from(ODD_VALUES),
    st.lists(st.sampled_from([*NASTY, "a", "1", " ", "#", "'", '"', "=", "\\"]), max_size=12).map(
        "".join
    ),
    st.text(max_size=20),
)


@st.composite
def _planted_secret(draw: st.DrawFn) -> tuple[str, str]:
    """A secret variable's line and the value the app would read from it."""
    name = draw(st.sampled_from(SECRET_NAMES))
    if draw(st.booleans()):
        value = "Pl4nt" + draw(_secret_body)
        token = draw(st.sampled_from([value, f"'{value}'", _double_quoted(value)]))
    else:
        value = "Pl4nt" + draw(_odd_secret_body).strip()
        token = _double_quoted(value)
    export = draw(st.sampled_from(["", "export "]))
    line = f"{export}{name}={token}"
    if '"' not in line and draw(st.booleans()):
        # An unclosed quote before it makes the line part of a public variable's value.
        line = f'{draw(st.sampled_from(PLAIN_NAMES))}="open\n{line}\nCLOSE=tail"'
    return line, value


@st.composite
def _planted_url(draw: st.DrawFn) -> tuple[str, str]:
    name = draw(st.sampled_from(URL_NAMES))
    password = "Pw" + draw(_secret_body.filter(lambda s: "/" not in s))
    scheme = "postgresql" if name == "DATABASE_URL" else "redis"
    port = draw(st.sampled_from(["5432", "6379", "99999", "x", ""]))
    host = draw(st.sampled_from(["db", "db.internal", "[::1]", "h\x1b[0m"]))
    url = f"{scheme}://app:{password}@{host}{':' + port if port else ''}/prod"
    return f"{name}={url}", password


@st.composite
def _other_line(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 5))
    if kind == 0:
        name = draw(st.sampled_from(PLAIN_NAMES))
        value = draw(_junk)
        return f"{name}={draw(st.sampled_from([value, _double_quoted(value)]))}"
    if kind == 1:  # a name carrying an escape sequence
        return f"{draw(st.sampled_from(NASTY))}EVIL{draw(st.sampled_from(NASTY))}_NAME=1"
    if kind == 2:
        return "# " + draw(_junk)
    if kind == 3:
        return ""
    if kind == 4:  # broken lines: no '=', unclosed quotes (which swallow the lines after)
        name = draw(st.sampled_from(PLAIN_NAMES))
        return draw(
            st.sampled_from(
                [f'{name}="open', f"{name}='open", 'CLOSE=tail"', "CLOSE=tail'", "no equals", "=x"]
            )
        )
    return draw(st.text(max_size=30).map(lambda s: s.replace("\n", " ").replace("\r", " ")))


@st.composite
def env_cases(draw: st.DrawFn) -> Case:
    planted = draw(st.lists(st.one_of(_planted_secret(), _planted_url()), min_size=1, max_size=6))
    others = draw(st.lists(_other_line(), max_size=12))
    lines = [line for line, _ in planted] + others
    order = draw(st.permutations(range(len(lines))))
    endings = draw(st.lists(st.sampled_from(["\n", "\r\n", "\r"]), min_size=len(lines)))
    text = "".join(lines[i] + ending for i, ending in zip(order, endings, strict=False))
    name = draw(st.sampled_from([".env", ".env\x1b[2J", "prod\u202e.env", ".env\x9b"]))
    backup = draw(st.none() | st.just("\n".join(others)))
    return Case(name, text, backup, tuple(secret for _, secret in planted))


async def _run_environment_pane(ctx: CheckContext) -> list[CheckResult]:
    specs = catalog.load().select(panes=["environment"])
    return [e.result async for e in run_checks(specs, ctx) if isinstance(e, Finished)]


def examine(case: Case) -> list[str]:
    """Every way this env file breaks the promises above (empty when it breaks none)."""
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        env_file = Path(tmp) / case.env_name
        env_file.write_bytes(case.text.encode("utf-8"))
        env_file.chmod(0o600)
        if case.backup_text is not None:
            backup = env_file.with_name(env_file.name + ".backup")
            backup.write_bytes(case.backup_text.encode("utf-8"))
        config = ToolboxConfig(env_file=env_file, app_dir=Path(tmp))
        env = DeploymentEnv.load(config.env_file)
        ctx = CheckContext(env, config, Redactor(env.secret_values()))
        try:
            results = asyncio.run(asyncio.wait_for(_run_environment_pane(ctx), RUN_TIMEOUT))
        except TimeoutError:
            return [f"the environment pane did not finish within {RUN_TIMEOUT:g} s"]
    for result in results:
        if result.status is Status.ERROR and result.message.startswith("The check crashed"):
            problems.append(f"crash in {result.id}: {result.message}")
    report = Report(results)
    for fmt, render in FORMATTERS.items():
        out = render(report)
        problems.extend(f"leak in {fmt}" for secret in case.secrets if secret in out)
        if fmt in TERMINAL_FORMATS and (raw := RAW_CONTROL.search(out)):
            problems.append(f"raw control character {raw.group()!r} in {fmt}")
    return problems


@settings(
    # The same inputs on every run: a fuzz test that finds a new case now and then is a
    # flaky gate. FUZZ_EXAMPLES=5000 FUZZ_RANDOM=1 explores further (by hand, not in CI).
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "250")),
    derandomize=not os.environ.get("FUZZ_RANDOM"),
    deadline=5000,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(env_cases())
def test_hostile_env_files_never_crash_leak_or_reach_the_terminal_raw(case: Case) -> None:
    assert examine(case) == []
