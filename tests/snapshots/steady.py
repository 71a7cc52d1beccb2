"""Snapshots of screens fed by the real sandbox: its ports, versions, timings, dates and
generated names vary from run to run, so they are normalised before anything reaches the
screen; everything else is what a person sees."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator, Sequence

from checks.context import CheckContext
from checks.core import CheckResult, CheckSpec
from checks.events import Event, Finished
from checks.runner import run_checks
from toolbox_tui.app import ToolboxApp

_VARYING = (
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:40000"),
    (re.compile(r"PostgreSQL \d+(\.\d+)? \([^)]*\)"), "PostgreSQL 15"),
    (re.compile(r"\d+\.\d+ ms"), "1.0 ms"),
    (re.compile(r"\d+\.\d+ s\b"), "0.1 s"),
    (re.compile(r"[\d,]+ bytes"), "12,345 bytes"),
    # Measured times only: a target ("the 200 ms target") stays as configured.
    (re.compile(r"\b(p95|p50|max) \d+ ms\b"), r"\1 12 ms"),
    (re.compile(r"\(\d+ ms\)"), "(12 ms)"),
    (re.compile(r"\bin \d+ ms\b"), "in 12 ms"),
    # The certificate is issued at the sandbox's start: a day boundary may fall in between.
    (re.compile(r"\b\d+ days left\b"), "90 days left"),
    (re.compile(r"\d+ of \d+ connections"), "12 of 100 connections"),
    (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d( UTC)?"), "2026-11-29 09:00 UTC"),
    (re.compile(r"/tmp(/[\w.-]+)+"), "/srv/toolboxai"),
    (re.compile(r"toolbox-smoke-[0-9a-f]+"), "toolbox-smoke-1234abcd"),
    (re.compile(r"\d+(\.\d+)? [KMG]iB"), "1.0 GiB"),
    (re.compile(r"\d+(\.\d+)? ?%"), "12 %"),
)


def steady(text: str) -> str:
    for pattern, replacement in _VARYING:
        text = pattern.sub(replacement, text)
    return text


def steady_result(result: CheckResult) -> CheckResult:
    return dataclasses.replace(
        result,
        message=steady(result.message),
        evidence={k: steady(v) for k, v in result.evidence.items()},
        duration_ms=12.0,
    )


async def steady_runner(specs: Sequence[CheckSpec], ctx: CheckContext) -> AsyncIterator[Event]:
    async for event in run_checks(specs, ctx):
        yield Finished(steady_result(event.result)) if isinstance(event, Finished) else event


class SteadyApp(ToolboxApp):
    """The dashboard with varying numbers normalised in log lines and notifications too."""

    def _append_log(self, source: str, line: str) -> None:
        super()._append_log(source, steady(line))

    def notify(self, message: str, **kwargs) -> None:  # type: ignore[no-untyped-def,override]
        super().notify(steady(message), **kwargs)
