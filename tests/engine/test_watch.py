"""Watch mode's model: the debounce, the trend, what counts as a change, and its words."""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from checks.core import CheckResult, Registry, Status, passed
from checks.watch import (
    ASCII,
    FAILURES,
    KEEP,
    UNICODE,
    Shown,
    Watch,
    for_watch,
    glyphs_for,
    tally_text,
    watched,
)
from tests.conftest import MakeContext

T0 = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)

P, W, F, E, S, M = (
    Status.PASS,
    Status.WARN,
    Status.FAIL,
    Status.ERROR,
    Status.SKIP,
    Status.MANUAL,
)


def result(status: Status, check_id: str = "db.reachable", pane: str = "migrations") -> CheckResult:
    return CheckResult(
        check_id,
        pane,
        "Database reachable",
        status,
        f"the database said {status.value}",
        hint="Start PostgreSQL." if status in FAILURES else "",
        actions=("db.start",) if status in FAILURES else (),
    )


def feed(watch: Watch, *statuses: Status, check_id: str = "db.reachable") -> list:  # type: ignore[type-arg]
    """Each status as one run's result, a minute apart; the changes, one entry per run."""
    start = len(watch.trends[check_id].history) if check_id in watch.trends else 0
    return [
        watch.observe(result(s, check_id), T0 + timedelta(minutes=start + i))
        for i, s in enumerate(statuses)
    ]


def shown(watch: Watch, check_id: str = "db.reachable") -> Shown:
    state = watch.trends[check_id].shown
    assert state is not None
    return state


# -- the debounce ---------------------------------------------------------------------------


def test_a_failure_shows_as_failing_until_debounce_failures_in_a_row() -> None:
    watch = Watch(debounce=3)
    feed(watch, F)
    assert shown(watch) == Shown(W, failing=1)
    assert watch.shown_result("db.reachable").status is W
    feed(watch, F)
    assert shown(watch) == Shown(W, failing=2)
    assert watch.shown_result("db.reachable").status is W
    feed(watch, F)
    assert shown(watch) == Shown(F)
    assert watch.shown_result("db.reachable").status is F


def test_one_pass_clears_a_pending_or_confirmed_failure() -> None:
    watch = Watch(debounce=3)
    feed(watch, F, F, P)
    assert shown(watch) == Shown(P)
    feed(watch, F)  # the count starts again from one
    assert shown(watch) == Shown(W, failing=1)
    feed(watch, F, F, F, F)
    assert shown(watch) == Shown(F)
    feed(watch, P)
    assert shown(watch) == Shown(P)
    assert watch.trends["db.reachable"].streak == 0


@pytest.mark.parametrize("breaker", [W, S, M])
def test_any_result_that_is_not_a_failure_breaks_the_row(breaker: Status) -> None:
    watch = Watch(debounce=3)
    feed(watch, F, F, breaker, F, F)
    assert shown(watch) == Shown(W, failing=2)


def test_error_counts_as_a_failure_and_the_latest_verdict_shows() -> None:
    watch = Watch(debounce=3)
    feed(watch, E, F, E)
    assert shown(watch) == Shown(E)  # could not decide, three times: magenta, not yellow
    feed(watch, F)
    assert shown(watch) == Shown(F)


def test_debounce_of_one_shows_every_failure_at_once() -> None:
    watch = Watch(debounce=1)
    feed(watch, F)
    assert shown(watch) == Shown(F)
    assert watch.shown_result("db.reachable") == watch.trends["db.reachable"].last


def test_a_warning_is_never_debounced() -> None:
    watch = Watch(debounce=3)
    feed(watch, W)
    assert shown(watch) == Shown(W)
    assert watch.shown_result("db.reachable").message == "the database said warn"


def test_debounce_and_keep_must_be_positive() -> None:
    with pytest.raises(ValueError, match="debounce"):
        Watch(debounce=0)
    with pytest.raises(ValueError, match="keep"):
        Watch(debounce=3, keep=0)


@given(
    st.lists(st.sampled_from(list(Status)), min_size=1, max_size=40),
    st.integers(min_value=1, max_value=6),
)
def test_red_exactly_when_the_last_debounce_results_all_failed(
    statuses: list[Status], debounce: int
) -> None:
    watch = Watch(debounce=debounce)
    feed(watch, *statuses)
    tail = 0  # failures at the end of the sequence
    for status in reversed(statuses):
        if status not in FAILURES:
            break
        tail += 1
    state = shown(watch)
    if tail >= debounce:
        assert state == Shown(statuses[-1])
    elif tail:
        assert state == Shown(W, failing=tail)
    else:
        assert state == Shown(statuses[-1])
    assert watch.trends["db.reachable"].streak == tail


# -- what is shown --------------------------------------------------------------------------


