"""The runbook view: its steps, the next step's preview and the live log at 80x24; n runs the
plan it showed, a runs to the end asking each dangerous step's typed confirmation, a failed
step stops it, a refused plan does not run, and leaving or quitting waits for a running step.

Opening (D, B) goes through the real engine over the demo app's git checkout (v1.3.0, v1.4.0
at HEAD, v1.5.0; no servers). Running steps uses a scripted runbook instead of the engine's
actions, whose own tests are in tests/runbooks: here each step does what the test says, when
the test says, so the screen can be caught in every state.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from textual.geometry import Region
from textual.widgets import Input, RichLog, Static

from checks.context import CheckContext
from checks.core import Plan, nothing_to_do, plan, refused_plan
from checks.runbooks.model import (
    Runbook,
    RunbookEvent,
    Step,
    StepEnded,
    StepLog,
    StepStarted,
    StepState,
    StepStatus,
)
from tests.conftest import MakeContext
from tests.rollback.repos import context, release_app
from tests.tui.conftest import build_registry, settle, wait_for_screen
from tests.tui.test_narrow_screens import assert_whole, footer_keys, until
from toolbox_tui.app import ToolboxApp, make_app
from toolbox_tui.screens.ask_tag import AskTagScreen
from toolbox_tui.screens.confirm import ConfirmActionScreen
from toolbox_tui.screens.dashboard import DashboardScreen
from toolbox_tui.screens.quit_while_fixing import QuitWhileFixingScreen
from toolbox_tui.screens.runbook import RunbookScreen
from toolbox_tui.widgets.step_table import STATE_LOOKS, state_text

SIZE = (80, 24)


@dataclass
class Script:
    """What a step does when run."""

    ends: StepState = StepState.DONE
    message: str = "did it"
    lines: tuple[str, ...] = ()
    refusal: str | None = None
    """Its plan refuses, saying this."""
    hold: asyncio.Event | None = None
    """It runs until this is set."""
    raises: Exception | None = None
    """It breaks down with this, half-way."""
    already_done: bool = False
    """Its plan says there is nothing to do."""


class ScriptedRunbook(Runbook):
    """A runbook whose steps do what their :class:`Script` says, and which records every
    run: (step id, confirmed, the plan it was given)."""

    def __init__(self, steps: list[tuple[Step, Script]]) -> None:
        super().__init__(
            "release",
            "Release v1.4.0 -> v1.5.0",
            [StepStatus(step, StepState.PENDING) for step, _ in steps],
        )
        self.scripts = {step.id: script for step, script in steps}
        self.runs: list[tuple[str, bool, Plan | None]] = []
        self.previews: list[Plan] = []

    async def preview(self, ctx: CheckContext) -> Plan:
        status = self.next_status()
        assert status is not None
        script = self.scripts[status.step.id]
        said = f"would {status.step.title.lower()}"
        if script.already_done:
            planned = nothing_to_do(f"Nothing to {status.step.title.lower()}.")
        elif script.refusal:
            planned = refused_plan(script.refusal, said)
        else:
            planned = plan(said)
        self.previews.append(planned)
        return planned

    async def run_next(  # type: ignore[override]
        self, ctx: CheckContext, *, confirmed: bool, plan: Plan | None = None
    ) -> AsyncIterator[RunbookEvent]:
        status = self.next_status()
        assert status is not None
        step, script = status.step, self.scripts[status.step.id]
        self.runs.append((step.id, confirmed, plan))
        status.state = StepState.RUNNING
        yield StepStarted(step.id)
        for line in script.lines:
            yield StepLog(step.id, line)
        if script.hold is not None:
            await script.hold.wait()
        if script.raises is not None:
            raise script.raises
        status.state, status.message = script.ends, script.message
        yield StepEnded(step.id, script.ends, script.message)


GATE = Step("gate", "Gate: every check passes", checks=("environment",))
MARKER = Step("marker", "Create the marker", "env.create-marker")
RISKY = Step("risky", "Create the risky file", "env.create-risky", dangerous=True)
VERIFY = Step("verify", "Verify the services", checks=("health",))
ADVICE = (
    "`alembic current`: which revision is the database at? An upgrade that was killed "
    "rolls back in PostgreSQL, unless a migration committed itself."
)
MIGRATIONS = Step("migrations", "Upgrade the database", "env.create-marker", check_by_hand=ADVICE)
CUT_AT = "2026-11-28T11:58:00+00:00"
# As the engine writes it (checks/runbooks/opening.py) for a step cut off by a kill -9.
RESUMED_NOTE = (
    f"Resumed: step 'migrations' (Upgrade the database) was cut off at {CUT_AT} "
    f"(deploy@web-1, pid 48213); check by hand: {ADVICE} It runs again, planned against "
    "the deployment as it is now."
)
ROOT = Path(__file__).resolve().parents[2]
# Another process taking the runbook lock, as `toolbox-tui release` or a second dashboard
# does: it says whether it got it, and holds it until its stdin closes.
TAKE_THE_LOCK = """
import sys
from pathlib import Path
from checks.runbooks.lock import runbook_lock
from checks.runbooks.model import RunbookError
try:
    with runbook_lock(Path(sys.argv[1])):
        print("took the lock", flush=True)
        sys.stdin.read()