def test_a_pending_failure_says_so_and_keeps_its_fixes() -> None:
    watch = Watch(debounce=3)
    feed(watch, F, F)
    shown_result = watch.shown_result("db.reachable")
    assert shown_result.status is W
    assert shown_result.message == "failing 2/3: the database said fail"
    # Its own hint first, then the rule and the setting that changes it.
    assert shown_result.hint.startswith("Start PostgreSQL. ")
    assert "3 failures in a row" in shown_result.hint
    assert "TOOLBOX_WATCH_DEBOUNCE" in shown_result.hint
    assert shown_result.actions == ("db.start",)  # f still offers the fix
    assert shown_result.id == "db.reachable" and shown_result.pane == "migrations"


def test_a_confirmed_failure_is_the_result_itself() -> None:
    watch = Watch(debounce=2)
    feed(watch, F, F)
    assert watch.shown_result("db.reachable") is watch.trends["db.reachable"].last


def test_shown_results_cover_every_check_in_the_order_first_seen() -> None:
    watch = Watch(debounce=3)
    watch.observe(result(F, "db.reachable"), T0)
    watch.observe(result(P, "env.file", "environment"), T0)
    assert [(r.id, r.status) for r in watch.shown_results()] == [
        ("db.reachable", W),
        ("env.file", P),
    ]


# -- changes --------------------------------------------------------------------------------


def test_the_first_result_is_a_change_and_the_same_state_again_is_not() -> None:
    watch = Watch(debounce=3)
    first, same = feed(watch, P, P)
    assert first is not None and first.before is None and first.after == Shown(P)
    assert same is None


def test_each_step_towards_red_is_a_change_but_staying_red_is_not() -> None:
    watch = Watch(debounce=3)
    changes = feed(watch, F, F, F, F, F)
    assert [c.after if c else None for c in changes] == [
        Shown(W, 1),
        Shown(W, 2),
        Shown(F),
        None,
        None,
    ]


def test_changed_at_is_the_time_of_the_last_change() -> None:
    watch = Watch(debounce=2)
    watch.observe(result(P), T0)
    watch.observe(result(P), T0 + timedelta(minutes=1))
    assert watch.trends["db.reachable"].changed_at == T0
    watch.observe(result(F), T0 + timedelta(minutes=2))
    watch.observe(result(F), T0 + timedelta(minutes=3))
    watch.observe(result(F), T0 + timedelta(minutes=4))
    assert watch.trends["db.reachable"].changed_at == T0 + timedelta(minutes=3)


def test_describe_says_how_far_from_red_and_how_long_it_had_failed() -> None:
    watch = Watch(debounce=3)
    one, two, red, _, back = feed(watch, F, F, F, F, P)
    assert one.describe() == "failing 1/3 (FAIL after 3 in a row): the database said fail"
    assert two.describe() == "failing 2/3 (FAIL after 3 in a row): the database said fail"
    assert red.describe() == "3 failures in a row: the database said fail"
    assert back.describe() == "no longer failing, after 4 failures in a row: the database said pass"
    blip_then_pass = feed(watch, F, P)[1]
    assert blip_then_pass.describe() == "no longer failing, after 1 failure: the database said pass"


def test_describe_of_an_ordinary_change_is_the_message_on_one_line() -> None:
    watch = Watch(debounce=1)
    watch.observe(replace(result(P), message="all\nfine  here"), T0)
    [change] = [watch.observe(replace(result(W), message="slow\nanswer"), T0)]
    assert change is not None and change.describe() == "slow answer"
    [red] = feed(watch, F)
    assert red.describe() == "the database said fail"  # no "in a row" when it shows at once


def test_record_run_counts_runs_and_orders_changes_by_pane_then_id() -> None:
    watch = Watch(debounce=3)
    run = [
        result(P, "health.api", "health"),
        result(F, "db.reachable", "migrations"),
        result(P, "env.z-last", "environment"),
        result(P, "env.a-first", "environment"),
    ]
    changes = watch.record_run(run, T0)
    assert [c.check_id for c in changes] == [
        "env.a-first",
        "env.z-last",
        "db.reachable",
        "health.api",
    ]
    [moved] = watch.record_run(run, T0 + timedelta(minutes=1))  # only the failing check
    assert (moved.check_id, moved.before, moved.after) == ("db.reachable", Shown(W, 1), Shown(W, 2))
    assert (moved.streak, moved.streak_before, moved.at) == (2, 1, T0 + timedelta(minutes=1))
    assert watch.runs == 2


# -- history, counts and the trend string ---------------------------------------------------


def test_history_keeps_the_last_k_while_runs_and_counts_keep_everything() -> None:
    watch = Watch(debounce=3, keep=5)
    feed(watch, *([P] * 7 + [F] * 3))
    trend = watch.trends["db.reachable"]
    assert list(trend.history) == [P, P, F, F, F]
    assert trend.runs == 10
    assert trend.counts == {P: 7, F: 3}
    assert Watch(debounce=3).keep == KEEP == 20


def test_trend_text_is_newest_on_the_right_padded_for_runs_not_made() -> None:
    watch = Watch(debounce=3)
    feed(watch, P, P, F, F, F)
    trend = watch.trends["db.reachable"]
    assert trend.text() == "·····✓✓✗✗✗"
    assert trend.text(3) == "✗✗✗"
    assert trend.text(0) == ""
    assert trend.text(6, ASCII) == ".++XXX"


def test_every_status_has_its_own_single_cell_mark() -> None:
    for glyphs in (UNICODE, ASCII):
        marks = [glyphs.mark(s) for s in Status] + [glyphs.mark(None)]
        assert len(set(marks)) == len(marks), marks  # shapes, not colours, tell them apart
        for mark in marks:
            assert len(mark) == 1 and unicodedata.east_asian_width(mark) not in "WF"
    assert all(mark.isascii() for mark in ASCII.marks.values()) and ASCII.none.isascii()


def test_a_pending_check_is_not_run_is_the_dashboards_dot() -> None:
    from toolbox_tui.widgets.status import PENDING_LABEL

    assert UNICODE.none == PENDING_LABEL.strip()


@pytest.mark.parametrize(
    ("encoding", "glyphs"),
    [
        ("utf-8", UNICODE),
        ("UTF-8", UNICODE),
        ("ascii", ASCII),
        ("ANSI_X3.4-1968", ASCII),  # what Python calls ASCII under LANG=C
        ("latin-1", ASCII),
        (None, ASCII),
        ("no-such-encoding", ASCII),
    ],
)
def test_glyphs_for_an_encoding(encoding: str | None, glyphs: object) -> None:
    assert glyphs_for(encoding) is glyphs


# -- tallies ----------------------------------------------------------------------------------


def test_tally_is_worst_first_with_pending_failures_apart() -> None:
    watch = Watch(debounce=3)
    watch.observe(result(F, "a.red"), T0)
    watch.observe(result(F, "a.red"), T0)
    watch.observe(result(F, "a.red"), T0)
    watch.observe(result(F, "a.blip"), T0)
    watch.observe(result(W, "a.slow"), T0)
    watch.observe(result(P, "a.ok"), T0)
    watch.observe(result(P, "a.ok2"), T0)
    tally = watch.tally()
    assert list(tally.items()) == [("fail", 1), ("failing", 1), ("warn", 1), ("pass", 2)]
    assert tally_text(tally) == "1 fail, 1 failing, 1 warn, 2 pass"
    assert tally_text(Watch(debounce=3).tally()) == "nothing yet"


# -- what watch runs with ---------------------------------------------------------------------


def test_for_watch_turns_off_the_login_probe_and_nothing_else(make_context: MakeContext) -> None:
    ctx = make_context("APP_ENV=production\n", rate_limit_probe=True, watch_debounce=5)
    watched = for_watch(ctx)
    assert watched.config.rate_limit_probe is False
    assert ctx.config.rate_limit_probe is True  # the dashboard's own context is untouched
    assert watched.config.watch_debounce == 5
    assert watched.env is ctx.env and watched.redactor is ctx.redactor


def _specs(*defs: tuple[str, tuple[str, ...], bool]) -> Registry:
    registry = Registry()
    for check_id, needs, writes in defs:

        @registry.check(id=check_id, pane="health", title=check_id, needs=needs, writes=writes)
        async def fn(ctx):  # type: ignore[no-untyped-def]
            return passed("ok")

    return registry


def test_watched_leaves_out_the_checks_that_write_and_what_needs_them() -> None:
    registry = _specs(
        ("a.looks", (), False),
        ("a.writes", ("a.looks",), True),
        ("a.after", ("a.writes",), False),
        ("a.later", ("a.after",), False),
        ("a.token", (), True),
    )
    chosen = watched(registry.select())
    assert [s.id for s in chosen.specs] == ["a.looks"]
    assert [s.id for s in chosen.writing] == ["a.writes", "a.token"]
    assert [s.id for s in chosen.needing] == ["a.after", "a.later"]
    assert [s.id for s in chosen.left_out] == ["a.writes", "a.token", "a.after", "a.later"]
    assert chosen.text() == (
        "not watched: 2 checks that write to the app (a.writes, a.token), "
        "and 2 checks that need them (a.after, a.later)"
    )


def test_watched_keeps_everything_when_nothing_writes() -> None:
    registry = _specs(("a.one", (), False), ("a.two", ("a.one",), False))
    chosen = watched(registry.select())
    assert [s.id for s in chosen.specs] == ["a.one", "a.two"]
    assert chosen.left_out == [] and chosen.text() == ""
    one = watched(_specs(("a.writes", (), True)).select())
    assert one.text() == "not watched: 1 check that writes to the app (a.writes)"