except RunbookError as exc:
    print(exc, flush=True)
"""


def app_for(make_context: MakeContext, tmp_path: Path, **config: object) -> ToolboxApp:
    return make_app(make_context("APP_ENV=production\n", **config), build_registry(tmp_path))


async def open_scripted(app: ToolboxApp, pilot, runbook: ScriptedRunbook) -> RunbookScreen:  # type: ignore[no-untyped-def]
    await settle(app, pilot)
    screen = RunbookScreen(runbook)
    await app.push_screen(screen)
    await settle(app, pilot)
    return screen


async def type_into_confirmation(pilot, typed: str) -> None:  # type: ignore[no-untyped-def]
    """Answer the typed confirmation (set at once: typing it key by key only costs time)."""
    await wait_for_screen(pilot, ConfirmActionScreen)
    pilot.app.screen.query_one(Input).value = typed
    await pilot.press("enter")


def text(screen: RunbookScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def log_text(screen: RunbookScreen) -> str:
    return "\n".join(line.text for line in screen.query_one(RichLog).lines)


def preview_title(screen: RunbookScreen) -> str:
    return screen.query_one("#preview").border_title or ""


def preview_on_screen(screen: RunbookScreen) -> list[str]:
    """The preview's lines that show without scrolling."""
    box, inner = screen.query_one("#preview"), screen.query_one("#preview-text")
    shown = Region(0, 0, inner.size.width, box.scrollable_content_region.height)
    return [strip.text.strip() for strip in inner.render_lines(shown)]


def notes(app: ToolboxApp) -> str:
    return "\n".join(str(n.message) for n in app._notifications)


@asynccontextmanager
async def other_process_locking(audit_path: Path) -> AsyncIterator[tuple[int, str]]:
    """Another process tries the runbook lock: (its pid, what it said); holds it, if it took
    it, until the block ends."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        TAKE_THE_LOCK,
        str(audit_path),
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        said = await asyncio.wait_for(process.stdout.readline(), 30)
        yield process.pid, said.decode().strip()
    finally:
        process.stdin.close()
        await process.wait()


async def lock_elsewhere(audit_path: Path) -> str:
    async with other_process_locking(audit_path) as (_, said):
        return said


async def test_at_80x24_the_steps_the_preview_the_log_and_its_keys_all_show(
    make_context: MakeContext, tmp_path: Path
) -> None:
    runbook = ScriptedRunbook([(GATE, Script()), (RISKY, Script()), (VERIFY, Script())])
    app = app_for(make_context, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_scripted(app, pilot, runbook)
        for widget in ("#heading", "#steps", "#preview", "#log", "Footer"):
            assert_whole(screen.query_one(widget), Region(0, 0, *SIZE))
        assert "Release v1.4.0 -> v1.5.0" in text(screen, "#heading")
        assert "0 of 3 steps done" in text(screen, "#heading")
        rows = [screen.query_one("#steps").get_row_at(i) for i in range(3)]  # type: ignore[attr-defined]
        assert [str(row[0]) for row in rows] == ["→ next", "· pending", "· pending"]
        assert preview_title(screen) == "Next: Gate: every check passes"
        assert "would gate: every check passes" in text(screen, "#preview-text")
        keys = footer_keys(app)
        # The dashboard's keys would act on the dashboard hidden below: they are not offered.
        assert {"n", "a", "esc", "?", "q"} <= set(keys)
        assert not {"f", "r", "R", "/", "1-6"} & set(keys)


async def test_a_resumed_runbook_says_first_what_to_check_by_hand_then_runs_it_again(
    make_context: MakeContext, tmp_path: Path
) -> None:
    runbook = ScriptedRunbook([(GATE, Script()), (MIGRATIONS, Script()), (VERIFY, Script())])
    runbook.statuses[0].state = StepState.DONE
    runbook.statuses[1].state = StepState.CUT_OFF
    runbook.statuses[1].message = f"cut off at {CUT_AT}: its effect is unknown."
    runbook.resumed_note = RESUMED_NOTE
    app = app_for(make_context, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_scripted(app, pilot, runbook)
        row = screen.query_one("#steps").get_row("migrations")  # type: ignore[attr-defined]
        assert str(row[0]) == "✂ cut off" and f"cut off at {CUT_AT[:16]}" in str(row[2])
        assert preview_title(screen).startswith("Cut off, runs again: Upgrade the database")
        # At 80x24 the advice shows whole, first; the rest of the note scrolls, uncut.
        on_screen = " ".join(preview_on_screen(screen))
        assert on_screen.startswith("Check by hand first. Upgrade the database was cut off:")
        assert ADVICE in on_screen
        whole = " ".join(text(screen, "#preview-text").split())
        assert ADVICE in whole and "(deploy@web-1, pid 48213)" in whole
        assert "It runs again, planned against the deployment as it is now." in whole
        assert "would upgrade the database" in whole  # the plan follows the note
        await pilot.press("n")
        await settle(app, pilot)
        assert [run[0] for run in runbook.runs] == ["migrations"]
        assert "2 of 3 steps done" in text(screen, "#heading")
        assert "Check by hand" not in text(screen, "#preview-text")  # said until a step ran


async def test_n_runs_the_next_step_with_the_plan_it_showed_and_shows_its_log(
    make_context: MakeContext, tmp_path: Path
) -> None:
    runbook = ScriptedRunbook(
        [
            (MARKER, Script(lines=("made it", "checked it"), message="marker made")),
            (RISKY, Script()),
        ]
    )
    app = app_for(make_context, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_scripted(app, pilot, runbook)
        await pilot.press("n")
        await settle(app, pilot)
        [(step_id, _, given)] = runbook.runs
        assert step_id == "marker" and given is runbook.previews[0]
        assert [s.state for s in runbook.statuses] == [StepState.DONE, StepState.PENDING]
        log = log_text(screen)
        assert "── Create the marker ──" in log and "made it" in log
        assert "── done: marker made ──" in log
        assert "1 of 2 steps done" in text(screen, "#heading")
        # The next step's plan, made after this one ran, is on show with its danger.
        assert preview_title(screen).startswith("Next: Create the risky file")
        assert "DANGEROUS" in preview_title(screen)
        assert "n asks you to type env.create-risky" in text(screen, "#preview-text")


async def test_a_dangerous_step_runs_only_once_its_id_is_typed(
    make_context: MakeContext, tmp_path: Path
) -> None:
    runbook = ScriptedRunbook([(RISKY, Script())])
    app = app_for(make_context, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await open_scripted(app, pilot, runbook)
        await pilot.press("n")
        await type_into_confirmation(pilot, "env.create")  # not its id: nothing happens
        await pilot.pause()
        assert isinstance(app.screen, ConfirmActionScreen) and runbook.runs == []
        await pilot.press("escape")
        await settle(app, pilot)
        assert runbook.runs == [] and runbook.statuses[0].state is StepState.PENDING
        await pilot.press("n")
        await type_into_confirmation(pilot, "env.create-risky")
        await settle(app, pilot)
        assert runbook.runs == [("risky", True, runbook.previews[0])]
        assert runbook.finished() and preview_title(app.screen) == "Finished"  # type: ignore[arg-type]


async def test_run_to_end_asks_each_dangerous_step_and_stops_at_a_failure(
    make_context: MakeContext, tmp_path: Path
) -> None:
    failing = Step("deps", "Install the requirements", "env.create-marker")
    runbook = ScriptedRunbook(
        [
            (MARKER, Script()),
            (RISKY, Script()),
            (failing, Script(ends=StepState.FAILED, message="pip could not resolve")),
            (VERIFY, Script()),
        ]
    )
    app = app_for(make_context, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_scripted(app, pilot, runbook)
        await pilot.press("a")
        await wait_for_screen(pilot, ConfirmActionScreen)
        assert [run[0] for run in runbook.runs] == ["marker"]
        await type_into_confirmation(pilot, "env.create-risky")
        await settle(app, pilot)
        assert [run[0] for run in runbook.runs] == ["marker", "risky", "deps"]
        assert [s.state.value for s in runbook.statuses] == ["done", "done", "failed", "pending"]
        row = screen.query_one("#steps").get_row("deps")  # type: ignore[attr-defined]
        assert str(row[0]) == "✗ failed" and "pip could not resolve" in str(row[2])
        assert "stopped at a failed step" in text(screen, "#heading")
        assert preview_title(screen) == "Failed, runs again: Install the requirements"


async def test_a_refused_plan_is_said_and_not_run(
    make_context: MakeContext, tmp_path: Path
) -> None:
    refusal = "Refused: no verified backup at 0002_roblox_email_queue."
    runbook = ScriptedRunbook([(RISKY, Script(refusal=refusal))])
    app = app_for(make_context, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_scripted(app, pilot, runbook)
        assert "It cannot run now: no verified backup" in text(screen, "#preview-text")
        await pilot.press("a")
        await settle(app, pilot)
        assert runbook.runs == [] and runbook.statuses[0].state is StepState.PENDING
        assert len(runbook.previews) == 2  # planned again when asked: the cause may be gone
        assert any("cannot run now" in str(n.message) for n in app._notifications)


async def test_a_step_that_breaks_down_shows_cut_off_and_says_why(
    make_context: MakeContext, tmp_path: Path
) -> None:
    broken = Script(lines=("halfway",), raises=RuntimeError("the step's code broke"))
    runbook = ScriptedRunbook([(MARKER, broken), (VERIFY, Script())])
    app = app_for(make_context, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_scripted(app, pilot, runbook)
        await pilot.press("a")
        await settle(app, pilot)
        assert app.is_running and [run[0] for run in runbook.runs] == ["marker"]
        row = screen.query_one("#steps").get_row("marker")  # type: ignore[attr-defined]
        assert str(row[0]) == "✂ cut off" and "the step's code broke" in str(row[2])
        assert any("RuntimeError" in str(n.message) for n in app._notifications)
        assert app.board.action is None and preview_title(screen).startswith("Cut off")


async def test_leaving_waits_for_the_running_step_then_every_check_runs_again(
    make_context: MakeContext, tmp_path: Path
) -> None:
    hold = asyncio.Event()
    runbook = ScriptedRunbook([(MARKER, Script(lines=("halfway",), hold=hold)), (VERIFY, Script())])
    app = app_for(make_context, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_scripted(app, pilot, runbook)
        looked = len(app.board.logs["env.good"])
        await pilot.press("a")
        await until(pilot, lambda: runbook.statuses[0].state is StepState.RUNNING, "running")
        row = screen.query_one("#steps").get_row("marker")  # type: ignore[attr-defined]
        assert str(row[0]) == "▸ running" and str(row[2]) == "halfway"
        assert preview_title(screen) == "Running: Create the marker"
        await pilot.press("escape")  # in a run to the end: stop after this step
        await pilot.press("1")
        await pilot.pause()
        assert app.screen is screen
        hold.set()
        await settle(app, pilot)
        assert [run[0] for run in runbook.runs] == ["marker"]  # it stopped after the step
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, DashboardScreen)
        assert len(app.board.logs["env.good"]) > looked  # a step ran: the checks ran again


@pytest.mark.parametrize("key", ["n", "a"])
async def test_quitting_while_a_step_runs_waits_for_it_and_starts_no_other(
    make_context: MakeContext, tmp_path: Path, key: str
) -> None:
    hold = asyncio.Event()
    runbook = ScriptedRunbook([(MARKER, Script(hold=hold)), (VERIFY, Script())])
    app = app_for(make_context, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await open_scripted(app, pilot, runbook)
        await pilot.press(key)  # a: in a run to the end, too
        await until(pilot, lambda: runbook.statuses[0].state is StepState.RUNNING, "running")
        await pilot.press("q")
        await wait_for_screen(pilot, QuitWhileFixingScreen)
        await pilot.press("w")
        await pilot.pause()
        assert app.is_running
        hold.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
    assert [run[0] for run in runbook.runs] == ["marker"]
    assert [s.state for s in runbook.statuses] == [StepState.DONE, StepState.PENDING]
    assert app.exit_note is not None
    assert "Create the marker ended (done) before quitting" in app.exit_note


async def test_d_asks_for_the_newest_tag_after_head_and_opens_that_release(
    tmp_path: Path,
) -> None:
    release_app(tmp_path)
    app = make_app(context(tmp_path), build_registry(tmp_path), autorun=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("D")  # on any pane
        await wait_for_screen(pilot, AskTagScreen)
        await pilot.pause()
        typed = app.screen.query_one(Input)
        assert typed.value == "v1.5.0"
        assert "Deployed: v1.4.0" in str(app.screen.query_one("#facts", Static).render())
        typed.value = "v9.9.9"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, AskTagScreen)
        assert "v9.9.9 is not a release tag" in str(app.screen.query_one("#prompt").render())
        typed.value = "v1.5.0"
        await pilot.press("enter")
        await wait_for_screen(pilot, RunbookScreen)
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, RunbookScreen)
        assert screen.runbook.title == "Release v1.4.0 -> v1.5.0"
        assert [s.step.id for s in screen.runbook.statuses][:3] == [
            "gate",
            "env-backup",
            "db-backup",
        ]
        assert preview_title(screen) == "Next: Gate: every check passes"
        assert "Run the checks of environment" in text(screen, "#preview-text")


async def test_b_opens_the_rollback_to_the_previous_release(tmp_path: Path) -> None:
    release_app(tmp_path)
    app = make_app(context(tmp_path), build_registry(tmp_path), autorun=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("6")
        assert {"D", "B"} <= set(footer_keys(app))  # the Rollback pane offers both
        await pilot.press("B")
        await wait_for_screen(pilot, RunbookScreen)
        screen = app.screen
        assert isinstance(screen, RunbookScreen)
        assert screen.runbook.title == "Rollback v1.4.0 -> v1.3.0"
        await pilot.press("escape")
        await pilot.press("1")
        await pilot.pause()
        assert not {"D", "B"} & set(footer_keys(app))  # elsewhere they work, unlisted


async def test_read_only_opens_no_runbook(make_context: MakeContext, tmp_path: Path) -> None:
    app = app_for(make_context, tmp_path, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("B")
        await settle(app, pilot)
        assert isinstance(app.screen, DashboardScreen)
        assert any("Read-only" in str(n.message) for n in app._notifications)


def test_each_state_reads_without_colour_and_has_its_own_glyph() -> None:
    words = [state_text(state, colour=False).plain for state in StepState]
    assert words == ["· pending", "▸ running", "✓ done", "✗ failed", "- skipped", "✂ cut off"]
    assert len({glyph for glyph, _ in STATE_LOOKS.values()}) == len(StepState)
    # Without colour, a failure still stands out (reverse video), as FAIL does.
    assert "reverse" in state_text(StepState.FAILED, colour=False).style


async def test_a_plan_that_had_nothing_to_do_is_made_again_before_n_marks_it_done(
    make_context: MakeContext, tmp_path: Path
) -> None:
    script = Script(already_done=True)
    runbook = ScriptedRunbook([(MARKER, script), (VERIFY, Script())])
    app = app_for(make_context, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_scripted(app, pilot, runbook)
        assert "Nothing to do: n marks it done" in text(screen, "#preview-text")
        script.already_done = False  # meanwhile, someone removed the marker
        await pilot.press("n")
        await settle(app, pilot)
        [(step_id, _, given)] = runbook.runs
        assert step_id == "marker" and given is runbook.previews[1]
        assert given is not None and not given.already_done


async def test_the_open_view_holds_the_runbook_lock_until_it_closes(tmp_path: Path) -> None:
    release_app(tmp_path)
    ctx = context(tmp_path)
    app = make_app(ctx, build_registry(tmp_path), autorun=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("B")
        await wait_for_screen(pilot, RunbookScreen)
        said = await lock_elsewhere(ctx.config.audit_path)
        assert said.startswith(f"Another runbook is running (pid {os.getpid()})"), said
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, DashboardScreen)
        assert await lock_elsewhere(ctx.config.audit_path) == "took the lock"


async def test_no_view_opens_while_another_process_runs_a_runbook(
    make_context: MakeContext, tmp_path: Path
) -> None:
    app = app_for(make_context, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        async with other_process_locking(app.ctx.config.audit_path) as (pid, said):
            assert said == "took the lock"
            await pilot.press("B")
            await settle(app, pilot)
            assert isinstance(app.screen, DashboardScreen)
            assert f"Another runbook is running (pid {pid})" in notes(app)
        app.clear_notifications()
        await pilot.press("B")  # once it has ended, the opening gets past the lock
        await settle(app, pilot)
        assert "not a git checkout" in notes(app) and "Another runbook" not in notes(app)


PLANTED = "sk_live_planted0123456789"


async def test_an_unexpected_error_while_opening_is_said_and_the_dashboard_stays(
    make_context: MakeContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(ctx: CheckContext, *args: object, **kwargs: object) -> Runbook:
        raise RuntimeError(f"the journal reader broke near {PLANTED}")

    monkeypatch.setattr("checks.runbooks.model.open_rollback", broken)
    ctx = make_context(f"APP_ENV=production\nSTRIPE_SECRET_KEY={PLANTED}\n")
    app = make_app(ctx, build_registry(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("B")
        await settle(app, pilot)
        assert app.is_running and isinstance(app.screen, DashboardScreen)
        said = notes(app)
        assert "Cannot open the runbook: RuntimeError: the journal reader broke near" in said
        assert PLANTED not in said
        assert await lock_elsewhere(ctx.config.audit_path) == "took the lock"  # let go
